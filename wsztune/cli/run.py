"""``wsztune run``: sweep the settings over a corpus with the real codec and save the results."""

from __future__ import annotations

import functools
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from wsztune.cli.common import (
    client_option,
    client_window_bits_option,
    corpus_options,
    error_line,
    fanout_option,
    file_size,
    first_interrupt_only,
    interrupted_exit_code,
    refuse_overwriting_inputs,
)


@click.command()
@corpus_options(required=False)
@click.option("--window-bits", default="9-15", show_default=True, help="Range or list, e.g. 9-15.")
@click.option("--mem-level", default="1-9", show_default=True, help="Range or list, e.g. 1-9.")
@click.option(
    "--level", default="-1", show_default=True, help="zlib level(s); -1 is zlib's default."
)
@click.option(
    "--strategy",
    default="default",
    show_default=True,
    help="zlib strategies, comma-separated: default, filtered, huffman, rle, fixed.",
)
@click.option(
    "--context-takeover",
    type=click.Choice(["on", "off", "both"]),
    default="on",
    show_default=True,
    help="Keep one compressor per stream (on), a fresh one per message (off), or sweep both.",
)
@click.option("--no-context-takeover", is_flag=True, help="Same as --context-takeover off.")
@client_window_bits_option
@client_option
@click.option(
    "--server",
    "server_name",
    metavar="NAME[@VERSION]",
    help="The server stack to tune (wsztune stacks lists them; uvicorn@0.49 for a version): "
    "sweeps only what that stack can change, fixes the rest at its values, and picks its codec "
    "and threshold rule.",
)
@click.option(
    "--codec",
    type=click.Choice(["zlib", "zlib-ng", "node", "go", "jzlib", "netty", "bun"]),
    help="Compression library: CPython's zlib, zlib-ng, Node's own zlib called as ws "
    "calls it (needs node), Go's as gorilla (default) or coder call it (needs go; "
    "pick the library with --server), JZlib as Netty calls it, Netty's own choice per cell "
    "(zlib at 15:8, JZlib elsewhere; both need a JDK and libjzlib-java), or Bun's as "
    "Bun.serve calls it (bun from npm) [default: the --server's, else zlib].",
)
@click.option(
    "--threshold",
    "threshold_text",
    metavar="N[,N...]",
    help="Bytes: a message shorter than N goes out uncompressed and never reaches the "
    "compressor (ws's threshold) [default: the --server's, else 0].",
)
@click.option(
    "--no-timing",
    is_flag=True,
    help="Sizes (round trip checked) and memory only, one pass per cell: for CI. Times are "
    "recorded as not measured.",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Measure memory afresh: node's memory probes are otherwise read back from earlier "
    "runs with the same node, setting and traffic shape (kept under $WSZTUNE_CACHE).",
)
@click.option(
    "--probe-every-cell",
    is_flag=True,
    help="Give every cell its own node memory probe, instead of deriving a windowBits x "
    "memLevel grid's compressors from one row of probes and three windows of one column "
    "(slower; checks the "
    "derivation).",
)
@click.option("--repeat", type=int, default=5, show_default=True, help="Timed samples per cell.")
@click.option("--warmup", type=int, default=1, show_default=True, help="Warm-up passes per cell.")
@click.option(
    "--min-sample-time",
    type=float,
    default=0.02,
    show_default=True,
    help="Seconds a timed sample lasts, about (the corpus is repeated inside it the whole "
    "number of times nearest this).",
)
@click.option("--jobs", "-j", type=int, help="Worker processes [default: all cores].")
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of cell order, sampling."
)
@click.option("--sample", type=int, help="Keep N whole connections, chosen at random (seeded).")
@click.option(
    "--messages-per-connection",
    type=int,
    help="A JSONL or lines corpus is one connection; cut it into connections of N messages "
    "each (each its own compressor; the resident memory is their mean).",
)
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Results file to write.")
@click.option(
    "--results-dir",
    type=click.Path(path_type=Path),
    default=Path("results"),
    show_default=True,
    help="Where results files go when --output is not given.",
)
@click.option(
    "--keep-partial",
    is_flag=True,
    help="On Ctrl-C or SIGTERM, save the finished cells (marked partial).",
)
@fanout_option
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Say where the time went (loading, sweeping; with node: versions, memory probes, "
    "timing passes), on stderr.",
)
@first_interrupt_only()
def run(**options: Any) -> None:
    """Sweep the settings over CORPUS with the real codec and save the results.

    CORPUS is a .jsonl file (one message per line), a .txt file (one text message per line),
    a records .jsonl (connections and directions), a .har capture or a directory (one message
    per file). Without CORPUS, the bundled demo corpus is used.
    """
    given = RunOptions(**options)
    # Validate every option before reading anything, so a typo costs nothing.
    choice = _choose(given)
    _print_notes(given, choice)
    corpus_path = given.corpus_path or _demo_corpus(given.quiet)
    target = _results_target(given, corpus_path)
    clock = time.perf_counter()
    corpus, found_fanout = _load(given, corpus_path)
    loaded_at = time.perf_counter()
    run_result = _sweep(given, choice, corpus, found_fanout, target)
    if choice.stack is not None:
        _record_stack(run_result.meta, choice)
    swept_at = time.perf_counter()
    path = _save_or_rescue(run_result, target)
    if given.verbose:
        _print_times(loaded_at - clock, swept_at - loaded_at, time.perf_counter() - swept_at)
    _print_outcome(run_result, path, given.quiet)


