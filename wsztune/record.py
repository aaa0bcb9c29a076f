"""``wsztune record``: a WebSocket proxy that records the messages it forwards, as a records file.

Clients connect to the proxy (``127.0.0.1:8765`` unless told otherwise); for each one it opens
one connection to the upstream server, with the client's path and query string, the
subprotocols it offers and the headers an application reads (:data:`FORWARDED_HEADERS`). When
the upstream refuses (401, 403, 404...), the client gets the same status; when it cannot be
reached, 502. Then every message is forwarded both ways, unchanged: text stays text, binary stays
binary, fragmented messages arrive whole. A close code and reason from one side are sent on to
the other; a connection that drops without a close frame is dropped on the other side too.

Messages, not frames: the proxy terminates the WebSocket protocol on both hops, so each hop
negotiates permessage-deflate on its own, as websockets does by default. It does not turn
compression off: forwarding raw frames would require that (a proxy cannot read frames compressed
with a context it did not negotiate), and it would change what client and server exchange in
production. What is recorded is what a sweep needs: each message's payload before compression,
exactly as the application sent it, whatever the hops negotiated. Pings and pongs are answered
on each hop, not forwarded.

Bounded memory: both hops take messages up to ``max_message_size`` (16 MiB unless told). A
bigger one is never read whole: websockets closes the connection that sent it with 1009
(message too big) and its reason, the proxy closes the other side with the same code and
reason, and nothing of that message is recorded (it is skipped, with a warning). And the proxy
never reads from one side faster than the other side takes: once a message is received, its
sender's socket is paused until the message has been written to the other side's socket and
that socket's buffer has drained (websockets' ``write_limit``), so a client that stops reading
stops the server's sending through TCP flow control, not by filling the proxy's memory. Each
connection holds, per direction, the message in hand: while websockets inflates and decodes it,
its compressed frame, the inflated bytes and the text, about 3 x the limit at worst (2 x for a
message that compresses well). Its records line is made and written 256 KiB at a time, and a
message over 256 KiB is forwarded in fragments with a turn for every other connection between
two, so that one big message never holds the others' traffic for long.

Faithful: close codes and reasons from one side reach the other, including those websockets
sends itself when a side breaks the protocol (1007 for invalid UTF-8 in a text message, 1009,
1002); a connection that drops without any close frame is dropped on the other side too.
Client paths are normalised (``/a/../b`` is ``/b``, and ``%2e`` counts as a dot) before they
are appended to the upstream's path, so a client cannot climb out of it.

The upstream is checked before anything listens: one WebSocket handshake to its URL (an
answer of any HTTP status is an answer; no answer, a refused connection or a TLS failure is an
error), unless ``check_upstream`` is off. A client has REQUEST_TIMEOUT to send its handshake
request; then the upstream's handshake has UPSTREAM_OPEN_TIMEOUT, and nothing cuts the client
meanwhile, so a hanging upstream means a 502, never a silent cut; a connection that gets no HTTP
answer at all is counted, with why. ``certfile``
and ``keyfile`` make the proxy listen with TLS (``wss://``), for pages served over https.

The file: a header line, ``{"wsztune":"records/1","started_at":...}``, then one line per
recorded message: ``connection`` (``c1``, ``c2``... in the order connections open),
``direction`` (who sent it: ``client`` or ``server``), ``t`` (seconds since the proxy started,
monotonic clock, microseconds) and ``text``, ``text_base64`` (text that JSON escaping would
make longer than base64: a line is at most 4/3 of its message) or ``base64``. Each line is
written as soon as its message arrives, before the message is forwarded, with nothing else in
between (a write error cuts it off again), so every line on disk is whole: Ctrl-C, SIGTERM, a
limit or a full disk leave a file that loads. The file is created ``0600``, and must not exist
(a symlink, a special file or any existing file is refused): it holds whatever the traffic
held, tokens included, and a recording is never mixed into another. A recording that recorded
nothing removes it again.

Limits end the recording and the proxy: ``max_messages`` and ``max_bytes`` (payload bytes, as
``corpus stats`` counts them; the file is larger), ``duration`` in seconds. ``fraction`` records
a seeded random sample of connections and forwards them all. Stopping closes every connection
with 1001 (going away), on both hops, as a restarting server would.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import itertools
import json
import logging
import math
import os
import random
import re
import signal
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

from wsztune.corpus import CLIENT, RECORDS_HEADER_KEY, RECORDS_HEADER_VALUE, SERVER, TEXT_BASE64
from wsztune.errors import WsztuneError
from wsztune.loopback import LOOPBACK

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection
    from websockets.asyncio.connection import Connection
    from websockets.asyncio.server import ServerConnection
    from websockets.http11 import Request, Response

DEFAULT_PORT = 8765
# The request headers an application decides on: who the client is, where the page came from,
# its session. Host and the Sec-WebSocket-* headers belong to each hop and are made afresh;
# Sec-WebSocket-Protocol (the subprotocols) is forwarded through websockets' own negotiation.
FORWARDED_HEADERS = ("Origin", "Cookie", "Authorization", "User-Agent")
# A client's opening handshake in two steps, each with its own deadline, one after the other:
# REQUEST_TIMEOUT for its request to arrive, then UPSTREAM_OPEN_TIMEOUT for the upstream's
# handshake, after which it gets its answer (101, the upstream's status, or 502). websockets' own
# open_timeout, one deadline over the whole, is off: with both at 10 s it cut clients of a hanging
# upstream without the 502 (issue 29), and any single deadline over both steps can still fire
# first when a loaded event loop wakes up late. HANDSHAKE_GUARD only drops what hangs after the
# request for far longer than the upstream may (never expected; counted if it happens).
REQUEST_TIMEOUT = 10.0
UPSTREAM_OPEN_TIMEOUT = 10.0
HANDSHAKE_GUARD = 30.0
# Connections the kernel holds for the proxy to accept (asyncio's default is 100; a burst of
# thousands of clients would see SYNs dropped, which the proxy cannot count). Linux caps it at
# net.core.somaxconn (4096 by default).
LISTEN_BACKLOG = 4096
SHUTDOWN_TIMEOUT = 5.0  # seconds for closing handshakes once stopping; then connections drop
STATUS_INTERVAL = 0.5  # seconds between status updates
MiB = 1 << 20
DEFAULT_MAX_MESSAGE_SIZE = 16 * MiB
# A records line holds a binary message as base64 (4/3 of it) and wsztune reads records lines
# up to corpus.MAX_RECORDS_LINE (64 MiB): a bigger limit would record what cannot be read back.
MAX_MESSAGE_SIZE_LIMIT = 32 * MiB

# websockets applies max_size to each frame as sent, compressed, as well as to the message once
# inflated; deflate makes an incompressible message longer (websockets' own settings: +0.24% on
# random bytes; zlib's deflateBound for any settings: up to 1/8 + 1/64 more), so each hop allows
# that much more and the pumps check the limit exactly, on the message itself.


def _hop_max_size(limit: int) -> int:
    return limit + (limit + 7) // 8 + (limit + 63) // 64 + 1024


# A message over this many bytes (or characters) is forwarded in fragments of this size: see
# _forward. Smaller ones, most of them, go on as one frame, as they came.
FORWARD_FRAGMENT = 256 << 10

# Frames of a fragmented message waiting for the proxy to read them (websockets' max_queue):
# the pumps read one message at a time, so a short queue costs nothing but bounds memory.
MAX_QUEUE = 4


class RecordError(WsztuneError):
    """A recording that cannot start or go on: bad options, busy port, unwritable file."""


# Options and results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordOptions:
    """What to proxy, where to listen, where to write, and when to stop."""

    upstream: str
    output: Path
    host: str = LOOPBACK
    port: int = DEFAULT_PORT
    max_messages: int | None = None
    max_bytes: int | None = None
    duration: float | None = None
    fraction: float = 1.0
    seed: int = 0
    ca_file: Path | None = None
    insecure: bool = False
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    check_upstream: bool = True
    certfile: Path | None = None
    keyfile: Path | None = None


@dataclass
class RecordStatus:
    """Counters while the proxy runs: what the status line and the final summary show."""

    listen: str = ""
    connections_open: int = 0
    connections: int = 0
    recorded_connections: int = 0
    messages: int = 0
    raw_bytes: int = 0
    upstream_failures: int = 0
    too_big: int = 0
    # Connections that got no HTTP answer at all, by why (see Recorder.note_unanswered).
    unanswered: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0
    stopped_by: str | None = None


@dataclass(frozen=True)
class RecordSummary:
    """What a finished recording holds and why it stopped."""

    path: str
    listen: str
    upstream: str
    messages: int
    raw_bytes: int
    connections: int
    recorded_connections: int
    upstream_failures: int
    seconds: float
    stopped_by: str
    too_big: int = 0
    removed: bool = False  # nothing was recorded: the file was removed again
    # Connections that got no HTTP answer, by why: "closed before its request", "not an HTTP
    # request", "no request in time", "left before the answer", "no answer in time" (the last
    # never expected: only HANDSHAKE_GUARD, far beyond the upstream's deadline, gives it).
    unanswered: dict[str, int] = field(default_factory=dict)


@dataclass
class Callbacks:
    """Where the proxy reports, all optional: the CLI prints, tests listen."""

    on_listening: Callable[[str], None] | None = None
    on_status: Callable[[RecordStatus], None] | None = None
    on_warning: Callable[[str], None] | None = None


# Parsing and checking -----------------------------------------------------------------------------


def parse_listen(text: str) -> tuple[str, int]:
    """``PORT``, ``HOST:PORT`` or ``[IPv6]:PORT`` to ``(host, port)``; the host defaults to
    127.0.0.1."""
    host, port_text = LOOPBACK, text.strip()
    if ":" in port_text:
        host, _, port_text = port_text.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535 or not host:
        raise RecordError(
            f"--listen must be PORT or HOST:PORT (e.g. 127.0.0.1:8765, port 0 for any free "
            f"one), not {text!r}"
        )
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def parse_upstream(text: str) -> SplitResult:
    """A ``ws://`` or ``wss://`` URL with a host, checked; user info and fragments refused."""
    try:
        url = urlsplit(text)
        url.port  # noqa: B018 - raises on a port out of range or not a number
    except ValueError as error:
        raise RecordError(f"--upstream {text!r} is not a valid URL: {error}") from None
    if url.scheme not in ("ws", "wss") or not url.hostname:
        raise RecordError(
            f"--upstream must be a ws:// or wss:// URL such as ws://127.0.0.1:8000/ws, not {text!r}"
        )
    if url.username is not None or url.fragment:
        raise RecordError(
            "--upstream takes no user:password@ or #fragment; clients' Authorization and "
            "Cookie headers are forwarded"
        )
    return url


