"""Tables from a Run: terminal (rich), markdown and CSV. Never re-runs the codec.

Everything here returns strings or rich renderables; the CLI prints them. The model it draws
(slices, cell keys, metrics) is :mod:`wsztune.grid`, shared with plots and recommend; its names
are re-exported here for code written before it moved.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

# Re-exported (``X as X``): callers written before the model moved to grid import them from here.
from wsztune.console import terminal_text
from wsztune.fanout import delivery_cpu, has_delivery_cpu
from wsztune.grid import DEFAULT_METRICS as DEFAULT_METRICS
from wsztune.grid import METRICS as METRICS
from wsztune.grid import REFERENCE as REFERENCE
from wsztune.grid import Cell as Cell
from wsztune.grid import Key as Key
from wsztune.grid import Metric as Metric
from wsztune.grid import Slice as Slice
from wsztune.grid import axes_cells as axes_cells
from wsztune.grid import axes_key as axes_key
from wsztune.grid import cell_key as cell_key
from wsztune.grid import off_cell as off_cell
from wsztune.grid import reference_name as reference_name
from wsztune.grid import run_axes as run_axes
from wsztune.grid import select_slice as select_slice
from wsztune.grid import settable_cells as settable_cells
from wsztune.results import Run
from wsztune.text import (
    NOT_MEASURED_MARK,
    NOT_MEASURED_NOTE,
    OFF,
    axes_label,
    corpus_caption,
    format_bytes,
    label,
    ms_text,
    plural,
)

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table

    from wsztune.recommend.axes import AxesDecision
    from wsztune.recommend.cost import Cost, Fleet
    from wsztune.recommend.decide import Decision
    from wsztune.recommend.gate import Verdict
    from wsztune.stats import CorpusStats

# What GitHub markdown would read as markup rather than text: a table cell's end (|), HTML (< >),
# a link or an image ([ ] !), code (`), and the backslash that escapes the rest.
_MARKDOWN_MARKUP = re.compile(r"([\\`|<>\[\]!])")
_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x85\u2028\u2029]+")


def markdown_text(text: object) -> str:
    """``text`` as plain text in GitHub-flavoured markdown: every character that could start
    markup escaped, line breaks made spaces (a corpus name or a results file's strings never
    end a table row, embed an image or link, or inject HTML into ``$GITHUB_STEP_SUMMARY``).
    Every text of a markdown output that comes from a corpus or a results file goes through it."""
    return _MARKDOWN_MARKUP.sub(r"\\\1", _LINE_BREAKS.sub(" ", str(text)))


def run_warnings(run: Run, slice_: Slice | None = None) -> list[str]:
    """Warnings a reader must see before trusting the grids: partial run, hidden slices."""
    warnings = []
    if run.partial:
        done, planned = run.meta.get("cells", len(run.cells)), run.meta.get("cells_planned", "?")
        verb = plural(done, "was", "were", show=False)
        warnings.append(
            f"partial run: only {done} of {planned} cells {verb} measured (interrupted); "
            "missing cells show as '·'"
        )
    if slice_ is not None and slice_.read_buffer_note:
        warnings.append(slice_.read_buffer_note)
    if slice_ is not None and slice_.other_slices:
        warnings.append(
            f"the run has {slice_.other_slices + 1} level/strategy/context-takeover/threshold "
            f"slices; showing {slice_.description} (choose with --level, --strategy, "
            "--context-takeover, --threshold)"
        )
    return warnings


MISSING = "·"
UNSTABLE_MARK = "~"


def relative_text(metric: Metric, value: float, reference: float) -> str:
    """``+10%``, ``-4.2%`` or ``=`` for ``value`` against ``reference``.

    Savings change in percentage points (``+0.7``): a percentage of a percentage misleads.

    One decimal below 10%, whole percents above; ``=`` when the change rounds to nothing.
    """
    if metric.relative_in_points:
        points = (value - reference) * 100
        # The caption says "percentage points": a " pt" in every cell would not fit 80 columns.
        return "=" if round(points, 1) == 0 else f"{points:+.1f}"
    if reference == 0:
        return "=" if value == 0 else "n/a"
    change = (value / reference - 1) * 100
    if round(change, 1) == 0:
        return "="
    return f"{change:+.1f}%" if abs(change) < 10 else f"{change:+.0f}%"


@dataclass(frozen=True)
class GridTable:
    """One metric's grid as text: rows are window bits, columns memLevel. Rendered 3 ways."""

    metric: Metric
    caption: str
    window_bits: tuple[int, ...]
    mem_levels: tuple[int, ...]
    values: dict[Key, str]
    reference: Key | None = None
    recommended: Key | None = None
    notes: list[str] = field(default_factory=list)
    reference_words: str = ""  # "Node ws's default": what the reference cell is

    def text(self, key: Key) -> str:
        """The cell's text, or the missing-cell mark."""
        return self.values.get(key, MISSING)


