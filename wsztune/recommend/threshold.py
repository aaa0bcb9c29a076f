"""Which message-size threshold to use at the chosen setting, when the run swept several."""

from __future__ import annotations

from dataclasses import dataclass

from wsztune.grid import Cell, Slice, cell_key
from wsztune.recommend.words import option_percent
from wsztune.text import label, plural


@dataclass(frozen=True)
class ThresholdAdvice:
    """Which threshold to use for the chosen setting, and what it trades."""

    threshold: int  # the one to use
    lines: list[str]  # one per threshold measured, and why


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
        f"{option_percent(tolerance)} of the smallest (--tolerance); a larger threshold saves "
        "compress calls (CPU) on short messages and costs their compression",
    )
    return ThresholdAdvice(pick, lines)
