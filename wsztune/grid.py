"""The grid model shared by report, plots and recommend: cell keys, slices, metrics.

A run may sweep several levels, strategies or context-takeover values; the grids show one *slice*
of it (one of each), chosen with :func:`select_slice`. Nothing here renders or decides: report and
plots draw from these, recommend decides on them, and none of those three imports another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wsztune.axes import AXES
from wsztune.errors import WsztuneError
from wsztune.results import Run
from wsztune.text import describe_values, format_ms

REFERENCE = (12, 5)  # python-websockets' serve() default: 12 window bits, memLevel 5

Cell = dict[str, Any]
Key = tuple[int, int]


def cell_key(cell: Cell) -> Key:
    """The ``(window_bits, mem_level)`` pair a cell is filed under."""
    return (cell["window_bits"], cell["mem_level"])


def reference_name(
    key: Key | Cell, *, short: bool = False, slice_: Slice | None = None
) -> str:
    """What to call the reference cell: the default of the run's stack (``--server``) when it is
    that stack's default, else websockets' default only when it is 12:5 on a run of no stack.

    ``short`` gives a table's role name: ``default`` or ``reference``.
    """
    pair = cell_key(key) if isinstance(key, dict) else tuple(key)
    default, owner = REFERENCE, "websockets'"
    if slice_ is not None:
        default, owner = slice_.default, slice_.default_owner
    if pair == default and owner:  # no owner: the stack never compresses, it has no default
        return "default" if short else f"{owner} default"
    return "reference" if short else "the reference"


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
    # The run's resampling units (meta.units; None before schema 2) and corpus metadata: what
    # recommend needs beyond the cells, so that a slice alone is enough to decide on.
    units: dict[str, Any] | None = None
    corpus: dict[str, Any] = field(default_factory=dict)
    # The stack the run tuned (``run --server``, or ``--server`` when reading), its version, its
    # default cell and whose default that is ("Node ws's"); without a stack, websockets' 12:5.
    server: str | None = None
    server_version: str | None = None
    default: Key = REFERENCE
    default_owner: str = "websockets'"
    # The row of no compression: raw payloads and frame headers, no codec memory (see off_cell).
    off: Cell | None = None
    # The clients the run modelled (``run --client``): "firefox" or "chrome=0.7,firefox=0.3".
    client: str | None = None
    # The server stack's read buffer its resident figures include (meta.read_buffer; 0: none).
    read_buffer: int = 0

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

    @property
    def read_buffer_note(self) -> str | None:
        """A warning when the stack the slice is read as frees a read buffer on every read
        (Tornado) that its resident figures lack: a run swept without ``--server`` for it."""
        from wsztune.stacks import STACKS

        stack = STACKS.get(self.server) if self.server else None
        if stack is None or not stack.read_buffer or self.read_buffer == stack.read_buffer:
            return None
        return (
            f"the resident memory figures lack {stack.title}'s {stack.read_buffer:,} B read "
            "buffer, on whose written pages its zlib objects are built (up to 96 KiB more per "
            f"connection): sweep with wsztune run --server {stack.name}"
        )

    @property
    def missing(self) -> list[Key]:
        """The grid's cells this slice has no measurement for (an interrupted run's gaps)."""
        return [
            (wb, ml)
            for wb in self.window_bits
            for ml in self.mem_levels
            if (wb, ml) not in self.cells
        ]

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
    server: str | None = None,
) -> Slice:
    """One level x strategy x takeover x threshold slice of ``run``.

    Defaults: the run's first level and strategy (grid order), context takeover on when the
    run has it (what servers use), else off, and the threshold of the run's ``--server`` when
    its cells have it (ws: 1024), else the smallest. ``server`` (``NAME`` or ``NAME@VERSION``)
    reads the run as that stack's, whatever stack (if any) it was made for.
    """
    stack_name, stack_version = _run_server(run, server)
    cells = [cell for cell in run.cells if cell.get("compression") is not False]
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
    threshold = _slice_threshold(matching, threshold, stack_name)
    chosen = [cell for cell in matching if cell.get("threshold", 0) == threshold]
    if not chosen:
        raise _no_such_slice(cells, level, strategy, context_takeover)
    by_threshold: dict[int, dict[Key, Cell]] = {}
    for cell in matching:
        by_threshold.setdefault(cell.get("threshold", 0), {}).setdefault(cell_key(cell), cell)
    by_key = by_threshold[threshold or 0]
    planned = run.meta.get("grid") or {}
    window_bits = set(planned.get(AXES["window_bits"].swept) or ()) | {k[0] for k in by_key}
    mem_levels = set(planned.get(AXES["mem_level"].swept) or ()) | {k[1] for k in by_key}
    slices = {
        (c["level"], c["strategy"], c["context_takeover"], c.get("threshold", 0)) for c in cells
    }
    default, owner = _server_default(stack_name, stack_version)
    return Slice(
        server=stack_name,
        server_version=stack_version,
        client=run.meta.get("client"),
        default=default,
        default_owner=owner,
        off=off_cell(chosen[0], run.meta.get("units"))
        if {"raw_bytes", "server_raw_bytes", "client_raw_bytes"} <= chosen[0].keys()
        else None,
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
        units=run.meta.get("units"),
        corpus=run.meta.get("corpus") or {},
        read_buffer=int(run.meta.get("read_buffer") or 0),
    )


def _slice_threshold(
    matching: list[Cell], threshold: int | None, stack_name: str | None
) -> int | None:
    """The threshold of a slice: the one asked for (which the cells must have), else the
    stack's default when the cells have it, else the smallest."""
    thresholds = sorted({cell.get("threshold", 0) for cell in matching})
    if threshold is None and thresholds:
        preferred = _server_threshold(stack_name)
        threshold = preferred if preferred in thresholds else thresholds[0]
    if threshold is not None and matching and threshold not in thresholds:
        raise WsztuneError(
            f"the run has no cells with threshold {threshold} B in this slice; it has "
            f"{', '.join(map(str, thresholds))}"
        )
    return threshold


