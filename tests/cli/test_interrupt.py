"""Interrupted runs, as a user interrupts them: real processes, real signals.

* Ctrl-C (SIGINT to the whole process group, as a terminal sends it) during a ``--jobs 2``
  sweep stops within a second with exit code 130 and one line, leaves no file (or, with
  ``--keep-partial``, a loadable run marked partial) and no worker process behind.
* SIGTERM (how orchestrators and CI runners stop a job), to the main process alone or to the
  whole group, is handled the same way, with exit code 143.
* ``kill -9`` while a results file is being written never leaves a truncated file where the
  results go, and the temporary files it may leave are never taken for results.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from wsztune import results
from wsztune.errors import ResultsError

REPO = Path(__file__).resolve().parents[2]
# A corpus on which the default 63-cell grid takes ~15 s with two workers: long enough to be
# interrupted in the middle, while single cells (--repeat 1) still finish every few tenths.
CORPUS = REPO / "corpora" / "websockets-commits.jsonl"
STOP_WITHIN_SECONDS = 1.0

pytestmark = pytest.mark.skipif(not CORPUS.is_file(), reason="corpora/ is not checked out")


def environment() -> dict[str, str]:
    """Run this checkout's wsztune, whether or not it is installed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def start_run(results_dir: Path, *extra: str) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "wsztune",
        "run",
        str(CORPUS),
        "--jobs",
        "2",
        "--repeat",
        "1",
        "--min-sample-time",
        "0",
        "--results-dir",
        str(results_dir),
        *extra,
    ]
    # A session of its own: SIGINT goes to the whole group, workers included, as from a terminal.
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
        start_new_session=True,
    )


def workers_once_sweeping(process: subprocess.Popen[str], settle: float) -> list[psutil.Process]:
    """Wait until the worker pool exists, then ``settle`` seconds more (cells get finished)."""
    parent = psutil.Process(process.pid)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = parent.children(recursive=True)
        if len(children) >= 2:
            time.sleep(settle)
            return parent.children(recursive=True)
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError("the sweep never started its workers")


def interrupt(
    process: subprocess.Popen[str],
    times: int = 1,
    signum: int = signal.SIGINT,
    group: bool = True,
) -> tuple[float, str, str]:
    """Send Ctrl-C (or ``signum``) to the group, or to the main process alone (``times`` times, a
    few ms apart); return (seconds to exit, out, err)."""
    started = time.monotonic()
    for _ in range(times):
        try:
            if group:
                os.killpg(process.pid, signum)
            else:
                os.kill(process.pid, signum)
        except ProcessLookupError:
            break
        time.sleep(0.003)
    try:
        out, err = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:  # pragma: no cover - a failure; do not leak the process
        os.killpg(process.pid, signal.SIGKILL)
        raise
    return time.monotonic() - started, out, err


def assert_gone(workers: list[psutil.Process]) -> None:
    for worker in workers:
        try:
            alive = worker.is_running() and worker.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            alive = False
        assert not alive, f"worker {worker.pid} survived the interrupt"


