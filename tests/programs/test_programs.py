"""programs.py: an external program from its environment variable, else PATH, else one line;
the cores helpers are pinned to; helpers run side by side."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.processes import launcher_script, process_ended
from wsztune import programs
from wsztune.errors import EXIT_HELPER_FAILED, EXIT_USAGE, ToolUnavailable
from wsztune.programs import find_program

ENV = "WSZTUNE_TEST_PROGRAM"


def test_the_variable_wins_when_it_names_an_executable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, sys.executable)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert find_program("python", ENV, ToolUnavailable, "install it") == sys.executable


def test_a_variable_naming_no_executable_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-program"
    monkeypatch.setenv(ENV, str(missing))
    with pytest.raises(ToolUnavailable) as caught:
        find_program("tool", ENV, ToolUnavailable, "install it")
    assert str(caught.value) == f"{ENV}={missing} is not an executable tool"
    assert caught.value.exit_code == EXIT_USAGE


def test_path_is_searched_and_a_missing_program_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    found = find_program(Path(sys.executable).name, ENV, ToolUnavailable, "install it")
    assert Path(found).name == Path(sys.executable).name
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolUnavailable) as caught:
        find_program("tool", ENV, ToolUnavailable, "install Tool 2 or newer")
    assert str(caught.value) == (
        "tool is not installed or not on PATH: install Tool 2 or newer "
        f"or set {ENV} to its path"
    )


pinning = pytest.mark.skipif(
    not programs.pinnable_cores(), reason="this system cannot pin a process to a core"
)


@pinning
def test_a_process_started_on_a_core_runs_there_and_the_caller_is_restored() -> None:
    """``on_core`` pins what starts inside it (node's pool threads inherit it) and nothing else:
    the calling thread runs where it ran before."""
    before = os.sched_getaffinity(0)
    core = programs.pinnable_cores()[-1]
    for pin, expected in ((core, {core}), (None, before)):
        with programs.on_core(pin):
            child = subprocess.Popen(["sleep", "5"])
        try:
            assert os.sched_getaffinity(child.pid) == expected
        finally:
            child.kill()
            child.wait()
        assert os.sched_getaffinity(0) == before


@pinning
def test_helpers_take_the_cores_in_turn() -> None:
    cores = programs.pinnable_cores()
    assert [programs.core_for(i) for i in range(len(cores))] == cores
    assert programs.core_for(len(cores)) == cores[0]


def _echo(lines: int, code: int = 0) -> programs.Helper:
    script = f"import sys\nfor i in range({lines}): print(i)\nsys.stderr.write('bad input')\n"
    return programs.Helper([sys.executable, "-c", script + f"sys.exit({code})"])


def test_every_line_of_every_helper_is_a_result() -> None:
    seen: list[int] = []
    results = programs.run_helpers(
        [_echo(3), _echo(2)], lambda line: int(line), name="echo", on_result=seen.append
    )
    assert sorted(results) == [0, 0, 1, 1, 2] and seen == results


def test_a_failing_helper_raises_with_its_stderr() -> None:
    first = r"^echo failed \(exit code 3\): bad input; "
    with pytest.raises(programs.HelperFailed, match=first) as failed:
        programs.run_helpers([_echo(1), _echo(1, code=3)], int, name="echo")
    assert failed.value.exit_code == EXIT_HELPER_FAILED
    assert str(failed.value).endswith("please report it with this line")


GO_PANIC = """panic: runtime error: index out of range [3] with length 3

goroutine 1 [running]:
main.frames(...)
\t/root/.cache/wsztune/gohelper/wsztune_go.go:412
main.main()
\t/root/.cache/wsztune/gohelper/wsztune_go.go:1850 +0x1d
"""
NODE_UNCAUGHT = """/usr/lib/wsztune/codecs/node.js:88
    throw new TypeError('frames is not iterable');
    ^

TypeError [ERR_INVALID_ARG_TYPE]: frames is not iterable
    at main (/usr/lib/wsztune/codecs/node.js:88:11)

Node.js v18.19.0
"""


@pytest.mark.parametrize(
    ("stderr", "said"),
    [
        (GO_PANIC, "panic: runtime error: index out of range [3] with length 3"),
        (NODE_UNCAUGHT, "TypeError [ERR_INVALID_ARG_TYPE]: frames is not iterable"),
        ("wsztune node codec: Error: boom\n    at main (node.js:1:1)\n",
         "wsztune node codec: Error: boom"),
        ("compiling\nlinking\nno space left on device\n", "no space left on device"),
    ],
)
def test_a_crashed_helper_is_one_line_naming_what_went_wrong_its_whole_stderr_in_a_file(
    stderr: str, said: str
) -> None:
    """A Go panic, node's uncaught error, an error a helper reported with its stack: the line
    that says what went wrong (not the last of a goroutine dump or a stack), on one line with
    the helper's name and exit code; the rest saved to a file the line names."""
    failed = programs.helper_failed("Go codec", 2, stderr)
    message = str(failed)
    assert "\n" not in message and failed.exit_code == EXIT_HELPER_FAILED
    assert message.startswith(f"Go codec failed (exit code 2): {said} (its whole error output: ")
    path = Path(message.split("its whole error output: ")[1].split(")")[0])
    try:
        assert path.read_text() == stderr
    finally:
        path.unlink()
    assert message.endswith("run the command again, and if it fails again please report it "
                            "with that file")  # fmt: skip


def test_a_helper_killed_or_silent_says_so() -> None:
    assert str(programs.helper_failed("node codec", -9, "")).startswith(
        "node codec was killed by SIGKILL (the system may have run out of memory) without a "
        "word on its error output: run the command again"
    )
    killed = programs.helper_failed("node codec", -15, "a warning\nanother\n")
    assert str(killed).startswith("node codec was killed by SIGTERM: another; unless")
    assert "its whole error output" not in str(killed)  # no file left by an interrupted run
    one_line = programs.helper_failed("Go codec", 1, "raise the limit (ulimit -n 1064)\n")
    assert str(one_line).startswith("Go codec failed (exit code 1): raise the limit (ulimit -n "
                                    "1064); unless that says what to change")  # fmt: skip


def test_fed_helpers_get_the_next_piece_of_work_after_each_answer() -> None:
    """Work handed out one piece at a time: every piece is answered once, whichever helper
    takes it, and closing stdin ends a helper."""
    todo = list(range(10))
    script = "import sys\nfor line in sys.stdin: print(int(line) * 2, flush=True)\n"

    def feed(stdin) -> None:
        piece = todo.pop() if todo else None
        if piece is None:
            stdin.close()
        else:
            stdin.write(f"{piece}\n")
            stdin.flush()

    helper = programs.Helper([sys.executable, "-c", script])
    results = programs.run_helpers([helper, helper], int, name="double", feed=feed)
    assert sorted(results) == [2 * i for i in range(10)]


def test_installed_ws_is_found_in_the_cache_and_never_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The node codec times a broadcast through ws itself only when wsztune's cache holds it."""
    from wsztune.programs import npm

    monkeypatch.setenv("WSZTUNE_CACHE", str(tmp_path))
    assert npm.installed_ws() is None
    package = npm.ws_package_dir(tmp_path)
    package.mkdir(parents=True)
    assert npm.installed_ws() is None  # an install under way: no package.json yet
    (package / "package.json").write_text('{"name": "ws"}')
    assert npm.installed_ws() == str(package)


def test_a_helper_that_stops_working_is_an_error_not_a_hang() -> None:
    """A helper that takes its work and then waits forever (no answer, no CPU) is stopped with
    one line (exit code 2), instead of the command waiting for it forever."""
    script = "import sys, time\nsys.stdin.readline()\ntime.sleep(600)\n"
    stuck = programs.Helper([sys.executable, "-c", script])

    def feed(stdin) -> None:
        stdin.write("work\n")
        stdin.flush()

    started = time.monotonic()
    with pytest.raises(programs.HelperStalled, match="^stuck stopped working: its process "):
        programs.run_helpers([stuck], str, name="stuck", feed=feed, stall_seconds=2)
    assert time.monotonic() - started < 30
    assert programs.HelperStalled.exit_code == EXIT_USAGE


def test_a_helper_that_answered_everything_but_does_not_end_is_only_stopped() -> None:
    """A fed helper whose stdin is closed owes nothing more: if it stands still instead of
    ending, it is killed and its answers stand."""
    script = (
        "import sys, time\nfor line in sys.stdin: print(line.strip(), flush=True)\n"
        "time.sleep(600)\n"
    )
    todo = ["1", "2"]

    def feed(stdin) -> None:
        if todo:
            stdin.write(todo.pop() + "\n")
            stdin.flush()
        else:
            stdin.close()

    helper = programs.Helper([sys.executable, "-c", script])
    results = programs.run_helpers([helper], int, name="lingering", feed=feed, stall_seconds=2)
    assert sorted(results) == [1, 2]


def test_a_helper_working_in_a_child_of_its_launcher_is_not_taken_for_stalled() -> None:
    """A helper started through a launcher (a shell here; Volta's node shim in the wild) uses
    its CPU in a child: the guard counts the child's, so a busy helper is not stopped."""
    child = "import time\nend = time.process_time() + 4\nwhile time.process_time() < end: pass\n"
    script = (f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {child!r}])\n"
              "print(1)\n")  # fmt: skip
    launcher = programs.Helper([sys.executable, "-c", script])
    assert programs.run_helpers([launcher], int, name="launched", stall_seconds=2) == [1]


