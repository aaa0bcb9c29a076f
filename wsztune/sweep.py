"""The sweep: every cell of a grid of settings measured on one corpus by one codec.

The sweep owns the grid, the order cells are visited in, interruption and the run's metadata;
how a cell is measured (sizes with their round trip, timing, memory) is the codec's
(:mod:`wsztune.codecs`), which the sweep only knows through its interface: it hands a codec the
streams, the settings and a :class:`TimingPlan`, and receives cells.

Cells are visited in a seeded shuffled order, so that drift (heat, other load) spreads evenly over
the grid instead of favouring the first cells. Nothing here renders anything: progress is reported
through a callback.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from wsztune.axes import AXES
from wsztune.codecs import get_codec
from wsztune.codecs.base import CorpusSummary, TimingPlan, filed_fields, frame_header_size
from wsztune.corpus import CLIENT, Corpus, Stream
from wsztune.environment import describe_environment
from wsztune.errors import SettingError
from wsztune.fanout import FanOut, detect_fanout, run_fanout, run_fanout_k
from wsztune.permessage_deflate import Setting
from wsztune.results import (
    CODECS,
    ENVIRONMENT,
    SWEEP,
    THRESHOLD_ALWAYS,
    THRESHOLD_RULES,
    THRESHOLD_WITHOUT_TAKEOVER,
    Run,
    cell_setting_key,
    client_compression,
    planned_keys,
    set_meta,
    utc_now,
)
from wsztune.stats import messages_per_second
from wsztune.units import UnitLayout

# Kept importable from here: the CLI and the tests build plans, summaries and header counts.
__all__ = [
    "CorpusSummary",
    "SweepPlan",
    "SweepInterrupted",
    "TimingPlan",
    "frame_header_size",
    "run_sweep",
    "sweep",
]

DEFAULT_WINDOW_BITS = tuple(range(9, 16))
DEFAULT_MEM_LEVELS = tuple(range(1, 10))

@dataclass(frozen=True)
class ClientVariant:
    """One kind of client a sweep models (``--client``), as plain numbers.

    What its compressor is built with (``mem_level``, ``level``), and the window it really uses
    for each ``client_max_window_bits`` a server can grant (``windows``): a browser that offers
    no ``client_max_window_bits`` (Firefox) compresses at 15 bits whatever the server wants, so
    the server's decompressor needs the 15-bit window; Chromium uses at least 9. ``threshold``
    and ``threshold_rule``: the messages it sends uncompressed (Node ws: under 1024 B, only
    without context takeover). ``share``: its part of the connections in a mix. Made from a
    client profile by :meth:`of`.
    """

    name: str
    share: float = 1.0
    mem_level: int = 8
    level: int = -1
    windows: tuple[tuple[int, int], ...] = ()  # (granted, used); a window not listed is used as is
    threshold: int = 0
    threshold_rule: str = THRESHOLD_ALWAYS

    @classmethod
    def of(cls, client: Any, share: float = 1.0) -> ClientVariant:
        """The variant of a client profile (a ``wsztune.stacks.profile.Client``)."""
        windows = tuple((granted, client.window_for(granted)) for granted in range(8, 16))
        return cls(
            client.name, share, client.mem_level, client.level, windows,
            client.threshold, client.threshold_rule,
        )  # fmt: skip

    def threshold_for(self, context_takeover: bool) -> int:
        """The threshold this client applies to what it sends (ws's rule: none with takeover)."""
        if context_takeover and self.threshold_rule == THRESHOLD_WITHOUT_TAKEOVER:
            return 0
        return self.threshold

    def window_for(self, granted: int) -> int:
        """The window bits this client compresses with when the server grants ``granted``."""
        return dict(self.windows).get(granted, granted)

    def apply(self, setting: Setting) -> Setting:
        """``setting`` as this client makes it: its window, memLevel, level and threshold
        client-side."""
        return replace(
            setting,
            client_window_bits=self.window_for(setting.nominal_client_bits),
            client_mem_level=self.mem_level,
            client_level=self.level,
            client_threshold=self.threshold_for(setting.context_takeover),
        )

    def describe(self) -> dict[str, object]:
        """Plain metadata for a results file."""
        return {
            "name": self.name,
            "share": self.share,
            "mem_level": self.mem_level,
            "level": self.level,
            "windows": {str(granted): used for granted, used in self.windows},
            "threshold": self.threshold,
            "threshold_rule": self.threshold_rule,
        }


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep measures: the settings, the product of every axis (its cells), and the
    clients and threshold rule that shape them. Built from the run options or a stack's knobs."""

    window_bits: tuple[int, ...] = DEFAULT_WINDOW_BITS
    mem_levels: tuple[int, ...] = DEFAULT_MEM_LEVELS
    levels: tuple[int, ...] = (-1,)
    strategies: tuple[str, ...] = ("default",)
    context_takeover: tuple[bool, ...] = (True,)
    client_window_bits: int | None = None
    thresholds: tuple[int, ...] = (0,)
    # When a threshold applies: one of results.THRESHOLD_RULES, the stack's (``--server``).
    threshold_rule: str = THRESHOLD_ALWAYS
    # The clients (``--client``): none models them as today (the client compresses like the
    # server, at the server's client window); one or more (a mix, shares adding up to 1) gives
    # each cell's client direction their windows, memLevels and levels.
    clients: tuple[ClientVariant, ...] = ()
    # When not empty, only the cells whose (windowBits, memLevel, context takeover) is listed: a
    # stack whose modes fix the three together (``Stack.cells``) is swept over its modes only.
    only: tuple[tuple[int, int, bool], ...] = ()

    def __post_init__(self) -> None:
        if self.threshold_rule not in THRESHOLD_RULES:
            raise SettingError(f"threshold rule must be one of {', '.join(THRESHOLD_RULES)}")
        if self.clients and abs(sum(c.share for c in self.clients) - 1) > 1e-6:
            raise SettingError("the clients' shares must add up to 1")

    def settings(self) -> list[Setting]:
        """Every setting to measure, validated, in a stable order: one per cell, or with
        several clients one per cell and client (the same setting measured once)."""
        base = self.base_settings()
        if not self.clients:
            return base
        return list(dict.fromkeys(v.apply(s) for s in base for v in self.clients))

    def base_settings(self) -> list[Setting]:
        """Every cell's setting as the server is configured, before any client applies."""
        return [
            Setting(wb, ml, level, strategy, takeover, self.client_window_bits, threshold)
            for wb, ml, level, strategy, takeover, threshold in planned_keys(
                self.window_bits,
                self.mem_levels,
                self.levels,
                self.strategies,
                self.context_takeover,
                self.thresholds,
                self.threshold_rule,
                self.only,
            )
        ]

    def describe(self) -> dict[str, object]:
        """Plain metadata for a results file: each axis's values under its swept name."""
        values = {axis.swept: getattr(self, axis.swept) for axis in AXES.values()}
        return {
            **{name: list(v) if isinstance(v, tuple) else v for name, v in values.items()},
            "threshold_rule": self.threshold_rule,
            **({"clients": [c.describe() for c in self.clients]} if self.clients else {}),
            **({"only": [list(cell) for cell in self.only]} if self.only else {}),
        }


_RANGE_PART = re.compile(r"^\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?$")


def parse_thresholds(text: str) -> tuple[int, ...]:
    """Parse ``--threshold 0,1024`` (bytes, comma-separated) into sorted unique integers."""
    values: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit():
            raise SettingError(
                f"--threshold takes byte counts such as 0 or 0,1024, not {text!r}"
            )
        values.add(int(part))
    return tuple(sorted(values))


def parse_int_range(text: str, what: str, allowed: range) -> tuple[int, ...]:
    """Parse ``"9-15"``, ``"12"``, ``"9,12,15"`` or a mix into sorted unique integers."""
    values: set[int] = set()
    for part in text.split(","):
        match = _RANGE_PART.match(part)
        if match is None:
            raise SettingError(
                f"{what} takes numbers or ranges such as 9-15 or 9,12,15, not {text!r}"
            )
        low = int(match[1])
        high = int(match[2]) if match[2] is not None else low
        if low > high:
            raise SettingError(f"{what}: the range {part.strip()!r} is empty (write it low-high)")
        for value in (low, high):
            if value not in allowed:
                raise SettingError(
                    f"{what} must be within {allowed.start} to {allowed.stop - 1}, not {value}"
                )
        values.update(range(low, high + 1))
    return tuple(sorted(values))


# A mix of clients ---------------------------------------------------------------------------------

# Fields of a mixed cell that are each client's cell's, weighted by its share: what the client
# direction changes (its compressed bytes, the server's decompressor and its time). The server's
# compressor and what it sends are the same in every client's cell.
_MIXED_NUMBERS = (
    "compress_seconds",
    "compress_seconds_min",
    "compress_seconds_max",
    "compress_seconds_iqr",
    "decompress_seconds",
    "decompress_seconds_min",
    "decompress_seconds_max",
    "decompress_seconds_iqr",
    "decompress_memory_theoretical",
    "decompress_memory_observed",
    "decompress_memory_peak",
    "decompress_memory_resident",
    "connection_memory_theoretical",
    "connection_memory",
    "connection_memory_resident",
    "decompressor_share",
    "wire_compressed_bytes",
)


# A cell's fields that are its one client's own: a mixed cell lists them per client instead.
_CLIENT_OWN = ("client_mem_level", "client_level", "client_threshold")


# Each client's own resident figures, kept beside its allocation in a mixed cell's ``clients``.
_CLIENT_RESIDENT = ("decompress_memory_resident", "connection_memory_resident")


def _setting_key(setting: Setting, filed: dict[str, Any] | None = None) -> tuple:
    """The :func:`cell_setting_key` of the cell measured at ``setting``, the codec recording
    ``filed`` (:func:`wsztune.codecs.base.filed_fields`) where the setting says otherwise."""
    client = setting.sender(CLIENT)
    fields = {
        "window_bits": setting.window_bits,
        "mem_level": setting.mem_level,
        "level": setting.level,
        "strategy": setting.strategy,
        "context_takeover": setting.context_takeover,
        "threshold": setting.threshold,
        "client_window_bits": setting.nominal_client_bits,
        **(filed or {}),
        "client_mem_level": client.mem_level,
        "client_level": client.level,
        "client_threshold": client.threshold,
    }
    return cell_setting_key(fields)


def mix_cells(
    cells: Sequence[dict[str, Any]],
    grid: SweepPlan,
    filed: Callable[[Setting], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """One cell per server setting from the cells of each of ``grid.clients``, weighted by their
    shares (``--client chrome=0.7,firefox=0.3``): per-connection memory, the client direction's
    bytes and the server's decompression time are the mix's; what the server sends is the same
    for every client. A setting some client's cell is missing for (an interrupted sweep) is left
    out. Each mixed cell lists its clients' own figures under ``clients``. ``filed`` gives the
    fields the codec's cells record other than the setting says them
    (:func:`wsztune.codecs.base.filed_fields`: a Go cell has no memLevel, and the threshold its
    library applied)."""
    by_key = {cell_setting_key(cell): cell for cell in cells}
    mixed = []
    for base in grid.base_settings():
        parts = []
        for variant in grid.clients:
            setting = variant.apply(base)
            key = _setting_key(setting, filed(setting) if filed else None)
            parts.append((variant, by_key.get(key)))
        if all(cell is not None for _, cell in parts):
            mixed.append(_mixed_cell(base, parts))  # type: ignore[arg-type]
    return sorted(mixed, key=sort_key)


def _mixed_cell(
    base: Setting, parts: Sequence[tuple[ClientVariant, dict[str, Any]]]
) -> dict[str, Any]:
    first = parts[0][1]
    cell = {k: v for k, v in first.items() if k not in _CLIENT_OWN}
    cell["client_window_bits"] = base.nominal_client_bits  # what the server grants
    for name in _MIXED_NUMBERS:
        values = [part.get(name) for _, part in parts]
        if any(value is None for value in values):
            continue
        total = sum(v.share * value for (v, _), value in zip(parts, values, strict=True))
        cell[name] = round(total) if isinstance(first[name], int) else total
    cell["timing_unstable"] = any(part.get("timing_unstable") for _, part in parts) or (
        first.get("timing_unstable")
    )
    units = [part.get("unit_compressed_bytes") for _, part in parts]
    if all(unit is not None for unit in units):
        # Rounded per unit, and the totals summed from them: they must add up (results.py).
        weighted = [
            round(sum(v.share * unit[i] for (v, _), unit in zip(parts, units, strict=True)))
            for i in range(len(units[0]))  # type: ignore[index]
        ]
        cell["unit_compressed_bytes"] = weighted
        cell["compressed_bytes"] = sum(weighted)
    else:
        client = sum(v.share * part["client_compressed_bytes"] for v, part in parts)
        cell["compressed_bytes"] = cell["server_compressed_bytes"] + round(client)
    cell["client_compressed_bytes"] = cell["compressed_bytes"] - cell["server_compressed_bytes"]
    raw = cell["raw_bytes"]
    cell["savings"] = 1 - cell["compressed_bytes"] / raw if raw else 0.0
    if "compress_once" in first:
        cell["compress_once"] = _mixed_once(first, cell)
    cell["clients"] = [
        {
            "name": v.name,
            "share": v.share,
            "client_window_bits": part["client_window_bits"],
            **client_compression(part),
            "client_compressed_bytes": part["client_compressed_bytes"],
            "decompress_memory_observed": part["decompress_memory_observed"],
            "connection_memory": part["connection_memory"],
            # What the OS charges for this client's connection (the budget's default figure).
            **{name: part[name] for name in _CLIENT_RESIDENT if name in part},
        }
        for v, part in parts
    ]
    return cell


def _mixed_once(first: dict[str, Any], cell: dict[str, Any]) -> dict[str, Any]:
    """A compress-once mode beside a mixed cell: the server's frames are the same for every
    client; the clients' bytes on the wire and the memory per connection are the mix's."""
    once = dict(first["compress_once"])
    # The server's frames are the first client's; the clients' part moves to the mix's.
    once["wire_compressed_bytes"] += cell["wire_compressed_bytes"] - first["wire_compressed_bytes"]
    once["connection_memory"] = cell["connection_memory"]
    return once


class SweepInterrupted(Exception):
    """The sweep was stopped (Ctrl-C) before every cell was measured; carries the finished ones."""

    def __init__(self, cells: list[dict[str, object]], total: int) -> None:
        super().__init__(f"interrupted after {len(cells)} of {total} cells")
        self.cells = cells
        self.total = total
        self.run: Run | None = None


CellCallback = Callable[[dict[str, object], int, int], None]


def default_jobs() -> int:
    """Worker processes by default: every core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def sort_key(cell: dict[str, object]) -> tuple:
    """Stable cell order for results files: the grid's axes."""
    return (
        not cell["context_takeover"],
        cell["strategy"],
        cell["level"],
        cell.get("threshold", 0),
        cell["window_bits"],
        cell["mem_level"],
    )


def run_sweep(
    streams: Sequence[Stream],
    settings: Sequence[Setting],
    *,
    codec_name: str = "zlib",
    plan: TimingPlan | None = None,
    jobs: int = 1,
    seed: int = 0,
    on_cell: CellCallback | None = None,
) -> list[dict[str, object]]:
    """Measure every setting on the streams; cells come back in grid order.

    Sizes and memory are the same whatever ``jobs`` is; only timings feel the other workers.
    """
    plan = plan or TimingPlan()
    if jobs < 1:
        raise SettingError(f"--jobs must be at least 1, not {jobs}")
    order = list(settings)
    random.Random(seed).shuffle(order)
    total = len(order)
    cells: list[dict[str, object]] = []

    def finished(cell: dict[str, object]) -> None:
        cells.append(cell)
        if on_cell is not None:
            on_cell(cell, len(cells), total)

    codec = get_codec(codec_name)
    try:
        codec.measure(streams, order, plan, jobs, finished)
    except KeyboardInterrupt:
        raise SweepInterrupted(sorted(cells, key=sort_key), total) from None
    return sorted(cells, key=sort_key)


def sweep(
    corpus: Corpus,
    grid: SweepPlan,
    *,
    codec_name: str = "zlib",
    plan: TimingPlan | None = None,
    jobs: int = 1,
    seed: int = 0,
    on_cell: CellCallback | None = None,
    server: str | None = None,
    fanout: int | None = None,
    found_fanout: FanOut | None = None,
) -> Run:
    """Sweep ``grid`` over ``corpus`` and return the Run, metadata included (not yet saved).

    ``server`` names the stack tuned (``wsztune run --server``), recorded in the metadata.
    ``fanout`` (``--fanout K``) states how many connections each message goes to; without it the
    metadata's ``fanout`` is what the corpus shows (:mod:`wsztune.fanout`), when it can tell, or
    ``found_fanout`` when the caller found it first (on the whole corpus, before ``--sample`` kept
    some of its connections: a sample's broadcasts reach fewer of them).

    On Ctrl-C this raises :class:`SweepInterrupted` whose ``run`` holds the finished cells,
    marked partial, for the caller to keep or drop.
    """
    plan = plan or TimingPlan()
    codec = get_codec(codec_name)
    info = codec.describe()
    settings = grid.settings()
    # No more workers than cells: the metadata must say how the cells were really timed.
    jobs = max(1, min(jobs, len(settings)))
    started = utc_now()
    meta, plan = _run_meta(corpus, grid, info, plan, jobs, seed, started, server, fanout,
                           found_fanout)  # fmt: skip
    streams = corpus.streams()
    # The same layout CorpusSummary.of gives every cell: the units its sizes are aligned with.
    set_meta(meta, SWEEP, {"units": UnitLayout.of(streams).describe()})
    mixed = len(grid.clients) > 1

    def filed(setting: Setting) -> dict[str, Any]:
        return filed_fields(codec, setting)

    try:
        cells = run_sweep(
            streams,
            settings,
            codec_name=codec_name,
            plan=plan,
            jobs=jobs,
            seed=seed,
            on_cell=on_cell,
        )
    except SweepInterrupted as interrupted:
        if mixed:
            interrupted.cells = mix_cells(interrupted.cells, grid, filed)
        interrupted.run = _finish(meta, started, interrupted.cells, grid, partial=True)
        raise
    return _finish(meta, started, mix_cells(cells, grid, filed) if mixed else cells, grid,
                   partial=False)  # fmt: skip


def _run_meta(
    corpus: Corpus,
    grid: SweepPlan,
    info: Any,
    plan: TimingPlan,
    jobs: int,
    seed: int,
    started: Any,
    server: str | None,
    fanout: int | None,
    found_fanout: FanOut | None,
) -> tuple[dict[str, Any], TimingPlan]:
    """The run's metadata before its cells, and the plan with the broadcasts' fan-out."""
    meta: dict[str, Any] = {}
    set_meta(meta, ENVIRONMENT, describe_environment(info))
    corpus_meta = corpus.describe()
    rate = messages_per_second(corpus)
    if rate is not None:  # optional: only corpora whose records carry "t" have a rate
        corpus_meta["messages_per_second"] = rate
    set_meta(
        meta,
        SWEEP,
        {
            "started_at": started.isoformat(timespec="seconds"),
            "corpus": corpus_meta,
            "grid": grid.describe(),
            "timing": _timing_meta(plan, info.clock, jobs, seed),
            "seed": seed,
            "partial": False,
        },
    )
    broadcasts = run_fanout(found_fanout or detect_fanout(corpus), fanout)
    if broadcasts is not None:
        set_meta(meta, SWEEP, {"fanout": broadcasts})
        plan = replace(plan, fanout=run_fanout_k(broadcasts) or 1)
    if server is not None:
        # The stack tuned: which snippet this run may be trusted for.
        set_meta(meta, SWEEP, {"server": server})
    if plan.read_buffer:
        # The resident figures include the stack's read buffer: reading the run as another
        # stack's (recommend --server) must know it.
        set_meta(meta, SWEEP, {"read_buffer": plan.read_buffer})
    if grid.clients:
        # The clients modelled (``--client``): "firefox", or "chrome=0.7,firefox=0.3".
        client = (
            grid.clients[0].name
            if len(grid.clients) == 1
            else ",".join(f"{c.name}={c.share:g}" for c in grid.clients)
        )
        set_meta(meta, SWEEP, {"client": client})
    set_meta(meta, CODECS, info.meta)  # what the codec records of itself (node's versions, ...)
    return meta, plan


def _finish(
    meta: dict[str, Any], started: Any, cells: list[dict[str, Any]], grid: SweepPlan,
    partial: bool,
) -> Run:
    """The Run of ``cells``, its metadata closed: when it finished, how many cells, partial."""
    finished = utc_now()
    set_meta(
        meta,
        SWEEP,
        {
            "finished_at": finished.isoformat(timespec="seconds"),
            "duration_seconds": round((finished - started).total_seconds(), 3),
            "cells": len(cells),
            "cells_planned": len(grid.base_settings()),
            "partial": partial,
        },
    )
    return Run(meta, cells)


def _timing_meta(plan: TimingPlan, clock: str, jobs: int, seed: int) -> dict[str, Any]:
    """The run's ``timing`` metadata: how the cells were timed, or that they were not."""
    if not plan.measure_time:
        return {
            "measured": False,
            "jobs": jobs,
            "order": f"shuffled, seed {seed}",
            "note": "time was not measured (--no-timing): sizes and memory only, every "
            "time field of the cells is null",
        }
    return {
        "measured": True,
        "repeat": plan.repeat,
        "warmup": plan.warmup,
        "min_sample_seconds": plan.min_sample_seconds,
        "clock": clock,
        "jobs": jobs,
        "order": f"shuffled, seed {seed}",
        "note": (
            "cells were timed one at a time"
            if jobs == 1
            else f"cells were timed {jobs} at a time in parallel processes: compare "
            "times between cells of this run, not absolute times with other runs"
        ),
    }
