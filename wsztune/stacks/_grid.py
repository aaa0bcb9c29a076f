"""The grid a stack's knobs span: what ``wsztune run --server NAME`` sweeps."""

from __future__ import annotations

from typing import Any

from wsztune.axes import AXES
from wsztune.errors import WsztuneError
from wsztune.stacks.profile import SWEPT_MEM_LEVELS, SWEPT_WINDOW_BITS, Stack


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


# The sweep's usual range of the axes a stack's knob may cut.
_USUAL = {"window_bits": SWEPT_WINDOW_BITS, "mem_level": SWEPT_MEM_LEVELS}


def sweep_axes(
    stack: Stack, version: str | None, explicit: dict[str, tuple[Any, ...]]
) -> dict[str, Any]:
    """Per axis, the values a sweep of ``stack`` covers: its knobs' ranges (or what the user
    gave in ``explicit``), every other axis fixed at the stack's value. The default cells of its
    alternatives that share its codec and level are added, so that recommend can quote them.

    A value given for an axis the stack fixes, or outside a knob's range, is a usage error.
    Returns the sweep plan's axes by their swept names (:data:`wsztune.axes.AXES`):
    ``window_bits``, ``mem_levels``, ``levels``, ``strategies``, ``context_takeover`` (tuples),
    ``client_window_bits`` (int or None), ``thresholds`` (tuple), and ``only`` (the stack's
    ``cells``: empty, or the (windowBits, memLevel, takeover) cells to keep).
    """
    values = {axis: _axis_values(stack, version, axis, explicit.get(axis)) for axis in AXES}
    values.update(_mode_axes(stack, explicit))
    windows, levels_ = set(values["window_bits"]), set(values["mem_level"])
    for pair in alternative_pairs(stack, version):
        windows.add(pair[0])
        levels_.add(pair[1])
    values["window_bits"], values["mem_level"] = tuple(sorted(windows)), tuple(sorted(levels_))
    values["threshold"] = tuple(sorted(set(values["threshold"])))
    client = _client_window(stack, version, values["client_window_bits"], explicit)
    return {
        **{AXES[axis].swept: value for axis, value in values.items()},
        "client_window_bits": client,
        # A stack whose modes fix window, memLevel and takeover together: only those cells.
        "only": stack.cells,
    }


def _axis_values(
    stack: Stack, version: str | None, axis: str, given: tuple[Any, ...] | None
) -> tuple[Any, ...]:
    """The values of one axis: the user's (checked against the knob), the knob's usual range,
    or the stack's fixed value (a different value asked for is an error)."""
    knob = stack.knob(axis)
    fixed = getattr(stack.defaults_for(version), axis)  # client_window_bits None: the server's
    option, words = AXES[axis].option, AXES[axis].words
    if knob is None:
        if given is not None and any(value != fixed for value in given):
            why = stack.fixed.get(axis, "")
            shown = "the server's window" if fixed is None else _show(fixed)
            raise WsztuneError(
                f"{option}: {stack.title} cannot set {words}: it is fixed at "
                f"{shown}" + (f" ({why})" if why else "") + f"; drop {option}, or "
                "drop --server to sweep it anyway"
            )
        return (fixed,)
    if given is not None:
        outside = [v for v in given if v not in knob.values]
        if outside and axis != "threshold":  # any threshold in bytes is a value
            raise WsztuneError(
                f"{option}: {stack.title}'s {knob.name} takes "
                f"{knob.describe_values()}, not {', '.join(map(_show, outside))}"
            )
        return tuple(given)
    if axis in _USUAL and not stack.pairs:
        return stack.axis_values(axis, _USUAL[axis], version)
    return (fixed,)


def _mode_axes(stack: Stack, explicit: dict[str, tuple[Any, ...]]) -> dict[str, tuple[Any, ...]]:
    """The window, memLevel (and takeover) values of a stack that offers fixed pairs or modes
    only, unless the user named them."""
    axes: dict[str, tuple[Any, ...]] = {}
    named = "window_bits" in explicit or "mem_level" in explicit
    if stack.pairs and not named:
        axes["window_bits"] = tuple(sorted({wb for wb, _ in stack.pairs}))
        axes["mem_level"] = tuple(sorted({ml for _, ml in stack.pairs}))
    if stack.cells:
        # Its modes are the cells: sweep every one of them (the shared mode and the presets).
        if not named:
            axes["window_bits"] = tuple(sorted({wb for wb, _, _ in stack.cells}))
            axes["mem_level"] = tuple(sorted({ml for _, ml, _ in stack.cells}))
        if "context_takeover" not in explicit:
            axes["context_takeover"] = tuple(
                sorted({takeover for _, _, takeover in stack.cells}, reverse=True)
            )
    return axes


def _client_window(
    stack: Stack,
    version: str | None,
    client: tuple[Any, ...],
    explicit: dict[str, tuple[Any, ...]],
) -> int | None:
    """The client's window bits: one value, or None to follow the window axis."""
    if (
        client == (stack.defaults_for(version).window_bits,)
        and "client_window_bits" not in explicit
        and not stack.cells  # its modes fix the client's window whatever the server's (Bun)
    ):
        # The client's window equals the server's: let it follow the window axis, so that the
        # alternatives' cells (15:8 beside uvicorn's 12:5) get theirs too.
        client = (None,)
    return None if len(client) != 1 else client[0]


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
