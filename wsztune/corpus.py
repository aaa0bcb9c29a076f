"""Reading a corpus of WebSocket messages: JSONL, plain lines, records, a directory, a HAR capture.

Every reader streams its input, checks it, and either returns a :class:`Corpus` or raises a
:class:`~wsztune.errors.CorpusError` that names the file, the line (or item) and what to do.
Nothing here compresses anything.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import io
import json
import math
import operator
import os
import random
import re
import stat
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from wsztune.errors import CorpusError
from wsztune.schema import looks_like_results

SERVER = "server"  # sent by the server: server-to-client
CLIENT = "client"  # sent by the client: client-to-server
DIRECTIONS = (SERVER, CLIENT)

RECORDS_HEADER_KEY = "wsztune"
RECORDS_HEADER_VALUE = "records/1"
_HEADER_TEXT = f'{{"{RECORDS_HEADER_KEY}":"{RECORDS_HEADER_VALUE}"}}'
# A records line's payload, exactly one of: "text" (a text frame, as a JSON string), "base64" (a
# binary frame) or "text_base64" (a text frame given as its UTF-8 bytes in base64: how
# `wsztune record` writes text that JSON escaping would blow up, such as control characters,
# which take 6 bytes each as \u0001, so that a line is never more than 4/3 of its message).
TEXT_BASE64 = "text_base64"
RECORD_PAYLOAD_KEYS = ("text", "base64", TEXT_BASE64)

FORMATS = ("jsonl", "lines", "records", "dir", "har", "json")
_FORMAT_BY_SUFFIX = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".txt": "lines",
    ".log": "lines",
    ".har": "har",
}
# One connection name for corpora that carry none: all their messages form one server stream.
DEFAULT_CONNECTION = "default"

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Message:
    """One WebSocket message as it was sent, before compression.

    ``t`` is when it was sent, in seconds since the start of the capture, when the corpus says
    (a records line's ``"t"``, a HAR frame's ``time``); ``None`` otherwise. Only rates use it,
    never the codec, and equality ignores it: the same message sent later is the same message.
    """

    payload: bytes
    is_text: bool = True
    connection: str = DEFAULT_CONNECTION
    direction: str = SERVER
    t: float | None = field(default=None, compare=False)


# One copy of the corpus ------------------------------------------------------------------------
#
# A corpus lives in one contiguous buffer with a few arrays of numbers beside it, never as a list of
# Python objects per message. Forked sweep workers then share it page for page: a list of bytes
# objects is copied into every worker as soon as the worker touches a reference count, which is on
# every page of it (issue 12: 268 + 314 + 314 MiB for a 200 MiB corpus and two workers). Messages
# and streams are views, made on demand: :class:`Message` objects for the code that wants them,
# memoryview slices (no copy at all) for the codec's hot loops.


class Packed:
    """Every payload of a corpus in one buffer, in corpus order, with per-message numbers.

    ``data`` holds the payloads back to back; message ``i`` is ``data[ends[i - 1]:ends[i]]``
    (``ends[-1]`` is 0); ``stream_of[i]`` indexes ``keys``, the (connection, direction) pairs in
    order of first appearance; ``text[i]`` is 1 for a text frame. ``times[i]`` is message
    ``i``'s ``t`` when every message has one; ``times`` is empty when none has (readers refuse or
    drop a corpus where only some have, so a partial array never means anything).
    """

    __slots__ = ("data", "ends", "stream_of", "text", "times", "keys", "_stream_index")

    def __init__(self) -> None:
        self.data = bytearray()
        self.ends = array("q")
        self.stream_of = array("I")
        self.text = bytearray()
        self.times = array("d")
        self.keys: list[tuple[str, str]] = []
        self._stream_index: dict[tuple[str, str], int] = {}

    def add(
        self,
        payload: bytes | bytearray | memoryview,
        is_text: bool = True,
        connection: str = DEFAULT_CONNECTION,
        direction: str = SERVER,
        t: float | None = None,
    ) -> None:
        """Append one message (its bytes are copied into the buffer)."""
        self.data += payload
        self.close_message(is_text, connection, direction, t)

    def close_message(
        self,
        is_text: bool = True,
        connection: str = DEFAULT_CONNECTION,
        direction: str = SERVER,
        t: float | None = None,
    ) -> None:
        """End a message whose bytes a reader has already appended to ``data``: one big
        message is read straight into the buffer, never held whole anywhere else first."""
        key = (connection, direction)
        stream = self._stream_index.get(key)
        if stream is None:
            stream = self._stream_index[key] = len(self.keys)
            self.keys.append(key)
        self.ends.append(len(self.data))
        self.stream_of.append(stream)
        self.text.append(1 if is_text else 0)
        if t is not None:
            self.times.append(t)

    @property
    def timed(self) -> bool:
        """Whether every message carries its ``t``."""
        return len(self.times) == len(self.ends) > 0

    def __len__(self) -> int:
        return len(self.ends)

    def bounds(self, index: int) -> tuple[int, int]:
        """(start, end) of message ``index`` in :attr:`data`."""
        return (self.ends[index - 1] if index else 0), self.ends[index]

    def message(self, index: int) -> Message:
        """Message ``index`` as a :class:`Message` (its payload copied out as bytes)."""
        start, end = self.bounds(index)
        connection, direction = self.keys[self.stream_of[index]]
        payload = bytes(memoryview(self.data)[start:end])
        t = self.times[index] if self.timed else None
        return Message(payload, bool(self.text[index]), connection, direction, t)


def _sequence_eq(ours: Sequence[object], other: object) -> bool:
    if not isinstance(other, Sequence) or isinstance(other, str | bytes | bytearray):
        return NotImplemented  # type: ignore[return-value]
    return len(ours) == len(other) and all(a == b for a, b in zip(ours, other, strict=True))


class MessageView(Sequence[Message]):
    """A corpus's messages as a read-only sequence of :class:`Message`, each made when asked for.

    Compares equal to a list of the same messages.
    """

    __slots__ = ("_packed",)

    def __init__(self, packed: Packed) -> None:
        self._packed = packed

    def __len__(self) -> int:
        return len(self._packed)

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        if isinstance(index, slice):
            return [self._packed.message(i) for i in range(len(self))[index]]
        count = len(self)
        if index < 0:
            index += count
        if not 0 <= index < count:
            raise IndexError("message index out of range")
        return self._packed.message(index)

    def __iter__(self) -> Iterator[Message]:
        return map(self._packed.message, range(len(self)))

    def __eq__(self, other: object) -> bool:
        return _sequence_eq(self, other)

    def __repr__(self) -> str:
        return f"<{len(self)} messages>"


class PayloadView(Sequence[bytes]):
    """One stream's payloads as a read-only sequence of bytes, each copied out when asked for.

    The codec loops use :meth:`Stream.buffers` instead, which copies nothing.
    """

    __slots__ = ("_data", "_starts", "_ends")

    def __init__(self, data: bytearray | bytes, starts: array, ends: array) -> None:
        self._data, self._starts, self._ends = data, starts, ends

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        return bytes(memoryview(self._data)[self._starts[index] : self._ends[index]])

    def __iter__(self) -> Iterator[bytes]:
        return map(bytes, self.buffers())

    def buffers(self) -> Iterator[memoryview]:
        """Each payload as a memoryview slice of the corpus buffer: no copy."""
        return map(memoryview(self._data).__getitem__, map(slice, self._starts, self._ends))

    def sizes(self) -> Iterator[int]:
        """Each payload's size, without slicing anything."""
        return map(operator.sub, self._ends, self._starts)

    def __eq__(self, other: object) -> bool:
        return _sequence_eq(self, other)

    def __repr__(self) -> str:
        return f"<{len(self)} payloads>"


