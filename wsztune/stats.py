"""What is in a corpus, before sweeping it: counts, directions, sizes, JSON/text/binary, rates."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TypeVar

from wsztune.corpus import CLIENT, SERVER, Corpus
from wsztune.fanout import DEFAULT_WINDOW_SECONDS, FanOut, detect_fanout

T = TypeVar("T", int, float)


@dataclass(frozen=True)
class SizeDistribution:
    """Payload sizes in bytes."""

    minimum: int
    median: float
    mean: float
    p95: int
    p99: int
    maximum: int


@dataclass(frozen=True)
class TrafficRates:
    """How fast the messages came, from the records' ``t`` (seconds since the start).

    Overall: messages (or bytes) divided by the duration, first ``t`` to last. Per connection:
    (messages - 1) / (last t - first t), the inverse of its mean gap between messages, over the
    connections with at least two messages at different times (``rated_connections``).
    """

    duration_seconds: float
    messages_per_second: float | None
    bytes_per_second: float | None
    rated_connections: int
    connection_messages_per_second_median: float | None
    connection_messages_per_second_p95: float | None


@dataclass(frozen=True)
class CorpusStats:
    """A corpus described in plain numbers."""

    path: str
    format: str
    messages: int
    connections: int
    server_messages: int
    client_messages: int
    raw_bytes: int
    server_bytes: int
    client_bytes: int
    json_messages: int
    text_messages: int
    binary_messages: int
    sizes: SizeDistribution
    # None when the corpus carries no timestamps (anything but records with "t").
    rates: TrafficRates | None = None
    # Broadcasts (the same payload to many connections); None without timestamps.
    fanout: FanOut | None = None

    def to_dict(self) -> dict[str, object]:
        """Plain dict (for ``--json``)."""
        data = asdict(self)
        data["fanout"] = self.fanout.to_dict() if self.fanout is not None else None
        return data


def percentile(ordered: Sequence[T], fraction: float) -> T:
    """Nearest-rank percentile of an already sorted, non-empty list."""
    rank = max(1, math.ceil(len(ordered) * fraction))
    return ordered[rank - 1]


def _is_json(payload: bytes) -> bool:
    try:
        json.loads(payload)
    except (ValueError, RecursionError):  # deeply nested JSON is still JSON-shaped text
        return False
    return True


def describe_corpus(
    corpus: Corpus, broadcast_window: float = DEFAULT_WINDOW_SECONDS
) -> CorpusStats:
    """Count and measure what ``corpus`` holds; broadcasts are grouped within
    ``broadcast_window`` seconds (:func:`wsztune.fanout.detect_fanout`)."""
    sizes = sorted(len(message.payload) for message in corpus.messages)
    counts = {SERVER: 0, CLIENT: 0}
    volumes = {SERVER: 0, CLIENT: 0}
    json_count = text_count = binary_count = 0
    for message in corpus.messages:
        counts[message.direction] += 1
        volumes[message.direction] += len(message.payload)
        if not message.is_text:
            binary_count += 1
        elif _is_json(message.payload):
            json_count += 1
        else:
            text_count += 1
    return CorpusStats(
        path=corpus.path,
        format=corpus.format,
        messages=len(sizes),
        connections=len(corpus.connections),
        server_messages=counts[SERVER],
        client_messages=counts[CLIENT],
        raw_bytes=sum(sizes),
        server_bytes=volumes[SERVER],
        client_bytes=volumes[CLIENT],
        json_messages=json_count,
        text_messages=text_count,
        binary_messages=binary_count,
        sizes=SizeDistribution(
            minimum=sizes[0],
            median=statistics.median(sizes),
            mean=statistics.fmean(sizes),
            p95=percentile(sizes, 0.95),
            p99=percentile(sizes, 0.99),
            maximum=sizes[-1],
        ),
        rates=traffic_rates(corpus),
        fanout=detect_fanout(corpus, broadcast_window),
    )


def traffic_rates(corpus: Corpus) -> TrafficRates | None:
    """Duration and rates of a corpus whose messages carry ``t``; ``None`` when they do not."""
    # Times and connections straight from the packed arrays: a Message per message would copy
    # every payload out of the buffer, the whole of a 2 GiB one just to read its "t".
    packed = corpus.packed
    if not packed.timed:
        return None
    messages = packed
    spans: dict[str, tuple[float, float, int]] = {}
    for t, stream in zip(packed.times, packed.stream_of, strict=True):
        connection = packed.keys[stream][0]
        first, last, count = spans.get(connection, (t, t, 0))
        spans[connection] = (min(first, t), max(last, t), count + 1)
    start = min(first for first, _, _ in spans.values())
    end = max(last for _, last, _ in spans.values())
    duration = end - start
    per_connection = sorted(
        (count - 1) / (last - first)
        for first, last, count in spans.values()
        if count >= 2 and last > first
    )
    return TrafficRates(
        duration_seconds=duration,
        # All messages at one instant have no rate: None rather than a division by zero.
        messages_per_second=len(messages) / duration if duration > 0 else None,
        bytes_per_second=corpus.raw_bytes / duration if duration > 0 else None,
        rated_connections=len(per_connection),
        connection_messages_per_second_median=(
            statistics.median(per_connection) if per_connection else None
        ),
        connection_messages_per_second_p95=(
            percentile(per_connection, 0.95) if per_connection else None
        ),
    )


def messages_per_second(corpus: Corpus) -> float | None:
    """The corpus's overall message rate (every connection, both directions), if it has times.

    What a run's metadata carries as ``corpus.messages_per_second`` (fleet cost uses it).
    """
    rates = traffic_rates(corpus)
    return rates.messages_per_second if rates is not None else None
