"""Tables from a Run: terminal (rich), markdown and CSV. Never re-runs the codec.

Everything here returns strings or rich renderables; the CLI prints them. A run may sweep several
levels, strategies or context-takeover values: the grids show one *slice* of it (one of each),
chosen with :func:`select_slice`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wsztune.errors import WsztuneError
from wsztune.results import Run

if TYPE_CHECKING:
    from rich.console import RenderableType

    from wsztune.recommend import Decision, Verdict
    from wsztune.stats import CorpusStats

REFERENCE = (12, 5)  # python-websockets' serve() default: 12 window bits, memLevel 5

Cell = dict[str, Any]
Key = tuple[int, int]


def format_bytes(value: float) -> str:
    """Human-readable bytes with binary units: ``317.7 KiB``."""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def label(key: Key | Cell) -> str:
    """``WB:ML`` of a cell or a ``(wb, ml)`` pair, as users type it."""
    if isinstance(key, dict):
        return f"{key['window_bits']}:{key['mem_level']}"
    return f"{key[0]}:{key[1]}"


def plural(count: int, singular: str, plural_form: str | None = None, *, show: bool = True) -> str:
    """``1 cell``, ``2 cells``; ``plural(n, "was", "were", show=False)`` for the verb alone."""
    word = singular if count == 1 else (plural_form or f"{singular}s")
    return f"{count:,} {word}" if show else word


def cell_key(cell: Cell) -> Key:
    """The ``(window_bits, mem_level)`` pair a cell is filed under."""
    return (cell["window_bits"], cell["mem_level"])


def reference_name(key: Key | Cell, *, short: bool = False) -> str:
    """What to call the reference cell: websockets' default only when it is 12:5.

    ``short`` gives a table's role name: ``default`` or ``reference``.
    """
    pair = cell_key(key) if isinstance(key, dict) else tuple(key)
    if pair == REFERENCE:
        return "default" if short else "websockets' default"
    return "reference" if short else "the reference"


def describe_values(values: Sequence[int]) -> str:
    """``9-13`` for a contiguous run of integers, else ``9,12,15``."""
    values = sorted(values)
    if not values:
        return "none"
    if len(values) > 2 and values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}-{values[-1]}"
    return ",".join(str(value) for value in values)


# Slices and grids ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slice:
    """The cells of a run that share one level, strategy and context-takeover value.

    ``window_bits`` and ``mem_levels`` are the grid's axes: the values planned in the run's
    metadata and the values present in its cells, so that an interrupted (partial) run shows
    its missing cells as gaps rather than hiding them.
    """

    level: int
    strategy: str
    context_takeover: bool
    cells: dict[Key, Cell]
    window_bits: tuple[int, ...]
    mem_levels: tuple[int, ...]
    other_slices: int = 0
    # ws's threshold (bytes) of the cells; 0 when the run has none (older runs, websockets).
    threshold: int = 0
    # The same level/strategy/takeover cells at every threshold the run swept (this one too),
    # so that recommend can say what another threshold would trade.
    by_threshold: dict[int, dict[Key, Cell]] = field(default_factory=dict)
    codec: str = "zlib"  # the run's codec: which stacks' snippets it measured

    def get(self, key: Key) -> Cell | None:
        """The cell at ``(window_bits, mem_level)``, or None when the run lacks it."""
        return self.cells.get(key)

    @property
    def description(self) -> str:
        """``level -1, strategy default, context takeover on``."""
        takeover = "on" if self.context_takeover else "off"
        text = f"level {self.level}, strategy {self.strategy}, context takeover {takeover}"
        if self.threshold or len(self.by_threshold) > 1:
            text += f", threshold {self.threshold} B"
        return text

    @property
    def grid_description(self) -> str:
        """``windowBits 9-13 x memLevel 1,3,5,8``."""
        return (
            f"windowBits {describe_values(self.window_bits)} x "
            f"memLevel {describe_values(self.mem_levels)}"
        )

    def step_down(self, key: Key, axis: int) -> Key | None:
        """The next smaller grid value on ``axis`` (0: windowBits, 1: memLevel), if any.

        "One step down" means within this run's grid: on a grid of 9,12,15 the step below 12
        is 9. Cliffs are judged only against measured neighbours.
        """
        values = self.window_bits if axis == 0 else self.mem_levels
        lower = [value for value in values if value < key[axis]]
        if not lower:
            return None
        return (max(lower), key[1]) if axis == 0 else (key[0], max(lower))


def select_slice(
    run: Run,
    level: int | None = None,
    strategy: str | None = None,
    context_takeover: bool | None = None,
    threshold: int | None = None,
) -> Slice:
    """One level x strategy x takeover x threshold slice of ``run``.

    Defaults: the run's first level and strategy (grid order), context takeover on when the
    run has it (what servers use), else off, and the threshold of the run's ``--server`` when
    its cells have it (ws: 1024), else the smallest.
    """
    cells = run.cells
    level = cells[0]["level"] if level is None else level
    strategy = cells[0]["strategy"] if strategy is None else strategy
    if context_takeover is None:
        context_takeover = any(cell["context_takeover"] for cell in cells)
    matching = [
        cell
        for cell in cells
        if cell["level"] == level
        and cell["strategy"] == strategy
        and cell["context_takeover"] == context_takeover
    ]
    thresholds = sorted({cell.get("threshold", 0) for cell in matching})
    if threshold is None and thresholds:
        preferred = _server_threshold(run)
        threshold = preferred if preferred in thresholds else thresholds[0]
    if threshold is not None and matching and threshold not in thresholds:
        raise WsztuneError(
            f"the run has no cells with threshold {threshold} B in this slice; it has "
            f"{', '.join(map(str, thresholds))}"
        )
    chosen = [cell for cell in matching if cell.get("threshold", 0) == threshold]
    if not chosen:
        available = sorted(
            {
                f"level {c['level']}, strategy {c['strategy']}, "
                f"context takeover {'on' if c['context_takeover'] else 'off'}"
                for c in cells
            }
        )
        raise WsztuneError(
            f"the run has no cells with level {level}, strategy {strategy}, context takeover "
            f"{'on' if context_takeover else 'off'}; it has: {'; '.join(available)}"
        )
    by_key: dict[Key, Cell] = {}
    for cell in chosen:
        by_key.setdefault(cell_key(cell), cell)
    by_threshold: dict[int, dict[Key, Cell]] = {}
    for cell in matching:
        by_threshold.setdefault(cell.get("threshold", 0), {}).setdefault(cell_key(cell), cell)
    planned = run.meta.get("grid") or {}
    window_bits = set(planned.get("window_bits") or ()) | {key[0] for key in by_key}
    mem_levels = set(planned.get("mem_levels") or ()) | {key[1] for key in by_key}
    slices = {
        (c["level"], c["strategy"], c["context_takeover"], c.get("threshold", 0)) for c in cells
    }
    return Slice(
        level=level,
        strategy=strategy,
        context_takeover=context_takeover,
        cells=by_key,
        window_bits=tuple(sorted(window_bits)),
        mem_levels=tuple(sorted(mem_levels)),
        other_slices=len(slices) - 1,
        threshold=threshold or 0,
        by_threshold=by_threshold,
        codec=str(run.meta.get("codec") or "zlib"),
    )


def _server_threshold(run: Run) -> int | None:
    """The default threshold of the stack a run tuned (``run --server``), if it named one."""
    name = run.meta.get("server")
    if not name:
        return None
    from wsztune.servers import SERVERS

    stack = SERVERS.get(name)
    return None if stack is None else stack.threshold


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
    if slice_ is not None and slice_.other_slices:
        warnings.append(
            f"the run has {slice_.other_slices + 1} level/strategy/context-takeover/threshold "
            f"slices; showing {slice_.description} (choose with --level, --strategy, "
            "--context-takeover, --threshold)"
        )
    return warnings


def corpus_caption(run: Run) -> str:
    """``websockets-commits: 1,837 messages, 2.3 MiB``."""
    corpus = run.meta.get("corpus", {})
    name = corpus.get("name") or "corpus"
    messages = corpus.get("messages")
    raw = corpus.get("raw_bytes")
    if messages is None or raw is None:
        return str(name)
    return f"{name}: {messages:,} messages, {format_bytes(raw)}"


# Metrics ------------------------------------------------------------------------------------------


NOT_MEASURED = "not measured"
# In a grid cell, where "not measured" would not fit 80 columns; a note under the grid says it.
NOT_MEASURED_MARK = "n/m"
NOT_MEASURED_NOTE = (
    f"{NOT_MEASURED_MARK} = not measured: the run was made with --no-timing (sizes and memory only)"
)


def _format_ms(seconds: float | None) -> str:
    if seconds is None:
        return NOT_MEASURED
    ms = seconds * 1000
    if ms < 1:
        return f"{ms:.2f}"
    if ms < 100:
        return f"{ms:.1f}"
    return f"{ms:.0f}"


def _ms_text(seconds: float | None) -> str:
    """``34.0 ms``, or ``not measured``."""
    return NOT_MEASURED if seconds is None else f"{_format_ms(seconds)} ms"


@dataclass(frozen=True)
class Metric:
    """One grid a user can ask for: where its number comes from and how it reads."""

    name: str
    field: str
    title: str
    unit: str
    format: Callable[[float], str]
    # Every metric but savings is "bigger is worse"; charts and arrows depend on it.
    bigger_is_worse: bool = True
    # Savings are a percentage already: their change is in percentage points, not in percent.
    relative_in_points: bool = False
    # Timings carry a spread: cells whose spread is large are marked in the grid.
    is_timing: bool = False

    def value(self, cell: Cell) -> float | None:
        """The number this metric reads from ``cell``; None when it was not measured."""
        value = cell[self.field]
        return None if value is None else float(value)


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric(
            "savings",
            "savings",
            "savings",
            "1 - compressed/raw, %",
            lambda v: f"{v:.1%}",
            bigger_is_worse=False,
            relative_in_points=True,
        ),
        Metric("size", "compressed_bytes", "compressed size", "bytes", lambda v: f"{v:,.0f}"),
        Metric(
            "time",
            "compress_seconds",
            "compress time",
            "ms for the whole corpus, median",
            _format_ms,
            is_timing=True,
        ),
        Metric(
            "decompress-time",
            "decompress_seconds",
            "decompress time",
            "ms for the whole corpus, median",
            _format_ms,
            is_timing=True,
        ),
        Metric(
            "memory",
            "connection_memory",
            "memory per connection",
            "KiB, compressor + decompressor, observed",
            lambda v: f"{v / 1024:.1f}",
        ),
        Metric(
            "memory-theory",
            "connection_memory_theoretical",
            "memory per connection, theory",
            "KiB, zlib's formula",
            lambda v: f"{v / 1024:.1f}",
        ),
    )
}
DEFAULT_METRICS = ("savings", "time", "memory")
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

    def text(self, key: Key) -> str:
        """The cell's text, or the missing-cell mark."""
        return self.values.get(key, MISSING)


