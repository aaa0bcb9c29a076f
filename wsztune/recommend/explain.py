"""The decision in words: the reason, the warnings, the explanation, the stack's lines, the
headline action and the fleet's lines.

:func:`explain` writes them from a decision's figures (:mod:`wsztune.recommend.decide` chooses,
this module never does), once, for the terminal, ``--json`` and the HTML page alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wsztune.grid import Cell, Slice, cell_key, reference_name
from wsztune.recommend.axes import AXES_MEMORY_RESOLUTION, AxesDecision, peak_of
from wsztune.recommend.constraints import Constraints, memory_figure, time_ratio
from wsztune.recommend.decide import Decision, constraint_overs, memory_resolution
from wsztune.recommend.robust import FEW_UNITS
from wsztune.recommend.words import (
    listed,
    money,
    option_percent,
    percent,
    precise_percent,
    share_percent,
)
from wsztune.results import Run
from wsztune.text import format_bytes, label, plural


def explain(decision: Decision) -> None:
    """Fill ``decision``'s words from its figures, in the order they are read: ``warnings``,
    ``reason``, ``explanation`` (the rule's lines, a tie, the stack's lines, the threshold) and
    the ``fleet``'s lines."""
    constraints = decision.constraints
    budget = budget_words(constraints, decision.reference, decision.cells)
    if decision.budget_edge and constraints.max_memory is not None:
        decision.warnings.append(_budget_edge_words(decision.budget_edge, constraints.max_memory))
    chosen = decision.chosen
    if chosen is None:
        _explain_nothing_fits(decision, budget)
        return
    decision.warnings += _robustness_warnings(decision)
    decision.reason = _reason(decision)
    counted = len(decision.cells) + any(cell is decision.slice.off for cell in decision.feasible)
    decision.explanation = explanation_lines(decision, budget, counted)  # off counts as a cell
    if decision.tied:
        decision.explanation.append(_tie_line(decision.tied, chosen))
    if decision.stack is not None:
        _stack_notes(decision, decision.stack)
    if decision.threshold is not None:
        decision.explanation += decision.threshold.lines
    if constraints.connections:
        decision.fleet = fleet_lines(chosen, decision.reference, constraints.connections)


def explain_on_axes(decision: AxesDecision, run: Run) -> None:
    """:func:`explain` for a Go run's decision: its ``warnings``, ``reason``, what it trades
    against the stack's default, and what the stack cannot be set to."""
    chosen, name = decision.chosen, decision.name
    if chosen is None:
        least = decision.least
        assert least is not None
        decision.reason = (
            f"no cell fits: the least memory is {name(least)}'s "
            f"{format_bytes(least['connection_memory'])} per connection"
        )
        return
    robustness = decision.robustness
    if robustness is None:
        decision.warnings.append(
            "this run keeps no per-unit sizes: the choice rests on this corpus alone, with no "
            "check that it holds on other traffic; run `wsztune run` again for one"
        )
    elif robustness.units < FEW_UNITS:
        decision.warnings.append(
            f"the corpus has only {plural(robustness.units, 'resampling unit')}: the "
            "robustness figures are rough; record more connections"
        )
    decision.reason = f"{name(chosen)}: {_reason_on_axes(decision)}"
    client = run.meta.get("client")
    if client and chosen.get("compression") is not False:
        line, warning = _clients_line(
            chosen, client, decision.constraints.max_memory, name,
            "the Go server inflates them with its library's flate reader, whose window is "
            "32 KiB whatever they use",
        )  # fmt: skip
        decision.explanation.append(line)
        if warning is not None:
            decision.warnings.append(warning)
    default = decision.default
    if default is not None and chosen is not default:
        decision.explanation.append(against_default(default, chosen, name))
    decision.limits = stack_limits(run)