def _no_such_slice(cells: list[Cell], level: int, strategy: str, takeover: bool) -> WsztuneError:
    """The error for a slice the run lacks, listing the slices it has."""
    available = sorted(
        {
            f"level {c['level']}, strategy {c['strategy']}, "
            f"context takeover {'on' if c['context_takeover'] else 'off'}"
            for c in cells
        }
    )
    return WsztuneError(
        f"the run has no cells with level {level}, strategy {strategy}, context takeover "
        f"{'on' if takeover else 'off'}; it has: {'; '.join(available)}"
    )


def client_mix(client: str | None) -> frozenset[tuple[str, str]]:
    """A run's clients (its ``client``: ``firefox``, ``chrome=0.7,firefox=0.3``) as a set of
    (name, share), so that one mix written in two orders is one mix; empty without ``--client``.
    Two runs of different mixes measured different frames (the clients' own compressors) and
    different memory (the server's inflater for each client's window): not the same question."""
    mix = set()
    for part in (client or "").split(","):
        name, _, share = (piece.strip() for piece in part.partition("="))
        if not name:
            continue
        try:
            mix.add((name.lower(), f"{float(share or 1):g}"))
        except ValueError:  # a file edited by hand: compared as written
            mix.add((name.lower(), share))
    return frozenset(mix)


def made_with(option: str, value: str | None) -> str:
    """How a run was made, in the option's words: ``--client chrome``, or ``no --client``."""
    return f"{option} {value}" if value else f"no {option}"


def _run_server(run: Run, server: str | None) -> tuple[str | None, str | None]:
    """The stack (name, version) to read ``run`` as: ``server`` if given, else the run's own."""
    if server is None:
        name = run.meta.get("server")
        version = run.meta.get("server_version")
        return (str(name) if name else None), (str(version) if version else None)
    from wsztune.stacks import resolve

    profile, version = resolve(server)
    return profile.name, version


def _server_threshold(name: str | None) -> int | None:
    """The default threshold of the stack ``name``, if it is a known one."""
    if not name:
        return None
    from wsztune.stacks import STACKS

    stack = STACKS.get(name)
    return None if stack is None else stack.threshold


def _server_default(name: str | None, version: str | None) -> tuple[Key, str]:
    """The default cell of the stack ``name`` at ``version`` and whose default it is."""
    from wsztune.stacks import STACKS

    stack = STACKS.get(name) if name else None
    if stack is None:
        return REFERENCE, "websockets'"
    title = stack.title if version is None else f"{stack.title} {version}"
    if stack.knob("enabled") is None and not stack.defaults_for(version).enabled:
        return stack.default_pair(version), ""  # it never compresses (daphne)
    return stack.default_pair(version), f"{title}'s"


