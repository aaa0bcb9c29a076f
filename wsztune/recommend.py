"""Pick a setting from a saved run: constraints, objective, robustness, fleet cost, snippets.

Pure: :func:`recommend` returns a :class:`Decision` and :func:`check` a :class:`Verdict`; nothing
here prints (report renders them). The rule, in order:

1. feasible cells fit the memory budget (``connection_memory``: compressor + decompressor,
   observed) and, if given, the compress-time ratio against the reference cell;
2. ``best`` is the feasible cell with the smallest compressed size;
3. robustness, from the data: the corpus's resampling units (streams, and blocks of messages of
   long streams, see :mod:`wsztune.units`) are drawn with replacement :data:`RESAMPLES` times
   (seeded); in each resample every feasible cell's output is compared with the smallest
   feasible output of that resample;
4. the least connection memory (then compress time) among the feasible cells that stay within
   ``tolerance`` of it in at least :data:`CONFIDENCE` (95%) of the resamples wins.

A cliff edge (one step down in windowBits or memLevel compresses more than ``cliff`` worse) is
only explained, never a reason to spend memory: on corpora where every step costs 10-20%, every
cell is "on a cliff" and avoiding them bought the largest setting for nothing. A run without
units (schema ``wsztune.run/1``) falls back to the same rule on the corpus alone, and says so.
With ``objective="cost"`` the feasible cell of least monthly fleet cost wins instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from wsztune.errors import PartialRun, WsztuneError
from wsztune.grid import (
    REFERENCE,
    Cell,
    Key,
    Slice,
    cell_key,
    off_cell,
    reference_name,
    select_slice,
    settable_cells,
)
from wsztune.results import UNIT_SIZES, Run
from wsztune.text import OFF, axes_label, format_bytes, label, plural
from wsztune.writes import (
    Peak,
    WriteLoad,
    once_peak_memory,
    peak_memory,
    seconds_per_write,
    write_load,
)

DEFAULT_TOLERANCE = 0.01
DEFAULT_CLIFF = 0.10
# The baseline gate fails when the shipped setting's savings fell by more than this (2 points):
# more than resampling noise on a corpus of tens of units, less than a real change of traffic
# (a repeated 6 KB field took 12:5 from 74% to 37% on the api corpus).
DEFAULT_MAX_SAVINGS_DROP = 0.02

# Decision ---------------------------------------------------------------------------------------

# The bootstrap: how many resamples, and in how many of them a cell must stay within tolerance of
# the best in-budget cell to count as robust. 1,000 resamples put the 95% threshold within about
# +-1.4 points (two binomial standard errors at p = 0.95), and take well under a second with numpy.
RESAMPLES = 1000
CONFIDENCE = 0.95
# Below this many units a bootstrap says little: the decision says so.
FEW_UNITS = 10
SECONDS_PER_MONTH = 365.25 / 12 * 86400
OBJECTIVES = ("memory", "cost")


@dataclass(frozen=True)
class Prices:
    """Prices for the fleet's cost. The defaults are EXAMPLES, not anyone's real prices."""

    memory_gib_month: float = 3.65  # e.g. ~0.005 per GiB-hour of on-demand cloud RAM
    egress_gb: float = 0.09  # e.g. a public cloud's first internet-egress tier
    cpu_month: float = 29.2  # e.g. ~0.04 per vCPU-hour
    examples: bool = True  # True while any of the above is a default example


@dataclass(frozen=True)
class Constraints:
    """What the user asked for."""

    max_memory: int | None = None
    max_time_ratio: float | None = None
    tolerance: float = DEFAULT_TOLERANCE
    cliff: float = DEFAULT_CLIFF
    reference: Key = REFERENCE
    connections: int | None = None
    objective: str = "memory"
    messages_per_second: float | None = None
    prices: Prices = Prices()
    resamples: int = RESAMPLES
    confidence: float = CONFIDENCE
    seed: int = 0
    # The baseline gate: the most the shipped setting's savings may fall, in points (0.02: 2).
    max_savings_drop: float = DEFAULT_MAX_SAVINGS_DROP
    # Go runs: the fan-out a broadcast goes to, and the writes in flight at the peak when
    # stated (--concurrent-writes); together they give the fleet's peak memory.
    fanout: int | None = None
    concurrent_writes: int | None = None


@dataclass(frozen=True)
class Cliff:
    """A cell on a cliff edge: its lower neighbour compresses ``worse_by`` worse."""

    cell: Cell
    neighbour: Cell
    worse_by: float

    @property
    def reason(self) -> str:
        """``one step down, 10:4 compresses 90% worse``."""
        return f"one step down, {label(self.neighbour)} compresses {_percent(self.worse_by)} worse"


@dataclass(frozen=True)
class ThresholdAdvice:
    """Which threshold to use for the chosen setting, and what it trades."""

    threshold: int  # the one to use
    lines: list[str]  # one per threshold measured, and why


@dataclass(frozen=True)
class Robustness:
    """What the bootstrap found: per feasible cell, the share of resamples in which its output
    stays within tolerance of the smallest in-budget output of that resample."""

    resamples: int
    units: int
    confidence: float
    seed: int
    share: dict[Key, float]
    # For the chosen cell: its savings, 2.5th and 97.5th percentile over the resamples, and
    # how much more it sends than each resample's best (95th percentile).
    savings_interval: tuple[float, float] | None = None
    excess_p95: float | None = None

    def of(self, cell: Cell) -> float | None:
        """The share for ``cell``, None if it was not resampled (not feasible)."""
        return self.share.get(cell_key(cell))


@dataclass(frozen=True)
class Cost:
    """One cell's monthly cost for the fleet. ``None`` parts need a message rate."""

    cell: Cell | None  # None: no compression at all
    memory: float
    egress: float | None
    cpu: float | None
    # Go runs: the fleet's memory steady and at the peak of concurrent writes (``memory`` then
    # prices the peak: RAM is provisioned for it), and how many writes that peak assumes.
    peak: Peak | None = None
    load: WriteLoad | None = None

    @property
    def total(self) -> float:
        """The sum of the parts that could be computed."""
        return self.memory + (self.egress or 0.0) + (self.cpu or 0.0)


@dataclass
class Fleet:
    """The fleet the costs are for: connections, message rate (and where it came from), prices."""

    connections: int
    rate: float | None
    rate_source: str
    prices: Prices
    costs: list[Cost] = field(default_factory=list)
    uncompressed: Cost | None = None


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
    best_now: Key
    best_baseline: Key
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


def _percent(ratio: float) -> str:
    value = ratio * 100
    return f"{value:.1f}%" if abs(value) < 10 else f"{value:.0f}%"


def _option_percent(ratio: float) -> str:
    # An option's value as the user wrote it: 1%, 2.5%, never 1.0%.
    return f"{ratio * 100:g}%"


def _precise_percent(ratio: float) -> str:
    # Enough digits that a gate failing at 1.01% against a 1% tolerance does not read "1.0%".
    return f"{ratio * 100:.2f}%"


def _share(share: float) -> str:
    # 99.95% must not read 100%, nor 94.96% read 95%: one decimal, never rounded up to a limit.
    return f"{math.floor(share * 1000) / 10:.1f}%"


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


def _cheapest(cell: Cell) -> tuple[int, float, int]:
    # The rule's order among candidates: least connection memory, then least compress time
    # (in a --no-timing run no time was measured: every cell counts alike, 0).
    seconds = cell["compress_seconds"]
    return (
        cell["connection_memory"],
        0.0 if seconds is None else seconds,
        cell["compressed_bytes"],
    )


def _resolution(cell: Cell) -> float:
    # What the cell's memory figure resolves (node: RSS-based); 0 for counted allocations.
    return float(cell.get("memory_resolution") or 0)


def memory_ties(candidates: list[Cell]) -> list[Cell]:
    """The candidates whose connection memory is within the measurement's resolution of the
    least (``memory_resolution``: node's RSS-based figures): a difference that small is noise,
    not a ranking. Exact figures (resolution 0) tie only with an equal figure."""
    least = min(candidates, key=_cheapest)
    return [
        cell
        for cell in candidates
        if cell["connection_memory"] - least["connection_memory"]
        <= max(_resolution(cell), _resolution(least))
    ]


def _preferred(cell: Cell) -> tuple:
    # The stack's preference among cells the memory cannot tell apart: the smaller memLevel,
    # then the smaller window (each costs memory everywhere else), then the rule's order.
    return (cell["mem_level"], cell["window_bits"], cell["client_window_bits"], *_cheapest(cell))


def least_memory(candidates: list[Cell]) -> Cell:
    """The rule's pick among ``candidates``: the least connection memory (then compress time);
    cells tied within the measurement's resolution (:func:`memory_ties`) are decided by
    preference (smaller memLevel, then smaller window), never by the noise between them."""
    tied = memory_ties(candidates)
    if len(tied) > 1 and any(_resolution(cell) for cell in tied):
        return min(tied, key=_preferred)
    return min(candidates, key=_cheapest)


def _time_ratio(cell: Cell, reference: Cell) -> float | None:
    """Compress time against the reference's; None when the run did not measure time."""
    if cell["compress_seconds"] is None or reference["compress_seconds"] is None:
        return None
    return cell["compress_seconds"] / reference["compress_seconds"]


def resampling_units(slice_: Slice, cells: list[Cell]) -> list[int] | None:
    """Raw bytes per unit when every cell keeps its per-unit sizes, else None (no resampling)."""
    units = slice_.units
    if not units or not cells or any(UNIT_SIZES not in cell for cell in cells):
        return None
    return list(units["raw_bytes"])