class Stream:
    """The messages one side of one connection sent, in order: what one compressor sees.

    Built from a list of payloads (``Stream("c1", "server", [b"...", ...])``) or, by
    :meth:`Corpus.streams`, as a view of the corpus buffer that holds no per-message objects.
    """

    __slots__ = ("connection", "direction", "_payloads")

    def __init__(
        self, connection: str, direction: str, payloads: Sequence[bytes] | PayloadView
    ) -> None:
        self.connection = connection
        self.direction = direction
        self._payloads = payloads

    @property
    def payloads(self) -> Sequence[bytes]:
        """The payloads, in order (bytes; a view of the corpus copies each one out on demand)."""
        return self._payloads

    def buffers(self) -> Iterable[bytes | memoryview]:
        """The payloads for the codec: memoryview slices of the corpus buffer, never copied."""
        if isinstance(self._payloads, PayloadView):
            return self._payloads.buffers()
        return self._payloads

    def sizes(self) -> Iterable[int]:
        """Each payload's size in bytes."""
        if isinstance(self._payloads, PayloadView):
            return self._payloads.sizes()
        return map(len, self._payloads)

    def __len__(self) -> int:
        return len(self._payloads)

    @property
    def raw_bytes(self) -> int:
        """Sum of the uncompressed payload sizes."""
        return sum(self.sizes())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Stream):
            return NotImplemented
        return (self.connection, self.direction) == (other.connection, other.direction) and (
            list(self.payloads) == list(other.payloads)
        )

    def __repr__(self) -> str:
        return f"Stream({self.connection!r}, {self.direction!r}, <{len(self)} payloads>)"


class Corpus:
    """A loaded corpus: its messages in order, and where they came from.

    The messages are stored once, packed (:class:`Packed`); ``messages`` is a view of them.
    ``Corpus(path, format, sha256, messages)`` still accepts a list of :class:`Message`.
    """

    def __init__(
        self,
        path: str,
        format: str,  # noqa: A002 - the field's name since the first results file
        sha256: str,
        messages: Iterable[Message] | Packed = (),
        sampled: dict[str, int] | None = None,
    ) -> None:
        self.path = path
        self.format = format
        self.sha256 = sha256
        self.sampled = sampled
        self.packed = messages if isinstance(messages, Packed) else _pack(messages)

    @property
    def messages(self) -> MessageView:
        """The messages in order, each a :class:`Message` made on demand."""
        return MessageView(self.packed)

    @messages.setter
    def messages(self, messages: Iterable[Message]) -> None:
        self.packed = _pack(messages)

    @property
    def raw_bytes(self) -> int:
        """Sum of all payload sizes, every direction."""
        return len(self.packed.data)

    @property
    def connections(self) -> list[str]:
        """Connection names in order of first appearance."""
        return list(dict.fromkeys(connection for connection, _ in self.packed.keys))

    def streams(self) -> list[Stream]:
        """One stream per (connection, direction), in order of first appearance.

        Context takeover never crosses a stream: each one gets its own compressor. The streams
        are views of the corpus buffer: no payload is copied.
        """
        packed = self.packed
        if len(packed.keys) == 1:  # the common case: every message in one stream
            starts = array("q", [0])
            starts.extend(packed.ends[:-1])
            return [Stream(*packed.keys[0], PayloadView(packed.data, starts, packed.ends))]
        bounds = [(array("q"), array("q")) for _ in packed.keys]
        start = 0
        for stream, end in zip(packed.stream_of, packed.ends, strict=True):
            starts, ends = bounds[stream]
            starts.append(start)
            ends.append(end)
            start = end
        return [
            Stream(connection, direction, PayloadView(packed.data, starts, ends))
            for (connection, direction), (starts, ends) in zip(packed.keys, bounds, strict=True)
        ]

    def describe(self) -> dict[str, object]:
        """Plain metadata for a results file."""
        directions = sorted({direction for _, direction in self.packed.keys})
        return {
            "path": self.path,
            "name": corpus_name(self.path),
            "format": self.format,
            "sha256": self.sha256,
            "messages": len(self.packed),
            "raw_bytes": self.raw_bytes,
            "connections": len(self.connections),
            "directions": directions,
            "sampled": self.sampled,
        }

    def __repr__(self) -> str:
        return f"Corpus({self.path!r}, {self.format!r}, {len(self.packed)} messages)"


def _pack(messages: Iterable[Message]) -> Packed:
    packed = Packed()
    for message in messages:
        packed.add(
            message.payload, message.is_text, message.connection, message.direction, message.t
        )
    return packed


