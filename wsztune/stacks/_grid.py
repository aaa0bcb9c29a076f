"""The grid a stack's knobs span: what ``wsztune run --server NAME`` sweeps."""

from __future__ import annotations

from typing import Any

from wsztune.errors import WsztuneError
from wsztune.stacks.profile import SWEPT_MEM_LEVELS, SWEPT_WINDOW_BITS, Stack

# The run options of each axis, for messages.
OPTIONS = {
    "window_bits": "--window-bits",
    "mem_level": "--mem-level",
    "level": "--level",
    "strategy": "--strategy",
    "context_takeover": "--context-takeover",
    "client_window_bits": "--client-window-bits",
    "threshold": "--threshold",
}
_WORDS = {
    "window_bits": "windowBits",
    "mem_level": "memLevel",
    "level": "level",
    "strategy": "strategy",
    "context_takeover": "context takeover",
    "client_window_bits": "the client's window bits",
    "threshold": "threshold",
}


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def sweep_axes(
    stack: Stack, version: str | None, explicit: dict[str, tuple[Any, ...]]
) -> dict[str, Any]:
    """Per axis, the values a sweep of ``stack`` covers: its knobs' ranges (or what the user
    gave in ``explicit``), every other axis fixed at the stack's value. The default cells of its
    alternatives that share its codec and level are added, so that recommend can quote them.

    A value given for an axis the stack fixes, or outside a knob's range, is a usage error.
    Returns ``window_bits``, ``mem_levels``, ``levels``, ``strategies``, ``context_takeover``
    (tuples), ``client_window_bits`` (int or None), ``thresholds`` (tuple) and ``only`` (the
    stack's ``cells``: empty, or the (windowBits, memLevel, takeover) cells to keep).
    """
    defaults = stack.defaults_for(version)
    values: dict[str, tuple[Any, ...]] = {}
    usual = {
        "window_bits": SWEPT_WINDOW_BITS,
        "mem_level": SWEPT_MEM_LEVELS,
    }
    for axis in OPTIONS:
        knob = stack.knob(axis)
        given = explicit.get(axis)
        fixed = getattr(defaults, axis)
        if axis == "client_window_bits" and fixed is None:
            fixed = None  # the same as the server's window
        if knob is None:
            if given is not None and any(value != fixed for value in given):
                why = stack.fixed.get(axis, "")
                shown = "the server's window" if fixed is None else _show(fixed)
                raise WsztuneError(
                    f"{OPTIONS[axis]}: {stack.title} cannot set {_WORDS[axis]}: it is fixed at "
                    f"{shown}" + (f" ({why})" if why else "") + f"; drop {OPTIONS[axis]}, or "
                    "drop --server to sweep it anyway"
                )
            values[axis] = (fixed,)
            continue
        if given is not None:
            outside = [v for v in given if v not in knob.values]
            if outside and axis != "threshold":  # any threshold in bytes is a value
                raise WsztuneError(
                    f"{OPTIONS[axis]}: {stack.title}'s {knob.name} takes "
                    f"{knob.describe_values()}, not {', '.join(map(_show, outside))}"
                )
            values[axis] = tuple(given)
        elif axis in usual and not stack.pairs:
            values[axis] = stack.axis_values(axis, usual[axis], version)
        else:
            values[axis] = (fixed,)
    if stack.pairs and "window_bits" not in explicit and "mem_level" not in explicit:
        values["window_bits"] = tuple(sorted({wb for wb, _ in stack.pairs}))
        values["mem_level"] = tuple(sorted({ml for _, ml in stack.pairs}))
    if stack.cells:
        # Its modes are the cells: sweep every one of them (the shared mode and the presets).
        if "window_bits" not in explicit and "mem_level" not in explicit:
            values["window_bits"] = tuple(sorted({wb for wb, _, _ in stack.cells}))
            values["mem_level"] = tuple(sorted({ml for _, ml, _ in stack.cells}))
        if "context_takeover" not in explicit:
            values["context_takeover"] = tuple(
                sorted({takeover for _, _, takeover in stack.cells}, reverse=True)
            )
    windows, levels_ = set(values["window_bits"]), set(values["mem_level"])
    for pair in alternative_pairs(stack, version):
        windows.add(pair[0])
        levels_.add(pair[1])
    client = values["client_window_bits"]
    if (
        client == (defaults.window_bits,)
        and "client_window_bits" not in explicit
        and not stack.cells  # its modes fix the client's window whatever the server's (Bun)
    ):
        # The client's window equals the server's: let it follow the window axis, so that the
        # alternatives' cells (15:8 beside uvicorn's 12:5) get theirs too.
        client = (None,)
    return {
        "window_bits": tuple(sorted(windows)),
        "mem_levels": tuple(sorted(levels_)),
        "levels": values["level"],
        "strategies": values["strategy"],
        "context_takeover": values["context_takeover"],
        "client_window_bits": None if len(client) != 1 else client[0],
        "thresholds": tuple(sorted(set(values["threshold"]))),
        # A stack whose modes fix window, memLevel and takeover together: only those cells.
        "only": stack.cells,
    }


def alternative_pairs(stack: Stack, version: str | None) -> list[tuple[int, int]]:
    """Default (windowBits, memLevel) of the alternatives measured along with ``stack``: those of
    the same codec and level, whose default differs (another uvicorn backend)."""
    from wsztune.stacks import STACKS

    own = stack.defaults_for(version)
    pairs = []
    for name in stack.alternatives_for(version):
        other = STACKS.get(name)
        if other is None or other.codec != stack.codec_for(version):
            continue
        theirs = other.defaults
        if theirs.level == own.level and other.default_pair() != stack.default_pair(version):
            pairs.append(other.default_pair())
    return pairs
