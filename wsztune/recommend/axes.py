"""The rule on a Go run: cells named by the library's own axes (level, takeover, threshold).

The same rule as :mod:`wsztune.recommend.decide` (feasible, robust within the tolerance, the
least memory), with Go's facts: idle memory read as a heap difference (ties within
:data:`AXES_MEMORY_RESOLUTION`), the stack's default first among ties, the fleet's peak of
concurrent writes (pooled compressors) as the next tie-break.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wsztune.errors import WsztuneError
from wsztune.grid import Cell, off_cell
from wsztune.recommend.constraints import (
    Constraints,
    require_objective,
    require_times,
    time_ratio,
)
from wsztune.recommend.cost import (
    Cost,
    Fleet,
    fleet_costs,
    once_cost,
    require_priced,
    with_peaks,
)
from wsztune.recommend.decide import memory_resolution, rule_order
from wsztune.recommend.robust import Robustness, resample, with_interval
from wsztune.results import UNIT_SIZES, Run
from wsztune.text import OFF, axes_label


@dataclass
class AxesDecision:
    """:func:`decide_on_axes`' outcome: the same rule as the zlib one, on a Go run's cells
    named by their own axes (level, takeover, threshold) instead of windowBits:memLevel. The
    words (``reason``, ``warnings``, ``explanation``, ``limits``) are filled in by
    :func:`wsztune.recommend.explain.explain_on_axes`."""

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
    # How the cell was chosen: cost, off, default, least (memory, then compress time) or
    # robust (none stayed within the tolerance: the most robust); the cell whose peak of
    # concurrent writes broke a tie on memory, if one did; the least memory when none fits.
    rule: str = ""
    peak_tie: Cell | None = None
    least: Cell | None = None

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
    from wsztune.codecs.go import GO_CODER, GO_CODER_DEFAULT_THRESHOLD, library_name
    from wsztune.stacks import STACKS

    stack = STACKS.get(str(run.meta.get("server") or ""))
    library = (run.meta.get("go") or {}).get("library")
    coder = library == library_name(GO_CODER)
    if stack is None:
        level, takeover, threshold = STACKS["gorilla"].defaults.level, False, 0
    else:
        defaults = stack.defaults
        level, takeover, threshold = defaults.level, defaults.context_takeover, defaults.threshold
    if coder and threshold == 0:
        threshold = GO_CODER_DEFAULT_THRESHOLD[takeover]
    return next(
        (
            cell
            for cell in cells
            if cell["context_takeover"] == takeover
            and cell.get("threshold", 0) == threshold
            and (coder or cell["level"] == level)
        ),
        None,
    )


def decide_on_axes(run: Run, constraints: Constraints) -> AxesDecision:
    """:func:`~wsztune.recommend.decide.decide`'s rule on a Go run, as data: among the cells that
    fit ``max_memory`` (and ``max_time_ratio`` against the stack's default), and compression
    off, the least memory whose output stays within ``tolerance`` of the smallest in
    ``confidence`` of the bootstrap resamples; among cells needing the same memory, the stack's
    default (gorilla: level 1) first, then the least compress time. ``objective`` cost: the
    cheapest for the fleet."""
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
    _check_axes_constraints(constraints, measured, default)
    cells = measured + ([off] if off is not None else [])
    feasible = [cell for cell in cells if _fits_axes(cell, constraints, default, off)]
    if constraints.objective == "cost" and off in feasible:
        feasible.remove(off)  # priced apart, as "no compression"
    axes = tuple(run.meta.get("axes") or ())
    decision = AxesDecision(axes, cells, None, None, default, off, "", constraints, feasible)
    if constraints.connections:
        decision.costs = fleet_costs(run.meta.get("corpus") or {}, measured, constraints)
        with_peaks(decision.costs, constraints)
    require_priced(decision.costs, constraints.objective)
    if not feasible:
        decision.least = min(measured, key=lambda cell: cell["connection_memory"])
        return decision
    _choose_on_axes(decision, units)
    chosen = decision.chosen
    decision.snippet = axes_snippet(run, chosen)
    if decision.costs is not None and chosen is not off:
        decision.once_cost = once_cost(decision.costs, chosen, constraints)
    return decision


def _check_axes_constraints(
    constraints: Constraints, measured: list[Cell], default: Cell | None
) -> None:
    """Refuse, in one line each, what this Go run cannot answer."""
    require_objective(constraints)
    if constraints.max_time_ratio is not None:
        if default is None:
            raise WsztuneError(
                "--max-time-ratio compares with the stack's default, which this run did not "
                "measure; sweep it too, or drop --max-time-ratio"
            )
        require_times(measured)


def _fits_axes(
    cell: Cell, constraints: Constraints, default: Cell | None, off: Cell | None
) -> bool:
    """Within the budget and, when asked, the time ratio to the stack's default (compression
    off takes no time)."""
    budget = constraints.max_memory
    if budget is not None and cell["connection_memory"] > budget:
        return False
    if constraints.max_time_ratio is not None and default is not None and cell is not off:
        return (time_ratio(cell, default) or 0.0) <= constraints.max_time_ratio
    return True


def _choose_on_axes(decision: AxesDecision, units: dict[str, Any] | None) -> None:
    """The smallest feasible output, the robust candidates, the objective's choice and the
    chosen cell's interval."""
    feasible, constraints, name = decision.feasible, decision.constraints, decision.name
    best = min(feasible, key=lambda c: (c["compressed_bytes"], c["connection_memory"], name(c)))
    limit = best["compressed_bytes"] * (1 + constraints.tolerance)
    candidates = [cell for cell in feasible if cell["compressed_bytes"] <= limit]
    raw = list(units["raw_bytes"]) if units and all(UNIT_SIZES in c for c in feasible) else None
    totals = raw_totals = None
    if raw is not None:
        decision.robustness, candidates, totals, raw_totals = resample(
            feasible, raw, constraints, key=name
        )
    chosen = _pick_on_axes(decision, candidates)
    if decision.robustness is not None:
        index = next(i for i, cell in enumerate(feasible) if cell is chosen)
        decision.robustness = with_interval(decision.robustness, totals, raw_totals, index)
    decision.chosen, decision.best = chosen, best
    decision.candidates = sorted(candidates, key=rule_order)


