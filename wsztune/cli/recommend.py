"""``wsztune recommend``: a setting for a memory budget, and the CI gate (``--check``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from wsztune.cli.common import (
    Slicing,
    budget_option,
    fanout_option,
    fleet_options,
    fraction_arg,
    load_run,
    memory_figure_option,
    prices,
    refuse_on_axes,
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
@click.option(
    "--concurrent-writes",
    type=click.IntRange(min=1),
    metavar="N",
    help="Go runs: writes in flight at your peak, each holding a compressor (gorilla's pooled "
    "flate writers): the fleet's peak memory beside the steady state [default: ESTIMATED "
    "from --fanout and the message rate, docs/broadcast.md].",
)
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
@memory_figure_option
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
    concurrent_writes: int | None,
    tolerance: str,
    cliff: str,
    reference_text: str | None,
    check_text: str | None,
    baseline_path: Path | None,
    max_savings_drop: float,
    strict: bool,
    allow_partial: bool,
    memory_figure: str,
    as_json: bool,
    results_path: Path | None,
    results_dir: Path,
    slicing: Slicing,
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
    from dataclasses import replace

    from wsztune import recommend as recommend_module
    from wsztune import report

    budget = size_arg(max_memory)
    tolerance_value = fraction_arg(tolerance, "--tolerance")
    cliff_value = fraction_arg(cliff, "--cliff")
    if check_text is None and (baseline_path is not None or strict):
        raise click.UsageError("--baseline and --strict judge a --check setting; add one")
    run = recommend_module.with_memory_figure(
        load_run(results_path, results_dir, say=False), memory_figure
    )
    # What both kinds of run decide with; a windowBits x memLevel run adds its own.
    constraints = recommend_module.Constraints(
        max_memory=budget,
        max_time_ratio=max_time_ratio,
        tolerance=tolerance_value,
        connections=connections,
        objective=objective,
        messages_per_second=messages_per_second,
        prices=prices(price_memory, price_egress, price_cpu),
        resamples=resamples,
        seed=seed,
        max_savings_drop=max_savings_drop / 100,
    )
    if report.run_axes(run):
        _decide_on_axes(run, constraints, fanout, concurrent_writes, check_text, strict,
                        allow_partial, as_json, baseline_path)  # fmt: skip
        return
    _decide_on_grid(
        run,
        replace(constraints, cliff=cliff_value),
        slicing,
        reference_text, check_text, baseline_path, fanout, concurrent_writes, strict,
        allow_partial, as_json,
    )  # fmt: skip


def _decide_on_grid(
    run: Any,
    constraints: Any,
    slicing: Slicing,
    reference_text: str | None,
    check_text: str | None,
    baseline_path: Path | None,
    fanout: int | None,
    concurrent_writes: int | None,
    strict: bool,
    allow_partial: bool,
    as_json: bool,
) -> None:
    """A windowBits x memLevel run: its slice and the baseline's (refused when partial; a
    baseline first when made for another stack or client mix), then the pipeline (decision,
    baseline, gate), shown."""
    from dataclasses import replace

    from wsztune import recommend as recommend_module
    from wsztune import report

    if concurrent_writes is not None:
        raise click.UsageError(
            "--concurrent-writes prices the compressors that Go's writes hold from a pool; a "
            "zlib run's compressors are per connection, already in its memory: drop it"
        )
    reference = setting_arg(reference_text, "--relative-to")
    # The shape and the ranges here; whether the run measured it is for the gate.
    checked = setting_arg(check_text, "--check")
    baseline_run = None
    if baseline_path is not None:
        baseline_run = _load_baseline(baseline_path, run)
    say_read(run)
    broadcast = _say_fanout(run, fanout)
    if baseline_run is not None:
        say_read(baseline_run, "--baseline")
    slice_ = select(run, slicing)
    baseline_slice = None if baseline_run is None else select(baseline_run, slicing)
    if not allow_partial:
        recommend_module.require_complete(run, slice_)
    if baseline_run is not None:
        recommend_module.require_usable_baseline(
            slice_, baseline_run, baseline_slice, str(baseline_path), allow_partial=allow_partial
        )
    warn(report.run_warnings(run, slice_))
    outcome = recommend_module.decide_and_gate(
        slice_,
        replace(constraints, reference=reference or slice_.default),
        checked,
        strict=strict,
        baseline=baseline_slice,
        baseline_name=str(baseline_path),
    )
    warn(outcome.warnings)
    _show(outcome.decision, outcome.verdict, run, baseline_run, broadcast, as_json)
    _fail_unless_decided(outcome.decision, outcome.verdict)


def _fail_unless_decided(decision: Any, verdict: Any) -> None:
    """Exit 1 (:class:`CheckFailed`) when no cell fits, or the ``--check`` setting failed."""
    from wsztune.errors import CheckFailed

    if decision.chosen is None:
        raise CheckFailed(decision.reason)
    if verdict is not None and not verdict.ok:
        raise CheckFailed(f"check failed: {verdict.reason}")


def _decide_on_axes(
    run: Any,
    constraints: Any,
    fanout: int | None,
    concurrent_writes: int | None,
    check_text: str | None,
    strict: bool,
    allow_partial: bool,
    as_json: bool,
    baseline_path: Path | None = None,
) -> None:
    """A Go run: its own axes, its fan-out and write concurrency, then the shared rule."""
    from dataclasses import replace

    from wsztune import recommend as recommend_module

    say_read(run)
    refuse_on_axes(run)
    if not allow_partial and run.partial:
        recommend_module.require_complete(run, None)
    if concurrent_writes is not None and constraints.connections is None:
        raise click.UsageError(
            "--concurrent-writes gives the fleet's peak memory, which needs the fleet: add "
            "--connections N"
        )
    broadcast = _say_fanout(run, fanout)
    constraints = replace(
        constraints,
        fanout=_fanout_of(broadcast),
        concurrent_writes=concurrent_writes,
    )
    baseline = _axes_baseline(run, baseline_path, constraints, allow_partial)
    _recommend_on_axes(run, constraints, check_text, strict, as_json, broadcast, baseline)


def _axes_baseline(
    run: Any, baseline_path: Path | None, constraints: Any, allow_partial: bool
) -> Any:
    """``--baseline`` on a Go run: the saved Go run of the same stack and clients, decided under
    the same constraints (:func:`wsztune.recommend.baseline_on_axes`); None without one."""
    from wsztune import recommend as recommend_module
    from wsztune import report

    if baseline_path is None:
        return None
    baseline_run = _load_baseline(baseline_path, run)
    say_read(baseline_run, "--baseline")
    if not report.run_axes(baseline_run):
        raise click.UsageError(
            f"--baseline {baseline_path} is a windowBits x memLevel run and this one a Go run: "
            "they answer different questions; save a baseline with the same --server"
        )
    return recommend_module.baseline_on_axes(
        run, baseline_run, constraints, str(baseline_path), allow_partial=allow_partial
    )


def _show(
    decision: Any,
    verdict: Any,
    run: Any,
    baseline_run: Any,
    broadcast: dict[str, Any] | None,
    as_json: bool,
) -> None:
    """The decision as JSON or as text, and in the job summary when GitHub Actions gives one."""
    import json
    import os

    from wsztune import recommend as recommend_module
    from wsztune import report

    if as_json:
        from wsztune.results import provenance

        document = recommend_module.decision_json(decision, verdict)
        document["results"] = str(run.path) if run.path else None
        document["partial"] = run.partial
        document["read"] = provenance(run)
        document["fanout"] = broadcast
        document["memory_figure"] = _memory_figure(run)
        if baseline_run is not None:
            document["baseline"] = provenance(baseline_run)
        click.echo(json.dumps(document, indent=2))
    else:
        from wsztune.console import stdout_console

        stdout_console().print(report.decision_renderable(decision, verdict), soft_wrap=True)
        chosen = decision.chosen
        if chosen is not None and "connection_memory_allocation" in chosen:
            from wsztune.text import format_bytes

            stdout_console().print(
                f"memory: resident, {format_bytes(chosen['connection_memory'])} per connection "
                "(long-lived connections carrying this corpus's traffic); the allocation, "
                f"{format_bytes(chosen['connection_memory_allocation'])}, is the bound under "
                "churn (--memory allocation budgets with it; docs/memory.md)",
                soft_wrap=True,
                style="dim",
            )

    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        try:
            with open(summary, "a", encoding="utf-8") as stream:
                stream.write(report.decision_markdown(decision, run, verdict) + "\n")
        except OSError as error:
            warn([f"cannot append to GITHUB_STEP_SUMMARY {summary}: {error}"])


def _load_baseline(path: Path, run: Any) -> Any:
    """The ``--baseline`` run, budgeted with the same memory figure as ``run`` (a grid's or a
    Go run's: recommend.with_memory_figure)."""
    from wsztune.recommend import with_memory_figure

    return with_memory_figure(load_run(path, say=False), _memory_figure(run))


def _memory_figure(run: Any) -> str:
    """Which memory the decision budgeted with (see recommend.with_memory_figure)."""
    from wsztune.recommend.constraints import memory_figure

    return memory_figure(run.cells)


def _say_fanout(run: Any, stated: int | None) -> dict[str, Any] | None:
    """The fan-out this recommendation goes by (``--fanout`` over the run's), said on stderr."""
    from wsztune.fanout import describe, stated_over

    broadcast = stated_over(run.meta.get("fanout"), stated)
    if broadcast is not None:
        click.echo(f"wsztune: {describe(broadcast)}", err=True)
    return broadcast


def _fanout_of(broadcast: dict[str, Any] | None) -> int | None:
    """The fan-out a broadcast's peak goes by: the stated K, or the corpus's largest."""
    return None if broadcast is None else int(broadcast["max"])


def _recommend_on_axes(
    run: Any,
    constraints: Any,
    check_text: str | None,
    strict: bool,
    as_json: bool,
    broadcast: dict[str, Any] | None = None,
    baseline: Any = None,
) -> None:
    """A Go run: :func:`wsztune.recommend.recommend_on_axes` (the zlib rule on the library's
    own axes), its table, fleet cost and snippet, ``--check`` in Go's terms, and the chosen
    cell's compress-once mode for a fan-out."""
    import json

    from wsztune import recommend as recommend_module
    from wsztune import report
    from wsztune.fanout import compress_once_summary, describe_compress_once

    warn(report.run_warnings(run))
    try:
        decision, verdict = recommend_module.decide_and_gate_on_axes(
            run, constraints, check_text, strict=strict, baseline=baseline
        )
    except WsztuneError as error:
        raise click.UsageError(str(error)) from None
    chosen = decision.chosen
    once = compress_once_summary(chosen, broadcast) if chosen is not None else None
    if as_json:
        document = recommend_module.axes_decision_json(decision, verdict)
        document["server"] = run.meta.get("server")
        document["results"] = str(run.path) if run.path else None
        document["partial"] = run.partial
        document["fanout"] = broadcast
        document["compress_once"] = once
        click.echo(json.dumps(document, indent=2))
    else:
        from wsztune.console import stdout_console

        console = stdout_console()
        console.print(report.axes_decision_renderable(run, decision, verdict))
        if once is not None:
            console.print(describe_compress_once(once), markup=False, highlight=False)
    _fail_unless_decided(decision, verdict)