def grid_table(
    run: Run,
    slice_: Slice,
    metric: Metric,
    *,
    relative_to: Key | None = None,
    reference: Key | None = None,
    recommended: Key | None = None,
    width: int | None = None,
) -> GridTable:
    """The grid of ``metric`` over ``slice_``, absolute or relative to the ``relative_to`` cell.

    When ``relative_to`` is not in the grid (a partial grid), values stay absolute and the
    caption says why instead of failing. ``width`` is the terminal's, for :func:`rich_grid`:
    sizes in bytes that would not fit it are shown in KiB instead, and the caption says so.
    """
    from wsztune.stacks import stack_caption  # stacks load on use

    notes: list[str] = []
    reference = slice_.default if reference is None else reference
    base = slice_.get(relative_to) if relative_to is not None else None
    if relative_to is not None and base is None:
        notes.append(
            f"{label(relative_to)} is not in this run ({slice_.grid_description}): "
            "absolute values shown"
        )
    values: dict[Key, str] = {}
    unstable = 0
    not_measured = 0
    for key, cell in slice_.cells.items():
        value = metric.value(cell)
        base_value = metric.value(base) if base is not None else None
        if value is None or (base is not None and base_value is None):
            values[key] = NOT_MEASURED_MARK
            not_measured += 1
            continue
        if base_value is not None:
            values[key] = relative_text(metric, value, base_value)
        else:
            values[key] = metric.format(value)
        if metric.is_timing and cell["timing_unstable"]:
            values[key] += UNSTABLE_MARK
            unstable += 1
    codec = run.meta.get("codec", "zlib")
    if metric.field.startswith("connection_memory") and codec != "zlib":
        notes.append(
            f"codec {codec} {run.meta.get('codec_version', '')}: its allocations do not follow "
            "zlib's formula, compare observed with theory"
        )
    if not_measured:
        notes.append(NOT_MEASURED_NOTE)
    if unstable:
        notes.append(
            f"{UNSTABLE_MARK} = timing unstable in {plural(unstable, 'cell')} (spread over 10% of "
            "the median): compare with care, or re-run on a quieter machine with more --repeat"
        )
    reference_key = relative_to if base is not None else reference
    unit = metric.unit
    if base is None and metric.name == "size" and width is not None:
        marks = _Marks(
            reference_key if slice_.get(reference_key) is not None else None,  # type: ignore[arg-type]
            recommended,
        )
        if grid_width(values, slice_.mem_levels, marks) > width:
            values = {
                key: f"{cell['compressed_bytes'] / 1024:.1f}" for key, cell in slice_.cells.items()
            }
            unit = f"KiB: bytes would not fit {width} columns"
    if base is not None:
        how = "percentage points" if metric.relative_in_points else "change"
        unit = f"{how} against {label(relative_to)}"  # type: ignore[arg-type]
        reference = relative_to  # type: ignore[assignment]
    caption = (
        f"{metric.title} ({unit}) · {corpus_caption(run)} · {slice_.description} · "
        f"{stack_caption(slice_)}"
    )
    return GridTable(
        metric=metric,
        caption=caption,
        window_bits=slice_.window_bits,
        mem_levels=slice_.mem_levels,
        values=values,
        reference=reference if slice_.get(reference) is not None else None,
        recommended=recommended,
        notes=notes,
        reference_words=reference_name(reference, slice_=slice_),
    )


def legend(table: GridTable, recommended_note: str = "", reference_mark: str = "") -> str:
    """One line naming the highlighted cells.

    ``recommended_note`` qualifies the star (`` within 64.0 KiB per connection``) or, when
    there is no recommended cell, says why there is no star (``no cell fits 10.0 KiB ...``).
    """
    parts = []
    words = None
    if table.reference is not None:
        words = table.reference_words or reference_name(table.reference)
    if table.reference is not None and table.reference != table.recommended:
        parts.append(f"{reference_mark}{label(table.reference)}, {words}")
    if table.recommended is not None:
        # The star's mark hides the reference's on the same cell: one entry says both.
        both = f" and {words}" if table.reference == table.recommended else ""
        parts.append(f"★ = {label(table.recommended)}, recommended{both}{recommended_note}")
    elif recommended_note:
        parts.append(recommended_note.strip())
    return " · ".join(parts)


def markdown_grid(table: GridTable, recommended_note: str = "") -> str:
    """GitHub-flavoured markdown: a bold caption line, the table, a legend line.

    The reference cell is bold and the recommended one carries a ★, which renders in a PR
    comment or a job summary as-is.
    """
    header = "| wb \\ ml | " + " | ".join(str(ml) for ml in table.mem_levels) + " |"
    align = "|---:|" + "---:|" * len(table.mem_levels)
    rows = []
    for wb in table.window_bits:
        cells = []
        for ml in table.mem_levels:
            text = markdown_text(table.text((wb, ml)))
            if (wb, ml) == table.recommended:
                text = f"{text} ★"
            if (wb, ml) == table.reference:
                text = f"**{text}**"
            cells.append(text)
        rows.append(f"| **{wb}** | " + " | ".join(cells) + " |")
    lines = [f"**{markdown_text(table.caption)}**", "", header, align, *rows]
    extra = [legend(table, recommended_note, reference_mark="bold = "), *table.notes]
    extra = [line for line in extra if line]
    if extra:
        lines += ["", *(f"_{markdown_text(line)}_" for line in extra)]
    return "\n".join(lines)


@dataclass(frozen=True)
class _Marks:
    reference: Key | None
    recommended: Key | None

    def text(self, key: Key, text: str) -> str:
        # A star glued to its number, then the reference's diamond: "★◆66.2%".
        if key == self.recommended:
            text = f"★{text}"
        if key == self.reference:
            text = f"◆{text}"
        return text


ROW_HEADER = "wb\\ml"


def grid_width(values: dict[Key, str], mem_levels: Sequence[int], marks: _Marks) -> int:
    """The width :func:`rich_grid` needs: each column is a space of rule, a space of padding,
    and its widest text (marks included); no outer edge."""
    width = len(ROW_HEADER)
    for ml in mem_levels:
        texts = [marks.text(key, text) for key, text in values.items() if key[1] == ml]
        width += 2 + max([len(str(ml)), len(MISSING), *(len(text) for text in texts)])
    return width