def bootstrap(
    cells: list[Cell],
    raw: list[int],
    tolerance: float,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> tuple[Any, Any, Any]:
    """Resample the units with replacement ``resamples`` times (seeded).

    Returns ``(within, totals, raw_totals)``: ``within[b, c]`` is true when cell ``c``'s output
    in resample ``b`` is within ``tolerance`` of the smallest among ``cells`` in that resample;
    ``totals[b, c]`` its compressed bytes there; ``raw_totals[b]`` the resample's raw bytes.
    """
    import numpy

    sizes = numpy.array([cell[UNIT_SIZES] for cell in cells], dtype=numpy.float64)
    count = sizes.shape[1]
    rng = numpy.random.default_rng(seed)
    # Each row: how many times each unit is drawn in that resample (a bootstrap of `count`
    # draws), counted for all resamples at once with one bincount (faster than multinomial).
    draws = rng.integers(0, count, size=(resamples, count))
    draws += numpy.arange(resamples)[:, None] * count
    weights = numpy.bincount(draws.ravel(), minlength=resamples * count).reshape(resamples, count)
    weights = weights.astype(numpy.float64)
    totals = weights @ sizes.T
    best = totals.min(axis=1, keepdims=True)
    # A hair of slack so that cells tied with the best (identical outputs) always count as within.
    within = totals <= best * (1 + tolerance) + 1e-6
    raw_totals = weights @ numpy.array(raw, dtype=numpy.float64)
    return within, totals, raw_totals


def resample(
    feasible: list[Cell],
    raw: list[int],
    constraints: Constraints,
    key: Callable[[Cell], Any] = cell_key,
) -> tuple[Robustness, list[Cell], Any, Any]:
    """The robustness rule over ``feasible``: each cell's share of :func:`bootstrap` resamples
    in which its output stays within the tolerance of the smallest (keyed by ``key``), and the
    cells whose share reaches the confidence. Returns ``(robustness, candidates, totals,
    raw_totals)``, the last two for :func:`with_interval`."""
    within, totals, raw_totals = bootstrap(
        feasible, raw, constraints.tolerance, constraints.resamples, constraints.seed
    )
    shares = within.mean(axis=0)
    robustness = Robustness(
        resamples=constraints.resamples,
        units=len(raw),
        confidence=constraints.confidence,
        seed=constraints.seed,
        share={key(c): float(s) for c, s in zip(feasible, shares, strict=True)},
    )
    # A share equal to the threshold passes: compare with a hair of slack for float noise.
    candidates = [
        cell
        for cell, share in zip(feasible, shares, strict=True)
        if share >= constraints.confidence - 1e-9
    ]
    return robustness, candidates, totals, raw_totals


def with_interval(robustness: Robustness, totals: Any, raw_totals: Any, index: int) -> Robustness:
    """``robustness`` with the savings interval (2.5th-97.5th percentile) of the cell at
    ``index`` over the resamples, and its 95th-percentile excess over each resample's best."""
    import numpy

    with numpy.errstate(divide="ignore", invalid="ignore"):  # a corpus of empty messages
        savings = 1 - totals[:, index] / raw_totals
        excess = totals[:, index] / totals.min(axis=1) - 1
    return replace(
        robustness,
        savings_interval=(
            float(numpy.percentile(savings, 2.5)),
            float(numpy.percentile(savings, 97.5)),
        ),
        excess_p95=float(numpy.percentile(excess, 95)),
    )


def settle_factor(gaps: Any, point: float, tolerance: float, confidence: float) -> float | None:
    """How many times the corpus's traffic would let a cell whose gap to the best is ``point``
    on the corpus (within ``tolerance``) stay within it in ``confidence`` of the resamples.

    The spread of a resampled gap shrinks as one over the square root of the traffic (the
    units are independent draws), so with ``gaps``' standard deviation ``s`` the share holds
    once ``point + z * s / sqrt(k) <= tolerance``: ``k = (z * s / (tolerance - point))^2``,
    ``z`` the normal quantile of ``confidence``. None when nothing would settle it (no slack).
    """
    import statistics

    import numpy

    finite = gaps[numpy.isfinite(gaps)]
    slack = tolerance - point
    if slack <= 0 or len(finite) < 2:
        return None
    spread = float(numpy.std(finite))
    z = statistics.NormalDist().inv_cdf(confidence)
    return max(1.0, (z * spread / slack) ** 2)


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
            f"this run has no cell {stack.title} can be set to ({_settable_words(stack, slice_)}"
            f", {slice_.description}); sweep it with wsztune run --server {stack.name}"
        )
    reference = slice_.get(constraints.reference)
    _check_constraints(constraints, cells, reference, slice_)

    def fits(cell: Cell) -> bool:
        budget = constraints.max_memory
        if budget is not None and cell["connection_memory"] > budget:
            return False
        if constraints.max_time_ratio is not None and reference is not None:
            return _time_ratio(cell, reference) <= constraints.max_time_ratio
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
    budget = _budget_words(constraints, reference)
    if constraints.max_memory is not None:
        edge = _budget_edge(cells, constraints.max_memory)
        if edge:
            decision.warnings.append(edge)
    if not feasible:
        return _nothing_fits(decision, cells, budget)

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
            f"{_schema_of(slice_)}, or a tool that keeps no per-unit sizes): the choice rests "
            f"on this corpus alone, with no check that it holds on other traffic; run "
            "`wsztune run` again for one"
        )
    chosen, reason, tie_line = _choose(decision, candidates, robustness, best, fleet)
    if robustness is not None:
        index = next(i for i, cell in enumerate(feasible) if cell is chosen)
        robustness = with_interval(robustness, totals, raw_totals, index)
        decision.fragile = _fragile(within_here, candidates, chosen)
        if decision.fragile:
            decision.settle_factor = _settle_factor_of(
                decision.fragile[0], feasible, totals, best, constraints
            )
    decision.robustness = robustness
    decision.chosen, decision.best = chosen, best
    decision.candidates, decision.reason = sorted(candidates, key=_cheapest), reason
    counted = len(cells) + any(cell is off for cell in feasible)  # off counts as a cell
    decision.explanation = _explain(decision, budget, counted)
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
    tolerance = _option_percent(constraints.tolerance)
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
        if len(tied) > 1 and any(_resolution(cell) for cell in tied):
            tie_line = (
                f"{', '.join(label(cell) for cell in sorted(tied, key=_preferred))} need the same "
                f"memory within what the measurement resolves (+-"
                f"{format_bytes(max(_resolution(cell) for cell in tied))}): a tie, decided by "
                f"preference (the smaller memLevel, then the smaller window): {label(chosen)}."
            )
        if robustness is not None:
            reason = (
                f"{label(chosen)}: the least memory ({format_bytes(chosen['connection_memory'])}) "
                f"whose output stays within {tolerance} of the smallest that fits in at least "
                f"{_option_percent(constraints.confidence)} of {constraints.resamples:,} "
                "resamples of the corpus"
            )
        else:
            reason = (
                f"{label(chosen)}: the least memory ({format_bytes(chosen['connection_memory'])}) "
                f"within {tolerance} of the smallest output that fits ({label(best)})"
            )
    else:
        assert robustness is not None
        chosen = max(feasible, key=lambda c: (robustness.of(c), [-v for v in _cheapest(c)]))
        decision.warnings.append(
            f"no cell stays within {tolerance} of the smallest output in "
            f"{_option_percent(constraints.confidence)} of the resamples: recommending the most "
            f"robust, {label(chosen)} ({_share(robustness.of(chosen) or 0)}); raise --tolerance "
            "or measure a larger corpus"
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
        if _resolution(cell) and abs(cell["connection_memory"] - limit) <= _resolution(cell)
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
            if all(c is not other for other in candidates) and _cheapest(c) < _cheapest(chosen)
        ),
        key=_cheapest,
    )


def _settle_factor_of(
    cell: Cell, feasible: list[Cell], totals: Any, best: Cell, constraints: Constraints
) -> float | None:
    """:func:`settle_factor` for ``cell``, from its gaps in the resamples (``totals``)."""
    import numpy

    index = next(i for i, c in enumerate(feasible) if c is cell)
    with numpy.errstate(divide="ignore", invalid="ignore"):
        gaps = totals[:, index] / totals.min(axis=1) - 1
    point = cell["compressed_bytes"] / best["compressed_bytes"] - 1
    return settle_factor(gaps, point, constraints.tolerance, constraints.confidence)


def _add_stack_notes(decision: Decision, stack: Any, cells: list[Cell], off: Cell | None) -> None:
    """What the stack adds to a decision: its lines, a codec mismatch, and why compression off
    was chosen (with the nearest cell over the budget when nothing compressed fits)."""
    slice_, chosen, feasible = decision.slice, decision.chosen, decision.feasible
    constraints = decision.constraints
    decision.explanation += _stack_lines(decision, stack)
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
        nearest = _nearest_over(cells, off, constraints.max_memory) if nothing_fits else None
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


def axes_snippet(run: Run, chosen: Cell | None) -> str:
    """The run's stack's configuration for ``chosen``, a cell of a Go run on its own axes
    (what ``recommend`` and ``report`` print); empty when there is no choice or no snippet."""
    server = run.meta.get("server")
    if chosen is None or not server:
        return ""
    from wsztune.stacks import STACKS

    profile = STACKS.get(server)
    if profile is None or profile.snippet is None:
        return ""
    return profile.snippet(chosen, None)


def cannot_set(stack: Any) -> str:
    """What ``stack`` cannot set, as a sentence (empty when it can set every axis): the
    axes without a knob, or that compression on or off is its only choice."""
    fixed = [_AXIS_WORDS[axis] for axis in _AXIS_WORDS if stack.knob(axis) is None]
    enabled = stack.knob("enabled")
    if stack.on_off_only and enabled is not None:
        return (
            f"{stack.title} can only turn compression on or off ({enabled.name}): it cannot set "
            + ", ".join(fixed)
            + "; every other cell of this run is for comparison only."
        )
    if fixed:
        return f"{stack.title} cannot set {', '.join(fixed)}: fixed at its values."
    return ""