@dataclass(frozen=True)
class RunOptions:
    """``wsztune run``'s options as click parsed them (one field per option)."""

    corpus_path: Path | None
    corpus_format: str | None
    window_bits: str
    mem_level: str
    level: str
    strategy: str
    context_takeover: str
    no_context_takeover: bool
    client_window_bits: int | None
    client_text: str | None
    server_name: str | None
    codec: str | None
    threshold_text: str | None
    no_timing: bool
    no_cache: bool
    probe_every_cell: bool
    repeat: int
    warmup: int
    min_sample_time: float
    jobs: int | None
    seed: int
    sample: int | None
    messages_per_connection: int | None
    output: Path | None
    results_dir: Path
    keep_partial: bool
    fanout: int | None
    quiet: bool
    verbose: bool

    @property
    def takeover_choice(self) -> str:
        """``--context-takeover``, with ``--no-context-takeover`` meaning off."""
        return "off" if self.no_context_takeover else self.context_takeover


@dataclass(frozen=True)
class RunChoice:
    """What a run measures, every option checked: the stack, the codec and what to sweep."""

    stack: Any  # a wsztune.stacks.profile.Stack, or None
    version: str | None
    codec: str
    clients: list[tuple[Any, float]]
    thresholds: tuple[int, ...]
    grid: Any  # a wsztune.sweep.SweepPlan
    cells: int  # settings to measure
    timing: Any  # a wsztune.sweep.TimingPlan
    jobs: int


def _choose(given: RunOptions) -> RunChoice:
    """Every option checked and turned into what to measure, before anything is read."""
    from wsztune import codecs, stacks, sweep

    stack, version = stacks.resolve(given.server_name) if given.server_name else (None, None)
    stack_codec = stack.codec_for(version) if stack else None
    codec = codecs.choose(given.codec, stack_codec)
    if codec is None:
        raise click.UsageError(
            f"--server {stack.name} is measured with --codec {stack_codec}, not {given.codec}: "
            "drop --codec (or --server)"
        )
    clients = stacks.resolve_clients(given.client_text) if given.client_text else []
    if given.threshold_text is None:
        thresholds: tuple[int, ...] = (stack.threshold if stack else 0,)
    else:
        thresholds = sweep.parse_thresholds(given.threshold_text)
    variants = tuple(sweep.ClientVariant.of(client, share) for client, share in clients)
    if codec in codecs.FAMILIES["go"]:
        grid = _go_grid(given, codec, thresholds, variants)
    else:
        grid = _zlib_grid(given, stack, version, thresholds, variants)
    cells = len(grid.settings())  # validates every combination
    jobs = sweep.default_jobs() if given.jobs is None else given.jobs
    if jobs < 1:
        raise click.BadParameter(f"must be at least 1, not {jobs}", param_hint="'--jobs'")
    if given.sample is not None and given.sample < 1:
        raise click.BadParameter(
            f"must be at least 1, not {given.sample}", param_hint="'--sample'"
        )
    codecs.get_codec(codec).check()  # missing or broken: one line, exit 2, before any work
    timing = _timing(given, stack.read_buffer if stack else 0)
    return RunChoice(stack, version, codec, clients, thresholds, grid, cells, timing, jobs)