def _reason_on_axes(decision: AxesDecision) -> str:
    """Why the chosen Go cell, by the rule that chose it; with no robust candidate, a warning
    too."""
    chosen, best, constraints, name = (
        decision.chosen, decision.best, decision.constraints, decision.name,
    )  # fmt: skip
    assert chosen is not None and best is not None
    tolerance = option_percent(constraints.tolerance)
    if decision.rule == "cost":
        fleet = decision.costs
        assert fleet is not None and fleet.rate is not None
        return (
            f"the least monthly cost for {fleet.connections:,} connections at "
            f"{fleet.rate:,.0f} messages/s among the cells that fit"
        )
    if decision.rule == "robust":
        decision.warnings.append(
            f"no cell stays within {tolerance} of the smallest output in "
            f"{option_percent(constraints.confidence)} of the resamples: recommending the most "
            f"robust, {name(chosen)}; raise --tolerance or measure a larger corpus"
        )
        return f"the most often within {tolerance} of the smallest output"
    within = f"whose output stays within {tolerance} of the smallest ({name(best)})"
    at_peak = ""
    if decision.peak_tie is not None:
        at_peak = (
            f", then the least at the fleet's peak of concurrent writes "
            f"({format_bytes(peak_of(decision.peak_tie, decision.costs))})"
        )
    if decision.rule == "off":
        if not any(cell.get("compression") is not False for cell in decision.feasible):
            return "no compressed cell fits the budget"
        elif best is chosen:
            reason = "compressing does not pay: no compression is the smallest output that fits"
        else:
            reason = (
                f"compressing does not pay: no compression's output stays within {tolerance} "
                f"of the smallest ({name(best)})"
            )
    elif decision.rule == "default":
        reason = (
            f"the stack's default: the least memory "
            f"({format_bytes(chosen['connection_memory'])}, a tie within "
            f"{format_bytes(AXES_MEMORY_RESOLUTION)}){at_peak} {within}"
        )
    else:
        reason = (
            f"the least memory ({format_bytes(chosen['connection_memory'])}){at_peak}, "
            f"then the least compress time, {within}"
        )
    return reason + (
        f" in at least {option_percent(constraints.confidence)} of "
        f"{constraints.resamples:,} resamples of the corpus"
        if decision.robustness is not None
        else " on this corpus"
    )


def _budget_edge_words(edge: list[Cell], limit: int) -> str:
    """The cells that fit the budget or not by the memory figure's noise, and what to do."""
    return (
        f"{', '.join(label(cell) for cell in edge[:4])}"
        f"{f' and {len(edge) - 4} more' if len(edge) > 4 else ''} need within the "
        f"measurement's resolution of the {format_bytes(limit)} budget: whether "
        f"{'they fit' if len(edge) > 1 else 'it fits'} is below what the memory figure "
        "resolves, and another sweep may answer otherwise; a budget further from "
        f"{format_bytes(limit)} gives a steady choice"
    )


def _robustness_warnings(decision: Decision) -> list[str]:
    """How far the resampling can be trusted: not at all without units, roughly with few."""
    robustness = decision.robustness
    if robustness is None:
        return [
            "this run has no resampling data (results schema "
            f"{schema_of(decision.slice)}, or a tool that keeps no per-unit sizes): the choice "
            "rests on this corpus alone, with no check that it holds on other traffic; run "
            "`wsztune run` again for one"
        ]
    if robustness.units < FEW_UNITS:
        return [
            f"the corpus has only {plural(robustness.units, 'resampling unit')} (streams and "
            "blocks of messages): the robustness figures are rough; record more connections"
        ]
    return []


def _reason(decision: Decision) -> str:
    """Why the chosen cell, in one line; with no robust candidate, a warning too."""
    chosen, best, constraints = decision.chosen, decision.best, decision.constraints
    assert chosen is not None and best is not None
    tolerance = option_percent(constraints.tolerance)
    fleet, robustness = decision.costs, decision.robustness
    if constraints.objective == "cost":
        assert fleet is not None and fleet.rate is not None
        return (
            f"{label(chosen)}: the least monthly cost for {fleet.connections:,} connections at "
            f"{fleet.rate:,.0f} messages/s among the cells that fit"
        )
    least = f"{label(chosen)}: the least memory ({format_bytes(chosen['connection_memory'])})"
    if decision.candidates and robustness is not None:
        return (
            f"{least} whose output stays within {tolerance} of the smallest that fits in at "
            f"least {option_percent(constraints.confidence)} of {constraints.resamples:,} "
            "resamples of the corpus"
        )
    if decision.candidates:
        return f"{least} within {tolerance} of the smallest output that fits ({label(best)})"
    assert robustness is not None
    decision.warnings.append(
        f"no cell stays within {tolerance} of the smallest output in "
        f"{option_percent(constraints.confidence)} of the resamples: recommending the most "
        f"robust, {label(chosen)} ({share_percent(robustness.of(chosen) or 0)}); raise "
        "--tolerance or measure a larger corpus"
    )
    return f"{label(chosen)}: the most often within {tolerance} of the smallest output"