def test_ctrl_c_stops_fast_and_writes_nothing(tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    process = start_run(results_dir)
    workers = workers_once_sweeping(process, settle=0.8)
    elapsed, out, err = interrupt(process)
    assert process.returncode == 130, err
    assert elapsed < STOP_WITHIN_SECONDS, elapsed
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("wsztune: error: interrupted after ")
    assert "nothing written" in lines[0]
    assert list(results_dir.iterdir()) == []  # checked writable (created), then left empty
    assert_gone(workers)


def test_ctrl_c_with_keep_partial_keeps_a_marked_run(tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    process = start_run(results_dir, "--keep-partial")
    workers = workers_once_sweeping(process, settle=1.5)
    elapsed, out, err = interrupt(process)
    assert process.returncode == 130, err
    assert elapsed < STOP_WITHIN_SECONDS, elapsed
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    (kept,) = results_dir.glob("*.json")
    assert lines[0] == (
        f"wsztune: error: interrupted: kept {len(results.load(kept).cells)} of 63 cells in "
        f"{kept} (marked partial)"
    )
    run = results.load(kept)
    assert run.partial is True
    assert run.meta["partial"] is True
    assert run.meta["cells_planned"] == 63
    assert 0 < len(run.cells) < 63 == run.meta["cells_planned"]
    assert run.meta["cells"] == len(run.cells)
    assert [p.name for p in results_dir.iterdir()] == [kept.name]  # no temporary left
    assert_gone(workers)


def test_impatient_double_ctrl_c_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    # Before the fix this printed a KeyboardInterrupt traceback from threading's exit hook (or a
    # "RuntimeError: release unlocked lock" with exit code 1) nearly every time.
    results_dir = tmp_path / "results"
    process = start_run(results_dir)
    workers = workers_once_sweeping(process, settle=1.0)
    elapsed, out, err = interrupt(process, times=2)
    assert process.returncode == 130, err
    assert elapsed < STOP_WITHIN_SECONDS, elapsed
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert list(results_dir.iterdir()) == []
    assert_gone(workers)


def test_ctrl_c_with_one_job(tmp_path: Path) -> None:
    # No pool at all: the interrupt lands in the measuring code itself.
    results_dir = tmp_path / "results"
    process = start_run(results_dir, "--jobs", "1")
    # The results folder is made once the options are checked, just before the sweep starts: on a
    # loaded machine the interpreter may take longer than any fixed sleep to get there.
    deadline = time.monotonic() + 60
    while not results_dir.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.5)
    elapsed, out, err = interrupt(process)
    assert process.returncode == 130, err
    assert elapsed < STOP_WITHIN_SECONDS, elapsed
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert list(results_dir.iterdir()) == []


# SIGTERM ------------------------------------------------------------------------------------------


def test_sigterm_to_the_main_process_keeps_a_partial_run_and_exits_143(tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    process = start_run(results_dir, "--keep-partial")
    workers = workers_once_sweeping(process, settle=1.5)
    elapsed, out, err = interrupt(process, signum=signal.SIGTERM, group=False)
    assert process.returncode == 143, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    (kept,) = results_dir.glob("*.json")
    run = results.load(kept)
    assert lines[0] == (
        f"wsztune: error: interrupted: kept {len(run.cells)} of 63 cells in {kept} (marked partial)"
    )
    assert run.partial is True
    assert 0 < len(run.cells) < 63
    assert [p.name for p in results_dir.iterdir()] == [kept.name]  # no temporary left
    assert_gone(workers)


def test_sigterm_to_the_group_writes_nothing_and_exits_143(tmp_path: Path) -> None:
    # As `docker stop` of a shell, or a CI runner killing the job's process group: the workers
    # get SIGTERM too, and must leave stopping to the main process.
    results_dir = tmp_path / "results"
    process = start_run(results_dir)
    workers = workers_once_sweeping(process, settle=0.8)
    elapsed, out, err = interrupt(process, signum=signal.SIGTERM)
    assert process.returncode == 143, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("wsztune: error: interrupted after ")
    assert list(results_dir.iterdir()) == []
    assert_gone(workers)


# kill -9 while writing ----------------------------------------------------------------------------

WRITER = """
import sys
from wsztune import results
run = results.load(sys.argv[1])
# A few MB of JSON, so that each save takes a noticeable time: 250 thresholds of every cell (a
# results file holds one cell per setting, and its grid plans them all).
run.cells = [dict(cell, threshold=copy) for copy in range(250) for cell in run.cells]
run.meta["grid"]["thresholds"] = list(range(250))
run.meta["cells"] = run.meta["cells_planned"] = len(run.cells)
print("ready", len(run.cells), flush=True)
while True:
    results.save(run, sys.argv[2])
"""


def test_kill_9_while_saving_never_leaves_a_truncated_file(
    tmp_path: Path, small_run_path: Path
) -> None:
    target = tmp_path / "results" / "chat-20260101T000000Z.json"
    expected_cells = len(results.load(small_run_path).cells) * 250
    rng = random.Random(7)
    for _ in range(5):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(small_run_path), str(target)],
            stdout=subprocess.PIPE,
            text=True,
            env=environment(),
        )
        assert writer.stdout is not None
        assert writer.stdout.readline().startswith("ready")
        time.sleep(rng.uniform(0.05, 0.6))  # anywhere in dumps, write, fsync or rename
        writer.kill()  # SIGKILL: no cleanup code runs
        writer.wait(timeout=10)
        writer.stdout.close()

        if target.exists():
            # Complete and loadable, never a prefix of a document.
            document = json.loads(target.read_bytes())
            assert len(document["cells"]) == expected_cells
            assert len(results.load(target).cells) == expected_cells
        leftovers = [p for p in target.parent.iterdir() if p != target]
        assert all(p.name.startswith(f".{target.name}.") for p in leftovers), leftovers
        assert all(p.suffix == ".tmp" for p in leftovers), leftovers
        # A temporary file of a killed save is never presented as the newest results.
        try:
            assert results.newest(target.parent) == target
        except ResultsError:
            assert not target.exists()


