"""How a run's numbers and cells read in words: sizes, labels, counts, captions.

Every renderer (table, report, plots, recommend's prose, the CLI) and the stacks' snippets share
these, so that a size or a cell reads the same everywhere. A leaf: it imports nothing of wsztune's
but the console's escaping and the axis-name table, so that the grid model and the stacks can both
use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wsztune.axes import AXES
from wsztune.console import terminal_text

OFF = "off"  # the label of the row of no compression


def format_bytes(value: float) -> str:
    """Human-readable bytes with binary units: ``317.7 KiB``."""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def label(key: tuple[int, int] | dict[str, Any]) -> str:
    """``WB:ML`` of a cell or a ``(wb, ml)`` pair, as users type it; ``off`` for the row of no
    compression."""
    if isinstance(key, dict):
        if key.get("compression") is False:
            return OFF
        return f"{key['window_bits']}:{key['mem_level']}"
    if key[0] == 0:  # the key of the row of no compression (off_cell): no window is 0
        return OFF
    return f"{key[0]}:{key[1]}"


def plural(count: int, singular: str, plural_form: str | None = None, *, show: bool = True) -> str:
    """``1 cell``, ``2 cells``; ``plural(n, "was", "were", show=False)`` for the verb alone."""
    word = singular if count == 1 else (plural_form or f"{singular}s")
    return f"{count:,} {word}" if show else word


def describe_values(values: Sequence[int]) -> str:
    """``9-13`` for a contiguous run of integers, else ``9,12,15``."""
    values = sorted(values)
    if not values:
        return "none"
    if len(values) > 2 and values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}-{values[-1]}"
    return ",".join(str(value) for value in values)


def corpus_caption(run: Any) -> str:
    """``websockets-commits: 1,837 messages, 2.3 MiB``."""
    corpus = run.meta.get("corpus", {})
    name = terminal_text(corpus.get("name") or "corpus")
    messages = corpus.get("messages")
    raw = corpus.get("raw_bytes")
    if messages is None or raw is None:
        return str(name)
    return f"{name}: {messages:,} messages, {format_bytes(raw)}"


NOT_MEASURED = "not measured"
# In a grid cell, where "not measured" would not fit 80 columns; a note under the grid says it.
NOT_MEASURED_MARK = "n/m"
NOT_MEASURED_NOTE = (
    f"{NOT_MEASURED_MARK} = not measured: the run was made with --no-timing (sizes and memory only)"
)


def format_ms(seconds: float | None) -> str:
    """Milliseconds with the digits that matter (``0.42``, ``34.0``, ``215``), or
    ``not measured``."""
    if seconds is None:
        return NOT_MEASURED
    ms = seconds * 1000
    if ms < 1:
        return f"{ms:.2f}"
    if ms < 100:
        return f"{ms:.1f}"
    return f"{ms:.0f}"


def ms_text(seconds: float | None) -> str:
    """``34.0 ms``, or ``not measured``."""
    return NOT_MEASURED if seconds is None else f"{format_ms(seconds)} ms"


def axes_label(cell: dict[str, Any], axes: Sequence[str]) -> str:
    """``level 1, threshold 0 B`` or ``takeover on, threshold 128 B``: a cell on its axes."""
    parts = []
    for axis in axes:
        value = cell.get(axis, 0)
        if axis == "context_takeover":
            parts.append(f"takeover {'on' if value else 'off'}")
        elif axis == "threshold":
            parts.append(f"threshold {value} B")
        else:
            parts.append(f"{AXES[axis].title if axis in AXES else axis} {value}")
    return ", ".join(parts)
