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
from dataclasses import dataclass
from typing import Any

from wsztune.codec import Setting
from wsztune.codecs import get_codec
from wsztune.codecs.base import CorpusSummary, TimingPlan, frame_header_size
from wsztune.corpus import Corpus, Stream
from wsztune.environment import describe_environment
from wsztune.errors import SettingError
from wsztune.results import Run, utc_now
from wsztune.stats import messages_per_second
from wsztune.units import UnitLayout

# Kept importable from here: the CLI and the tests build plans, summaries and header counts.
__all__ = [
    "CorpusSummary",
    "Grid",
    "SweepInterrupted",
    "TimingPlan",
    "frame_header_size",
    "run_sweep",
    "sweep",
]

DEFAULT_WINDOW_BITS = tuple(range(9, 16))
DEFAULT_MEM_LEVELS = tuple(range(1, 10))
THRESHOLD_RULES = ("always", "ws")

@dataclass(frozen=True)
class Grid:
    """The settings to sweep: the product of every axis."""

    window_bits: tuple[int, ...] = DEFAULT_WINDOW_BITS
    mem_levels: tuple[int, ...] = DEFAULT_MEM_LEVELS
    levels: tuple[int, ...] = (-1,)
    strategies: tuple[str, ...] = ("default",)
    context_takeover: tuple[bool, ...] = (True,)
    client_window_bits: int | None = None
    thresholds: tuple[int, ...] = (0,)
    # When a threshold applies: "always" (a message under it is never compressed), or "ws": only
    # without context takeover, as ws's Sender decides (lib/sender.js: with takeover on, ws
    # compresses every message whatever its threshold option says).
    threshold_rule: str = "always"

    def __post_init__(self) -> None:
        if self.threshold_rule not in THRESHOLD_RULES:
            raise SettingError(f"threshold rule must be one of {', '.join(THRESHOLD_RULES)}")

    def settings(self) -> list[Setting]:
        """Every cell's setting, validated, in a stable order."""
        out = []
        for takeover in self.context_takeover:
            thresholds = self.thresholds
            if takeover and self.threshold_rule == "ws":
                thresholds = (0,)  # ws ignores its threshold with context takeover
            out += [
                Setting(wb, ml, level, strategy, takeover, self.client_window_bits, threshold)
                for threshold in thresholds
                for strategy in self.strategies
                for level in self.levels
                for wb in self.window_bits
                for ml in self.mem_levels
            ]
        return out

    def describe(self) -> dict[str, object]:
        """Plain metadata for a results file."""
        return {
            "window_bits": list(self.window_bits),
            "mem_levels": list(self.mem_levels),
            "levels": list(self.levels),
            "strategies": list(self.strategies),
            "context_takeover": list(self.context_takeover),
            "client_window_bits": self.client_window_bits,
            "thresholds": list(self.thresholds),
            "threshold_rule": self.threshold_rule,
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
    backend_name: str = "zlib",
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

    codec = get_codec(backend_name)
    try:
        codec.measure(streams, order, plan, jobs, finished)
    except KeyboardInterrupt:
        raise SweepInterrupted(sorted(cells, key=sort_key), total) from None
    return sorted(cells, key=sort_key)


def sweep(
    corpus: Corpus,
    grid: Grid,
    *,
    backend_name: str = "zlib",
    plan: TimingPlan | None = None,
    jobs: int = 1,
    seed: int = 0,
    on_cell: CellCallback | None = None,
    server: str | None = None,
) -> Run:
    """Sweep ``grid`` over ``corpus`` and return the Run, metadata included (not yet saved).

    ``server`` names the stack tuned (``wsztune run --server``), recorded in the metadata.

    On Ctrl-C this raises :class:`SweepInterrupted` whose ``run`` holds the finished cells,
    marked partial, for the caller to keep or drop.
    """
    plan = plan or TimingPlan()
    info = get_codec(backend_name).describe()
    settings = grid.settings()
    # No more workers than cells: the metadata must say how the cells were really timed.
    jobs = max(1, min(jobs, len(settings)))
    started = utc_now()
    meta: dict[str, Any] = {
        **describe_environment(info),
        "started_at": started.isoformat(timespec="seconds"),
        "corpus": corpus.describe(),
        "grid": grid.describe(),
        "timing": (
            {
                "measured": True,
                "repeat": plan.repeat,
                "warmup": plan.warmup,
                "min_sample_seconds": plan.min_sample_seconds,
                "clock": info.clock,
                "jobs": jobs,
                "order": f"shuffled, seed {seed}",
                "note": (
                    "cells were timed one at a time"
                    if jobs == 1
                    else f"cells were timed {jobs} at a time in parallel processes: compare "
                    "times between cells of this run, not absolute times with other runs"
                ),
            }
            if plan.measure_time
            else {
                "measured": False,
                "jobs": jobs,
                "order": f"shuffled, seed {seed}",
                "note": "time was not measured (--no-timing): sizes and memory only, every "
                "time field of the cells is null",
            }
        ),
        "seed": seed,
        "partial": False,
    }
    rate = messages_per_second(corpus)
    if rate is not None:  # optional: only corpora whose records carry "t" have a rate
        meta["corpus"]["messages_per_second"] = rate
    if server is not None:
        meta["server"] = server  # the stack tuned: which snippet this run may be trusted for
    meta.update(info.meta)  # what the codec records of itself (node's versions, its memory method)
    streams = corpus.streams()
    # The same layout CorpusSummary.of gives every cell: the units its sizes are aligned with.
    meta["units"] = UnitLayout.of(streams).describe()

    def finish(cells: list[dict[str, Any]], partial: bool) -> Run:
        finished = utc_now()
        meta.update(
            finished_at=finished.isoformat(timespec="seconds"),
            duration_seconds=round((finished - started).total_seconds(), 3),
            cells=len(cells),
            cells_planned=len(settings),
            partial=partial,
        )
        return Run(meta, cells)

    try:
        cells = run_sweep(
            streams,
            settings,
            backend_name=backend_name,
            plan=plan,
            jobs=jobs,
            seed=seed,
            on_cell=on_cell,
        )
    except SweepInterrupted as interrupted:
        interrupted.run = finish(interrupted.cells, partial=True)
        raise
    return finish(cells, partial=False)
