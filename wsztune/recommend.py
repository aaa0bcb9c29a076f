"""Pick a setting from a saved run: constraints, objective, cliff check, explanation, snippets.

Pure: :func:`recommend` returns a :class:`Decision` and :func:`check` a :class:`Verdict`; nothing
here prints. The rule, in order:

1. feasible cells fit the memory budget (``connection_memory``: compressor + decompressor,
   observed) and, if given, the compress-time ratio against the reference cell;
2. ``best`` is the feasible cell with the smallest compressed size;
3. a cell is on a *cliff edge* when the next smaller windowBits (same memLevel) or the next
   smaller memLevel (same windowBits) in the run's grid compresses more than ``cliff`` worse:
   a corpus a little different from this one could fall off;
4. among feasible cells within ``tolerance`` of ``best`` and not on a cliff edge, the one with the
   least connection memory wins (then the least compress time); if every one of them is on a
   cliff edge, ``best`` wins with a warning.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from wsztune.errors import WsztuneError
from wsztune.report import (
    REFERENCE,
    Cell,
    Key,
    Slice,
    cell_key,
    format_bytes,
    label,
    plural,
    reference_name,
    select_slice,
)
from wsztune.results import Run

DEFAULT_TOLERANCE = 0.01
DEFAULT_CLIFF = 0.10

# uWebSockets' CompressOptions presets (ANCHORS section 4): name -> (windowBits, memLevel).
UWS_COMPRESSORS: tuple[tuple[str, int, int], ...] = (
    ("DEDICATED_COMPRESSOR_3KB", 9, 1),
    ("DEDICATED_COMPRESSOR_4KB", 9, 2),
    ("DEDICATED_COMPRESSOR_8KB", 10, 3),
    ("DEDICATED_COMPRESSOR_16KB", 11, 4),
    ("DEDICATED_COMPRESSOR_32KB", 12, 5),
    ("DEDICATED_COMPRESSOR_64KB", 13, 6),
    ("DEDICATED_COMPRESSOR_128KB", 14, 7),
    ("DEDICATED_COMPRESSOR_256KB", 15, 8),
)
UWS_DECOMPRESSORS = {
    9: "DEDICATED_DECOMPRESSOR_512B",
    10: "DEDICATED_DECOMPRESSOR_1KB",
    11: "DEDICATED_DECOMPRESSOR_2KB",
    12: "DEDICATED_DECOMPRESSOR_4KB",
    13: "DEDICATED_DECOMPRESSOR_8KB",
    14: "DEDICATED_DECOMPRESSOR_16KB",
    15: "DEDICATED_DECOMPRESSOR_32KB",
}

# Sizes ------------------------------------------------------------------------------------------

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$", re.IGNORECASE)
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    # Kubernetes spells binary units without the B; they are unambiguous, so accept them.
    "ki": 1024,
    "mi": 1024**2,
    "gi": 1024**3,
}


def parse_size(text: str) -> int:
    """Bytes from ``65536``, ``64KiB`` (65,536), ``64KB`` (64,000), ``1.5 MiB``, ``64Ki``.

    Units are case-insensitive and may follow a space. A bare ``K``/``M``/``G`` is refused:
    half the tools that write ``64K`` mean 65,536 and the other half 64,000, and a CI budget
    must not depend on a guess.
    """
    match = _SIZE.match(text)
    if match is None:
        raise WsztuneError(
            f"--max-memory takes a size such as 65536, 64KiB, 64KB or 1.5MiB, not {text!r}"
        )
    number, unit = float(match[1]), match[2].lower()
    if unit in ("k", "m", "g"):
        raise WsztuneError(
            f"--max-memory {text.strip()!r} is ambiguous: write {match[1]}{unit.upper()}iB "
            f"(binary, 1024) or {match[1]}{unit.upper()}B (decimal, 1000)"
        )
    if unit not in _UNITS:
        raise WsztuneError(
            f"--max-memory: unknown unit {match[2]!r} in {text!r} (use B, KB, KiB, MB, MiB)"
        )
    value = number * _UNITS[unit]
    if value < 1 or not math.isfinite(value):
        raise WsztuneError(f"--max-memory must be at least 1 byte, not {text!r}")
    return int(value)


def parse_fraction(text: str, option: str) -> float:
    """``1%`` or ``0.01`` -> 0.01. Without ``%`` the number must be a fraction below 1."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise WsztuneError(
            f"{option} takes a percentage or a fraction (1% or 0.01), not {text!r}"
        ) from None
    if not raw.endswith("%") and value >= 1:
        raise WsztuneError(
            f"{option} {raw}: write a percentage with % (e.g. {raw}%) or a fraction below 1"
        )
    if value < 0 or not math.isfinite(value):
        raise WsztuneError(f"{option} must not be negative, not {text!r}")
    return value


