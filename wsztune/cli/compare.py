"""``wsztune compare``: the change from one saved run to another, cell by cell."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from wsztune.cli.common import (
    Slicing,
    load_run,
    metric_option,
    refuse_on_axes,
    require_same_clients,
    say_read,
    select,
    slice_options,
    warn,
)
from wsztune.errors import WsztuneError
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
    slicing: Slicing,
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
    if report.run_axes(old) or report.run_axes(new):
        _compare_on_axes(old, new, metrics, markdown)
        return
    old_slice, new_slice = select(old, slicing), select(new, slicing)
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



def _compare_on_axes(old: Any, new: Any, metrics: tuple[str, ...], markdown: bool) -> None:
    """Two Go runs on their own axes, setting by setting (a Go run has no windowBits x memLevel
    grid to slice); a Go run against a run of other axes or of another stack is refused, one
    line, exit 2."""
    from wsztune import report
    from wsztune.axes import AXES

    old_axes, new_axes = report.run_axes(old), report.run_axes(new)
    if old_axes != new_axes:

        def kind(run: Any, axes: tuple[str, ...]) -> str:
            if not axes:
                return "a windowBits x memLevel run"
            words = (AXES[axis].title if axis in AXES else axis for axis in axes)
            return f"a {run.meta.get('codec')} run on {', '.join(words)}"

        raise WsztuneError(
            f"OLD {old.path} is {kind(old, old_axes)}, NEW {new.path} {kind(new, new_axes)}: "
            "they have no settings in common to compare; compare two runs of the same library"
        )
    old_server, new_server = old.meta.get("server"), new.meta.get("server")
    if old_server != new_server:
        # Same axes, other stack (centrifugo frames as gorilla does): each run holds its own
        # library's bytes, so the differences would read as the traffic's or the library's.
        raise WsztuneError(
            f"OLD {old.path} was measured for {old_server}, NEW {new.path} for {new_server}: "
            "a Go run holds its own stack's bytes, so their differences are no change of "
            "traffic or library; compare two runs of one stack"
        )
    for role, run in (("OLD", old), ("NEW", new)):
        refuse_on_axes(run, which=f"{role} {run.path}")
    warn([f"OLD: {w}" for w in report.run_warnings(old)])
    warn([f"NEW: {w}" for w in report.run_warnings(new)])
    chosen = [report.METRICS[name] for name in (metrics or report.DEFAULT_METRICS)]
    comparison = report.axes_compare(old, new, chosen)
    if markdown:
        click.echo(report.axes_compare_markdown(comparison))
        return
    from wsztune.console import stdout_console

    stdout_console().print(report.axes_compare_table(comparison))