def _tie_line(tied: list[Cell], chosen: Cell) -> str:
    """Cells the memory figure cannot tell apart, and the preference that decided."""
    return (
        f"{', '.join(label(cell) for cell in tied)} need the same memory within what the "
        f"measurement resolves (+-{format_bytes(max(memory_resolution(cell) for cell in tied))})"
        ": a tie, decided by preference (the smaller memLevel, then the smaller window): "
        f"{label(chosen)}."
    )


def budget_words(constraints: Constraints, reference: Cell | None, cells: list[Cell]) -> str:
    """The constraints as a phrase: ``64.0 KiB per connection (...) and compress time ...``
    (the memory named as the figure ``cells`` were budgeted with: resident or allocation)."""
    parts = []
    if constraints.max_memory is not None:
        figure = memory_figure(cells)
        parts.append(
            f"{format_bytes(constraints.max_memory)} per connection "
            f"(compressor + decompressor, {figure})"
        )
    if constraints.max_time_ratio is not None and reference is not None:
        parts.append(f"compress time at most {constraints.max_time_ratio:g}x {label(reference)}'s")
    return " and ".join(parts)


def schema_of(slice_: Slice) -> str:
    """The results schema a slice comes from (a slice does not know its file's schema; no
    units there means version 1 for wsztune's own)."""
    return "wsztune.run/1" if slice_.units is None else "wsztune.run/2"


def explanation_lines(decision: Decision, budget: str, total: int) -> list[str]:
    """The rule's lines for a chosen cell: what fits, the smallest, the clients, the robust
    candidates, the choice, how robust it is, the fragile cheaper cells, its cliff, and the
    comparison with the reference."""
    chosen, constraints = decision.chosen, decision.constraints
    assert chosen is not None
    lines = _fit_lines(decision, budget, total)
    client = getattr(decision.slice, "client", None)
    if client and chosen.get("compression") is not False:
        line, warning = _clients_line(chosen, client, constraints.max_memory)
        lines.append(line)
        if warning is not None:
            decision.warnings.append(warning)
    lines += _choice_lines(decision)
    if decision.fragile:
        lines += _fragile_lines(decision)
    cliff = decision.cliffs.get(cell_key(chosen))
    if cliff is not None:
        # Only an explanation: the resamples decided; a neighbour is no reason to spend memory.
        lines.append(
            f"Note: {label(chosen)} sits on a cliff edge ({cliff.reason}); traffic much unlike "
            "this corpus could compress worse there."
        )
    return lines + _reference_lines(decision)


def _fit_lines(decision: Decision, budget: str, total: int) -> list[str]:
    """How many cells fit, and the smallest output among them."""
    best = decision.best
    assert best is not None
    if budget:
        fit = f"Fits {budget}: {len(decision.feasible)} of {plural(total, 'cell')}."
    elif total == 1:
        fit = "No budget given (--max-memory): the run's only cell counts as fitting."
    else:
        fit = f"No budget given (--max-memory): all {total} cells count as fitting."
    return [
        fit,
        f"Smallest output that fits: {label(best)}, {best['compressed_bytes']:,} B "
        f"({best['savings']:.1%} saved), {format_bytes(best['connection_memory'])} per "
        "connection.",
    ]


def _choice_lines(decision: Decision) -> list[str]:
    """The robust candidates, why the chosen one among them, and how robust it is."""
    chosen, best, constraints = decision.chosen, decision.best, decision.constraints
    assert chosen is not None and best is not None
    tolerance = option_percent(constraints.tolerance)
    robustness = decision.robustness
    ordered = [label(cell) for cell in sorted(decision.candidates, key=cell_key)]
    # A full grid can have dozens: name a few, count the rest (--json lists them all).
    more = f" and {len(ordered) - 10} more" if len(ordered) > 10 else ""
    names = ", ".join(ordered[:10]) + more
    lines = []
    if robustness is not None:
        lines.append(
            f"Resampled the corpus's {robustness.units:,} units (streams, and blocks of "
            f"consecutive messages) {robustness.resamples:,} times (seed {robustness.seed}): "
            + (
                f"within {tolerance} of the smallest output that fits in at least "
                f"{option_percent(robustness.confidence)} of them: {names}."
                if decision.candidates
                else f"no cell stays within {tolerance} of the smallest output that fits in "
                f"{option_percent(robustness.confidence)} of them."
            )
        )
    elif decision.candidates:
        lines.append(f"Within {tolerance} of it on this corpus: {names}.")
    lines += _chosen_lines(decision)
    return lines


