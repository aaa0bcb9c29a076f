"""``wsztune table``: the grids of a saved run, for a terminal, a pull request or a spreadsheet."""

from __future__ import annotations

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
    setting_arg,
    size_arg,
    slice_options,
    warn,
)
from wsztune.report import DEFAULT_METRICS


@click.command()
@metric_option(DEFAULT_METRICS, "Grid to show")
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
@budget_option
@results_options
@slice_options
def table(
    metrics: tuple[str, ...],
    relative_to: str | None,
    markdown: bool,
    as_csv: bool,
    max_memory: str | None,
    results_path: Path | None,
    results_dir: Path,
    slicing: Slicing,
) -> None:
    """Grids of a saved run: windowBits down, memLevel across, one grid per metric.

    The reference cell (12:5, or --relative-to) is highlighted, and so is the cell
    `wsztune recommend` would choose (within --max-memory, when given).
    """
    if markdown and as_csv:
        raise click.UsageError("choose one of --markdown and --csv")
    reference = setting_arg(relative_to, "--relative-to")
    budget = size_arg(max_memory)
    run = load_run(results_path, results_dir)
    from wsztune import report

    if as_csv:
        warn(report.run_warnings(run))
        click.echo(report.csv_long(run), nl=False)
        return
    if report.run_axes(run):
        # A Go run: its own axes (level, takeover, threshold), not a windowBits x memLevel grid.
        from wsztune.recommend import Constraints, recommend_on_axes

        warn(report.run_warnings(run))
        chosen = recommend_on_axes(run, Constraints(max_memory=budget)).chosen
        if markdown:
            click.echo(report.axes_markdown(run, chosen))
        else:
            from wsztune.console import stdout_console

            stdout_console().print(report.axes_table(run, chosen))
        return
    slice_ = select(run, slicing)
    warn(report.run_warnings(run, slice_))
    decision, note = highlight(slice_, budget, reference or slice_.default, run.partial)
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
            reference=reference or slice_.default,
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


