"""The ``wsztune`` command line: parse, call the modules, render, map errors to exit codes.

Only click is imported at start-up; every command imports what it needs when it runs, so that
``wsztune --help`` stays instant.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from wsztune import __version__
from wsztune.errors import EXIT_USAGE, WsztuneError

# report imports only the standard library and wsztune.results at module level (rich, pandas
# and matplotlib when a function runs): cheap enough to hold the one list of metric names.
from wsztune.report import DEFAULT_METRICS, METRICS

F = TypeVar("F", bound=Callable[..., Any])

INTERRUPTED_EXIT = 130


def _error_line(message: str) -> None:
    click.echo(f"wsztune: error: {message}", err=True)


def corpus_options(required: bool) -> Callable[[F], F]:
    """The CORPUS argument and its ``--format`` option, the same on every command that reads one."""

    def decorate(function: F) -> F:
        function = click.option(
            "--format",
            "corpus_format",
            type=click.Choice(["jsonl", "lines", "records", "dir", "har"]),
            help="Corpus format; guessed from the name when omitted.",
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


class WsztuneGroup(click.Group):
    """A click group whose every error is one line on stderr with the right exit code.

    Overriding ``main`` (rather than wrapping it) means click's CliRunner sees exactly what a
    user sees.
    """

    def main(self, args: Any = None, prog_name: str | None = None, **extra: Any) -> Any:  # type: ignore[override]
        """Run the command; errors become one line and an exit code, never a traceback."""
        extra.pop("standalone_mode", None)
        try:
            result = super().main(args, prog_name or "wsztune", standalone_mode=False, **extra)
        except click.ClickException as error:
            hint = ""
            if isinstance(error, click.UsageError) and error.ctx is not None:
                hint = f" (see '{error.ctx.command_path} --help')"
            _error_line(f"{error.format_message()}{hint}")
            sys.exit(EXIT_USAGE)
        except WsztuneError as error:
            _error_line(str(error))
            sys.exit(error.exit_code)
        except (KeyboardInterrupt, click.Abort):
            _error_line("interrupted")
            sys.exit(INTERRUPTED_EXIT)
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=WsztuneGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="wsztune")
def cli() -> None:
    """Tune permessage-deflate (windowBits, memLevel) from a corpus of your real messages.

    \b
    Everyday use:
      wsztune run corpus.jsonl        sweep windowBits 9-15 x memLevel 1-9, save results/
      wsztune table --markdown        the grids, ready to paste into a pull request
      wsztune recommend --check 12:5  in CI: is the setting you ship still right?
    """


def main() -> None:
    """Console-script entry point."""
    cli.main()


@contextmanager
def _first_interrupt_only() -> Iterator[None]:
    """Make the first Ctrl-C stop the run and every further one wait for that stop to finish.

    A second SIGINT arriving while the workers are being stopped, the partial run saved or the
    interpreter exiting (impatient users press twice) used to land in concurrent.futures' or
    threading's cleanup and print their tracebacks, or break a lock mid-release. Stopping takes
    well under a second, so nothing is lost by waiting. After an interrupt the process is on its
    way out and SIGINT stays ignored; otherwise the previous handler comes back (in-process
    callers such as tests keep theirs). Only in the main thread, the one place handlers can be set.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_interrupt(signum: int, frame: object) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGINT) is on_interrupt:
            signal.signal(signal.SIGINT, previous)


# wsztune run --------------------------------------------------------------------------------------