def _chosen_lines(decision: Decision) -> list[str]:
    """What the chosen cell costs (per month, or in memory among the candidates) and, with
    resampling, how often it held and its savings' interval."""
    chosen, best, constraints = decision.chosen, decision.best, decision.constraints
    assert chosen is not None and best is not None
    tolerance = option_percent(constraints.tolerance)
    extra = chosen["compressed_bytes"] / best["compressed_bytes"] - 1
    chosen_words = (
        f"{format_bytes(chosen['connection_memory'])}, {chosen['compressed_bytes']:,} B "
        f"(+{percent(extra)})"
    )
    lines = []
    if constraints.objective == "cost" and decision.costs is not None:
        cost = next(c for c in decision.costs.costs if c.cell is chosen)
        lines.append(
            f"{label(chosen)} costs the least per month: {money(cost.total)} "
            f"(memory {money(cost.memory)}, egress {money(cost.egress or 0)}, compress CPU "
            f"{money(cost.cpu or 0)}); {chosen_words}."
        )
    elif chosen is not best or len(decision.candidates) > 1:
        lines.append(f"{label(chosen)} needs the least memory of those: {chosen_words}.")
    robustness = decision.robustness
    if robustness is not None:
        share = robustness.of(chosen) or 0.0
        low, high = robustness.savings_interval or (chosen["savings"], chosen["savings"])
        held = (
            f"chosen in {share_percent(share)} of resamples (within {tolerance} of the smallest "
            "each time)"
            if constraints.objective == "memory"
            else f"within {tolerance} of the smallest output in {share_percent(share)} of resamples"
        )
        lines.append(
            f"{label(chosen)}: {held}; savings {chosen['savings']:.1%}, 95% interval "
            f"{low:.1%} to {high:.1%}."
        )
    return lines


def _fragile_lines(decision: Decision) -> list[str]:
    """The cheaper cells within tolerance on this corpus but not robust, and what would
    settle them."""
    robustness = decision.robustness
    assert robustness is not None
    tolerance = option_percent(decision.constraints.tolerance)
    words = ", ".join(
        f"{label(cell)} ({format_bytes(cell['connection_memory'])}, "
        f"{share_percent(robustness.of(cell) or 0)})"
        for cell in decision.fragile[:4]
    )
    more = f" and {len(decision.fragile) - 4} more" if len(decision.fragile) > 4 else ""
    lines = [
        f"Less memory and within {tolerance} on this corpus, but not in "
        f"{option_percent(robustness.confidence)} of resamples: {words}{more}."
    ]
    if decision.settle_factor is not None:
        lines.append(_settle_words(decision))
    return lines


def _reference_lines(decision: Decision) -> list[str]:
    """The chosen cell against the reference (the stack's default, else 12:5), or keep it."""
    chosen, reference = decision.chosen, decision.reference
    assert chosen is not None
    if reference is None:
        return [
            f"{label(decision.constraints.reference)} is not in this run: no comparison with it."
        ]
    name = reference_name(reference, slice_=decision.slice)
    if reference is chosen:
        return [f"That is {label(reference)}, {name}: keep it."]
    memory = chosen["connection_memory"] - reference["connection_memory"]
    size = chosen["compressed_bytes"] - reference["compressed_bytes"]
    ratio = time_ratio(chosen, reference)
    time = "not measured" if ratio is None else f"{ratio - 1:+.0%}"
    # A node cell's connection_memory is 0 when no connection builds a zlib stream (ws
    # builds them on first use): no ratio to nothing.
    relative = (
        f" ({memory / reference['connection_memory']:+.0%})"
        if reference["connection_memory"]
        else ""
    )
    lines = [
        f"Against {label(reference)} ({name}): "
        f"{'+' if memory >= 0 else '-'}{format_bytes(abs(memory))} per connection"
        f"{relative}, output "
        f"{size / reference['compressed_bytes']:+.1%} ({size:+,} B on this corpus), "
        f"compress time {time}."
    ]
    ref_cliff = decision.cliffs.get(cell_key(reference))
    if ref_cliff is not None:
        lines.append(f"{label(reference)} itself sits on a cliff edge: {ref_cliff.reason}.")
    return lines


# What the server's decompressor holds for a client's direction: zlib's the client's window.
_ZLIB_INFLATER = "the server's decompressor holds the window they really use"


