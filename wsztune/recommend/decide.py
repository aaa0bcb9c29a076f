"""The rule: which cell to ship for a budget, decided on a slice of a windowBits x memLevel run.

In order:

1. feasible cells fit the memory budget (``connection_memory``: compressor + decompressor,
   observed) and, if given, the compress-time ratio against the reference cell;
2. ``best`` is the feasible cell with the smallest compressed size;
3. robustness, from the data (:mod:`wsztune.recommend.robust`): each feasible cell's share of
   bootstrap resamples in which its output stays within ``tolerance`` of the smallest;
4. the least connection memory (then compress time) among the feasible cells that stay within
   ``tolerance`` of it in at least :data:`~wsztune.recommend.constraints.CONFIDENCE` (95%) of
   the resamples wins.

A cliff edge (one step down in windowBits or memLevel compresses more than ``cliff`` worse) is
only explained, never a reason to spend memory: on corpora where every step costs 10-20%, every
cell is "on a cliff" and avoiding them bought the largest setting for nothing. A run without
units (schema ``wsztune.run/1``) falls back to the same rule on the corpus alone, and says so.
With ``objective="cost"`` the feasible cell of least monthly fleet cost wins instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wsztune.errors import WsztuneError
from wsztune.grid import Cell, Key, Slice, cell_key, select_slice, settable_cells
from wsztune.recommend.constraints import OBJECTIVES, Constraints, time_ratio
from wsztune.recommend.cost import Fleet, fleet_costs
from wsztune.recommend.explain import (
    budget_words,
    explain_nothing_fits,
    explanation_lines,
    fleet_lines,
    nearest_over,
    schema_of,
    settable_words,
    stack_lines,
)
from wsztune.recommend.robust import (
    FEW_UNITS,
    Robustness,
    resample,
    resampling_units,
    settle_factor_of,
    with_interval,
)
from wsztune.recommend.threshold import ThresholdAdvice, threshold_advice
from wsztune.recommend.words import option_percent, percent, share_percent
from wsztune.results import Run
from wsztune.text import format_bytes, label, plural


@dataclass(frozen=True)
class Cliff:
    """A cell on a cliff edge: its lower neighbour compresses ``worse_by`` worse."""

    cell: Cell
    neighbour: Cell
    worse_by: float

    @property
    def reason(self) -> str:
        """``one step down, 10:4 compresses 90% worse``."""
        return f"one step down, {label(self.neighbour)} compresses {percent(self.worse_by)} worse"


@dataclass
class Decision:
    """The outcome of :func:`recommend`: what was chosen, from what, and why."""

    chosen: Cell | None
    best: Cell | None
    candidates: list[Cell]
    warnings: list[str]
    explanation: list[str]
    reference: Cell | None
    snippets: dict[str, tuple[str, str]]
    reason: str
    constraints: Constraints
    slice: Slice
    feasible: list[Cell] = field(default_factory=list)
    closest: Cell | None = None
    fleet: list[str] = field(default_factory=list)
    cliffs: dict[Key, Cliff] = field(default_factory=dict)
    threshold: ThresholdAdvice | None = None
    robustness: Robustness | None = None
    # Cheaper than the chosen cell and within tolerance on this corpus, but not robust.
    fragile: list[Cell] = field(default_factory=list)
    # For the cheapest fragile cell: how many times this much traffic (of the same kind) the
    # resampling would need to hold it within tolerance in the confidence share of resamples.
    settle_factor: float | None = None
    costs: Fleet | None = None
    # With a stack (--server): rows worth seeing beside the decision, (role, cell): compression
    # off, and the defaults of the nearest alternatives (another uvicorn backend).
    stack_rows: list[tuple[str, Cell]] = field(default_factory=list)

    @property
    def slice_description(self) -> str:
        """The level/strategy/takeover slice the decision was made on."""
        return self.slice.description


def cliff_edges(slice_: Slice, cliff: float) -> dict[Key, Cliff]:
    """Every cell on a cliff edge, with its worst lower neighbour."""
    edges: dict[Key, Cliff] = {}
    for key, cell in slice_.cells.items():
        worst: Cliff | None = None
        for axis in (0, 1):
            below_key = slice_.step_down(key, axis)
            below = slice_.get(below_key) if below_key is not None else None
            if below is None:
                continue
            worse_by = below["compressed_bytes"] / cell["compressed_bytes"] - 1
            if worse_by > cliff and (worst is None or worse_by > worst.worse_by):
                worst = Cliff(cell, below, worse_by)
        if worst is not None:
            edges[key] = worst
    return edges


def rule_order(cell: Cell) -> tuple[int, float, int]:
    # The rule's order among candidates: least connection memory, then least compress time
    # (in a --no-timing run no time was measured: every cell counts alike, 0).
    seconds = cell["compress_seconds"]
    return (
        cell["connection_memory"],
        0.0 if seconds is None else seconds,
        cell["compressed_bytes"],
    )


def memory_resolution(cell: Cell) -> float:
    # What the cell's memory figure resolves (node: RSS-based); 0 for counted allocations.
    return float(cell.get("memory_resolution") or 0)


def memory_ties(candidates: list[Cell]) -> list[Cell]:
    """The candidates whose connection memory is within the measurement's resolution of the
    least (``memory_resolution``: node's RSS-based figures): a difference that small is noise,
    not a ranking. Exact figures (resolution 0) tie only with an equal figure."""
    least = min(candidates, key=rule_order)
    return [
        cell
        for cell in candidates
        if cell["connection_memory"] - least["connection_memory"]
        <= max(memory_resolution(cell), memory_resolution(least))
    ]


def preference_order(cell: Cell) -> tuple:
    # The stack's preference among cells the memory cannot tell apart: the smaller memLevel,
    # then the smaller window (each costs memory everywhere else), then the rule's order.
    return (cell["mem_level"], cell["window_bits"], cell["client_window_bits"], *rule_order(cell))


def least_memory(candidates: list[Cell]) -> Cell:
    """The rule's pick among ``candidates``: the least connection memory (then compress time);
    cells tied within the measurement's resolution (:func:`memory_ties`) are decided by
    preference (smaller memLevel, then smaller window), never by the noise between them."""
    tied = memory_ties(candidates)
    if len(tied) > 1 and any(memory_resolution(cell) for cell in tied):
        return min(tied, key=preference_order)
    return min(candidates, key=rule_order)


def recommend(source: Run | Slice, constraints: Constraints | None = None) -> Decision:
    """Choose a setting from a run (its default slice) or from one slice of it.

    With the default objective (``memory``): among the feasible cells, the least connection
    memory whose output stays within ``tolerance`` of the smallest feasible output in at least
    ``confidence`` (95%) of ``resamples`` bootstrap resamples of the corpus's units. A run with
    no units (schema 1) falls back to the same rule on this corpus alone, and says so. With
    ``cost``: the feasible cell of least monthly cost for the fleet.
    """
    constraints = constraints or Constraints()
    slice_ = select_slice(source) if isinstance(source, Run) else source
    stack = _stack_of(slice_)
    cells = sorted(
        (settable_cells(slice_) if stack is not None else slice_.cells).values(), key=cell_key
    )
    if stack is not None and not cells and stack.defaults.enabled:
        raise WsztuneError(
            f"this run has no cell {stack.title} can be set to ({settable_words(stack, slice_)}"
            f", {slice_.description}); sweep it with wsztune run --server {stack.name}"
        )
    reference = slice_.get(constraints.reference)
    _check_constraints(constraints, cells, reference, slice_)

    def fits(cell: Cell) -> bool:
        budget = constraints.max_memory
        if budget is not None and cell["connection_memory"] > budget:
            return False
        if constraints.max_time_ratio is not None and reference is not None:
            return time_ratio(cell, reference) <= constraints.max_time_ratio
        return True

    feasible = [cell for cell in cells if fits(cell)]
    off = slice_.off
    if (
        stack is not None
        and off is not None
        and stack.settable(off)
        and constraints.objective == "memory"
        and fits(off)
    ):
        # Compression off is a choice of every stack that can turn it off: it wins only when no
        # compressed cell fits, or when compressing does not pay within the tolerance.
        feasible.append(off)
    cliffs = _cliffs(slice_, constraints.cliff, cells if stack is not None else None)
    decision = Decision(
        chosen=None,
        best=None,
        candidates=[],
        warnings=[],
        explanation=[],
        reference=reference,
        snippets={},
        reason="",
        constraints=constraints,
        slice=slice_,
        feasible=feasible,
        cliffs=cliffs,
    )
    fleet = fleet_costs(slice_.corpus, cells, constraints) if constraints.connections else None
    decision.costs = fleet
    if constraints.objective == "cost":
        if fleet is None:
            raise WsztuneError("--objective cost needs --connections N (the fleet to price)")
        if fleet.rate is None:
            raise WsztuneError(
                "--objective cost needs a message rate: pass --messages-per-second, or sweep a "
                "records corpus with timestamps"
            )
    budget = budget_words(constraints, reference)
    if constraints.max_memory is not None:
        edge = _budget_edge(cells, constraints.max_memory)
        if edge:
            decision.warnings.append(edge)
    if not feasible:
        return explain_nothing_fits(decision, cells, budget)

    best = min(feasible, key=lambda c: (c["compressed_bytes"], c["connection_memory"], cell_key(c)))
    limit = best["compressed_bytes"] * (1 + constraints.tolerance)
    within_here = [cell for cell in feasible if cell["compressed_bytes"] <= limit]
    raw = resampling_units(slice_, feasible)
    robustness = None
    if raw is not None:
        robustness, candidates, totals, raw_totals = resample(feasible, raw, constraints)
        if len(raw) < FEW_UNITS:
            decision.warnings.append(
                f"the corpus has only {plural(len(raw), 'resampling unit')} (streams and blocks "
                "of messages): the robustness figures are rough; record more connections"
            )
    else:
        candidates = within_here
        decision.warnings.append(
            "this run has no resampling data (results schema "
            f"{schema_of(slice_)}, or a tool that keeps no per-unit sizes): the choice rests "
            f"on this corpus alone, with no check that it holds on other traffic; run "
            "`wsztune run` again for one"
        )
    chosen, reason, tie_line = _choose(decision, candidates, robustness, best, fleet)
    if robustness is not None:
        index = next(i for i, cell in enumerate(feasible) if cell is chosen)
        robustness = with_interval(robustness, totals, raw_totals, index)
        decision.fragile = _fragile(within_here, candidates, chosen)
        if decision.fragile:
            decision.settle_factor = settle_factor_of(
                decision.fragile[0], feasible, totals, best, constraints
            )
    decision.robustness = robustness
    decision.chosen, decision.best = chosen, best
    decision.candidates, decision.reason = sorted(candidates, key=rule_order), reason
    counted = len(cells) + any(cell is off for cell in feasible)  # off counts as a cell
    decision.explanation = explanation_lines(decision, budget, counted)
    if tie_line:
        decision.explanation.append(tie_line)
    if stack is not None:
        _add_stack_notes(decision, stack, cells, off)
    _configure(decision, stack)
    return decision


def _choose(
    decision: Decision,
    candidates: list[Cell],
    robustness: Robustness | None,
    best: Cell,
    fleet: Fleet | None,
) -> tuple[Cell, str, str]:
    """The objective's choice among the feasible cells: ``(chosen, reason, tie_line)``; the
    cheapest per month (``cost``), else the least memory among the robust candidates, else
    (no candidate) the most robust cell, with a warning."""
    feasible, constraints = decision.feasible, decision.constraints
    tolerance = option_percent(constraints.tolerance)
    tie_line = ""
    if constraints.objective == "cost":
        assert fleet is not None
        by_cell = {id(cost.cell): cost for cost in fleet.costs}
        chosen = min(
            feasible,
            key=lambda c: (by_cell[id(c)].total, c["connection_memory"], cell_key(c)),
        )
        reason = (
            f"{label(chosen)}: the least monthly cost for {fleet.connections:,} connections at "
            f"{fleet.rate:,.0f} messages/s among the cells that fit"
        )
    elif candidates:
        chosen = least_memory(candidates)
        tied = memory_ties(candidates)
        if len(tied) > 1 and any(memory_resolution(cell) for cell in tied):
            tie_line = (
                f"{', '.join(label(cell) for cell in sorted(tied, key=preference_order))} need "
                f"the same memory within what the measurement resolves (+-"
                f"{format_bytes(max(memory_resolution(cell) for cell in tied))}): a tie, decided "
                f"by preference (the smaller memLevel, then the smaller window): {label(chosen)}."
            )
        if robustness is not None:
            reason = (
                f"{label(chosen)}: the least memory ({format_bytes(chosen['connection_memory'])}) "
                f"whose output stays within {tolerance} of the smallest that fits in at least "
                f"{option_percent(constraints.confidence)} of {constraints.resamples:,} "
                "resamples of the corpus"
            )
        else:
            reason = (
                f"{label(chosen)}: the least memory ({format_bytes(chosen['connection_memory'])}) "
                f"within {tolerance} of the smallest output that fits ({label(best)})"
            )
    else:
        assert robustness is not None
        chosen = max(feasible, key=lambda c: (robustness.of(c), [-v for v in rule_order(c)]))
        decision.warnings.append(
            f"no cell stays within {tolerance} of the smallest output in "
            f"{option_percent(constraints.confidence)} of the resamples: recommending the most "
            f"robust, {label(chosen)} ({share_percent(robustness.of(chosen) or 0)}); raise "
            "--tolerance or measure a larger corpus"
        )
        reason = f"{label(chosen)}: the most often within {tolerance} of the smallest output"
    return chosen, reason, tie_line


def _cliffs(slice_: Slice, cliff: float, settable: list[Cell] | None) -> dict[Key, Cliff]:
    """:func:`cliff_edges`; with a stack, only those between cells it can be set to (a cliff
    to a cell the stack cannot be set to says nothing)."""
    cliffs = cliff_edges(slice_, cliff)
    if settable is None:
        return cliffs
    keys = {cell_key(cell) for cell in settable}
    return {
        key: edge
        for key, edge in cliffs.items()
        if key in keys and cell_key(edge.neighbour) in keys
    }


def _check_constraints(
    constraints: Constraints, cells: list[Cell], reference: Cell | None, slice_: Slice
) -> None:
    """Refuse, in one line each, constraints this run cannot answer."""
    if constraints.max_time_ratio is not None and any(
        cell["compress_seconds"] is None for cell in cells
    ):
        raise WsztuneError(
            "--max-time-ratio needs compress times, and this run did not measure time "
            "(wsztune run --no-timing); drop --max-time-ratio, or sweep again without --no-timing"
        )
    if constraints.max_time_ratio is not None and reference is None:
        raise WsztuneError(
            f"--max-time-ratio compares with {label(constraints.reference)}, which is not in "
            f"this run ({slice_.grid_description}); pass --relative-to WB:ML from the grid"
        )
    if constraints.objective not in OBJECTIVES:
        raise WsztuneError(
            f"--objective takes {' or '.join(OBJECTIVES)}, not {constraints.objective!r}"
        )


def _budget_edge(cells: list[Cell], limit: int) -> str:
    """A cell whose memory is within its measurement's resolution of the budget fits or not
    by noise: the warning that says so (empty when none), rather than let a second sweep
    change the answer silently."""
    edge = [
        cell
        for cell in cells
        if memory_resolution(cell)
        and abs(cell["connection_memory"] - limit) <= memory_resolution(cell)
    ]
    if not edge:
        return ""
    return (
        f"{', '.join(label(cell) for cell in edge[:4])}"
        f"{f' and {len(edge) - 4} more' if len(edge) > 4 else ''} need within the "
        f"measurement's resolution of the {format_bytes(limit)} budget: whether "
        f"{'they fit' if len(edge) > 1 else 'it fits'} is below what the memory figure "
        "resolves, and another sweep may answer otherwise; a budget further from "
        f"{format_bytes(limit)} gives a steady choice"
    )


def _fragile(within_here: list[Cell], candidates: list[Cell], chosen: Cell) -> list[Cell]:
    """Cells cheaper than the chosen one and within tolerance on this corpus, but not robust."""
    return sorted(
        (
            c
            for c in within_here
            if all(c is not other for other in candidates) and rule_order(c) < rule_order(chosen)
        ),
        key=rule_order,
    )


def _add_stack_notes(decision: Decision, stack: Any, cells: list[Cell], off: Cell | None) -> None:
    """What the stack adds to a decision: its lines, a codec mismatch, and why compression off
    was chosen (with the nearest cell over the budget when nothing compressed fits)."""
    slice_, chosen, feasible = decision.slice, decision.chosen, decision.feasible
    constraints = decision.constraints
    decision.explanation += stack_lines(decision, stack)
    from wsztune.stacks import mismatch_note

    note = mismatch_note(stack.name, slice_.codec)
    if note is not None and stack.codec_for(slice_.server_version) != slice_.codec:
        decision.warnings.append(note)
    if chosen is off and stack.knob("enabled") is not None:
        nothing_fits = all(cell is off for cell in feasible)
        decision.warnings.append(
            "no compressed cell fits: recommending compression off"
            if nothing_fits
            else "compressing does not pay here: recommending compression off"
        )
        nearest = nearest_over(cells, off, constraints.max_memory) if nothing_fits else None
        if nearest is not None:
            decision.explanation.append(nearest)


def _configure(decision: Decision, stack: Any) -> None:
    """The chosen cell's threshold advice, the snippets to paste (with that threshold) and the
    fleet's lines."""
    chosen, slice_, constraints = decision.chosen, decision.slice, decision.constraints
    reference = decision.reference
    assert chosen is not None
    decision.threshold = threshold_advice(chosen, slice_, constraints.tolerance)
    if decision.threshold is not None:
        decision.explanation += decision.threshold.lines
    configured = chosen
    if decision.threshold is not None:  # the snippets carry the advised threshold
        configured = {**chosen, "threshold": decision.threshold.threshold}
    from wsztune.stacks import snippets

    if stack is not None:
        decision.snippets = snippets(configured, slice_, constraints.max_memory, (stack.name,))
    else:
        decision.snippets = snippets(configured, slice_, constraints.max_memory)
    if constraints.connections:
        decision.fleet = fleet_lines(chosen, reference, constraints.connections)


def _stack_of(slice_: Slice) -> Any:
    """The profile of the stack the slice is read as (``--server``), or None."""
    if not slice_.server:
        return None
    from wsztune.stacks import STACKS

    return STACKS.get(slice_.server)
