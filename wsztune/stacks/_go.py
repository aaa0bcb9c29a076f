"""What the Go stacks share: Go's flate has no windowBits, memLevel or strategy, and a sweep of a
Go codec covers the axes of the library whose framing it reproduces.

A Go codec (``go-gorilla``, ``go-coder``, ``go-nats``) reproduces one library's framing; that
library is a stack here (gorilla, coder, nats), whose knobs say what a run sweeps: gorilla's level
(-2 to 9), coder's takeover mode (both unless told), nats-server nothing but its fixed cell.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wsztune.axes import AXES
from wsztune.errors import WsztuneError
from wsztune.stacks.profile import Stack

# The stack whose library each Go codec reproduces (``--codec go`` alone is gorilla's).
LIBRARY_STACKS = {"go-gorilla": "gorilla", "go-coder": "coder", "go-nats": "nats"}
# Go's compress/flate levels: -2 Huffman only, -1 default (6), 0-9.
LEVELS = range(-2, 10)
# One (window, memLevel) pair stands for Go's fixed ones; the cells record 15 and none.
GRID_WINDOW_BITS = 15
GRID_MEM_LEVEL = 8
# The axes that do not exist in Go's flate.
NO_SUCH_AXIS = ("window_bits", "mem_level", "strategy", "client_window_bits")
_NATS_FIXED = (
    "nats-server has no level or takeover setting (BestSpeed, no context takeover): "
    "drop --level and --context-takeover"
)
# What each library answers when asked to move an axis it fixes.
_REFUSALS = {
    ("coder", "level"): "coder 1.8.7 has no compression level: drop --level",
    ("gorilla", "context_takeover"): (
        "gorilla compresses without context takeover only: drop --context-takeover"
    ),
    ("nats", "level"): _NATS_FIXED,
    ("nats", "context_takeover"): _NATS_FIXED,
}


def library_axes(
    library: Stack,
    codec: str,
    typed: dict[str, Any],
    parse_levels: Callable[[range], tuple[int, ...]],
) -> dict[str, tuple[Any, ...]]:
    """The sweep axes of a Go run measured with ``codec``: the ``library`` stack's real axes.

    ``typed``: the axes the user typed (axis -> value; ``context_takeover`` as a tuple of
    modes); ``parse_levels`` reads ``--level`` within the range it is given. Asking for an axis
    Go's flate does not have, or one the library fixes, is an error that says what to drop.
    Returns ``window_bits``, ``mem_levels``, ``levels`` and ``context_takeover``.
    """
    for axis in NO_SUCH_AXIS:
        if axis in typed:
            raise WsztuneError(
                f"{AXES[axis].option} does not exist in Go's flate ({codec}): its window is "
                "always 32 KiB and it has no memLevel or strategy; sweep --level, "
                "--context-takeover and --threshold"
            )
    defaults = library.defaults
    level_knob, takeover_knob = library.knob("level"), library.knob("context_takeover")
    levels = parse_levels(LEVELS) if "level" in typed else None
    if level_knob is None:
        _refuse_fixed(library, "level", levels, defaults.level)
        levels = (defaults.level,)
    modes = typed.get("context_takeover")
    if takeover_knob is None:
        _refuse_fixed(library, "context_takeover", modes, defaults.context_takeover)
        modes = (defaults.context_takeover,)
    return {
        "window_bits": (GRID_WINDOW_BITS,),
        "mem_levels": (GRID_MEM_LEVEL,),
        "levels": levels or tuple(level_knob.values),
        "context_takeover": modes or tuple(takeover_knob.values),
    }


def _refuse_fixed(library: Stack, axis: str, asked: tuple[Any, ...] | None, fixed: Any) -> None:
    """A fixed axis asked for at another value than the library's is an error."""
    if asked is not None and asked != (fixed,):
        raise WsztuneError(_REFUSALS[(library.name, axis)])