def _clients_line(
    chosen: Cell,
    client: str,
    budget: int | None,
    name: Callable[[Cell], str] = label,
    inflater: str = _ZLIB_INFLATER,
) -> tuple[str, str | None]:
    """What the client mix means for the chosen cell: each client's window and memory per
    connection, the worst beside the mixed mean (a Firefox connection over the budget must be
    visible in the text, not only in the JSON), and a warning when the worst client is over the
    budget the mean fits. Memory is the figure the budget is checked against (resident, the
    allocation beside it; or the allocation alone with --memory allocation). ``name`` names
    the cell, ``inflater`` says what the server inflates the clients' messages with."""
    parts = chosen.get("clients") or [{"name": client, **chosen}]
    each = "; ".join(
        f"{part['name']} {part['client_window_bits']} bits, {_client_memory(chosen, part)}"
        for part in parts
    )
    line = (
        f"Clients: {client} (run --client): the client direction is compressed as they "
        f"compress it, and {inflater} (at "
        f"{name(chosen)}: {each} per connection; "
        f"{format_bytes(chosen['connection_memory'])} on the mix's mean), in the memory above."
    )
    if len(parts) < 2:
        return line, None

    def need(part: Cell) -> tuple[int, int]:
        return _budgeted(chosen, part), part["connection_memory"]

    # Clients that need the same memory are all the worst (Firefox and Safari both make the
    # server inflate with 15 bits): naming only the first would clear the others.
    most = max(map(need, parts))
    worst = [part for part in parts if need(part) == most]
    names = [part["name"] for part in worst]
    memory = _client_memory(chosen, worst[0])
    needs = (
        f"the worst client, {names[0]}, needs {memory} per connection"
        if len(worst) == 1
        else f"the worst clients, {listed(names)} (a tie), each need {memory} per connection"
    )
    if budget is None or _budgeted(chosen, worst[0]) <= budget:
        if budget is not None and worst[0]["connection_memory"] > budget:
            # Resident fits, the allocation does not: fine for long-lived connections only.
            whose = "its" if len(worst) == 1 else "their"
            needs += (
                f": {whose} allocation is over the {format_bytes(budget)} budget, the bound a "
                "fleet drifts to under churn"
            )
        return f"{line} {needs[0].upper()}{needs[1:]}.", None
    warning = (
        f"{needs}, over the {format_bytes(budget)} budget the mix's mean "
        f"({format_bytes(chosen['connection_memory'])}) fits: a fleet of {listed(names, 'or')} "
        "connections would not fit"
    )
    return f"{line} {warning[0].upper()}{warning[1:]}.", warning


def _budgeted(chosen: Cell, part: Cell) -> int:
    # A client's memory as the budget reads it: resident when the decision is (its cells keep
    # the allocation aside), else the allocation; a run from before the resident model has
    # no client resident figure: its allocation, the bound.
    if "connection_memory_allocation" in chosen and "connection_memory_resident" in part:
        return int(part["connection_memory_resident"])
    return int(part["connection_memory"])


def _client_memory(chosen: Cell, part: Cell) -> str:
    """``43.1 KiB resident (77.2 KiB allocated)``, or the allocation alone when the budget is
    checked against it."""
    budgeted = _budgeted(chosen, part)
    if "connection_memory_allocation" not in chosen or "connection_memory_resident" not in part:
        return format_bytes(budgeted)
    allocated = format_bytes(part["connection_memory"])
    return f"{format_bytes(budgeted)} resident ({allocated} allocated)"


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


def _explain_nothing_fits(decision: Decision, budget: str) -> None:
    """The reason and explanation when no cell fits: the closest, the constraint it breaks
    and by how much, and which option to raise."""
    constraints, reference, closest = decision.constraints, decision.reference, decision.closest
    assert closest is not None
    memory = f"{format_bytes(closest['connection_memory'])} per connection"
    # Name the constraint the closest cell breaks: a percentage alone does not say over what.
    broken = []
    for what, ratio in constraint_overs(closest, constraints, reference).items():
        if ratio <= 1:
            continue
        if what == "memory":
            broken.append(
                f"{percent(ratio - 1)} over the {format_bytes(constraints.max_memory or 0)} "
                "memory budget"
            )
        else:
            assert reference is not None
            broken.append(
                f"compress time {time_ratio(closest, reference):.2f}x {label(reference)}'s, "
                f"{percent(ratio - 1)} over the {constraints.max_time_ratio:g}x time limit"
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


def nearest_over(cells: list[Cell], off: Cell, budget: int | None) -> str | None:
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
        f"({percent(memory / budget - 1)} over), saving {near['savings']:.1%} "
        f"({fewer:,} B fewer than off on this corpus); under the budget there is only "
        f"compression off. --max-memory {math.ceil(memory / 1024)}KiB keeps compression."
    )


