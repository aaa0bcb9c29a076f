"""Broadcasts in a corpus: the same payload sent to many connections within a short window.

A server that broadcasts (a chat room, a market-data channel, a Socket.IO room) sends one message
to K subscribers at once. Read from a timed corpus (records with ``t``, HAR), a broadcast is a
group of server-to-client messages with the same payload bytes on distinct connections, each
sent within ``window`` seconds of the group's first one. Its fan-out is the number of
connections in the group; a message no other connection received in its window has fan-out 1
and is no broadcast.

The grouping is greedy in time order, per payload: a delivery joins the payload's open group
unless it is later than the group's first delivery plus the window, or its connection is in the
group already (a connection sent the same payload twice is two messages, not a wider
broadcast); otherwise it opens a new group.
"""

from __future__ import annotations

import hashlib
import statistics
from dataclasses import asdict, dataclass

from wsztune.corpus import SERVER, Corpus

# One second: long enough for a server's loop over thousands of connections (uWebSockets
# publishes to 40,000 in well under it), short enough that a ticker repeating itself every
# second or more is not counted as one broadcast.
DEFAULT_WINDOW_SECONDS = 1.0


@dataclass(frozen=True)
class FanOut:
    """How much of a corpus's server traffic is broadcast, and to how many connections.

    ``mean`` and ``max``: fan-out of the broadcast messages (unique messages sent to 2 or more
    connections), 1 when there are none. ``share``: the share of server-to-client deliveries
    (messages in the corpus) that belong to a broadcast. ``distribution``: fan-out -> number of
    unique messages with it, fan-out 1 included.
    """

    window_seconds: float
    deliveries: int  # server-to-client messages in the corpus
    unique_messages: int  # after folding every broadcast into one message
    broadcasts: int  # unique messages delivered to 2 or more connections
    broadcast_deliveries: int
    mean: float
    max: int
    share: float
    distribution: dict[int, int]

    def to_dict(self) -> dict[str, object]:
        """Plain dict for JSON (``corpus stats --json``'s ``fanout``, a run's metadata)."""
        data = asdict(self)
        data["distribution"] = {str(k): v for k, v in sorted(self.distribution.items())}
        return data


def detect_fanout(corpus: Corpus, window: float = DEFAULT_WINDOW_SECONDS) -> FanOut | None:
    """The corpus's broadcasts, or ``None`` when its messages carry no times (it cannot tell)."""
    if window < 0:
        raise ValueError(f"the broadcast window must be >= 0 seconds, not {window!r}")
    packed = corpus.packed
    if not packed.timed:
        return None
    data = memoryview(packed.data)
    # Per payload digest: deliveries as (t, connection), read from the packed arrays (no
    # Message per message: that would copy every payload).
    by_payload: dict[bytes, list[tuple[float, str]]] = {}
    for index in range(len(packed)):
        connection, direction = packed.keys[packed.stream_of[index]]
        if direction != SERVER:
            continue
        start, end = packed.bounds(index)
        digest = hashlib.blake2b(data[start:end], digest_size=16).digest()
        by_payload.setdefault(digest, []).append((packed.times[index], connection))
    sizes: list[int] = []
    for deliveries in by_payload.values():
        deliveries.sort(key=lambda delivery: delivery[0])
        first = deliveries[0][0]
        group: set[str] = set()
        for t, connection in deliveries:
            if group and (t - first > window or connection in group):
                sizes.append(len(group))
                group = set()
            if not group:
                first = t
            group.add(connection)
        sizes.append(len(group))
    return summarise(sizes, window)


def summarise(sizes: list[int], window: float) -> FanOut:
    """:class:`FanOut` from the fan-out of every unique message."""
    broadcast = [size for size in sizes if size >= 2]
    deliveries = sum(sizes)
    distribution: dict[int, int] = {}
    for size in sizes:
        distribution[size] = distribution.get(size, 0) + 1
    return FanOut(
        window_seconds=window,
        deliveries=deliveries,
        unique_messages=len(sizes),
        broadcasts=len(broadcast),
        broadcast_deliveries=sum(broadcast),
        mean=statistics.fmean(broadcast) if broadcast else 1.0,
        max=max(broadcast, default=1),
        share=sum(broadcast) / deliveries if deliveries else 0.0,
        distribution=distribution,
    )