_ENCODED_DOT = re.compile("%2e", re.IGNORECASE)


def normalise_path(path: str) -> str:
    """A client's request path with its dot segments removed (RFC 3986, 5.2.4), so that it
    cannot climb out of the upstream's path: ``/../admin`` is ``/admin``, ``/a/./b/../c`` is
    ``/a/c``. ``%2e`` counts as a dot, as many servers decode it; repeated slashes become one.
    """
    segments = _ENCODED_DOT.sub(".", path).split("/")
    out: list[str] = []
    for segment in segments[1:] if segments and segments[0] == "" else segments:
        if segment == "..":
            if out:
                out.pop()
        elif segment not in (".", ""):
            out.append(segment)
    # A path ending in a slash or a dot segment names a directory: it keeps its final slash.
    trailing = len(segments) > 1 and segments[-1] in ("", ".", "..") and bool(out)
    return "/" + "/".join(out) + ("/" if trailing else "")


def upstream_url(base: SplitResult, request_path: str) -> str:
    """The upstream URL for a client's request path: the client's path, normalised
    (:func:`normalise_path`), appended to the upstream's, its query string joined to the
    upstream's.

    ``ws://up:8000/ws`` and ``/`` give ``ws://up:8000/ws``; with ``/chat?room=1``,
    ``ws://up:8000/ws/chat?room=1``; with ``/../admin``, ``ws://up:8000/ws/admin``.
    """
    path, _, query = request_path.partition("?")
    path = normalise_path(path)
    root = path in ("", "/") and base.path
    joined = base.path if root else base.path.rstrip("/") + path
    queries = "&".join(part for part in (base.query, query) if part)
    return urlunsplit((base.scheme, base.netloc, joined or "/", queries, ""))


