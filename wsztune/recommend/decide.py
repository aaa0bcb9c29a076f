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
from wsztune.recommend.constraints import (
    Constraints,
    require_objective,
    require_times,
    time_ratio,
)
from wsztune.recommend.cost import Fleet, fleet_costs, require_priced
from wsztune.recommend.robust import (
    Robustness,
    resample,
    resampling_units,
    settle_factor_of,
    with_interval,
)
from wsztune.recommend.threshold import ThresholdAdvice, threshold_advice
from wsztune.recommend.words import percent
from wsztune.results import Run
from wsztune.stacks.profile import Preset
from wsztune.text import format_bytes, label


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
    """The outcome of :func:`decide`, as data: what was chosen and from what; the words
    (``reason``, ``warnings``, ``explanation``, ``fleet``) are filled in by
    :func:`wsztune.recommend.explain.explain`."""

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
    # The cells decided among (with a stack: those it can be set to) and the stack's profile.
    cells: list[Cell] = field(default_factory=list)
    stack: Any = None
    # Cells whose memory is within its measurement's resolution of the budget: they fit or not
    # by noise. Cells tied on memory within that resolution, decided by preference (sorted so).
    budget_edge: list[Cell] = field(default_factory=list)
    tied: list[Cell] = field(default_factory=list)

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


def decide(source: Run | Slice, constraints: Constraints) -> Decision:
    """The rule on a run (its default slice) or on one slice of it, as data: the feasible
    cells, the smallest, the robust candidates, the choice, the fragile cells, the stack's rows
    and the configuration; :func:`wsztune.recommend.pipeline.recommend` adds the words.

    With the default objective (``memory``): among the feasible cells, the least connection
    memory whose output stays within ``tolerance`` of the smallest feasible output in at least
    ``confidence`` (95%) of ``resamples`` bootstrap resamples of the corpus's units. A run with
    no units (schema 1) falls back to the same rule on this corpus alone. With ``cost``: the
    feasible cell of least monthly cost for the fleet. When nothing fits, ``closest`` is set and
    ``chosen`` stays None.
    """
    slice_ = select_slice(source) if isinstance(source, Run) else source
    stack = _stack_of(slice_)
    cells = _decidable_cells(slice_, stack)
    reference = slice_.get(constraints.reference)
    _check_constraints(constraints, cells, reference, slice_)
    decision = Decision(
        chosen=None, best=None, candidates=[], warnings=[], explanation=[], reference=reference,
        snippets={}, reason="", constraints=constraints, slice=slice_,
        feasible=_feasible(cells, slice_.off, stack, constraints, reference),
        cliffs=_cliffs(slice_, constraints.cliff, cells if stack is not None else None),
        cells=cells, stack=stack,
    )  # fmt: skip
    if constraints.connections:
        decision.costs = fleet_costs(slice_.corpus, cells, constraints)
    require_priced(decision.costs, constraints.objective)
    if constraints.max_memory is not None:
        decision.budget_edge = _budget_edge(cells, constraints.max_memory)
    if not decision.feasible:
        decision.closest = min(cells, key=lambda c: _closeness(c, constraints, reference))
        return decision
    _choose(decision)
    if stack is not None:
        decision.stack_rows = _stack_rows(slice_, stack, decision.chosen)
    _configure(decision, stack)
    return decision


def _decidable_cells(slice_: Slice, stack: Any) -> list[Cell]:
    """The cells the rule chooses among: with a stack, those it can be set to (refused when
    there are none and the stack compresses out of the box)."""
    cells = sorted(
        (settable_cells(slice_) if stack is not None else slice_.cells).values(), key=cell_key
    )
    if stack is not None and not cells and stack.defaults.enabled:
        raise WsztuneError(
            f"this run has no cell {stack.title} can be set to ({_settable_words(stack, slice_)}"
            f", {slice_.description}); sweep it with wsztune run --server {stack.name}"
        )
    return cells


def _settable_words(stack: Any, slice_: Slice) -> str:
    pairs = stack.settable_pairs(slice_.server_version)
    shown = ", ".join(f"{wb}:{ml}" for wb, ml in pairs[:6])
    more = f" and {len(pairs) - 6} more" if len(pairs) > 6 else ""
    return f"{shown}{more} at level {stack.defaults_for(slice_.server_version).level}"