# Decision ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Constraints:
    """What the user asked for."""

    max_memory: int | None = None
    max_time_ratio: float | None = None
    tolerance: float = DEFAULT_TOLERANCE
    cliff: float = DEFAULT_CLIFF
    reference: Key = REFERENCE
    connections: int | None = None


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


@dataclass
class Decision:
    """The outcome of :func:`recommend`: what was chosen, from what, and why."""

    chosen: Cell | None
    best: Cell | None
    candidates: list[Cell]
    avoided: list[Cliff]
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

    @property
    def slice_description(self) -> str:
        """The level/strategy/takeover slice the decision was made on."""
        return self.slice.description


@dataclass(frozen=True)
class Verdict:
    """The CI gate's answer for one shipped setting."""

    ok: bool
    reason: str
    cell: Cell


def _percent(ratio: float) -> str:
    value = ratio * 100
    return f"{value:.1f}%" if abs(value) < 10 else f"{value:.0f}%"


def _option_percent(ratio: float) -> str:
    # An option's value as the user wrote it: 1%, 2.5%, never 1.0%.
    return f"{ratio * 100:g}%"


def _precise_percent(ratio: float) -> str:
    # Enough digits that a gate failing at 1.01% against a 1% tolerance does not read "1.0%".
    return f"{ratio * 100:.2f}%"


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


def _time_ratio(cell: Cell, reference: Cell) -> float | None:
    """Compress time against the reference's; None when the run did not measure time."""
    if cell["compress_seconds"] is None or reference["compress_seconds"] is None:
        return None
    return cell["compress_seconds"] / reference["compress_seconds"]