def stack_limits(run: Run) -> str:
    """:func:`cannot_set` for the stack ``run`` was made for (empty without one)."""
    server = run.meta.get("server")
    if not server:
        return ""
    from wsztune.stacks import STACKS

    profile = STACKS.get(server)
    if profile is None:
        return ""
    return " ".join(part for part in (cannot_set(profile), *profile.limits) if part)


# Runs on a library's own axes (Go) --------------------------------------------------------------


@dataclass
class AxesDecision:
    """:func:`recommend_on_axes`' outcome: the same rule as :func:`recommend`, on a Go run's
    cells named by their own axes (level, takeover, threshold) instead of windowBits:memLevel."""

    axes: tuple[str, ...]
    cells: list[Cell]  # the run's cells, then the row of no compression
    chosen: Cell | None
    best: Cell | None
    default: Cell | None  # the stack's default with compression on (gorilla: level 1)
    off: Cell | None
    reason: str
    constraints: Constraints
    feasible: list[Cell] = field(default_factory=list)
    candidates: list[Cell] = field(default_factory=list)
    robustness: Robustness | None = None  # shares keyed by :func:`axes_name`
    costs: Fleet | None = None
    warnings: list[str] = field(default_factory=list)
    explanation: list[str] = field(default_factory=list)
    snippet: str = ""
    limits: str = ""  # what the stack cannot be set to (:func:`stack_limits`)
    # The chosen cell's compress-once mode priced for the fleet (gorilla PreparedMessage).
    once_cost: Cost | None = None

    @property
    def chosen_cost(self) -> Cost | None:
        """The fleet's cost of the chosen cell (per-connection compression), if priced."""
        if self.costs is None or self.chosen is None:
            return None
        return next((cost for cost in self.costs.costs if cost.cell is self.chosen), None)

    def name(self, cell: Cell) -> str:
        """``level 1, threshold 0 B``, or ``off``."""
        return axes_name(cell, self.axes)


def axes_name(cell: Cell, axes: tuple[str, ...]) -> str:
    """A Go cell as users read it: ``off``, or its values on the run's axes."""
    return OFF if cell.get("compression") is False else axes_label(cell, axes)


# Go's idle memory per connection is a heap difference over the helper's connections: gorilla's
# levels all keep nothing, yet read 213 B or 222 B from one sweep to the next (the helper's own
# bookkeeping). Differences this small are a tie, decided by the stack's default.
AXES_MEMORY_RESOLUTION = 1024

# What ``--check`` takes on a Go run: the axes in the library's terms.
_AXES_CHECK_FORM = "off, or level=N,takeover=on|off,threshold=N (any of them; e.g. level=1)"


def parse_axes_setting(text: str) -> dict[str, Any]:
    """``level=1,takeover=off,threshold=0`` (or ``off``) as ``{"level": 1, ...}``;
    ``{"compression": False}`` for ``off``. Bad input: :class:`WsztuneError` naming the form."""
    words = text.strip().lower()
    if words in ("off", "none", "disabled"):
        return {"compression": False}
    wanted: dict[str, Any] = {}
    for part in filter(None, (piece.strip() for piece in words.split(","))):
        name, equals, value = part.partition("=")
        name, value = name.strip(), value.strip()
        try:
            if not equals:
                raise ValueError
            if name == "level":
                wanted["level"] = int(value)
                if not -2 <= wanted["level"] <= 9:
                    raise ValueError
            elif name in ("takeover", "context_takeover"):
                if value not in ("on", "off", "true", "false"):
                    raise ValueError
                wanted["context_takeover"] = value in ("on", "true")
            elif name == "threshold":
                wanted["threshold"] = int(value.removesuffix("b"))
                if wanted["threshold"] < 0:
                    raise ValueError
            else:
                raise ValueError
        except ValueError:
            raise WsztuneError(
                f"--check {text!r}: {part!r} is not a Go setting; a Go run takes "
                f"{_AXES_CHECK_FORM}"
            ) from None
    if not wanted:
        raise WsztuneError(f"--check {text!r}: a Go run takes {_AXES_CHECK_FORM}")
    return wanted


def _axes_default(run: Run, cells: list[Cell]) -> Cell | None:
    """The cell of the run's stack's default with compression on (gorilla and Centrifugo:
    level 1, threshold 0; coder: no takeover at its default threshold, 512 B), if measured."""
    from wsztune.codecs.go import CODER, CODER_DEFAULT_THRESHOLD, GORILLA_DEFAULT_LEVEL
    from wsztune.stacks import STACKS

    stack = STACKS.get(str(run.meta.get("server") or ""))
    library = (run.meta.get("go") or {}).get("library")
    if stack is None:
        level, takeover, threshold = GORILLA_DEFAULT_LEVEL, False, 0
    else:
        defaults = stack.defaults
        level, takeover, threshold = defaults.level, defaults.context_takeover, defaults.threshold
    if library == CODER and threshold == 0:
        threshold = CODER_DEFAULT_THRESHOLD[takeover]
    return next(
        (
            cell
            for cell in cells
            if cell["context_takeover"] == takeover
            and cell.get("threshold", 0) == threshold
            and (library == CODER or cell["level"] == level)
        ),
        None,
    )


def recommend_on_axes(run: Run, constraints: Constraints | None = None) -> AxesDecision:
    """:func:`recommend`'s rule on a Go run: among the cells that fit ``max_memory`` (and
    ``max_time_ratio`` against the stack's default), and compression off, the least memory
    whose output stays within ``tolerance`` of the smallest in ``confidence`` of the bootstrap
    resamples; among cells needing the same memory, the stack's default (gorilla: level 1)
    first, then the least compress time. ``objective`` cost: the cheapest for the fleet."""
    constraints = constraints or Constraints()
    axes = tuple(run.meta.get("axes") or ())
    measured = [cell for cell in run.cells if cell.get("compression") is not False]
    if not measured:
        raise WsztuneError("this Go run holds no measured cell; sweep it with wsztune run")
    units = run.meta.get("units")
    off = (
        off_cell(measured[0], units)
        if {"raw_bytes", "server_raw_bytes", "client_raw_bytes"} <= measured[0].keys()
        else None
    )
    default = _axes_default(run, measured)
    if constraints.objective not in OBJECTIVES:
        raise WsztuneError(
            f"--objective takes {' or '.join(OBJECTIVES)}, not {constraints.objective!r}"
        )
    if constraints.max_time_ratio is not None:
        if default is None:
            raise WsztuneError(
                "--max-time-ratio compares with the stack's default, which this run did not "
                "measure; sweep it too, or drop --max-time-ratio"
            )
        if any(cell["compress_seconds"] is None for cell in measured):
            raise WsztuneError(
                "--max-time-ratio needs compress times, and this run did not measure time "
                "(wsztune run --no-timing); drop --max-time-ratio, or sweep again without "
                "--no-timing"
            )

    def fits(cell: Cell) -> bool:
        budget = constraints.max_memory
        if budget is not None and cell["connection_memory"] > budget:
            return False
        if constraints.max_time_ratio is not None and default is not None and cell is not off:
            return (_time_ratio(cell, default) or 0.0) <= constraints.max_time_ratio
        return True

    cells = measured + ([off] if off is not None else [])
    feasible = [cell for cell in cells if fits(cell)]
    if constraints.objective == "cost" and off in feasible:
        feasible.remove(off)  # priced apart, as "no compression"
    decision = AxesDecision(axes, cells, None, None, default, off, "", constraints, feasible)
    decision.costs = (
        fleet_costs(run.meta.get("corpus") or {}, measured, constraints)
        if constraints.connections
        else None
    )
    if decision.costs is not None:
        with_peaks(decision.costs, constraints)
    if constraints.objective == "cost":
        if decision.costs is None:
            raise WsztuneError("--objective cost needs --connections N (the fleet to price)")
        if decision.costs.rate is None:
            raise WsztuneError(
                "--objective cost needs a message rate: pass --messages-per-second, or sweep a "
                "records corpus with timestamps"
            )
    if not feasible:
        least = min(measured, key=lambda cell: cell["connection_memory"])
        decision.reason = (
            f"no cell fits: the least memory is {decision.name(least)}'s "
            f"{format_bytes(least['connection_memory'])} per connection"
        )
        return decision
    name = decision.name
    best = min(feasible, key=lambda c: (c["compressed_bytes"], c["connection_memory"], name(c)))
    limit = best["compressed_bytes"] * (1 + constraints.tolerance)
    within_here = [cell for cell in feasible if cell["compressed_bytes"] <= limit]
    raw = list(units["raw_bytes"]) if units and all(UNIT_SIZES in c for c in feasible) else None
    tolerance = _option_percent(constraints.tolerance)
    totals = raw_totals = None
    if raw is not None:
        robustness, candidates, totals, raw_totals = resample(
            feasible, raw, constraints, key=name
        )
        decision.robustness = robustness
        if len(raw) < FEW_UNITS:
            decision.warnings.append(
                f"the corpus has only {plural(len(raw), 'resampling unit')}: the robustness "
                "figures are rough; record more connections"
            )
    else:
        candidates = within_here
        decision.warnings.append(
            "this run keeps no per-unit sizes: the choice rests on this corpus alone, with no "
            "check that it holds on other traffic; run `wsztune run` again for one"
        )
    if constraints.objective == "cost":
        assert decision.costs is not None
        by_cell = {id(cost.cell): cost for cost in decision.costs.costs}
        chosen = min(feasible, key=lambda c: (by_cell[id(c)].total, c["connection_memory"]))
        reason = (
            f"the least monthly cost for {decision.costs.connections:,} connections at "
            f"{decision.costs.rate:,.0f} messages/s among the cells that fit"
        )
    elif candidates:
        least = min(candidates, key=_cheapest)
        tied = [
            cell
            for cell in candidates
            if cell["connection_memory"] - least["connection_memory"]
            <= max(AXES_MEMORY_RESOLUTION, _resolution(cell))
        ]
        within = f"whose output stays within {tolerance} of the smallest ({name(best)})"
        peaked = _least_peak(tied, decision.costs)
        at_peak = ""
        if len(peaked) < len(tied):
            tied = peaked
            at_peak = (
                f", then the least at the fleet's peak of concurrent writes "
                f"({format_bytes(_peak_of(tied[0], decision.costs))})"
            )
        if off is not None and any(cell is off for cell in candidates):
            chosen = off
            reason = f"compressing does not pay: no compression is {within}"
        elif default is not None and any(cell is default for cell in tied):
            chosen = default
            reason = (
                f"the stack's default: the least memory "
                f"({format_bytes(chosen['connection_memory'])}, a tie within "
                f"{format_bytes(AXES_MEMORY_RESOLUTION)}){at_peak} {within}"
            )
        else:
            chosen = min(tied, key=lambda cell: _cheapest(cell)[1:])
            reason = (
                f"the least memory ({format_bytes(chosen['connection_memory'])}){at_peak}, "
                f"then the least compress time, {within}"
            )
        reason += (
            f" in at least {_option_percent(constraints.confidence)} of "
            f"{constraints.resamples:,} resamples of the corpus"
            if decision.robustness is not None
            else " on this corpus"
        )
    else:
        robustness = decision.robustness
        assert robustness is not None
        chosen = max(feasible, key=lambda c: (robustness.share[name(c)], -c["connection_memory"]))
        decision.warnings.append(
            f"no cell stays within {tolerance} of the smallest output in "
            f"{_option_percent(constraints.confidence)} of the resamples: recommending the most "
            f"robust, {name(chosen)}; raise --tolerance or measure a larger corpus"
        )
        reason = f"the most often within {tolerance} of the smallest output"
    if decision.robustness is not None:
        index = next(i for i, cell in enumerate(feasible) if cell is chosen)
        decision.robustness = with_interval(decision.robustness, totals, raw_totals, index)
    decision.chosen, decision.best, decision.reason = chosen, best, f"{name(chosen)}: {reason}"
    decision.candidates = sorted(candidates, key=_cheapest)
    if default is not None and chosen is not default:
        decision.explanation.append(_against_default(default, chosen, name))
    decision.snippet = axes_snippet(run, chosen)
    decision.limits = stack_limits(run)
    if decision.costs is not None and chosen is not off:
        decision.once_cost = once_cost(decision.costs, chosen, constraints)
    return decision