def check_options(options: RecordOptions) -> SplitResult:
    """Refuse options that cannot work, before anything listens or is written."""
    url = parse_upstream(options.upstream)
    limits = (("--max-messages", options.max_messages), ("--max-bytes", options.max_bytes))
    for name, value in limits:
        if value is not None and value < 1:
            raise RecordError(f"{name} must be at least 1, not {value}")
    if options.duration is not None and not 0 < options.duration < math.inf:
        raise RecordError(
            f"--duration must be a positive number of seconds, not {options.duration}"
        )
    if not 0 < options.fraction <= 1:
        raise RecordError(
            f"--connections must be a fraction in (0, 1], e.g. 0.1 or 10%, not {options.fraction}"
        )
    if url.scheme == "ws" and (options.ca_file is not None or options.insecure):
        raise RecordError("--ca-file and --insecure apply to a wss:// upstream only")
    if options.ca_file is not None and options.insecure:
        raise RecordError(
            "choose one of --ca-file (verify with this CA) and --insecure (do not verify)"
        )
    if options.ca_file is not None and not options.ca_file.is_file():
        raise RecordError(f"{options.ca_file}: no such file (--ca-file takes a PEM certificate)")
    if not 0 <= options.port <= 65535:
        raise RecordError(f"--listen port must be 0-65535, not {options.port}")
    if not 1 <= options.max_message_size <= MAX_MESSAGE_SIZE_LIMIT:
        raise RecordError(
            f"--max-message-size must be 1 B to {MAX_MESSAGE_SIZE_LIMIT // MiB} MiB (a records "
            f"line holds a binary message as base64, and wsztune reads lines up to 64 MiB), "
            f"not {options.max_message_size:,} B"
        )
    if (options.certfile is None) != (options.keyfile is None):
        raise RecordError(
            "--certfile and --keyfile go together: the certificate (PEM) and its private key"
        )
    for name, tls_path in (("--certfile", options.certfile), ("--keyfile", options.keyfile)):
        if tls_path is not None and not tls_path.is_file():
            raise RecordError(f"{tls_path}: no such file ({name} takes a PEM file)")
    return url


def _listen_ssl(options: RecordOptions) -> ssl.SSLContext | None:
    """TLS on the listening side (``--certfile``/``--keyfile``), or none."""
    if options.certfile is None or options.keyfile is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(options.certfile, options.keyfile)
    except (ssl.SSLError, OSError) as error:
        raise RecordError(
            f"{options.certfile}, {options.keyfile}: not a usable certificate and key (PEM): "
            f"{getattr(error, 'reason', None) or error}"
        ) from None
    return context


def _ssl_context(url: SplitResult, options: RecordOptions) -> ssl.SSLContext | None:
    """TLS towards a wss:// upstream: the system's trust store, ``--ca-file``, or none at all."""
    if url.scheme != "wss":
        return None
    if options.insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        return ssl.create_default_context(
            cafile=str(options.ca_file) if options.ca_file is not None else None
        )
    except (ssl.SSLError, OSError) as error:
        raise RecordError(
            f"{options.ca_file}: not a usable CA certificate (PEM): {error}"
        ) from None


# The records file ---------------------------------------------------------------------------------