def _fits(cell: Cell, constraints: Constraints, reference: Cell | None) -> bool:
    """Within the memory budget and, when asked, the compress-time ratio to the reference."""
    budget = constraints.max_memory
    if budget is not None and cell["connection_memory"] > budget:
        return False
    if constraints.max_time_ratio is not None and reference is not None:
        return time_ratio(cell, reference) <= constraints.max_time_ratio
    return True


def _feasible(
    cells: list[Cell],
    off: Cell | None,
    stack: Any,
    constraints: Constraints,
    reference: Cell | None,
) -> list[Cell]:
    """The cells that fit; compression off too when the stack can turn it off."""
    feasible = [cell for cell in cells if _fits(cell, constraints, reference)]
    if (
        stack is not None
        and off is not None
        and stack.settable(off)
        and constraints.objective == "memory"
        and _fits(off, constraints, reference)
    ):
        # Compression off is a choice of every stack that can turn it off: it wins only when no
        # compressed cell fits, or when compressing does not pay within the tolerance.
        feasible.append(off)
    return feasible


def constraint_overs(
    cell: Cell, constraints: Constraints, reference: Cell | None
) -> dict[str, float]:
    """How far over each constraint ``cell`` is, by name (``memory``, ``time``): 1.2 means
    20% over."""
    ratios = {}
    if constraints.max_memory is not None:
        ratios["memory"] = cell["connection_memory"] / constraints.max_memory
    if constraints.max_time_ratio is not None and reference is not None:
        ratios["time"] = time_ratio(cell, reference) / constraints.max_time_ratio
    return ratios


def _closeness(cell: Cell, constraints: Constraints, reference: Cell | None) -> tuple:
    # When nothing fits: the least over its worst constraint, then the smallest output.
    excess = max(constraint_overs(cell, constraints, reference).values(), default=0.0)
    return excess, cell["compressed_bytes"], cell_key(cell)


def smallest(cells: list[Cell]) -> Cell:
    """The cell with the fewest compressed bytes (then the least memory, then its key)."""
    return min(cells, key=lambda c: (c["compressed_bytes"], c["connection_memory"], cell_key(c)))


def _choose(decision: Decision) -> None:
    """The smallest feasible output, the robust candidates, the objective's choice, and (with
    resampling) the chosen cell's interval and the cheaper cells that are not robust."""
    feasible, constraints = decision.feasible, decision.constraints
    best = smallest(feasible)
    limit = best["compressed_bytes"] * (1 + constraints.tolerance)
    within_here = [cell for cell in feasible if cell["compressed_bytes"] <= limit]
    raw = resampling_units(decision.slice, feasible)
    robustness = totals = raw_totals = None
    candidates = within_here
    if raw is not None:
        robustness, candidates, totals, raw_totals = resample(feasible, raw, constraints)
    chosen = _pick(decision, candidates, robustness)
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
    decision.candidates = sorted(candidates, key=rule_order)


def _pick(decision: Decision, candidates: list[Cell], robustness: Robustness | None) -> Cell:
    """The objective's choice: the cheapest per month (``cost``), else the least memory among
    the robust candidates (a tie within the memory's resolution noted in ``tied``), else (no
    candidate) the most robust cell."""
    feasible = decision.feasible
    if decision.constraints.objective == "cost":
        assert decision.costs is not None
        by_cell = {id(cost.cell): cost for cost in decision.costs.costs}
        return min(
            feasible,
            key=lambda c: (by_cell[id(c)].total, c["connection_memory"], cell_key(c)),
        )
    if candidates:
        tied = memory_ties(candidates)
        if len(tied) > 1 and any(memory_resolution(cell) for cell in tied):
            decision.tied = sorted(tied, key=preference_order)
        return least_memory(candidates)
    assert robustness is not None
    return max(feasible, key=lambda c: (robustness.of(c), [-v for v in rule_order(c)]))


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
    if constraints.max_time_ratio is not None:
        require_times(cells)
    if constraints.max_time_ratio is not None and reference is None:
        raise WsztuneError(
            f"--max-time-ratio compares with {label(constraints.reference)}, which is not in "
            f"this run ({slice_.grid_description}); pass --relative-to WB:ML from the grid"
        )
    require_objective(constraints)


