"""The CI gate: is the shipped setting still right, and is it worse than at a baseline?

:func:`check` asks the rule's question of one setting, :func:`gate` adds the baseline and the
strict mode, :func:`check_on_axes` is the same gate on a Go run's own axes, and
:func:`require_complete` refuses to decide on a partial run (exit 4).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from wsztune.errors import PartialRun, WsztuneError
from wsztune.grid import Cell, Slice, axes_key, cell_key, client_mix, made_with
from wsztune.recommend.axes import AxesDecision
from wsztune.recommend.constraints import CONFIDENCE, DEFAULT_MAX_SAVINGS_DROP, time_ratio
from wsztune.recommend.decide import Decision, smallest
from wsztune.recommend.robust import bootstrap, resampling_units
from wsztune.recommend.words import in_points, option_percent, precise_percent, share_percent
from wsztune.results import UNIT_SIZES, Run
from wsztune.text import format_bytes, label


@dataclass(frozen=True)
class Verdict:
    """The CI gate's answer for one shipped setting.

    ``kind`` says why: ``fits`` (passed), ``budget`` or ``time`` (it does not fit), ``better``
    (a cell would be chosen over it: a failure only in strict mode, else ``advice``),
    ``nothing`` (no cell fits), ``regression`` (worse than at the baseline).
    """

    ok: bool
    reason: str
    cell: Cell
    kind: str = "fits"
    # A better setting, said but not failed on (the default, non-strict gate).
    advice: str | None = None
    regression: Regression | None = None
    mode: str = "strict"  # strict, advice or baseline: how the gate was asked to judge


@dataclass(frozen=True)
class Regression:
    """The shipped setting now and at the baseline, each against the smallest output that fits
    in its own run (``gap``: shipped / best - 1). Regressed when the gap grew by more than the
    tolerance (in points) in at least the confidence share of the resamples (paired when both
    runs cut the same corpus into the same units), or on the corpus alone without units."""

    baseline: str  # the baseline run's file
    gap_now: float
    gap_baseline: float
    best_now: str  # the smallest that fits now, as users read it (15:8, level 1)
    best_baseline: str
    savings_now: float
    savings_baseline: float
    memory_now: int
    memory_baseline: int
    tolerance: float
    share: float | None  # resamples in which the gap grew by more than the tolerance
    resamples: int | None
    paired: bool
    regressed: bool  # the gap grew (gap_regressed) or the savings fell (savings_dropped)
    # The traffic itself: the shipped setting's savings fell by more than max_savings_drop
    # (points) in at least the confidence share of the resamples, or on the corpus alone.
    max_savings_drop: float = DEFAULT_MAX_SAVINGS_DROP
    drop_share: float | None = None  # resamples in which the savings fell by more than that
    savings_dropped: bool = False
    gap_regressed: bool = False
    # The best option the shipped setting's knobs or budget rule out, when its lead over the
    # shipped setting moved by more than the tolerance: said, never failed on.
    moved: str | None = None

    @property
    def change(self) -> float:
        """How much the gap grew, as a fraction (0.012: 1.2 points)."""
        return self.gap_now - self.gap_baseline


def require_complete(run: Run, slice_: Slice | None, role: str = "") -> None:
    """Refuse (:class:`PartialRun`, exit 4) to decide on a run that misses cells.

    An interrupted run kept with ``--keep-partial`` may lack the very cell that would win: a
    recommendation or a passed check from it is a wrong answer with exit code 0. ``role``
    prefixes the message (``"--baseline "``). ``--allow-partial`` is the way past, by asking.
    """
    planned = run.meta.get("cells_planned")
    # A run that planned more cells than it holds is partial whatever its flag says (a file
    # edited, or written by another tool). Holes alone are not: a stack's grid need not be a
    # full windowBits x memLevel product.
    short = isinstance(planned, int) and planned > len(run.cells)
    if not run.partial and not short:
        return
    missing = slice_.missing if slice_ is not None else []  # None: a Go run, no grid
    name = f"{role}{run.path}" if run.path is not None else f"{role}the run".lstrip()
    if missing:
        shown = ", ".join(label(key) for key in missing[:10])
        if len(missing) > 10:
            shown += f" and {len(missing) - 10} more"
        size = len(slice_.window_bits) * len(slice_.mem_levels)
        gap = f"{len(missing)} of {size} cells were never measured ({shown})"
    else:
        done, planned = len(run.cells), run.meta.get("cells_planned", "?")
        gap = f"only {done} of {planned} cells were measured"
    raise PartialRun(
        f"{name} is a partial run: {gap}; the best cell may be among those missing, so no "
        "decision is made: sweep again to the end, or pass --allow-partial to decide on the "
        "cells measured"
    )


def check(decision: Decision, window_bits: int, mem_level: int, tolerance: float) -> Verdict:
    """Is the shipped ``window_bits:mem_level`` still right?

    The same logic as the recommendation: ``ok`` when it fits the constraints and its output
    stays within ``tolerance`` of the smallest output that fits in at least the confidence
    share (95%) of the resamples; without resampling data, within ``tolerance`` on this corpus.
    A setting outside the run's grid is a usage error (:class:`WsztuneError`), not a failure.
    """
    cell = _grid_cell(decision.slice, window_bits, mem_level)
    name = label(cell)
    constraints, reference = decision.constraints, decision.reference
    over = _over_budget(cell, name, constraints)
    if over is not None:
        return over
    if constraints.max_time_ratio is not None and reference is not None:
        ratio = time_ratio(cell, reference)
        if ratio > constraints.max_time_ratio:
            return Verdict(
                False,
                f"{name} compresses {ratio:.2f}x as slowly as {label(reference)}, over the "
                f"{constraints.max_time_ratio:g}x limit",
                cell,
                "time",
            )
    if decision.chosen is None or decision.best is None:
        return Verdict(False, decision.reason, cell, "nothing")
    return _judged(decision, cell, tolerance)


def _grid_cell(slice_: Slice, window_bits: int, mem_level: int) -> Cell:
    """The measured cell ``--check`` names; a setting the run did not measure, or no setting
    at all, is a usage error that says which."""
    cell = slice_.get((window_bits, mem_level))
    if cell is not None:
        return cell
    hint = "; sweep it with wsztune run --window-bits/--mem-level"
    if window_bits in slice_.window_bits and mem_level in slice_.mem_levels:
        problem = "was not measured in this (partial) run"
    elif 8 <= window_bits <= 15 and 1 <= mem_level <= 9:
        problem = "is outside this run's grid"
    else:
        raise WsztuneError(
            f"--check {window_bits}:{mem_level} is not a setting: windowBits goes from 8 to "
            f"15 and memLevel from 1 to 9 (this run measured {slice_.grid_description})"
        )
    raise WsztuneError(
        f"--check {window_bits}:{mem_level} {problem} ({slice_.grid_description}){hint}"
    )


def _over_budget(cell: Cell, name: str, constraints: Any, mode: str = "strict") -> Verdict | None:
    """The failure of a setting over the memory budget, or None when it fits."""
    budget = constraints.max_memory
    if budget is None or cell["connection_memory"] <= budget:
        return None
    return Verdict(
        False,
        f"{name} needs {format_bytes(cell['connection_memory'])} per connection, over the "
        f"{format_bytes(budget)} budget",
        cell,
        "budget",
        mode=mode,
    )


def _judged(decision: Decision, cell: Cell, tolerance: float) -> Verdict:
    """A setting that fits, against the smallest output that fits: within ``tolerance`` in the
    confidence share of the resamples (or on this corpus without them), or a better setting."""
    chosen, best, robustness = decision.chosen, decision.best, decision.robustness
    assert chosen is not None and best is not None
    name, within = label(cell), option_percent(tolerance)
    change = cell["compressed_bytes"] / best["compressed_bytes"] - 1
    if robustness is not None and tolerance == decision.constraints.tolerance:
        share = robustness.of(cell) or 0.0
        needed = option_percent(robustness.confidence)
        if share < robustness.confidence - 1e-9:
            return Verdict(
                False,
                f"{name}'s output is within {within} of the smallest that fits ({label(best)}) "
                f"in only {share_percent(share)} of {robustness.resamples:,} resamples (needs "
                f"{needed}; {change:+.2%} on this corpus); {label(chosen)} is recommended",
                cell,
                "better",
            )
        how = f"in {share_percent(share)} of {robustness.resamples:,} resamples (needs {needed})"
    elif change > tolerance:
        return Verdict(
            False,
            f"{name}'s output is {precise_percent(change)} larger than the smallest that "
            f"fits, {label(best)}'s (tolerance {within}); {label(chosen)} is recommended",
            cell,
            "better",
        )
    else:
        how = f"on this corpus ({change:+.2%}; no resampling data)"
    cliff = decision.cliffs.get(cell_key(cell))
    tail = f"; note: it sits on a cliff edge ({cliff.reason})" if cliff is not None else ""
    return Verdict(
        True,
        f"{name} fits ({format_bytes(cell['connection_memory'])} per connection) and its output "
        f"is within {within} of the smallest that fits ({label(best)}) {how}{tail}",
        cell,
    )


def gate(
    decision: Decision,
    window_bits: int,
    mem_level: int,
    tolerance: float,
    *,
    strict: bool = False,
    baseline: Decision | None = None,
    baseline_name: str = "the baseline",
) -> Verdict:
    """The CI gate: two questions answered apart.

    1. Does the shipped setting still fit (budget, time ratio)? If not: a failure.
    2. With a ``baseline`` decision (the same constraints on a saved run): has the shipped
       setting become worse than it was there, by more than ``tolerance``? If so: a failure
       (``regression``). Worse means its output against the smallest output that fits, in each
       run: a corpus that compresses less overall moves every cell alike and fails nothing.
    3. Is there a better setting (:func:`check`'s rule)? Advice, exit 0; a failure only when
       ``strict`` (wsztune's original gate).
    """
    verdict = check(decision, window_bits, mem_level, tolerance)
    mode = "baseline" if baseline is not None else ("strict" if strict else "advice")
    verdict = replace(verdict, mode=mode)
    if not verdict.ok and verdict.kind != "better":
        return verdict  # it does not fit, or nothing does: no question of better or worse
    advice = None
    if verdict.kind == "better":
        if strict:
            return verdict
        advice = verdict.reason
    cell = verdict.cell
    if baseline is None:
        if advice is None:
            return verdict
        chosen = decision.chosen
        reason = (
            f"{label(cell)} fits ({format_bytes(cell['connection_memory'])} per connection); "
            f"{label(chosen) if chosen else 'another cell'} would be chosen today (advice, "
            "not a failure; --strict fails on it)"
        )
        return replace(verdict, ok=True, reason=reason, kind="fits", advice=advice)
    regression = compare_with_baseline(decision, baseline, cell, tolerance, baseline_name)
    regressed = regression.regressed
    return replace(
        verdict,
        ok=not regressed,
        reason=_regression_words(label(cell), regression),
        kind="regression" if regressed else "fits",
        advice=advice,
        regression=regression,
    )


def compare_with_baseline(
    decision: Decision, baseline: Decision, cell: Cell, tolerance: float, name: str
) -> Regression:
    """The shipped ``cell`` now (``decision``) and at the ``baseline``: see :class:`Regression`.

    Two questions: did the shipped setting lose ground against the smallest output that fits
    (its gap grew), and did the traffic itself become less compressible for it (its savings
    fell by more than ``max_savings_drop``)? The first fails a setting that a better one has
    overtaken; the second fails a change of traffic even when the setting is its own best."""
    ours, theirs = decision.slice, baseline.slice
    require_same_question(name, (ours.server, ours.client), (theirs.server, theirs.client))
    key = cell_key(cell)
    then = baseline.slice.get(key)
    if then is None:
        raise WsztuneError(
            f"--baseline {name} did not measure {label(key)} "
            f"({baseline.slice.grid_description}); save a baseline run that includes it"
        )
    if decision.best is None or all(c is not then for c in baseline.feasible):
        over = format_bytes(then["connection_memory"])
        raise WsztuneError(
            f"--baseline {name}: {label(key)} ({over} per connection there) does not fit the "
            "same constraints at the baseline, so it cannot say how good it was; check the "
            "budget, or save a new baseline"
        )
    now_cells, then_cells = _common_cells(decision.feasible, baseline.feasible, cell_key)
    return _regression(
        (now_cells, then_cells), (cell, then),
        (resampling_units(decision.slice, now_cells), resampling_units(baseline.slice, then_cells)),
        decision.constraints, tolerance, name, label,
        moved=_moved_outside(decision, baseline, cell, then, tolerance),
    )  # fmt: skip


def _common_cells(
    now: list[Cell], then: list[Cell], key: Callable[[Cell], Any]
) -> tuple[list[Cell], list[Cell]]:
    """The cells of ``now`` and of ``then`` whose ``key`` both runs have, now's in their order
    and then's in the same order (cell for cell). Only the cells both runs measured and that fit
    in both compete: a cell added to today's grid (or dropped from it) would otherwise move the
    bar and read as the shipped setting's change."""
    keys_then = {key(c) for c in then}
    now_cells = [c for c in now if key(c) in keys_then]
    order = {key(c): i for i, c in enumerate(now_cells)}
    then_cells = sorted((c for c in then if key(c) in order), key=lambda c: order[key(c)])
    return now_cells, then_cells


def _regression(
    cells: tuple[list[Cell], list[Cell]],
    shipped: tuple[Cell, Cell],
    raw: tuple[list[int] | None, list[int] | None],
    constraints: Any,
    tolerance: float,
    name: str,
    name_of: Callable[[Any], str],
    moved: str | None = None,
) -> Regression:
    """:class:`Regression` of the shipped cell (now, then) among the cells both runs measured
    and that fit in both (now's, then's, in the same order), resampled over each run's units
    (``raw``: raw bytes per unit, None without) when both have them, else on the corpus."""
    now_cells, then_cells = cells
    cell, then = shipped
    best_now, best_then = smallest(now_cells), smallest(then_cells)
    gap_now = cell["compressed_bytes"] / best_now["compressed_bytes"] - 1
    gap_then = then["compressed_bytes"] / best_then["compressed_bytes"] - 1
    max_drop = constraints.max_savings_drop
    judged = _resampled_change(cells, shipped, raw, constraints, tolerance)
    if judged is None:
        share = drop_share = resamples = None
        paired = False
        gap_regressed = gap_now - gap_then > tolerance + 1e-12
        savings_dropped = then["savings"] - cell["savings"] > max_drop + 1e-12
    else:
        share, drop_share, paired = judged
        resamples = constraints.resamples
        gap_regressed = share >= constraints.confidence - 1e-9
        savings_dropped = drop_share >= constraints.confidence - 1e-9
    return Regression(
        baseline=name,
        gap_now=gap_now,
        gap_baseline=gap_then,
        best_now=name_of(best_now),
        best_baseline=name_of(best_then),
        savings_now=cell["savings"],
        savings_baseline=then["savings"],
        memory_now=cell["connection_memory"],
        memory_baseline=then["connection_memory"],
        tolerance=tolerance,
        share=share,
        resamples=resamples,
        paired=paired,
        regressed=gap_regressed or savings_dropped,
        max_savings_drop=max_drop,
        drop_share=drop_share,
        savings_dropped=savings_dropped,
        gap_regressed=gap_regressed,
        moved=moved,
    )


def _resampled_change(
    cells: tuple[list[Cell], list[Cell]],
    shipped: tuple[Cell, Cell],
    raw: tuple[list[int] | None, list[int] | None],
    constraints: Any,
    tolerance: float,
) -> tuple[float, float, bool] | None:
    """With resampling units in both runs: the share of resamples in which the shipped
    setting's gap grew by more than ``tolerance``, the share in which its savings fell by more
    than ``max_savings_drop``, and whether the draws were paired. None without the units."""
    raw_now, raw_then = raw
    if raw_now is None or raw_then is None:
        return None
    import numpy

    # The same units (the same corpus, cut alike): the same draws for both, so that only
    # the runs differ, not the luck of the draw. Otherwise independent draws.
    paired = raw_now == raw_then
    seed = constraints.seed
    gaps, savings = [], []
    for run_cells, run_shipped, run_raw, draw_seed in (
        (cells[0], shipped[0], raw_now, seed),
        (cells[1], shipped[1], raw_then, seed if paired else seed + 1),
    ):
        _, totals, raw_totals = bootstrap(
            run_cells, run_raw, constraints.tolerance, constraints.resamples, draw_seed
        )
        index = next(i for i, c in enumerate(run_cells) if c is run_shipped)
        with numpy.errstate(divide="ignore", invalid="ignore"):
            gaps.append(totals[:, index] / totals.min(axis=1) - 1)
            savings.append(1 - totals[:, index] / raw_totals)
    share = float(numpy.mean(gaps[0] - gaps[1] > tolerance + 1e-12))
    drop = constraints.max_savings_drop
    drop_share = float(numpy.mean(savings[1] - savings[0] > drop + 1e-12))
    return share, drop_share, paired


def require_same_question(
    name: str, now: tuple[str | None, str | None], then: tuple[str | None, str | None]
) -> None:
    """Refuse a baseline (``name``) made for another stack or another client mix: ``now`` and
    ``then`` are each run's (server, client). Its figures answer another question (other knobs,
    other frames on the wire), so any change would be read as the traffic's. The clients are
    compared as a mix (:func:`~wsztune.grid.client_mix`): one mix saved in another order is the
    same question. A different codec is the caller's to flag: it may be the change to watch."""
    (server, client), (server_then, client_then) = now, then
    for option, ours, theirs, same in (
        ("--server", server, server_then, server == server_then),
        ("--client", client, client_then, client_mix(client) == client_mix(client_then)),
    ):
        if not same:
            raise WsztuneError(
                f"--baseline {name} was made with {made_with(option, theirs)}, this run with "
                f"{made_with(option, ours)}: they answer different questions; re-make the "
                f"baseline with the same {option}"
            )


def _moved_outside(
    decision: Decision, baseline: Decision, cell: Cell, then: Cell, tolerance: float
) -> str | None:
    """The best option outside the budget or the stack's knobs, when its lead over the shipped
    setting (in savings points) moved by more than ``tolerance`` since the baseline: what a team
    would want to hear when its traffic changed ("15:8 (uvicorn --ws websockets) would now
    save 92.8%"). None when nothing moved, or nothing lies outside."""
    fits = {cell_key(c) for c in decision.feasible}
    outside = [c for c in decision.slice.cells.values() if cell_key(c) not in fits]
    if not outside:
        return None
    best = smallest(outside)
    best_then = baseline.slice.get(cell_key(best))
    if best_then is None:
        return None
    lead_now = best["savings"] - cell["savings"]
    lead_then = best_then["savings"] - then["savings"]
    if abs(lead_now - lead_then) <= tolerance + 1e-12:
        return None
    roles = [role for role, row in decision.stack_rows if row is best and role != "off"]
    name = label(best) + (f" ({_role_title(roles[0])})" if roles else "")
    budget = decision.constraints.max_memory
    over = budget is not None and best["connection_memory"] > budget
    why = "over the budget" if over else "outside the stack's knobs"
    return (
        f"{name}, {why}, would now save {precise_percent(best['savings'])} against "
        f"{label(cell)}'s {precise_percent(cell['savings'])} (at the baseline "
        f"{precise_percent(best_then['savings'])} against {precise_percent(then['savings'])})"
    )


def _role_title(role: str) -> str:
    """A stack row's role (``uvicorn-websockets``) as the stack's title, else as it is."""
    from wsztune.stacks import STACKS

    stack = STACKS.get(role)
    return stack.title if stack is not None else role


def _regression_words(name: str, r: Regression) -> str:
    points = r.change * 100
    now = f"{precise_percent(r.gap_now)} larger than the smallest that fits ({r.best_now})"
    then = (
        f"{precise_percent(r.gap_baseline)} ({r.best_baseline}) at the baseline "
        f"{r.baseline}"
    )
    if r.share is not None:
        how = (
            f"worse by more than {in_points(r.tolerance)} (--tolerance) in "
            f"{share_percent(r.share)} of {r.resamples:,} resamples (fails at "
            f"{option_percent(CONFIDENCE)})"
        )
    else:
        how = (
            f"against --tolerance {in_points(r.tolerance)} on the corpus alone (no resampling "
            "data)"
        )
    if r.gap_regressed:
        verdict = "became worse"
    elif r.change > r.tolerance:
        verdict = "looks worse than at the baseline, but not reliably"
    elif r.change > 0:
        verdict = "is within --tolerance of the baseline"
    else:
        verdict = "is as good as at the baseline"
    gap = f"{name} {verdict}: {now} now, {then}: {points:+.2f} points; {how}"
    drop = _savings_words(r)
    words = (
        f"{name}'s savings fell since the baseline: {drop}. Against the other cells: {gap}"
        if r.savings_dropped
        else f"{gap}. Savings: {drop}"
    )
    return words + (f". Meanwhile {r.moved}" if r.moved else "")


def _savings_words(r: Regression) -> str:
    """The shipped setting's savings now and at the baseline, and how the drop was judged."""
    change = (r.savings_now - r.savings_baseline) * 100
    if r.drop_share is not None:
        how = (
            f"fell by more than {in_points(r.max_savings_drop)} (--max-savings-drop) in "
            f"{share_percent(r.drop_share)} of {r.resamples:,} resamples (fails at "
            f"{option_percent(CONFIDENCE)})"
        )
    else:
        how = (
            f"against --max-savings-drop {in_points(r.max_savings_drop)} on the corpus alone "
            "(no resampling data)"
        )
    return (
        f"{precise_percent(r.savings_now)} now, {precise_percent(r.savings_baseline)} at the "
        f"baseline ({change:+.2f} points); {how}"
    )


@dataclass(frozen=True)
class AxesBaseline:
    """A saved Go run to gate ``--check`` against: its decision under the same constraints,
    the raw bytes of each run's resampling units (None without), and its file's name."""

    decision: AxesDecision
    raw_now: list[int] | None
    raw_then: list[int] | None
    name: str


def check_on_axes(
    decision: AxesDecision,
    wanted: dict[str, Any],
    tolerance: float,
    *,
    strict: bool = False,
    baseline: AxesBaseline | None = None,
) -> Verdict:
    """:func:`gate` for a Go setting (``wanted``, from :func:`parse_axes_setting`): a failure
    when it does not fit the budget or the time ratio; when another setting would be chosen
    (not within ``tolerance`` of the smallest in the confidence share of the resamples),
    advice, or a failure with ``strict``; with a ``baseline``, a failure when the setting
    became worse than there (:func:`compare_on_axes`). A setting the run did not measure:
    WsztuneError."""
    verdict = _check_on_axes(decision, wanted, tolerance, strict=strict)
    if baseline is None or (not verdict.ok and verdict.kind != "better") or (
        strict and verdict.kind == "better"
    ):
        return verdict
    cell = verdict.cell
    regression = compare_on_axes(decision, baseline, cell, tolerance)
    return replace(
        verdict,
        ok=not regression.regressed,
        reason=_regression_words(decision.name(cell), regression),
        kind="regression" if regression.regressed else "fits",
        mode="baseline",
        regression=regression,
    )


def compare_on_axes(
    decision: AxesDecision, baseline: AxesBaseline, cell: Cell, tolerance: float
) -> Regression:
    """:func:`compare_with_baseline` on a Go run's own axes: the shipped ``cell`` against the
    smallest that fits, now and in the baseline run, among the settings both measured and that
    fit in both."""
    then_decision, name = baseline.decision, baseline.name

    def key(c: Cell) -> tuple:
        return axes_key(c, decision.axes)

    then = next((c for c in then_decision.cells if key(c) == key(cell)), None)
    shown = decision.name(cell)
    if then is None:
        raise WsztuneError(
            f"--baseline {name} did not measure {shown}; save a baseline run that includes it"
        )
    if decision.best is None or all(c is not then for c in then_decision.feasible):
        raise WsztuneError(
            f"--baseline {name}: {shown} does not fit the same constraints at the baseline, so "
            "it cannot say how good it was; check the budget, or save a new baseline"
        )
    now_cells, then_cells = _common_cells(
        [c for c in decision.feasible if c is not decision.off],
        [c for c in then_decision.feasible if c is not then_decision.off],
        key,
    )
    if cell is decision.off:  # off against off: nothing to lose ground to, savings 0 both
        now_cells, then_cells = [cell, *now_cells], [then, *then_cells]
    units = baseline.raw_now, baseline.raw_then
    resampled = all(UNIT_SIZES in c for c in (*now_cells, *then_cells))
    return _regression(
        (now_cells, then_cells), (cell, then), units if resampled else (None, None),
        decision.constraints, tolerance, name, decision.name,
    )  # fmt: skip


def _check_on_axes(
    decision: AxesDecision, wanted: dict[str, Any], tolerance: float, *, strict: bool = False
) -> Verdict:
    """:func:`check_on_axes` without a baseline."""
    cell = _checked_cell(decision, wanted)
    name = decision.name(cell)
    constraints = decision.constraints
    mode = "strict" if strict else "advice"
    over = _over_budget(cell, name, constraints, mode)
    if over is not None:
        return over
    default = decision.default
    if constraints.max_time_ratio is not None and default is not None and cell is not decision.off:
        ratio = time_ratio(cell, default) or 0.0
        if ratio > constraints.max_time_ratio:
            return Verdict(
                False,
                f"{name} compresses {ratio:.2f}x as slowly as the default "
                f"({decision.name(default)}), over the {constraints.max_time_ratio:g}x limit",
                cell, "time", mode=mode,
            )  # fmt: skip
    if decision.chosen is None or decision.best is None:
        return Verdict(False, decision.reason, cell, "nothing", mode=mode)
    return _judged_on_axes(decision, cell, tolerance, mode)


def _judged_on_axes(decision: AxesDecision, cell: Cell, tolerance: float, mode: str) -> Verdict:
    """A Go setting that fits, against the smallest output that fits; another setting would
    be chosen: a failure in strict mode, else advice."""
    chosen, best, robustness = decision.chosen, decision.best, decision.robustness
    assert chosen is not None and best is not None
    name = decision.name(cell)
    within = option_percent(tolerance)
    change = cell["compressed_bytes"] / best["compressed_bytes"] - 1
    if robustness is not None:
        share = robustness.share.get(name, 0.0)
        needed = option_percent(robustness.confidence)
        good = share >= robustness.confidence - 1e-9
        how = f"in {share_percent(share)} of {robustness.resamples:,} resamples (needs {needed})"
        if not good:
            how = f"in only {how.removeprefix('in ')}; {change:+.2%} on this corpus"
    else:
        good = change <= tolerance
        how = f"on this corpus ({precise_percent(change)}; no resampling data)"
    fits_words = f"{name} fits ({format_bytes(cell['connection_memory'])} per connection)"
    if good:
        return Verdict(
            True,
            f"{fits_words} and its output is within {within} of the smallest that fits "
            f"({decision.name(best)}) {how}",
            cell, mode=mode,
        )  # fmt: skip
    better = (
        f"{name}'s output is not within {within} of the smallest that fits "
        f"({decision.name(best)}) {how}; {decision.name(chosen)} is recommended"
    )
    if mode == "strict":
        return Verdict(False, better, cell, "better", mode=mode)
    return Verdict(
        True,
        f"{fits_words}; {decision.name(chosen)} would be chosen today (advice, not a failure; "
        "--strict fails on it)",
        cell, "fits", advice=better, mode=mode,
    )  # fmt: skip


def _checked_cell(decision: AxesDecision, wanted: dict[str, Any]) -> Cell:
    """The cell ``wanted`` names: its axes as given, the others at the stack's default."""
    if wanted.get("compression") is False:
        if decision.off is None:
            raise WsztuneError("--check off: this run cannot show compression off")
        return decision.off
    measured = [cell for cell in decision.cells if cell is not decision.off]
    base = decision.default or {}
    matching = [
        cell
        for cell in measured
        if all(cell.get(axis) == value for axis, value in wanted.items())
        and all(
            cell.get(axis) == base.get(axis)
            for axis in decision.axes
            if axis not in wanted and axis in base
        )
    ]
    if len(matching) == 1:
        return matching[0]
    settings = "; ".join(decision.name(cell) for cell in measured)
    shown = ",".join(f"{axis}={value}" for axis, value in wanted.items())
    problem = "names several settings" if matching else "was not measured in this run"
    raise WsztuneError(
        f"--check {shown} {problem} (it has: {settings}, off); name its "
        f"{', '.join(decision.axes)}"
    )