def _peak_of(cell: Cell, fleet: Fleet | None) -> int:
    cost = None if fleet is None else next((c for c in fleet.costs if c.cell is cell), None)
    assert cost is not None and cost.peak is not None
    return cost.peak.peak


def _least_peak(tied: list[Cell], fleet: Fleet | None) -> list[Cell]:
    """Among cells tied on memory per connection, those least at the fleet's peak of
    concurrent writes (gorilla level 1's writer holds 1.1 MiB, level 9's 785 KiB): a tie when
    within the memory resolution per write. All of ``tied`` when a cell
    has no peak (no --connections, no fan-out, rate or --concurrent-writes)."""
    peaks = {} if fleet is None else {id(c.cell): c for c in fleet.costs if c.peak is not None}
    if not tied or not all(id(cell) in peaks for cell in tied):
        return tied
    # Their memory per connection ties already: what the writes hold decides.
    held = {id(cell): peaks[id(cell)].peak for cell in tied}
    least = min(peak.writes * peak.per_write for peak in held.values() if peak is not None)
    return [
        cell
        for cell in tied
        if (peak := held[id(cell)]) is not None
        and peak.writes * peak.per_write - least <= AXES_MEMORY_RESOLUTION * peak.writes
    ]


def _peak_load(cell: Cell, fleet: Fleet, constraints: Constraints) -> WriteLoad | None:
    return write_load(
        fleet.connections,
        constraints.fanout,
        fleet.rate,
        seconds_per_write(cell),
        constraints.concurrent_writes,
    )


def _gib_month(memory: int, prices: Prices) -> float:
    return memory / 1024**3 * prices.memory_gib_month


def with_peaks(fleet: Fleet, constraints: Constraints) -> None:
    """Give every cost of a Go run's fleet its peak memory (:mod:`wsztune.writes`) when the
    writes in flight are stated or can be estimated, and price its memory at that peak."""
    for index, cost in enumerate(fleet.costs):
        if cost.cell is None:
            continue
        load = _peak_load(cost.cell, fleet, constraints)
        peak = None if load is None else peak_memory(cost.cell, fleet.connections, load)
        if peak is not None:
            memory = _gib_month(peak.peak, fleet.prices)
            fleet.costs[index] = replace(cost, memory=memory, peak=peak, load=load)


def once_cost(fleet: Fleet, chosen: Cell, constraints: Constraints) -> Cost | None:
    """The chosen cell's compress-once mode for the fleet: memory at its peak (connections
    plus the broadcasts in flight), the same payload egress, compress CPU once per unique
    message (the per-connection CPU over the fan-out). ``None`` without such a mode or a
    fan-out of 2 or more."""
    fanout = constraints.fanout
    if not isinstance(chosen.get("compress_once"), dict) or fanout is None or fanout < 2:
        return None
    per_connection = next((cost for cost in fleet.costs if cost.cell is chosen), None)
    load = _peak_load(chosen, fleet, constraints)
    if per_connection is None or load is None:
        return None
    peak = once_peak_memory(chosen, fleet.connections, load)
    assert peak is not None
    cpu = None if per_connection.cpu is None else per_connection.cpu / fanout
    return Cost(chosen, _gib_month(peak.peak, fleet.prices), per_connection.egress, cpu, peak,
                load)  # fmt: skip


def _against_default(default: Cell, chosen: Cell, name: Callable[[Cell], str]) -> str:
    """What the chosen cell trades against the stack's default: bytes and compress time."""
    size = chosen["compressed_bytes"] / default["compressed_bytes"] - 1
    line = (
        f"against the default ({name(default)}): {name(chosen)} sends "
        f"{_precise_percent(abs(size))} {'fewer' if size < 0 else 'more'} bytes"
    )
    times = chosen["compress_seconds"], default["compress_seconds"]
    if chosen.get("compression") is not False and None not in times and times[1]:
        line += f" at {times[0] / times[1] - 1:+.0%} compress time"
    return line


def check_on_axes(
    decision: AxesDecision, wanted: dict[str, Any], tolerance: float, *, strict: bool = False
) -> Verdict:
    """:func:`gate` for a Go setting (``wanted``, from :func:`parse_axes_setting`): a failure
    when it does not fit the budget or the time ratio; when another setting would be chosen
    (not within ``tolerance`` of the smallest in the confidence share of the resamples),
    advice, or a failure with ``strict``. A setting the run did not measure: WsztuneError."""
    cell = _checked_cell(decision, wanted)
    name = decision.name(cell)
    constraints = decision.constraints
    mode = "strict" if strict else "advice"
    if constraints.max_memory is not None and cell["connection_memory"] > constraints.max_memory:
        return Verdict(
            False,
            f"{name} needs {format_bytes(cell['connection_memory'])} per connection, over the "
            f"{format_bytes(constraints.max_memory)} budget",
            cell, "budget", mode=mode,
        )  # fmt: skip
    default = decision.default
    if constraints.max_time_ratio is not None and default is not None and cell is not decision.off:
        ratio = _time_ratio(cell, default) or 0.0
        if ratio > constraints.max_time_ratio:
            return Verdict(
                False,
                f"{name} compresses {ratio:.2f}x as slowly as the default "
                f"({decision.name(default)}), over the {constraints.max_time_ratio:g}x limit",
                cell, "time", mode=mode,
            )  # fmt: skip
    chosen, best = decision.chosen, decision.best
    if chosen is None or best is None:
        return Verdict(False, decision.reason, cell, "nothing", mode=mode)
    within = _option_percent(tolerance)
    change = cell["compressed_bytes"] / best["compressed_bytes"] - 1
    robustness = decision.robustness
    if robustness is not None:
        share = robustness.share.get(name, 0.0)
        needed = _option_percent(robustness.confidence)
        good = share >= robustness.confidence - 1e-9
        how = f"in {_share(share)} of {robustness.resamples:,} resamples (needs {needed})"
        if not good:
            how = f"in only {how.removeprefix('in ')}; {change:+.2%} on this corpus"
    else:
        good = change <= tolerance
        how = f"on this corpus ({_precise_percent(change)}; no resampling data)"
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
    if strict:
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


