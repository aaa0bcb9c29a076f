"""What the commands share: the corpus and reading options, argument parsers, warnings, Ctrl-C.

Only click is imported here at module level; every helper imports what it needs when it runs, so
that ``wsztune --help`` stays instant.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from wsztune.corpus import FORMATS  # the standard library only: cheap at start-up
from wsztune.errors import WsztuneError

# report imports only the standard library and wsztune.results at module level (rich, pandas
# and matplotlib when a function runs): cheap enough to hold the one list of metric names.
from wsztune.report import METRICS

F = TypeVar("F", bound=Callable[..., Any])

INTERRUPTED_EXIT = 130  # 128 + SIGINT
TERMINATED_EXIT = 143  # 128 + SIGTERM
# 128 + SIGPIPE: what a shell reports for cat, grep or git when head(1) stops reading. Not 0: a
# truncated `recommend --check` never finished its verdict and must not read as a pass; not 1
# (Python's and click's default on EPIPE): that is a check that ran and failed.
OUTPUT_CLOSED_EXIT = 141


class OutputClosed(Exception):
    """The reader of our output went away (``wsztune table | head -1``): not an error to report,
    the end of the command. Deliberately not an OSError, so that click's own EPIPE handling (exit
    1) does not take it."""


def closed_outputs() -> list[int]:
    """The descriptors of stdout and stderr that are pipes (or sockets) whose reader has gone.

    A BrokenPipeError can also come from a helper process's pipe; only when our own output is
    the broken one is it the reader's choice (``| head -1``) rather than a failure. Linux's poll
    reports POLLERR on a pipe without readers. Without poll (Windows), a pipe error is taken to
    be the output's. Streams that are not files (click's CliRunner) are never closed outputs.
    """
    import select
    import sys

    descriptors = []
    for stream in (sys.stdout, sys.stderr):
        try:
            descriptors.append(stream.fileno())
        except (AttributeError, OSError, ValueError):
            continue
    if not hasattr(select, "poll"):
        return descriptors
    poller = select.poll()
    for descriptor in descriptors:
        poller.register(descriptor, select.POLLOUT)
    gone = select.POLLERR | select.POLLHUP
    return [descriptor for descriptor, mask in poller.poll(0) if mask & gone]


@contextmanager
def reader_gone_is_output_closed() -> Iterator[None]:
    """A BrokenPipeError on our own output (:func:`closed_outputs`) raised as
    :class:`OutputClosed`; one from elsewhere (a helper process's pipe) as a
    :class:`~wsztune.errors.WsztuneError`, one line and exit code 2: click would take it for
    the reader gone too, and exit 1 without a word, which reads as a failed check."""
    try:
        yield
    except BrokenPipeError as error:
        if not closed_outputs():
            raise WsztuneError(
                f"a helper process stopped reading what wsztune sent it ({error.strerror}): "
                "it ended early; run the command again, and report it if it recurs"
            ) from None
        raise OutputClosed from None


def silence_outputs(descriptors: list[int]) -> None:
    """Point ``descriptors`` (:func:`closed_outputs`) at /dev/null, so that the flush Python
    makes at exit does not raise the broken pipe again ("Exception ignored ... Broken pipe",
    exit 120): the pattern of Python's docs (signal module, "Note on SIGPIPE")."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    for descriptor in descriptors:
        os.dup2(devnull, descriptor)
    os.close(devnull)


def error_line(message: str) -> None:
    """``wsztune: error: ...`` on stderr, one line whatever the names in it hold (a corpus file
    named with a newline and ``::error::`` cannot forge a line of a CI log)."""
    from wsztune.console import terminal_text

    click.echo(f"wsztune: error: {terminal_text(message)}", err=True)


def permission_message(error: PermissionError) -> str:
    """The one line a permission error becomes: the file, and what to do."""
    place = error.filename if error.filename is not None else ""
    if error.filename2 is not None:
        place = f"{place} -> {error.filename2}"
    return (
        f"{place or 'a file'}: permission denied: this user may not read or write it, or not "
        "enter a folder on its way; change the permissions or choose another path"
    )


def corpus_options(required: bool) -> Callable[[F], F]:
    """The CORPUS argument and its ``--format`` option, the same on every command that reads one."""

    def decorate(function: F) -> F:
        function = click.option(
            "--format",
            "corpus_format",
            type=click.Choice(list(FORMATS)),
            help="Corpus format; guessed from the name when omitted (json: one JSON array, one "
            "message per element).",
        )(function)
        return click.argument(
            "corpus_path", metavar="CORPUS", required=required, type=click.Path(path_type=Path)
        )(function)

    return decorate


client_window_bits_option = click.option(
    "--client-window-bits",
    type=int,
    help="Window bits of client-to-server traffic (default: the same as --window-bits).",
)

fanout_option = click.option(
    "--fanout",
    type=click.IntRange(min=1),
    metavar="K",
    help="Each server message goes to K connections (a broadcast): states it when the corpus "
    "cannot tell (docs/broadcast.md) [default: the fan-out the corpus shows, if timed].",
)

client_option = click.option(
    "--client",
    "client_text",
    metavar="NAME|NAME=SHARE,...",
    help="The clients: chrome, firefox, safari, websockets or ws (wsztune stacks lists them), "
    "or a mix such as chrome=0.7,firefox=0.3 (also mixed:chrome=0.7,firefox=0.3). Their "
    "direction is compressed with their memLevel and level, and the server's decompressor "
    "gets the window they really use (Firefox: 15, whatever the server asks) [default: the "
    "client compresses like the server, at --client-window-bits].",
)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C raises KeyboardInterrupt so that it stops a run the same way:
    workers stopped, nothing truncated, ``--keep-partial`` honoured; only the exit code differs
    (143, 128 + SIGTERM, as container orchestrators and CI runners expect)."""


def interrupted_exit_code(error: BaseException | None = None) -> int:
    """130 after Ctrl-C, 143 after SIGTERM (``error``, or the last stop signal received)."""
    if isinstance(error, Terminated) or _stop_signal.get("name") == "SIGTERM":
        return TERMINATED_EXIT
    return INTERRUPTED_EXIT


_stop_signal: dict[str, str] = {}


@contextmanager
def first_interrupt_only() -> Iterator[None]:
    """Make the first Ctrl-C or SIGTERM stop the run and every further one wait for that stop.

    A second SIGINT arriving while the workers are being stopped, the partial run saved or the
    interpreter exiting (impatient users press twice) used to land in concurrent.futures' or
    threading's cleanup and print their tracebacks, or break a lock mid-release. Stopping takes
    well under a second, so nothing is lost by waiting. After an interrupt the process is on its
    way out and both signals stay ignored; otherwise the previous handlers come back (in-process
    callers such as tests keep theirs). Only in the main thread, the one place handlers can be set.

    SIGTERM (how orchestrators and CI runners stop a job) is handled as Ctrl-C: it raises
    :class:`Terminated`, a KeyboardInterrupt, and the exit code is 143.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_stop(signum: int, frame: object) -> None:
        import logging

        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _stop_signal["name"] = signal.Signals(signum).name
        # Outside wsztune.stopping.run, the exception lands in whatever runs now; under a bare
        # asyncio.run that can be a server's connection task, which asyncio then reports as
        # "Task exception was never retrieved" with a traceback. The stop is reported once, as
        # one line: the process is on its way out, so asyncio's log has nothing more to say.
        logging.getLogger("asyncio").disabled = True
        stop = Terminated if signum == signal.SIGTERM else KeyboardInterrupt
        # Under wsztune.stopping.run the loop raises the stop from a callback of its own (or
        # run() after the loop closed): raised here, it could land inside the loop's own
        # machinery. Looked up, not imported: a handler must not import (a command without
        # asyncio never loads it, and the signal may land inside another import).
        stopping = sys.modules.get("wsztune.stopping")
        if stopping is not None and stopping.request_stop(stop):
            return
        raise stop

    import os
    import sys

    previous_hook = sys.unraisablehook
    resent: list[int] = []

    def on_unraisable(unraisable: Any) -> None:
        # The handler's exception can land where Python swallows it (a weakref callback or a
        # __del__: "Exception ignored in ..."); the command then ran on, `live` past the 15 s a
        # stopped run may take (CI, twice). So the stop is sent again, once, from another
        # thread a moment later, to be raised in the code that runs then (raised here, it would
        # be swallowed again), and not printed: it is reported once, as one line.
        if not (_stop_signal and isinstance(unraisable.exc_value, KeyboardInterrupt)):
            previous_hook(unraisable)
            return
        if not resent and threading.current_thread() is threading.main_thread():
            resent.append(1)
            stop = getattr(signal, _stop_signal["name"])
            signal.signal(stop, on_stop)
            again = threading.Timer(0.05, os.kill, (os.getpid(), stop))
            again.daemon = True
            again.start()

    _stop_signal.clear()
    previous = {sig: signal.signal(sig, on_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    sys.unraisablehook = on_unraisable
    try:
        yield
        # Swallowed again, or in another thread: the signal was received, the exit says so
        # (issue 29's adversarial pass: `live` exited 0 after a SIGTERM).
        if _stop_signal:
            raise Terminated if _stop_signal["name"] == "SIGTERM" else KeyboardInterrupt
    finally:
        if sys.unraisablehook is on_unraisable:
            sys.unraisablehook = previous_hook
        for sig, handler in previous.items():
            if signal.getsignal(sig) is on_stop:
                signal.signal(sig, handler)


def refuse_overwriting_inputs(
    output: Path, inputs: Iterable[tuple[str, Path | None]], option: str = "-o"
) -> None:
    """Refuse an output file that is one of the command's inputs, before anything is read.

    ``inputs`` are (what it is, path) pairs; a path that names the same file through another
    spelling, a symbolic link or a hard link counts too (same device and inode). Writing there
    would replace the corpus or the saved run with what was made from it, with exit code 0
    (issue 29: ``run c.jsonl -o c.jsonl``, ``report --results keep.json -o keep.json``).
    Every command that writes a file calls this one check.
    """
    for what, path in inputs:
        if path is not None and same_file(output, path):
            raise click.UsageError(
                f"{output} is {what}: writing the output there would replace it; "
                f"choose another file with {option}"
            )


def same_file(first: Path, second: Path) -> bool:
    """Whether two paths name the same file: the same resolved path, or the same inode."""
    import os

    try:
        if first.resolve() == second.resolve():
            return True
        return os.path.samefile(first, second)
    except (OSError, RuntimeError):  # one does not exist (yet), or a symlink loop
        return False


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size if path.is_file() else 0
    except OSError:
        return 0


RESULTS_HELP = "Results file to read [default: the newest in --results-dir]."


def results_options(command: Any) -> Any:
    """``--results FILE`` and ``--results-dir DIR``, shared by every reading command."""
    command = click.option(
        "--results-dir",
        type=click.Path(path_type=Path),
        default=Path("results"),
        show_default=True,
        help="Where to look for the newest run.",
    )(command)
    return click.option(
        "--results", "results_path", type=click.Path(path_type=Path), help=RESULTS_HELP
    )(command)


SERVER_HELP = (
    "The stack the run is for, NAME or NAME@VERSION (wsztune stacks lists them): names its "
    "default, its settable cells and the row of no compression [default: the run's --server]."
)


@dataclass(frozen=True)
class Slicing:
    """The slice options of a reading command (:func:`slice_options`), as given (None: the
    default): which level/strategy/takeover/threshold slice, and ``--server``, the stack to
    read the run as."""

    level: int | None = None
    strategy: str | None = None
    takeover: str | None = None
    threshold: int | None = None
    server: str | None = None


def slice_options(command: Any) -> Any:
    """Which level/strategy/takeover/threshold slice of a run the grids show (if it has several),
    and ``--server``: the stack to read it as. The command receives them as one ``slicing``
    (:class:`Slicing`); their parameter names stay click's (``slice_level``, ``server_text``),
    which :func:`refuse_on_axes` asks about."""

    @functools.wraps(command)
    def packed(
        *args: Any,
        slice_level: int | None,
        slice_strategy: str | None,
        slice_takeover: str | None,
        slice_threshold: int | None,
        server_text: str | None,
        **kwargs: Any,
    ) -> Any:
        slicing = Slicing(slice_level, slice_strategy, slice_takeover, slice_threshold, server_text)
        return command(*args, slicing=slicing, **kwargs)

    wrapped: Any = packed
    wrapped = click.option("--server", "server_text", metavar="NAME[@VERSION]", help=SERVER_HELP)(
        wrapped
    )
    wrapped = click.option(
        "--threshold",
        "slice_threshold",
        type=click.IntRange(min=0),
        metavar="BYTES",
        help="Slice to show when the run swept several thresholds [default: the --server's, "
        "else the smallest].",
    )(wrapped)
    wrapped = click.option(
        "--context-takeover",
        "slice_takeover",
        type=click.Choice(["on", "off"]),
        help="Slice to show when the run swept both [default: on].",
    )(wrapped)
    wrapped = click.option(
        "--strategy", "slice_strategy", help="Slice to show [default: the run's first]."
    )(wrapped)
    return click.option(
        "--level", "slice_level", type=int, help="Slice to show [default: the run's first]."
    )(wrapped)


def budget_option(command: Any) -> Any:
    return click.option(
        "--max-memory",
        metavar="SIZE",
        help="Memory budget per connection, compressor + decompressor (recommend: resident "
        "unless --memory allocation): "
        "64KiB, 64KB, 1.5MiB, 65536B (a unit is required; a bare K or M is refused as ambiguous).",
    )(command)


def memory_figure_option(command: Any) -> Any:
    """``--memory resident|allocation``: the memory the budget is checked against."""
    return click.option(
        "--memory",
        "memory_figure",
        type=click.Choice(["resident", "allocation"]),
        default="resident",
        show_default=True,
        help="The memory the budget is checked against: resident (what the OS charges "
        "long-lived connections for the corpus's traffic) or allocation (the bound under "
        "churn, docs/memory.md).",
    )(command)


def savings_drop_option(command: Any) -> Any:
    """``--max-savings-drop POINTS``: the baseline gate's bound on the shipped setting's savings."""
    return click.option(
        "--max-savings-drop",
        type=click.FloatRange(min=0, max=100),
        default=2.0,
        show_default=True,
        metavar="POINTS",
        help="With --baseline: also fail when the shipped setting's savings fell by more than "
        "POINTS percentage points since the baseline (the traffic became less compressible), "
        "in 95% of the resamples.",
    )(command)


def metric_option(default: tuple[str, ...], what: str) -> Any:
    return click.option(
        "--metric",
        "metrics",
        type=click.Choice(list(METRICS)),
        multiple=True,
        help=f"{what}; repeat for several [default: {', '.join(default)}].",
    )


def load_run(
    results_path: Path | None, results_dir: Path | None = None, role: str = "", *, say: bool = True
) -> Any:
    """The run every reading command reads: ``--results`` if given, else the newest in
    ``--results-dir`` (never a committed example); named in one line on stderr (unless
    ``say`` is false: the caller names it with :func:`say_read` once everything loaded), so
    that no command decides on a run nobody saw it pick. ``role`` prefixes the line (``OLD``)."""
    from wsztune import results

    run = results.load_newest_or(results_path, str(results_dir or results.DEFAULT_RESULTS_DIR))
    if say:
        say_read(run, role)
    return run


def say_read(run: Any, role: str = "") -> None:
    """``wsztune: read [ROLE ]FILE: corpus ..., codec ..., stack ..., date, complete``."""
    from wsztune.results import provenance, provenance_line

    prefix = f"{role} " if role else ""
    click.echo(f"wsztune: read {prefix}{provenance_line(provenance(run))}", err=True)


def require_same_clients(old: Any, new: Any) -> None:
    """Refuse (exit 2) to compare two runs made for different clients (``run --client``), as
    ``recommend --baseline`` refuses such a baseline: their cells measured other frames (each
    client's own compressor) and other memory (the server's inflater for each client's window),
    so every difference would read as a change of traffic or library, what a comparison shows."""
    from wsztune.grid import client_mix, made_with

    ours, theirs = old.meta.get("client"), new.meta.get("client")
    if client_mix(ours) == client_mix(theirs):
        return
    raise WsztuneError(
        f"OLD {old.path} was made with {made_with('--client', ours)}, NEW {new.path} with "
        f"{made_with('--client', theirs)}: their cells measure different clients' frames and "
        "memory, so their differences are no change of traffic or library; compare runs made "
        "with the same --client"
    )


def select(run: Any, slicing: Slicing) -> Any:
    """The slice of ``run`` the options ask for, read as ``--server``'s (or the run's stack)."""
    from wsztune.report import select_slice

    takeover = None if slicing.takeover is None else slicing.takeover == "on"
    return select_slice(
        run, slicing.level, slicing.strategy, takeover, slicing.threshold, slicing.server
    )


def warn(lines: list[str]) -> None:
    """Each line as ``wsztune: warning: ...`` on stderr, control characters escaped."""
    from wsztune.console import terminal_text

    for line in lines:
        click.echo(f"wsztune: warning: {terminal_text(line)}", err=True)


def setting_arg(text: str | None, option: str) -> tuple[int, int] | None:
    from wsztune.errors import SettingError
    from wsztune.permessage_deflate import parse_setting

    if text is None:
        return None
    try:
        return parse_setting(text)
    except SettingError as error:
        raise click.BadParameter(str(error), param_hint=f"'{option}'") from None


def fraction_arg(text: str, option: str) -> float:
    """``1%`` or ``0.01`` for ``option``, as a fraction; a bad value is a usage error naming it."""
    from wsztune.sizes import parse_fraction

    try:
        return parse_fraction(text, option)
    except WsztuneError as error:
        raise click.UsageError(str(error)) from None


def size_arg(text: str | None) -> int | None:
    from wsztune.sizes import parse_size

    if text is None:
        return None
    try:
        return parse_size(text)
    except WsztuneError as error:
        raise click.BadParameter(
            str(error).removeprefix("--max-memory "), param_hint="'--max-memory'"
        ) from None


def highlight(
    slice_: Any, max_memory: int | None, reference: tuple[int, int], partial: bool = False
) -> tuple[Any, str]:
    """The recommendation the grids mark with a star, and the words that qualify it (``partial``:
    the run is, so the star is only a choice among the cells measured)."""
    from wsztune.recommend import Constraints, recommend
    from wsztune.text import format_bytes

    decision = recommend(slice_, Constraints(max_memory=max_memory, reference=reference))
    if decision.chosen is None:
        # No star: the legend says why rather than letting it vanish without a word.
        return decision, f"no cell fits {format_bytes(max_memory or 0)} per connection"
    # A star on a partial grid is a choice among the cells measured, not a decision: say so.
    missing = len(slice_.missing)
    gaps = f", among the measured cells only ({missing} missing)" if partial else ""
    if max_memory is None:
        return decision, f" with no memory budget (set one with --max-memory){gaps}"
    return decision, f" within {format_bytes(max_memory)} per connection{gaps}"


def fleet_options(command: Any) -> Any:
    """``--connections``, ``--messages-per-second`` and the three prices: the fleet's cost."""
    for name, help_text in reversed(
        (
            ("--price-memory", "Price of 1 GiB of RAM for a month [example default: 3.65]."),
            ("--price-egress", "Price of 1 GB sent [example default: 0.09]."),
            ("--price-cpu", "Price of one vCPU for a month [example default: 29.2]."),
        )
    ):
        command = click.option(
            name, type=click.FloatRange(min=0), metavar="PRICE", help=help_text
        )(command)
    command = click.option(
        "--messages-per-second",
        type=click.FloatRange(min=0, min_open=True),
        metavar="RATE",
        help="Messages per second over the fleet (default: from the corpus's timestamps, if any).",
    )(command)
    return click.option(
        "--connections", type=click.IntRange(min=1), metavar="N", help="Show the fleet's cost."
    )(command)


def prices(memory: float | None, egress: float | None, cpu: float | None) -> Any:
    """The prices given, the EXAMPLE defaults for the others (and whether any is an example)."""
    from wsztune.recommend import Prices

    example = Prices()
    return Prices(
        memory_gib_month=example.memory_gib_month if memory is None else memory,
        egress_gb=example.egress_gb if egress is None else egress,
        cpu_month=example.cpu_month if cpu is None else cpu,
        examples=None in (memory, egress, cpu),
    )


# The options that mean nothing on a Go run, and why: refused rather than ignored.
NOT_ON_AXES = {
    "reference_text": "--relative-to takes WB:ML, which a Go run does not have; its reference "
    "is the stack's default (gorilla: level 1)",
    "cliff": "--cliff looks one windowBits or memLevel step down, which a Go run does not have",
    "slice_level": "--level picks a slice of a windowBits x memLevel run; a Go run is decided "
    "over all its cells (name one with --check level=N)",
    "slice_strategy": "--strategy does not exist in Go's flate",
    "slice_takeover": "--context-takeover picks a slice of a windowBits x memLevel run; a Go "
    "run is decided over all its cells (name one with --check takeover=on|off)",
    "slice_threshold": "--threshold picks a slice of a windowBits x memLevel run; a Go run is "
    "decided over all its cells (name one with --check threshold=N)",
}


def refuse_on_axes(
    run: Any, more: dict[str, str] | None = None, which: str = "this Go run"
) -> None:
    """Exit 2, one line, for an option given on a Go run that does not apply to it (those of
    :data:`NOT_ON_AXES`, and the command's own ``more``: parameter -> why), or a ``--server``
    other than the run's own; ``which`` says which run (``OLD FILE`` where there are two)."""
    from click.core import ParameterSource

    context = click.get_current_context()
    for name, why in {**NOT_ON_AXES, **(more or {})}.items():
        if context.get_parameter_source(name) not in (ParameterSource.DEFAULT, None):
            raise click.UsageError(f"{why}: drop it")
    server = context.params.get("server_text")
    if server is not None and server.split("@")[0] != run.meta.get("server"):
        raise click.UsageError(
            f"--server {server}: {which} was measured for "
            f"{run.meta.get('server') or 'no stack'} with its own library's bytes; a Go run "
            "cannot be read as another stack's: drop --server"
        )