@cli.command()
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
@click.option(
    "--codec",
    type=click.Choice(["zlib", "zlib-ng"]),
    default="zlib",
    show_default=True,
    help="Compression library.",
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
@click.option("--keep-partial", is_flag=True, help="On Ctrl-C, save the finished cells (marked).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
@_first_interrupt_only()
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
    codec: str,
    repeat: int,
    warmup: int,
    min_sample_time: float,
    jobs: int | None,
    seed: int,
    sample: int | None,
    output: Path | None,
    results_dir: Path,
    keep_partial: bool,
    quiet: bool,
) -> None:
    """Sweep the settings over CORPUS with the real codec and save the results.

    CORPUS is a .jsonl file (one message per line), a .txt file (one text message per line),
    a records .jsonl (connections and directions), a .har capture or a directory (one message
    per file). Without CORPUS, the bundled demo corpus is used.
    """
    from wsztune import codec as codec_module
    from wsztune import corpus as corpus_module
    from wsztune import results, sweep
    from wsztune.console import progress_bar, progress_enabled, stderr_console

    # Validate every option before reading anything, so a typo costs nothing.
    grid = sweep.Grid(
        window_bits=sweep.parse_int_range(window_bits, "--window-bits", range(8, 16)),
        mem_levels=sweep.parse_int_range(mem_level, "--mem-level", range(1, 10)),
        levels=sweep.parse_int_range(level, "--level", range(-1, 10)),
        strategies=_parse_strategies(strategy),
        context_takeover=_takeover_axis("off" if no_context_takeover else context_takeover),
        client_window_bits=client_window_bits,
    )
    settings = grid.settings()  # validates every combination
    plan = sweep.TimingPlan(repeat=repeat, warmup=warmup, min_sample_seconds=min_sample_time)
    jobs = sweep.default_jobs() if jobs is None else jobs
    if jobs < 1:
        raise click.BadParameter(f"must be at least 1, not {jobs}", param_hint="'--jobs'")
    if sample is not None and sample < 1:
        raise click.BadParameter(f"must be at least 1, not {sample}", param_hint="'--sample'")
    codec_module.get_backend(codec)
    err = stderr_console()
    if any(bits == 8 for bits in (*grid.window_bits, client_window_bits)):
        err.print("[yellow]warning:[/] windowBits 8 is accepted, but zlib compresses it as 9")

    if corpus_path is None:
        corpus_path = corpus_module.demo_corpus_path()
        if not quiet:
            err.print(f"No corpus given: using the bundled demo corpus {corpus_path.name}")

    # The results place is known from the corpus path alone: check it before reading the corpus,
    # so that a read-only results/ costs no loading time.
    started = results.utc_now()
    target = output or results.default_path(
        results_dir, corpus_module.corpus_name(corpus_path), started
    )
    results.check_writable(target)

    show_progress = progress_enabled(quiet)
    with progress_bar(_file_size(corpus_path), "loading", show_progress) as advance:
        corpus = corpus_module.load(
            corpus_path, corpus_format, progress=lambda done, total: advance(done)
        )
    if sample is not None:
        available = len(corpus.connections)
        corpus = corpus_module.sample_connections(corpus, sample, seed)
        if sample >= available > 1:
            err.print(
                f"[yellow]warning:[/] --sample {sample}: the corpus has {available} "
                "connections; all are kept"
            )

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
            )
        except sweep.SweepInterrupted as interrupted:
            if keep_partial and interrupted.run is not None and interrupted.cells:
                path = _save_or_rescue(interrupted.run, target)
                _error_line(
                    f"interrupted: kept {len(interrupted.cells)} of {interrupted.total} cells "
                    f"in {path} (marked partial)"
                )
            elif keep_partial:
                _error_line(
                    f"interrupted before any of {interrupted.total} cells finished; nothing written"
                )
            else:
                _error_line(
                    f"interrupted after {len(interrupted.cells)} of {interrupted.total} cells; "
                    "nothing written (--keep-partial keeps finished cells)"
                )
            sys.exit(INTERRUPTED_EXIT)

    path = _save_or_rescue(run_result, target)
    if not quiet:
        from wsztune.report import print_run_summary

        print_run_summary(run_result)
    click.echo(f"results: {path}")


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


# wsztune corpus stats -----------------------------------------------------------------------------


@cli.group()
def corpus() -> None:
    """Look at a corpus before sweeping it."""