# Where a reader reads: the file, or what a pipe held ---------------------------------------------


@dataclass(frozen=True)
class Input:
    """The bytes a reader reads: ``path`` itself, or, when ``path`` is a pipe, a FIFO or a
    terminal (``/dev/stdin``, ``<(zcat x.gz)``), ``content``: all it gave, read once.

    A pipe gives its bytes once: every sniff and probe before the real read (the results
    signature, the first line, the format) consumed them, and the reader then started mid-line
    (issue 29: 2,872 of 3,000 messages, exit code 0). They all read ``content`` instead.
    """

    path: Path
    content: bytes | None = None

    @classmethod
    def of(cls, path: Path) -> Input:
        """``path`` to read as often as needed, or the whole of a pipe's bytes, read now."""
        if path.is_dir() or _rereadable(path):
            return cls(path)
        return cls(path, _read_once(path))

    def open(self) -> BinaryIO:
        """A binary stream from the first byte (a view of ``content``: no copy)."""
        if self.content is not None:
            return io.BytesIO(self.content)
        return self.path.open("rb")

    def read_bytes(self) -> bytes:
        """Every byte."""
        return self.content if self.content is not None else self.path.read_bytes()

    def size(self) -> int:
        """The size in bytes."""
        return len(self.content) if self.content is not None else self.path.stat().st_size


def _rereadable(path: Path) -> bool:
    """A file (or block device) that gives the same bytes on every open; not a pipe or FIFO."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return True  # the reader reports the real error when it opens it
    return stat.S_ISREG(mode) or stat.S_ISBLK(mode) or stat.S_ISDIR(mode)


def _read_once(path: Path) -> bytes:
    """All of a pipe's bytes (a terminal is refused: reading it would wait for Ctrl-D)."""
    try:
        with path.open("rb", buffering=0) as stream:
            if stream.isatty():
                raise CorpusError(
                    path,
                    "is a terminal, not a corpus: pipe a corpus into it "
                    "(cat corpus.jsonl | wsztune ...) or give the corpus's path",
                )
            return stream.readall()
    except OSError as error:
        raise CorpusError(path, f"cannot read: {error.strerror or error}") from None