def test_a_busy_helper_is_watched_without_listing_its_children(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Listing a process's children scans every process on the machine: the guard does it only
    for a helper whose own CPU time stood still (a launcher), never once a second for each of a
    pool of busy helpers."""
    import psutil

    listed: list[int] = []
    children = psutil.Process.children

    def counted(self: psutil.Process, recursive: bool = False) -> list[psutil.Process]:
        listed.append(self.pid)
        return children(self, recursive=recursive)

    monkeypatch.setattr(psutil.Process, "children", counted)
    busy = "import time\nend = time.process_time() + 3\nwhile time.process_time() < end: pass\n"
    helper = programs.Helper([sys.executable, "-c", busy + "print(1)\n"])
    assert programs.run_helpers([helper], int, name="busy", stall_seconds=2) == [1]
    assert listed == []


def _launched_sleeper(pid_file: Path) -> list[str]:
    """A launcher whose child hangs, writing its pid to ``pid_file``, as a command line."""
    return [sys.executable, "-c", launcher_script(pid_file)]


def test_a_stalled_helper_is_stopped_with_the_child_of_its_launcher(tmp_path: Path) -> None:
    """A stall kills the launcher's child too: left behind, it would hold the helper's pipes
    and live on after wsztune stopped."""
    pid_file = tmp_path / "child.pid"
    helper = programs.Helper(_launched_sleeper(pid_file))
    outcome = _bounded(
        lambda: programs.run_helpers([helper], int, name="launched", stall_seconds=2), 30
    )
    assert isinstance(outcome, programs.HelperStalled), outcome
    assert process_ended(int(pid_file.read_text()))
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    probe = subprocess.Popen(_launched_sleeper(pid_file), **pipes)
    outcome = _bounded(lambda: programs.communicate(probe, "probe", stall_seconds=2), 30)
    assert isinstance(outcome, programs.HelperStalled), outcome
    assert process_ended(int(pid_file.read_text()))


def _bounded(call: Callable[[], object], seconds: float) -> BaseException | object:
    """``call()``'s result or exception, failing the test if it takes longer than ``seconds``
    (it would hang forever: the thread is left behind, a daemon)."""
    import threading

    outcome: list[BaseException | object] = []

    def target() -> None:
        try:
            outcome.append(call())
        except BaseException as error:  # noqa: BLE001 - handed to the test to assert on
            outcome.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds} s"
    return outcome[0]


def test_a_helper_that_closed_its_output_but_does_not_end_is_an_error_not_a_hang() -> None:
    """A helper that gave its answers and closed stdout, then stands still instead of ending,
    may have failed (its exit status and stderr are still to come): it is stopped under the
    same guard as a helper that stopped answering, with one line (exit code 2)."""
    script = "import os, time\nprint(1, flush=True)\nos.close(1)\ntime.sleep(600)\n"
    helper = programs.Helper([sys.executable, "-c", script])
    outcome = _bounded(
        lambda: programs.run_helpers([helper], int, name="silent", stall_seconds=2), 30
    )
    assert isinstance(outcome, programs.HelperStalled), outcome
    assert str(outcome).startswith("silent closed its output but did not end: its process ")


def test_a_helper_that_writes_much_to_stderr_before_its_answer_is_read() -> None:
    """Its stderr is read while it runs: a helper that writes more than a pipe holds there (a
    Go panic's stack dump) would otherwise wait on the pipe while wsztune waits on its stdout,
    and the guard would stop it with its error unread."""
    outcome = _failing_after("sys.stderr.write('x' * 1_000_000 + '\\nbad input\\n')", "loud")
    assert isinstance(outcome, programs.HelperFailed), outcome
    assert str(outcome).startswith("loud failed (exit code 3): bad input (its whole "), outcome
    assert len(_saved_stderr(outcome)) == 1_000_000 + len("\nbad input\n")


def _failing_after(write: str, name: str) -> BaseException | object:
    """What run_helpers gives for a helper ``name`` that runs ``write`` (Python, ``sys``
    imported) and exits 3 without an answer."""
    script = f"import sys\n{write}\nsys.stderr.flush()\nsys.exit(3)\n"
    helper = programs.Helper([sys.executable, "-c", script])
    return _bounded(lambda: programs.run_helpers([helper], int, name=name, stall_seconds=2), 30)


def test_a_helper_writing_bytes_that_are_not_utf8_fails_with_its_whole_message() -> None:
    """A stray byte that is not UTF-8 on a helper's stderr (or stdout) is read as a replacement
    character: it must not kill the thread reading that pipe, which would lose the rest of
    the helper's message (and, with the pipe unread, let it fill until the guard stops it)."""
    write = "sys.stderr.buffer.write(b'\\xff\\xfe garbled\\n' * 5000 + b'bad input\\n')"
    outcome = _failing_after(write, "garbled")
    assert isinstance(outcome, programs.HelperFailed), outcome
    assert str(outcome).startswith("garbled failed (exit code 3): bad input (its "), outcome
    saved = _saved_stderr(outcome)
    assert saved.startswith("\ufffd\ufffd garbled\n") and saved.endswith("bad input\n")
    assert saved.count("garbled") == 5000


def _saved_stderr(failed: BaseException | object) -> str:
    """The whole stderr a :class:`HelperFailed` line names as saved (the file is removed)."""
    path = Path(str(failed).split("its whole error output: ")[1].split(")")[0])
    try:
        return path.read_text(encoding="utf-8")
    finally:
        path.unlink()


def test_a_helper_answering_once_is_waited_for_while_it_works_however_long() -> None:
    """``communicate``: no wall clock. A helper that works past the guard's span (a slow probe
    on a loaded machine) gives its output; one that stands still is stopped."""
    busy = "import time\nend = time.process_time() + 4\nwhile time.process_time() < end: pass\n"
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    working = subprocess.Popen([sys.executable, "-c", busy + "print('done')\n"], **pipes)
    assert programs.communicate(working, "probe", stall_seconds=2) == ("done\n", "")
    hung = subprocess.Popen([sys.executable, "-c", "import time\ntime.sleep(600)\n"], **pipes)
    outcome = _bounded(lambda: programs.communicate(hung, "probe", stall_seconds=2), 30)
    assert isinstance(outcome, programs.HelperStalled), outcome
    assert str(outcome).startswith(f"probe stopped working: its process {hung.pid} ")
    assert hung.poll() is not None  # killed, not left behind