class RecordsWriter:
    """Appends whole records lines to a new file, one ``write()`` each; never a partial line.

    The file is created here, ``0600``, and must not exist: ``O_EXCL`` refuses any existing
    path, a symlink (even a dangling one), a FIFO or a device included, so a recording never
    follows a link somewhere else, never inherits another file's mode, and never mixes with
    another recording.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
        try:
            # 0600: a recording holds whatever the traffic held (tokens, personal data).
            self.fd = os.open(path, flags, 0o600)
        except FileExistsError:
            raise RecordError(f"{path}: {_existing(path)}") from None
        except OSError as error:
            raise RecordError(f"{path}: cannot create: {error.strerror or error}") from None
        self.created = True
        self.size = 0
        self.lines = 0

    def write(self, record: dict[str, object]) -> None:
        """Append one line. On a write error the line is cut off again, and RecordError raised."""
        self.write_parts(
            [(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()]
        )

    def write_parts(self, parts: Iterable[bytes]) -> None:
        """Append one line given in pieces, made as they are written: a line up to
        :data:`WRITE_BATCH` is one ``writev()``, a longer one goes out a batch at a time, so
        that a big message's line is never whole in memory. Nothing else is written in
        between (the proxy awaits nothing meanwhile), and on any error the part of the line
        already written is cut off again (RecordError for an OSError): every line stays whole.
        """
        written = 0
        batch: list[bytes] = []
        batched = 0
        try:
            for part in parts:
                if part:
                    batch.append(part)
                    batched += len(part)
                if batched >= WRITE_BATCH:
                    written += self._writev(batch)
                    batch, batched = [], 0
            written += self._writev(batch)
        except BaseException as error:
            # A full disk can take half a line: take it back so that every line stays whole.
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, self.size)
            if not isinstance(error, OSError):
                raise
            raise RecordError(
                f"{self.path}: cannot write: {error.strerror or error}; the {self.lines:,} "
                "lines written so far are intact"
            ) from None
        self.size += written
        self.lines += 1

    def _writev(self, parts: list[bytes]) -> int:
        """Write ``parts`` whole (``writev`` may take less than asked); their total size."""
        total = sum(map(len, parts))
        views = [memoryview(part) for part in parts]
        while views:
            written = os.writev(self.fd, views)
            while views and written >= len(views[0]):
                written -= len(views[0])
                views.pop(0)
            if views and written:
                views[0] = views[0][written:]
        return total

    def close(self) -> None:
        """Flush to disk and close."""
        with contextlib.suppress(OSError):
            os.fsync(self.fd)
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def discard(self) -> None:
        """Undo the file: the recording never started (say, the port was busy) or recorded
        nothing."""
        self.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


def _existing(path: Path) -> str:
    """Why an existing ``-o`` is refused, and what to do."""
    if path.is_symlink():
        return "is a symbolic link; -o takes a new file (a recording never follows a link)"
    if path.exists() and not path.is_file():
        return "exists and is not a regular file; -o takes a new file"
    empty = " (it is empty: remove it first)" if path.stat().st_size == 0 else ""
    return (
        f"exists{empty}; record into a new file (-o): recordings are never overwritten or "
        "mixed, and each one is created readable by you only"
    )


# Records lines in bounded memory and time -------------------------------------------------------
#
# A text message is written as a JSON string when escaping costs no more than base64 would (4/3 of
# its UTF-8 bytes), and as "text_base64" otherwise: a control character is 6 bytes once escaped
# (\u0001), so 12 MiB of them would make a 72 MiB line that wsztune refuses to parse. Either way a
# line is at most 4/3 of its message plus its head. Both are made a piece at a time, by C code
# (bytes.translate to count, json's encode_basestring to escape, b2a_base64), never one Python
# call per character: 16 MiB of control characters take tens of milliseconds on the event loop,
# not seconds, and the proxy holds a piece of the line at a time, not the whole line.

# Characters per piece: a multiple of 3, so that base64 pieces join without padding. The escaped
# form of a piece can be 6 times the piece (all control characters): still under 2 MiB.
ENCODE_PIECE = 3 << 16
# A line's pieces go to the file in batches of about this size; a smaller line is one writev().
WRITE_BATCH = 256 << 10
_LONG_ESCAPES = bytes(code for code in range(0x20) if code not in b"\b\t\n\f\r")  # \u00XX
_SHORT_ESCAPES = b'\b\t\n\f\r"\\'  # a backslash and one letter (or the character itself)


@dataclass(frozen=True)
class TextSize:
    """A text message's size as UTF-8 (its payload) and as the body of a JSON string."""

    payload: int
    escaped: int

    @property
    def as_base64(self) -> bool:
        """Whether the records line holds it as ``text_base64``: escaping would cost more."""
        return self.escaped > _base64_size(self.payload)


def _base64_size(size: int) -> int:
    return (size + 2) // 3 * 4


def _utf8_pieces(text: str) -> Iterator[bytes]:
    for start in range(0, len(text), ENCODE_PIECE):
        yield text[start : start + ENCODE_PIECE].encode()


def text_size(text: str) -> TextSize:
    """How big ``text`` is as UTF-8 and once JSON-escaped, counted a piece at a time."""
    payload = escaped = 0
    for piece in _utf8_pieces(text):
        size = len(piece)
        long_escapes = size - len(piece.translate(None, _LONG_ESCAPES))
        short_escapes = size - len(piece.translate(None, _SHORT_ESCAPES))
        payload += size
        escaped += size + 5 * long_escapes + short_escapes
    return TextSize(payload, escaped)


def json_string_pieces(text: str) -> Iterator[bytes]:
    """The body of ``text``'s JSON string (no quotes), as UTF-8 pieces, escaped exactly as
    ``json.dumps(text, ensure_ascii=False)`` escapes it."""
    from json.encoder import encode_basestring  # json's C escaper, as json.dumps uses

    for start in range(0, len(text), ENCODE_PIECE):
        yield encode_basestring(text[start : start + ENCODE_PIECE])[1:-1].encode()


def base64_pieces(pieces: Iterable[bytes | memoryview]) -> Iterator[bytes]:
    """The base64 of the concatenation of ``pieces``, a piece at a time (pieces of any
    length: what does not fill 3 bytes is carried over to the next)."""
    carry = b""
    for piece in pieces:
        data = carry + piece if carry else piece
        cut = len(data) - len(data) % 3
        if cut:
            yield base64.b64encode(data[:cut])
        carry = bytes(data[cut:])
    if carry:
        yield base64.b64encode(carry)


