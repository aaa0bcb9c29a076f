"""``wsztune recommend``: a setting for a memory budget, and the CI gate (``--check``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from wsztune.cli.common import (
    budget_option,
    fanout_option,
    fleet_options,
    load_run,
    prices,
    results_options,
    savings_drop_option,
    say_read,
    select,
    setting_arg,
    size_arg,
    slice_options,
    warn,
)
from wsztune.errors import WsztuneError


@click.command()
@budget_option
@click.option(
    "--max-time-ratio",
    type=click.FloatRange(min=0, min_open=True),
    metavar="R",
    help="Compress time at most R times the reference cell's (e.g. 1.5).",
)
@fleet_options
@click.option(
    "--objective",
    type=click.Choice(["memory", "cost"]),
    default="memory",
    show_default=True,
    help="memory: least memory within --tolerance; cost: least monthly cost (needs "
    "--connections and a message rate).",
)
@click.option(
    "--resamples",
    type=click.IntRange(min=100, max=100_000),
    default=1000,
    show_default=True,
    metavar="N",
    help="Bootstrap resamples of the corpus for the robustness check.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the resampling.")
@fanout_option
@click.option("--tolerance", default="1%", show_default=True, help="Size within this of the best.")
@click.option(
    "--cliff",
    default="10%",
    show_default=True,
    help="Flag (explain) a cell when one step down compresses this much worse.",
)
@click.option(
    "--relative-to",
    "reference_text",
    metavar="WB:ML",
    help="Reference cell for comparisons and --max-time-ratio [default: the --server's default, "
    "else 12:5, websockets' default].",
)
@click.option(
    "--check",
    "check_text",
    metavar="WB:ML",
    help="CI gate for the setting you ship (WB:ML or WB/ML): exit 1 if it does not fit "
    "--max-memory (and --max-time-ratio), or, with --baseline, if it became worse than there by "
    "more than --tolerance. A better setting is advice (exit 0) unless --strict.",
)
@click.option(
    "--baseline",
    "baseline_path",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="A saved run (results file) to gate --check against: fail only when the shipped "
    "setting's output, against the smallest that fits, grew by more than --tolerance points "
    "since that run.",
)
@savings_drop_option
@click.option(
    "--strict",
    is_flag=True,
    help="With --check: also fail when another setting would be chosen (the shipped one is not "
    "within --tolerance of the smallest that fits in 95% of the resamples).",
)
@click.option(
    "--allow-partial",
    is_flag=True,
    help="Decide even on a partial (interrupted) run or baseline; without it they exit 4.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@results_options
@slice_options
def recommend(
    max_memory: str | None,
    max_time_ratio: float | None,
    connections: int | None,
    messages_per_second: float | None,
    price_memory: float | None,
    price_egress: float | None,
    price_cpu: float | None,
    objective: str,
    resamples: int,
    seed: int,
    fanout: int | None,
    tolerance: str,
    cliff: str,
    reference_text: str | None,
    check_text: str | None,
    baseline_path: Path | None,
    max_savings_drop: float,
    strict: bool,
    allow_partial: bool,
    as_json: bool,
    results_path: Path | None,
    results_dir: Path,
    slice_level: int | None,
    slice_strategy: str | None,
    slice_takeover: str | None,
    slice_threshold: int | None,
    server_text: str | None,
) -> None:
    """Recommend (windowBits, memLevel) for a memory budget, and gate it in CI with --check.

    Among the cells within --max-memory (and --max-time-ratio), keep those whose output stays
    within --tolerance of the smallest in at least 95% of --resamples bootstrap resamples of the
    corpus, and choose the one needing the least memory (--objective cost: the cheapest per
    month for --connections).

    \b
    Exit codes:
      0  a setting was recommended; with --check, the shipped setting passed
         (a better one, if any, is printed as advice)
      1  --check failed (over budget, worse than --baseline, or --strict and a
         better setting exists), or no cell fits the budget
      2  usage error: bad option, no run, a setting outside the run's grid
      4  the run (or --baseline) is partial: no decision (see --allow-partial)
    """
    import json
    import os

    from wsztune import recommend as recommend_module
    from wsztune import report
    from wsztune.errors import CheckFailed

    budget = size_arg(max_memory)
    try:
        tolerance_value = recommend_module.parse_fraction(tolerance, "--tolerance")
        cliff_value = recommend_module.parse_fraction(cliff, "--cliff")
    except WsztuneError as error:
        raise click.UsageError(str(error)) from None
    reference = setting_arg(reference_text, "--relative-to")
    # The shape and the ranges here; whether the run measured it is for recommend.check.
    checked = setting_arg(check_text, "--check")
    if checked is None and (baseline_path is not None or strict):
        raise click.UsageError("--baseline and --strict judge a --check WB:ML setting; add one")
    run = load_run(results_path, results_dir, say=False)
    baseline_run = None if baseline_path is None else load_run(baseline_path, say=False)
    say_read(run)
    broadcast = _say_fanout(run, fanout)
    if report.run_axes(run):
        _recommend_on_axes(run, budget, as_json, checked is not None, broadcast)
        return
    if baseline_run is not None:
        say_read(baseline_run, "--baseline")
    options = (slice_level, slice_strategy, slice_takeover, slice_threshold, server_text)
    slice_ = select(run, *options)
    baseline_slice = None if baseline_run is None else select(baseline_run, *options)
    if not allow_partial:
        recommend_module.require_complete(run, slice_)
        if baseline_run is not None:
            recommend_module.require_complete(baseline_run, baseline_slice, "--baseline ")
    warn(report.run_warnings(run, slice_))
    constraints = recommend_module.Constraints(
        max_memory=budget,
        max_time_ratio=max_time_ratio,
        tolerance=tolerance_value,
        cliff=cliff_value,
        reference=reference or slice_.default,
        connections=connections,
        objective=objective,
        messages_per_second=messages_per_second,
        prices=prices(price_memory, price_egress, price_cpu),
        resamples=resamples,
        seed=seed,
        max_savings_drop=max_savings_drop / 100,
    )
    decision = recommend_module.recommend(slice_, constraints)
    verdict = None
    if checked is not None:
        baseline = None
        if baseline_slice is not None:
            if baseline_slice.codec != slice_.codec:
                warn(
                    [
                        f"--baseline was measured with codec {baseline_slice.codec}, this run "
                        f"with {slice_.codec}: the comparison mixes codecs"
                    ]
                )
            baseline = recommend_module.recommend(baseline_slice, constraints)
        verdict = recommend_module.gate(
            decision,
            *checked,
            tolerance_value,
            strict=strict,
            baseline=baseline,
            baseline_name=str(baseline_path),
        )

    if as_json:
        from wsztune.results import provenance

        document = recommend_module.decision_json(decision, verdict)
        document["results"] = str(run.path) if run.path else None
        document["partial"] = run.partial
        document["read"] = provenance(run)
        document["fanout"] = broadcast
        if baseline_run is not None:
            document["baseline"] = provenance(baseline_run)
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
            warn([f"cannot append to GITHUB_STEP_SUMMARY {summary}: {error}"])

    if decision.chosen is None:
        raise CheckFailed(decision.reason)
    if verdict is not None and not verdict.ok:
        raise CheckFailed(f"check failed: {verdict.reason}")




def _say_fanout(run: Any, stated: int | None) -> dict[str, Any] | None:
    """The fan-out this recommendation goes by (``--fanout`` over the run's), said on stderr."""
    from wsztune.fanout import describe, stated_over

    broadcast = stated_over(run.meta.get("fanout"), stated)
    if broadcast is not None:
        click.echo(f"wsztune: {describe(broadcast)}", err=True)
    return broadcast


def _recommend_on_axes(
    run: Any,
    budget: int | None,
    as_json: bool,
    checking: bool,
    broadcast: dict[str, Any] | None = None,
) -> None:
    """A Go run: the cell with the fewest bytes on the wire within the budget, on the
    library's own axes, and the stack's snippet for it."""
    import json

    from wsztune import recommend as recommend_module
    from wsztune import report
    from wsztune.errors import CheckFailed
    from wsztune.grid import axes_label, choose_on_axes

    if checking:
        raise click.UsageError(
            "--check takes WB:ML, which a Go run does not have (its axes are "
            f"{', '.join(report.run_axes(run))}): compare runs with wsztune compare"
        )
    warn(report.run_warnings(run))
    chosen, reason = choose_on_axes(run, budget)
    snippet = recommend_module.axes_snippet(run, chosen)
    limits = recommend_module.stack_limits(run)
    server = run.meta.get("server")
    if as_json:
        document = {
            "axes": list(report.run_axes(run)),
            "chosen": chosen,
            "reason": reason,
            "server": server,
            "cannot_set": limits or None,
            "snippet": snippet or None,
            "results": str(run.path) if run.path else None,
            "partial": run.partial,
            "fanout": broadcast,
        }
        click.echo(json.dumps(document, indent=2))
    else:
        from wsztune.console import stdout_console

        console = stdout_console()
        console.print(report.axes_table(run, chosen))
        if chosen is not None:
            console.print(f"recommended: {axes_label(chosen, report.run_axes(run))} ({reason})")
            if limits:
                console.print(limits, markup=False, highlight=False)
            if snippet:
                console.print(snippet, markup=False, highlight=False)
    if chosen is None:
        raise CheckFailed(reason)
