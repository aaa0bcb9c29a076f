"""Charts from a Run: one heatmap per metric and a Pareto chart of memory against size.

matplotlib is driven through its object API on an Agg canvas, never through pyplot: no display,
no global figure state, so the charts render the same on a laptop, a CI runner or a server.
Colours follow one rule: the worse a cell, the redder it is (savings reversed, since more is
better there).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from wsztune.grid import (
    METRICS,
    Cell,
    Key,
    Metric,
    Slice,
    cell_key,
    reference_name,
    relevant_cells,
)
from wsztune.results import Run
from wsztune.text import corpus_caption, format_bytes, label

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from wsztune.recommend.decide import Decision

FORMATS = ("png", "svg")
DPI = 120
MIN_HEATMAP_SIZE = (6.0, 3.6)  # inches: room for the title, colour bar and legend of one cell


@dataclass(frozen=True)
class Scale:
    """How a metric's raw number becomes a plotted number, and the colour bar's label."""

    factor: float
    unit: str
    log: bool = False


# Plotted units: what a person reads (KiB, ms, %), not what the file stores (B, s, ratio).
SCALES: dict[str, Scale] = {
    "savings": Scale(100, "savings, % (1 - compressed/raw)"),
    "size": Scale(1 / 1024, "compressed size, KiB"),
    "time": Scale(1000, "compress time, ms (whole corpus, median)"),
    "decompress-time": Scale(1000, "decompress time, ms (whole corpus, median)"),
    # memLevel doubles the hash tables at each step: a log colour scale keeps the low cells apart.
    "memory": Scale(1 / 1024, "KiB per connection (observed)", log=True),
    "memory-theory": Scale(1 / 1024, "KiB per connection (zlib's formula)", log=True),
}


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _annotation(metric: Metric, value: float) -> str:
    if metric.name == "size":
        return f"{value / 1024:.0f}"
    return metric.format(value)


def _outline(ax: Axes, column: int, row: int, colour: str, width: float) -> None:
    from matplotlib.patches import Rectangle

    ax.add_patch(
        Rectangle((column - 0.5, row - 0.5), 1, 1, fill=False, edgecolor=colour, linewidth=width)
    )


def heatmap(
    run: Run,
    slice_: Slice,
    metric: Metric,
    path: Path,
    *,
    reference: Key | None = None,
    recommended: Key | None = None,
) -> Path:
    """A windowBits x memLevel heatmap of ``metric``, every cell annotated; returns ``path``."""
    import numpy
    from matplotlib import colormaps, colors

    from wsztune.stacks import stack_caption  # stacks load on use

    scale = SCALES[metric.name]
    rows, columns = slice_.window_bits, slice_.mem_levels
    values = numpy.full((len(rows), len(columns)), numpy.nan)
    for (wb, ml), cell in slice_.cells.items():
        values[rows.index(wb), columns.index(ml)] = metric.value(cell) * scale.factor
    masked = numpy.ma.masked_invalid(values)

    # A narrow grid (one cell, a restricted run) still needs room for the title, the colour bar
    # and the legend: below a minimum size they are clipped and the layout gives up with a
    # warning.
    width = max(MIN_HEATMAP_SIZE[0], 1.6 + 0.78 * len(columns))
    figure = _figure(width, max(MIN_HEATMAP_SIZE[1], 1.5 + 0.5 * len(rows)))
    ax = figure.add_subplot()
    # Redder is worse whichever way the metric points; cells the run lacks are grey.
    cmap = colormaps["YlOrRd" if metric.bigger_is_worse else "YlOrRd_r"].with_extremes(
        bad="#dddddd"
    )
    positive = masked.compressed()
    norm = None
    if scale.log and positive.size and positive.min() > 0:
        norm = colors.LogNorm(vmin=positive.min(), vmax=positive.max())
    image = ax.imshow(masked, cmap=cmap, norm=norm, aspect="auto", origin="upper")
    bar = figure.colorbar(image, ax=ax, shrink=0.9)
    if norm is not None:
        from matplotlib.ticker import FuncFormatter, LogLocator

        bar.locator = LogLocator(base=10, subs=(1.0, 2.0, 5.0))
        bar.formatter = FuncFormatter(lambda value, _: f"{value:g}")
        bar.update_ticks()
    bar.set_label(f"{scale.unit}  (redder is worse)", fontsize=8)

    for (wb, ml), cell in slice_.cells.items():
        r, c = rows.index(wb), columns.index(ml)
        rgba = cmap(image.norm(values[r, c]))
        luminance = 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2]
        ax.text(
            c,
            r,
            _annotation(metric, metric.value(cell)),
            ha="center",
            va="center",
            fontsize=7.5,
            color="black" if luminance > 0.5 else "white",
        )
    for r, wb in enumerate(rows):
        for c, ml in enumerate(columns):
            if slice_.get((wb, ml)) is None:
                ax.text(c, r, "not run", ha="center", va="center", fontsize=6, color="#666666")
    reference = slice_.default if reference is None else reference
    if reference in slice_.cells:
        _outline(ax, columns.index(reference[1]), rows.index(reference[0]), "#1f4e99", 2.2)
    if recommended is not None and recommended in slice_.cells:
        _outline(ax, columns.index(recommended[1]), rows.index(recommended[0]), "#1a9e3a", 3.0)

    ax.set_xticks(range(len(columns)), [str(ml) for ml in columns])
    ax.set_yticks(range(len(rows)), [str(wb) for wb in rows])
    marks = []
    reference_words = reference_name(reference, slice_=slice_)
    same = recommended == reference  # the green box hides the blue one: one mark says both
    if reference in slice_.cells and not same:
        marks.append(f"blue box: {label(reference)}, {reference_words}")
    if recommended is not None and recommended in slice_.cells:
        both = f" and {reference_words}" if same else ""
        marks.append(f"green box: {label(recommended)}, recommended{both}")
    if metric.name == "size":
        marks.append("values in KiB")
    # The legend rides on the x label so that the constrained layout makes room for it; one
    # line when the figure is wide enough (about 11 characters an inch at this size), else one
    # mark a line.
    legend = " · ".join(marks)
    if len(legend) > 11 * width:
        legend = "\n".join(marks)
    ax.set_xlabel("memLevel" + (f"\n{legend}" if marks else ""), fontsize=9)
    ax.set_ylabel("windowBits", fontsize=9)
    ax.set_title(
        f"{metric.title}: {corpus_caption(run)}\n{slice_.description}\n{stack_caption(slice_)}",
        fontsize=10,
        loc="left",
    )
    figure.savefig(path, dpi=DPI)
    return path


def pareto_frontier(cells: Iterable[Cell]) -> list[Cell]:
    """The cells no other cell beats on both connection memory and compressed size.

    Sorted by memory: each frontier cell is smaller than every cheaper one.
    """
    frontier: list[Cell] = []
    smallest = float("inf")
    for cell in sorted(cells, key=lambda c: (c["connection_memory"], c["compressed_bytes"])):
        if cell["compressed_bytes"] < smallest:
            frontier.append(cell)
            smallest = cell["compressed_bytes"]
    return frontier


ZOOM = 0.10  # the right-hand panel shows cells within 10% of the smallest output


def _kib(cell: Cell) -> float:
    return cell["connection_memory"] / 1024


def _size_kib(cell: Cell) -> float:
    return cell["compressed_bytes"] / 1024


def _log_ticks(ax: Axes) -> None:
    # Plain numbers at 1-2-5 steps: "100" and "200" read at a glance, "10^2" does not.
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _label_frontier(ax: Axes, frontier: Sequence[Cell], low: float, high: float) -> None:
    """Name the frontier cells, skipping one that would print over the previous label."""
    import math

    xmin, xmax = ax.get_xlim()
    # Linear when some cell holds nothing (a node cell whose connections build no zlib stream).
    scale = math.log10 if ax.get_xscale() == "log" else float
    span_x = (scale(xmax) - scale(xmin)) or 1.0
    span_y = (high - low) or 1.0
    last: tuple[float, float] | None = None
    for cell in frontier:
        y = _size_kib(cell)
        if not low <= y <= high:
            continue
        x = (scale(_kib(cell)) - scale(xmin)) / span_x
        position = (x, (y - low) / span_y)
        if (
            last is not None
            and abs(position[0] - last[0]) < 0.07
            and abs(position[1] - last[1]) < 0.06
        ):
            continue
        last = position
        ax.annotate(
            label(cell),
            (_kib(cell), y),
            textcoords="offset points",
            xytext=(3, 5),
            fontsize=7,
            color="#7a3300",
        )


def _pareto_panel(
    ax: Axes,
    cells: Sequence[Cell],
    frontier: Sequence[Cell],
    reference: Cell | None,
    decision: Decision | None,
    reference_words: str = "",
) -> None:
    ax.scatter(
        [_kib(c) for c in cells],
        [_size_kib(c) for c in cells],
        s=14,
        color="#9a9a9a",
        label="every cell",
        zorder=2,
    )
    ax.plot(
        [_kib(c) for c in frontier],
        [_size_kib(c) for c in frontier],
        drawstyle="steps-post",
        color="#d95f02",
        linewidth=1.6,
        label="Pareto frontier",
        zorder=3,
    )
    ax.scatter(
        [_kib(c) for c in frontier],
        [_size_kib(c) for c in frontier],
        s=22,
        color="#d95f02",
        zorder=4,
    )
    if reference is not None:
        ax.scatter(
            [_kib(reference)],
            [_size_kib(reference)],
            marker="D",
            s=70,
            facecolor="none",
            edgecolor="#1f4e99",
            linewidth=2,
            zorder=5,
            label=f"{label(reference)}: {reference_words or reference_name(reference)}",
        )
    if decision is not None and decision.chosen is not None:
        chosen = decision.chosen
        ax.scatter(
            [_kib(chosen)],
            [_size_kib(chosen)],
            marker="*",
            s=220,
            color="#1a9e3a",
            edgecolor="black",
            linewidth=0.6,
            zorder=6,
            label=f"{label(chosen)}: recommended",
        )
    if decision is not None and decision.constraints.max_memory is not None:
        budget = decision.constraints.max_memory
        ax.axvline(
            budget / 1024,
            color="#555555",
            linestyle="--",
            linewidth=1,
            label=f"budget: {format_bytes(budget)}",
            zorder=1,
        )
    # A log axis cannot show 0 B: a node cell whose connections build no zlib stream holds that.
    if all(_kib(c) > 0 for c in cells):
        _log_ticks(ax)
        ax.set_xlabel("memory per connection, KiB (observed, log scale)", fontsize=9)
    else:
        ax.set_xlabel("memory per connection, KiB (observed)", fontsize=9)
    ax.grid(True, which="major", linewidth=0.4, alpha=0.6)


def pareto(
    run: Run,
    slice_: Slice,
    path: Path,
    *,
    reference: Key | None = None,
    decision: Decision | None = None,
) -> Path:
    """Connection memory (x, log) against compressed size (y), frontier drawn; returns ``path``.

    Two panels: every cell, and a zoom on the cells within 10% of the smallest output, where
    the choice is made (the full view squeezes them into one line when small windows are bad).
    With a stack (``--server``), only the cells it or its alternatives can be set to.
    """
    from wsztune.stacks import stack_caption  # stacks load on use

    cells = list(relevant_cells(slice_).values())
    frontier = pareto_frontier(cells)
    reference = slice_.default if reference is None else reference
    ref = slice_.get(reference)
    words = reference_name(reference, slice_=slice_)
    smallest = min(_size_kib(c) for c in cells)
    largest = max(_size_kib(c) for c in cells)
    top = smallest * (1 + ZOOM)
    near = [c for c in cells if _size_kib(c) <= top]
    # A zoom on one point says nothing: then the chart is the one panel of every cell.
    zoomed = len({cell_key(c) for c in near}) > 1
    figure = _figure(12.0 if zoomed else 7.0, 5.4)
    if zoomed:
        full, zoom = figure.subplots(1, 2, width_ratios=(1, 1.25))
    else:
        full, zoom = figure.subplots(1, 1), None
    for ax in (full, zoom) if zoom is not None else (full,):
        _pareto_panel(ax, cells, frontier, ref, decision, words)
    _label_frontier(full, frontier, smallest, largest)
    full.set_ylabel("compressed size of the corpus, KiB (lower is better)", fontsize=9)
    full.set_title("every cell", fontsize=9, loc="left")
    if zoom is not None:
        zoom.set_ylim(smallest - (top - smallest) * 0.05, top)
        low, high = min(_kib(c) for c in near), max(_kib(c) for c in near)
        if zoom.get_xscale() == "log":
            zoom.set_xlim(low / 1.15, high * 1.15)
        else:
            margin = (high - low) * 0.15 or 1.0
            zoom.set_xlim(low - margin, high + margin)
        _label_frontier(zoom, frontier, smallest, top)
        zoom.set_title(f"within {ZOOM:.0%} of the smallest output", fontsize=9, loc="left")
    (zoom or full).legend(fontsize=8, loc="upper right")
    figure.suptitle(
        f"Memory against size: {corpus_caption(run)} · {slice_.description}\n"
        f"{stack_caption(slice_)}",
        fontsize=10,
        x=0.01,
        ha="left",
    )
    figure.savefig(path, dpi=DPI)
    return path


def write_plots(
    run: Run,
    slice_: Slice,
    directory: Path,
    *,
    metrics: Sequence[str] = tuple(METRICS),
    formats: Sequence[str] = ("png",),
    reference: Key | None = None,
    decision: Decision | None = None,
) -> list[Path]:
    """Every heatmap and the Pareto chart, in each format; returns the paths written.

    Time heatmaps are skipped for a run made with ``--no-timing``: nothing was measured.
    """
    directory.mkdir(parents=True, exist_ok=True)
    stem = run.path.stem if run.path is not None else "run"
    recommended = None
    if decision is not None and decision.chosen is not None:
        recommended = cell_key(decision.chosen)
    written = []
    for fmt in formats:
        for name in metrics:
            if METRICS[name].is_timing and not run.timing_measured:
                continue  # a --no-timing run: no time to draw (the caller says so)
            path = directory / f"{stem}-{name}.{fmt}"
            written.append(
                heatmap(
                    run, slice_, METRICS[name], path, reference=reference, recommended=recommended
                )
            )
        path = directory / f"{stem}-pareto.{fmt}"
        written.append(pareto(run, slice_, path, reference=reference, decision=decision))
    return written


def axes_chart(run: Run, directory: Path, formats: Sequence[str] = ("png",)) -> list[Path]:
    """A Go run on its own axes (level, takeover mode, threshold): bars of the bytes on the wire
    (frame headers counted), of the memory a connection keeps, and of the memory per write."""
    from wsztune.grid import axes_cells, run_axes
    from wsztune.text import axes_label

    directory.mkdir(parents=True, exist_ok=True)
    stem = run.path.stem if run.path is not None else "run"
    cells = axes_cells(run)
    axes = tuple(a for a in run_axes(run) if len({c.get(a) for c in run.cells}) > 1) or run_axes(
        run
    )
    names = [axes_label(cell, axes) for cell in cells]
    panels = (
        ("on the wire, KiB (payload + frame headers)", "wire_compressed_bytes", 1 / 1024),
        ("kept per connection, KiB (Go heap, idle)", "connection_memory", 1 / 1024),
        ("per concurrent write, KiB (Go heap)", "compress_memory_peak", 1 / 1024),
    )
    written = []
    for fmt in formats:
        figure = _figure(11.0, 1.2 + 0.35 * len(cells) * 1.0 + 1.0)
        plots = figure.subplots(1, len(panels), sharey=True)
        positions = list(range(len(cells)))
        for ax, (title, field, factor) in zip(plots, panels, strict=True):
            values = [cell[field] * factor for cell in cells]
            ax.barh(positions, values, color="#4c72b0")
            ax.set_title(title, fontsize=9)
            ax.invert_yaxis()
            for y, value in zip(positions, values, strict=True):
                ax.text(value, y, f" {value:,.1f}", va="center", fontsize=7)
        raw = run.cells[0]["wire_raw_bytes"] / 1024 if run.cells else 0.0
        plots[0].axvline(raw, color="#c44e52", linestyle="--", linewidth=1)
        plots[0].text(raw, -0.6, " uncompressed", color="#c44e52", fontsize=7)
        plots[0].set_yticks(positions, names, fontsize=8)
        figure.suptitle(
            f"{run.meta.get('codec')} on {run.meta['corpus'].get('name', '')}: "
            f"{run.meta['corpus']['messages']:,} messages",
            fontsize=10,
            x=0.01,
            ha="left",
        )
        path = directory / f"{stem}-axes.{fmt}"
        figure.savefig(path, dpi=DPI)
        written.append(path)
    return written