def axes_decision_json(decision: AxesDecision, verdict: Verdict | None = None) -> dict[str, Any]:
    """The machine-readable decision on a Go run for ``--json``."""

    def brief(cell: Cell | None) -> dict[str, Any] | None:
        if cell is None:
            return None
        robust = decision.robustness
        # The whole cell as measured (the per-unit sizes left out: the results file has them).
        return {
            "setting": decision.name(cell),
            "compression": cell.get("compression") is not False,
            "robust_share": None if robust is None else robust.share.get(decision.name(cell)),
            **{name: value for name, value in cell.items() if name != UNIT_SIZES},
        }

    robust = decision.robustness
    document: dict[str, Any] = {
        "axes": list(decision.axes),
        "chosen": brief(decision.chosen),
        "smallest": brief(decision.best),
        "default": brief(decision.default),
        "off": brief(decision.off),
        "candidates": [decision.name(cell) for cell in decision.candidates],
        "reason": decision.reason,
        "tolerance": decision.constraints.tolerance,
        "robustness": None
        if robust is None
        else {
            "resamples": robust.resamples,
            "units": robust.units,
            "confidence": robust.confidence,
            "seed": robust.seed,
            "savings_interval": robust.savings_interval,
            "excess_p95": robust.excess_p95,
        },
        "costs": _costs_json(decision.costs, decision.name),
        "write_peak": write_peak_json(decision),
        "warnings": decision.warnings,
        "explanation": decision.explanation,
        "cannot_set": decision.limits or None,
        "snippet": decision.snippet or None,
    }
    if verdict is not None:
        document["check"] = {
            "ok": verdict.ok,
            "kind": verdict.kind,
            "reason": verdict.reason,
            "advice": verdict.advice,
            "mode": verdict.mode,
            "setting": decision.name(verdict.cell),
        }
    return document


def write_peak_json(decision: AxesDecision) -> dict[str, Any] | None:
    """The chosen cell's fleet memory steady and at the peak of concurrent writes, per
    connection and (gorilla) with compress-once, and the writes in flight that peak assumes;
    ``None`` when no peak is known (no --connections, or neither a fan-out, a rate nor
    --concurrent-writes)."""
    cost = decision.chosen_cost
    if cost is None or cost.peak is None or cost.load is None:
        return None
    once = decision.once_cost
    return {
        "concurrent_writes": cost.load.to_dict(),
        "per_connection": cost.peak.to_dict(),
        "compress_once": None
        if once is None or once.peak is None
        else {
            "steady": once.peak.steady,
            "shared_per_broadcast": once.peak.per_write,
            "broadcasts": once.peak.writes,
            "peak": once.peak.peak,
            "per_month": {
                "memory": once.memory, "egress": once.egress, "cpu": once.cpu,
                "total": once.total,
            },
        },
    }  # fmt: skip


def _settable_words(stack: Any, slice_: Slice) -> str:
    pairs = stack.settable_pairs(slice_.server_version)
    shown = ", ".join(f"{wb}:{ml}" for wb, ml in pairs[:6])
    more = f" and {len(pairs) - 6} more" if len(pairs) > 6 else ""
    return f"{shown}{more} at level {stack.defaults_for(slice_.server_version).level}"


_AXIS_WORDS = {
    "window_bits": "the window",
    "mem_level": "memLevel",
    "level": "the level",
    "context_takeover": "context takeover",
    "client_window_bits": "the client's window",
}


def _versus(cell: Cell, against: Cell) -> str:
    """``306.0 KiB per connection (+244.0 KiB), 18,382 B (-2.1%, -391 B)``."""
    memory = cell["connection_memory"] - against["connection_memory"]
    size = cell["compressed_bytes"] - against["compressed_bytes"]
    share = size / against["compressed_bytes"] if against["compressed_bytes"] else 0.0
    return (
        f"{format_bytes(cell['connection_memory'])} per connection "
        f"({'+' if memory >= 0 else '-'}{format_bytes(abs(memory))}), "
        f"{cell['compressed_bytes']:,} B ({share:+.1%}, {size:+,} B) against {label(against)}"
    )


def _modes_line(stack: Any, takeover: bool) -> str:
    """What a stack whose modes fix window, memLevel and takeover together can be set to: the
    cells of this slice's takeover, and where the others are."""
    here = [f"{wb}:{ml}" for wb, ml, on in stack.cells if on == takeover]
    there = [f"{wb}:{ml}" for wb, ml, on in stack.cells if on != takeover]
    state = "on" if takeover else "off"
    text = (
        f"{stack.title} sets window, memLevel and context takeover together: with takeover "
        f"{state} only {', '.join(here) or 'no cell'}"
    )
    if there:
        other = "off" if takeover else "on"
        text += f"; with it {other}, {', '.join(there)} (--context-takeover {other} shows them)"
    return text + "; no other cell."


def _stack_lines(decision: Decision, stack: Any) -> list[str]:
    """What the stack's default is, what it cannot do, compression off, and the nearest
    alternatives, with figures from the run."""
    from wsztune.stacks import STACKS

    slice_, chosen = decision.slice, decision.chosen
    version = slice_.server_version
    defaults = stack.defaults_for(version)
    default_cell = slice_.get(stack.default_pair(version))
    named = stack.title + (f" {version}" if version else "")
    lines = []
    default_words = f"{named}'s default is {defaults.label}"
    if defaults.level != -1:
        default_words += f" at level {defaults.level}"
    if defaults.threshold:
        default_words += f", threshold {defaults.threshold} B"
    if not defaults.enabled:
        default_words += " once compression is turned on (it is off out of the box)"
    note = stack.version_note(version)
    enabled = stack.knob("enabled")
    never = enabled is None and not defaults.enabled
    if never:
        default_words = (
            f"{named} never compresses: it has no permessage-deflate option, so compression off "
            "is its only setting; the other rows show what another server would buy"
        )
    lines.append(default_words + (f" ({note})" if note else "") + ".")
    limits = cannot_set(stack)
    if limits and not never:
        lines.append(limits)
    lines.extend(stack.limits)
    if stack.cells:
        lines.append(_modes_line(stack, slice_.context_takeover))
    codec_line = _cell_codec_line(stack, chosen, default_cell)
    if codec_line:
        lines.append(codec_line)
    off = slice_.off
    rows: list[tuple[str, Cell]] = []
    if off is not None and chosen is not None and chosen is not off:
        how = f" ({enabled.name})" if enabled is not None else ""
        saved = chosen["connection_memory"]
        extra = off["compressed_bytes"] - chosen["compressed_bytes"]
        wire = off["wire_compressed_bytes"] - chosen["wire_compressed_bytes"]
        share = extra / chosen["compressed_bytes"] if chosen["compressed_bytes"] else 0.0
        lines.append(
            f"Compression off{how}: saves {format_bytes(saved)} per connection and sends "
            f"{extra:+,} B of payload ({share:+.0%}; {wire:+,} B with frame headers) on this "
            f"corpus against {label(chosen)}."
        )
        rows.append(("off", off))
    elif off is not None:
        rows.append(("off", off))
    if not never and default_cell is not None and chosen is not None and default_cell is not chosen:
        lines.append(f"The default, {defaults.label}: {_versus(default_cell, chosen)}.")
    for name in stack.alternatives_for(version):
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
        lines.append(f"Alternative: {other.title} runs {label(cell)}: {_versus(cell, chosen)}.")
        rows.append((other.name, cell))
    decision.stack_rows = rows
    return lines


def _cell_codec_line(stack: Any, chosen: Cell | None, default_cell: Cell | None) -> str:
    """When the stack runs another codec at the chosen cell than at its default (Netty: JZlib
    below window 15), say so: the cells' ``codec`` fields name what measured each."""
    if chosen is None or default_cell is None or chosen is default_cell:
        return ""
    ours, theirs = chosen.get("codec"), default_cell.get("codec")
    if not ours or not theirs or ours == theirs:
        return ""
    return (
        f"{stack.title} compresses {label(chosen)} with {ours}, not {theirs} as at its default "
        f"{label(default_cell)}: this run measured each cell with the codec {stack.title} runs "
        "there (the cells' codec field)."
    )


def _schema_of(slice_: Slice) -> str:
    # A slice does not know its file's schema; no units there means version 1 for wsztune's own.
    return "wsztune.run/1" if slice_.units is None else "wsztune.run/2"


def _budget_words(constraints: Constraints, reference: Cell | None) -> str:
    parts = []
    if constraints.max_memory is not None:
        parts.append(
            f"{format_bytes(constraints.max_memory)} per connection "
            "(compressor + decompressor, observed)"
        )
    if constraints.max_time_ratio is not None and reference is not None:
        parts.append(f"compress time at most {constraints.max_time_ratio:g}x {label(reference)}'s")
    return " and ".join(parts)


def _nothing_fits(decision: Decision, cells: list[Cell], budget: str) -> Decision:
    constraints, reference = decision.constraints, decision.reference

    def overs(cell: Cell) -> dict[str, float]:
        # How far over each constraint a cell is: 1.2 means 20% over.
        ratios = {}
        if constraints.max_memory is not None:
            ratios["memory"] = cell["connection_memory"] / constraints.max_memory
        if constraints.max_time_ratio is not None and reference is not None:
            ratios["time"] = _time_ratio(cell, reference) / constraints.max_time_ratio
        return ratios

    def excess(cell: Cell) -> float:
        return max(overs(cell).values(), default=0.0)

    closest = min(cells, key=lambda c: (excess(c), c["compressed_bytes"], cell_key(c)))
    decision.closest = closest
    memory = f"{format_bytes(closest['connection_memory'])} per connection"
    # Name the constraint the closest cell breaks: a percentage alone does not say over what.
    broken = []
    for what, ratio in overs(closest).items():
        if ratio <= 1:
            continue
        if what == "memory":
            broken.append(
                f"{_percent(ratio - 1)} over the {format_bytes(constraints.max_memory or 0)} "
                "memory budget"
            )
        else:
            assert reference is not None
            broken.append(
                f"compress time {_time_ratio(closest, reference):.2f}x {label(reference)}'s, "
                f"{_percent(ratio - 1)} over the {constraints.max_time_ratio:g}x time limit"
            )
    over = " and ".join(broken)
    options = [
        option
        for option, given in (
            ("--max-memory", constraints.max_memory is not None),
            ("--max-time-ratio", constraints.max_time_ratio is not None),
        )
        if given
    ]
    advice = f"Raise {' or '.join(options)}"
    if constraints.max_memory is not None:
        advice += ", or serve without compression on connections that cannot afford it"
    decision.reason = f"no cell fits {budget}; the closest is {label(closest)}, {over}"
    decision.explanation = [
        f"No cell of this run fits {budget}.",
        f"The closest is {label(closest)}: {memory}, {over}; "
        f"{closest['compressed_bytes']:,} B ({closest['savings']:.1%} saved).",
        f"{advice}.",
    ]
    return decision