def grid_table(
    run: Run,
    slice_: Slice,
    metric: Metric,
    *,
    relative_to: Key | None = None,
    reference: Key = REFERENCE,
    recommended: Key | None = None,
    width: int | None = None,
) -> GridTable:
    """The grid of ``metric`` over ``slice_``, absolute or relative to the ``relative_to`` cell.

    When ``relative_to`` is not in the grid (a partial grid), values stay absolute and the
    caption says why instead of failing. ``width`` is the terminal's, for :func:`rich_grid`:
    sizes in bytes that would not fit it are shown in KiB instead, and the caption says so.
    """
    notes: list[str] = []
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
    caption = f"{metric.title} ({unit}) · {corpus_caption(run)} · {slice_.description}"
    return GridTable(
        metric=metric,
        caption=caption,
        window_bits=slice_.window_bits,
        mem_levels=slice_.mem_levels,
        values=values,
        reference=reference if slice_.get(reference) is not None else None,
        recommended=recommended,
        notes=notes,
    )


def legend(table: GridTable, recommended_note: str = "", reference_mark: str = "") -> str:
    """One line naming the highlighted cells.

    ``recommended_note`` qualifies the star (`` within 64.0 KiB per connection``) or, when
    there is no recommended cell, says why there is no star (``no cell fits 10.0 KiB ...``).
    """
    parts = []
    if table.reference is not None:
        parts.append(f"{reference_mark}{label(table.reference)}, {reference_name(table.reference)}")
    if table.recommended is not None:
        parts.append(f"★ = {label(table.recommended)}, recommended{recommended_note}")
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
            text = table.text((wb, ml))
            if (wb, ml) == table.recommended:
                text = f"{text} ★"
            if (wb, ml) == table.reference:
                text = f"**{text}**"
            cells.append(text)
        rows.append(f"| **{wb}** | " + " | ".join(cells) + " |")
    lines = [f"**{table.caption}**", "", header, align, *rows]
    extra = [legend(table, recommended_note, reference_mark="bold = "), *table.notes]
    extra = [line for line in extra if line]
    if extra:
        lines += ["", *(f"_{line}_" for line in extra)]
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
    from rich.table import Table
    from rich.text import Text

    caption = legend(table, recommended_note, reference_mark="◆ = ")
    if table.notes:
        caption = " · ".join([caption, *table.notes]) if caption else " · ".join(table.notes)
    # No vertical rules, no outer edge, one space before each column and the marks glued to
    # their numbers: a full 7 x 9 grid with both marks fits 80 columns (see grid_width).
    grid = Table(
        title=table.caption,
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
        f"{metric.title} ({how}, new against old) · old {corpus_caption(old)} · "
        f"new {corpus_caption(new)}"
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
        roles.append((reference_name(decision.reference, short=True), decision.reference))
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
        _ms_text(cell["compress_seconds"]),
    )