def _budget_edge(cells: list[Cell], limit: int) -> list[Cell]:
    """The cells whose memory is within its measurement's resolution of the budget: whether
    they fit is noise, and the decision says so rather than let a second sweep change the
    answer silently."""
    return [
        cell
        for cell in cells
        if memory_resolution(cell)
        and abs(cell["connection_memory"] - limit) <= memory_resolution(cell)
    ]


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


def _stack_rows(slice_: Slice, stack: Any, chosen: Cell | None) -> list[tuple[str, Cell]]:
    """The rows worth seeing beside a stack's decision, (role, cell): compression off, and
    the defaults of the nearest alternatives the stack's codec measures (another uvicorn
    backend)."""
    from wsztune.stacks import STACKS

    off = slice_.off
    rows: list[tuple[str, Cell]] = [] if off is None else [("off", off)]
    for name in stack.alternatives_for(slice_.server_version):
        other = STACKS.get(name)
        if other is None:
            continue
        cell = slice_.get(other.default_pair())
        if (
            cell is None
            or chosen is None
            or cell is chosen
            or not other.settable(cell)
            or other.codec != slice_.codec
        ):
            continue
        rows.append((other.name, cell))
    return rows


def _configure(decision: Decision, stack: Any) -> None:
    """The chosen cell's threshold advice, and the snippets to paste (with that threshold)."""
    chosen, slice_, constraints = decision.chosen, decision.slice, decision.constraints
    assert chosen is not None
    decision.threshold = threshold_advice(chosen, slice_, constraints.tolerance)
    configured = chosen
    if decision.threshold is not None:  # the snippets carry the advised threshold
        configured = {**chosen, "threshold": decision.threshold.threshold}
    from wsztune.stacks import DEFAULT_SNIPPETS, STACKS, snippets

    names = (stack.name,) if stack is not None else DEFAULT_SNIPPETS
    presets = {
        name: nearest_preset(
            STACKS[name].memory_presets, slice_, configured, constraints.max_memory
        )
        for name in names
        if STACKS[name].memory_presets and configured.get("compression") is not False
    }
    decision.snippets = snippets(configured, slice_, presets, names)


def nearest_preset(
    presets: tuple[tuple[int, int], ...], slice_: Any, chosen: Cell, max_memory: int | None
) -> Preset:
    """The largest of a stack's fixed (windowBits, memLevel) ``presets`` (smallest first) whose
    per-connection memory fits the budget (or, with no budget, the chosen cell's memory):
    measured in this run when the run has that cell, else zlib's formula; the smallest when
    none fits. Its note says how it compares with ``chosen``.
    """
    from wsztune.memory import compressor_theory, decompressor_theory

    limit = max_memory if max_memory is not None else chosen["connection_memory"]
    fitting = []
    for wb, ml in presets:
        cell = slice_.get((wb, ml)) if slice_ is not None else None
        memory = (
            cell["connection_memory"]
            if cell is not None
            else compressor_theory(wb, ml) + decompressor_theory(wb)
        )
        if memory <= limit:
            fitting.append((wb, ml, cell, memory))
    if not fitting:
        wb, ml = presets[0]
        return Preset(wb, ml, f"no preset fits {format_bytes(limit)}; this is the smallest")
    wb, ml, cell, memory = fitting[-1]
    if cell is None:
        note = f"{wb}/{ml}, about {format_bytes(memory)} by zlib's formula (not in this run)"
    else:
        change = cell["compressed_bytes"] / chosen["compressed_bytes"] - 1
        note = (
            f"{wb}/{ml}: {format_bytes(memory)} per connection, output {change:+.1%} against "
            f"{label(chosen)}"
        )
    return Preset(wb, ml, note)


def _stack_of(slice_: Slice) -> Any:
    """The profile of the stack the slice is read as (``--server``), or None."""
    if not slice_.server:
        return None
    from wsztune.stacks import STACKS

    return STACKS.get(slice_.server)
