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
import math
import statistics
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wsztune.corpus import Corpus

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
    # Here, not at the top: the fleet tables (report, recommend) read this module's per-delivery
    # helpers without loading the corpus reader.
    from wsztune.corpus import SERVER

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
        # What the cell's connections keep, as the decision reads it (resident or allocated):
        # PreparedMessage changes nothing per connection.
        "connection_memory": cell["connection_memory"],
        "shared_memory": once["shared_memory"],
    }


def describe_compress_once(summary: dict[str, object]) -> str:
    """One line for people from :func:`compress_once_summary`."""
    from wsztune.text import format_bytes

    fanout = summary["fanout"]
    times = f"{fanout:,} times (once per subscriber)" if fanout else "once per subscriber"
    return (
        f"broadcast: {summary['mode']} compresses each message once, where per-connection "
        f"writes compress it {times}; its frames: {summary['wire_compressed_bytes']:,} B on the "
        f"wire (per connection: {summary['per_connection_wire_compressed_bytes']:,} B); memory "
        f"{format_bytes(int(summary['connection_memory']))} per connection plus "  # type: ignore[call-overload]
        f"{format_bytes(int(summary['shared_memory']))} shared per broadcast in flight"  # type: ignore[call-overload]
    )


# Timing a broadcast ------------------------------------------------------------------------------

# How much per-connection compressor state a broadcast is timed over: every subscriber's own
# compressor (K of them) up to this many bytes of their state, and never fewer than
# MIN_INTERLEAVED of them. A server's K compressors rarely fit its caches (1,000 of
# python-websockets' 12:5 hold 37 MiB), and timing fewer than fill the caches would leave out
# the misses it pays; 64 MiB is past any server core's share of a last-level cache.
INTERLEAVED_BYTES = 64 << 20
MIN_INTERLEAVED = 128
# Deliveries (message x compressor) per timing sample at most: about a corpus pass of a small
# corpus. A codec that calibrates its samples (DeliverySchedule.sample_seconds) holds each one to
# DELIVERY_SAMPLE_FACTOR times the CPU the run's other samples last (--min-sample-time),
# which a costly delivery reaches in fewer; one that does not (Go) times this many, as before.
MIN_DELIVERIES_PER_SAMPLE = 4096
# A delivery sample lasts this many times --min-sample-time (0.1 s of CPU by default): a
# delivery goes through a server's own path, for ws a hand-off of every zlib call to libuv's
# pool and back, whose cost moves more from one moment to the next than a loop of zlib calls.
# Measured on chat.har through ws's path, alternating lengths in one process on a loaded
# machine: samples of 0.02-0.05 s moved cells' figures by up to 2.5 times, 0.1 s within about
# 20% of the full 4,096 deliveries (docs/node.md, "A broadcast's deliveries").
DELIVERY_SAMPLE_FACTOR = 5
# Messages per timed stretch at least (all of them, in a smaller corpus), however quickly their
# deliveries reach the sample's CPU time: a sample is read per byte of its own messages, so a
# stretch of two or three would stand for their sizes and contents, not the corpus's. 16 is the
# fewest a stretch held under the fixed count at the widest usual interleave (4,096 deliveries
# over 256 compressors, 15:8).
MIN_MESSAGES_PER_STRETCH = 16


def run_fanout_k(broadcast: dict[str, object] | None) -> int | None:
    """The fan-out K a run or a decision is for: the stated K (``--fanout``), else the corpus's
    mean fan-out of its broadcasts, rounded; ``None`` without either."""
    if not broadcast:
        return None
    if broadcast.get("source") == "corpus":
        return max(1, round(float(broadcast["mean"])))  # type: ignore[arg-type]
    return int(broadcast["max"])  # type: ignore[call-overload]


