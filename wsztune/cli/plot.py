"""``wsztune plot``: heatmaps and a Pareto chart of a saved run, as images."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import click

from wsztune.cli.common import (
    Slicing,
    budget_option,
    highlight,
    load_run,
    metric_option,
    results_options,
    select,
    size_arg,
    slice_options,
    warn,
)
from wsztune.errors import WsztuneError
from wsztune.report import METRICS


@click.command()
@metric_option(tuple(METRICS), "Heatmap to draw")
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
@budget_option
@results_options
@slice_options
def plot(
    metrics: tuple[str, ...],
    formats: tuple[str, ...],
    output: Path | None,
    max_memory: str | None,
    results_path: Path | None,
    results_dir: Path,
    slicing: Slicing,
) -> None:
    """Heatmaps (one per metric) and a Pareto chart of memory against size, as images.

    Prints the paths written. Works without a display (matplotlib's Agg canvas).
    """
    budget = size_arg(max_memory)
    run = load_run(results_path, results_dir)
    from wsztune import report

    if report.run_axes(run):
        # A Go run: bars on its own axes, not windowBits x memLevel heatmaps.
        from wsztune import plots

        warn(report.run_warnings(run))
        directory = output or (run.path.parent if run.path is not None else Path("."))
        _write_images(directory, lambda: plots.axes_chart(run, directory, formats or ("png",)))
        return

    slice_ = select(run, slicing)
    warn(report.run_warnings(run, slice_))
    skipped = [m for m in metrics or tuple(METRICS) if METRICS[m].is_timing]
    if skipped and not run.timing_measured:
        warn([f"time was not measured (--no-timing): no {' or '.join(skipped)} heatmap"])
    decision, _ = highlight(slice_, budget, slice_.default, run.partial)
    directory = output or (run.path.parent if run.path is not None else Path("."))
    from wsztune import plots

    _write_images(
        directory,
        lambda: plots.write_plots(
            run,
            slice_,
            directory,
            metrics=metrics or tuple(METRICS),
            formats=formats or ("png",),
            decision=decision,
        ),
    )


def _write_images(directory: Path, write: Callable[[], Sequence[Path]]) -> None:
    """Run ``write`` and print each image it wrote; a directory it cannot write to is a user
    error (one line, exit 2), whichever chart was asked for."""
    try:
        written = write()
    except OSError as error:
        raise WsztuneError(
            f"{directory}: cannot write images there ({error.strerror or error}); "
            "choose another place with --output"
        ) from None
    for path in written:
        click.echo(str(path))
