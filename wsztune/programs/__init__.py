"""External programs wsztune runs (``go``, ``node``): where they are, or a one-line user error;
the cores they run on; and the helper processes that measure cells, run side by side."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

from wsztune.errors import EXIT_HELPER_FAILED, WsztuneError

T = TypeVar("T")
J = TypeVar("J")


def find_program(name: str, env: str, error: type[WsztuneError], install: str) -> str:
    """Path of the ``name`` executable: ``$env`` when set (it must be executable), else the one
    on PATH; otherwise ``error`` with one line that says how to ``install`` it or to set ``env``."""
    override = os.environ.get(env)
    if override:
        if shutil.which(override) is None:
            raise error(f"{env}={override} is not an executable {name}")
        return override
    found = shutil.which(name)
    if found is None:
        raise error(f"{name} is not installed or not on PATH: {install} or set {env} to its path")
    return found


def pinnable_cores() -> list[int]:
    """The cores a helper process can be pinned to (the ones this process may use); empty where
    the system cannot pin a process (no ``sched_setaffinity``)."""
    if not hasattr(os, "sched_setaffinity"):
        return []
    try:
        return sorted(os.sched_getaffinity(0))
    except OSError:
        return []


def core_for(index: int) -> int | None:
    """The core helper process number ``index`` is pinned to: the cores in turn; None unpinned."""
    cores = pinnable_cores()
    return cores[index % len(cores)] if cores else None


@contextmanager
def on_core(core: int | None) -> Iterator[None]:
    """Processes started inside run on ``core`` only (None: anywhere), and so do the threads they
    start (node's libuv pool). Only the calling thread's affinity changes, and it is restored:
    other threads keep starting processes of their own meanwhile."""
    if core is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


# A helper that has used no CPU for this long while it owes answers has hung: every helper
# computes without pause until it has answered all it was given (a fed one is handed its next
# piece the moment it answers), so even on a machine loaded many times over, its CPU time moves
# every second. Counted in checks about a second apart, so that a suspended session (Ctrl-Z, a
# laptop asleep) resumed later does not read as a helper that stood still all that time.
STALL_SECONDS = 60


class HelperStalled(WsztuneError):
    """A helper process stopped working without ending (exit code 2): it is killed and the
    command stops with one line rather than waiting forever."""


class HelperFailed(WsztuneError, RuntimeError):
    """A helper process (node, Go, the JVM) that ended with an error (exit code 5): a crash (a
    Go panic, an uncaught node error) or a failure it explained (an open-file limit). One line,
    from :func:`helper_failed`, never a traceback: which helper, how it ended, what it said."""

    exit_code = EXIT_HELPER_FAILED


# The line of a helper's stderr that says what went wrong, where the last one does not: a Go
# panic or fatal error (a goroutine dump follows), an error the helper reported itself ("wsztune
# node codec: Error: ...", a stack follows), node's uncaught error or a JVM's exception.
_HEADLINE = re.compile(
    r"^(panic: |fatal error: |wsztune |Exception in thread |(Uncaught )?[\w.$]*(Error|Exception)"
    r"\w*( \[\w+\])?: )"
)
_LONGEST_LINE = 300


def helper_failed(name: str, returncode: int, stderr: str) -> HelperFailed:
    """The one-line error for helper ``name`` that ended with ``returncode`` (negative: killed by
    that signal) saying ``stderr``: the line of it that says what went wrong (:data:`_HEADLINE`,
    else its last), its whole text saved to a file named in the line when there is more (and it
    exited rather than being killed), and what to do."""
    import tempfile

    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    ended = _how_it_ended(returncode)
    if not lines:
        return HelperFailed(
            f"{name} {ended} without a word on its error output: run the command again, and if "
            "it fails again please report it"
        )
    said = next((line for line in lines if _HEADLINE.match(line)), lines[-1])
    if len(said) > _LONGEST_LINE:
        said = said[: _LONGEST_LINE - 3] + "..."
    where, evidence = "", "this line"
    # Not for a kill (ours on Ctrl-C among them): what it wrote is not what ended it, and a file
    # left behind by an interrupted run would be litter.
    if returncode > 0 and (len(lines) > 1 or said != lines[0]):
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        handle, path = tempfile.mkstemp(prefix=f"wsztune-{slug}-", suffix=".txt")
        with os.fdopen(handle, "w", encoding="utf-8", errors="replace") as out:
            out.write(stderr)
        where, evidence = f" (its whole error output: {path})", "that file"
    return HelperFailed(
        f"{name} {ended}: {said}{where}; unless that says what to change, run the command "
        f"again, and if it fails again please report it with {evidence}"
    )


def _how_it_ended(returncode: int) -> str:
    """A helper's end in words: its exit code, or the signal that killed it (negative)."""
    import signal

    if returncode >= 0:
        return f"failed (exit code {returncode})"
    try:
        ended = f"was killed by {signal.Signals(-returncode).name}"
    except ValueError:
        ended = f"was killed by signal {-returncode}"
    if -returncode == signal.SIGKILL:
        ended += " (the system may have run out of memory)"
    return ended


@dataclass
class _StallWatch:
    """The helpers' CPU time, read about once a second: :class:`HelperStalled` when one has not
    moved for ``limit`` checks in a row (an answer from it counts as moving). A fed helper
    whose stdin is closed has given every answer it owed: if it stands still instead of
    ending, it is only killed (``ended``), and its answers stand. Any other helper that closed
    its stdout (``silent``) and stands still is stalled too: whether it failed is unknown."""

    processes: Sequence[Any]
    name: str
    limit: float
    last_check: float = 0.0
    cpu: dict[int, float] = field(default_factory=dict)
    family_cpu: dict[int, float] = field(default_factory=dict)
    still: dict[int, int] = field(default_factory=dict)
    ended: set[int] = field(default_factory=set)
    silent: set[int] = field(default_factory=set)

    def answered(self, index: int, last: bool = False) -> None:
        """Helper number ``index`` answered (``last``: it closed its stdout): it is working."""
        self.still[index] = 0
        if last:
            self.silent.add(index)

    def wait_for_ends(self) -> None:
        """Wait for every helper to end once it has closed its stdout, under the same guard:
        one that stands still instead of ending is stopped (see :meth:`check`), never waited
        for forever."""
        import time

        while any(process.poll() is None for process in self.processes):
            self.check()
            time.sleep(0.05)

    def check(self) -> None:
        """Raise :class:`HelperStalled` for a helper that has stood still too long."""
        import time

        import psutil

        now = time.monotonic()
        if now - self.last_check < 1.0:
            return
        self.last_check = now
        for index, process in enumerate(self.processes):
            if process.poll() is not None:
                continue
            try:
                moved = self._moved(index, psutil.Process(process.pid))
            except psutil.Error:
                continue
            if moved:
                self.still[index] = 0
                continue
            self.still[index] = self.still.get(index, 0) + 1
            if self.still[index] < self.limit:
                continue
            if process.stdin is not None and process.stdin.closed:
                self.ended.add(index)  # nothing owed: it only failed to exit
                kill_tree(process)
            elif index in self.silent:
                # Its exit status and stderr, which say whether it failed, never came.
                raise HelperStalled(
                    f"{self.name} closed its output but did not end: its process "
                    f"{process.pid} used no CPU for {self.still[index]} s since, so it was "
                    "stopped; run the command again (and please report it if it recurs)"
                )
            else:
                raise HelperStalled(
                    f"{self.name} stopped working: its process {process.pid} used no CPU for "
                    f"{self.still[index]} s with answers still to give, so it was stopped; run "
                    "the command again (and please report it if it recurs)"
                )

    def _moved(self, index: int, process: Any) -> bool:
        """Whether helper number ``index`` used CPU since the last check: its own CPU time,
        else its children's. A ``node`` found on PATH can be a launcher (Volta's shims) that
        runs the real program as its child and uses no CPU itself; but listing children scans
        every process on the machine, so it is done only for a helper that did not move (a
        pool of busy helpers would otherwise make one scan each a second)."""
        times = process.cpu_times()
        own = times.user + times.system
        if own != self.cpu.get(index):
            self.cpu[index] = own
            return True
        family = own + _children_cpu_seconds(process)
        if family != self.family_cpu.get(index):
            self.family_cpu[index] = family
            return True
        return False


def _children_cpu_seconds(process: Any) -> float:
    """CPU seconds of a helper's live children (a launcher's real program)."""
    import psutil

    total = 0.0
    for member in process.children(recursive=True):
        try:
            times = member.cpu_times()
        except psutil.Error:
            continue  # a child that ended between the listing and the reading
        total += times.user + times.system
    return total


def kill_tree(process: Any) -> None:
    """Kill a helper and its children: a ``node`` found on PATH can be a launcher (Volta's
    shims) whose child, the real program, would outlive it holding the helper's pipes (and its
    core). The children are listed first: once the launcher is gone they no longer are its."""
    import psutil

    with suppress(psutil.Error):
        for child in psutil.Process(process.pid).children(recursive=True):
            with suppress(psutil.Error):
                child.kill()
    process.kill()


def communicate(
    process: Any, name: str, stall_seconds: float = STALL_SECONDS
) -> tuple[str, str]:
    """``process.communicate()`` for a helper that answers once, as it ends (a node memory
    probe): its stdout and stderr, bounded as :func:`run_helpers` bounds its helpers, by the
    stall guard rather than a wall clock. A helper slowed by a loaded machine is waited for;
    one that uses no CPU (children included) for ``stall_seconds`` before it ends has hung:
    it is killed and :class:`HelperStalled` raised."""
    stdout, stderr = _PipeReader.start(process.stdout), _PipeReader.start(process.stderr)
    try:
        _StallWatch([process], name, stall_seconds).wait_for_ends()
    finally:
        _stop(process)
    return stdout.text(), stderr.text()


@dataclass
class _PipeReader:
    """A helper's pipe read to its end by a thread of its own while the helper runs: one that
    writes more than a pipe holds (a Go panic's stack dump) would otherwise wait on it while we
    wait on its other pipe or its exit."""

    thread: Any
    chunks: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, stream: IO[str] | None) -> _PipeReader:
        """Start reading ``stream``."""
        import threading

        assert stream is not None
        reader = cls(None)
        reader.thread = threading.Thread(target=reader.chunks.extend, args=(stream,), daemon=True)
        reader.thread.start()
        return reader

    def text(self) -> str:
        """What was read, once the helper has ended. Bounded: a child it left behind (a
        launcher's) may still hold the pipe open."""
        self.thread.join(timeout=2.0)
        return "".join(self.chunks)


