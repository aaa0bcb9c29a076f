"""``wsztune run``: sweep the settings over a corpus with the real codec and save the results."""

from __future__ import annotations

import functools
import sys
import time
from dataclasses import replace
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
    "memLevel grid's compressors from one row and one column of probes (slower; checks the "
    "derivation).",
)
@click.option("--repeat", type=int, default=5, show_default=True, help="Timed samples per cell.")
@click.option("--warmup", type=int, default=1, show_default=True, help="Warm-up passes per cell.")
@click.option(
    "--min-sample-time",
    type=float,
    default=0.02,
    show_default=True,
    help="Seconds a timed sample lasts at least (the corpus is repeated inside it).",
)
@click.option("--jobs", "-j", type=int, help="Worker processes [default: all cores].")
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of cell order, sampling."
)
@click.option("--sample", type=int, help="Keep N whole connections, chosen at random (seeded).")
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
def run(
    corpus_path: Path | None,
    corpus_format: str | None,
    window_bits: str,
    mem_level: str,
    level: str,
    strategy: str,
    context_takeover: str,
    no_context_takeover: bool,
    client_window_bits: int | None,
    client_text: str | None,
    server_name: str | None,
    codec: str | None,
    threshold_text: str | None,
    no_timing: bool,
    no_cache: bool,
    probe_every_cell: bool,
    repeat: int,
    warmup: int,
    min_sample_time: float,
    jobs: int | None,
    seed: int,
    sample: int | None,
    output: Path | None,
    results_dir: Path,
    keep_partial: bool,
    fanout: int | None,
    quiet: bool,
    verbose: bool,
) -> None:
    """Sweep the settings over CORPUS with the real codec and save the results.

    CORPUS is a .jsonl file (one message per line), a .txt file (one text message per line),
    a records .jsonl (connections and directions), a .har capture or a directory (one message
    per file). Without CORPUS, the bundled demo corpus is used.
    """
    from wsztune import codecs, results, stacks, sweep
    from wsztune import corpus as corpus_module
    from wsztune.console import progress_bar, progress_enabled, stderr_console, terminal_text

    # Validate every option before reading anything, so a typo costs nothing.
    stack, version = stacks.resolve(server_name) if server_name else (None, None)
    stack_codec = stack.codec_for(version) if stack else None
    if stack is not None and codec is not None and codec not in (
        stack_codec,
        str(stack_codec).split("-")[0],  # --codec go for a Go stack's go-gorilla/go-coder
    ):
        raise click.UsageError(
            f"--server {stack.name} is measured with --codec {stack_codec}, not {codec}: "
            "drop --codec (or --server)"
        )
    codec = (stack_codec if codec == "go" and stack else codec) or stack_codec or "zlib"
    if codec == "go":
        codec = "go-gorilla"  # --codec go alone: gorilla's bytes
    clients = stacks.resolve_clients(client_text) if client_text else []
    if threshold_text is None:
        thresholds: tuple[int, ...] = (stack.threshold if stack else 0,)
    else:
        thresholds = sweep.parse_thresholds(threshold_text)
    takeover_choice = "off" if no_context_takeover else context_takeover
    if codec.startswith("go-"):
        grid = _go_grid(click.get_current_context(), codec, level, takeover_choice, thresholds)
        if len(clients) > 1:
            raise click.UsageError(
                "--client: a mix of clients is not supported on a Go run yet (its cells are "
                "filed on Go's axes, which the mix does not match): name one client"
            )
        if clients:
            # Browsers decompress the Go server's frames and compress their own with zlib: the
            # client direction is measured with zlib at the client's settings (codecs/go.py).
            grid = replace(
                grid,
                clients=tuple(sweep.ClientVariant.of(client, share) for client, share in clients),
            )
    else:
        axes = {
            "window_bits": sweep.parse_int_range(window_bits, "--window-bits", range(8, 16)),
            "mem_levels": sweep.parse_int_range(mem_level, "--mem-level", range(1, 10)),
            "levels": sweep.parse_int_range(level, "--level", range(-1, 10)),
            "strategies": _parse_strategies(strategy),
            "context_takeover": _takeover_axis(takeover_choice),
            "client_window_bits": client_window_bits,
            "thresholds": thresholds,
        }
        if stack is not None:
            axes = _stack_axes(stack, version, axes)
        grid = sweep.Grid(
            **axes,
            threshold_rule=stack.threshold_rule if stack else "always",
            clients=tuple(sweep.ClientVariant.of(client, share) for client, share in clients),
        )
    settings = grid.settings()  # validates every combination
    plan = sweep.TimingPlan(
        repeat=repeat,
        warmup=warmup,
        min_sample_seconds=min_sample_time,
        measure_time=not no_timing,
        use_cache=not no_cache,
        derive_memory=not probe_every_cell,
    )
    jobs = sweep.default_jobs() if jobs is None else jobs
    if jobs < 1:
        raise click.BadParameter(f"must be at least 1, not {jobs}", param_hint="'--jobs'")
    if sample is not None and sample < 1:
        raise click.BadParameter(f"must be at least 1, not {sample}", param_hint="'--sample'")
    codecs.get_codec(codec).check()  # missing or broken: one line, exit 2, before any work

    @functools.cache
    def err() -> Any:  # rich is imported only when there is something to say
        return stderr_console()

    if stack is not None and stack.threshold_rule == "ws" and any(thresholds) and (
        True in grid.context_takeover
    ):
        err().print(
            f"[yellow]note:[/] {stack.title} applies its threshold only without context "
            "takeover (ws's Sender compresses every message otherwise): context-takeover cells "
            "are measured at threshold 0"
        )
    for note in stacks.client_notes(clients, codec):
        err().print(f"[yellow]note:[/] {note}")
    if any(bits == 8 for bits in (*grid.window_bits, client_window_bits)):
        err().print("[yellow]warning:[/] windowBits 8 is accepted, but zlib compresses it as 9")

    if corpus_path is None:
        corpus_path = corpus_module.demo_corpus_path()
        if not quiet:
            err().print(f"No corpus given: using the bundled demo corpus {corpus_path.name}")

    # The results place is known from the corpus path alone: check it before reading the corpus,
    # so that a read-only results/ costs no loading time.
    started = results.utc_now()
    target = output or results.default_path(
        results_dir, corpus_module.corpus_name(corpus_path), started
    )
    refuse_overwriting_inputs(target, [("the corpus", corpus_path)])
    results.check_writable(target)

    show_progress = progress_enabled(quiet)
    clock = time.perf_counter()
    with progress_bar(file_size(corpus_path), "loading", show_progress) as advance:
        corpus = corpus_module.load(
            corpus_path, corpus_format, progress=lambda done, total: advance(done)
        )
    found_fanout = None
    if sample is not None:
        from wsztune.fanout import detect_fanout

        # Broadcasts as the whole corpus shows them: a sample keeps only some of each one's
        # subscribers.
        found_fanout = detect_fanout(corpus) if fanout is None else None
        available = len(corpus.connections)
        corpus = corpus_module.sample_connections(corpus, sample, seed)
        if sample >= available > 1:
            err().print(
                f"[yellow]warning:[/] --sample {sample}: the corpus has {available} "
                "connections; all are kept"
            )

    loaded_at = time.perf_counter()
    with progress_bar(len(settings), "sweeping", show_progress) as advance:
        try:
            run_result = sweep.sweep(
                corpus,
                grid,
                backend_name=codec,
                plan=plan,
                jobs=jobs,
                seed=seed,
                on_cell=lambda cell, done, total: advance(done),
                server=stack.name if stack else None,
                fanout=fanout,
                found_fanout=found_fanout,
            )
        except sweep.SweepInterrupted as interrupted:
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
            sys.exit(interrupted_exit_code())

    if stack is not None:
        # What the run was made for, so that every reading command names the stack's default.
        run_result.meta["server_version"] = version
        run_result.meta["stack"] = {
            "name": stack.name,
            "title": stack.title,
            "version": version,
            "default": stack.defaults_for(version).label,
            "codec": codec,
            "status": stack.status,
        }
    swept_at = time.perf_counter()
    path = _save_or_rescue(run_result, target)
    if verbose:
        _print_times(loaded_at - clock, swept_at - loaded_at, time.perf_counter() - swept_at)
    # -o /dev/stdout (or a FIFO): the JSON is all that stdout carries, so it stays parseable
    streamed = results.writes_through(path)
    if not quiet and not streamed:
        from wsztune.report import print_run_summary

        print_run_summary(run_result)
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