# live: SIGTERM as run handles it ------------------------------------------------------------------


def _live_started(tmp: Path, server: str) -> bool:
    """The moment worth interrupting: the corpus is on disk in a temporary folder (plan.json),
    and, for ws, the model's node processes are measuring (their corpus files are on disk too)."""
    plans = list(tmp.glob("wsztune-live-*/plan.json"))
    return bool(plans) and (server != "ws" or any(tmp.glob("wsztune-node-*")))


@pytest.mark.live
@pytest.mark.parametrize("server", ["websockets", "ws"])
def test_sigterm_stops_live_with_its_children_and_temporary_files(
    tmp_path: Path, server: str, request: pytest.FixtureRequest
) -> None:
    """Issue 29 item 6: SIGTERM to ``wsztune live`` alone (the children get no signal) used to
    kill it on the spot, leaving plan.json (the whole corpus) and node's corpus files behind."""
    pytest.importorskip("websockets")
    extra: list[str] = []
    if server == "ws":
        if shutil.which("node") is None:
            pytest.skip("node is not installed")
        extra = ["--ws-dir", str(request.getfixturevalue("ws_dir"))]
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = environment()
    env["TMPDIR"] = str(tmp)  # every temporary file of wsztune and its children lands here
    process = subprocess.Popen(
        [sys.executable, "-m", "wsztune", "live", "--server", server]
        + ["--connections", "400", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        children: list[psutil.Process] = []
        while not (children and _live_started(tmp, server)):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "live never got going"
            time.sleep(0.05)
            children = psutil.Process(process.pid).children(recursive=True)
        time.sleep(0.5)  # into the replay (and the model's measurements)
        children = psutil.Process(process.pid).children(recursive=True)
        elapsed, out, err = interrupt(process, signum=signal.SIGTERM, group=False)
    finally:
        if process.poll() is None:  # pragma: no cover - a failure; do not leak the group
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 143, err
    assert err.strip().splitlines() == ["wsztune: error: terminated (SIGTERM)"]
    assert sorted(p.name for p in tmp.rglob("*")) == []  # plan.json, node's corpus: all gone
    assert_gone(children)
    assert elapsed < 10  # the model's node processes are stopped, not waited for


# A stop signal whose exception Python swallows ---------------------------------------------------


class _SignalsOnDelete:
    """Sends SIGTERM from ``__del__``: the handler's exception is raised there, where Python
    prints "Exception ignored in ..." and carries on (as in a weakref callback)."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_swallowed_sigterm_still_ends_the_command_as_terminated() -> None:
    # Issue 29's adversarial pass: `live` killed with SIGTERM once ran on to the end and exited 0,
    # the handler's Terminated lost in a WeakSet callback.
    import logging

    from wsztune.cli.common import Terminated, first_interrupt_only, interrupted_exit_code

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    asyncio_log = logging.getLogger("asyncio")
    asyncio_log_disabled = asyncio_log.disabled
    ran_on = []
    hook = sys.unraisablehook
    try:
        with pytest.raises(Terminated) as stopped, first_interrupt_only():
            _SignalsOnDelete()  # dropped at once: its __del__ runs here
            time.sleep(5)  # the command's work, which the stop sent again cuts short
            ran_on.append(True)
    finally:  # a stopped command leaves both signals ignored and asyncio quiet: pytest goes on
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        asyncio_log.disabled = asyncio_log_disabled
    assert ran_on == []  # the swallowed stop was sent again and stopped the body at once
    assert sys.unraisablehook is hook  # given back
    assert interrupted_exit_code(stopped.value) == 143


# A stop signal while an asyncio loop runs ------------------------------------------------------


@contextlib.contextmanager
def _handlers_given_back() -> Iterator[None]:
    """A stopped command leaves both signals ignored and asyncio's log off: pytest goes on."""
    import logging

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    asyncio_log = logging.getLogger("asyncio")
    disabled = asyncio_log.disabled
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        asyncio_log.disabled = disabled


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stop_under_asyncio_is_raised_between_callbacks_and_every_task_finishes(
    signum: int, code: int
) -> None:
    # CI: `live --server websockets` stopped by SIGTERM printed "coroutine
    # 'BaseSelectorEventLoop._accept_connection2' was never awaited" after its one line; the
    # handler's exception had landed inside the loop's accept, between making the coroutine and
    # scheduling it. Under stopping.run the callback in flight finishes, the main coroutine is
    # cancelled at its next await, its cleanup (which awaits) runs, asyncio.run finishes every
    # other task, and only then does the stop come out.
    import asyncio

    from wsztune import stopping
    from wsztune.cli.common import first_interrupt_only, interrupted_exit_code

    seen: list[str] = []

    async def served() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen.append("server task cancelled")
            raise

    async def main() -> None:
        background = asyncio.create_task(served())
        await asyncio.sleep(0)
        os.kill(os.getpid(), signum)
        # One callback's synchronous work, long after the signal arrived: it is not cut short.
        deadline = time.monotonic() + 0.2
        while time.monotonic() < deadline:
            pass
        seen.append("callback finished")
        try:
            await asyncio.sleep(30)
        finally:
            await asyncio.sleep(0)  # cleanup that awaits still runs
            seen.append("main's cleanup ran")
            del background

    with _handlers_given_back(), pytest.raises(KeyboardInterrupt) as stop, first_interrupt_only():
        stopping.run(main())
    # The order of the other tasks' cancellation is asyncio's (a set): only what is ours.
    assert seen[0] == "callback finished"
    assert seen.index("callback finished") < seen.index("main's cleanup ran")
    assert "server task cancelled" in seen
    assert interrupted_exit_code(stop.value) == code


def test_a_stop_during_asyncios_shutdown_waits_for_it() -> None:
    # The main coroutine done, asyncio.run still closing the loop: the stop is recorded and
    # raised once it has closed, not inside shutdown_asyncgens (a "never awaited" warning).
    import asyncio
    import warnings

    from wsztune import stopping
    from wsztune.cli.common import Terminated, first_interrupt_only

    seen: list[str] = []

    async def lingering() -> None:
        try:
            await asyncio.sleep(30)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # lands during the shutdown's cancellation
            await asyncio.sleep(0)
            seen.append("shutdown went on")

    async def main() -> str:
        asyncio.create_task(lingering())
        await asyncio.sleep(0)
        return "done"

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a coroutine never awaited would be raised, not lost
        with _handlers_given_back(), pytest.raises(Terminated), first_interrupt_only():
            stopping.run(main())
    assert seen == ["shutdown went on"]


def test_a_stop_asked_before_the_loop_runs_never_starts_the_coroutine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio
    import warnings

    from wsztune import stopping

    assert stopping.request_stop(KeyboardInterrupt) is False  # no run: the handler raises
    started: list[bool] = []

    async def main() -> None:
        started.append(True)

    real_run = asyncio.run

    def run_after_a_stop(coroutine: Any) -> Any:
        assert stopping.request_stop(KeyboardInterrupt)  # the signal lands just before
        return real_run(coroutine)

    monkeypatch.setattr(stopping.asyncio, "run", run_after_a_stop)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # closed, not left never awaited
        with pytest.raises(KeyboardInterrupt):
            stopping.run(main())
    assert started == [] and stopping._running == []


def test_a_sigterm_without_a_loop_is_raised_where_it_lands() -> None:
    from wsztune.cli.common import Terminated, first_interrupt_only

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    ran_on = []
    try:
        with pytest.raises(Terminated), first_interrupt_only():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
            ran_on.append(True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    assert ran_on == []