def _stop(process: Any) -> None:
    """Kill a helper that is still running, its children too, and reap it."""
    if process.poll() is None:
        kill_tree(process)
        process.wait()


@dataclass(frozen=True)
class Helper:
    """One helper process to start: its command line, and the core it runs on (None: any)."""

    argv: list[str]
    core: int | None = None


def run_helpers(
    helpers: Sequence[Helper],
    decode: Callable[[str], T],
    *,
    name: str,
    feed: Callable[[IO[str]], None] | None = None,
    on_result: Callable[[T], None] | None = None,
    stall_seconds: float = STALL_SECONDS,
) -> list[T]:
    """Start ``helpers`` side by side and read one result per line of their stdout
    (``decode``); the results in the order they arrived.

    ``feed``, when given, writes a helper's next piece of work to its stdin (or closes it): once
    at the start and again after every line the helper answers, so that a helper that drew cheap
    work takes more and none idles while another has a queue. ``decode`` and ``on_result`` run
    in the calling thread, one result at a time. A helper that fails raises
    :class:`HelperFailed` (:func:`helper_failed`; ``name`` says which program); one that uses
    no CPU for ``stall_seconds`` without ending raises :class:`HelperStalled` (it hung: never
    wait for it forever); every helper still running when this returns or raises (Ctrl-C) is
    killed.
    """
    import queue
    import subprocess
    import threading

    results: list[T] = []
    lines: queue.Queue[tuple[int, str | None]] = queue.Queue()
    processes: list[subprocess.Popen[str]] = []
    try:
        for helper in helpers:
            with on_core(helper.core):
                processes.append(
                    subprocess.Popen(
                        helper.argv,
                        stdin=subprocess.PIPE if feed is not None else subprocess.DEVNULL,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                        errors="replace",  # a stray byte must not kill a reader thread
                    )
                )

        def pump(index: int, process: subprocess.Popen[str]) -> None:
            # One reader per helper: a helper never waits on a full pipe for another's.
            assert process.stdout is not None
            if feed is not None:
                assert process.stdin is not None
                feed(process.stdin)
            for line in process.stdout:
                lines.put((index, line))
                if feed is not None:
                    feed(process.stdin)  # type: ignore[arg-type]
            lines.put((index, None))

        stderrs = []
        for index, process in enumerate(processes):
            threading.Thread(target=pump, args=(index, process), daemon=True).start()
            stderrs.append(_PipeReader.start(process.stderr))
        watch = _StallWatch(processes, name, stall_seconds)
        running = len(processes)
        while running:
            watch.check()
            try:
                # With a timeout, so that Ctrl-C reaches this thread promptly.
                index, line = lines.get(timeout=0.1)
            except queue.Empty:
                continue
            watch.answered(index, last=line is None)
            if line is None:
                running -= 1
                continue
            result = decode(line)
            results.append(result)
            if on_result is not None:
                on_result(result)
        watch.wait_for_ends()
        for index, process in enumerate(processes):
            if process.returncode != 0 and index not in watch.ended:
                raise helper_failed(name, process.returncode, stderrs[index].text())
    finally:
        for process in processes:
            _stop(process)
    return results