def action_words(decision: Decision) -> str | None:
    """The decision as the action a team takes, for a headline: ``Keep 12:5, uvicorn --ws
    auto's default``, ``Change 12:5 (websockets' default) to 13:2``, ``Turn compression off``.
    None when nothing was chosen."""
    chosen, reference = decision.chosen, decision.reference
    if chosen is None:
        return None
    if chosen.get("compression") is False:
        return "Turn compression off"
    if reference is None:
        return f"Use {label(chosen)}"
    name = reference_name(reference, slice_=decision.slice)
    if reference is chosen:
        return f"Keep {label(chosen)}, {name}"
    if reference.get("compression") is False:
        return f"Turn compression on at {label(chosen)}"
    return f"Change {label(reference)} ({name}) to {label(chosen)}"


def _settle_words(decision: Decision) -> str:
    """The corpus is too small to separate the cheapest fragile cell from the chosen one: say
    so, what the certainty costs, and how much more traffic would settle it."""
    chosen, cheap = decision.chosen, decision.fragile[0]
    assert chosen is not None and decision.settle_factor is not None
    factor = decision.settle_factor
    raw = decision.slice.corpus.get("raw_bytes") or chosen["raw_bytes"]
    extra = chosen["connection_memory"] - cheap["connection_memory"]
    return (
        f"The corpus ({format_bytes(raw)}) is too small to separate {label(cheap)} from "
        f"{label(chosen)}: {label(chosen)} spends {format_bytes(extra)} more per connection on "
        f"a certainty the corpus cannot give. About {factor:.1f}x as much traffic of this kind "
        f"(a corpus of {format_bytes(round(raw * factor))}) would settle whether "
        f"{label(cheap)} holds."
    )


def _clients_line(chosen: Cell, client: str, budget: int | None) -> str:
    """What the client mix means for the chosen cell: each client's window and memory per
    connection, the worst beside the mixed mean (a Firefox connection over the budget must be
    visible in the text, not only in the JSON)."""
    parts = chosen.get("clients") or [{"name": client, **chosen}]
    each = "; ".join(
        f"{part['name']} {part['client_window_bits']} bits, "
        f"{format_bytes(part['connection_memory'])}"
        for part in parts
    )
    worst = max(parts, key=lambda part: part["connection_memory"])
    worst_words = ""
    if len(parts) > 1:
        over = budget is not None and worst["connection_memory"] > budget
        worst_words = (
            f" The worst client, {worst['name']}, needs "
            f"{format_bytes(worst['connection_memory'])} per connection"
            + (f", over the {format_bytes(budget)} budget the mean fits" if over else "")
            + "."
        )
    return (
        f"Clients: {client} (run --client): the client direction is compressed as they "
        "compress it, and the server's decompressor holds the window they really use (at "
        f"{label(chosen)}: {each} per connection; "
        f"{format_bytes(chosen['connection_memory'])} on the mix's mean), in the memory above."
        + worst_words
    )


def _nearest_over(cells: list[Cell], off: Cell, budget: int | None) -> str | None:
    """When the budget turned compression off: the nearest compressed cell over the budget,
    what it would save against off, and the --max-memory that would keep it."""
    import math

    over = [cell for cell in cells if cell is not off and cell["connection_memory"] > 0]
    if budget is None or not over:
        return None
    near = min(over, key=lambda cell: (cell["connection_memory"], cell["compressed_bytes"]))
    memory = near["connection_memory"]
    fewer = off["compressed_bytes"] - near["compressed_bytes"]
    return (
        f"Compression off because nothing compressed fits {format_bytes(budget)}: the nearest "
        f"cell over the budget is {label(near)}, {format_bytes(memory)} per connection "
        f"({_percent(memory / budget - 1)} over), saving {near['savings']:.1%} "
        f"({fewer:,} B fewer than off on this corpus); under the budget there is only "
        f"compression off. --max-memory {math.ceil(memory / 1024)}KiB keeps compression."
    )


def _explain(decision: Decision, budget: str, total: int) -> list[str]:
    chosen, best, constraints = decision.chosen, decision.best, decision.constraints
    assert chosen is not None and best is not None
    lines = []
    if budget:
        lines.append(f"Fits {budget}: {len(decision.feasible)} of {plural(total, 'cell')}.")
    elif total == 1:
        lines.append("No budget given (--max-memory): the run's only cell counts as fitting.")
    else:
        lines.append(f"No budget given (--max-memory): all {total} cells count as fitting.")
    lines.append(
        f"Smallest output that fits: {label(best)}, {best['compressed_bytes']:,} B "
        f"({best['savings']:.1%} saved), {format_bytes(best['connection_memory'])} per connection."
    )
    client = getattr(decision.slice, "client", None)
    if client and chosen.get("compression") is not False:
        lines.append(_clients_line(chosen, client, constraints.max_memory))
    tolerance = _option_percent(constraints.tolerance)
    robustness = decision.robustness
    extra = chosen["compressed_bytes"] / best["compressed_bytes"] - 1
    chosen_words = (
        f"{format_bytes(chosen['connection_memory'])}, {chosen['compressed_bytes']:,} B "
        f"(+{_percent(extra)})"
    )
    ordered = [label(cell) for cell in sorted(decision.candidates, key=cell_key)]
    # A full grid can have dozens: name a few, count the rest (--json lists them all).
    more = f" and {len(ordered) - 10} more" if len(ordered) > 10 else ""
    names = ", ".join(ordered[:10]) + more
    if robustness is not None:
        lines.append(
            f"Resampled the corpus's {robustness.units:,} units (streams, and blocks of "
            f"consecutive messages) {robustness.resamples:,} times (seed {robustness.seed}): "
            + (
                f"within {tolerance} of the smallest output that fits in at least "
                f"{_option_percent(robustness.confidence)} of them: {names}."
                if decision.candidates
                else f"no cell stays within {tolerance} of the smallest output that fits in "
                f"{_option_percent(robustness.confidence)} of them."
            )
        )
    elif decision.candidates:
        lines.append(f"Within {tolerance} of it on this corpus: {names}.")
    if constraints.objective == "cost" and decision.costs is not None:
        cost = next(c for c in decision.costs.costs if c.cell is chosen)
        lines.append(
            f"{label(chosen)} costs the least per month: {_money(cost.total)} "
            f"(memory {_money(cost.memory)}, egress {_money(cost.egress or 0)}, compress CPU "
            f"{_money(cost.cpu or 0)}); {chosen_words}."
        )
    elif chosen is not best or len(decision.candidates) > 1:
        lines.append(f"{label(chosen)} needs the least memory of those: {chosen_words}.")
    if robustness is not None:
        share = robustness.of(chosen) or 0.0
        low, high = robustness.savings_interval or (chosen["savings"], chosen["savings"])
        held = (
            f"chosen in {_share(share)} of resamples (within {tolerance} of the smallest each time)"
            if constraints.objective == "memory"
            else f"within {tolerance} of the smallest output in {_share(share)} of resamples"
        )
        lines.append(
            f"{label(chosen)}: {held}; savings {chosen['savings']:.1%}, 95% interval "
            f"{low:.1%} to {high:.1%}."
        )
    if decision.fragile:
        assert robustness is not None
        words = ", ".join(
            f"{label(cell)} ({format_bytes(cell['connection_memory'])}, "
            f"{_share(robustness.of(cell) or 0)})"
            for cell in decision.fragile[:4]
        )
        more = f" and {len(decision.fragile) - 4} more" if len(decision.fragile) > 4 else ""
        lines.append(
            f"Less memory and within {tolerance} on this corpus, but not in "
            f"{_option_percent(robustness.confidence)} of resamples: {words}{more}."
        )
        if decision.settle_factor is not None:
            lines.append(_settle_words(decision))
    cliff = decision.cliffs.get(cell_key(chosen))
    if cliff is not None:
        # Only an explanation: the resamples decided; a neighbour is no reason to spend memory.
        lines.append(
            f"Note: {label(chosen)} sits on a cliff edge ({cliff.reason}); traffic much unlike "
            "this corpus could compress worse there."
        )
    reference = decision.reference
    if reference is None:
        lines.append(f"{label(constraints.reference)} is not in this run: no comparison with it.")
    elif reference is chosen:
        lines.append(
            f"That is {label(reference)}, {reference_name(reference, slice_=decision.slice)}: "
            "keep it."
        )
    else:
        memory = chosen["connection_memory"] - reference["connection_memory"]
        size = chosen["compressed_bytes"] - reference["compressed_bytes"]
        ratio = _time_ratio(chosen, reference)
        time = "not measured" if ratio is None else f"{ratio - 1:+.0%}"
        # A node cell's connection_memory is 0 when no connection builds a zlib stream (ws
        # builds them on first use): no ratio to nothing.
        relative = (
            f" ({memory / reference['connection_memory']:+.0%})"
            if reference["connection_memory"]
            else ""
        )
        lines.append(
            f"Against {label(reference)} ({reference_name(reference, slice_=decision.slice)}): "
            f"{'+' if memory >= 0 else '-'}{format_bytes(abs(memory))} per connection"
            f"{relative}, output "
            f"{size / reference['compressed_bytes']:+.1%} ({size:+,} B on this corpus), "
            f"compress time {time}."
        )
        ref_cliff = decision.cliffs.get(cell_key(reference))
        if ref_cliff is not None:
            lines.append(f"{label(reference)} itself sits on a cliff edge: {ref_cliff.reason}.")
    return lines