def _timing(given: RunOptions, read_buffer: int = 0) -> Any:
    """The timing plan of ``--repeat``, ``--warmup`` and the measuring switches, with the
    ``--server`` stack's read buffer for the resident model."""
    from wsztune import sweep

    return sweep.TimingPlan(
        repeat=given.repeat,
        warmup=given.warmup,
        min_sample_seconds=given.min_sample_time,
        measure_time=not given.no_timing,
        use_cache=not given.no_cache,
        derive_memory=not given.probe_every_cell,
        read_buffer=read_buffer,
    )


@functools.cache
def _err() -> Any:
    """The stderr console (rich is imported only when there is something to say)."""
    from wsztune.console import stderr_console

    return stderr_console()


def _print_notes(given: RunOptions, choice: RunChoice) -> None:
    """What the user should know before the sweep: the stack's threshold rule, the clients."""
    from wsztune import stacks
    from wsztune.results import THRESHOLD_WITHOUT_TAKEOVER

    stack, grid = choice.stack, choice.grid
    rule = stack.threshold_rule if stack is not None else None
    if rule == THRESHOLD_WITHOUT_TAKEOVER and any(choice.thresholds) and (
        True in grid.context_takeover
    ):
        _err().print(
            f"[yellow]note:[/] {stack.title} applies its threshold only without context "
            "takeover (ws's Sender compresses every message otherwise): context-takeover cells "
            "are measured at threshold 0"
        )
    for note in stacks.client_notes(choice.clients, choice.codec):
        _err().print(f"[yellow]note:[/] {note}")
    if any(bits == 8 for bits in (*grid.window_bits, given.client_window_bits)):
        _err().print("[yellow]warning:[/] windowBits 8 is accepted, but zlib compresses it as 9")


def _demo_corpus(quiet: bool) -> Path:
    """The bundled demo corpus, said so unless ``--quiet``."""
    from wsztune import corpus as corpus_module

    path = corpus_module.demo_corpus_path()
    if not quiet:
        _err().print(f"No corpus given: using the bundled demo corpus {path.name}")
    return path


def _results_target(given: RunOptions, corpus_path: Path) -> Path:
    """Where the results go, checked writable.

    The place is known from the corpus path alone: it is checked before reading the corpus, so
    that a read-only results/ costs no loading time.
    """
    from wsztune import results
    from wsztune.corpus import corpus_name

    started = results.utc_now()
    target = given.output or results.default_path(
        given.results_dir, corpus_name(corpus_path), started
    )
    refuse_overwriting_inputs(target, [("the corpus", corpus_path)])
    results.check_writable(target)
    return target


def _load(given: RunOptions, corpus_path: Path) -> tuple[Any, Any]:
    """The corpus (sampled with ``--sample``), and its fan-out when a sample hides it."""
    from wsztune import corpus as corpus_module
    from wsztune.console import progress_bar, progress_enabled

    with progress_bar(file_size(corpus_path), "loading", progress_enabled(given.quiet)) as advance:
        corpus = corpus_module.load(
            corpus_path, given.corpus_format, progress=lambda done, total: advance(done)
        )
    if given.messages_per_connection is not None:
        corpus = corpus_module.split_connections(corpus, given.messages_per_connection)
    found_fanout = None
    if given.sample is not None:
        from wsztune.fanout import detect_fanout

        # Broadcasts as the whole corpus shows them: a sample keeps only some of each one's
        # subscribers.
        found_fanout = detect_fanout(corpus) if given.fanout is None else None
        available = len(corpus.connections)
        corpus = corpus_module.sample_connections(corpus, given.sample, given.seed)
        if given.sample >= available > 1:
            _err().print(
                f"[yellow]warning:[/] --sample {given.sample}: the corpus has {available} "
                "connections; all are kept"
            )
    return corpus, found_fanout


