"""The decision as one JSON document (``--json``): the figures, the words, the gate's verdict."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wsztune.grid import Cell, cell_key
from wsztune.results import UNIT_SIZES
from wsztune.text import label

if TYPE_CHECKING:
    from wsztune.recommend.axes import AxesDecision
    from wsztune.recommend.constraints import Constraints
    from wsztune.recommend.cost import Cost, Fleet
    from wsztune.recommend.decide import Decision
    from wsztune.recommend.gate import Regression, Verdict


# A cell in the zlib decision's JSON: its setting and the figures the rule read.
_BRIEF_FIELDS = (
    "window_bits",
    "client_window_bits",
    "mem_level",
    "connection_memory",
    "compressed_bytes",
    "savings",
    "compress_seconds",
)


def decision_json(decision: Decision, verdict: Verdict | None = None) -> dict[str, Any]:
    """The machine-readable decision for ``--json``."""
    slice_ = decision.slice
    document: dict[str, Any] = {
        **(_brief(decision.chosen) or dict.fromkeys(("setting", *_BRIEF_FIELDS))),
        "level": slice_.level,
        "strategy": slice_.strategy,
        "context_takeover": slice_.context_takeover,
        "reason": decision.reason,
        "explanation": decision.explanation,
        "warnings": decision.warnings,
        "best": _brief(decision.best),
        "reference": _brief(decision.reference),
        "closest": _brief(decision.closest),
        "candidates": [label(cell) for cell in decision.candidates],
        "fragile": [label(cell) for cell in decision.fragile],
        "cliffs": [
            {"setting": label(c.cell), "neighbour": label(c.neighbour), "worse_by": c.worse_by}
            for c in sorted(decision.cliffs.values(), key=lambda c: cell_key(c.cell))
        ],
        "robustness": _robustness_json(decision),
        "constraints": _constraints_json(decision.constraints),
        "fleet": decision.fleet,
        "threshold": None if decision.threshold is None else decision.threshold.threshold,
        "costs": _costs_json(decision.costs),
        "snippets": {title: code for title, (_, code) in decision.snippets.items()},
        "server": slice_.server,
        "server_version": slice_.server_version,
        "server_default": label(slice_.default) if slice_.server else None,
        "stack_rows": [
            {"role": role, **(_brief(cell) or {})} for role, cell in decision.stack_rows
        ],
    }
    if verdict is not None:
        document["check"] = _check_json(verdict)
    return document


def _brief(cell: Cell | None) -> dict[str, Any] | None:
    if cell is None:
        return None
    # "12:5", or "off" for the row of no compression.
    return {"setting": label(cell), **{name: cell[name] for name in _BRIEF_FIELDS}}


def _robustness_json(decision: Decision) -> dict[str, Any] | None:
    robustness = decision.robustness
    if robustness is None:
        return None
    return {
        "resamples": robustness.resamples,
        "units": robustness.units,
        "confidence": robustness.confidence,
        "seed": robustness.seed,
        "chosen_share": None if decision.chosen is None else robustness.of(decision.chosen),
        "savings_interval": robustness.savings_interval,
        "excess_p95": robustness.excess_p95,
        "share": {label(key): share for key, share in sorted(robustness.share.items())},
    }


def _constraints_json(constraints: Constraints) -> dict[str, Any]:
    return {
        "max_memory": constraints.max_memory,
        "max_time_ratio": constraints.max_time_ratio,
        "tolerance": constraints.tolerance,
        "cliff": constraints.cliff,
        "reference": label(constraints.reference),
        "connections": constraints.connections,
        "objective": constraints.objective,
        "messages_per_second": constraints.messages_per_second,
    }


def _check_json(verdict: Verdict, name: Callable[[Cell], str] = label) -> dict[str, Any]:
    """The gate's verdict on the ``--check`` setting (named by ``name``: ``12:5`` on a grid, a
    Go run's axes on its own), and its baseline comparison."""
    regression = verdict.regression
    return {
        "setting": name(verdict.cell),
        "ok": verdict.ok,
        "reason": verdict.reason,
        "kind": verdict.kind,
        "mode": verdict.mode,
        "advice": verdict.advice,
        "baseline": regression_json(regression),
    }


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
        document["check"] = _check_json(verdict, decision.name)
    return document


def regression_json(regression: Regression | None) -> dict[str, Any] | None:
    """A ``--check`` verdict's comparison with ``--baseline`` (None without one)."""
    if regression is None:
        return None
    return {
        "results": regression.baseline,
        "gap_now": regression.gap_now,
        "gap_baseline": regression.gap_baseline,
        "change": regression.change,
        "best_now": regression.best_now,
        "best_baseline": regression.best_baseline,
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
    }


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