def _money(value: float) -> str:
    return f"{value:,.2f}" if value < 10_000 else f"{value:,.0f}"


def message_rate(corpus: dict[str, Any], constraints: Constraints) -> tuple[float | None, str]:
    """Messages per second over the fleet, and where the figure came from.

    ``--messages-per-second`` (the whole fleet's) first. Else the rate the corpus's timestamps
    gave the run's metadata (``corpus.messages_per_second``, or ``messages`` over
    ``duration_seconds``): that is the rate of the corpus's own connections, so it is scaled
    to the fleet, per connection, by ``constraints.connections`` over the corpus's connections.
    """
    if constraints.messages_per_second is not None:
        return constraints.messages_per_second, "--messages-per-second"
    rate = corpus.get("messages_per_second")
    duration, messages = corpus.get("duration_seconds"), corpus.get("messages")
    if not (isinstance(rate, int | float) and rate > 0):
        if not (isinstance(duration, int | float) and duration > 0 and isinstance(messages, int)):
            return None, ""
        rate = messages / duration
    recorded = corpus.get("connections")
    if not isinstance(recorded, int) or recorded < 1:
        recorded = 1
    fleet = constraints.connections or recorded
    return (
        float(rate) / recorded * fleet,
        f"the corpus's timestamps: {rate:,.1f}/s on its {plural(recorded, 'connection')}, "
        f"scaled to {fleet:,}",
    )


def cell_cost(
    cell: Cell | None, like: Cell, connections: int, rate: float | None, prices: Prices
) -> Cost:
    """Monthly cost of one cell (``None``: no compression, priced from ``like``'s raw bytes).

    Memory: ``connections`` x ``connection_memory``. Egress: what the server sends (its
    compressed payloads) for ``rate`` messages per second mixed like the corpus. Compress CPU:
    the measured compress time, the server's share of it by raw bytes, at that rate, in vCPUs;
    None in a ``--no-timing`` run (not measured, not free).
    """
    cpu_per_message: float | None
    if cell is None:
        memory, sent, cpu_per_message = 0.0, like["server_raw_bytes"], 0.0
    else:
        memory = connections * cell["connection_memory"] / 1024**3 * prices.memory_gib_month
        sent = cell["server_compressed_bytes"]
        share = cell["server_raw_bytes"] / cell["raw_bytes"] if cell["raw_bytes"] else 0.0
        seconds = cell["compress_seconds"]
        cpu_per_message = None if seconds is None else seconds * share / cell["messages"]
    if rate is None:
        return Cost(cell, memory, None, None)
    per_month = rate * SECONDS_PER_MONTH
    egress = per_month * sent / like["messages"] / 1e9 * prices.egress_gb
    cpu = None if cpu_per_message is None else rate * cpu_per_message * prices.cpu_month
    return Cost(cell, memory, egress, cpu)


def fleet_costs(corpus: dict[str, Any], cells: list[Cell], constraints: Constraints) -> Fleet:
    """Every cell's monthly cost for ``constraints.connections`` connections (``corpus``: the
    run's corpus metadata, for the message rate its timestamps give)."""
    assert constraints.connections
    rate, source = message_rate(corpus, constraints)
    fleet = Fleet(constraints.connections, rate, source, constraints.prices)
    fleet.costs = [cell_cost(cell, cell, fleet.connections, rate, fleet.prices) for cell in cells]
    if cells:
        fleet.uncompressed = cell_cost(None, cells[0], fleet.connections, rate, fleet.prices)
    return fleet


def fleet_lines(chosen: Cell, reference: Cell | None, connections: int) -> list[str]:
    """Memory for ``connections`` connections and bytes saved per million messages."""
    per_million = 1_000_000 / chosen["messages"]
    saved = (chosen["raw_bytes"] - chosen["compressed_bytes"]) * per_million
    lines = [
        f"{connections:,} connections x {format_bytes(chosen['connection_memory'])} = "
        f"{format_bytes(connections * chosen['connection_memory'])} of compression state",
    ]
    if reference is not None and reference is not chosen:
        delta = connections * (chosen["connection_memory"] - reference["connection_memory"])
        lines[0] += (
            f" ({'+' if delta >= 0 else '-'}{format_bytes(abs(delta))} against {label(reference)})"
        )
    lines.append(
        f"per million messages like these: {format_bytes(saved)} saved against no compression"
    )
    if reference is not None and reference is not chosen:
        vs_ref = (reference["compressed_bytes"] - chosen["compressed_bytes"]) * per_million
        lines[-1] += (
            f", {format_bytes(abs(vs_ref))} {'less' if vs_ref >= 0 else 'more'} sent than "
            f"with {label(reference)}"
        )
    return lines


# Threshold ----------------------------------------------------------------------------------------


def threshold_advice(chosen: Cell, slice_: Slice, tolerance: float) -> ThresholdAdvice | None:
    """What the thresholds the run swept trade at the chosen setting: compress calls saved
    against bytes. Use the largest threshold whose output stays within ``tolerance`` of the
    smallest: it spares the compressor the most messages at a cost already accepted.
    None when the run has one threshold only (nothing to compare).
    """
    key = cell_key(chosen)
    options = {
        threshold: cells[key] for threshold, cells in slice_.by_threshold.items() if key in cells
    }
    if len(options) < 2:
        return None
    smallest = min(options.values(), key=lambda cell: cell["compressed_bytes"])
    limit = smallest["compressed_bytes"] * (1 + tolerance)
    pick = max(t for t, cell in options.items() if cell["compressed_bytes"] <= limit)
    lines = []
    for threshold, cell in sorted(options.items()):
        skipped = cell["messages"] - cell["compressed_messages"]
        extra = cell["compressed_bytes"] - smallest["compressed_bytes"]
        share = extra / smallest["compressed_bytes"] if smallest["compressed_bytes"] else 0.0
        lines.append(
            f"threshold {threshold} B at {label(chosen)}: "
            f"{plural(skipped, 'message')} of {cell['messages']:,} "
            f"({skipped / cell['messages']:.1%} of compress calls) skip the compressor, "
            f"{extra:+,} B ({share:+.2%}) output" + (" (this one)" if threshold == pick else "")
        )
    lines.insert(
        0,
        f"threshold: use {pick} B, the largest whose output stays within "
        f"{_option_percent(tolerance)} of the smallest (--tolerance); a larger threshold saves "
        "compress calls (CPU) on short messages and costs their compression",
    )
    return ThresholdAdvice(pick, lines)


# The CI gate ------------------------------------------------------------------------------------


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
    slice_ = decision.slice
    cell = slice_.get((window_bits, mem_level))
    if cell is None:
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
    name = label(cell)
    constraints = decision.constraints
    if constraints.max_memory is not None and cell["connection_memory"] > constraints.max_memory:
        return Verdict(
            False,
            f"{name} needs {format_bytes(cell['connection_memory'])} per connection, over the "
            f"{format_bytes(constraints.max_memory)} budget",
            cell,
            "budget",
        )
    reference = decision.reference
    if constraints.max_time_ratio is not None and reference is not None:
        ratio = _time_ratio(cell, reference)
        if ratio > constraints.max_time_ratio:
            return Verdict(
                False,
                f"{name} compresses {ratio:.2f}x as slowly as {label(reference)}, over the "
                f"{constraints.max_time_ratio:g}x limit",
                cell,
                "time",
            )
    chosen, best = decision.chosen, decision.best
    if chosen is None or best is None:
        return Verdict(False, decision.reason, cell, "nothing")
    within = _option_percent(tolerance)
    change = cell["compressed_bytes"] / best["compressed_bytes"] - 1
    robustness = decision.robustness
    if robustness is not None and tolerance == constraints.tolerance:
        share = robustness.of(cell) or 0.0
        needed = _option_percent(robustness.confidence)
        if share < robustness.confidence - 1e-9:
            return Verdict(
                False,
                f"{name}'s output is within {within} of the smallest that fits ({label(best)}) "
                f"in only {_share(share)} of {robustness.resamples:,} resamples (needs "
                f"{needed}; {change:+.2%} on this corpus); {label(chosen)} is recommended",
                cell,
                "better",
            )
        how = f"in {_share(share)} of {robustness.resamples:,} resamples (needs {needed})"
    else:
        if change > tolerance:
            return Verdict(
                False,
                f"{name}'s output is {_precise_percent(change)} larger than the smallest that "
                f"fits, {label(best)}'s (tolerance {within}); {label(chosen)} is recommended",
                cell,
                "better",
            )
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
    _require_same_question(decision.slice, baseline.slice, name)
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
    # Only the cells both runs measured and that fit in both compete: a cell added to today's
    # grid (or dropped from it) would otherwise move the bar and read as the setting's change.
    keys_then = {cell_key(c) for c in baseline.feasible}
    now_cells = [c for c in decision.feasible if cell_key(c) in keys_then]
    keys_now = {cell_key(c) for c in now_cells}
    then_cells = [c for c in baseline.feasible if cell_key(c) in keys_now]
    order = {cell_key(c): i for i, c in enumerate(now_cells)}
    then_cells.sort(key=lambda c: order[cell_key(c)])

    best_now, best_then = _smallest(now_cells), _smallest(then_cells)
    gap_now = cell["compressed_bytes"] / best_now["compressed_bytes"] - 1
    gap_then = then["compressed_bytes"] / best_then["compressed_bytes"] - 1
    constraints = decision.constraints
    max_drop = constraints.max_savings_drop
    share = drop_share = resamples = None
    paired = False
    raw_now = resampling_units(decision.slice, now_cells)
    raw_then = resampling_units(baseline.slice, then_cells)
    if raw_now is not None and raw_then is not None:
        import numpy

        # The same units (the same corpus, cut alike): the same draws for both, so that only
        # the runs differ, not the luck of the draw. Otherwise independent draws.
        paired = raw_now == raw_then
        seed = constraints.seed
        gaps, savings = [], []
        for cells, shipped, raw, draw_seed in (
            (now_cells, cell, raw_now, seed),
            (then_cells, then, raw_then, seed if paired else seed + 1),
        ):
            _, totals, raw_totals = bootstrap(
                cells, raw, constraints.tolerance, constraints.resamples, draw_seed
            )
            index = next(i for i, c in enumerate(cells) if c is shipped)
            with numpy.errstate(divide="ignore", invalid="ignore"):
                gaps.append(totals[:, index] / totals.min(axis=1) - 1)
                savings.append(1 - totals[:, index] / raw_totals)
        share = float(numpy.mean(gaps[0] - gaps[1] > tolerance + 1e-12))
        drop_share = float(numpy.mean(savings[1] - savings[0] > max_drop + 1e-12))
        resamples = constraints.resamples
        gap_regressed = share >= constraints.confidence - 1e-9
        savings_dropped = drop_share >= constraints.confidence - 1e-9
    else:
        gap_regressed = gap_now - gap_then > tolerance + 1e-12
        savings_dropped = then["savings"] - cell["savings"] > max_drop + 1e-12
    return Regression(
        baseline=name,
        gap_now=gap_now,
        gap_baseline=gap_then,
        best_now=cell_key(best_now),
        best_baseline=cell_key(best_then),
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
        moved=_moved_outside(decision, baseline, cell, then, tolerance),
    )