def decision_markdown(decision: Decision, run: Run, verdict: Verdict | None = None) -> str:
    """A markdown summary of a recommendation (and check), for ``$GITHUB_STEP_SUMMARY``."""
    lines = ["### wsztune recommend", ""]
    if verdict is not None:
        mark = "✅" if verdict.ok else "❌"
        lines += [f"{mark} **{verdict.reason}**", ""]
    lines += [
        f"_{corpus_caption(run)} · {decision.slice_description}; "
        "memory is per connection (compressor + decompressor, observed)_",
        "",
        "| " + " | ".join(_COMPARISON_HEADERS) + " |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, cell in _rows(decision, verdict):
        lines.append(f"| {name} | " + " | ".join(_comparison_cells(cell)) + " |")
    lines += ["", *(f"- {line}" for line in decision.explanation)]
    lines += [f"- ⚠️ {warning}" for warning in decision.warnings]
    return "\n".join(lines) + "\n"


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
    for title, (_, code) in decision.snippets.items():
        # Plain, unwrapped, unindented: a snippet must survive copy and paste as it is.
        parts.append(Text(""))
        parts.append(Text(title, style="bold"))
        parts.append(Text(code, no_wrap=True, overflow="ignore"))
    if verdict is not None:
        style = "bold green" if verdict.ok else "bold red"
        parts.append(Text(""))
        parts.append(Text(f"check: {verdict.reason}", style=style))
    return Group(*parts)


def print_run_summary(run: Run) -> None:
    """A compact table after ``wsztune run``: the three smallest cells and 12:5.

    Only the default slice (see :func:`select_slice`): with several levels, strategies or
    context-takeover values the title says which one is shown, so no row mixes them.
    """
    from rich.table import Table

    from wsztune.console import stdout_console

    slice_ = select_slice(run)
    corpus = run.meta["corpus"]
    title = (
        f"{corpus['messages']:,} messages, {format_bytes(corpus['raw_bytes'])} raw, "
        f"{plural(len(run.cells), 'cell')}"
    )
    if slice_.other_slices:
        title += f"\n{slice_.description} (1 of {slice_.other_slices + 1} slices)"
    table = Table(title=title)
    for header in ("", "wb:ml", "compressed", "savings", "compress", "memory/conn"):
        left = header in ("", "wb:ml")
        table.add_column(header, justify="left" if left else "right", no_wrap=True)
    for name, cell in _summary_rows(slice_):
        table.add_row(
            name,
            label(cell),
            f"{cell['compressed_bytes']:,} B",
            f"{cell['savings']:.1%}",
            _ms_text(cell["compress_seconds"]),
            format_bytes(cell["connection_memory"]),
        )
    console = stdout_console()
    console.print(table)
    console.print(
        "next: wsztune table · wsztune plot · wsztune recommend --max-memory 64KiB", style="dim"
    )


def render_corpus_stats(stats: CorpusStats) -> None:
    """Print ``wsztune corpus stats`` as a two-column rich table."""
    from rich.table import Table

    from wsztune.console import stdout_console

    def share(part: int, whole: int) -> str:
        return f"{part:,} ({part / whole:.0%})" if whole else "0"

    sizes = stats.sizes
    table = Table(title=f"{stats.path} ({stats.format})", show_header=False)
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
    ]
    for name, value in rows:
        table.add_row(name, value)
    stdout_console().print(table)


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
    smallest = sorted(
        slice_.cells.values(),
        key=lambda cell: (cell["compressed_bytes"], cell["connection_memory"]),
    )
    rows = list(zip(("smallest", "2nd smallest", "3rd smallest"), smallest, strict=False))
    reference = slice_.get(REFERENCE)
    if reference is not None:
        rows.append(("websockets default", reference))
    return rows