@dataclass(frozen=True)
class DeliverySchedule:
    """How a codec times one server message delivered to each of K subscribers.

    ``compressors`` per-connection compressors (:func:`interleaved`: K, or as many as 64 MiB
    of their state holds), each with its own
    state, are built once (as a server builds them when its subscribers connect); each message
    of a stretch is then compressed by each of them in turn, round-robin, as a server loops over
    its subscribers. The stretches index the server messages of the corpus in order (all server
    streams one after the other), modulo their number; they are spread over the corpus, the
    ``warmup`` first ones untimed, one timing sample per later stretch. Each compressor's state
    carries over from one stretch to the next. Decompression is timed the same way: as many
    decompressors, each inflating the frames one compressor made, in turn.

    ``stretches`` hold :data:`MIN_DELIVERIES_PER_SAMPLE` deliveries each. With
    ``sample_seconds``, a codec times fewer (:meth:`calibrate`): the first warm-up stretch is
    run a message at a time until that much CPU went by, and every later stretch of the series
    holds as many messages as the sample's CPU time asks for (:meth:`length_for`), at least
    :data:`MIN_MESSAGES_PER_STRETCH`, at most the full stretch; the codec says how many.
    """

    fanout: int
    compressors: int
    warmup: int
    stretches: tuple[tuple[int, int], ...]  # (start, stop), stop - start messages each
    # CPU seconds a calibrated sample lasts (DELIVERY_SAMPLE_FACTOR x the plan's
    # min_sample_seconds); None: full stretches.
    sample_seconds: float | None = None

    @property
    def deliveries_per_sample(self) -> int:
        """Deliveries in one timed stretch: its messages x the compressors."""
        start, stop = self.stretches[-1]
        return (stop - start) * self.compressors

    def indices(self, stretch: int, messages: int, length: int | None = None) -> list[int]:
        """The server-message indices of stretch number ``stretch``: its first ``length`` (a
        calibrated series' length), by default all."""
        start, stop = self.stretches[stretch]
        if length is not None:
            stop = start + length
        return [index % messages for index in range(start, stop)]

    def length_for(self, messages: int, seconds: float) -> int:
        """How many messages each timed stretch holds when ``messages`` of them took ``seconds``
        of CPU: as many as :attr:`sample_seconds` asks for, at least
        :data:`MIN_MESSAGES_PER_STRETCH` (or the full stretch, if shorter), at most the full
        stretch. The full stretch without a target or when nothing was timed."""
        start, stop = self.stretches[0]
        full = stop - start
        target = self.sample_seconds
        if target is None or (target > 0 and seconds <= 0):
            return full
        least = min(full, MIN_MESSAGES_PER_STRETCH)
        if target <= 0:
            return least
        return max(least, min(full, math.ceil(messages * target / seconds)))

    def calibrate(self, messages: int, step: Callable[[int], float]) -> int:
        """Run the first (warm-up, untimed) stretch a message at a time, ``step(index)`` sending
        server message ``index`` to every subscriber and returning the CPU seconds that took,
        until :attr:`sample_seconds` went by (the whole stretch without a target); the length
        of the later stretches (:meth:`length_for`)."""
        start, stop = self.stretches[0]
        target = math.inf if self.sample_seconds is None else self.sample_seconds
        count, seconds = 0, 0.0
        while start + count < stop and seconds < target:
            seconds += step((start + count) % messages)
            count += 1
        return self.length_for(count, seconds)

    def timed(
        self, messages: int, step: Callable[[int], float], run: Callable[[list[int]], float]
    ) -> tuple[list[float], int]:
        """One series of samples: :meth:`calibrate` on the first stretch (``step``), then every
        later stretch at that length through ``run(indices)``, which returns its CPU seconds;
        the samples of the stretches past the warm-up, and the length."""
        length = self.calibrate(messages, step)
        samples = []
        for number in range(1, len(self.stretches)):
            seconds = run(self.indices(number, messages, length))
            if number >= self.warmup:
                samples.append(seconds)
        return samples, length

    def hot(self) -> DeliverySchedule:
        """The same deliveries per sample through one compressor: stretches as many times
        longer as there were compressors (what a compress-once server pays per message)."""
        length = self.deliveries_per_sample
        stretches = tuple((start, start + length) for start, _ in self.stretches)
        return replace(self, compressors=1, stretches=stretches)

    def helper_job(self) -> dict[str, object]:
        """The schedule as a helper process (node, Go) reads it."""
        job: dict[str, object] = {
            "compressors": self.compressors,
            "warmup": self.warmup,
            "stretches": [list(stretch) for stretch in self.stretches],
            "hot_stretches": [list(stretch) for stretch in self.hot().stretches],
        }
        if self.sample_seconds is not None:
            job.update(sample_seconds=self.sample_seconds, min_messages=MIN_MESSAGES_PER_STRETCH)
        return job