# The run options behind each axis a stack may fix, and the axis names of sweep_axes.
_AXIS_PARAMETERS = {
    "window_bits": ("window_bits", "window_bits"),
    "mem_level": ("mem_level", "mem_levels"),
    "level": ("level", "levels"),
    "strategy": ("strategy", "strategies"),
    "context_takeover": ("context_takeover", "context_takeover"),
    "client_window_bits": ("client_window_bits", "client_window_bits"),
    "threshold": ("threshold_text", "thresholds"),
}


def _stack_axes(stack: Any, version: str | None, parsed: dict[str, Any]) -> dict[str, Any]:
    """The grid axes for ``--server``: the stack's knobs, and the values the user typed (an
    option left at its default is the stack's to choose)."""
    from click.core import ParameterSource

    from wsztune.stacks._grid import sweep_axes

    context = click.get_current_context()

    def typed(parameter: str) -> bool:
        source = context.get_parameter_source(parameter)
        return source not in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)

    explicit: dict[str, tuple[Any, ...]] = {}
    for axis, (parameter, key) in _AXIS_PARAMETERS.items():
        if typed(parameter) or (axis == "context_takeover" and typed("no_context_takeover")):
            value = parsed[key]
            explicit[axis] = value if isinstance(value, tuple) else (value,)
    return sweep_axes(stack, version, explicit)