def message_line_pieces(
    head: dict[str, object], message: str | bytes, size: TextSize | None = None
) -> Iterator[bytes]:
    """One records line for ``message`` (head: connection, direction, t), as pieces: text
    escaped, or as ``text_base64`` when escaping would cost more (:class:`TextSize`), binary
    as ``base64``. The line parses to what ``json.loads`` of the same record gives."""
    # The head as json.dumps writes it, without its closing brace: the payload follows.
    prefix = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
    if isinstance(message, str):
        size = size or text_size(message)
        if size.as_base64:
            yield f'{prefix},"{TEXT_BASE64}":"'.encode()
            yield from base64_pieces(_utf8_pieces(message))
        else:
            yield f'{prefix},"text":"'.encode()
            yield from json_string_pieces(message)
    else:
        yield f'{prefix},"base64":"'.encode()
        with memoryview(message) as view:
            yield from base64_pieces(
                view[start : start + ENCODE_PIECE] for start in range(0, len(view), ENCODE_PIECE)
            )
    yield b'"}\n'


# The proxy ----------------------------------------------------------------------------------------


class Recorder:
    """The recording proxy: one listening server, one upstream connection per client, one
    records file. :meth:`run` it in an event loop; :meth:`stop` ends it from anywhere in that
    loop (a signal handler, a test)."""

    def __init__(self, options: RecordOptions, callbacks: Callbacks | None = None) -> None:
        self.options = options
        self.url = check_options(options)
        self.ssl = _ssl_context(self.url, options)
        self.listen_ssl = _listen_ssl(options)
        self.callbacks = callbacks or Callbacks()
        self.status = RecordStatus()
        self.started = time.monotonic()
        self.recording = True
        self.stopped = asyncio.Event()
        self.error: RecordError | None = None
        self.numbers = itertools.count(1)
        self.sample = random.Random(options.seed)
        self.writer: RecordsWriter | None = None
        # Upstream connections opened during a client's handshake, until its handler takes them.
        self.pending: dict[ServerConnection, ClientConnection] = {}
        self.open: set[Connection] = set()

    def warn(self, text: str) -> None:
        if self.callbacks.on_warning is not None:
            self.callbacks.on_warning(text)

    def stop(self, reason: str) -> None:
        """Stop recording now and let the proxy close its connections (first reason wins)."""
        self.recording = False
        if self.status.stopped_by is None:
            self.status.stopped_by = reason
        self.stopped.set()

    def hurry(self) -> None:
        """Drop every connection now, without closing handshakes (a second Ctrl-C)."""
        self.stop("interrupted")
        for connection in [*self.open, *self.pending.values()]:
            connection.transport.abort()

    # Handshake: the upstream first, so that its answer (status, subprotocol) is the client's.

    async def process_request(self, connection: ServerConnection, request: Request) -> Any:
        from websockets.exceptions import InvalidStatus, WebSocketException
        from websockets.headers import parse_subprotocol

        if not self.recording:
            return connection.respond(503, "wsztune record: the recording is over\n")
        target = upstream_url(self.url, request.path)
        headers: list[tuple[str, str]] = [
            (name, value)
            for name in ("Cookie", "Authorization")
            for value in request.headers.get_all(name)
        ]
        offered = [
            subprotocol
            for value in request.headers.get_all("Sec-WebSocket-Protocol")
            for subprotocol in parse_subprotocol(value)
        ]
        try:
            upstream = await self.connect_upstream(
                target,
                timeout=UPSTREAM_OPEN_TIMEOUT,
                origin=_first(request, "Origin"),
                subprotocols=offered or None,
                headers=headers,
                # The client's own User-Agent, or none when it sent none.
                user_agent=_first(request, "User-Agent"),
            )
        except InvalidStatus as refused:
            # The upstream said no (401, 403, 404...): the client hears the same.
            response = refused.response
            self.status.upstream_failures += 1
            body = response.body.decode("utf-8", "replace") if response.body else ""
            return connection.respond(response.status_code, body or f"{response.reason_phrase}\n")
        except (OSError, TimeoutError, WebSocketException) as error:
            self.status.upstream_failures += 1
            self.warn(f"upstream {without_query(target)}: {_describe(error)}; the client got 502")
            return connection.respond(502, "wsztune record: cannot reach the upstream server\n")
        self.pending[connection] = upstream
        # A client that vanishes between here and the end of its handshake never reaches the
        # handler, which would take this upstream connection: close it if nobody has by then.
        asyncio.get_running_loop().call_later(
            HANDSHAKE_GUARD, self.reap, connection, upstream
        )
        return None

    async def connect_upstream(
        self,
        url: str,
        timeout: float = UPSTREAM_OPEN_TIMEOUT,
        origin: str | None = None,
        subprotocols: list[Any] | None = None,
        headers: list[tuple[str, str]] | None = None,
        user_agent: str | None = None,
    ) -> ClientConnection:
        """Open one connection to the upstream, with the proxy's limits on that hop."""
        from websockets.asyncio.client import connect

        return await connect(
            url,
            origin=origin,  # type: ignore[arg-type]
            subprotocols=subprotocols,
            additional_headers=headers or [],
            user_agent_header=user_agent,
            ssl=self.ssl,
            # HTTP(S)_PROXY from the environment applies (as for any client here), except
            # to a server on this machine, which no proxy can reach better than we can.
            proxy=None if is_loopback(self.url.hostname or "") else True,
            max_size=_hop_max_size(self.options.max_message_size),
            max_queue=MAX_QUEUE,
            open_timeout=timeout,
            logger=_quiet_logger(),
        )

    async def check_upstream(self) -> None:
        """One handshake to the upstream's own URL before anything listens: an answer of any
        status will do (clients bring their own Cookie and Authorization); no answer is an
        error, said in one line."""
        from websockets.exceptions import InvalidStatus, WebSocketException

        shown = without_query(self.options.upstream)
        try:
            upstream = await self.connect_upstream(urlunsplit(self.url))
        except InvalidStatus as refused:
            status = refused.response.status_code
            self.warn(
                f"upstream {shown} answered {status} to a handshake without a client's "
                "headers: it is there; clients' own Cookie and Authorization may fare better"
            )
            return
        except (OSError, TimeoutError, WebSocketException) as error:
            todo = "" if isinstance(error, ssl.SSLError) else "; start the server, check --upstream"
            raise RecordError(
                f"upstream {shown} (checked before listening): {_describe(error)}{todo}; "
                "or pass --no-upstream-check to listen anyway"
            ) from None
        # A clean close, but not a wait behind whatever the upstream started sending at once
        # (the check connection reads little: its frames are not forwarded anywhere).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(upstream.close(1000, "wsztune record: checked"), 1.0)
        upstream.transport.abort()

    def reap(self, connection: ServerConnection, upstream: ClientConnection) -> None:
        """Drop an upstream connection whose client never completed its handshake."""
        if self.pending.get(connection) is upstream:
            del self.pending[connection]
            upstream.transport.abort()

    def note_unanswered(self, reason: str) -> None:
        """Count a client connection that got no HTTP answer (the summary says how many, and
        why): most are clients that gave up or never asked, but none goes unnoticed."""
        self.status.unanswered[reason] = self.status.unanswered.get(reason, 0) + 1
        if reason == UNANSWERED_LATE:  # the deadlines above should make this impossible
            self.warn("a client's handshake timed out before the proxy could answer it")

    def select_subprotocol(self, connection: ServerConnection, offered: Any) -> Any:
        upstream = self.pending.get(connection)
        return upstream.subprotocol if upstream is not None else None

    async def process_response(
        self, connection: ServerConnection, request: Request, response: Response
    ) -> None:
        upstream = self.pending.get(connection)
        if upstream is None:
            return
        if response.status_code != 101:  # the client's handshake failed after all
            self.pending.pop(connection, None)
            await upstream.close()
            return
        # Cookies the upstream sets during its handshake reach the client.
        for value in upstream.response.headers.get_all("Set-Cookie"):
            response.headers["Set-Cookie"] = value

    # Forwarding

    async def handler(self, client: ServerConnection) -> None:
        upstream = self.pending.pop(client, None)
        if upstream is None:
            await client.close(1011, "wsztune record: upstream connection lost")
            return
        number = next(self.numbers)
        # One draw per connection, in the order they open: the same seed, the same sample.
        recorded = self.options.fraction >= 1 or self.sample.random() < self.options.fraction
        name = f"c{number}" if recorded else None
        self.status.connections += 1
        self.status.connections_open += 1
        self.status.recorded_connections += recorded
        self.open.update((client, upstream))
        try:
            await asyncio.gather(
                self.pump(client, upstream, name, CLIENT),
                self.pump(upstream, client, name, SERVER),
            )
        finally:
            self.status.connections_open -= 1
            self.open.difference_update((client, upstream))
            await _close(upstream, 1000, "")

    async def pump(
        self, source: Connection, target: Connection, name: str | None, direction: str
    ) -> None:
        """Forward ``source``'s messages to ``target`` until ``source`` closes, then close
        ``target`` the same way."""
        from websockets.exceptions import ConnectionClosed

        while True:
            try:
                message = await source.recv()
            except ConnectionClosed as closed:
                self.note_too_big(closed, name, direction)
                await _close_like(target, closed)
                return
            # Backpressure: read nothing more from the sender until the other side has taken
            # this message (send() returns once the socket's buffer is under write_limit).
            # A receiver that stops reading stops the sender through TCP flow control,
            # rather than piling its messages up here.
            source.transport.pause_reading()
            try:
                if not self.take(name, direction, message):
                    reason = (
                        f"over size limit ({_length(message):,} > "
                        f"{self.options.max_message_size:,} bytes)"
                    )
                    await asyncio.gather(_close(source, 1009, reason), _close(target, 1009, reason))
                    return
                await _forward(target, message)
            except ConnectionClosed:
                return  # the other pump sees target closed and closes source like it
            finally:
                del message
                source.transport.resume_reading()

    def note_too_big(self, closed: Exception, name: str | None, direction: str) -> None:
        """Warn when websockets closed ``source`` for a message over the limit (1009)."""
        sent = getattr(closed, "sent", None)
        if getattr(closed, "rcvd", None) is None and sent is not None and sent.code == 1009:
            self.warn_too_big(name, direction)

    def warn_too_big(self, name: str | None, direction: str) -> None:
        self.status.too_big += 1
        who = "the client" if direction == CLIENT else "the server"
        self.warn(
            f"{name or 'a connection not recorded'}: {who} sent a message over "
            f"--max-message-size ({_size(self.options.max_message_size)}); both sides "
            "closed with 1009 (message too big), that message not recorded"
        )

    def take(self, name: str | None, direction: str, message: str | bytes) -> bool:
        """Check one message against the size limit and record it; False when it is over the
        limit (then it is neither recorded nor forwarded)."""
        text = text_size(message) if isinstance(message, str) else None
        if (text.payload if text else len(message)) > self.options.max_message_size:
            self.warn_too_big(name, direction)
            return False
        if name is not None and self.recording:
            self.record(name, direction, message, text)
        return True

    def record(
        self, name: str, direction: str, message: str | bytes, text: TextSize | None = None
    ) -> None:
        """Write one message's line, unless a limit says the recording is over."""
        if isinstance(message, str):
            text = text or text_size(message)
        size = text.payload if text is not None else len(message)
        options, status = self.options, self.status
        if options.max_bytes is not None and status.raw_bytes + size > options.max_bytes:
            self.stop("max-bytes")
            return
        head = {
            "connection": name,
            "direction": direction,
            "t": round(time.monotonic() - self.started, 6),
        }
        assert self.writer is not None  # run() opens it before anything listens
        try:
            self.writer.write_parts(message_line_pieces(head, message, text))
        except RecordError as error:
            self.error = error
            self.stop("write error")
            return
        status.messages += 1
        status.raw_bytes += size
        if options.max_messages is not None and status.messages >= options.max_messages:
            self.stop("max-messages")

    # Running

    async def run(self) -> RecordSummary:
        """Listen, forward and record until :meth:`stop`, a limit or a write error."""
        try:
            from websockets.asyncio.server import serve
        except ImportError:
            raise RecordError(
                "wsztune record needs websockets: pip install 'wsztune[capture]'"
            ) from None
        options = self.options
        # The file first: an unwritable path fails before anything listens.
        writer = self.writer = RecordsWriter(options.output)
        try:
            if options.check_upstream:
                await self.check_upstream()
            server = await serve(
                self.handler,
                options.host,
                options.port,
                process_request=self.process_request,
                process_response=self.process_response,
                select_subprotocol=self.select_subprotocol,
                max_size=_hop_max_size(options.max_message_size),
                max_queue=MAX_QUEUE,
                ssl=self.listen_ssl,
                close_timeout=SHUTDOWN_TIMEOUT,
                open_timeout=None,  # see REQUEST_TIMEOUT
                # (asyncio refuses a TLS handshake timeout without TLS)
                **({"ssl_handshake_timeout": REQUEST_TIMEOUT} if self.listen_ssl else {}),
                backlog=LISTEN_BACKLOG,
                create_connection=_counting_connection(self.note_unanswered),
                logger=_quiet_logger(self.warn),
            )
        except OSError as error:
            writer.discard()
            raise RecordError(
                f"cannot listen on {options.host}:{options.port}: {error.strerror or error}; "
                "choose another --listen"
            ) from None
        except BaseException:
            writer.discard()
            raise
        host, port = server.sockets[0].getsockname()[:2]
        scheme = "wss" if self.listen_ssl is not None else "ws"
        self.status.listen = f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"
        self.started = time.monotonic()
        header = {
            RECORDS_HEADER_KEY: RECORDS_HEADER_VALUE,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        try:
            writer.write(header)
        except RecordError:
            server.close()
            writer.discard()
            raise
        if self.callbacks.on_listening is not None:
            self.callbacks.on_listening(self.status.listen)
        ticker = asyncio.create_task(self.tick())
        timer = (
            asyncio.get_running_loop().call_later(options.duration, self.stop, "duration")
            if options.duration is not None
            else None
        )
        try:
            await self.stopped.wait()
            self.recording = False
            # Close every client with 1001 (going away); the pumps pass it on upstream. Reading
            # resumes everywhere first, so that the answers to the close frames are read.
            for connection in self.open:
                connection.transport.resume_reading()
            server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), SHUTDOWN_TIMEOUT * 2)
        finally:
            self.recording = False
            if timer is not None:
                timer.cancel()
            ticker.cancel()
            server.close()
            for connection in [*self.open, *self.pending.values()]:
                connection.transport.abort()
            # Nothing recorded: no header-only file left to block the next try.
            removed = self.status.messages == 0
            if removed:
                writer.discard()
            else:
                writer.close()
        if self.error is not None:
            raise self.error
        self.status.elapsed = time.monotonic() - self.started
        return RecordSummary(
            path=str(writer.path),
            listen=self.status.listen,
            upstream=without_query(options.upstream),
            messages=self.status.messages,
            raw_bytes=self.status.raw_bytes,
            connections=self.status.connections,
            recorded_connections=self.status.recorded_connections,
            upstream_failures=self.status.upstream_failures,
            seconds=self.status.elapsed,
            stopped_by=self.status.stopped_by or "stopped",
            too_big=self.status.too_big,
            removed=removed,
            unanswered=dict(self.status.unanswered),
        )

    async def tick(self) -> None:
        while True:
            self.status.elapsed = time.monotonic() - self.started
            if self.callbacks.on_status is not None:
                self.callbacks.on_status(self.status)
            await asyncio.sleep(STATUS_INTERVAL)