def _sweep(
    given: RunOptions, choice: RunChoice, corpus: Any, found_fanout: Any, target: Path
) -> Any:
    """The sweep with a progress bar; on interruption, what was kept and the exit."""
    from wsztune import sweep
    from wsztune.console import progress_bar, progress_enabled

    with progress_bar(choice.cells, "sweeping", progress_enabled(given.quiet)) as advance:
        try:
            return sweep.sweep(
                corpus,
                choice.grid,
                codec_name=choice.codec,
                plan=choice.timing,
                jobs=choice.jobs,
                seed=given.seed,
                on_cell=lambda cell, done, total: advance(done),
                server=choice.stack.name if choice.stack else None,
                fanout=given.fanout,
                found_fanout=found_fanout,
            )
        except sweep.SweepInterrupted as interrupted:
            _report_interruption(interrupted, given.keep_partial, target)
            sys.exit(interrupted_exit_code())


def _report_interruption(interrupted: Any, keep_partial: bool, target: Path) -> None:
    """Ctrl-C or SIGTERM: the finished cells saved with ``--keep-partial``, and one line."""
    if keep_partial and interrupted.run is not None and interrupted.cells:
        path = _save_or_rescue(interrupted.run, target)
        error_line(
            f"interrupted: kept {len(interrupted.cells)} of {interrupted.total} cells "
            f"in {path} (marked partial)"
        )
    elif keep_partial:
        error_line(
            f"interrupted before any of {interrupted.total} cells finished; nothing written"
        )
    else:
        error_line(
            f"interrupted after {len(interrupted.cells)} of {interrupted.total} cells; "
            "nothing written (--keep-partial keeps finished cells)"
        )


def _record_stack(meta: dict[str, Any], choice: RunChoice) -> None:
    """What the run was made for, so that every reading command names the stack's default."""
    from wsztune import results

    stack, version = choice.stack, choice.version
    stack_meta = {
        "name": stack.name,
        "title": stack.title,
        "version": version,
        "default": stack.defaults_for(version).label,
        "codec": choice.codec,
        "status": stack.status,
    }
    results.set_meta(meta, results.RUN_COMMAND, {"server_version": version, "stack": stack_meta})


def _print_outcome(run_result: Any, path: Path, quiet: bool) -> None:
    """The summary (unless ``--quiet``) and where the results went."""
    from wsztune import results
    from wsztune.console import terminal_text

    # -o /dev/stdout (or a FIFO): the JSON is all that stdout carries, so it stays parseable
    streamed = results.writes_through(path)
    if not quiet and not streamed:
        from wsztune.console import stdout_console
        from wsztune.report import run_summary

        stdout_console().print(run_summary(run_result))
    click.echo(f"results: {terminal_text(path)}", err=streamed)


def _print_times(loading: float, sweeping: float, saving: float) -> None:
    """``--verbose``: where the time went, on stderr; node's own phases when it ran."""
    from wsztune.programs.node import PHASES

    node = "".join(f", {name} {seconds:.2f} s" for name, seconds in PHASES.items())
    click.echo(
        f"wsztune: time: loading {loading:.2f} s, sweeping {sweeping:.2f} s"
        + (f" (of which{node[1:]})" if node else "")
        + f", saving {saving:.2f} s",
        err=True,
    )


# The click parameter of an axis's option, where it is not the axis's own name.
_PARAMETERS = {"threshold": "threshold_text"}


def _typed(parameter: str) -> bool:
    """Whether the user typed the option ``parameter`` (not left at its default)."""
    from click.core import ParameterSource

    source = click.get_current_context().get_parameter_source(parameter)
    return source not in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)


def _typed_axes() -> set[str]:
    """The axes whose option the user typed."""
    from wsztune.axes import AXES

    return {
        axis
        for axis in AXES
        if _typed(_PARAMETERS.get(axis, axis))
        or (axis == "context_takeover" and _typed("no_context_takeover"))
    }