def _save_or_rescue(run_result: Any, target: Path) -> Path:
    """Save the run to ``target``; if that fails now (disk full, directory gone), keep it anyway.

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
    from wsztune.codec import STRATEGIES
    from wsztune.errors import SettingError

    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [name for name in names if name not in STRATEGIES]
    if unknown or not names:
        raise SettingError(
            f"--strategy takes {', '.join(STRATEGIES)} (comma-separated), not {text!r}"
        )
    return names


def _takeover_axis(choice: str) -> tuple[bool, ...]:
    return {"on": (True,), "off": (False,), "both": (True, False)}[choice]


def _go_grid(
    context: click.Context,
    codec: str,
    level: str,
    takeover: str,
    thresholds: tuple[int, ...],
) -> Any:
    """The grid of a Go library's real axes: level (gorilla: -2 to 9, all of them unless
    --level says otherwise), takeover mode (coder: both unless told), threshold. Go's flate has
    no windowBits and no memLevel: asking for them is an error, not silently ignored."""
    from click.core import ParameterSource

    from wsztune import sweep

    for name, option in (
        ("window_bits", "--window-bits"),
        ("mem_level", "--mem-level"),
        ("strategy", "--strategy"),
        ("client_window_bits", "--client-window-bits"),
    ):
        if context.get_parameter_source(name) not in (None, ParameterSource.DEFAULT):
            raise click.UsageError(
                f"{option} does not exist in Go's flate ({codec}): its window is always 32 KiB "
                "and it has no memLevel or strategy; sweep --level, --context-takeover and "
                "--threshold"
            )
    level_given = context.get_parameter_source("level") not in (None, ParameterSource.DEFAULT)
    takeover_given = context.get_parameter_source("context_takeover") not in (
        None,
        ParameterSource.DEFAULT,
    ) or bool(context.params.get("no_context_takeover"))
    if codec == "go-nats":
        # nats-server fixes everything: BestSpeed, no context takeover, its 64-byte threshold.
        if level_given or takeover_given:
            raise click.UsageError(
                "nats-server has no level or takeover setting (BestSpeed, no context takeover): "
                "drop --level and --context-takeover"
            )
        levels: tuple[int, ...] = (1,)
        modes: tuple[bool, ...] = (False,)
    elif codec == "go-gorilla":
        levels = (
            sweep.parse_int_range(level, "--level", range(-2, 10))
            if level_given
            else tuple(range(-2, 10))
        )
        if takeover_given and takeover != "off":
            raise click.UsageError(
                "gorilla compresses without context takeover only: drop --context-takeover"
            )
        modes = (False,)
    else:
        if level_given:
            raise click.UsageError("coder 1.8.7 has no compression level: drop --level")
        levels = (-1,)
        modes = _takeover_axis(takeover if takeover_given else "both")
    # One (window, memLevel) pair stands for Go's fixed ones; the cells record 15 and none.
    return sweep.Grid(
        window_bits=(15,),
        mem_levels=(8,),
        levels=levels,
        context_takeover=modes,
        thresholds=thresholds,
    )