@contextmanager
def children_stopped_on_error(done: Callable[[], bool], patience: float = 30.0) -> Iterator[None]:
    """On any exception inside (Ctrl-C, SIGTERM, a failure), kill this process's child
    processes until ``done()`` says the work that starts them has ended, then re-raise.

    For work running in another thread (``live --server ws`` measures the model in node
    processes while the servers run): the exception stops only the main thread, and that
    thread's helpers would otherwise run to their end, minutes on a big corpus, with their
    temporary files (the corpus, in node's format) waiting for them. Killed, they end at once;
    the thread then fails, and its temporary directories are removed as it unwinds.
    ``patience`` bounds the wait for a thread that never notices.
    """
    import time

    import psutil

    try:
        yield
    except BaseException:
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            for child in psutil.Process().children(recursive=True):
                with suppress(psutil.Error):
                    child.kill()
            if done():
                break
            time.sleep(0.05)
        raise


def write_corpus(streams: Sequence[Sequence[bytes | memoryview]], path: Path) -> None:
    """Write payloads as every helper (node, Go, the JVM) reads them: per stream a u32 count,
    per message a u32 length and the bytes, little-endian."""
    import struct

    pack = struct.Struct("<I").pack
    with open(path, "wb") as out:
        for payloads in streams:
            out.write(pack(len(payloads)))
            for payload in payloads:
                out.write(pack(len(payload)))
                out.write(payload)