def run_fanout(
    found: FanOut | None, stated: int | None = None
) -> dict[str, object] | None:
    """A run's ``fanout`` metadata: what ``--fanout K`` states, else what the corpus shows;
    ``None`` when neither says (an untimed corpus and no ``--fanout``).

    ``mean``/``max``: the fan-out the run is for (K both, when stated); ``share``: the share of
    deliveries that belong to a broadcast (1 when stated: every message goes to K); ``source``:
    ``--fanout`` or ``corpus``; ``corpus``: what the corpus showed, kept beside a stated K.
    """
    shown = None
    if found is not None:
        shown = {
            "mean": found.mean,
            "max": found.max,
            "share": found.share,
            "broadcasts": found.broadcasts,
            "window_seconds": found.window_seconds,
        }
    if stated is not None:
        return _stated(stated, shown)
    if shown is None:
        return None
    return {"source": "corpus", **shown}


def _stated(stated: int, shown: dict[str, object] | None) -> dict[str, object]:
    if stated < 1:
        raise ValueError(f"--fanout must be at least 1, not {stated}")
    return {"source": "--fanout", "mean": float(stated), "max": stated,
            "share": 1.0 if stated > 1 else 0.0, "corpus": shown}


def stated_over(
    recorded: dict[str, object] | None, stated: int | None
) -> dict[str, object] | None:
    """The fan-out a reading command (``recommend --fanout K``) goes by: ``stated`` over what the
    run recorded (its ``fanout`` metadata, kept as ``corpus`` when it came from the corpus)."""
    if stated is None:
        return recorded
    shown = None
    if isinstance(recorded, dict):
        if recorded.get("source") == "corpus":
            shown = {key: value for key, value in recorded.items() if key != "source"}
        else:
            shown = recorded.get("corpus")  # type: ignore[assignment]
    return _stated(stated, shown)


def describe(fanout: dict[str, object]) -> str:
    """One line for people: ``fan-out 1,000 per message (--fanout)``."""
    mean, largest = float(fanout["mean"]), int(fanout["max"])  # type: ignore[arg-type]
    if fanout["source"] == "--fanout":
        return f"fan-out {largest:,} per message (stated with --fanout)"
    share = float(fanout["share"])  # type: ignore[arg-type]
    return (
        f"fan-out {mean:,.1f} mean, {largest:,} max, {share:.1%} of deliveries broadcast "
        "(from the corpus)"
    )


def compress_once_summary(
    cell: dict[str, object], broadcast: dict[str, object] | None
) -> dict[str, object] | None:
    """The chosen cell's compress-once mode set against per-connection compression, for a
    fan-out: compressions per message (1 against K), wire bytes, memory per connection plus
    shared. ``None`` when the cell has no such mode (only gorilla runs carry ``compress_once``)."""
    once = cell.get("compress_once")
    if not isinstance(once, dict):
        return None
    fanout = int(broadcast["max"]) if broadcast else None  # type: ignore[call-overload]
    if broadcast and broadcast.get("source") == "corpus":
        fanout = round(float(broadcast["mean"]))  # type: ignore[arg-type]
    return {
        "mode": once["mode"],
        "fanout": fanout,
        "compressions_per_message": 1,
        "per_connection_compressions_per_message": fanout,
        "wire_compressed_bytes": once["wire_compressed_bytes"],
        "per_connection_wire_compressed_bytes": cell["wire_compressed_bytes"],
        "connection_memory": once["connection_memory"],
        "shared_memory": once["shared_memory"],
    }


def describe_compress_once(summary: dict[str, object]) -> str:
    """One line for people from :func:`compress_once_summary`."""
    from wsztune.grid import format_bytes

    fanout = summary["fanout"]
    times = f"{fanout:,} times (once per subscriber)" if fanout else "once per subscriber"
    return (
        f"broadcast: {summary['mode']} compresses each message once, where per-connection "
        f"writes compress it {times}; its frames: {summary['wire_compressed_bytes']:,} B on the "
        f"wire (per connection: {summary['per_connection_wire_compressed_bytes']:,} B); memory "
        f"{format_bytes(int(summary['connection_memory']))} per connection plus "  # type: ignore[call-overload]
        f"{format_bytes(int(summary['shared_memory']))} shared per broadcast in flight"  # type: ignore[call-overload]
    )