UNANSWERED_CLOSED = "closed before its request"
UNANSWERED_INVALID = "not an HTTP request"
UNANSWERED_SLOW = "no request in time"
UNANSWERED_LEFT = "left before the answer"
UNANSWERED_LATE = "no answer in time"


def _counting_connection(note: Callable[[str], None]) -> type[ServerConnection]:
    """websockets' server connection with the handshake's deadlines (:data:`REQUEST_TIMEOUT`,
    then the upstream's), which tells ``note`` why a connection ended without any HTTP answer,
    which websockets itself does silently: a client that closed before sending its request,
    sent something else than HTTP, sent no request in time, or left while the upstream was
    being asked."""
    from websockets.asyncio.server import ServerConnection

    class CountingConnection(ServerConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.answered = False
            send_response = self.protocol.send_response

            def answer(response: Response) -> None:
                self.answered = True
                send_response(response)

            # Every answer goes through here: the handshake's and the ones websockets' own
            # parser sends to a malformed request (400, 431).
            self.protocol.send_response = answer  # type: ignore[method-assign]

        async def handshake(self, *args: Any, **kwargs: Any) -> None:
            arrived = (self.request_rcvd, self.connection_lost_waiter)
            done, _ = await asyncio.wait(
                arrived, timeout=REQUEST_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                note(UNANSWERED_SLOW)
                raise TimeoutError  # websockets drops the connection
            try:
                async with asyncio.timeout(HANDSHAKE_GUARD):
                    await super().handshake(*args, **kwargs)
            except TimeoutError:
                note(UNANSWERED_LATE)
                raise
            if self.answered:
                return
            if self.request is not None:
                note(UNANSWERED_LEFT)
                return
            # websockets' parser closes a connection that sends no valid request; it notes
            # why, and a client that hung up is a request cut short (EOFError).
            failed = self.protocol.handshake_exc
            closed = failed is None or isinstance(failed.__cause__, EOFError)
            note(UNANSWERED_CLOSED if closed else UNANSWERED_INVALID)

    return CountingConnection


def _first(request: Request, name: str) -> str | None:
    """A header's first value: ``headers.get`` raises when a client repeats the header."""
    values = request.headers.get_all(name)
    return values[0] if values else None


async def _forward(target: Connection, message: str | bytes) -> None:
    """Send ``message`` on; one over :data:`FORWARD_FRAGMENT` in fragments of that size, with
    a turn for every other connection between two (compressing 16 MiB in one go would hold
    the event loop, and every other connection's traffic, for up to a second)."""
    if len(message) <= FORWARD_FRAGMENT:
        await target.send(message)
        return

    async def fragments() -> AsyncIterator[str | bytes]:
        # Whole characters per fragment: each text fragment is valid UTF-8 on its own, which
        # the RFC does not require but some receivers check.
        pieces = memoryview(message) if isinstance(message, bytes) else message
        for start in range(0, len(message), FORWARD_FRAGMENT):
            yield pieces[start : start + FORWARD_FRAGMENT]  # type: ignore[misc]
            await asyncio.sleep(0)

    await target.send(fragments())


async def _close_like(target: Connection, closed: Exception) -> None:
    """Close ``target`` as ``source`` was closed: same code and reason, or dropped if it was.

    The close frame that counts is the one ``source`` sent, or else the one the proxy sent
    ``source`` itself when websockets failed that connection (1007 invalid UTF-8, 1009 message
    too big, 1002 protocol error): the other side hears the same code and reason.
    """
    received = getattr(closed, "rcvd", None)
    if received is None:
        received = getattr(closed, "sent", None)
    if received is None:
        # No close frame came (the peer vanished): drop the other side alike, without one.
        target.transport.abort()
        return
    if received.code == 1005:  # an empty close frame: send an empty one
        await _close(target, None, "")
    else:
        await _close(target, received.code, received.reason)


async def _close(connection: Connection, code: int | None, reason: str) -> None:
    """Close with a closing handshake. The other pump may hold ``connection``'s reading paused
    (backpressure) while it waits to send: reading resumes, or the answer to our close frame
    would never be read and closing would wait for its timeout."""
    connection.transport.resume_reading()
    await connection.close(code, reason)  # type: ignore[arg-type]


def _length(message: str | bytes) -> int:
    """A message's payload size in bytes."""
    return text_size(message).payload if isinstance(message, str) else len(message)


def _size(size: int) -> str:
    """``16 MiB``, ``1 KiB``, ``1,000 B``: a limit as a user would write it."""
    for unit, scale in (("MiB", MiB), ("KiB", 1024)):
        if size >= scale and size % scale == 0:
            return f"{size // scale:,} {unit}"
    return f"{size:,} B"


def _describe(error: BaseException) -> str:
    """One short clause for a failed upstream connection or handshake."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return (
            f"its certificate is not trusted ({error.verify_message}); pass --ca-file CA.pem, "
            "or --insecure to skip verification"
        )
    if isinstance(error, ssl.SSLError):
        return f"TLS error ({error.reason or error})"
    if isinstance(error, OSError) and error.errno:
        # asyncio words it "Connect call failed ('127.0.0.1', 8000)": the errno says why.
        return os.strerror(error.errno).lower()
    if isinstance(error, TimeoutError):
        return "no answer (timed out)"
    return str(error) or type(error).__name__


def without_query(url: str) -> str:
    """A URL fit for printing: query strings often carry tokens."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class _WarningHandler(logging.Handler):
    """websockets' log records as one-line warnings (a port scanner's bad handshake is not a
    traceback)."""

    def __init__(self, warn: Callable[[str], None]) -> None:
        super().__init__(logging.WARNING)
        self.warn = warn

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f": {_describe(record.exc_info[1])}"
        self.warn(text)


def _quiet_logger(warn: Callable[[str], None] | None = None) -> logging.Logger:
    logger = logging.getLogger("wsztune.record.server" if warn else "wsztune.record.upstream")
    logger.propagate = False
    logger.handlers.clear()
    logger.addHandler(_WarningHandler(warn) if warn is not None else logging.NullHandler())
    return logger


# Entry point --------------------------------------------------------------------------------------


def record(options: RecordOptions, callbacks: Callbacks | None = None) -> RecordSummary:
    """Run the recording proxy in its own event loop until a limit or a signal stops it.

    SIGINT (Ctrl-C) and SIGTERM stop recording and close every connection (1001, going away);
    a second signal drops them without waiting. Either way every line on disk is whole.
    """

    async def main() -> RecordSummary:
        recorder = Recorder(options, callbacks)
        loop = asyncio.get_running_loop()
        installed = []

        def on_signal(signum: int) -> None:
            if recorder.stopped.is_set():
                recorder.hurry()
            else:
                recorder.stop(signal.Signals(signum).name)

        for signum in (signal.SIGINT, signal.SIGTERM):
            # Only the main thread of a Unix process can take signals in an event loop.
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, on_signal, signum)
                installed.append(signum)
        try:
            return await recorder.run()
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)

    return asyncio.run(main())