@corpus.command("stats")
@corpus_options(required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def corpus_stats(corpus_path: Path, corpus_format: str | None, as_json: bool) -> None:
    """Messages, connections, directions, sizes and kinds (JSON, text, binary) of CORPUS."""
    import json

    from wsztune import corpus as corpus_module
    from wsztune.stats import describe_corpus

    stats = describe_corpus(corpus_module.load(corpus_path, corpus_format))
    if as_json:
        click.echo(json.dumps(stats.to_dict(), indent=2))
        return
    from wsztune.report import render_corpus_stats

    render_corpus_stats(stats)


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size if path.is_file() else 0
    except OSError:
        return 0


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


# wsztune live -------------------------------------------------------------------------------------


@cli.command()
@corpus_options(required=False)
@click.option("--setting", "setting_text", metavar="WB:ML", help="Both at once, e.g. 12:5.")
@click.option("--window-bits", type=int, help="Server window bits, 9-15 [default: 12].")
@click.option("--mem-level", type=int, help="memLevel, 1-9 [default: 5].")
@client_window_bits_option
@click.option(
    "--connections",
    "-n",
    type=int,
    default=10,
    show_default=True,
    help="Live connections, opened one at a time and held open (the first is discarded).",
)
@click.option(
    "--tolerance",
    default="10%",
    show_default=True,
    help="How far live memory may be from the model: 10% or 0.1.",
)
@click.option(
    "--timeout",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds any one step (a handshake plus one connection's replay) may take.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def live(
    corpus_path: Path | None,
    corpus_format: str | None,
    setting_text: str | None,
    window_bits: int | None,
    mem_level: int | None,
    client_window_bits: int | None,
    connections: int,
    tolerance: str,
    timeout: float,
    as_json: bool,
) -> None:
    """Check the model against a real websockets server on 127.0.0.1.

    A python-websockets server with the setting listens on a loopback port; a separate client
    process opens --connections connections and both replay CORPUS (server-direction messages
    from the server, client-direction ones from the client). Compared with the model: the
    compressed bytes sent and received (must be equal) and the server's memory per connection
    (tracemalloc, compression on minus off; must be within --tolerance). RSS per connection
    is shown but not checked. Exit code 0 when both agree, 1 when not.

    Without a setting, websockets' defaults: 12:5.
    """
    import json

    from wsztune import corpus as corpus_module
    from wsztune import live as live_module
    from wsztune.codec import Setting, parse_setting
    from wsztune.errors import CheckFailed, SettingError
    from wsztune.recommend import parse_fraction

    # Validate every option before reading anything, so a typo costs nothing.
    if setting_text is not None:
        if window_bits is not None or mem_level is not None:
            raise click.UsageError("give --setting or --window-bits/--mem-level, not both")
        window_bits, mem_level = parse_setting(setting_text)
    setting = Setting(
        window_bits if window_bits is not None else 12,
        mem_level if mem_level is not None else 5,
        client_window_bits=client_window_bits,
    )
    fraction = parse_fraction(tolerance, "--tolerance")
    if connections < 2:
        raise SettingError(
            f"--connections must be at least 2, not {connections} (the first is discarded)"
        )
    try:
        import websockets  # noqa: F401
    except ImportError:
        raise SettingError(
            "wsztune live needs websockets: pip install 'wsztune[live]'  (or: pip install "
            "websockets)"
        ) from None

    if corpus_path is None:
        corpus_path = corpus_module.demo_corpus_path()
    corpus = corpus_module.load(corpus_path, corpus_format)
    result = live_module.run_live(
        corpus, setting, connections=connections, tolerance=fraction, timeout=timeout
    )
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        _print_live(result)
    if not result.passed:
        reasons = []
        if not result.bytes_equal:
            reasons.append(f"bytes differ by {result.live_bytes - result.model_bytes:+,}")
        if not result.memory_within_tolerance:
            reasons.append(
                f"memory per connection differs by {result.memory_difference:+.1%} "
                f"(tolerance {result.tolerance:.0%})"
            )
        raise CheckFailed(f"live check failed at {setting.label}: {'; '.join(reasons)}")


def _print_live(result: Any) -> None:
    from rich.table import Table

    from wsztune.console import stdout_console

    def kib(value: float) -> str:
        return f"{value / 1024:,.1f} KiB"

    table = Table(
        title=(
            f"wsztune live {result.window_bits}:{result.mem_level}"
            + (
                f" (client bits {result.client_window_bits})"
                if result.client_window_bits != result.window_bits
                else ""
            )
            + f", {result.connections} connections, {result.corpus['name']}"
        ),
        title_justify="left",
    )
    table.add_column("")
    table.add_column("model", justify="right")
    table.add_column("live", justify="right")
    table.add_column("difference", justify="right")
    for label, model, measured in (
        ("bytes sent by server", result.model_server_bytes, result.live_server_bytes),
        ("bytes received by server", result.model_client_bytes, result.live_client_bytes),
        ("bytes, both ways", result.model_bytes, result.live_bytes),
    ):
        table.add_row(label, f"{model:,}", f"{measured:,}", f"{measured - model:+,}")
    table.add_row(
        "memory/conn, compression",
        kib(result.model_connection_memory),
        kib(result.live_connection_memory),
        f"{result.memory_difference:+.1%}",
    )
    table.add_row("memory/conn, whole", "", kib(result.live_connection_memory_with_baseline), "")
    table.add_row("memory/conn, uncompressed", "", kib(result.live_baseline_connection_memory), "")
    table.add_row(
        "RSS/conn, compression (*)", "", kib(result.live_rss_compression_per_connection), ""
    )
    console = stdout_console()
    console.print(table)
    console.print("(*) psutil, noisy: shown, not checked")
    console.print(f"replay: {result.replay}; raw payload {result.raw_bytes:,} B")
    for note in result.notes:
        console.print(f"note: {note}")
    verdict = "[green]PASS[/]" if result.passed else "[red]FAIL[/]"
    console.print(
        f"{verdict}: bytes {'equal' if result.bytes_equal else 'differ'}, memory "
        f"{result.memory_difference:+.1%} (tolerance {result.tolerance:.0%}); websockets "
        f"{result.websockets_version}, zlib {result.zlib_version}, {result.duration_seconds:.1f} s"
    )


# wsztune table, plot, recommend, compare: read a saved run, never re-run the codec ----------------

RESULTS_HELP = "Results file to read [default: the newest in --results-dir]."


def _results_options(command: Any) -> Any:
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


def _slice_options(command: Any) -> Any:
    """Which level/strategy/takeover slice of a run the grids show (when a run has several)."""
    command = click.option(
        "--context-takeover",
        "slice_takeover",
        type=click.Choice(["on", "off"]),
        help="Slice to show when the run swept both [default: on].",
    )(command)
    command = click.option(
        "--strategy", "slice_strategy", help="Slice to show [default: the run's first]."
    )(command)
    return click.option(
        "--level", "slice_level", type=int, help="Slice to show [default: the run's first]."
    )(command)


def _budget_option(command: Any) -> Any:
    return click.option(
        "--max-memory",
        metavar="SIZE",
        help="Memory budget per connection, compressor + decompressor, observed: "
        "65536, 64KiB, 64KB, 1.5MiB (a bare K or M is refused as ambiguous).",
    )(command)


def _metric_option(default: tuple[str, ...], what: str) -> Any:
    return click.option(
        "--metric",
        "metrics",
        type=click.Choice(list(METRICS)),
        multiple=True,
        help=f"{what}; repeat for several [default: {', '.join(default)}].",
    )


def _load_run(results_path: Path | None, results_dir: Path) -> Any:
    from wsztune import results

    return results.load_newest_or(results_path, str(results_dir))


def _select(run: Any, level: int | None, strategy: str | None, takeover: str | None) -> Any:
    from wsztune.report import select_slice

    return select_slice(run, level, strategy, None if takeover is None else takeover == "on")


def _warn(lines: list[str]) -> None:
    for line in lines:
        click.echo(f"wsztune: warning: {line}", err=True)


def _setting_arg(text: str | None, option: str) -> tuple[int, int] | None:
    from wsztune.codec import parse_setting
    from wsztune.errors import SettingError

    if text is None:
        return None
    try:
        return parse_setting(text)
    except SettingError as error:
        raise click.BadParameter(str(error), param_hint=f"'{option}'") from None


def _size_arg(text: str | None) -> int | None:
    from wsztune.recommend import parse_size

    if text is None:
        return None
    try:
        return parse_size(text)
    except WsztuneError as error:
        raise click.BadParameter(
            str(error).removeprefix("--max-memory "), param_hint="'--max-memory'"
        ) from None


def _highlight(slice_: Any, max_memory: int | None, reference: tuple[int, int]) -> tuple[Any, str]:
    """The recommendation the grids mark with a star, and the words that qualify it."""
    from wsztune.recommend import Constraints, recommend
    from wsztune.report import format_bytes

    decision = recommend(slice_, Constraints(max_memory=max_memory, reference=reference))
    if decision.chosen is None:
        # No star: the legend says why rather than letting it vanish without a word.
        return decision, f"no cell fits {format_bytes(max_memory or 0)} per connection"
    if max_memory is None:
        return decision, " with no memory budget (set one with --max-memory)"
    return decision, f" within {format_bytes(max_memory)} per connection"


@cli.command()
@_metric_option(DEFAULT_METRICS, "Grid to show")
@click.option(
    "--relative-to",
    metavar="WB:ML",
    is_flag=False,
    flag_value="12:5",
    help="Show each cell against this one (+10%, -4%, =); alone, against 12:5 "
    "(websockets' default). Savings change in percentage points.",
)
@click.option(
    "--markdown", is_flag=True, help="GitHub-flavoured markdown (PR comment, job summary)."
)
@click.option("--csv", "as_csv", is_flag=True, help="Long form: one row per cell, every field.")
@_budget_option
@_results_options
@_slice_options
def table(
    metrics: tuple[str, ...],
    relative_to: str | None,
    markdown: bool,
    as_csv: bool,
    max_memory: str | None,
    results_path: Path | None,
    results_dir: Path,
    slice_level: int | None,
    slice_strategy: str | None,
    slice_takeover: str | None,
) -> None:
    """Grids of a saved run: windowBits down, memLevel across, one grid per metric.

    The reference cell (12:5, or --relative-to) is highlighted, and so is the cell
    `wsztune recommend` would choose (within --max-memory, when given).
    """
    if markdown and as_csv:
        raise click.UsageError("choose one of --markdown and --csv")
    reference = _setting_arg(relative_to, "--relative-to")
    budget = _size_arg(max_memory)
    run = _load_run(results_path, results_dir)
    from wsztune import report

    if as_csv:
        _warn(report.run_warnings(run))
        click.echo(report.csv_long(run), nl=False)
        return
    slice_ = _select(run, slice_level, slice_strategy, slice_takeover)
    _warn(report.run_warnings(run, slice_))
    decision, note = _highlight(slice_, budget, reference or report.REFERENCE)
    recommended = None if decision.chosen is None else report.cell_key(decision.chosen)
    console = None
    if not markdown:
        from wsztune.console import stdout_console

        console = stdout_console()
    tables = [
        report.grid_table(
            run,
            slice_,
            report.METRICS[name],
            relative_to=reference,
            reference=reference or report.REFERENCE,
            recommended=recommended,
            # A terminal or a CI log has a width; markdown has none.
            width=None if console is None else console.width,
        )
        for name in (metrics or report.DEFAULT_METRICS)
    ]
    if console is None:
        click.echo("\n\n".join(report.markdown_grid(t, note) for t in tables))
        return
    for index, grid in enumerate(tables):
        if index:
            console.print()
        console.print(report.rich_grid(grid, note))


@cli.command()
@_metric_option(tuple(METRICS), "Heatmap to draw")
@click.option(
    "--format",
    "formats",
    type=click.Choice(["png", "svg"]),
    multiple=True,
    help="Image format; repeat for both [default: png].",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory for the images [default: next to the results file].",
)
@_budget_option
@_results_options
@_slice_options
def plot(
    metrics: tuple[str, ...],
    formats: tuple[str, ...],
    output: Path | None,
    max_memory: str | None,
    results_path: Path | None,
    results_dir: Path,
    slice_level: int | None,
    slice_strategy: str | None,
    slice_takeover: str | None,
) -> None:
    """Heatmaps (one per metric) and a Pareto chart of memory against size, as images.

    Prints the paths written. Works without a display (matplotlib's Agg canvas).
    """
    budget = _size_arg(max_memory)
    run = _load_run(results_path, results_dir)
    from wsztune import report

    slice_ = _select(run, slice_level, slice_strategy, slice_takeover)
    _warn(report.run_warnings(run, slice_))
    decision, _ = _highlight(slice_, budget, report.REFERENCE)
    directory = output or (run.path.parent if run.path is not None else Path("."))
    from wsztune import plots

    try:
        written = plots.write_plots(
            run,
            slice_,
            directory,
            metrics=metrics or tuple(METRICS),
            formats=formats or ("png",),
            decision=decision,
        )
    except OSError as error:
        raise WsztuneError(
            f"{directory}: cannot write images there ({error.strerror or error}); "
            "choose another place with --output"
        ) from None
    for path in written:
        click.echo(str(path))


@cli.command()
@_budget_option
@click.option(
    "--max-time-ratio",
    type=click.FloatRange(min=0, min_open=True),
    metavar="R",
    help="Compress time at most R times the reference cell's (e.g. 1.5).",
)
@click.option(
    "--connections", type=click.IntRange(min=1), metavar="N", help="Print the fleet cost."
)
@click.option("--tolerance", default="1%", show_default=True, help="Size within this of the best.")
@click.option(
    "--cliff",
    default="10%",
    show_default=True,
    help="A cell is on a cliff edge when one step down compresses this much worse.",
)
@click.option(
    "--relative-to",
    "reference_text",
    default="12:5",
    show_default=True,
    metavar="WB:ML",
    help="Reference cell for comparisons and --max-time-ratio (websockets' default).",
)
@click.option(
    "--check",
    "check_text",
    metavar="WB:ML",
    help="CI gate: exit 1 unless this setting fits and is within --tolerance of the choice.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@_results_options
@_slice_options
def recommend(
    max_memory: str | None,
    max_time_ratio: float | None,
    connections: int | None,
    tolerance: str,
    cliff: str,
    reference_text: str,
    check_text: str | None,
    as_json: bool,
    results_path: Path | None,
    results_dir: Path,
    slice_level: int | None,
    slice_strategy: str | None,
    slice_takeover: str | None,
) -> None:
    """Recommend (windowBits, memLevel) for a memory budget, and gate it in CI with --check.

    Among the cells within --max-memory (and --max-time-ratio), take those within --tolerance
    of the smallest output, drop those on a cliff edge, and keep the one needing the least
    memory. Exit codes: 0 fine, 1 check failed or nothing fits, 2 usage error.
    """
    import json
    import os

    from wsztune import recommend as recommend_module
    from wsztune import report
    from wsztune.errors import CheckFailed

    budget = _size_arg(max_memory)
    try:
        tolerance_value = recommend_module.parse_fraction(tolerance, "--tolerance")
        cliff_value = recommend_module.parse_fraction(cliff, "--cliff")
    except WsztuneError as error:
        raise click.UsageError(str(error)) from None
    reference = _setting_arg(reference_text, "--relative-to")
    # The shape and the ranges here; whether the run measured it is for recommend.check.
    checked = _setting_arg(check_text, "--check")
    run = _load_run(results_path, results_dir)
    slice_ = _select(run, slice_level, slice_strategy, slice_takeover)
    _warn(report.run_warnings(run, slice_))
    constraints = recommend_module.Constraints(
        max_memory=budget,
        max_time_ratio=max_time_ratio,
        tolerance=tolerance_value,
        cliff=cliff_value,
        reference=reference or report.REFERENCE,
        connections=connections,
    )
    decision = recommend_module.recommend(slice_, constraints)
    verdict = None
    if checked is not None:
        verdict = recommend_module.check(decision, *checked, tolerance_value)

    if as_json:
        document = recommend_module.decision_json(decision, verdict)
        document["results"] = str(run.path) if run.path else None
        document["partial"] = run.partial
        click.echo(json.dumps(document, indent=2))
    else:
        from wsztune.console import stdout_console

        stdout_console().print(report.decision_renderable(decision, verdict), soft_wrap=True)

    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        try:
            with open(summary, "a", encoding="utf-8") as stream:
                stream.write(report.decision_markdown(decision, run, verdict) + "\n")
        except OSError as error:
            _warn([f"cannot append to GITHUB_STEP_SUMMARY {summary}: {error}"])

    if decision.chosen is None:
        raise CheckFailed(decision.reason)
    if verdict is not None and not verdict.ok:
        raise CheckFailed(f"check failed: {verdict.reason}")


@cli.command()
@click.argument("old_path", metavar="OLD", type=click.Path(path_type=Path))
@click.argument("new_path", metavar="NEW", type=click.Path(path_type=Path))
@_metric_option(DEFAULT_METRICS, "Grid to compare")
@click.option("--markdown", is_flag=True, help="GitHub-flavoured markdown.")
@_slice_options
def compare(
    old_path: Path,
    new_path: Path,
    metrics: tuple[str, ...],
    markdown: bool,
    slice_level: int | None,
    slice_strategy: str | None,
    slice_takeover: str | None,
) -> None:
    """The change from run OLD to run NEW, cell by cell (a drifted corpus, a new zlib)."""
    from wsztune import report, results

    old, new = results.load(old_path), results.load(new_path)
    old_slice = _select(old, slice_level, slice_strategy, slice_takeover)
    new_slice = _select(new, slice_level, slice_strategy, slice_takeover)
    _warn([f"OLD: {w}" for w in report.run_warnings(old, old_slice)])
    _warn([f"NEW: {w}" for w in report.run_warnings(new, new_slice)])
    tables = [
        report.compare_table(old, old_slice, new, new_slice, report.METRICS[name])
        for name in (metrics or report.DEFAULT_METRICS)
    ]
    if markdown:
        click.echo("\n\n".join(report.markdown_grid(t) for t in tables))
        return
    from wsztune.console import stdout_console

    console = stdout_console()
    for index, grid in enumerate(tables):
        if index:
            console.print()
        console.print(report.rich_grid(grid))