def run_job_files(
    jobs_for: Sequence[J],
    workers: int,
    write_job: Callable[[Path, Sequence[J]], None],
    command: Callable[[Path, int], Helper],
    decode: Callable[[str], T],
    *,
    name: str,
    on_result: Callable[[T], None] | None = None,
) -> list[T]:
    """Measure ``jobs_for`` (each with an ``id``) in ``workers`` helpers side by side: the jobs
    dealt out in turn, each share written to a job file (``write_job``) that the helper
    ``command`` reads, one result (with the job's ``id``) per line of its stdout. The results
    in job order; a job without a result raises ``RuntimeError`` naming the ``name``d program."""
    import tempfile

    workers = max(1, min(workers, len(jobs_for)))
    with tempfile.TemporaryDirectory(prefix="wsztune-job-") as directory:
        helpers = []
        for index in range(workers):
            job_path = Path(directory) / f"job-{index}"
            write_job(job_path, jobs_for[index::workers])
            helpers.append(command(job_path, index))
        results = run_helpers(helpers, decode, name=name, on_result=on_result)
    return in_job_order(name, jobs_for, results)


def in_job_order(name: str, jobs: Sequence[Any], results: Sequence[T]) -> list[T]:
    """``results`` (each with the ``id`` of its job) in the order of ``jobs``; a job without
    one raises ``RuntimeError`` naming the ``name``d program."""
    found = {result.id: result for result in results}  # type: ignore[attr-defined]
    missing = [job.id for job in jobs if job.id not in found]
    if missing:
        raise RuntimeError(f"{name} returned no result for cells {missing}")
    return [found[job.id] for job in jobs]


def unpack_u32(text: str) -> list[int]:
    """A helper's base64 of little-endian u32 values (per-message sizes, frames) as a list."""
    import base64
    import sys
    from array import array

    values = array("I")
    values.frombytes(base64.b64decode(text))
    if sys.byteorder != "little":  # pragma: no cover - the helpers write little-endian
        values.byteswap()
    return values.tolist()


@dataclass
class HelperCell:
    """What a helper (node, Go, the JVM) measured for one cell: per stream, per message, the
    frame payload bytes; per stream, the messages that went through the compressor; the
    sha256 of the frames; the timing samples and their loop counts."""

    id: int
    sizes: list[list[int]]
    compressed_messages: list[int]
    sha256: str
    compress_samples: list[float] = field(default_factory=list)
    decompress_samples: list[float] = field(default_factory=list)
    loops_compress: int = 0
    loops_decompress: int = 0


def helper_cell_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The fields every helper's cell line carries (node, Go, the JVM): the job's id, each
    stream's message sizes and compressed-message count, the sha256 of the frames, and the
    timing samples with their loop counts."""
    streams = data["streams"]
    return {
        "id": data["id"],
        "sizes": [unpack_u32(stream["sizes"]) for stream in streams],
        "compressed_messages": [stream["compressed_messages"] for stream in streams],
        "sha256": data["sha256"],
        "compress_samples": data.get("compress_samples") or [],
        "decompress_samples": data.get("decompress_samples") or [],
        "loops_compress": data.get("loops_compress", 0),
        "loops_decompress": data.get("loops_decompress", 0),
    }