def rich_grid(table: GridTable, recommended_note: str = "") -> RenderableType:
    """A rich table of the grid with the reference and recommended cells highlighted."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    caption = legend(table, recommended_note, reference_mark="◆ = ")
    if table.notes:
        caption = " · ".join([caption, *table.notes]) if caption else " · ".join(table.notes)
    # No vertical rules, no outer edge, one space before each column and the marks glued to
    # their numbers: a full 7 x 9 grid with both marks fits 80 columns (see grid_width).
    grid = Table(
        title=escape(table.caption),  # a name such as "[/]" is text, not rich markup
        caption=caption or None,
        title_justify="left",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 0, 0, 1),
        min_width=60,
    )
    grid.add_column(ROW_HEADER, justify="right", style="bold", no_wrap=True)
    for ml in table.mem_levels:
        grid.add_column(str(ml), justify="right", no_wrap=True)
    marks = _Marks(table.reference, table.recommended)
    for wb in table.window_bits:
        row: list[Text | str] = [str(wb)]
        for ml in table.mem_levels:
            key = (wb, ml)
            text = table.text(key)
            style = "dim" if text == MISSING else ""
            if key == table.recommended:
                style = "bold green"
            if key == table.reference:
                # Reverse video for a terminal, a mark for a pipe or a log that has no colour.
                style = f"{style} reverse" if style else "bold reverse"
            row.append(Text(marks.text(key, text), style=style))
        grid.add_row(*row)
    return grid


def csv_long(run: Run) -> str:
    """Every cell of the run (every slice), one row each, every field of the results file."""
    return run.frame().to_csv(index=False, lineterminator="\n")


# compare ------------------------------------------------------------------------------------------


def compare_table(
    old: Run, old_slice: Slice, new: Run, new_slice: Slice, metric: Metric
) -> GridTable:
    """The change of ``metric`` from ``old`` to ``new``, cell by cell, on the union of grids.

    Cells measured in only one of the runs show as missing.
    """
    from wsztune.stacks import stack_caption  # stacks load on use

    window_bits = tuple(sorted(set(old_slice.window_bits) | set(new_slice.window_bits)))
    mem_levels = tuple(sorted(set(old_slice.mem_levels) | set(new_slice.mem_levels)))
    values: dict[Key, str] = {}
    for key, cell in new_slice.cells.items():
        before = old_slice.get(key)
        if before is not None:
            value, old_value = metric.value(cell), metric.value(before)
            if value is None or old_value is None:
                values[key] = NOT_MEASURED_MARK
            else:
                values[key] = relative_text(metric, value, old_value)
    how = "percentage points" if metric.relative_in_points else "change"
    caption = (
        f"{metric.title} ({how}, new against old) · old {corpus_caption(old)}, "
        f"{stack_caption(old_slice)} · new {corpus_caption(new)}, {stack_caption(new_slice)}"
    )
    notes = compare_notes(old, new)
    if NOT_MEASURED_MARK in values.values():
        notes.append(NOT_MEASURED_NOTE.replace("the run was", "a run was"))
    if old_slice.description != new_slice.description:
        notes.append(f"old: {old_slice.description}; new: {new_slice.description}")
    return GridTable(
        metric=metric,
        caption=caption,
        window_bits=window_bits,
        mem_levels=mem_levels,
        values=values,
        notes=notes,
    )


def compare_notes(old: Run, new: Run) -> list[str]:
    """What changed between two runs besides the numbers: corpus, zlib, codec, machine."""
    notes = []
    old_corpus, new_corpus = old.meta.get("corpus", {}), new.meta.get("corpus", {})
    if old_corpus.get("sha256") != new_corpus.get("sha256"):
        notes.append("the corpora differ")
    for key, what in (
        ("codec", "codec"),
        ("codec_version", "codec version"),
        ("zlib_runtime_version", "zlib"),
        ("cpu", "CPU (times are not comparable)"),
    ):
        if old.meta.get(key) != new.meta.get(key):
            notes.append(f"{what}: {old.meta.get(key)} → {new.meta.get(key)}")
    old_clock = (old.meta.get("timing") or {}).get("clock")
    new_clock = (new.meta.get("timing") or {}).get("clock")
    if old_clock != new_clock:  # node times async calls by process CPU: not the same quantity
        notes.append(f"timing clock (times are not comparable): {old_clock} → {new_clock}")
    return notes


# recommend: rendering -----------------------------------------------------------------------------


def _rows(decision: Decision, verdict: Verdict | None) -> list[tuple[str, Cell]]:
    """The cells a recommendation talks about, each once, with every role it plays."""
    # Short role names, so that the table fits 80 columns; "smallest" is the smallest output
    # that fits, as the explanation below the table says.
    roles: list[tuple[str, Cell]] = []
    if decision.chosen is not None:
        roles.append(("recommended", decision.chosen))
    if decision.best is not None:
        roles.append(("smallest", decision.best))
    if decision.closest is not None:
        roles.append(("closest", decision.closest))
    if verdict is not None:
        roles.append(("checked", verdict.cell))
    if decision.reference is not None:
        roles.append(
            (
                reference_name(decision.reference, short=True, slice_=decision.slice),
                decision.reference,
            )
        )
    roles += decision.stack_rows
    merged: dict[str, tuple[list[str], Cell]] = {}
    for name, cell in roles:
        merged.setdefault(label(cell), ([], cell))[0].append(name)
    # One row per cell, with every role it plays.
    return [(" & ".join(names), cell) for names, cell in merged.values()]


_COMPARISON_HEADERS = ("", "wb:ml", "memory", "compressed", "savings", "compress")


def _comparison_cells(cell: Cell) -> tuple[str, str, str, str, str]:
    return (
        label(cell),
        format_bytes(cell["connection_memory"]),
        f"{cell['compressed_bytes']:,} B",
        f"{cell['savings']:.1%}",
        ms_text(cell["compress_seconds"]),
    )


def comparison_rows(
    decision: Decision, verdict: Verdict | None = None
) -> tuple[list[str], list[list[str]]]:
    """The cells a recommendation talks about, as (headers, rows) for any renderer."""
    rows = [[name, *_comparison_cells(cell)] for name, cell in _rows(decision, verdict)]
    return list(_COMPARISON_HEADERS), rows


def decision_markdown(decision: Decision, run: Run, verdict: Verdict | None = None) -> str:
    """A markdown summary of a recommendation (and check), for ``$GITHUB_STEP_SUMMARY``."""
    from wsztune.recommend.constraints import memory_figure

    text = markdown_text
    lines = ["### wsztune recommend", ""]
    if verdict is not None:
        mark = "✅" if verdict.ok else "❌"
        lines += [f"{mark} **{text(verdict.reason)}**", ""]
        if verdict.advice is not None and verdict.ok:
            lines += [f"💡 advice (not a failure): {text(verdict.advice)}", ""]
    lines += [
        f"_{text(corpus_caption(run))} · {text(decision.slice_description)}; "
        "memory is per connection (compressor + decompressor, "
        f"{memory_figure(decision.cells)})_",
        "",
        "| " + " | ".join(_COMPARISON_HEADERS) + " |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, cell in _rows(decision, verdict):
        lines.append(f"| {text(name)} | " + " | ".join(map(text, _comparison_cells(cell))) + " |")
    lines += ["", *(f"- {text(line)}" for line in decision.explanation)]
    lines += [f"- ⚠️ {text(warning)}" for warning in decision.warnings]
    if decision.costs is not None:
        caption, headers, rows = cost_table(decision)
        lines += ["", "| " + " | ".join(headers) + " |", "|---|---|" + "---:|" * (len(headers) - 2)]
        lines += ["| " + " | ".join(map(text, row)) + " |" for row in rows]
        lines += ["", f"_{text(caption)}_"]
    return "\n".join(lines) + "\n"


COST_ROWS = 8  # the rows of the cost table beyond the named cells: the cheapest others


def fleet_caption(fleet: Fleet) -> str:
    """``Monthly cost, 40,000 connections, 5,000 messages/s (...); prices ...``."""
    prices = fleet.prices
    rate = (
        f"{fleet.rate:,.0f} messages/s ({fleet.rate_source})"
        if fleet.rate is not None
        else "no message rate (pass --messages-per-second): memory only"
    )
    return (
        f"Monthly cost, {fleet.connections:,} connections, {rate}; prices "
        f"{prices.memory_gib_month:g}/GiB-month of RAM, {prices.egress_gb:g}/GB egress, "
        f"{prices.cpu_month:g}/vCPU-month"
        + (" (EXAMPLE prices: pass --price-memory/--price-egress/--price-cpu)"
           if prices.examples else "")  # fmt: skip
    )


def cost_table(decision: Decision) -> tuple[str, list[str], list[list[str]]]:
    """The fleet's monthly cost, one row per cell worth seeing: (caption, headers, rows).

    The chosen, smallest, reference and cheapest cells, the candidates of the rule, then the
    cheapest others up to :data:`COST_ROWS`, and no compression at all for scale.
    """
    fleet = decision.costs
    assert fleet is not None
    by_key = {cell_key(cost.cell): cost for cost in fleet.costs if cost.cell is not None}
    feasible = {id(cell) for cell in decision.feasible}
    cheapest = min(
        (cost for cost in fleet.costs if id(cost.cell) in feasible),
        key=lambda cost: cost.total,
        default=None,
    )
    named: dict[Key, str] = {}
    # Compression off has no cell of its own in the fleet: it is the "no compression" row, which
    # carries its roles (a stack that can only turn compression on or off may recommend it).
    off_roles: list[str] = []
    for role, cell in (
        ("recommended", decision.chosen),
        ("smallest", decision.best),
        ("cheapest", None if cheapest is None else cheapest.cell),
        (
            reference_name(decision.constraints.reference, short=True, slice_=decision.slice),
            decision.reference,
        ),
    ):
        if cell is not None and cell.get("compression") is False:
            off_roles.append(role)
        elif cell is not None:
            key = cell_key(cell)
            named[key] = f"{named[key]} & {role}" if key in named else role
    keys = list(named)
    for cell in decision.candidates:
        if len(keys) >= COST_ROWS:
            break
        if cell.get("compression") is not False and cell_key(cell) not in keys:
            keys.append(cell_key(cell))
    rated = fleet.rate is not None

    def money(value: float | None) -> str:
        if value is None:
            return "-"
        return f"{value:,.2f}" if value < 10_000 else f"{value:,.0f}"

    # A run for a broadcast: what one delivery costs, each subscriber's compressor in turn.
    per_delivery = has_delivery_cpu([cost.cell for cost in fleet.costs if cost.cell])
    rows = []
    for key in keys:
        cost = by_key[key]
        memory = cost.cell["connection_memory"] if cost.cell else 0
        rows.append(
            [named.get(key, ""), label(key), format_bytes(fleet.connections * memory),
             *([delivery_cpu(cost.cell)] if per_delivery else []),
             money(cost.memory), money(cost.egress), money(cost.cpu), money(cost.total)]
        )  # fmt: skip
    if fleet.uncompressed is not None and (rated or off_roles):
        none = fleet.uncompressed
        name, setting = (" & ".join(off_roles), OFF) if off_roles else ("no compression", "-")
        rows.append([name, setting, "0 B", *(["0"] if per_delivery else []), money(0),
                     money(none.egress), money(0 if rated else None),
                     money(none.total)])  # fmt: skip
    headers = ["", "wb:ml", "fleet memory", *(["CPU/delivery"] if per_delivery else []),
               "memory/mo", "egress/mo", "CPU/mo", "total/mo"]  # fmt: skip
    caption = (
        fleet_caption(fleet)
        + "; egress is what the server sends, CPU the measured compress time of its share"
        + ("" if any(cost.cpu is not None for cost in fleet.costs) or not rated
           else " (not measured in this run: --no-timing; totals leave it out)")  # fmt: skip
        + (DELIVERY_NOTE if per_delivery else "")
    )
    return caption, headers, rows


# The fleet tables' caption for their CPU/delivery column.
DELIVERY_NOTE = (
    "; CPU/delivery: compressing one message for one subscriber, measured with the "
    "subscribers' own compressors in turn (the run's fan-out), and CPU/mo priced from it"
)


def decision_renderable(decision: Decision, verdict: Verdict | None = None) -> RenderableType:
    """Rich text of a recommendation: the cells side by side, the reasons, the snippets."""
    from rich.console import Group
    from rich.markup import escape
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    parts: list[RenderableType] = []
    head = Text()
    if decision.chosen is not None:
        head.append(f"Recommended: {label(decision.chosen)}", style="bold green")
        head.append(f"  ({decision.slice_description})", style="dim")
    else:
        head.append("No setting fits the constraints", style="bold red")
    parts.append(head)
    # The role column wraps ("recommended &" / "smallest"); the numbers never do.
    table = Table(show_edge=False, pad_edge=False, box=None, padding=(0, 1))
    for index, header in enumerate(_COMPARISON_HEADERS):
        table.add_column(
            header, justify="left" if header in ("", "wb:ml") else "right", no_wrap=index > 0
        )
    for name, cell in _rows(decision, verdict):
        table.add_row(name, *_comparison_cells(cell))
    parts.append(Padding(table, (1, 0, 1, 2)))
    for line in decision.explanation:
        parts.append(Text.from_markup(f"• {escape(line)}"))
    for warning in decision.warnings:
        parts.append(Text.from_markup(f"[yellow]warning:[/] {escape(warning)}"))
    if decision.fleet:
        parts.append(Text(""))
        parts.append(Text("Fleet", style="bold"))
        for line in decision.fleet:
            parts.append(Text(f"• {line}"))
    if decision.costs is not None:
        caption, headers, rows = cost_table(decision)
        costs = Table(show_edge=False, pad_edge=False, box=None, padding=(0, 1))
        for index, header in enumerate(headers):
            costs.add_column(header, justify="left" if index < 2 else "right", no_wrap=index > 0)
        for row in rows:
            costs.add_row(*row)
        parts.append(Padding(costs, (1, 0, 0, 2)))
        parts.append(Text(caption, style="dim"))
    for title, (_, code) in decision.snippets.items():
        # Plain, unwrapped, unindented: a snippet must survive copy and paste as it is.
        parts.append(Text(""))
        parts.append(Text(title, style="bold"))
        parts.append(Text(code, no_wrap=True, overflow="ignore"))
    if verdict is not None:
        style = "bold green" if verdict.ok else "bold red"
        parts.append(Text(""))
        parts.append(Text(f"check: {verdict.reason}", style=style))
        if verdict.advice is not None and verdict.ok:
            parts.append(Text(f"advice (not a failure): {verdict.advice}", style="yellow"))
    return Group(*parts)


def run_summary(run: Run) -> RenderableType:
    """A compact table after ``wsztune run``: the three smallest cells and 12:5, then hints.

    Only the default slice (see :func:`select_slice`): with several levels, strategies or
    context-takeover values the title says which one is shown, so no row mixes them.
    """
    from rich import box
    from rich.console import Group
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    from wsztune.stacks import stack_caption  # stacks load on use

    if run_axes(run):
        hint = "next: wsztune table · wsztune plot · wsztune recommend"
        return Group(axes_table(run), Text.from_markup(hint, style="dim"))
    slice_ = select_slice(run)
    corpus = run.meta["corpus"]
    title = (
        f"{corpus['messages']:,} messages, {format_bytes(corpus['raw_bytes'])} raw, "
        f"{plural(len(run.cells), 'cell')}\n{stack_caption(slice_)}"
    )
    if slice_.other_slices:
        title += f"\n{slice_.description} (1 of {slice_.other_slices + 1} slices)"
    rows = _summary_rows(slice_)
    timed = any(cell["compress_seconds"] is not None for _, cell in rows)
    # No vertical rules and the role column free to wrap: the table fits 80 columns (CI logs)
    # without cutting a value; an untimed run drops the compress column and says so.
    table = Table(
        title=escape(title),
        caption=None if timed else "compress time not measured (--no-timing)",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 0, 0, 1),  # with the box's blank rule, two spaces between columns
    )
    # The budget figure first (recommend checks --max-memory against the resident one), the
    # allocation beside it as the bound under churn (docs/memory.md); a file without resident
    # figures shows the allocation alone, under its old name.
    resident = all(cell.get("connection_memory_resident") is not None for _, cell in rows)
    memory = ("resident", "alloc") if resident else ("mem/conn",)
    headers = ("", "wb:ml", "compressed", "savings", *(("compress",) if timed else ()), *memory)
    for index, header in enumerate(headers):
        left = header in ("", "wb:ml")
        table.add_column(header, justify="left" if left else "right", no_wrap=index > 0)
    for name, cell in rows:
        timing = (ms_text(cell["compress_seconds"]),) if timed else ()
        figures = (cell["connection_memory_resident"],) if resident else ()
        table.add_row(
            name,
            label(cell),
            f"{cell['compressed_bytes']:,} B",
            f"{cell['savings']:.1%}",
            *timing,
            *(format_bytes(figure) for figure in (*figures, cell["connection_memory"])),
        )
    codecs = cell_codecs(run.cells)
    return Group(
        table,
        *([Text.from_markup(f"codec per cell: {codecs}")] if codecs else []),
        Text.from_markup(next_hint(slice_), style="dim"),
    )


def cell_codecs(cells: list[dict[str, object]]) -> str:
    """``zlib at 15:8; JZlib at 9:8, 10:8``: what measured each cell, for a run whose cells name
    their own codec (Netty picks zlib or JZlib by window); empty for every other run."""
    by_codec: dict[str, list[str]] = {}
    for cell in cells:
        if "codec" in cell and cell.get("compression") is not False:
            labels = by_codec.setdefault(str(cell["codec"]), [])
            if label(cell) not in labels:
                labels.append(label(cell))
    return "; ".join(f"{codec} at {', '.join(labels)}" for codec, labels in by_codec.items())


# The example budget of the README and the docs (64 KiB per connection).
EXAMPLE_BUDGET = 64 * 1024


def next_hint(slice_: Slice) -> str:
    """``next: wsztune table · wsztune plot · wsztune recommend --max-memory 150KiB``.

    The budget is one that cells of this run fit: 64 KiB (the docs' example) when it splits the
    cells the stack can be set to, else their median memory rounded up to a whole KiB. A stack
    that can only turn compression on or off gets the fleet question instead (--connections).
    """
    import math

    from wsztune.stacks import STACKS

    hint = "next: wsztune table · wsztune plot · wsztune recommend"
    stack = STACKS.get(slice_.server) if slice_.server else None
    cells = sorted(settable_cells(slice_).values(), key=lambda c: c["connection_memory"])
    if stack is not None and stack.on_off_only:
        # On or off: memory against bandwidth, priced for a fleet (a rate prices the egress).
        rated = slice_.corpus.get("messages_per_second") or slice_.corpus.get("duration_seconds")
        rate = "" if rated else " --messages-per-second 1000"
        return f"{hint} --connections 10000{rate}"
    memories = [cell["connection_memory"] for cell in cells if cell["connection_memory"] > 0]
    if len(memories) < 2:
        return hint
    if memories[0] <= EXAMPLE_BUDGET < memories[-1]:
        # The budget the README and the docs use, whenever it splits this run's cells: one
        # budget in the hint and in the pages a user reads next.
        return f"{hint} --max-memory {EXAMPLE_BUDGET // 1024}KiB"
    median = memories[(len(memories) - 1) // 2]
    return f"{hint} --max-memory {math.ceil(median / 1024)}KiB"


def corpus_stats_table(stats: CorpusStats) -> RenderableType:
    """``wsztune corpus stats`` as a two-column rich table."""
    from rich.markup import escape
    from rich.table import Table

    def share(part: int, whole: int) -> str:
        return f"{part:,} ({part / whole:.0%})" if whole else "0"

    sizes = stats.sizes
    table = Table(title=escape(f"{terminal_text(stats.path)} ({stats.format})"), show_header=False)
    table.add_column(justify="left")
    table.add_column(justify="right")
    rows = [
        ("messages", f"{stats.messages:,}"),
        ("connections", f"{stats.connections:,}"),
        ("server to client", share(stats.server_messages, stats.messages)),
        ("client to server", share(stats.client_messages, stats.messages)),
        ("raw bytes", f"{stats.raw_bytes:,} ({format_bytes(stats.raw_bytes)})"),
        ("JSON text", share(stats.json_messages, stats.messages)),
        ("other text", share(stats.text_messages, stats.messages)),
        ("binary", share(stats.binary_messages, stats.messages)),
        (
            "size min / median / mean",
            f"{sizes.minimum:,} / {sizes.median:,.0f} / {sizes.mean:,.0f} B",
        ),
        ("size p95 / p99 / max", f"{sizes.p95:,} / {sizes.p99:,} / {sizes.maximum:,} B"),
        *_rate_rows(stats),
        *_fanout_rows(stats),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _fanout_rows(stats: CorpusStats) -> list[tuple[str, str]]:
    """Broadcasts (the same payload to several connections), when the corpus has times."""
    fanout = stats.fanout
    if fanout is None:
        return [("broadcasts", "unknown (no times: state it with --fanout K on run/recommend)")]
    window = f"within {fanout.window_seconds:g} s"
    if not fanout.broadcasts:
        return [("broadcasts", f"none ({window}): every message went to one connection")]
    spread = ", ".join(
        f"{size}: {count:,}" for size, count in sorted(fanout.distribution.items()) if size > 1
    )
    return [
        (
            "broadcasts",
            f"{fanout.broadcasts:,} of {fanout.unique_messages:,} unique server messages "
            f"({window})",
        ),
        ("fan-out mean / max", f"{fanout.mean:,.1f} / {fanout.max:,}"),
        (
            "broadcast share of deliveries",
            f"{fanout.share:.1%} ({fanout.broadcast_deliveries:,} of {fanout.deliveries:,})",
        ),
        ("broadcasts by fan-out", spread if len(spread) < 120 else spread[:117] + "..."),
    ]


def _rate_rows(stats: CorpusStats) -> list[tuple[str, str]]:
    """Duration and rates, when the corpus's records carry ``t``."""
    rates = stats.rates
    if rates is None:
        return [("duration", 'unknown (no "t" in the records)')]

    def per_second(value: float | None) -> str:
        if value is None:
            return "-"  # every message at one instant: no rate to give
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"

    rows = [
        ("duration", f"{rates.duration_seconds:,.1f} s"),
        ("messages/s overall", per_second(rates.messages_per_second)),
    ]
    if rates.rated_connections:
        rows.append(
            (
                "messages/s per connection (median / p95)",
                f"{per_second(rates.connection_messages_per_second_median)} / "
                f"{per_second(rates.connection_messages_per_second_p95)} "
                f"({rates.rated_connections:,} connections)",
            )
        )
    if rates.bytes_per_second is not None:
        rows.append(("bytes/s overall", f"{format_bytes(round(rates.bytes_per_second))}/s"))
    return rows


def _summary_rows(slice_: Slice) -> list[tuple[str, Cell]]:
    """The three smallest cells (those the run's stack can be set to), the stack's default (or
    websockets' 12:5), and compression off."""
    smallest = sorted(
        settable_cells(slice_).values(),
        key=lambda cell: (cell["compressed_bytes"], cell["connection_memory"]),
    )
    rows = list(zip(("smallest", "2nd smallest", "3rd smallest"), smallest, strict=False))
    rows += _summary_others(slice_)
    if rows and any(cell["compressed_bytes"] < rows[0][1]["compressed_bytes"] for _, cell in rows):
        # Another stack's default below the stack's own best: "smallest" must stay true of the
        # table it heads, so the stack's own rows say they are its.
        rows = [
            (f"{name} settable" if name.endswith("smallest") else name, cell)
            for name, cell in rows
        ]
    return rows


def _summary_others(slice_: Slice) -> list[tuple[str, Cell]]:
    """The rows of the run summary beside the smallest: the default, the stack's
    alternatives, compression off."""
    rows: list[tuple[str, Cell]] = []
    default = slice_.get(slice_.default)
    if default is not None:
        name = "websockets default" if not slice_.server else "default"
        rows.append((name, default))
    if slice_.server:
        from wsztune.stacks import STACKS

        stack = STACKS.get(slice_.server)
        version = slice_.server_version
        for name in stack.alternatives_for(version) if stack is not None else ():
            other = STACKS.get(name)
            cell = slice_.get(other.default_pair()) if other is not None else None
            if cell is not None and other.settable(cell) and cell is not default:
                rows.append((name, cell))
        if slice_.off is not None:
            rows.append(("no compression", slice_.off))
    return rows


# Runs on a library's own axes (Go) ----------------------------------------------------------


AXES_HEADERS = (
    "setting", "payload", "saved", "wire", "frames", "compress", "mem/conn", "per write"
)


# What the columns of an axes table mean (under the table, in the terminal and in the report).
AXES_LEGEND = (
    "wire: payloads + frame headers. mem/conn: what a connection keeps between messages "
    "(Go heap); per write: what one message being compressed holds (gorilla pools it: "
    "paid per concurrent write)"
)


def axes_rows(run: Run, chosen: Cell | None = None) -> list[list[str]]:
    """One row per cell of an axes run (:data:`AXES_HEADERS`), the chosen one marked."""
    axes = _varying_axes(run)
    rows = []
    for cell in _axes_rows_cells(run):
        is_off = cell.get("compression") is False
        mark = (
            " *"
            if chosen is not None
            and (cell is chosen or (is_off and chosen.get("compression") is False))
            else ""
        )
        rows.append(
            [
                (OFF if is_off else axes_label(cell, axes)) + mark,
                format_bytes(cell["compressed_bytes"]),
                f"{cell['savings']:.0%}",
                format_bytes(cell["wire_compressed_bytes"]),
                f"{cell.get('frames', cell['messages']):,}",
                ms_text(cell["compress_seconds"]),
                format_bytes(cell["connection_memory"]),
                format_bytes(cell["compress_memory_peak"]),
            ]
        )
    return rows


def _varying_axes(run: Run) -> tuple[str, ...]:
    """Only the axes a run varies: a constant one says nothing per row (the title has it)."""
    return tuple(
        axis for axis in run_axes(run) if len({c.get(axis) for c in run.cells}) > 1
    ) or run_axes(run)


def _axes_rows_cells(run: Run) -> list[Cell]:
    """A Go run's cells in the order of its axes, and compression off last (every Go stack can
    turn it off)."""
    cells = axes_cells(run)
    if cells and {"raw_bytes", "server_raw_bytes", "client_raw_bytes"} <= cells[0].keys():
        cells.append(off_cell(cells[0], run.meta.get("units")))
    return cells


@dataclass(frozen=True)
class AxesComparison:
    """Two Go runs of the same axes, setting by setting: each metric's change (``rows``: the
    setting, then one text per metric), a caption and the notes under it."""

    caption: str
    headers: list[str]
    rows: list[list[str]]
    notes: list[str]


def axes_compare(old: Run, new: Run, metrics: Sequence[Metric]) -> AxesComparison:
    """The change of each of ``metrics`` from ``old`` to ``new`` for every setting either run
    measured (compression off included), on the runs' own axes; ``·`` where only one run has
    the setting. Both runs must have the same axes (the caller checks)."""
    axes = run_axes(new)
    before = {axes_key(cell, axes): cell for cell in _axes_rows_cells(old)}
    after = {axes_key(cell, axes): cell for cell in _axes_rows_cells(new)}
    shown = tuple(dict.fromkeys((*_varying_axes(new), *_varying_axes(old))))
    rows = []
    for key in dict.fromkeys((*after, *before)):
        cell = after.get(key, before.get(key))
        assert cell is not None
        row = [OFF if key == ("off",) else axes_label(cell, shown)]
        for metric in metrics:
            if key not in after or key not in before:
                row.append(MISSING)
                continue
            value, old_value = metric.value(after[key]), metric.value(before[key])
            measured = value is not None and old_value is not None
            row.append(relative_text(metric, value, old_value) if measured else NOT_MEASURED_MARK)
        rows.append(row)
    notes = compare_notes(old, new)
    if any(NOT_MEASURED_MARK in row for row in rows):
        notes.append(NOT_MEASURED_NOTE.replace("the run was", "a run was"))
    if any(MISSING in row for row in rows):
        notes.append(f"'{MISSING}' = a setting only one of the runs measured")
    caption = (
        f"change, new against old (savings in percentage points) · old {corpus_caption(old)}, "
        f"{old.meta.get('codec')} · new {corpus_caption(new)}, {new.meta.get('codec')}"
    )
    headers = ["setting", *(metric.title for metric in metrics)]
    return AxesComparison(caption, headers, rows, notes)


def _settings_table(
    title: str, headers: Sequence[str], rows: Iterable[Sequence[str]], no_wrap: bool = False
) -> Table:
    """A rich table of a Go run's settings, one a row: the setting left, the figures right."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title))
    for header in headers:
        table.add_column(header, justify="left" if header == "setting" else "right",
                         no_wrap=no_wrap)  # fmt: skip
    for row in rows:
        table.add_row(*row)
    return table


def _settings_markdown(
    title: str, headers: Sequence[str], rows: Iterable[Sequence[str]]
) -> list[str]:
    """The lines of :func:`_settings_table` as GitHub-flavoured markdown."""
    lines = [
        f"**{markdown_text(title)}**",
        "",
        "| " + " | ".join(headers) + " |",
        "|---" + "|---:" * (len(headers) - 1) + "|",
    ]
    return lines + ["| " + " | ".join(map(markdown_text, row)) + " |" for row in rows]


def axes_compare_table(comparison: AxesComparison) -> RenderableType:
    """:func:`axes_compare` as a rich table."""
    from rich.markup import escape

    table = _settings_table(comparison.caption, comparison.headers, comparison.rows)
    table.caption = escape(" · ".join(comparison.notes)) if comparison.notes else None
    return table


def axes_compare_markdown(comparison: AxesComparison) -> str:
    """:func:`axes_compare` as GitHub-flavoured markdown."""
    lines = _settings_markdown(comparison.caption, comparison.headers, comparison.rows)
    if comparison.notes:
        lines += ["", f"_{markdown_text(' · '.join(comparison.notes))}_"]
    return "\n".join(lines)


def axes_title(run: Run) -> str:
    """``3,000 messages, 375.2 KiB raw (389.4 KiB on the wire), go-gorilla, 12 cells``."""
    corpus = run.meta["corpus"]
    wire = run.cells[0]["wire_raw_bytes"] if run.cells else 0
    fixed = [
        axes_label(run.cells[0], (axis,))
        for axis in run_axes(run)
        if run.cells and len({c.get(axis) for c in run.cells}) == 1
    ]
    return (
        f"{run.meta.get('codec')}: {corpus['messages']:,} messages, "
        f"{format_bytes(corpus['raw_bytes'])} raw ({format_bytes(wire)} on the wire), "
        f"{plural(len(run.cells), 'cell')}" + "".join(f", {text}" for text in fixed)
    )


def axes_table(run: Run, chosen: Cell | None = None) -> RenderableType:
    """A Go run as a rich table on its own axes (no windowBits x memLevel grid)."""
    table = _settings_table(axes_title(run), AXES_HEADERS, axes_rows(run, chosen), no_wrap=True)
    table.caption = ("* recommended. " if chosen is not None else "") + AXES_LEGEND
    return table


def axes_markdown(run: Run, chosen: Cell | None = None) -> str:
    """The same table as GitHub-flavoured markdown."""
    return "\n".join(_settings_markdown(axes_title(run), AXES_HEADERS, axes_rows(run, chosen)))


def axes_cost_rows(decision: AxesDecision) -> tuple[str, list[str], list[list[str]]]:
    """The fleet's monthly cost on a Go run: (caption, headers, rows) for the chosen, smallest
    and default cells and no compression, priced by the same :class:`Fleet` as zlib's."""
    fleet = decision.costs
    assert fleet is not None
    by_cell = {id(cost.cell): cost for cost in fleet.costs}
    named: dict[int, list[str]] = {}
    order: list[Cell] = []
    for role, cell in (
        ("recommended", decision.chosen),
        ("smallest", decision.best),
        ("default", decision.default),
    ):
        if cell is None or id(cell) not in by_cell:
            continue
        if id(cell) not in named:
            order.append(cell)
        named.setdefault(id(cell), []).append(role)

    def money(value: float | None) -> str:
        return "-" if value is None else (f"{value:,.2f}" if value < 10_000 else f"{value:,.0f}")

    peaked = any(cost.peak is not None for cost in fleet.costs)

    def peak(cost: Cost) -> list[str]:
        if not peaked:
            return []
        return ["-" if cost.peak is None else format_bytes(cost.peak.peak)]

    # A run for a broadcast: what one delivery costs, each subscriber's compressor in turn.
    per_delivery = has_delivery_cpu([cost.cell for cost in fleet.costs if cost.cell])

    def delivery(cell: Cell | None, once: bool = False) -> list[str]:
        return [delivery_cpu(cell, once)] if per_delivery else []

    rows = []
    for cell in order:
        cost = by_cell[id(cell)]
        rows.append(
            [" & ".join(named[id(cell)]), decision.name(cell),
             format_bytes(fleet.connections * cell["connection_memory"]), *peak(cost),
             *delivery(cell), money(cost.memory), money(cost.egress), money(cost.cpu),
             money(cost.total)]
        )  # fmt: skip
    once = decision.once_cost
    if once is not None and once.peak is not None and decision.chosen is not None:
        rows.append(
            ["compress-once", decision.name(decision.chosen),
             format_bytes(once.peak.steady), *peak(once), *delivery(decision.chosen, once=True),
             money(once.memory), money(once.egress), money(once.cpu), money(once.total)]
        )  # fmt: skip
    if fleet.uncompressed is not None:
        none = fleet.uncompressed
        role = "recommended" if decision.chosen is decision.off else ""
        rows.append([role, "off (no compression)", "0 B", *(["0 B"] if peaked else []),
                     *delivery(None),
                     money(0), money(none.egress), money(0 if none.egress is not None else None),
                     money(none.total)])  # fmt: skip
    if peaked:
        loads = {cost.load.source for cost in fleet.costs if cost.load is not None}
        caption = fleet_caption(fleet) + (
            "; fleet memory: what connections keep between messages (steady); peak: plus "
            "the writes in flight, each holding its compressor (gorilla's pooled writers), "
            + ("ESTIMATED (not measured)" if "estimate" in loads else "as stated")
            + "; memory/mo prices the peak"
        )
    else:
        caption = fleet_caption(fleet) + (
            "; memory is what connections keep between messages (Go pools the writers: the "
            "per-write memory is not in it; --fanout K or --concurrent-writes N adds it)"
        )
    if per_delivery:
        caption += DELIVERY_NOTE
    headers = ["", "setting", "fleet memory", *(["peak"] if peaked else []),
               *(["CPU/delivery"] if per_delivery else []), "memory/mo", "egress/mo", "CPU/mo",
               "total/mo"]  # fmt: skip
    return caption, headers, rows


def write_peak_lines(decision: AxesDecision) -> list[str]:
    """The chosen cell's fleet memory at the peak of concurrent writes beside the steady state,
    and compress-once's beside it: one line each, for people."""
    fleet, cost = decision.costs, decision.chosen_cost
    if cost is None or cost.peak is None or cost.load is None or decision.chosen is None:
        return []
    peak = cost.peak
    assert fleet is not None
    lines = [
        f"write-pool peak: {fleet.connections:,} connections x "
        f"{format_bytes(decision.chosen['connection_memory'])} = {format_bytes(peak.steady)} "
        f"steady, plus {peak.writes:,} concurrent writes x {format_bytes(peak.per_write)} "
        f"(what each holds while it compresses) = {format_bytes(peak.peak)} at the peak; "
        f"{cost.load.how}. --max-memory is checked per connection, against the steady state.",
    ]
    once = decision.once_cost
    if once is not None and once.peak is not None:
        shares = (
            ""
            if cost.cpu is None or once.cpu is None
            else f", compress CPU {money_text(once.cpu)}/mo against {money_text(cost.cpu)}/mo"
        )
        lines.append(
            f"compress-once ({decision.chosen['compress_once']['mode']}): "
            f"{format_bytes(once.peak.steady)} steady, plus {plural(once.peak.writes, 'broadcast')}"
            f" in flight x {format_bytes(once.peak.per_write)} shared = "
            f"{format_bytes(once.peak.peak)} at the peak, against {format_bytes(peak.peak)} "
            f"per connection{shares}; total {money_text(once.total)}/mo against "
            f"{money_text(cost.total)}/mo"
        )
    return lines


def money_text(value: float) -> str:
    """``1,234.56`` (no decimals from 10,000 up), as the cost tables print money."""
    return f"{value:,.2f}" if value < 10_000 else f"{value:,.0f}"


def axes_decision_renderable(
    run: Run, decision: AxesDecision, verdict: Verdict | None = None
) -> RenderableType:
    """A Go run's recommendation: its table with compression off, the choice and why, the
    robustness, the fleet's cost, the snippet and the check."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    parts: list[RenderableType] = [axes_table(run, decision.chosen)]
    for warning in decision.warnings:
        parts.append(Text(f"warning: {warning}", style="yellow"))
    if decision.chosen is None:
        parts.append(Text(f"no recommendation: {decision.reason}", style="bold red"))
    else:
        parts.append(Text(f"recommended: {decision.reason}", style="bold"))
    robust = decision.robustness
    if robust is not None and robust.savings_interval is not None:
        low, high = robust.savings_interval
        parts.append(
            Text(
                f"robustness: {plural(len(decision.candidates), 'setting')} within "
                f"{decision.constraints.tolerance * 100:g}% of the smallest in "
                f"{decision.constraints.confidence:.0%} of {robust.resamples:,} resamples of "
                f"{plural(robust.units, 'unit')} (seed {robust.seed}); the chosen one saves "
                f"{low:.1%} to {high:.1%} (95% of resamples)"
            )
        )
    for line in decision.explanation:
        parts.append(Text(line))
    if decision.costs is not None:
        caption, headers, rows = axes_cost_rows(decision)
        costs = Table(show_edge=False, pad_edge=False, box=None, padding=(0, 1))
        for index, header in enumerate(headers):
            costs.add_column(header, justify="left" if index < 2 else "right", no_wrap=True)
        for row in rows:
            costs.add_row(*row)
        parts += [Padding(costs, (1, 0, 0, 2)), Text(caption, style="dim")]
        parts += [Text(line) for line in write_peak_lines(decision)]
    if decision.chosen is not None and decision.limits:
        parts += [Text(""), Text(decision.limits)]
    if decision.snippet:
        parts += [Text(""), Text(decision.snippet, no_wrap=True, overflow="ignore")]
    if verdict is not None:
        style = "bold green" if verdict.ok else "bold red"
        parts += [Text(""), Text(f"check: {verdict.reason}", style=style)]
        if verdict.advice is not None and verdict.ok:
            parts.append(Text(f"advice (not a failure): {verdict.advice}", style="yellow"))
    return Group(*parts)

