"""The axes a sweep spans, named once: a cell's field, the sweep plan's list, the run option, the
words in a sentence and the short title of a column.

The sweep (:class:`wsztune.sweep.SweepPlan` and the run's ``meta.grid``), the stacks (a knob's
axis, the options a stack refuses), the grid model's labels and the CLI all read their names from
:data:`AXES`, so that one axis is never spelled four ways. A leaf: it imports nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Axis:
    """One axis of the settings a sweep spans."""

    name: str  # a cell's, a Setting's and a stack knob's word: "mem_level"
    swept: str  # the sweep plan's field and meta.grid's key, its values: "mem_levels"
    option: str  # the ``wsztune run`` option that sets it: "--mem-level"
    words: str  # in a sentence: "memLevel"
    title: str  # a column or a cell label: "takeover"


# In the order of meta.grid (results files keep it).
AXES: dict[str, Axis] = {
    axis.name: axis
    for axis in (
        Axis("window_bits", "window_bits", "--window-bits", "windowBits", "windowBits"),
        Axis("mem_level", "mem_levels", "--mem-level", "memLevel", "memLevel"),
        Axis("level", "levels", "--level", "level", "level"),
        Axis("strategy", "strategies", "--strategy", "strategy", "strategy"),
        Axis(
            "context_takeover",
            "context_takeover",
            "--context-takeover",
            "context takeover",
            "takeover",
        ),
        Axis(
            "client_window_bits",
            "client_window_bits",
            "--client-window-bits",
            "the client's window bits",
            "client windowBits",
        ),
        Axis("threshold", "thresholds", "--threshold", "threshold", "threshold"),
    )
}