def _require_same_question(now: Slice, then: Slice, name: str) -> None:
    """Refuse a baseline made for another stack or another client mix: its figures answer
    another question (other knobs, other frames on the wire), so any change would be read as
    the traffic's. A different codec is the caller's to flag: it may be the change to watch."""
    for option, ours, theirs in (
        ("--server", now.server, then.server),
        ("--client", now.client, then.client),
    ):
        if ours != theirs:

            def words(value: str | None, option: str = option) -> str:
                return f"{option} {value}" if value else f"no {option}"

            raise WsztuneError(
                f"--baseline {name} was made with {words(theirs)}, this run with {words(ours)}: "
                f"they answer different questions; re-make the baseline with the same {option}"
            )


def _smallest(cells: list[Cell]) -> Cell:
    """The cell with the fewest compressed bytes (then the least memory, then its key)."""
    return min(cells, key=lambda c: (c["compressed_bytes"], c["connection_memory"], cell_key(c)))


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
    best = _smallest(outside)
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
        f"{name}, {why}, would now save {_precise_percent(best['savings'])} against "
        f"{label(cell)}'s {_precise_percent(cell['savings'])} (at the baseline "
        f"{_precise_percent(best_then['savings'])} against {_precise_percent(then['savings'])})"
    )


def _role_title(role: str) -> str:
    """A stack row's role (``uvicorn-websockets``) as the stack's title, else as it is."""
    from wsztune.stacks import STACKS

    stack = STACKS.get(role)
    return stack.title if stack is not None else role


def _points(fraction: float) -> str:
    value = fraction * 100
    return f"{value:g} point" + ("" if value == 1 else "s")


def _regression_words(name: str, r: Regression) -> str:
    points = r.change * 100
    now = f"{_precise_percent(r.gap_now)} larger than the smallest that fits ({label(r.best_now)})"
    then = (
        f"{_precise_percent(r.gap_baseline)} ({label(r.best_baseline)}) at the baseline "
        f"{r.baseline}"
    )
    if r.share is not None:
        how = (
            f"worse by more than {_points(r.tolerance)} (--tolerance) in "
            f"{_share(r.share)} of {r.resamples:,} resamples (fails at "
            f"{_option_percent(CONFIDENCE)})"
        )
    else:
        how = f"against --tolerance {_points(r.tolerance)} on the corpus alone (no resampling data)"
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
            f"fell by more than {_points(r.max_savings_drop)} (--max-savings-drop) in "
            f"{_share(r.drop_share)} of {r.resamples:,} resamples (fails at "
            f"{_option_percent(CONFIDENCE)})"
        )
    else:
        how = (
            f"against --max-savings-drop {_points(r.max_savings_drop)} on the corpus alone "
            "(no resampling data)"
        )
    return (
        f"{_precise_percent(r.savings_now)} now, {_precise_percent(r.savings_baseline)} at the "
        f"baseline ({change:+.2f} points); {how}"
    )


def decision_json(decision: Decision, verdict: Verdict | None = None) -> dict[str, Any]:
    """The machine-readable decision for ``--json``."""

    def brief(cell: Cell | None) -> dict[str, Any] | None:
        if cell is None:
            return None
        return {
            "setting": label(cell),  # "12:5", or "off" for the row of no compression
            "window_bits": cell["window_bits"],
            "client_window_bits": cell["client_window_bits"],
            "mem_level": cell["mem_level"],
            "connection_memory": cell["connection_memory"],
            "compressed_bytes": cell["compressed_bytes"],
            "savings": cell["savings"],
            "compress_seconds": cell["compress_seconds"],
        }

    chosen = brief(decision.chosen) or dict.fromkeys(
        ("setting", "window_bits", "client_window_bits", "mem_level", "connection_memory")
        + ("compressed_bytes", "savings", "compress_seconds")
    )
    constraints = decision.constraints
    robustness = decision.robustness
    document: dict[str, Any] = {
        **chosen,
        "level": decision.slice.level,
        "strategy": decision.slice.strategy,
        "context_takeover": decision.slice.context_takeover,
        "reason": decision.reason,
        "explanation": decision.explanation,
        "warnings": decision.warnings,
        "best": brief(decision.best),
        "reference": brief(decision.reference),
        "closest": brief(decision.closest),
        "candidates": [label(cell) for cell in decision.candidates],
        "fragile": [label(cell) for cell in decision.fragile],
        "cliffs": [
            {"setting": label(c.cell), "neighbour": label(c.neighbour), "worse_by": c.worse_by}
            for c in sorted(decision.cliffs.values(), key=lambda c: cell_key(c.cell))
        ],
        "robustness": None
        if robustness is None
        else {
            "resamples": robustness.resamples,
            "units": robustness.units,
            "confidence": robustness.confidence,
            "seed": robustness.seed,
            "chosen_share": None if decision.chosen is None else robustness.of(decision.chosen),
            "savings_interval": robustness.savings_interval,
            "excess_p95": robustness.excess_p95,
            "share": {label(key): share for key, share in sorted(robustness.share.items())},
        },
        "constraints": {
            "max_memory": constraints.max_memory,
            "max_time_ratio": constraints.max_time_ratio,
            "tolerance": constraints.tolerance,
            "cliff": constraints.cliff,
            "reference": label(constraints.reference),
            "connections": constraints.connections,
            "objective": constraints.objective,
            "messages_per_second": constraints.messages_per_second,
        },
        "fleet": decision.fleet,
        "threshold": None if decision.threshold is None else decision.threshold.threshold,
        "costs": _costs_json(decision.costs),
        "snippets": {title: code for title, (_, code) in decision.snippets.items()},
        "server": decision.slice.server,
        "server_version": decision.slice.server_version,
        "server_default": label(decision.slice.default) if decision.slice.server else None,
        "stack_rows": [
            {"role": role, **(brief(cell) or {})} for role, cell in decision.stack_rows
        ],
    }
    if verdict is not None:
        regression = verdict.regression
        document["check"] = {
            "setting": label(verdict.cell),
            "ok": verdict.ok,
            "reason": verdict.reason,
            "kind": verdict.kind,
            "mode": verdict.mode,
            "advice": verdict.advice,
            "baseline": None
            if regression is None
            else {
                "results": regression.baseline,
                "gap_now": regression.gap_now,
                "gap_baseline": regression.gap_baseline,
                "change": regression.change,
                "best_now": label(regression.best_now),
                "best_baseline": label(regression.best_baseline),
                "savings_now": regression.savings_now,
                "savings_baseline": regression.savings_baseline,
                "memory_now": regression.memory_now,
                "memory_baseline": regression.memory_baseline,
                "share": regression.share,
                "resamples": regression.resamples,
                "paired": regression.paired,
                "regressed": regression.regressed,
                "gap_regressed": regression.gap_regressed,
                "max_savings_drop": regression.max_savings_drop,
                "drop_share": regression.drop_share,
                "savings_dropped": regression.savings_dropped,
                "moved": regression.moved,
            },
        }
    return document


def _costs_json(
    fleet: Fleet | None, name: Callable[[Cell], str] = label
) -> dict[str, Any] | None:
    if fleet is None:
        return None

    def one(cost: Cost) -> dict[str, Any]:
        document = {
            "setting": "none" if cost.cell is None else name(cost.cell),
            "memory": cost.memory,
            "egress": cost.egress,
            "cpu": cost.cpu,
            "total": cost.total,
        }
        if cost.peak is not None:
            document["fleet_memory"] = cost.peak.to_dict()
        return document

    return {
        "connections": fleet.connections,
        "messages_per_second": fleet.rate,
        "rate_source": fleet.rate_source,
        "prices": {
            "memory_per_gib_month": fleet.prices.memory_gib_month,
            "egress_per_gb": fleet.prices.egress_gb,
            "cpu_per_vcpu_month": fleet.prices.cpu_month,
            "examples": fleet.prices.examples,
        },
        "per_month": [one(cost) for cost in fleet.costs],
        "uncompressed": None if fleet.uncompressed is None else one(fleet.uncompressed),
    }