def _stack_notes(decision: Decision, stack: Any) -> None:
    """What the stack adds to a decision: its lines, a codec mismatch, and why compression off
    was chosen (with the nearest cell over the budget when nothing compressed fits)."""
    from wsztune.stacks import mismatch_note

    slice_, chosen = decision.slice, decision.chosen
    decision.explanation += stack_lines(decision, stack)
    note = mismatch_note(stack.name, slice_.codec)
    if note is not None and stack.codec_for(slice_.server_version) != slice_.codec:
        decision.warnings.append(note)
    if slice_.read_buffer_note:
        decision.warnings.append(slice_.read_buffer_note)
    off = slice_.off
    if chosen is off and stack.knob("enabled") is not None:
        nothing_fits = all(cell is off for cell in decision.feasible)
        decision.warnings.append(
            "no compressed cell fits: recommending compression off"
            if nothing_fits
            else "compressing does not pay here: recommending compression off"
        )
        budget = decision.constraints.max_memory
        nearest = nearest_over(decision.cells, off, budget) if nothing_fits else None
        if nearest is not None:
            decision.explanation.append(nearest)


def stack_lines(decision: Decision, stack: Any) -> list[str]:
    """What the stack's default is, what it cannot do, compression off, and the nearest
    alternatives, with figures from the run."""
    slice_, chosen = decision.slice, decision.chosen
    version = slice_.server_version
    default_cell = slice_.get(stack.default_pair(version))
    never = stack.knob("enabled") is None and not stack.defaults_for(version).enabled
    lines = [_default_words(stack, version, never)]
    limits = cannot_set(stack)
    if limits and not never:
        lines.append(limits)
    lines.extend(stack.limits)
    if stack.cells:
        lines.append(_modes_line(stack, slice_.context_takeover))
    codec_line = _cell_codec_line(stack, chosen, default_cell)
    if codec_line:
        lines.append(codec_line)
    if chosen is None:
        return lines
    return lines + _row_lines(decision, stack, default_cell, never)


def _default_words(stack: Any, version: str | None, never: bool) -> str:
    """``uvicorn's default is 12:5 at level ... (note).``, or that it never compresses."""
    defaults = stack.defaults_for(version)
    named = stack.title + (f" {version}" if version else "")
    words = f"{named}'s default is {defaults.label}"
    if defaults.level != -1:
        words += f" at level {defaults.level}"
    if defaults.threshold:
        words += f", threshold {defaults.threshold} B"
    if not defaults.enabled:
        words += " once compression is turned on (it is off out of the box)"
    if never:
        words = (
            f"{named} never compresses: it has no permessage-deflate option, so compression off "
            "is its only setting; the other rows show what another server would buy"
        )
    note = stack.version_note(version)
    return words + (f" ({note})" if note else "") + "."


def _row_lines(decision: Decision, stack: Any, default_cell: Cell | None, never: bool) -> list[str]:
    """The chosen cell against compression off, the stack's default and the alternatives
    (the decision's ``stack_rows``)."""
    from wsztune.stacks import STACKS

    chosen, off = decision.chosen, decision.slice.off
    assert chosen is not None
    lines = []
    if off is not None and chosen is not off:
        enabled = stack.knob("enabled")
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
    if not never and default_cell is not None and default_cell is not chosen:
        label_ = stack.defaults_for(decision.slice.server_version).label
        lines.append(f"The default, {label_}: {_versus(default_cell, chosen)}.")
    for role, cell in decision.stack_rows:
        if role != "off":
            title = STACKS[role].title
            lines.append(f"Alternative: {title} runs {label(cell)}: {_versus(cell, chosen)}.")
    return lines


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


def against_default(default: Cell, chosen: Cell, name: Callable[[Cell], str]) -> str:
    """What the chosen cell trades against the stack's default: bytes and compress time."""
    size = chosen["compressed_bytes"] / default["compressed_bytes"] - 1
    line = (
        f"against the default ({name(default)}): {name(chosen)} sends "
        f"{precise_percent(abs(size))} {'fewer' if size < 0 else 'more'} bytes"
    )
    times = chosen["compress_seconds"], default["compress_seconds"]
    if chosen.get("compression") is not False and None not in times and times[1]:
        line += f" at {times[0] / times[1] - 1:+.0%} compress time"
    return line


_AXIS_WORDS = {
    "window_bits": "the window",
    "mem_level": "memLevel",
    "level": "the level",
    "context_takeover": "context takeover",
    "client_window_bits": "the client's window",
}


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


