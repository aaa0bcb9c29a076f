"""Memory at the peak of concurrent writes, beside the steady state.

A Go server keeps little per connection between messages (gorilla: nothing but its buffers),
but every message being compressed holds a compressor: gorilla takes a ``flate.Writer`` (785 KiB
to 1.1 MiB of heap, by level) from a ``sync.Pool`` per write, coder without context takeover one
per write too. A cell measures that as ``compress_memory_peak``, per concurrent write. So a fleet
needs, at its peak::

    connections x connection_memory + concurrent writes x compress_memory_peak

and, with compress-once (gorilla's ``PreparedMessage``, where subscribers' writes send ready
frames and hold no compressor)::

    connections x connection_memory + broadcasts in flight x shared_memory

How many writes are in flight is stated with ``--concurrent-writes N`` (measured on your
server, e.g. the size of gorilla's pool at peak) or, failing that, ESTIMATED (never measured):

- a broadcast to K subscribers starts K writes at once (Go servers write each subscriber from
  its own goroutine: gorilla's chat example, Centrifugo): at most K in flight, an upper bound
  (the writes of small messages that find a free core finish before others start; slow readers
  and messages over the 4 KiB write buffer hold theirs through the network write);
- Little's law: writes in flight on average = writes per second x seconds each holds its
  compressor (the cell's compress time per message), i.e. the vCPUs busy compressing;
  broadcasts that overlap raise the peak above K only when this exceeds K;

so ``min(connections, max(K, ceil(rate x compress seconds per message)))``, and for
compress-once ``max(1, ceil(writes / K))`` broadcasts in flight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

STATED = "--concurrent-writes"
ESTIMATED = "estimate"


@dataclass(frozen=True)
class WriteLoad:
    """How many writes (and broadcasts) are in flight at the peak, and where the figure came
    from: ``source`` is ``--concurrent-writes`` or ``estimate``; ``how`` says it in words."""

    writes: int
    broadcasts: int  # compress-once: broadcasts being prepared at once
    source: str
    how: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for ``--json``."""
        return {
            "writes": self.writes,
            "broadcasts": self.broadcasts,
            "source": self.source,
            "estimated": self.source == ESTIMATED,
            "how": self.how,
        }


def seconds_per_write(cell: dict[str, Any]) -> float | None:
    """The cell's compress time per server message (its server share by raw bytes), the time a
    write holds its compressor; ``None`` in a ``--no-timing`` run."""
    seconds = cell.get("compress_seconds")
    if seconds is None or not cell.get("messages") or not cell.get("raw_bytes"):
        return None
    return float(seconds) * cell["server_raw_bytes"] / cell["raw_bytes"] / cell["messages"]


def write_load(
    connections: int,
    fanout: int | None,
    rate: float | None,
    hold_seconds: float | None,
    stated: int | None = None,
) -> WriteLoad | None:
    """Writes in flight at the peak: ``stated`` (``--concurrent-writes``), else the estimate of
    the module docstring from the fan-out ``fanout`` and ``rate`` messages per second over the
    fleet (``hold_seconds``: :func:`seconds_per_write`); ``None`` when neither is known."""
    per_broadcast = max(1, fanout or 1)
    if stated is not None:
        writes = stated
        how = f"{writes:,} concurrent writes (stated with --concurrent-writes)"
        return WriteLoad(writes, max(1, math.ceil(writes / per_broadcast)), STATED, how)
    average = None if rate is None or hold_seconds is None else rate * hold_seconds
    if (fanout is None or fanout < 2) and average is None:
        return None
    parts = []
    writes = 1
    if fanout is not None and fanout >= 2:
        writes = fanout
        parts.append(f"a broadcast to {fanout:,} subscribers starts {fanout:,} writes at once")
    if average is not None:
        parts.append(
            f"Little's law: {rate:,.0f} messages/s x {hold_seconds * 1e6:,.1f} us of "
            f"compression each = {average:,.2f} in flight on average"
        )
        writes = max(writes, math.ceil(average))
    writes = max(1, min(connections, writes))
    how = (
        f"ESTIMATED {writes:,} concurrent writes (an upper bound, not measured: "
        + "; ".join(parts)
        + f"; at most the {connections:,} connections); state yours with --concurrent-writes N"
    )
    return WriteLoad(writes, max(1, math.ceil(writes / per_broadcast)), ESTIMATED, how)


@dataclass(frozen=True)
class Peak:
    """A cell's fleet memory: steady (between messages) and at the peak of concurrent writes."""

    steady: int  # connections x connection_memory
    per_write: int  # compress_memory_peak
    writes: int
    peak: int  # steady + writes x per_write

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for ``--json``."""
        return {
            "steady": self.steady,
            "per_write": self.per_write,
            "writes": self.writes,
            "peak": self.peak,
        }


def peak_memory(cell: dict[str, Any], connections: int, load: WriteLoad) -> Peak | None:
    """Per-connection compression: ``connections`` keep ``connection_memory``, ``load.writes``
    writes hold ``compress_memory_peak`` each. ``None`` for a cell without that figure or with
    compression off (nothing is compressed, nothing held)."""
    per_write = cell.get("compress_memory_peak")
    if cell.get("compression") is False or not isinstance(per_write, int):
        return None
    steady = connections * int(cell["connection_memory"])
    return Peak(steady, per_write, load.writes, steady + load.writes * per_write)


def once_peak_memory(cell: dict[str, Any], connections: int, load: WriteLoad) -> Peak | None:
    """The cell's compress-once mode: ``connections`` keep what the cell's connections keep
    (gorilla's ``PreparedMessage`` changes nothing per connection: ``compress_once`` records the
    same allocation), read as the decision reads the cell's ``connection_memory`` (resident or
    allocated), so that both modes' steady states are one figure; each broadcast in flight holds
    ``shared_memory`` once (``writes`` here counts broadcasts); ``None`` when the cell has no
    compress-once mode."""
    once = cell.get("compress_once")
    if not isinstance(once, dict):
        return None
    steady = connections * int(cell["connection_memory"])
    shared = int(once["shared_memory"])
    return Peak(steady, shared, load.broadcasts, steady + load.broadcasts * shared)