def _pick_on_axes(decision: AxesDecision, candidates: list[Cell]) -> Cell:
    """The objective's choice (its ``rule`` noted): the cheapest per month (``cost``), else the
    least memory among the robust candidates (:func:`_least_on_axes`), else the most robust."""
    feasible, name = decision.feasible, decision.name
    if decision.constraints.objective == "cost":
        fleet = decision.costs
        assert fleet is not None
        by_cell = {id(cost.cell): cost for cost in fleet.costs}
        decision.rule = "cost"
        return min(feasible, key=lambda c: (by_cell[id(c)].total, c["connection_memory"]))
    if candidates:
        return _least_on_axes(decision, candidates)
    robustness = decision.robustness
    assert robustness is not None
    decision.rule = "robust"
    return max(feasible, key=lambda c: (robustness.share[name(c)], -c["connection_memory"]))


def _least_on_axes(decision: AxesDecision, candidates: list[Cell]) -> Cell:
    """The least memory among the robust candidates: compression off when it is one; among
    cells tied within :data:`AXES_MEMORY_RESOLUTION`, the least at the fleet's peak of
    concurrent writes, then the stack's default, then the least compress time."""
    least = min(candidates, key=rule_order)
    tied = [
        cell
        for cell in candidates
        if cell["connection_memory"] - least["connection_memory"]
        <= max(AXES_MEMORY_RESOLUTION, memory_resolution(cell))
    ]
    peaked = _least_peak(tied, decision.costs)
    if len(peaked) < len(tied):
        tied = peaked
        decision.peak_tie = tied[0]
    off, default = decision.off, decision.default
    if off is not None and any(cell is off for cell in candidates):
        decision.rule = "off"
        return off
    if default is not None and any(cell is default for cell in tied):
        decision.rule = "default"
        return default
    decision.rule = "least"
    return min(tied, key=lambda cell: rule_order(cell)[1:])


def peak_of(cell: Cell, fleet: Fleet | None) -> int:
    """The fleet's memory at its peak of concurrent writes with ``cell``."""
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
