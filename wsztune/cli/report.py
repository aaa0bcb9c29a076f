"""``wsztune report``: one self-contained HTML page from a saved run, or from two (a comparison)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from wsztune.cli.common import (
    Slicing,
    budget_option,
    fleet_options,
    fraction_arg,
    load_run,
    memory_figure_option,
    prices,
    refuse_on_axes,
    refuse_overwriting_inputs,
    require_same_clients,
    results_options,
    savings_drop_option,
    select,
    setting_arg,
    size_arg,
    slice_options,
    warn,
)
from wsztune.errors import WsztuneError


@click.command()
@click.argument("runs", nargs=-1, metavar="[RUN | OLD NEW]", type=click.Path(path_type=Path))
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The HTML file to write [default: the run's results file, with .html].",
)
@budget_option
@click.option("--tolerance", default="1%", show_default=True, help="Size within this of the best.")
@click.option(
    "--check",
    "check_text",
    metavar="WB:ML",
    help="Show the CI gate's verdict for this setting, as `recommend --check` gives it (the "
    "page is written either way).",
)
@click.option(
    "--baseline",
    "baseline_path",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="The saved run --check is gated against, as in `recommend --baseline`.",
)
@savings_drop_option
@click.option("--strict", is_flag=True, help="The verdict of `recommend --check --strict`.")
@fleet_options
@memory_figure_option
@click.option("--no-charts", is_flag=True, help="Leave out the images (grids only).")
@results_options
@slice_options
def report(
    runs: tuple[Path, ...],
    output: Path | None,
    max_memory: str | None,
    tolerance: str,
    check_text: str | None,
    baseline_path: Path | None,
    max_savings_drop: float,
    strict: bool,
    connections: int | None,
    messages_per_second: float | None,
    price_memory: float | None,
    price_egress: float | None,
    price_cpu: float | None,
    memory_figure: str,
    no_charts: bool,
    results_path: Path | None,
    results_dir: Path,
    slicing: Slicing,
) -> None:
    """One self-contained HTML page: decision, grids, charts, cost, configuration, provenance.

    \b
    wsztune report                   the newest run in --results-dir
    wsztune report RUN               that run (as --results RUN)
    wsztune report OLD NEW           a comparison: what changed from OLD to NEW

    The page needs no network to view (CSS and charts inline), reflows on a phone and follows
    the system's dark mode. A partial run is reported as partial. Prints the path written.
    """
    from wsztune import recommend as recommend_module
    from wsztune import report, report_html
    from wsztune.report import run_warnings

    if len(runs) > 2:
        raise click.UsageError("give one run, or two (OLD NEW) for a comparison")
    if runs and results_path is not None:
        raise click.UsageError("give the run either as an argument or with --results, not both")
    budget = size_arg(max_memory)
    tolerance_value = fraction_arg(tolerance, "--tolerance")
    checked = setting_arg(check_text, "--check")
    if checked is None and (baseline_path is not None or strict):
        raise click.UsageError("--baseline and --strict judge a --check WB:ML setting; add one")
    baseline_run = None if baseline_path is None else load_run(baseline_path, role="--baseline")
    if baseline_run is not None:
        baseline_run = recommend_module.with_memory_figure(baseline_run, memory_figure)
    constraints = recommend_module.Constraints(
        max_memory=budget,
        tolerance=tolerance_value,
        connections=connections,
        messages_per_second=messages_per_second,
        prices=prices(price_memory, price_egress, price_cpu),
        max_savings_drop=max_savings_drop / 100,
    )

    old_run, run = _runs(runs, results_path, results_dir, memory_figure)
    target = _target(output, run, old_run, baseline_path)
    if any(report.run_axes(r) for r in (old_run, run) if r is not None):
        page = _axes_page(run, old_run, constraints, checked is not None, no_charts)
    else:
        asked = (slicing, constraints, checked, strict, baseline_run, baseline_path)
        old = None if old_run is None else _prepared(old_run, "OLD: ", *asked)
        main = _prepared(run, "NEW: " if old_run is not None else "", *asked)
        page = report_html.render(
            main, old, charts=not no_charts, warnings=run_warnings(run, main.slice)
        )
    _write_page(target, page)


def _runs(
    runs: tuple[Path, ...], results_path: Path | None, results_dir: Path, memory_figure: Any
) -> tuple[Any, Any]:
    """(OLD, NEW) for a comparison, else (None, the run), read with the memory figure asked."""
    from wsztune import recommend as recommend_module

    if len(runs) == 2:
        old_run, run = load_run(runs[0], role="OLD"), load_run(runs[1], role="NEW")
        require_same_clients(old_run, run)
    else:
        old_run, run = None, load_run(runs[0] if runs else results_path, results_dir)
    run = recommend_module.with_memory_figure(run, memory_figure)
    if old_run is not None:
        old_run = recommend_module.with_memory_figure(old_run, memory_figure)
    return old_run, run


def _target(output: Path | None, run: Any, old_run: Any, baseline_path: Path | None) -> Path:
    """The page's path (--output, else the run's results file with .html), never one of the
    files read."""
    target = output or (
        run.path.with_suffix(".html") if run.path is not None else Path("wsztune-report.html")
    )
    refuse_overwriting_inputs(
        target,
        [("the run read", r.path) for r in (old_run, run) if r is not None]
        + [("the --baseline run", baseline_path)],
    )
    return target


def _prepared(
    run: Any,
    role: str,
    slicing: Slicing,
    constraints: Any,
    checked: tuple[int, int] | None,
    strict: bool,
    baseline_run: Any,
    baseline_path: Path | None,
) -> Any:
    """One run's slice, warnings (prefixed with its ``role``) and the pipeline's decision and
    verdict, as the page shows them."""
    from dataclasses import replace

    from wsztune import recommend as recommend_module
    from wsztune import report_html
    from wsztune.report import run_warnings

    slice_ = select(run, slicing)
    warn([f"{role}{line}" for line in run_warnings(run, slice_)])
    baseline = None
    if checked is not None and baseline_run is not None:
        baseline = select(baseline_run, slicing)
    outcome = recommend_module.decide_and_gate(
        slice_,
        replace(constraints, reference=slice_.default),
        checked,
        strict=strict,
        baseline=baseline,
        baseline_name=str(baseline_path),
    )
    return report_html.ReportRun(run, slice_, outcome.decision, outcome.verdict)


def _write_page(target: Path, page: str) -> None:
    """Write the page whole (never half a file) and print where."""
    from wsztune import results

    try:
        results.write_atomic(target, page.encode("utf-8"))
    except OSError as error:
        raise WsztuneError(
            f"{target}: cannot write the report there ({error.strerror or error}); "
            "choose another place with --output"
        ) from None
    click.echo(str(target))


# What the page of a Go run does not show: refused on one, rather than ignored.
_NOT_ON_GO_PAGE = {
    name: f"{option}: the page of a Go run shows no fleet cost (wsztune recommend "
    "--connections N shows it)"
    for name, option in (
        ("connections", "--connections"),
        ("messages_per_second", "--messages-per-second"),
        ("price_memory", "--price-memory"),
        ("price_egress", "--price-egress"),
        ("price_cpu", "--price-cpu"),
    )
}


def _axes_page(
    run: Any, old_run: Any, constraints: Any, checking: bool, no_charts: bool
) -> str:
    """The page of a Go run on its own axes, with the choice ``recommend`` makes on them under
    the budget and the tolerance asked."""
    from wsztune import recommend as recommend_module
    from wsztune import report, report_html

    axes = ", ".join(report.run_axes(run if report.run_axes(run) else old_run))
    if old_run is not None:
        raise click.UsageError(
            f"a comparison page takes two windowBits x memLevel runs, and a Go run's axes are "
            f"{axes}: report each run alone, or compare them with wsztune compare"
        )
    if checking:
        raise click.UsageError(
            f"report --check takes WB:ML, which a Go run does not have (its axes are {axes}): "
            "leave --check out, and gate a Go setting with wsztune recommend --check "
            "level=N,takeover=on|off,threshold=N"
        )
    refuse_on_axes(run, _NOT_ON_GO_PAGE)
    warnings = report.run_warnings(run)
    warn(warnings)
    decision = recommend_module.recommend_on_axes(run, constraints)
    chosen, reason, snippet = decision.chosen, decision.reason, decision.snippet
    return report_html.render_axes(
        run, chosen, reason, snippet, charts=not no_charts,
        warnings=[*warnings, *decision.warnings], explanation=decision.explanation,
    )  # fmt: skip