def recommend(source: Run | Slice, constraints: Constraints | None = None) -> Decision:
    """Choose a setting from a run (its default slice) or from one slice of it."""
    constraints = constraints or Constraints()
    slice_ = select_slice(source) if isinstance(source, Run) else source
    cells = sorted(slice_.cells.values(), key=cell_key)
    reference = slice_.get(constraints.reference)
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

    def fits(cell: Cell) -> bool:
        budget = constraints.max_memory
        if budget is not None and cell["connection_memory"] > budget:
            return False
        if constraints.max_time_ratio is not None and reference is not None:
            return _time_ratio(cell, reference) <= constraints.max_time_ratio
        return True

    feasible = [cell for cell in cells if fits(cell)]
    cliffs = cliff_edges(slice_, constraints.cliff)
    decision = Decision(
        chosen=None,
        best=None,
        candidates=[],
        avoided=[],
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
    budget = _budget_words(constraints, reference)
    if not feasible:
        return _nothing_fits(decision, cells, budget)

    best = min(feasible, key=lambda c: (c["compressed_bytes"], c["connection_memory"], cell_key(c)))
    limit = best["compressed_bytes"] * (1 + constraints.tolerance)
    candidates = [cell for cell in feasible if cell["compressed_bytes"] <= limit]
    safe = [cell for cell in candidates if cell_key(cell) not in cliffs]
    tolerance = _option_percent(constraints.tolerance)
    if safe:
        chosen = min(safe, key=_cheapest)
        reason = (
            f"{label(chosen)}: the least memory ({format_bytes(chosen['connection_memory'])}) "
            f"within {tolerance} of the smallest output that fits ({label(best)}), "
            "off any cliff edge"
        )
    else:
        chosen = best
        loosen = ""
        if constraints.max_memory is not None:
            loosen = " or raise --max-memory"
        elif constraints.max_time_ratio is not None:
            loosen = " or raise --max-time-ratio"
        decision.warnings.append(
            f"every cell within {tolerance} of the smallest output is on a cliff edge: "
            f"recommending the smallest, {label(best)}, but a slightly different corpus could "
            f"compress much worse; measure a larger corpus{loosen}"
        )
        reason = (
            f"{label(chosen)}: the smallest output that fits; every cell within {tolerance} of "
            "it is on a cliff edge"
        )
    # The chosen cell is never "avoided", even when it sits on a cliff edge itself.
    avoided = [
        cliffs[cell_key(cell)]
        for cell in candidates
        if cell_key(cell) in cliffs and cell is not chosen
    ]
    decision.chosen, decision.best = chosen, best
    decision.candidates, decision.avoided, decision.reason = candidates, avoided, reason
    decision.warnings += _edge_warnings(slice_, chosen)
    decision.explanation = _explain(decision, budget, len(cells))
    decision.threshold = threshold_advice(chosen, slice_, constraints.tolerance)
    if decision.threshold is not None:
        decision.explanation += decision.threshold.lines
    configured = chosen
    if decision.threshold is not None:  # the snippets carry the advised threshold
        configured = {**chosen, "threshold": decision.threshold.threshold}
    decision.snippets = snippets(configured, slice_, constraints.max_memory)
    if constraints.connections:
        decision.fleet = fleet_lines(chosen, reference, constraints.connections)
    return decision


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


def _edge_warnings(slice_: Slice, chosen: Cell) -> list[str]:
    # No measured neighbour below the chosen cell means no cliff check there: say so rather than
    # imply it was checked. Two cases: the cell is at the bottom of a restricted grid, or its
    # neighbour is inside the grid but absent from the run (an interrupted, partial run).
    key = cell_key(chosen)
    below_grid, missing = [], []
    for axis, name, lowest in ((0, "windowBits", 9), (1, "memLevel", 1)):
        below = slice_.step_down(key, axis)
        if below is None:
            if key[axis] > lowest:
                below_grid.append(f"{name} {key[axis] - 1}")
        elif slice_.get(below) is None:
            missing.append(label(below))
    warnings = []
    if below_grid:
        verb = plural(len(below_grid), "was", "were", show=False)
        warnings.append(
            f"{label(chosen)} is at the lower edge of this run's grid "
            f"({slice_.grid_description}): {' and '.join(below_grid)} {verb} not measured, so "
            "a cliff below it was not checked"
        )
    if missing:
        neighbours = plural(len(missing), "neighbour", show=False)
        verb = plural(len(missing), "is", "are", show=False)
        warnings.append(
            f"{label(chosen)}'s {neighbours} one step down, {' and '.join(missing)}, {verb} "
            "in the grid but missing from this run (a partial run?), so a cliff below it was "
            "not checked"
        )
    return warnings


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
    others = ", ".join(label(cell) for cell in decision.candidates)
    within = f"Within {_option_percent(constraints.tolerance)} of it"
    # Only in the fallback is the chosen cell itself on a cliff edge (every candidate is).
    fallback = cell_key(chosen) in decision.cliffs
    if chosen is not best:
        lines.append(
            f"{within}: {others}. {label(chosen)} needs "
            f"the least memory of those off a cliff edge: "
            f"{format_bytes(chosen['connection_memory'])}, {chosen['compressed_bytes']:,} B "
            f"(+{_percent(chosen['compressed_bytes'] / best['compressed_bytes'] - 1)})."
        )
    elif fallback:
        lines.append(_all_on_a_cliff(decision, within))
    elif len(decision.candidates) > 1:
        lines.append(
            f"{within}: {others}; none off a cliff edge needs less memory than {label(chosen)}."
        )
    # In the fallback the line above already says why the others were not chosen.
    for cliff in () if fallback else decision.avoided:
        lines.append(
            f"Avoided {label(cliff.cell)} ({format_bytes(cliff.cell['connection_memory'])}): "
            f"{cliff.reason}; a corpus a little different could fall off that cliff."
        )
    reference = decision.reference
    if reference is None:
        lines.append(f"{label(constraints.reference)} is not in this run: no comparison with it.")
    elif reference is chosen:
        lines.append(f"That is {label(reference)}, {reference_name(reference)}: keep it.")
    else:
        memory = chosen["connection_memory"] - reference["connection_memory"]
        size = chosen["compressed_bytes"] - reference["compressed_bytes"]
        ratio = _time_ratio(chosen, reference)
        time = "not measured" if ratio is None else f"{ratio - 1:+.0%}"
        lines.append(
            f"Against {label(reference)} ({reference_name(reference)}): "
            f"{'+' if memory >= 0 else '-'}{format_bytes(abs(memory))} per connection "
            f"({memory / reference['connection_memory']:+.0%}), output "
            f"{size / reference['compressed_bytes']:+.1%} ({size:+,} B on this corpus), "
            f"compress time {time}."
        )
        ref_cliff = decision.cliffs.get(cell_key(reference))
        if ref_cliff is not None:
            lines.append(f"{label(reference)} itself sits on a cliff edge: {ref_cliff.reason}.")
    return lines


def _all_on_a_cliff(decision: Decision, within: str) -> str:
    """The fallback in words: every candidate on a cliff edge, so the smallest is chosen."""
    chosen = decision.chosen
    assert chosen is not None
    edges = [decision.cliffs[cell_key(cell)] for cell in decision.candidates]
    low = _percent(min(edge.worse_by for edge in edges))
    high = _percent(max(edge.worse_by for edge in edges))
    by = low if low == high else f"{low} to {high}"
    if len(decision.candidates) == 1:
        text = (
            f"Nothing else is within {_option_percent(decision.constraints.tolerance)} of it, "
            f"and it sits on a cliff edge ({edges[0].reason}), so it is recommended"
        )
    else:
        others = ", ".join(label(cell) for cell in decision.candidates)
        text = (
            f"{within}: {others}, all on a cliff edge (one step down compresses {by} worse), "
            f"so the smallest, {label(chosen)}, is recommended"
        )
    cheapest = min(decision.candidates, key=_cheapest)
    if cheapest is not chosen:
        saved = chosen["connection_memory"] - cheapest["connection_memory"]
        larger = cheapest["compressed_bytes"] / chosen["compressed_bytes"] - 1
        text += (
            f"; {label(cheapest)} would save {format_bytes(saved)} per connection for "
            f"+{_percent(larger)} output"
        )
    return text + "."


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


# Snippets ---------------------------------------------------------------------------------------


def _python_snippet(cell: Cell) -> str:
    settings = {"memLevel": cell["mem_level"]}
    if cell["level"] != -1:
        settings["level"] = cell["level"]
    compress = ", ".join(f'"{k}": {v}' for k, v in settings.items())
    strategy = ""
    if cell["strategy"] != "default":
        strategy = f'  # also add "strategy": zlib.Z_{cell["strategy"].upper()}\n'
    takeover = ""
    if not cell["context_takeover"]:
        takeover = (
            "            server_no_context_takeover=True,\n"
            "            client_no_context_takeover=True,\n"
        )
    return (
        "from websockets.asyncio.server import serve\n"
        "from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory\n"
        "\n"
        "# Keep compression= at its default: websockets uses this factory and adds no other.\n"
        "serve(\n"
        "    handler, host, port,\n"
        "    extensions=[\n"
        "        ServerPerMessageDeflateFactory(\n"
        f"            server_max_window_bits={cell['window_bits']},\n"
        f"            client_max_window_bits={cell['client_window_bits']},\n"
        f"{takeover}"
        f"            compress_settings={{{compress}}},\n"
        f"{strategy}"
        "        ),\n"
        "    ],\n"
        ")"
    )


def _ws_options(cell: Cell, indent: str) -> str:
    """ws's perMessageDeflate options for ``cell`` (Socket.IO passes the same object to ws)."""
    options = [f"memLevel: {cell['mem_level']}"]
    if cell["level"] != -1:
        options.append(f"level: {cell['level']}")
    if cell["strategy"] != "default":
        options.append(f"strategy: zlib.constants.Z_{cell['strategy'].upper()}")
    lines = [
        f"serverMaxWindowBits: {cell['window_bits']},",
        f"clientMaxWindowBits: {cell['client_window_bits']},",
    ]
    if not cell["context_takeover"]:
        lines += ["serverNoContextTakeover: true,", "clientNoContextTakeover: true,"]
        # ws only applies its threshold without context takeover (lib/sender.js).
        lines.append(f"threshold: {cell.get('threshold', 0)},")
    lines.append(f"zlibDeflateOptions: {{ {', '.join(options)} }},")
    return "".join(f"{indent}{line}\n" for line in lines)


def _socketio_snippet(cell: Cell) -> str:
    return (
        "const io = new Server(httpServer, {\n"
        "  perMessageDeflate: {\n"
        f"{_ws_options(cell, '    ')}"
        "  },\n"
        "});"
    )


def _ws_snippet(cell: Cell) -> str:
    return (
        "const wss = new WebSocketServer({\n"
        "  port: 8080,\n"
        "  perMessageDeflate: {\n"
        f"{_ws_options(cell, '    ')}"
        "  },\n"
        "});"
    )


def uws_preset(slice_: Slice, chosen: Cell, max_memory: int | None) -> tuple[str, int, int, str]:
    """The uWebSockets preset nearest to ``chosen`` at or below the budget.

    uWebSockets only offers fixed (windowBits, memLevel) pairs. Take the largest preset whose
    per-connection memory fits the budget (or, with no budget, the chosen cell's memory):
    measured in this run when the run has that cell, else zlib's formula. Returns the name, its
    windowBits and memLevel, and a note of how it compares.
    """
    from wsztune.memory import compressor_theory, decompressor_theory

    limit = max_memory if max_memory is not None else chosen["connection_memory"]
    fitting = []
    for name, wb, ml in UWS_COMPRESSORS:
        cell = slice_.get((wb, ml))
        memory = (
            cell["connection_memory"]
            if cell is not None
            else compressor_theory(wb, ml) + decompressor_theory(wb)
        )
        if memory <= limit:
            fitting.append((name, wb, ml, cell, memory))
    if not fitting:
        name, wb, ml = UWS_COMPRESSORS[0]
        return name, wb, ml, f"no preset fits {format_bytes(limit)}; this is the smallest"
    name, wb, ml, cell, memory = fitting[-1]
    if cell is None:
        note = f"{wb}/{ml}, about {format_bytes(memory)} by zlib's formula (not in this run)"
    else:
        change = cell["compressed_bytes"] / chosen["compressed_bytes"] - 1
        note = (
            f"{wb}/{ml}: {format_bytes(memory)} per connection, output {change:+.1%} against "
            f"{label(chosen)}"
        )
    return name, wb, ml, note


def snippets(chosen: Cell, slice_: Slice, max_memory: int | None) -> dict[str, tuple[str, str]]:
    """Configuration to paste: title -> (pygments lexer name, code)."""
    name, wb, _, note = uws_preset(slice_, chosen, max_memory)
    uws = (
        f"// nearest preset within budget: {note}\n"
        f".compression = uWS::CompressOptions(uWS::{name} | uWS::{UWS_DECOMPRESSORS[wb]}),\n"
        f"// uWebSockets.js: compression: uWS.{name} | uWS.{UWS_DECOMPRESSORS[wb]}"
    )
    from wsztune.servers import mismatch_note

    def marked(stack: str, comment: str, code: str) -> str:
        # A snippet for a stack whose codec this run did not measure says so on its first line.
        note = mismatch_note(stack, slice_.codec)
        return code if note is None else f"{comment} {note}\n{code}"

    return {
        "python-websockets (serve)": (
            "python",
            marked("websockets", "#", _python_snippet(chosen)),
        ),
        "Node ws": ("javascript", marked("ws", "//", _ws_snippet(chosen))),
        "Socket.IO": ("javascript", marked("socketio", "//", _socketio_snippet(chosen))),
        "uWebSockets (presets only)": ("cpp", uws),
    }


# The CI gate ------------------------------------------------------------------------------------


def check(decision: Decision, window_bits: int, mem_level: int, tolerance: float) -> Verdict:
    """Is the shipped ``window_bits:mem_level`` still right? ``ok`` when it fits the constraints
    and its output is within ``tolerance`` of the recommended cell's.

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
            )
    chosen = decision.chosen
    if chosen is None:
        return Verdict(False, decision.reason, cell)
    change = cell["compressed_bytes"] / chosen["compressed_bytes"] - 1
    if change > tolerance:
        return Verdict(
            False,
            f"{name}'s output is {_precise_percent(change)} larger than the recommended "
            f"{label(chosen)}'s (tolerance {_option_percent(tolerance)})",
            cell,
        )
    cliff = decision.cliffs.get(cell_key(cell))
    tail = f"; note: it sits on a cliff edge ({cliff.reason})" if cliff is not None else ""
    return Verdict(
        True,
        f"{name} fits ({format_bytes(cell['connection_memory'])} per connection) and its output "
        f"is within {_option_percent(tolerance)} of the recommended {label(chosen)}'s "
        f"({change:+.2%}){tail}",
        cell,
    )


def decision_json(decision: Decision, verdict: Verdict | None = None) -> dict[str, Any]:
    """The machine-readable decision for ``--json``."""

    def brief(cell: Cell | None) -> dict[str, Any] | None:
        if cell is None:
            return None
        return {
            "window_bits": cell["window_bits"],
            "client_window_bits": cell["client_window_bits"],
            "mem_level": cell["mem_level"],
            "connection_memory": cell["connection_memory"],
            "compressed_bytes": cell["compressed_bytes"],
            "savings": cell["savings"],
            "compress_seconds": cell["compress_seconds"],
        }

    chosen = brief(decision.chosen) or dict.fromkeys(
        ("window_bits", "client_window_bits", "mem_level", "connection_memory")
        + ("compressed_bytes", "savings", "compress_seconds")
    )
    constraints = decision.constraints
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
        "avoided": [
            {"setting": label(c.cell), "neighbour": label(c.neighbour), "worse_by": c.worse_by}
            for c in decision.avoided
        ],
        "constraints": {
            "max_memory": constraints.max_memory,
            "max_time_ratio": constraints.max_time_ratio,
            "tolerance": constraints.tolerance,
            "cliff": constraints.cliff,
            "reference": label(constraints.reference),
            "connections": constraints.connections,
        },
        "fleet": decision.fleet,
        "threshold": None if decision.threshold is None else decision.threshold.threshold,
        "snippets": {title: code for title, (_, code) in decision.snippets.items()},
    }
    if verdict is not None:
        document["check"] = {
            "setting": label(verdict.cell),
            "ok": verdict.ok,
            "reason": verdict.reason,
        }
    return document
