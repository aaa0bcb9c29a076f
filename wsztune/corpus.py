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
import json
import math
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from wsztune.errors import CorpusError

SERVER = "server"  # sent by the server: server-to-client
CLIENT = "client"  # sent by the client: client-to-server
DIRECTIONS = (SERVER, CLIENT)

RECORDS_HEADER_KEY = "wsztune"
RECORDS_HEADER_VALUE = "records/1"

FORMATS = ("jsonl", "lines", "records", "dir", "har")
_FORMAT_BY_SUFFIX = {
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


@dataclass(frozen=True, slots=True)
class Stream:
    """The messages one side of one connection sent, in order: what one compressor sees."""

    connection: str
    direction: str
    payloads: list[bytes]

    @property
    def raw_bytes(self) -> int:
        """Sum of the uncompressed payload sizes."""
        return sum(map(len, self.payloads))


@dataclass
class Corpus:
    """A loaded corpus: its messages in order, and where they came from."""

    path: str
    format: str
    sha256: str
    messages: list[Message]
    sampled: dict[str, int] | None = field(default=None)

    @property
    def raw_bytes(self) -> int:
        """Sum of all payload sizes, every direction."""
        return sum(len(message.payload) for message in self.messages)

    @property
    def connections(self) -> list[str]:
        """Connection names in order of first appearance."""
        return list(dict.fromkeys(message.connection for message in self.messages))

    def streams(self) -> list[Stream]:
        """One stream per (connection, direction), in order of first appearance.

        Context takeover never crosses a stream: each one gets its own compressor.
        """
        grouped: dict[tuple[str, str], list[bytes]] = {}
        for message in self.messages:
            grouped.setdefault((message.connection, message.direction), []).append(message.payload)
        return [
            Stream(conn, direction, payloads) for (conn, direction), payloads in grouped.items()
        ]

    def describe(self) -> dict[str, object]:
        """Plain metadata for a results file."""
        directions = sorted({message.direction for message in self.messages})
        return {
            "path": self.path,
            "name": corpus_name(self.path),
            "format": self.format,
            "sha256": self.sha256,
            "messages": len(self.messages),
            "raw_bytes": self.raw_bytes,
            "connections": len(self.connections),
            "directions": directions,
            "sampled": self.sampled,
        }


def corpus_name(path: str | os.PathLike[str]) -> str:
    """A short name for file names: ``chat`` for ``corpora/chat.records.jsonl``."""
    name = Path(path).name
    for suffix in (".records.jsonl", ".jsonl", ".ndjson", ".txt", ".log", ".har"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name or "corpus"


def detect_format(path: Path) -> str:
    """Choose a reader from the path: a directory, its suffix, or a records header line."""
    if path.is_dir():
        return "dir"
    fmt = _FORMAT_BY_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        raise CorpusError(
            path,
            f"cannot tell the format from the name; pass --format ({', '.join(FORMATS)})",
        )
    if fmt == "jsonl" and _has_records_header(path):
        return "records"
    return fmt


def _has_records_header(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            for raw in stream:
                if raw.strip():
                    try:
                        header = json.loads(raw)
                    except (ValueError, RecursionError):
                        return False  # not a header: the reader reports the line itself
                    return (
                        isinstance(header, dict)
                        and header.get(RECORDS_HEADER_KEY) == RECORDS_HEADER_VALUE
                    )
    except OSError:
        return False  # the reader itself reports the real error
    return False


def load(
    path: str | os.PathLike[str],
    fmt: str | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> Corpus:
    """Read the corpus at ``path`` (format from ``fmt`` or guessed from the path)."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(path, "no such file or directory")
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise CorpusError(path, f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "dir":
        if not path.is_dir():
            raise CorpusError(path, "--format dir needs a directory")
        messages, digest = _read_directory(path, progress)
    elif path.is_dir():
        raise CorpusError(path, f"is a directory, but --format {fmt} reads a file")
    elif fmt == "har":
        messages, digest = _read_har(path)
    else:
        messages, digest = _read_lines(path, fmt, progress)
    if not messages:
        raise CorpusError(path, _empty_reason(path, fmt))
    return Corpus(str(path), fmt, digest, messages)


def _empty_reason(path: Path, fmt: str) -> str:
    if fmt == "dir":
        return "no messages: the directory holds no files (one file is one message)"
    if path.stat().st_size == 0:
        return "no messages: the file is empty"
    return "no messages: the file holds only blank lines or a header"


# Line formats: jsonl, lines, records --------------------------------------------------------------


def _iter_lines(
    path: Path, digest: hashlib._Hash, progress: ProgressCallback | None
) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, line without its ending), hashing the file as it goes."""
    total = path.stat().st_size
    done = 0
    try:
        with path.open("rb") as stream:
            for number, raw in enumerate(stream, start=1):
                digest.update(raw)
                done += len(raw)
                if progress is not None and number % 4096 == 0:
                    progress(done, total)
                if raw.endswith(b"\n"):
                    raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
                elif raw.endswith(b"\r"):
                    raw = raw[:-1]  # a CRLF file cut after its last "\r": still a line ending
                yield number, raw
    except OSError as error:
        raise CorpusError(path, f"cannot read: {error.strerror or error}") from None
    if progress is not None:
        progress(done, total)


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


def _parse_json(path: Path, number: int, text: str, hint: str) -> object:
    try:
        return json.loads(text)
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
    path: Path, fmt: str, progress: ProgressCallback | None
) -> tuple[list[Message], str]:
    digest = hashlib.sha256()
    messages: list[Message] = []
    append = messages.append
    header_seen = False
    # Rates need every message's time: a file where only some records carry "t" is refused,
    # naming the first line that breaks the pattern, rather than giving rates that mean nothing.
    timed_line: int | None = None
    untimed_line: int | None = None
    for number, raw in _iter_lines(path, digest, progress):
        if not raw.strip():
            continue  # blank lines separate nothing and carry no message
        text = _decode_utf8(path, number, raw)
        if fmt == "lines":
            append(Message(raw))
        elif fmt == "jsonl":
            _parse_json(
                path,
                number,
                text,
                "each line of a JSONL corpus is one JSON message (use --format lines for text)",
            )
            # The payload is the line exactly as written: re-serializing would change the sizes.
            append(Message(raw))
        else:
            record = _parse_json(path, number, text, "each line of a records corpus is one object")
            if not header_seen and isinstance(record, dict) and RECORDS_HEADER_KEY in record:
                if record[RECORDS_HEADER_KEY] != RECORDS_HEADER_VALUE:
                    raise CorpusError(
                        path,
                        f"unsupported records version {record[RECORDS_HEADER_KEY]!r}; this "
                        f"wsztune reads {RECORDS_HEADER_VALUE!r}",
                        line=number,
                    )
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
            append(message)
    return messages, digest.hexdigest()


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
    has_text, has_base64 = "text" in record, "base64" in record
    if has_text == has_base64:
        raise CorpusError(
            path,
            'a record needs exactly one payload: "text" (a text frame) or "base64" (binary)',
            line=number,
        )
    if has_text:
        payload = _encode_text(path, record["text"], '"text"', line=number)
        return Message(payload, True, str(connection), direction, t)
    payload = _b64decode(path, record["base64"], line=number)
    return Message(payload, False, str(connection), direction, t)


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
            f'"t" must be the seconds since the start of the capture, a number >= 0, '
            f"not {shown}",
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


def _read_directory(path: Path, progress: ProgressCallback | None) -> tuple[list[Message], str]:
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
    messages: list[Message] = []
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
        digest.update(entry.name.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(len(payload).to_bytes(8, "big") + payload)
        try:
            payload.decode("utf-8")
            is_text = True
        except UnicodeDecodeError:
            is_text = False
        messages.append(Message(payload, is_text))
        if progress is not None:
            progress(index, len(entries))
    return messages, digest.hexdigest()


def _is_broken_link(entry: os.DirEntry[str]) -> bool:
    """A symlink whose target is missing (or a link loop): ``is_file()`` alone hides it."""
    return entry.is_symlink() and not os.path.exists(entry.path)


# HAR capture --------------------------------------------------------------------------------------


def _read_har(path: Path) -> tuple[list[Message], str]:
    """Every WebSocket entry of a HAR (Chrome's ``_webSocketMessages``) becomes a connection."""
    try:
        raw = path.read_bytes()
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
    messages: list[Message] = []
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
                messages.append(message)
    if not messages:
        raise CorpusError(
            path,
            "no WebSocket messages in this HAR; in Chrome DevTools, open the Network panel "
            "before the page connects, then 'Save all as HAR with content'",
        )
    return _har_times(messages), hashlib.sha256(raw).hexdigest()


def _har_times(messages: list[Message]) -> list[Message]:
    """Browsers stamp each frame with ``time`` (seconds since the epoch): make it ``t``, seconds
    since the first frame, when every message has one; otherwise drop them all (rates need all).
    """
    known = [message.t for message in messages if message.t is not None]
    if len(known) < len(messages):
        return [replace(message, t=None) for message in messages] if known else messages
    start = min(known)
    return [replace(message, t=round((message.t or 0.0) - start, 6)) for message in messages]


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
    messages = [message for message in corpus.messages if message.connection in kept]
    sampled = {"connections": count, "of_connections": len(connections), "seed": seed}
    return Corpus(corpus.path, corpus.format, corpus.sha256, messages, sampled)


DEMO_CORPUS = "demo.records.jsonl"


def demo_corpus_path() -> Path:
    """The corpus bundled with wsztune (package data), used when no corpus is given."""
    from importlib.resources import files

    path = Path(str(files("wsztune") / "data" / DEMO_CORPUS))
    if not path.is_file():
        raise CorpusError(path, "the bundled demo corpus is missing; reinstall wsztune")
    return path