def priming_messages(sizes: Sequence[int], window: int) -> int:
    """How many server messages, from the first (cycling over them), fill a compressor's and a
    decompressor's window twice (zlib's deflate slides at twice the window): fed to every one
    untimed before the stretches, so that the timed ones find their memory touched and their
    windows full, as a server's subscribers long after they joined; 0 without takeover."""
    total = sum(sizes)
    if window <= 0 or total <= 0:
        return 0
    wanted, count, fed = 2 * window, 0, 0
    while fed < wanted:
        fed += sizes[count % len(sizes)]
        count += 1
    return count


def interleaved(fanout: int, state_bytes: int, most: int | None = None) -> int:
    """How many compressors holding ``state_bytes`` each a fan-out of K is timed with: K, or as
    many as :data:`INTERLEAVED_BYTES` of their state holds (at least :data:`MIN_INTERLEAVED`),
    and no more than ``most`` (a codec's own bound, e.g. the sockets it opens per subscriber)."""
    count = min(fanout, max(MIN_INTERLEAVED, INTERLEAVED_BYTES // max(1, state_bytes)))
    return count if most is None else min(count, most)


def stretch_starts(messages: int, count: int) -> list[int]:
    """The first message of each of ``count`` stretches spread evenly over ``messages`` server
    messages (a stretch runs on from there, modulo their number)."""
    return [index * messages // count for index in range(count)]


def delivery_schedule(
    messages: int,
    fanout: int,
    repeat: int,
    warmup: int,
    state_bytes: int = 0,
    min_sample_seconds: float | None = None,
    most_compressors: int | None = None,
) -> DeliverySchedule | None:
    """The :class:`DeliverySchedule` for ``messages`` server messages and a fan-out of
    ``fanout``, each subscriber's compressor holding ``state_bytes`` between messages (0: none,
    a compressor per message); ``None`` when there is nothing to time (no server message, or
    K < 2). ``min_sample_seconds``: the run's (``--min-sample-time``), of which a calibrated
    sample lasts :data:`DELIVERY_SAMPLE_FACTOR` times (None: full stretches).
    ``most_compressors``: the codec times at most so many (:func:`interleaved`)."""
    if messages < 1 or fanout < 2:
        return None
    compressors = interleaved(fanout, state_bytes, most_compressors)
    per_stretch = max(1, -(-max(messages, MIN_DELIVERIES_PER_SAMPLE) // compressors))
    stretches = tuple(
        (start, start + per_stretch) for start in stretch_starts(messages, warmup + repeat)
    )
    sample_seconds = None
    if min_sample_seconds is not None:
        sample_seconds = DELIVERY_SAMPLE_FACTOR * min_sample_seconds
    return DeliverySchedule(fanout, compressors, warmup, stretches, sample_seconds)


def delivery_fields(
    schedule: DeliverySchedule | None,
    sizes: Sequence[int],
    compress_samples: Sequence[float] | None,
    decompress_samples: Sequence[float] | None,
    hot_samples: Sequence[float] | None,
    lengths: dict[str, int] | None = None,
    threshold: int = 0,
    longer_samples: Sequence[float] | None = None,
    split: SplitSamples | None = None,
) -> dict[str, object]:
    """A cell's per-delivery time fields from samples in seconds per timed stretch: interleaved
    compression and decompression, and one hot compressor (:meth:`DeliverySchedule.hot`, what
    a compress-once server pays per unique message). ``sizes``: the server messages' sizes.
    ``lengths``: the messages per timed stretch of each calibrated series ("compress",
    "decompress", "hot"; :meth:`DeliverySchedule.calibrate`), full stretches for the others.
    ``threshold``: the cell's, as its library applies it (messages under it are sent raw).
    ``longer_samples``: where the codec timed them (full stretches), the same stretches'
    compressed messages, each :data:`LONGER_BY` bytes longer (:func:`byte_cost`). ``split``:
    where the codec timed a threshold library's compressed and raw deliveries apart
    (:func:`split_series`), which then give the compression figures (:func:`split_fields`)
    instead of the stretches and ``longer_samples``.

    Each sample is read per byte of its stretch's messages that reach the compressor and given
    per delivery of the corpus's mean server message (:func:`seconds_per_delivery`); with the
    longer messages' samples, per compressed message and its bytes apart. Empty without a
    schedule (no fan-out); null figures when the run measured no time."""
    if schedule is None:
        return {}
    fields: dict[str, object] = dict.fromkeys(DELIVERY_FIELD_NAMES)
    fields["delivery_compressors"] = schedule.compressors
    lengths = lengths or {}
    if compress_samples and decompress_samples and hot_samples:
        if split is not None:
            fields.update(split_fields(schedule, sizes, threshold, split))
        else:
            per_byte = None
            if longer_samples:
                per_byte = byte_cost(schedule, sizes, compress_samples, longer_samples, threshold)
                fields[BYTE_COST_FIELD] = per_byte
            fields["compress_seconds_per_delivery"] = seconds_per_delivery(
                schedule, sizes, compress_samples, lengths.get("compress"), threshold, per_byte
            )
        fields.update(
            decompress_seconds_per_delivery=seconds_per_delivery(
                schedule, sizes, decompress_samples, lengths.get("decompress"), threshold
            ),
            compress_seconds_per_message=seconds_per_delivery(
                schedule.hot(), sizes, hot_samples, lengths.get("hot"), threshold
            ),
        )
    return fields


# How a delivery sample is read. A stretch holds a few dozen messages, whose sizes need not be the
# corpus's, so each sample is read per byte of its stretch and given for the corpus's mean
# message. Only the bytes of messages that reach the compressor count: a message under the
# threshold is sent raw, at the cost of compression off, which the samples (on - off) do not
# hold. Counted over every byte, as it once was, a stretch's share of raw messages moved its
# reading: coder with takeover (threshold 128 B) on the market records, whose timed stretches held
# 23 messages of 128 B or more in 160 where the corpus holds 20%, read 8 to 10 us per delivery
# over all bytes and 12 to 15 over the compressed ones, and a server broadcasting the whole
# corpus paid 11.4 to 14.8 (docs/broadcast.md).
#
# Per byte is not the whole of it: a library pays per compressed message whatever its size (coder
# fills its table from its whole 8 KiB dictionary on every call), and for messages of a few
# hundred bytes that fixed cost is most of it: servers broadcasting windows of the market records
# paid 52 and 56 ms per 1,000 compressed deliveries whose compressed bytes differed 2.45 times.
# Where a codec also timed each stretch's compressed messages lengthened by LONGER_BY bytes
# (byte_cost: what a compressed delivery costs per byte more), a stretch is read per compressed
# message, moved by that cost per byte from its compressed messages' mean size to the corpus's.
def seconds_per_delivery(
    schedule: DeliverySchedule,
    sizes: Sequence[int],
    samples: Sequence[float],
    length: int | None = None,
    threshold: int = 0,
    per_byte: float | None = None,
) -> float:
    """Median over the timed stretches of seconds per delivery of a mean-sized message: each
    sample (seconds per stretch) read per byte of its stretch's messages that reach the
    compressor (``threshold`` bytes or more), over the compressors, and given for the corpus's
    mean such bytes per message. A stretch with no such message says nothing of their cost and
    is left out; where none has one, every byte counts.

    With ``per_byte`` (:func:`byte_cost`: seconds per delivery per byte more of a compressed
    message), each sample is read per compressed message of its stretch instead, that cost per
    byte moving it from the stretch's mean compressed message to the corpus's, and given for
    the corpus's share of compressed messages.

    At least 0: samples that are on - off (the Go helper's connections), or a stretch of larger
    messages moved down by the cost per byte, can read below zero where compression is a sliver
    of each delivery and the machine is loaded; no negative CPU (a results file holds none)."""
    readings = []
    if per_byte is not None:
        readings = _per_message_readings(schedule, sizes, samples, length, threshold, per_byte)
    if not readings:
        readings = _per_byte_readings(schedule, compressor_bytes(sizes, threshold), samples, length)
    if not readings:
        readings = _per_byte_readings(schedule, sizes, samples, length, keep_empty=True)
    return max(0.0, statistics.median(readings))


# How many bytes the Go helper's longerOf adds to each compressed message for byte_cost: enough
# that the difference is the cost of those bytes, not the noise of two series of samples.
LONGER_BY = 1024
# The cell field holding byte_cost: what bench/broadcast.py reads windows of other sizes by.
BYTE_COST_FIELD = "compress_seconds_per_byte"


def compressed_flags(sizes: Sequence[int], threshold: int) -> list[int]:
    """Per message of ``sizes``: 1 if the library compresses it (``threshold`` bytes or more,
    and not empty: the Go helper's longerOf takes the same ones), else 0."""
    return [1 if size >= threshold and size else 0 for size in sizes]


def byte_cost(
    schedule: DeliverySchedule,
    sizes: Sequence[int],
    samples: Sequence[float],
    longer_samples: Sequence[float],
    threshold: int,
) -> float | None:
    """Seconds a compressed delivery costs per byte more: over full stretches, each stretch's
    sample of its compressed messages :data:`LONGER_BY` bytes longer less its own sample, over
    those bytes, its compressed messages and the compressors; the median, at least 0 (``None``
    where no stretch compressed any)."""
    flags = compressed_flags(sizes, threshold)
    readings = []
    pairs = zip(samples, longer_samples, strict=True)
    for number, (seconds, longer) in enumerate(pairs, schedule.warmup):
        messages = sum(flags[index] for index in schedule.indices(number, len(sizes)))
        if messages:
            readings.append((longer - seconds) / (messages * LONGER_BY * schedule.compressors))
    return max(0.0, statistics.median(readings)) if readings else None


# A library with a threshold (coder) sends a message under it raw, but still pays for having
# negotiated compression: coder writes it as a data frame and an empty final one (write.go), two
# trips through writeFrame's lock and its timeout goroutine where compression off makes one. A
# server broadcasting the chat records, 1% of whose messages reach coder's 512 B, paid 1.5 to 1.8
# us per delivery on - off for that alone (bench/broadcast.py, docs/broadcast.md). Read from
# stretches that mix both kinds, that cost went to the stretch's few compressed messages, and from
# there to a window's share of them: the model read twice its server. So a threshold library's
# compressed and raw deliveries are timed apart (split_series) and each read per delivery of its
# own kind, the figure given for the corpus's mix of the two.
#
# Raw deliveries per split sample at least: the raw on - off is a tenth of a delivery's cost, and
# five samples of 4,096 read 0.4 to 3.3 us per delivery where a server paid 1.5 to 1.8 (25 of
# them: 1.3 to 1.6). With on and off timed in turn per message, five of 16,384 read 1.02 to 1.32.
RAW_MIN_DELIVERIES = 16384
# The cell field holding a raw delivery's cost (on - off), where the compressed and raw ones were
# timed apart: what bench/broadcast.py reads windows of another mix by.
RAW_COST_FIELD = "compress_seconds_per_raw_delivery"


@dataclass(frozen=True)
class SplitSeries:
    """A threshold library's broadcast timed in two series beside the stretches, each of the
    schedule's stretches giving one sample of each: ``compressed``, the server-message indices
    of the messages it compresses, and ``raw``, of those it sends raw (:func:`split_series`)."""

    compressed: tuple[tuple[int, ...], ...]
    raw: tuple[tuple[int, ...], ...]

    def helper_job(self) -> dict[str, list[list[int]]]:
        """The series as the Go helper reads them."""
        return {"compressed": [list(s) for s in self.compressed],
                "raw": [list(s) for s in self.raw]}  # fmt: skip


@dataclass(frozen=True)
class SplitSamples:
    """The samples of a :class:`SplitSeries` (seconds per stretch past the warm-up, on - off):
    its compressed messages, the same each :data:`LONGER_BY` bytes longer, and its raw ones."""

    series: SplitSeries
    compressed: Sequence[float]
    longer: Sequence[float]
    raw: Sequence[float]


def split_series(
    schedule: DeliverySchedule, sizes: Sequence[int], threshold: int
) -> SplitSeries | None:
    """Per stretch of ``schedule``, the messages of each kind (compressed at ``threshold``, or
    raw) from the stretch's first on, in corpus order (round again if need be): as many as the
    stretch holds of that kind, and at least enough for :data:`MIN_DELIVERIES_PER_SAMPLE`
    deliveries (compressed) or :data:`RAW_MIN_DELIVERIES` (raw) over the compressors. So every
    stretch samples both kinds, however rare one is. ``None`` where every message is of one
    kind: the stretches are then the series."""
    flags = compressed_flags(sizes, threshold)
    kinds = {flag: [index for index, each in enumerate(flags) if each == flag] for flag in (0, 1)}
    if not kinds[0] or not kinds[1]:
        return None

    def series(flag: int, deliveries: int) -> tuple[tuple[int, ...], ...]:
        kind, least = kinds[flag], math.ceil(deliveries / schedule.compressors)
        out = []
        for number, (start, _) in enumerate(schedule.stretches):
            held = sum(flags[index] == flag for index in schedule.indices(number, len(sizes)))
            first = bisect_left(kind, start % len(sizes))
            out.append(tuple(kind[(first + n) % len(kind)] for n in range(max(held, least))))
        return tuple(out)

    return SplitSeries(series(1, MIN_DELIVERIES_PER_SAMPLE), series(0, RAW_MIN_DELIVERIES))


def split_fields(
    schedule: DeliverySchedule, sizes: Sequence[int], threshold: int, split: SplitSamples
) -> dict[str, float]:
    """A threshold library's compression figures from its :class:`SplitSamples`: a raw
    delivery's cost (:data:`RAW_COST_FIELD`, the median over its samples), a compressed one's
    cost per byte more (:data:`BYTE_COST_FIELD`, as :func:`byte_cost` reads it) and per
    compressed message (each sample moved by that cost per byte from its messages' mean size to
    the corpus's), and ``compress_seconds_per_delivery``: the two given for the corpus's mix of
    compressed and raw messages. Each at least 0 (on - off reads below it in noise)."""

    def per_delivery(samples: Sequence[float], series: tuple[tuple[int, ...], ...]) -> list[float]:
        timed = series[schedule.warmup :]
        return [seconds / (schedule.compressors * len(indices))
                for seconds, indices in zip(samples, timed, strict=True)]  # fmt: skip

    raw = max(0.0, statistics.median(per_delivery(split.raw, split.series.raw)))
    compressed = per_delivery(split.compressed, split.series.compressed)
    longer = per_delivery(split.longer, split.series.compressed)
    per_byte = max(0.0, statistics.median(
        (more - seconds) / LONGER_BY for seconds, more in zip(compressed, longer, strict=True)))
    corpus = compressed_mix(sizes, threshold)
    timed = split.series.compressed[schedule.warmup :]
    per_message = statistics.median(
        seconds + per_byte * (corpus.size - statistics.fmean(sizes[index] for index in indices))
        for seconds, indices in zip(compressed, timed, strict=True))  # fmt: skip
    return {"compress_seconds_per_delivery": max(0.0, reading_for(per_message, per_byte,
                                                                  CompressedMix(1.0, corpus.size),
                                                                  corpus, raw)),
            BYTE_COST_FIELD: per_byte, RAW_COST_FIELD: raw}  # fmt: skip


@dataclass(frozen=True)
class CompressedMix:
    """What a library's compressor sees of some messages: the share of them it compresses and
    their mean size (bytes; 0 where it compresses none)."""

    share: float
    size: float


def compressed_mix(sizes: Sequence[int], threshold: int) -> CompressedMix:
    """The :class:`CompressedMix` of messages of ``sizes`` under ``threshold``."""
    through = compressor_bytes(sizes, threshold)
    count = sum(1 for size in through if size)  # compressor_bytes: 0 only where sent raw
    size = sum(through) / count if count else 0.0
    return CompressedMix(count / len(sizes), size)


def reading_for(
    per_delivery: float,
    per_byte: float,
    mix: CompressedMix,
    other: CompressedMix,
    raw: float = 0.0,
) -> float:
    """A figure per delivery of the mean message of ``mix`` (:func:`seconds_per_delivery`,
    read with ``per_byte``) given instead for the mean message of ``other``: per compressed
    message, moved by ``per_byte`` from one's mean compressed size to the other's (as
    bench/broadcast.py reads the model for its windows). ``raw``: what a delivery sent raw
    costs (:data:`RAW_COST_FIELD`; 0 where it was not timed apart), part of the figure in
    ``mix``'s share of raw messages and given for ``other``'s."""
    if not mix.share:
        return (1 - other.share) * raw if not other.share else 0.0
    per_message = (per_delivery - (1 - mix.share) * raw) / mix.share
    per_message += per_byte * (other.size - mix.size)
    return (1 - other.share) * raw + other.share * per_message


def _per_message_readings(
    schedule: DeliverySchedule,
    sizes: Sequence[int],
    samples: Sequence[float],
    length: int | None,
    threshold: int,
    per_byte: float,
) -> list[float]:
    """Each sample per compressed message of its stretch and per compressor, moved by
    ``per_byte`` to the corpus's mean compressed message, given for its share of them;
    stretches with no compressed message left out."""
    corpus = compressed_mix(sizes, threshold)
    readings = []
    for number, seconds in enumerate(samples, schedule.warmup):
        indices = schedule.indices(number, len(sizes), length)
        stretch = compressed_mix([sizes[index] for index in indices], threshold)
        if stretch.share:
            per_delivery = seconds / schedule.compressors / len(indices)
            readings.append(reading_for(per_delivery, per_byte, stretch, corpus))
    return readings


def compressor_bytes(sizes: Sequence[int], threshold: int) -> list[int]:
    """Per message of ``sizes``, the bytes it puts through the compressor: its size where the
    library compresses it (:func:`compressed_flags`), 0 where it is sent raw."""
    flags = compressed_flags(sizes, threshold)
    return [size * flag for size, flag in zip(sizes, flags, strict=True)]


def _per_byte_readings(
    schedule: DeliverySchedule,
    weights: Sequence[int],
    samples: Sequence[float],
    length: int | None,
    keep_empty: bool = False,
) -> list[float]:
    """Each sample over its stretch's ``weights`` (bytes), given for the mean weight per message
    and per compressor; stretches of no weight left out unless ``keep_empty`` (then read per 1)."""
    mean = sum(weights) / len(weights)
    readings = []
    for number, seconds in enumerate(samples, schedule.warmup):
        stretch = sum(weights[index] for index in schedule.indices(number, len(weights), length))
        if stretch or keep_empty:
            readings.append(seconds / max(1, stretch) * mean / schedule.compressors)
    return readings


DELIVERY_FIELD_NAMES = (
    "compress_seconds_per_delivery",
    "decompress_seconds_per_delivery",
    "compress_seconds_per_message",
    "delivery_compressors",
)


def interleaving(cell: dict[str, object]) -> float | None:
    """How much a delivery costs beside one hot compressor's message: the cell's
    ``compress_seconds_per_delivery`` over its ``compress_seconds_per_message`` (both measured on
    the same messages and read for the same mean message, so their ratio is what interleaving
    K subscribers' compressors changes); ``None`` when the cell has no such pair."""
    delivery = cell.get("compress_seconds_per_delivery")
    hot = cell.get("compress_seconds_per_message")
    if not isinstance(delivery, int | float) or not isinstance(hot, int | float) or hot <= 0:
        return None
    return float(delivery) / float(hot)


def delivery_cpu(cell: dict[str, object] | None, once: bool = False) -> str:
    """The fleet table's ``CPU/delivery`` entry: microseconds to compress one delivery (a
    compress-once mode's: one compression over K), ``-`` when the run did not measure it, 0
    without compression."""
    if cell is None:
        return "0"
    source = cell.get("compress_once") if once else cell
    seconds = source.get("compress_seconds_per_delivery") if isinstance(source, dict) else None
    if not isinstance(seconds, int | float):
        return "-"
    micro = seconds * 1e6
    if micro < 1:
        return f"{micro * 1000:.3g} ns"
    return f"{micro:.3g} us" if micro < 100 else f"{micro:,.0f} us"


def has_delivery_cpu(cells: Sequence[dict[str, object]]) -> bool:
    """Whether a run's cells carry CPU per delivery (a run for a broadcast, timed)."""
    return any(isinstance(cell.get("compress_seconds_per_delivery"), int | float) for cell in cells)