def _zlib_grid(
    given: RunOptions,
    stack: Any,
    version: str | None,
    thresholds: tuple[int, ...],
    clients: tuple[Any, ...],
) -> Any:
    """The grid of a zlib-like codec: windowBits x memLevel x the rest, cut to ``stack``'s
    knobs with ``--server`` (an option left at its default is the stack's to choose)."""
    from wsztune import sweep
    from wsztune.axes import AXES
    from wsztune.results import THRESHOLD_ALWAYS

    axes = {
        "window_bits": sweep.parse_int_range(given.window_bits, "--window-bits", range(8, 16)),
        "mem_levels": sweep.parse_int_range(given.mem_level, "--mem-level", range(1, 10)),
        "levels": sweep.parse_int_range(given.level, "--level", range(-1, 10)),
        "strategies": _parse_strategies(given.strategy),
        "context_takeover": _takeover_axis(given.takeover_choice),
        "client_window_bits": given.client_window_bits,
        "thresholds": thresholds,
    }
    if stack is not None:
        from wsztune.stacks._grid import sweep_axes

        explicit = {}
        for axis in _typed_axes():
            value = axes[AXES[axis].swept]
            explicit[axis] = value if isinstance(value, tuple) else (value,)
        axes = sweep_axes(stack, version, explicit)
    return sweep.SweepPlan(
        **axes,
        threshold_rule=stack.threshold_rule if stack else THRESHOLD_ALWAYS,
        clients=clients,
    )


def _go_grid(
    given: RunOptions, codec: str, thresholds: tuple[int, ...], clients: tuple[Any, ...]
) -> Any:
    """The grid of a Go codec: the axes of the library whose framing it reproduces (Go's flate
    has no windowBits and no memLevel: asking for them is an error, not silently ignored)."""
    from wsztune import stacks, sweep
    from wsztune.errors import WsztuneError
    from wsztune.stacks._go import LIBRARY_STACKS, library_axes

    for option, given_it in (("--no-cache", given.no_cache),
                             ("--probe-every-cell", given.probe_every_cell)):  # fmt: skip
        if given_it:
            raise click.UsageError(
                f"{option} is about node's memory probes; a Go run measures its memory in "
                "fresh Go processes every time: drop it"
            )
    typed: dict[str, Any] = dict.fromkeys(_typed_axes() - {"threshold"})
    if "context_takeover" in typed:
        typed["context_takeover"] = _takeover_axis(given.takeover_choice)
    try:
        axes = library_axes(
            stacks.stack(LIBRARY_STACKS[codec]),
            codec,
            typed,
            lambda allowed: sweep.parse_int_range(given.level, "--level", allowed),
        )
    except WsztuneError as error:
        raise click.UsageError(str(error)) from None
    # Browsers decompress the Go server's frames and compress their own with zlib: the client
    # direction is measured with zlib at the client's settings (codecs/go.py), a mix of them
    # as for a zlib run (sweep.mix_cells).
    return sweep.SweepPlan(**axes, thresholds=thresholds, clients=clients)


def _save_or_rescue(run_result: Any, target: Path) -> Path:
    """Save the run to ``target``; if that fails now (disk full, directory gone), keep it anyway.
    A run the readers would refuse (a bug) is kept, unchecked, in the temporary directory.

    ``check_writable`` passed before the sweep, so a failure here comes after minutes of work:
    the run is written to the temporary directory instead and the error says where.
    """
    import tempfile

    from wsztune import results
    from wsztune.errors import ResultsError

    try:
        return results.save(run_result, target)
    except OSError as error:
        reason = error.strerror or str(error)
    except results.UnreadableRun as error:
        # A bug in wsztune, not the user's: raised as one (a traceback), with the run kept.
        kept = Path(tempfile.gettempdir()) / f"wsztune-unreadable-{target.name}"
        results.save(run_result, kept, validate=False)
        raise results.UnreadableRun(f"{error}; kept, unchecked, in {kept}") from None
    rescue = Path(tempfile.gettempdir()) / f"wsztune-rescued-{target.name}"
    try:
        kept = results.save(run_result, rescue)
    except OSError:
        raise ResultsError(
            f"{target}: cannot write the results ({reason}), nor to {rescue.parent}; "
            "free some space or choose another place with --output"
        ) from None
    raise ResultsError(
        f"{target}: cannot write the results ({reason}); they were saved to {kept} instead"
    )


def _parse_strategies(text: str) -> tuple[str, ...]:
    from wsztune.errors import SettingError
    from wsztune.permessage_deflate import STRATEGIES

    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [name for name in names if name not in STRATEGIES]
    if unknown or not names:
        raise SettingError(
            f"--strategy takes {', '.join(STRATEGIES)} (comma-separated), not {text!r}"
        )
    return names


def _takeover_axis(choice: str) -> tuple[bool, ...]:
    return {"on": (True,), "off": (False,), "both": (True, False)}[choice]