def off_cell(like: Cell, units: dict[str, Any] | None = None) -> Cell:
    """The row of no compression, measured exactly from ``like``'s corpus: every payload as it
    is, its frame headers counted (``wire_compressed_bytes`` = ``wire_raw_bytes``), no codec
    memory and no compress time. Labelled ``off``; its key is (0, 0)."""
    raw = like["raw_bytes"]
    cell: Cell = {
        **like,
        "compression": False,
        "window_bits": 0,
        "client_window_bits": 0,
        "mem_level": 0,
        "compressed_bytes": raw,
        "savings": 0.0,
        "server_compressed_bytes": like["server_raw_bytes"],
        "client_compressed_bytes": like["client_raw_bytes"],
        "wire_compressed_bytes": like.get("wire_raw_bytes", raw),
        "compressed_messages": 0,
        "compressor_share": 0.0,
        "decompressor_share": 0.0,
        "threshold": 0,
    }
    for name in list(cell):
        if name.startswith(("compress_seconds", "decompress_seconds")):
            cell[name] = None if cell[name] is None else 0.0  # nothing to time, when timed
        elif name.startswith(("compress_memory", "decompress_memory", "connection_memory")):
            cell[name] = 0
    if "frames" in like:  # a Go cell's count of its compressed frames: one per message here
        cell["frames"] = like["messages"]
    if "unit_compressed_bytes" in like and units and "raw_bytes" in units:
        cell["unit_compressed_bytes"] = list(units["raw_bytes"])
    return cell


def settable_cells(slice_: Slice) -> dict[Key, Cell]:
    """The cells of ``slice_`` its stack can be set to (every cell when the run names none)."""
    if not slice_.server:
        return dict(slice_.cells)
    from wsztune.stacks import STACKS

    stack = STACKS.get(slice_.server)
    if stack is None:
        return dict(slice_.cells)
    return {
        key: cell
        for key, cell in slice_.cells.items()
        if stack.settable(cell, slice_.server_version)
    }


def relevant_cells(slice_: Slice) -> dict[Key, Cell]:
    """The cells the slice's stack, or one of its alternatives, can be set to: what a chart of
    choices shows (uvicorn's run also holds 12:8 and 15:5, which no backend runs)."""
    cells = settable_cells(slice_)
    if not slice_.server:
        return cells
    from wsztune.stacks import STACKS

    stack = STACKS.get(slice_.server)
    version = slice_.server_version
    for name in stack.alternatives_for(version) if stack is not None else ():
        other = STACKS.get(name)
        key = other.default_pair() if other is not None else None
        cell = slice_.cells.get(key) if key is not None else None
        if cell is not None and other.settable(cell):
            cells[key] = cell
    return cells or dict(slice_.cells)


# Metrics ------------------------------------------------------------------------------------------


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
            format_ms,
            is_timing=True,
        ),
        Metric(
            "decompress-time",
            "decompress_seconds",
            "decompress time",
            "ms for the whole corpus, median",
            format_ms,
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


# Runs on a library's own axes (Go) ----------------------------------------------------------------

def run_axes(run: Run) -> tuple[str, ...]:
    """The axes a run's cells vary on when they are not windowBits x memLevel: a Go run records
    them (``meta.axes``: gorilla's level and threshold, coder's takeover mode and threshold).
    Empty for a zlib or node run, which the windowBits x memLevel grids show."""
    return tuple(run.meta.get("axes") or ())


def axes_key(cell: Cell, axes: tuple[str, ...]) -> tuple:
    """A Go cell's setting, to find the same setting in another run: ``("off",)`` for
    compression off, else its values on ``axes``."""
    if cell.get("compression") is False:
        return ("off",)
    return tuple(cell.get(axis) for axis in axes)


def axes_cells(run: Run) -> list[Cell]:
    """A run's cells in the order of its axes (takeover on first)."""
    axes = run_axes(run)

    def key(cell: Cell) -> tuple:
        return tuple(
            not cell.get(axis) if axis == "context_takeover" else cell.get(axis, 0)
            for axis in axes
        )

    return sorted(run.cells, key=key)