def corpus_name(path: str | os.PathLike[str]) -> str:
    """A short name for file names: ``chat`` for ``corpora/chat.records.jsonl``."""
    name = Path(path).name
    for suffix in (".records.jsonl", ".jsonl", ".ndjson", ".txt", ".log", ".har"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name or "corpus"


def detect_format(path: Path | Input) -> str:
    """Choose a reader from the path: a directory, its suffix, or a records header line.

    A line file whose first line is a wsztune header is records, whatever its name; one whose
    first line looks like a record but has no header is refused, naming both ways out: the
    lines are either records (add the header, or ``--format records``) or messages that happen
    to look like records (``--format jsonl``). A guess either way could be a wrong answer with
    exit code 0; the user knows in one word. A name that says nothing (``/dev/stdin``, a FIFO)
    is read as records when its first line is a records header, and refused otherwise.
    """
    source = path if isinstance(path, Input) else Input(Path(path))
    path = source.path
    if path.is_dir():
        return "dir"
    fmt = _FORMAT_BY_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        first = _first_line(source)
        if first is not None and _is_records_header(first[1]):
            return "records"
        raise CorpusError(
            path,
            f"cannot tell the format from the name; pass --format ({', '.join(FORMATS)})",
        )
    if fmt in ("jsonl", "lines"):
        first = _first_line(source)
        if first is not None and _is_records_header(first[1]):
            return "records"
        if fmt == "lines" and first is not None and first[1].strip() in (b"[", b"{", b"[{"):
            # A lone bracket is no text message: a JSON document, one line per message wrong.
            raise CorpusError(
                path,
                "this file starts a JSON document, which --format lines would read one line "
                "per message: pass --format json for an array of messages (or --format lines "
                "if every line really is a message)",
                line=first[0],
            )
        if first is not None and _looks_like_record(first[1]):
            raise CorpusError(
                path,
                "this line looks like a record (connection/direction and text/base64) but the "
                f"file has no records header: add {_HEADER_TEXT} as its first line or pass "
                "--format records; if these objects are your messages, "
                f"pass --format {fmt}",
                line=first[0],
            )
    return fmt


# How much of a first line the sniffers read: a header or a record's first keys fit easily, and a
# corpus of one 2 GiB message is never read whole just to choose its reader.
_SNIFF_BYTES = 1 << 20
_HEADER_PREFIX = re.compile(rb'^\s*\{\s*"' + RECORDS_HEADER_KEY.encode() + rb'"\s*:')
_RECORD_PREFIX = re.compile(rb'^\s*\{\s*"(?:connection|direction)"\s*:')


def _first_line(source: Input) -> tuple[int, bytes] | None:
    """(line number, first bytes) of the first non-blank line, at most :data:`_SNIFF_BYTES`."""
    try:
        with source.open() as stream:
            number = 0
            while True:
                raw = stream.readline(_SNIFF_BYTES)
                if not raw:
                    return None
                number += 1
                if raw.strip():
                    return number, raw
                # A blank line longer than the limit is only read in pieces: count it once.
                while not raw.endswith(b"\n") and raw:
                    raw = stream.readline(_SNIFF_BYTES)
    except OSError:
        return None  # the reader itself reports the real error


def _parse_small(raw: bytes) -> object:
    """The JSON value of a whole line, or None when it is not one (or was cut at the limit)."""
    if len(raw) >= _SNIFF_BYTES and not raw.endswith(b"\n"):
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def _is_records_header(raw: bytes) -> bool:
    """A first line that is a wsztune header object, whichever version it names."""
    value = _parse_small(raw)
    if isinstance(value, dict):
        return RECORDS_HEADER_KEY in value
    return value is None and bool(_HEADER_PREFIX.match(raw))


def _looks_like_record(raw: bytes) -> bool:
    """A line shaped like a records line: a connection or direction, and one text or base64."""
    value = _parse_small(raw)
    if value is None:
        # A first line too long to parse: its first key is enough (writers put them first).
        return bool(_RECORD_PREFIX.match(raw))
    return is_record_shaped(value)


def is_record_shaped(value: object) -> bool:
    """An object with ``connection`` or a ``direction`` of server/client, and exactly one of
    ``text``, ``base64`` and ``text_base64`` (a string): what a records line holds."""
    if not isinstance(value, dict):
        return False
    payloads = [value[key] for key in RECORD_PAYLOAD_KEYS if key in value]
    if len(payloads) != 1:
        return False
    return isinstance(payloads[0], str) and (
        "connection" in value or value.get("direction") in DIRECTIONS
    )


def corpus_kind(path: str | os.PathLike[str]) -> str | None:
    """What kind of corpus ``path`` looks like (``"a records corpus"``), or None.

    For the reading commands: a corpus given where a saved run was expected is named as one,
    rather than reported as a damaged results file.
    """
    path = Path(path)
    if path.is_dir():
        return "a directory (a corpus of one message per file?)"
    if not _rereadable(path):
        return None  # a pipe the caller has read already: nothing left to look at
    source = Input(path)
    if looks_like_results(_read_head(source)):
        return None
    fmt = _FORMAT_BY_SUFFIX.get(path.suffix.lower())
    first = _first_line(source)
    if first is None:
        return None
    raw = first[1]
    if _is_records_header(raw) or _looks_like_record(raw):
        return "a records corpus"
    if fmt == "har" or raw.lstrip()[:1] == b"[":
        return "a HAR capture" if fmt == "har" else "a JSON array of messages (a corpus)"
    if fmt == "lines":
        return "a corpus of text lines"
    if fmt == "jsonl" and _parse_small(raw) is not None:
        return "a JSONL corpus (one message per line)"
    return None  # a JSON object in a .json file: a foreign document, not a corpus


def _refuse_results(path: Path, head: bytes) -> None:
    if looks_like_results(head):
        raise CorpusError(
            path,
            "is a wsztune results file (a saved run), not a corpus: read it with "
            f"`wsztune table --results {path}` (or recommend, plot); a corpus holds messages",
        )


def _read_head(source: Input, size: int = 4096) -> bytes:
    try:
        with source.open() as stream:
            return stream.read(size)
    except OSError:
        return b""  # the reader itself reports the real error


def load(
    path: str | os.PathLike[str],
    fmt: str | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> Corpus:
    """Read the corpus at ``path`` (format from ``fmt`` or guessed from the path); ``-`` is
    standard input, as for other command-line tools."""
    path = Path("/dev/stdin") if os.fspath(path) == "-" else Path(path)
    if not path.exists():
        raise CorpusError(path, "no such file or directory")
    if fmt is not None and fmt not in FORMATS:
        raise CorpusError(path, f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    source = Input.of(path)  # a pipe is read here, whole and once
    if not path.is_dir():
        # Whatever the format asked for: a saved run read as messages is a wrong answer.
        _refuse_results(path, _read_head(source))
    guessed = fmt is None
    fmt = fmt or detect_format(source)
    if fmt == "dir":
        if not path.is_dir():
            raise CorpusError(path, "--format dir needs a directory")
        messages, digest = _read_directory(path, progress)
    elif path.is_dir():
        raise CorpusError(path, f"is a directory, but --format {fmt} reads a file")
    elif fmt == "har":
        messages, digest = _read_har(source)
    elif fmt == "json":
        messages, digest = _read_json_array(source)
    else:
        if fmt in ("jsonl", "lines"):
            _refuse_misread_lines(source, fmt)
        messages, digest = _read_lines(source, fmt, progress, guessed=guessed)
        if fmt == "jsonl":
            _refuse_one_array(path, messages)
    if not messages:
        raise CorpusError(path, _empty_reason(source, fmt))
    return Corpus(str(path), fmt, digest, messages)


def _empty_reason(source: Input, fmt: str) -> str:
    if fmt == "dir":
        return "no messages: the directory holds no files (one file is one message)"
    if source.size() == 0:
        return "no messages: the file is empty"
    return "no messages: the file holds only blank lines or a header"


def _refuse_misread_lines(source: Input, fmt: str) -> None:
    """Refuse line files that ``--format jsonl``/``lines`` would count wrongly, even when asked:
    a records header, which is never a message."""
    path = source.path
    first = _first_line(source)
    if first is None:
        return
    number, raw = first
    if _is_records_header(raw):
        raise CorpusError(
            path,
            f"this is a records header, which --format {fmt} would count as a message: "
            "pass --format records (or no --format)",
            line=number,
        )


def _refuse_one_array(path: Path, messages: Packed) -> None:
    """A JSONL file of one message that is a JSON array: almost surely an array of messages."""
    if len(messages) == 1 and bytes(messages.data[:64]).lstrip()[:1] == b"[":
        raise CorpusError(
            path,
            "the file is one JSON array on one line, which JSONL reads as one message: pass "
            "--format json for one message per element (or --format lines if it is one message)",
        )


# JSON array: one message per element ----------------------------------------------------------


def _read_json_array(source: Input) -> tuple[Packed, str]:
    """A file holding one JSON array: each element is one text message.

    A string element is the message's text; any other value (an object, an array, a number)
    is the message as JSON, written compactly (``separators=(",", ":")``, non-ASCII kept), the
    form ``JSON.stringify`` and most servers send. The sizes are those of that form: a file
    pretty-printed for reading does not inflate them.
    """
    path = source.path
    try:
        raw = source.read_bytes()
    except OSError as error:
        raise CorpusError(path, f"cannot read: {error.strerror or error}") from None
    hint = "--format json reads a file holding one JSON array, one message per element"
    try:
        document = json.loads(raw)
    except UnicodeDecodeError:
        raise CorpusError(path, f"not valid UTF-8; {hint}") from None
    except RecursionError:
        raise CorpusError(path, f"JSON nested too deeply for Python's parser; {hint}") from None
    except ValueError as error:
        line = getattr(error, "lineno", None)
        reason = getattr(error, "msg", str(error)).removesuffix(" at")
        more = ""
        if reason == "Extra data":  # a second value after the first: JSONL, records, or junk
            first = _first_line(source)
            records = first is not None and _is_records_header(first[1])
            kind = "records: --format records" if records else "JSONL: --format jsonl"
            more = f" (one JSON value per line is {kind})"
        raise CorpusError(path, f"not valid JSON ({reason}); {hint}{more}", line=line) from None
    if not isinstance(document, list):
        if isinstance(document, dict) and "log" in document:
            har = 'holds an object with a "log", not an array: a HAR? pass --format har'
            raise CorpusError(path, har)
        raise CorpusError(path, f"holds a JSON {_json_kind(document)}, not an array; {hint}")
    if document and all(is_record_shaped(item) for item in document):
        raise CorpusError(
            path,
            "every element looks like a record (connection/direction and text/base64): write "
            f"them one per line after a {_HEADER_TEXT} "
            "header line and read that with --format records",
        )
    messages = Packed()
    for index, item in enumerate(document):
        if isinstance(item, str):
            payload = _encode_text(path, item, "a string element", where=f"[{index}]")
        else:
            try:
                text = json.dumps(item, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
            except ValueError:  # NaN or Infinity: not JSON a peer would send
                raise CorpusError(path, "holds NaN or Infinity", where=f"[{index}]") from None
            payload = _encode_text(path, text, "the element", where=f"[{index}]")
        messages.add(payload)
    return messages, hashlib.sha256(raw).hexdigest()


def _json_kind(value: object) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "number" if not isinstance(value, bool) else "boolean"


# Line formats: jsonl, lines, records --------------------------------------------------------------


# Lines are read this many bytes at a time; a longer one goes straight into the corpus buffer,
# piece by piece (:class:`_LongLine`), so that a line of 2 GiB is never also a bytes object of
# 2 GiB, nor the join of its pieces, nor a copy without its line ending.
LINE_PIECE = 1 << 20
# The longest line wsztune parses as JSON. Parsing makes Python objects beside the line: a str of
# it, then its values (objects are dropped as they are parsed, see _parse_json, but an array
# keeps a pointer per element, and a string per string element: up to several times the line).
# A longer JSONL line is refused, with the way to read it unchecked (--format lines: the same
# text message for the sweep). A records line holds one message as text or base64 and is parsed
# whole: up to 64 MiB too (a 32 MiB binary message in base64, the most
# `wsztune record --max-message-size` allows).
MAX_JSONL_LINE = 64 << 20
MAX_RECORDS_LINE = 64 << 20


@dataclass(frozen=True)
class _LongLine:
    """A line longer than :data:`LINE_PIECE`, read into the buffer: it is ``data[start:]``."""

    start: int


def _strip_ending(raw: bytes) -> bytes:
    if raw.endswith(b"\n"):
        return raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
    if raw.endswith(b"\r"):
        return raw[:-1]  # a CRLF file cut after its last "\r": still a line ending
    return raw


def _iter_lines(
    source: Input, digest: hashlib._Hash, progress: ProgressCallback | None, sink: bytearray
) -> Iterator[tuple[int, bytes | _LongLine]]:
    """Yield (line number, line without its ending), hashing the file as it goes.

    A line longer than :data:`LINE_PIECE` is appended to ``sink`` (the corpus buffer) as it is
    read and yielded as a :class:`_LongLine`; the caller keeps it there or takes it out again.
    """
    path = source.path
    total = source.size()
    done = 0
    number = 0
    try:
        with source.open() as stream:
            while piece := stream.readline(LINE_PIECE):
                number += 1
                digest.update(piece)
                done += len(piece)
                if progress is not None and number % 4096 == 0:
                    progress(done, total)
                if len(piece) < LINE_PIECE or piece.endswith(b"\n"):
                    yield number, _strip_ending(piece)
                    continue
                start = len(sink)
                sink += piece
                while not piece.endswith(b"\n") and (piece := stream.readline(LINE_PIECE)):
                    digest.update(piece)
                    done += len(piece)
                    sink += piece
                    if progress is not None:
                        progress(done, total)
                ending = 2 if sink.endswith(b"\r\n") else 1 if sink[-1:] in (b"\n", b"\r") else 0
                if ending:
                    del sink[len(sink) - ending :]
                yield number, _LongLine(start)
    except OSError as error:
        raise CorpusError(path, f"cannot read: {error.strerror or error}") from None
    if progress is not None:
        progress(done, total)


_NOT_SPACE = re.compile(rb"[^ \t\n\r\x0b\x0c]")


def _long_line(path: Path, number: int, fmt: str, messages: Packed, start: int) -> bytes | None:
    """Handle a line :func:`_iter_lines` left in the buffer: keep it as a message (``lines``),
    drop it (blank), or take it out for the JSON formats (within their limit; refused above)."""
    data = messages.data
    size = len(data) - start
    if _NOT_SPACE.search(data, start) is None:
        del data[start:]
        return None
    if fmt == "lines":
        _check_utf8(path, number, data, start)
        messages.close_message()
        return None
    limit = MAX_JSONL_LINE if fmt == "jsonl" else MAX_RECORDS_LINE
    if size > limit:
        del data[start:]
        hint = (
            "read it with --format lines: the same text message for the sweep, its JSON "
            "left unchecked"
            if fmt == "jsonl"
            else "a records line holds one message; record big messages with "
            "wsztune record (at most 32 MiB each)"
        )
        raise CorpusError(
            path,
            f"a line of {size:,} bytes, over the {limit >> 20} MiB wsztune parses as JSON "
            f"(parsing takes several times a line's size in memory); {hint}",
            line=number,
        )
    raw = bytes(memoryview(data)[start:])
    del data[start:]
    return raw


def _check_utf8(path: Path, number: int, data: bytearray, start: int) -> None:
    """Check ``data[start:]`` is UTF-8, a piece at a time: never decoded whole."""
    position = _first_bad_utf8(data, start)
    if position is not None:
        del data[start:]
        raise CorpusError(
            path,
            f"not valid UTF-8 at byte {position} of the line; text messages must be "
            "UTF-8 (use a directory or records with base64 for binary messages)",
            line=number,
        )


def _first_bad_utf8(data: bytes | bytearray, start: int = 0) -> int | None:
    """Where ``data[start:]`` stops being UTF-8 (1 for its first byte), or None: checked a
    piece at a time, never decoded whole into a ``str``."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    with memoryview(data) as view:
        for offset in range(start, len(data), LINE_PIECE):
            try:
                decoder.decode(view[offset : offset + LINE_PIECE])
            except UnicodeDecodeError as error:
                return offset - start + error.start + 1
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return len(data) - start
    return None


def _decode_utf8(path: Path, number: int, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CorpusError(
            path,
            f"not valid UTF-8 at byte {error.start + 1} of the line; text messages must be "
            "UTF-8 (use a directory or records with base64 for binary messages)",
            line=number,
        ) from None


def _discard(value: object) -> None:
    return None


def _discard_pairs(pairs: list[tuple[str, object]]) -> dict[str, object] | None:
    """An object of a long JSONL line, dropped once parsed, unless it may be a record (it has
    ``connection`` or ``direction``): records without their header must still be recognised."""
    if any(key in ("connection", "direction") for key, _ in pairs):
        return dict(pairs)
    return None


UTF8_BOM = b"\xef\xbb\xbf"
# CPython refuses to turn more digits than this into an int (sys.get_int_max_str_digits):
# such a number is valid JSON, and a corpus line is kept as written, so it stays text here.
_INT_DIGITS = 4300


def _int_or_digits(digits: str) -> int | str:
    """A JSON integer as an int, or as its digits when CPython would refuse the conversion."""
    return int(digits) if len(digits) < _INT_DIGITS else digits


def _parse_json(path: Path, number: int, text: str, hint: str, *, discard: bool = False) -> object:
    """``json.loads(text)``, or a refusal naming the line. With ``discard`` (a long line only
    checked), objects and numbers are dropped as soon as they are parsed, so that checking
    costs less than the whole document's Python objects."""
    try:
        if discard:
            return json.loads(
                text, object_pairs_hook=_discard_pairs, parse_int=_discard, parse_float=_discard
            )
        return json.loads(text, parse_int=_int_or_digits)
    except RecursionError:
        # json's scanner recurses per nesting level: thousands of "[" exhaust the stack.
        raise CorpusError(
            path, f"JSON nested too deeply for Python's parser; {hint}", line=number
        ) from None
    except ValueError as error:
        # json's messages for some errors end in " at", expecting the position to follow.
        reason = getattr(error, "msg", str(error)).removesuffix(" at")
        column = getattr(error, "colno", None)
        where = f" at column {column}" if column else ""
        raise CorpusError(path, f"not valid JSON ({reason}{where}); {hint}", line=number) from None


def _read_lines(
    source: Input, fmt: str, progress: ProgressCallback | None, *, guessed: bool = False
) -> tuple[Packed, str]:
    """Read a line format. ``guessed``: the format came from the name, so a JSONL file every
    line of which is a record (its first line too long for :func:`detect_format` to judge) is
    refused like any records file without its header."""
    path = source.path
    digest = hashlib.sha256()
    first_record_like: int | None = None
    all_record_like = fmt == "jsonl" and guessed
    messages = Packed()  # streamed in: no object is kept per message
    add = messages.add
    header_seen = False
    # Rates need every message's time: a file where only some records carry "t" is refused,
    # naming the first line that breaks the pattern, rather than giving rates that mean nothing.
    timed_line: int | None = None
    untimed_line: int | None = None
    for number, line in _iter_lines(source, digest, progress, messages.data):
        if isinstance(line, _LongLine):
            taken = _long_line(path, number, fmt, messages, line.start)
            if taken is None:
                continue
            line = taken
        raw = line
        if number == 1 and raw[:3] == UTF8_BOM:
            raw = raw[3:]  # an editor's byte-order mark: no part of the first message
        if not raw.strip():
            continue  # blank lines separate nothing and carry no message
        text = _decode_utf8(path, number, raw)
        if fmt == "lines":
            add(raw)
        elif fmt == "jsonl":
            value = _parse_json(
                path, number, text, _jsonl_hint(number, text), discard=len(raw) > LINE_PIECE
            )
            if all_record_like:
                all_record_like = is_record_shaped(value)
                first_record_like = first_record_like or number
            # The payload is the line exactly as written: re-serializing would change the sizes.
            add(raw)
        else:
            record = _parse_json(path, number, text, "each line of a records corpus is one object")
            if isinstance(record, dict) and RECORDS_HEADER_KEY in record:
                _check_header(path, number, record, first=not header_seen)
                header_seen = True
                continue
            header_seen = True
            message = _record_message(path, number, record)
            if message.t is None:
                untimed_line = untimed_line or number
            else:
                timed_line = timed_line or number
            if timed_line is not None and untimed_line is not None:
                raise CorpusError(
                    path,
                    f'give every record a "t" (seconds since the start) or none: line '
                    f"{timed_line} has one, line {untimed_line} has none",
                    line=number,
                )
            add(message.payload, message.is_text, message.connection, message.direction, message.t)
    if all_record_like and first_record_like is not None:
        raise CorpusError(
            path,
            f"every line looks like a record but the file has no records header: add "
            f"{_HEADER_TEXT} as its first line or pass --format records; if these objects are "
            "your messages, pass --format jsonl",
            line=first_record_like,
        )
    return messages, digest.hexdigest()


def _jsonl_hint(number: int, text: str) -> str:
    if number == 1 and text.lstrip().startswith("["):
        return "the file looks like one JSON array: pass --format json (one message per element)"
    return "each line of a JSONL corpus is one JSON message (use --format lines for text)"


def _check_header(path: Path, number: int, header: dict[str, object], *, first: bool) -> None:
    """A records header names the version this reader knows, and comes before every record."""
    version = header[RECORDS_HEADER_KEY]
    if version != RECORDS_HEADER_VALUE:
        newer = isinstance(version, str) and version.startswith("records/")
        raise CorpusError(
            path,
            f"unsupported records version {version!r}; this wsztune reads "
            f"{RECORDS_HEADER_VALUE!r}"
            + ("; upgrade wsztune (pip install -U wsztune)" if newer else ""),
            line=number,
        )
    if not first:
        # Two files joined with cat: their connection names may collide and merge streams.
        raise CorpusError(
            path,
            "a records header after records: files joined together? their connection names "
            "may collide; record to one file, or give each file's connections their own names "
            "and keep one header, on the first line",
            line=number,
        )


def _record_message(path: Path, number: int, record: object) -> Message:
    if not isinstance(record, dict):
        raise CorpusError(
            path,
            'a record is an object like {"connection": "c1", "direction": "server", "text": "..."}',
            line=number,
        )
    connection = record.get("connection", DEFAULT_CONNECTION)
    if not isinstance(connection, str | int) or isinstance(connection, bool):
        raise CorpusError(path, '"connection" must be a string or a number', line=number)
    direction = record.get("direction", SERVER)
    if direction not in DIRECTIONS:
        raise CorpusError(
            path,
            f'"direction" must be "server" (sent by the server) or "client" (sent by the '
            f"client), not {direction!r}",
            line=number,
        )
    t = _record_time(path, number, record)
    keys = [key for key in RECORD_PAYLOAD_KEYS if key in record]
    if len(keys) != 1:
        raise CorpusError(
            path,
            'a record needs exactly one payload: "text" (a text frame), "base64" (binary) or '
            '"text_base64" (a text frame as its UTF-8 bytes in base64)',
            line=number,
        )
    if keys[0] == "text":
        payload = _encode_text(path, record["text"], '"text"', line=number)
        return Message(payload, True, str(connection), direction, t)
    payload = _b64decode(path, record[keys[0]], line=number)
    if keys[0] == TEXT_BASE64:
        _check_text_payload(path, number, payload)
    return Message(payload, keys[0] == TEXT_BASE64, str(connection), direction, t)


def _check_text_payload(path: Path, number: int, payload: bytes) -> None:
    """A ``text_base64`` payload is a text frame's: UTF-8, checked a piece at a time (never a
    ``str`` copy of a big message)."""
    position = _first_bad_utf8(payload)
    if position is None:
        return
    raise CorpusError(
        path,
        f'"text_base64" is not UTF-8 at byte {position} of the message; a text frame is UTF-8 '
        '(write a binary message as "base64")',
        line=number,
    )


def _record_time(path: Path, number: int, record: dict[str, object]) -> float | None:
    """The optional ``"t"`` of a record: seconds since the start, a finite number >= 0."""
    if "t" not in record:
        return None
    t = record["t"]
    seconds = math.nan
    # An integer literal too big for a float overflows: refused below like any bad value.
    if isinstance(t, int | float) and not isinstance(t, bool):
        with contextlib.suppress(OverflowError):
            seconds = float(t)
    if not math.isfinite(seconds) or seconds < 0:
        shown = repr(t) if len(repr(t)) <= 40 else f"{repr(t)[:37]}..."
        raise CorpusError(
            path,
            f'"t" must be the seconds since the start of the capture, a number >= 0, not {shown}',
            line=number,
        )
    return seconds


def _encode_text(
    path: Path, text: object, what: str, *, line: int | None = None, where: str = ""
) -> bytes:
    """The UTF-8 payload of a text frame given as a JSON string."""
    if not isinstance(text, str):
        raise CorpusError(path, f"{what} must be a string", line=line, where=where)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise CorpusError(
            path, f"{what} is not valid Unicode (lone surrogate)", line=line, where=where
        ) from None


def _b64decode(path: Path, data: object, *, line: int | None = None, where: str = "") -> bytes:
    if not isinstance(data, str):
        raise CorpusError(path, "binary data must be a base64 string", line=line, where=where)
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise CorpusError(path, "binary data is not valid base64", line=line, where=where) from None


# Directory: one message per file -----------------------------------------------------------------


def _read_directory(path: Path, progress: ProgressCallback | None) -> tuple[Packed, str]:
    """One message per regular file, in sorted name order, as websockets' own benchmark lays out.

    Subdirectories, hidden files and special files (FIFOs, sockets) are skipped (a checkout's
    ``.git``, an editor's swap files). A symbolic link that leads nowhere is an error rather than
    silently skipped: it stands for a message that the user meant to include.
    """
    digest = hashlib.sha256()
    try:
        entries = sorted(
            (
                entry
                for entry in os.scandir(path)
                if (entry.is_file() or _is_broken_link(entry)) and not entry.name.startswith(".")
            ),
            key=lambda entry: entry.name,
        )
    except OSError as error:
        raise CorpusError(path, f"cannot list the directory: {error.strerror or error}") from None
    messages = Packed()
    for index, entry in enumerate(entries, start=1):
        if _is_broken_link(entry):
            raise CorpusError(
                entry.path,
                "cannot read: a symbolic link to a missing file; restore its target or remove it",
            )
        try:
            payload = Path(entry.path).read_bytes()
        except OSError as error:
            raise CorpusError(entry.path, f"cannot read: {error.strerror or error}") from None
        if looks_like_results(payload[:4096]):
            # results/ read as a corpus: its runs (and any image beside them) are not messages.
            raise CorpusError(
                path,
                f"holds wsztune results files ({entry.name}), not a corpus of messages: read "
                f"runs with `wsztune table --results {entry.path}`; give run a corpus",
            )
        digest.update(entry.name.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(len(payload).to_bytes(8, "big") + payload)
        try:
            payload.decode("utf-8")
            is_text = True
        except UnicodeDecodeError:
            is_text = False
        messages.add(payload, is_text)
        if progress is not None:
            progress(index, len(entries))
    return messages, digest.hexdigest()


def _is_broken_link(entry: os.DirEntry[str]) -> bool:
    """A symlink whose target is missing (or a link loop): ``is_file()`` alone hides it."""
    return entry.is_symlink() and not os.path.exists(entry.path)


# HAR capture --------------------------------------------------------------------------------------


def _read_har(source: Input) -> tuple[Packed, str]:
    """Every WebSocket entry of a HAR (Chrome's ``_webSocketMessages``) becomes a connection."""
    path = source.path
    try:
        raw = source.read_bytes()
    except OSError as error:
        raise CorpusError(path, f"cannot read: {error.strerror or error}") from None
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        line = getattr(error, "lineno", None)
        raise CorpusError(
            path, "not a HAR file: not valid JSON (export it again from the browser)", line=line
        ) from None
    except RecursionError:
        raise CorpusError(path, "not a HAR file: JSON nested too deeply to parse") from None
    log = document.get("log") if isinstance(document, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise CorpusError(path, 'not a HAR file: no "log.entries" list')
    messages = Packed()
    websocket_entries = 0
    for entry_index, entry in enumerate(entries):
        frames = entry.get("_webSocketMessages") if isinstance(entry, dict) else None
        if not frames:
            continue
        if not isinstance(frames, list):
            raise CorpusError(
                path, "_webSocketMessages must be a list", where=f"entries[{entry_index}]"
            )
        websocket_entries += 1
        connection = f"ws{websocket_entries}"
        for frame_index, frame in enumerate(frames):
            where = f"entries[{entry_index}]._webSocketMessages[{frame_index}]"
            message = _har_message(path, frame, connection, where)
            if message is not None:
                messages.add(
                    message.payload,
                    message.is_text,
                    message.connection,
                    message.direction,
                    math.nan if message.t is None else message.t,
                )
    if not messages:
        raise CorpusError(
            path,
            "no WebSocket messages in this HAR; in Chrome DevTools, open the Network panel "
            "before the page connects, then 'Save all as HAR with content'",
        )
    return _har_times(messages), hashlib.sha256(raw).hexdigest()


def _har_times(messages: Packed) -> Packed:
    """Browsers stamp each frame with ``time`` (seconds since the epoch; NaN where a frame had
    none): make it ``t``, seconds since the first frame, when every message has one; otherwise
    drop them all (rates need all).
    """
    if any(map(math.isnan, messages.times)):
        messages.times = array("d")
        return messages
    start = min(messages.times)
    messages.times = array("d", (round(t - start, 6) for t in messages.times))
    return messages


def _har_message(path: Path, frame: object, connection: str, where: str) -> Message | None:
    if not isinstance(frame, dict):
        raise CorpusError(path, "a WebSocket message must be an object", where=where)
    kind = frame.get("type")
    if kind not in ("send", "receive"):
        raise CorpusError(path, f'"type" must be "send" or "receive", not {kind!r}', where=where)
    opcode = frame.get("opcode", 1)
    if opcode not in (1, 2):
        return None  # control frames (ping, pong, close) are never compressed
    data = frame.get("data", "")
    direction = CLIENT if kind == "send" else SERVER
    # Absolute for now (seconds since the epoch); _har_times makes it relative. Not a number:
    # no time, rather than an error, since HAR writers differ and the payloads are what count.
    time = frame.get("time")
    stamp: float | None = None
    if isinstance(time, int | float) and not isinstance(time, bool):
        with contextlib.suppress(OverflowError):
            stamp = float(time)
        if stamp is not None and not math.isfinite(stamp):
            stamp = None
    if opcode == 2:
        return Message(_b64decode(path, data, where=where), False, connection, direction, stamp)
    payload = _encode_text(path, data, '"data" of a text frame', where=where)
    return Message(payload, True, connection, direction, stamp)


# Sampling -----------------------------------------------------------------------------------------


def sample_connections(corpus: Corpus, count: int, seed: int = 0) -> Corpus:
    """Keep ``count`` whole connections chosen at random (seeded); never split a connection."""
    connections = corpus.connections
    if count < 1:
        raise CorpusError(corpus.path, f"--sample must be at least 1, not {count}")
    if len(connections) == 1:
        raise CorpusError(
            corpus.path,
            "--sample keeps whole connections, and this corpus has only one; "
            "use a records or HAR corpus with several connections, or drop --sample",
        )
    if count >= len(connections):
        return corpus
    kept = set(random.Random(seed).sample(connections, count))
    source = corpus.packed
    keep_stream = [connection in kept for connection, _ in source.keys]
    data = memoryview(source.data)
    messages = Packed()  # copied message by message, never as a list of objects
    timed = source.timed
    start = 0
    for index, (stream, end) in enumerate(zip(source.stream_of, source.ends, strict=True)):
        if keep_stream[stream]:
            t = source.times[index] if timed else None
            messages.add(data[start:end], bool(source.text[index]), *source.keys[stream], t)
        start = end
    sampled = {"connections": count, "of_connections": len(connections), "seed": seed}
    return Corpus(corpus.path, corpus.format, corpus.sha256, messages, sampled)


def split_connections(corpus: Corpus, messages_per_connection: int) -> Corpus:
    """A corpus without connections of its own (JSONL, lines, one JSON array) cut into
    connections of ``messages_per_connection`` messages each, in order, per direction: what a
    fleet whose connections each carry that many messages sees (each gets its own compressor,
    and its own resident memory). The payloads are shared, not copied."""
    if messages_per_connection < 1:
        raise CorpusError(
            corpus.path,
            f"--messages-per-connection must be at least 1, not {messages_per_connection}",
        )
    source = corpus.packed
    if any(connection != DEFAULT_CONNECTION for connection, _ in source.keys):
        raise CorpusError(
            corpus.path,
            "--messages-per-connection is for a corpus without connections (JSONL, lines); "
            "this one has its own (records, HAR, directory): drop the option",
        )
    split = Packed()
    split.data, split.ends, split.text, split.times = (
        source.data, source.ends, source.text, source.times
    )
    seen: dict[int, int] = {}
    for stream in source.stream_of:
        position = seen.get(stream, 0)
        seen[stream] = position + 1
        key = (f"m{position // messages_per_connection + 1}", source.keys[stream][1])
        index = split._stream_index.get(key)
        if index is None:
            index = split._stream_index[key] = len(split.keys)
            split.keys.append(key)
        split.stream_of.append(index)
    return Corpus(corpus.path, corpus.format, corpus.sha256, split, corpus.sampled)


DEMO_CORPUS = "demo.records.jsonl"


def demo_corpus_path() -> Path:
    """The corpus bundled with wsztune (package data), used when no corpus is given."""
    from importlib.resources import files

    path = Path(str(files("wsztune") / "data" / DEMO_CORPUS))
    if not path.is_file():
        raise CorpusError(path, "the bundled demo corpus is missing; reinstall wsztune")
    return path
