"""``wsztune compare``: the change from one saved run to another, cell by cell."""

from __future__ import annotations

from pathlib import Path

import click

from wsztune.cli.common import (
    load_run,
    metric_option,
    require_same_clients,
    say_read,
    select,
    slice_options,
    warn,
)
from wsztune.report import DEFAULT_METRICS


@click.command()
@click.argument("old_path", metavar="OLD", type=click.Path(path_type=Path))
@click.argument("new_path", metavar="NEW", type=click.Path(path_type=Path))
@metric_option(DEFAULT_METRICS, "Grid to compare")
@click.option("--markdown", is_flag=True, help="GitHub-flavoured markdown.")
@slice_options
def compare(
    old_path: Path,
    new_path: Path,
    metrics: tuple[str, ...],
    markdown: bool,
    slice_level: int | None,
    slice_strategy: str | None,
    slice_takeover: str | None,
    slice_threshold: int | None,
    server_text: str | None,
) -> None:
    """The change from run OLD to run NEW, cell by cell (a drifted corpus, a new zlib).

    Runs made for different clients (run --client) are refused: their cells answer another
    question."""
    from wsztune import report

    # Both read before either is named: a bad NEW is one error line, as for any user error.
    old, new = load_run(old_path, say=False), load_run(new_path, say=False)
    say_read(old, "OLD")
    say_read(new, "NEW")
    require_same_clients(old, new)
    options = (slice_level, slice_strategy, slice_takeover, slice_threshold, server_text)
    old_slice, new_slice = select(old, *options), select(new, *options)
    warn([f"OLD: {w}" for w in report.run_warnings(old, old_slice)])
    warn([f"NEW: {w}" for w in report.run_warnings(new, new_slice)])
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

