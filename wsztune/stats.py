"""What is in a corpus, before sweeping it: counts, directions, sizes, JSON/text/binary, rates."""

from __future__ import annotations

import json
import math
import re
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


def _is_json(payload: bytes | memoryview) -> bool:
    """Whether a text payload is one JSON value (NaN and Infinity allowed, as ``json.loads``).

    A payload over :data:`_WINDOW` bytes is checked where it lies, a window at a time
    (:func:`_is_json_in_place`): ``json.loads`` of it would hold a copy of its bytes, its text
    and every value parsed beside the corpus (issue 29: 904 MB for a 300 MB line).
    """
    if len(payload) > _WINDOW:
        return _is_json_in_place(memoryview(payload))
    try:
        json.loads(bytes(payload))
    except (ValueError, RecursionError):  # deeply nested JSON is still JSON-shaped text
        return False
    return True


# How much of a big payload is decoded at a time to check it as JSON.
_WINDOW = 1 << 20
_SPACE = re.compile(r"[ \t\n\r]*")
_SCALAR = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null|NaN|-?Infinity")
_STRING = r'"(?:[^"\\\x00-\x1f]++|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*+"'
# A JSON string, matched on the bytes themselves: one too long for a window is never decoded.
# (Possessive: the regex engine keeps no state per character of a long string.)
_STRING_BYTES = re.compile(_STRING.encode())
_SCALAR_BYTES = re.compile(_SCALAR.pattern.encode())
# Runs of scalar elements (array) or members (object, from a value to the next value), matched
# in one call: an array of millions of numbers is not walked one number at a time.
_VALUE = rf"(?:{_SCALAR.pattern}|{_STRING})"
_ARRAY_RUN = re.compile(rf"(?:{_VALUE}[ \t\n\r]*,[ \t\n\r]*)*+")
_OBJECT_RUN = re.compile(
    rf"(?:{_VALUE}[ \t\n\r]*,[ \t\n\r]*{_STRING}[ \t\n\r]*:[ \t\n\r]*)*+"
)


def _drop(*_: object) -> None:
    return None


# Values parsed to check them are dropped at once: checking costs no Python object per value.
_CHECKER = json.JSONDecoder(object_pairs_hook=_drop, parse_int=_drop, parse_float=_drop)


class _Text:
    """A window of decoded text over a big UTF-8 payload, moved along it as it is checked."""

    def __init__(self, data: memoryview) -> None:
        self.data = data
        self.load(0)

    def load(self, start: int) -> None:
        """Decode the window that starts at byte ``start`` (cut at a character boundary)."""
        end = min(len(self.data), start + _WINDOW)
        while end < len(self.data) and self.data[end] & 0xC0 == 0x80:
            end -= 1  # never cut a character in two
        self.start, self.end = start, end
        self.text = str(self.data[start:end], "utf-8")
        self.ascii = self.text.isascii()
        self.index = 0

    @property
    def final(self) -> bool:
        return self.end == len(self.data)

    def byte(self, index: int) -> int:
        """The byte offset of the window's character ``index``."""
        if self.ascii:
            return self.start + index
        return self.start + len(self.text[:index].encode("utf-8"))

    def skip_space(self) -> str:
        """Skip whitespace, moving the window on when little of it is left; the next character
        ("" at the end)."""
        self.index = _SPACE.match(self.text, self.index).end()
        if not self.final and len(self.text) - self.index < _WINDOW // 4:
            self.load(self.byte(self.index))
            self.index = _SPACE.match(self.text, 0).end()
        return self.text[self.index : self.index + 1]

    def token(self, pattern: re.Pattern[str], pattern_bytes: re.Pattern[bytes]) -> bool:
        """Consume one scalar (or a string with ``scanstring``) at the cursor; False if none."""
        text, index = self.text, self.index
        if text[index] == '"':
            try:
                self.index = json.decoder.scanstring(text, index + 1)[1]
                return True
            except ValueError:
                if self.final:
                    return False
        else:
            found = pattern.match(text, index)
            # Within 2 characters of the window's end, a number may go on past it ("1." then
            # "5", "1e" then "+3"): only a match that ends before that is known whole.
            if found is not None and (found.end() < len(text) - 2 or self.final):
                self.index = found.end()
                return True
            if self.final:
                return False
        # The token runs past the window: match it on the bytes, and load the window after it.
        pattern_bytes = _STRING_BYTES if text[index] == '"' else pattern_bytes
        found_bytes = pattern_bytes.match(self.data, self.byte(index))
        if found_bytes is None:
            return False
        self.load(found_bytes.end())
        return True

    def container(self) -> bool:
        """Consume a whole object or array at the cursor if it ends inside the window."""
        try:
            self.index = _CHECKER.raw_decode(self.text, self.index)[1]
        except (ValueError, RecursionError):
            return False
        return True


def _is_json_in_place(data: memoryview) -> bool:
    """:func:`_is_json` for a big payload, holding at most a window of it as text: containers
    that fit in the window are parsed by ``json`` itself (values dropped as they are made),
    bigger ones are walked into one level at a time."""
    text = _Text(data)
    open_containers: list[str] = []  # the closing character of each one walked into
    while True:
        first = text.skip_space()
        # A value is expected here.
        if open_containers and first not in "{[":
            run = _ARRAY_RUN if open_containers[-1] == "]" else _OBJECT_RUN
            text.index = run.match(text.text, text.index).end()
            first = text.skip_space()
        if first in "{[" and first and text.container():
            pass
        elif first in "{[" and first:
            text.index += 1
            closing = "}" if first == "{" else "]"
            following = text.skip_space()
            if following == closing:
                text.index += 1
            else:
                open_containers.append(closing)
                if closing == "}" and not _object_key(text):
                    return False
                continue
        elif not first or not text.token(_SCALAR, _SCALAR_BYTES):
            return False
        # After a value: a comma, the end of containers, or the end of the payload.
        while True:
            following = text.skip_space()
            if not open_containers:
                return following == ""
            if following == ",":
                text.index += 1
                if open_containers[-1] == "}" and not _object_key(text):
                    return False
                break
            if following != open_containers[-1]:
                return False
            text.index += 1
            open_containers.pop()


def _object_key(text: _Text) -> bool:
    """Consume ``"key" :`` of an object member."""
    if text.skip_space() != '"' or not text.token(_SCALAR, _SCALAR_BYTES):
        return False
    if text.skip_space() != ":":
        return False
    text.index += 1
    return True


def describe_corpus(
    corpus: Corpus, broadcast_window: float = DEFAULT_WINDOW_SECONDS
) -> CorpusStats:
    """Count and measure what ``corpus`` holds; broadcasts are grouped within
    ``broadcast_window`` seconds (:func:`wsztune.fanout.detect_fanout`)."""
    # Straight from the packed buffer, each payload a view of it: a Message per message would
    # copy every payload out, the whole of a big one (the corpus's one copy is enough).
    packed = corpus.packed
    data = memoryview(packed.data)
    sizes = sorted(end - start for start, end in map(packed.bounds, range(len(packed))))
    counts = {SERVER: 0, CLIENT: 0}
    volumes = {SERVER: 0, CLIENT: 0}
    json_count = text_count = binary_count = 0
    for index in range(len(packed)):
        start, end = packed.bounds(index)
        direction = packed.keys[packed.stream_of[index]][1]
        counts[direction] += 1
        volumes[direction] += end - start
        if not packed.text[index]:
            binary_count += 1
        elif _is_json(data[start:end]):
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
