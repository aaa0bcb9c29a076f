"""What is in a corpus, before sweeping it: counts, directions, sizes, JSON/text/binary."""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass

from wsztune.corpus import CLIENT, SERVER, Corpus


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

    def to_dict(self) -> dict[str, object]:
        """Plain dict (for ``--json``)."""
        return asdict(self)


def percentile(ordered: list[int], fraction: float) -> int:
    """Nearest-rank percentile of an already sorted, non-empty list."""
    rank = max(1, math.ceil(len(ordered) * fraction))
    return ordered[rank - 1]


def _is_json(payload: bytes) -> bool:
    try:
        json.loads(payload)
    except (ValueError, RecursionError):  # deeply nested JSON is still JSON-shaped text
        return False
    return True


def describe_corpus(corpus: Corpus) -> CorpusStats:
    """Count and measure what ``corpus`` holds."""
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
    )
