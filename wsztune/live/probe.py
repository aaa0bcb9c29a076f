"""``wsztune probe URL``: what a running server negotiates with each real client's offer.

One connection per client profile, each sending that client's exact ``Sec-WebSocket-Extensions``
offer (the browsers' and libraries' own strings, from :mod:`wsztune.stacks`), over a raw socket
so that the header is byte for byte the client's and the RSV1 bit of the server's frames is
visible. For each it records the response header exactly as received, the windows and context
takeover it means both ways (RFC 7692 section 7), whether the server's first message really
arrives compressed (RSV1 set, and it inflates), and what a connection of that client costs the
server in memory (from the stack profile's formula, or a measured run's cells). :func:`judge`
turns what was seen into findings, each named with its fix; with an expectation or a budget the
findings become a gate (exit code 1).

Polite by construction: connections one after another, never in parallel, each bounded by a
short timeout, one small message at most (``--send``), a close frame at the end; the first
connection's failure to connect at all (DNS, refused, TLS, an HTTP error for every offer) stops
the probe with one line rather than trying the other profiles.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import ssl
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from wsztune import stopping
from wsztune.errors import CheckFailed, WsztuneError

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
DEFAULT_TIMEOUT = 3.0  # seconds for the connection and handshake of one profile
DEFAULT_WAIT = 1.0  # seconds to wait for the server's first message
MAX_HEADER_BYTES = 64 * 1024
MAX_MESSAGE_BYTES = 1 << 20  # read at most this much of the server's first message
TAIL = b"\x00\x00\xff\xff"
EXTENSION = "permessage-deflate"


class ProbeError(WsztuneError):
    """The probe could not talk to the server at all: one line, exit code 2."""


# Client profiles ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProbeClient:
    """A client whose offer the probe sends: its name (``--json``'s ``client``), title, the exact
    header, where the header comes from, and the :mod:`wsztune.stacks` client profile modelling
    its compressor (None: none; its window is then what the server grants)."""

    name: str
    title: str
    offer: str
    source: str
    profile: str | None = None
    # What the client itself insists on in the response (beyond RFC 7692), else it fails the
    # connection: parameters it requires, and the only parameters it allows (None: any).
    requires: tuple[str, ...] = ()
    allows: tuple[str, ...] | None = None


def client_profiles(custom: Sequence[str] = ()) -> list[ProbeClient]:
    """Chrome, Firefox, Safari, python-websockets, ws, gorilla and coder, each with its own offer,
    then one ``custom`` client per ``--offer`` given."""
    from wsztune.stacks import CLIENTS, coder, gorilla

    names = {"websockets": "python-websockets"}
    found = [
        ProbeClient(
            names.get(client.name, client.name),
            client.title,
            client.offer_header,
            client.sources[0].describe() if client.sources else "",
            client.name,
        )
        for client in CLIENTS.values()
    ]
    order = ("chrome", "firefox", "safari", "python-websockets", "ws")
    found.sort(key=lambda item: order.index(item.name) if item.name in order else len(order))
    found.append(
        ProbeClient("gorilla", "gorilla/websocket Dialer", gorilla.CLIENT_OFFER,
                    gorilla.CLIENT_OFFER_SOURCE.describe(), requires=gorilla.CLIENT_REQUIRES)
    )  # fmt: skip
    found.append(
        ProbeClient("coder", "coder/websocket Dial", coder.CLIENT_OFFER,
                    coder.CLIENT_OFFER_SOURCE.describe(), allows=coder.CLIENT_ALLOWS)
    )  # fmt: skip
    for index, offer in enumerate(custom):
        name = "custom" if len(custom) == 1 else f"custom{index + 1}"
        found.append(ProbeClient(name, "--offer", offer, "given with --offer"))
    return found


# The URL --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where to connect: ``ws://host:port/path?query``."""

    url: str
    host: str
    port: int
    resource: str  # path and query, as the request line carries them
    secure: bool

    @property
    def host_header(self) -> str:
        """The ``Host`` header: the port only when it is not the scheme's default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.secure else 80
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def address(self) -> str:
        """``host:port`` for messages."""
        return f"{self.host}:{self.port}"


def parse_url(text: str) -> Target:
    """``ws://`` or ``wss://`` URL -> :class:`Target`; anything else is one line, exit code 2."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError as error:
        raise ProbeError(f"{text!r}: not a URL ({error}); give ws://HOST[:PORT]/PATH") from None
    if parts.scheme not in ("ws", "wss"):
        hint = ""
        if parts.scheme in ("http", "https"):
            hint = f": write {'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}..."
        raise ProbeError(f"{text!r}: the URL must start with ws:// or wss://{hint}")
    if not parts.hostname:
        raise ProbeError(f"{text!r}: no host; give ws://HOST[:PORT]/PATH")
    secure = parts.scheme == "wss"
    resource = parts.path or "/"
    if parts.query:
        resource += f"?{parts.query}"
    return Target(text.strip(), parts.hostname, port or (443 if secure else 80), resource, secure)


# Extensions header ----------------------------------------------------------------------------

Params = list[tuple[str, str | None]]


def parse_extensions(header: str) -> list[tuple[str, Params]]:
    """``permessage-deflate; client_max_window_bits=10, x`` -> [(name, [(param, value)])].

    Values may be quoted (RFC 6455 section 9.1); names are compared in lower case."""
    extensions: list[tuple[str, Params]] = []
    for item in _split_outside_quotes(header, ","):
        pieces = [piece.strip() for piece in _split_outside_quotes(item, ";")]
        if not pieces or not pieces[0]:
            continue
        params: Params = []
        for piece in pieces[1:]:
            if not piece:
                continue
            name, equals, value = piece.partition("=")
            params.append((name.strip().lower(), value.strip().strip('"') if equals else None))
        extensions.append((pieces[0].lower(), params))
    return extensions


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts, current, quoted = [], [], False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


@dataclass(frozen=True)
class Negotiated:
    """What a permessage-deflate response means (RFC 7692 section 7.1).

    ``server_window``: the window of the server's compressor (``server_max_window_bits``, else
    15), the client's inflater must hold it. ``client_window``: the largest window the client may
    compress with, so what the server's inflater must hold (``client_max_window_bits``, else 15).
    ``violations``: what makes the client fail the connection (a parameter it did not offer,
    a value out of range, an unknown parameter)."""

    server_window: int
    client_window: int
    server_takeover: bool
    client_takeover: bool
    violations: tuple[str, ...] = ()
    # What breaks RFC 7692 without making every client fail (a client may tolerate it).
    deviations: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The parsed windows for ``--json``."""
        return {
            "server_max_window_bits": self.server_window,
            "client_max_window_bits": self.client_window,
            "server_context_takeover": self.server_takeover,
            "client_context_takeover": self.client_takeover,
            "violations": list(self.violations),
            "deviations": list(self.deviations),
        }

    def describe(self) -> str:
        """``server 12 bits, client 12 bits, takeover both ways``."""
        takeover = {
            (True, True): "context takeover both ways",
            (False, False): "no context takeover",
            (True, False): "no client context takeover",
            (False, True): "no server context takeover",
        }[(self.server_takeover, self.client_takeover)]
        return f"server {self.server_window} bits, client {self.client_window} bits, {takeover}"


def negotiate(
    offer: str, response: str | None, client: ProbeClient | None = None
) -> Negotiated | None:
    """What ``response`` (the server's header, None if absent) agrees for ``offer``; None when it
    accepted no permessage-deflate. ``client``'s own rules on the response count as violations
    too (gorilla requires both no-context-takeover parameters, coder allows nothing else)."""
    if not response:
        return None
    accepted = [params for name, params in parse_extensions(response) if name == EXTENSION]
    if not accepted:
        return None
    params = dict(accepted[0])
    offered = {name for name, _ in _first_offer(offer)}
    violations: list[str] = []
    if len(accepted) > 1:
        violations.append("permessage-deflate accepted twice")
    if len(params) != len(accepted[0]):
        violations.append("a parameter given twice")
    known = {
        "server_max_window_bits",
        "client_max_window_bits",
        "server_no_context_takeover",
        "client_no_context_takeover",
    }
    for name in params:
        if name not in known:
            violations.append(f"unknown parameter {name}")
    windows = {}
    for name in ("server_max_window_bits", "client_max_window_bits"):
        windows[name] = 15
        if name not in params:
            continue
        value = params[name]
        if value is None or not value.isdigit() or not 8 <= int(value) <= 15:
            violations.append(f"{name}={value} is not 8 to 15")
            continue
        windows[name] = int(value)
    if "client_max_window_bits" in params and "client_max_window_bits" not in offered:
        violations.append("client_max_window_bits answered but not offered")
    deviations = []
    if "server_no_context_takeover" in offered and "server_no_context_takeover" not in params:
        # RFC 7692 7.1.1.1: the server must agree to it or decline the offer. gorilla's Dialer
        # fails the connection (its requires); coder's Dial carries on.
        deviations.append("server_no_context_takeover offered but not agreed")
    if client is not None:
        for name in client.requires:
            if name not in params:
                violations.append(f"{client.name} requires {name}")
        if client.allows is not None:
            for name in params:
                if name not in client.allows:
                    violations.append(f"{client.name} allows no {name}")
    return Negotiated(
        server_window=windows["server_max_window_bits"],
        client_window=windows["client_max_window_bits"],
        server_takeover="server_no_context_takeover" not in params,
        client_takeover="client_no_context_takeover" not in params,
        violations=tuple(violations),
        deviations=tuple(deviations),
    )


def _first_offer(offer: str) -> Params:
    for name, params in parse_extensions(offer):
        if name == EXTENSION:
            return params
    return []


# One connection -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """How to connect: extra headers, Origin, TLS, what to send, and the timeouts."""

    headers: tuple[tuple[str, str], ...] = ()
    origin: str | None = None
    cafile: str | None = None
    insecure: bool = False
    send: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    wait: float = DEFAULT_WAIT


@dataclass
class Message:
    """The server's message the probe reports (its first compressed one, else its largest):
    on the wire and inflated."""

    opcode: int
    rsv1: bool
    frames: int
    wire_bytes: int  # payload bytes on the wire (compressed if rsv1)
    raw_bytes: int | None  # after inflating (None: it did not inflate)
    error: str = ""  # why it did not inflate, or was cut
    seen: int = 1  # data messages read from the server, this one included

    def to_json(self) -> dict[str, Any]:
        """``--json``'s ``message``."""
        return {
            "messages_read": self.seen,
            "rsv1": self.rsv1,
            "frames": self.frames,
            "wire_bytes": self.wire_bytes,
            "raw_bytes": self.raw_bytes,
            "error": self.error or None,
        }


@dataclass
class Probe:
    """What one client profile's connection saw."""

    client: ProbeClient
    status: int | None = None  # the HTTP status of the handshake
    reason: str = ""
    response: str | None = None  # Sec-WebSocket-Extensions exactly as received
    negotiated: Negotiated | None = None
    message: Message | None = None
    error: str = ""  # what went wrong after the handshake, or the handshake's refusal
    memory: int | None = None
    memory_how: str = ""

    @property
    def compressed(self) -> bool | None:
        """True: the server's message arrived with RSV1 and inflated; False: it arrived
        uncompressed, or nothing was negotiated; None: no message arrived to tell."""
        if self.status == 101 and self.negotiated is None:
            return False
        if self.message is None:
            return None
        return self.message.rsv1 and self.message.raw_bytes is not None

    def to_json(self, findings: Sequence[Finding] = ()) -> dict[str, Any]:
        """One object of ``--json``'s list, with the ``findings`` that name this client."""
        return {
            "client": self.client.name,
            "offer": self.client.offer,
            "status": self.status,
            "response": self.response,
            "windows": None if self.negotiated is None else self.negotiated.to_json(),
            "compressed": self.compressed,
            "message": None if self.message is None else self.message.to_json(),
            "memory": self.memory,
            "memory_source": self.memory_how or None,
            "error": self.error or None,
            "findings": [
                finding.to_json() for finding in findings if self.client.name in finding.clients
            ],
        }


def ssl_context(options: Options) -> ssl.SSLContext:
    """The TLS context for ``wss://``: the system's CAs (or ``--cafile``), or none checked."""
    try:
        context = ssl.create_default_context(cafile=options.cafile)
    except (OSError, ssl.SSLError) as error:
        raise ProbeError(f"--cafile {options.cafile}: cannot load it ({error})") from None
    if options.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def build_request(target: Target, client: ProbeClient, options: Options, key: str) -> bytes:
    """The upgrade request, with the client's offer exactly as the client writes it."""
    lines = [
        f"GET {target.resource} HTTP/1.1",
        f"Host: {target.host_header}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if client.offer:
        lines.append(f"Sec-WebSocket-Extensions: {client.offer}")
    if options.origin:
        lines.append(f"Origin: {options.origin}")
    from wsztune import __version__

    named = {name.lower() for name, _ in options.headers}
    if "user-agent" not in named:
        lines.append(f"User-Agent: wsztune-probe/{__version__}")
    lines.extend(f"{name}: {value}" for name, value in options.headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _mask_frame(opcode: int, payload: bytes) -> bytes:
    """A client frame (FIN, masked) carrying ``payload`` uncompressed."""
    length = len(payload)
    if length < 126:
        header = bytes([0x80 | opcode, 0x80 | length])
    elif length < 1 << 16:
        header = bytes([0x80 | opcode, 0x80 | 126]) + length.to_bytes(2, "big")
    else:
        header = bytes([0x80 | opcode, 0x80 | 127]) + length.to_bytes(8, "big")
    mask = os.urandom(4)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def _read_frame(reader: asyncio.StreamReader) -> tuple[bool, bool, int, bytes, bool]:
    """(fin, rsv1, opcode, payload, truncated) of the next frame (unmasked, from a server)."""
    first, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        length = int.from_bytes(await reader.readexactly(2), "big")
    elif length == 127:
        length = int.from_bytes(await reader.readexactly(8), "big")
    mask = await reader.readexactly(4) if second & 0x80 else b""
    truncated = length > MAX_MESSAGE_BYTES
    payload = await reader.readexactly(min(length, MAX_MESSAGE_BYTES))
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bool(first & 0x80), bool(first & 0x40), first & 0x0F, payload, truncated


async def _first_message(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, negotiated: Negotiated | None
) -> Message:
    """The server's next data message, answering its pings on the way."""
    opcode, rsv1, frames, parts = 0, False, 0, []
    while True:
        fin, frame_rsv1, frame_opcode, payload, truncated = await _read_frame(reader)
        if frame_opcode == 0x9:  # ping: answer, as any client does
            writer.write(_mask_frame(0xA, payload))
            continue
        if frame_opcode == 0x8:
            raise ConnectionError("the server closed the connection before sending a message")
        if frame_opcode == 0xA:
            continue
        if frames == 0:
            opcode, rsv1 = frame_opcode, frame_rsv1
        frames += 1
        parts.append(payload)
        if truncated or sum(map(len, parts)) > MAX_MESSAGE_BYTES:
            wire = b"".join(parts)
            return Message(opcode, rsv1, frames, len(wire), None, "over 1 MiB: not read whole")
        if fin:
            break
    wire = b"".join(parts)
    if not rsv1:
        return Message(opcode, rsv1, frames, len(wire), len(wire))
    if negotiated is None:
        return Message(opcode, rsv1, frames, len(wire), None, "RSV1 set without the extension")
    try:
        # A 15-bit inflater reads any window; the wire cannot show which one the server used.
        raw = zlib.decompressobj(-15).decompress(wire + TAIL)
    except zlib.error as error:
        return Message(opcode, rsv1, frames, len(wire), None, f"does not inflate: {error}")
    return Message(opcode, rsv1, frames, len(wire), len(raw))


MAX_MESSAGES = 8  # messages read at most, looking for a compressed one


async def _messages(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    negotiated: Negotiated | None,
    wait: float,
) -> Message:
    """The server's first compressed message within ``wait`` seconds (at most
    :data:`MAX_MESSAGES` read), else its largest; a server's first messages are often short
    control chatter under its threshold (Socket.IO's open packet). Raises TimeoutError when
    none arrives."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    best: Message | None = None
    seen = 0
    while seen < MAX_MESSAGES:
        try:
            async with asyncio.timeout_at(deadline):
                message = await _first_message(reader, writer, negotiated)
        except TimeoutError:
            if best is None:
                raise
            break
        except (ConnectionError, asyncio.IncompleteReadError):
            if best is None:
                raise
            break
        seen += 1
        if best is None or message.rsv1 or message.wire_bytes > best.wire_bytes:
            best = message
        if message.rsv1 or negotiated is None:
            break  # found it, or nothing can be compressed anyway
    assert best is not None
    best.seen = seen
    return best


async def _handshake(
    target: Target, client: ProbeClient, options: Options, context: ssl.SSLContext | None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, int, str, dict[str, list[str]]]:
    try:
        reader, writer = await asyncio.open_connection(
            target.host, target.port, limit=MAX_HEADER_BYTES
        )
    except OSError as error:
        what = error.strerror or str(error) or type(error).__name__
        if isinstance(error, ConnectionRefusedError):
            what = "connection refused"
        raise ProbeError(
            f"{target.url}: cannot connect to {target.address} ({what}): is the server "
            "running, and the host and port right?"
        ) from None
    if context is not None:
        try:
            await writer.start_tls(context, server_hostname=target.host)
        except ssl.SSLCertVerificationError as error:
            writer.close()
            raise ProbeError(
                f"{target.url}: TLS certificate not trusted ({error.verify_message}): pass "
                "--cafile FILE for a private CA, or --insecure to skip the check"
            ) from None
        except (ssl.SSLError, OSError) as error:
            writer.close()
            what = getattr(error, "reason", None) or error.strerror or type(error).__name__
            raise ProbeError(
                f"{target.url}: TLS handshake failed ({what}): does the server speak TLS on "
                f"port {target.port}? (did you mean ws://?)"
            ) from None
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(build_request(target, client, options, key))
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        writer.close()
        raise ProbeError(
            f"{target.url}: the server closed the connection without answering the upgrade"
        ) from None
    except asyncio.LimitOverrunError:
        writer.close()
        raise ProbeError(f"{target.url}: the server's response headers exceed 64 KiB") from None
    lines = head.decode("latin-1").split("\r\n")
    status_line = lines[0].split(" ", 2)
    if not (len(status_line) > 1 and status_line[0].startswith("HTTP/")) or not (
        status_line[1].isdigit()
    ):
        writer.close()
        raise ProbeError(f"{target.url}: not an HTTP response: {lines[0][:80]!r}")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
    status = int(status_line[1])
    reason = status_line[2] if len(status_line) > 2 else ""
    if status == 101:
        expected = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        if headers.get("sec-websocket-accept", [""])[0] != expected:
            writer.close()
            raise ProbeError(f"{target.url}: the server's Sec-WebSocket-Accept is wrong")
    return reader, writer, status, reason, headers


async def probe_one(
    target: Target, client: ProbeClient, options: Options, context: ssl.SSLContext | None
) -> Probe:
    """Open one connection with ``client``'s offer, read what the server agrees and sends."""
    result = Probe(client)
    async with asyncio.timeout(options.timeout):
        reader, writer, status, reason, headers = await _handshake(target, client, options, context)
    result.status, result.reason = status, reason
    try:
        if status != 101:
            result.error = http_refusal(target, status, reason, headers)
            return result
        values = headers.get("sec-websocket-extensions")
        result.response = ", ".join(values) if values else None
        result.negotiated = negotiate(client.offer, result.response, client)
        if options.send is not None:
            writer.write(_mask_frame(0x1, options.send.encode("utf-8")))
        try:
            result.message = await _messages(reader, writer, result.negotiated, options.wait)
        except TimeoutError:
            result.error = f"no message from the server within {options.wait:g} s"
        except (ConnectionError, asyncio.IncompleteReadError) as error:
            result.error = str(error) or "the server closed the connection"
        with contextlib.suppress(OSError):
            writer.write(_mask_frame(0x8, (1000).to_bytes(2, "big")))
            await writer.drain()
        return result
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
            async with asyncio.timeout(0.5):
                await writer.wait_closed()


def http_refusal(target: Target, status: int, reason: str, headers: dict[str, list[str]]) -> str:
    """One line for a handshake answered with another status than 101, saying what to do."""
    said = f"{target.url}: the server answered HTTP {status} {reason}".rstrip()
    if status in (301, 302, 303, 307, 308):
        location = headers.get("location", ["(no Location)"])[0]
        return f"{said}, a redirect to {location}: probe that URL instead (probe follows none)"
    if status in (401, 403):
        return (
            f"{said}: it refuses this client; check --origin (servers often refuse other "
            "origins) and the credentials (--header 'Authorization: ...' or a cookie)"
        )
    if status == 400:
        return (
            f"{said} to the upgrade: is the path a WebSocket endpoint, and does it need a "
            "query or --header?"
        )
    if status == 404:
        return f"{said}: no such path; check the URL's path"
    return f"{said} instead of 101 Switching Protocols"


REFUSALS = (301, 302, 303, 307, 308, 400, 401, 403, 404)


def probe_all(target: Target, clients: Sequence[ProbeClient], options: Options) -> list[Probe]:
    """Every client's connection, one after another. Raises :class:`ProbeError` (exit 2) when
    the server cannot be reached, or refuses the first client's handshake and every other's."""
    context = ssl_context(options) if target.secure else None

    async def run() -> list[Probe]:
        found: list[Probe] = []
        for client in clients:
            try:
                found.append(await probe_one(target, client, options, context))
            except TimeoutError:
                raise ProbeError(
                    f"{target.url}: no answer within {options.timeout:g} s (connection and "
                    "upgrade): is it a WebSocket server? (--timeout to wait longer)"
                ) from None
            # The same refusal for two different offers (or the only one) is about the URL,
            # the origin or the credentials, not the offer: say it once and stop.
            if (
                len(found) == min(2, len(clients))
                and found[0].status in REFUSALS
                and all(item.status == found[0].status for item in found)
            ):
                raise ProbeError(found[0].error)
        return found

    return stopping.run(run())


# Memory ---------------------------------------------------------------------------------------


def connection_memory(
    negotiated: Negotiated, stack: Any, mem_level: int | None, run: Any
) -> tuple[int | None, str]:
    """Bytes a connection of this client costs the server, and how that figure was got.

    From a run (``--results``): the cell of the negotiated windows (at ``mem_level``, or the
    largest over memLevels when it is unknown), observed; else composed from the compressor of
    the server's window and the decompressor of the client's. From a stack profile: zlib's
    formula at the stack's memLevel (its compressor and inflater; the wire cannot show memLevel).
    """
    if run is not None:
        return _memory_from_run(negotiated, mem_level, run)
    if stack is None:
        return None, ""
    if stack.codec.startswith("go-"):
        return None, f"{stack.title}: Go's flate has no formula here; give --results of a run"
    from wsztune.memory import compressor_theory, decompressor_theory

    level = mem_level or stack.defaults.mem_level
    total = compressor_theory(negotiated.server_window, level) + decompressor_theory(
        negotiated.client_window
    )
    owner = f"{stack.title}'" if stack.title.endswith("s") else f"{stack.title}'s"
    return total, (
        f"theory: {owner} {negotiated.server_window}-bit compressor at memLevel {level} "
        f"+ {negotiated.client_window}-bit inflater"
    )


def _memory_from_run(
    negotiated: Negotiated, mem_level: int | None, run: Any
) -> tuple[int | None, str]:
    cells = [
        cell for cell in run.cells
        if cell.get("compression", True) is not False
        and (mem_level is None or cell["mem_level"] == mem_level)
    ]  # fmt: skip
    exact = [
        cell for cell in cells
        if cell["window_bits"] == negotiated.server_window
        and cell["client_window_bits"] == negotiated.client_window
    ]  # fmt: skip
    level_text = f"memLevel {mem_level}" if mem_level else "the largest over its memLevels"
    if exact:
        worst = max(exact, key=lambda cell: cell["connection_memory"])
        return int(worst["connection_memory"]), (
            f"run, cell {worst['window_bits']}:{worst['mem_level']} client "
            f"{worst['client_window_bits']} ({level_text}), observed"
        )
    compressors = [cell for cell in cells if cell["window_bits"] == negotiated.server_window]
    inflaters = [
        cell for cell in run.cells if cell["client_window_bits"] == negotiated.client_window
    ]
    if compressors and inflaters:
        compressor = max(compressors, key=lambda cell: cell["compress_memory_observed"])
        inflater = max(cell["decompress_memory_observed"] for cell in inflaters)
        return int(compressor["compress_memory_observed"] + inflater), (
            f"run, compressor of {compressor['window_bits']}:{compressor['mem_level']} "
            f"({level_text}) + inflater of {negotiated.client_window} bits, observed"
        )
    return None, (
        f"the run has no cell with a {negotiated.server_window}-bit server window and a "
        f"{negotiated.client_window}-bit client window; sweep them (wsztune run)"
    )


# Findings -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    """``--expect``: compression off, or the server window (and memLevel) to see."""

    off: bool = False
    window_bits: int | None = None
    mem_level: int | None = None

    @property
    def label(self) -> str:
        """``off`` or ``13:2``."""
        if self.off:
            return "off"
        return f"{self.window_bits}:{self.mem_level}" if self.mem_level else f"{self.window_bits}"


def parse_expect(text: str) -> Expectation:
    """``off``, ``13`` or ``13:2`` -> :class:`Expectation`; anything else is exit code 2."""
    value = text.strip().lower()
    if value == "off":
        return Expectation(off=True)
    window, _, level = value.partition(":")
    if (
        not window.isdigit()
        or not 8 <= int(window) <= 15
        or (level and (not level.isdigit() or not 1 <= int(level) <= 9))
    ):
        raise ProbeError(
            f"--expect {text!r}: give WINDOW:MEMLEVEL (13:2), a window alone (13), or off"
        )
    return Expectation(window_bits=int(window), mem_level=int(level) if level else None)


@dataclass(frozen=True)
class Finding:
    """Something wrong (or worth knowing), the clients it concerns, and the fix."""

    problem: str
    clients: tuple[str, ...]
    fix: str
    failing: bool = True  # does it fail the gate?

    def to_json(self) -> dict[str, Any]:
        """``--json``'s findings."""
        return {
            "problem": self.problem,
            "clients": list(self.clients),
            "fix": self.fix,
            "failing": self.failing,
        }


BARE_OFFER_FIX = (
    "accept a bare permessage-deflate offer (RFC 7692 lets the server answer without "
    "client_max_window_bits): python-websockets 10.0-10.1 refused it (websockets issue 1109), "
    "upgrade to 10.2+ and drop require_client_max_window_bits=True; other stacks: do not "
    "require client_max_window_bits"
)


def _violation_fix(violation: str) -> str:
    if "answered but not offered" in violation:
        return "answer client_max_window_bits only when the client offered it (RFC 7692 7.1.2.2)"
    if "offered but not agreed" in violation:
        return (
            "include server_no_context_takeover when accepting an offer that has it "
            "(RFC 7692 7.1.1.1), or decline that offer"
        )
    if " requires " in violation:
        return (
            "answer this client's offer with both server_no_context_takeover and "
            "client_no_context_takeover (what it offered), or decline it"
        )
    if " allows no " in violation:
        return (
            "answer no-context-takeover offers with those parameters only: no "
            "server_max_window_bits unless the client asked for it"
        )
    return "answer only the four RFC 7692 parameters, once each, with windows 8-15"


def _knob_fix(stack: Any, axis: str, value: str) -> str:
    knob = None if stack is None else stack.knob(axis)
    if axis == "enabled":
        where = "" if knob is None else f" ({stack.title}: {knob.name})"
        return f"turn permessage-deflate {value}{where}"
    if knob is None:
        return f"set the server's {axis.replace('_', ' ')} to {value}"
    return f"set {stack.title}'s {knob.name} to {value}"


def judge(
    probes: Sequence[Probe],
    expectation: Expectation | None = None,
    stack: Any = None,
    budget: int | None = None,
) -> list[Finding]:
    """What is wrong with what the server negotiated: compression off, refused bare offers,
    windows other than expected, invalid responses, frames not compressed, memory over budget.
    """
    connected = [probe for probe in probes if probe.status == 101]
    accepted = [probe for probe in connected if probe.negotiated is not None]
    findings = _refusals(probes)
    if expectation is not None and expectation.off:
        if accepted:
            findings.append(
                Finding(
                    "compression is on, expected off",
                    tuple(probe.client.name for probe in accepted),
                    _knob_fix(stack, "enabled", "off"),
                )
            )
        return findings
    findings += _declines(connected, accepted, stack)
    findings += _response_problems(accepted)
    if expectation is not None and expectation.window_bits is not None:
        findings += _unexpected_windows(accepted, expectation, stack)
    findings += _message_problems(accepted, stack)
    if budget is not None:
        findings += _memory_problems(accepted, budget)
    return findings


def _refusals(probes: Sequence[Probe]) -> list[Finding]:
    """Offers answered with an HTTP error instead of a handshake."""
    refused = [probe for probe in probes if probe.status != 101]
    if not refused:
        return []
    return [
        Finding(
            f"the handshake was refused for {len(refused)} offer(s): "
            + "; ".join(probe.error for probe in refused[:2]),
            tuple(probe.client.name for probe in refused),
            "accept every client's offer (an unknown parameter must be declined, not "
            "answered with an HTTP error)",
        )
    ]


def _declines(connected: list[Probe], accepted: list[Probe], stack: Any) -> list[Finding]:
    """Connections without permessage-deflate: compression off, or some offers declined."""
    declined = [probe for probe in connected if probe.negotiated is None and probe.client.offer]
    if connected and not accepted:
        return [
            Finding(
                "compression is off: the server accepted permessage-deflate for no offer",
                tuple(probe.client.name for probe in declined),
                _knob_fix(stack, "enabled", "on")
                + " (and check that no proxy strips Sec-WebSocket-Extensions)",
            )
        ]
    findings = []
    bare = [probe for probe in declined if not _first_offer(probe.client.offer)]
    if bare:
        findings.append(
            Finding(
                "permessage-deflate refused for bare offers (Firefox, Safari), accepted "
                "for offers with parameters",
                tuple(probe.client.name for probe in bare),
                BARE_OFFER_FIX,
            )
        )
    others = [probe for probe in declined if probe not in bare]
    if others:
        findings.append(
            Finding(
                "permessage-deflate refused for these clients' offers: "
                + "; ".join(f"{p.client.name}: {p.client.offer!r}" for p in others),
                tuple(probe.client.name for probe in others),
                "accept the offer, declining only the parameters the server cannot honour",
            )
        )
    return findings


def _response_problems(accepted: list[Probe]) -> list[Finding]:
    """Answers a client refuses (failing), and answers that only break the RFC (a note: the
    client may carry on)."""
    findings = []
    for attribute, failing in (("violations", True), ("deviations", False)):
        by_kind: dict[str, list[str]] = {}
        for probe in accepted:
            for kind in getattr(probe.negotiated, attribute, ()):
                by_kind.setdefault(kind, []).append(probe.client.name)
        for kind, names in by_kind.items():
            problem = (
                f"the response fails the connection: {kind}"
                if failing
                else f"the response breaks RFC 7692: {kind} (the server keeps its context "
                "between messages, which the client asked it not to)"
            )
            findings.append(Finding(problem, tuple(names), _violation_fix(kind), failing))
    return findings


def _unexpected_windows(
    accepted: list[Probe], expectation: Expectation, stack: Any
) -> list[Finding]:
    """A server window other than --expect's, and a memLevel the stack cannot run."""
    findings = []
    wrong = [
        probe for probe in accepted
        if probe.negotiated and probe.negotiated.server_window != expectation.window_bits
    ]  # fmt: skip
    if wrong:
        seen = sorted({p.negotiated.server_window for p in wrong if p.negotiated})
        findings.append(
            Finding(
                f"server window {', '.join(map(str, seen))} bits, expected "
                f"{expectation.window_bits}",
                tuple(probe.client.name for probe in wrong),
                _knob_fix(stack, "window_bits", str(expectation.window_bits)),
            )
        )
    if expectation.mem_level is not None and stack is not None:
        fixed = stack.knob("mem_level") is None and stack.defaults.mem_level
        if fixed and fixed != expectation.mem_level:
            findings.append(
                Finding(
                    f"{stack.title} compresses at memLevel {fixed} only, expected "
                    f"{expectation.mem_level} (the wire cannot show memLevel; this is the "
                    "stack's fixed value)",
                    tuple(probe.client.name for probe in accepted),
                    f"expect {expectation.window_bits}:{fixed}, or change stack",
                )
            )
    return findings


def _message_problems(accepted: list[Probe], stack: Any) -> list[Finding]:
    """The server's message: uncompressed although negotiated, or compressed but not
    inflating."""
    findings = []
    flat = [
        probe for probe in accepted
        if probe.message is not None and not probe.message.rsv1
    ]  # fmt: skip
    threshold = 0 if stack is None else stack.threshold
    flat_big = [p for p in flat if p.message and p.message.wire_bytes >= max(threshold, 1)]
    if flat_big:
        findings.append(
            Finding(
                "compression negotiated, but the server's message arrived uncompressed "
                f"(RSV1 clear, {flat_big[0].message.wire_bytes if flat_big[0].message else 0} B)",
                tuple(probe.client.name for probe in flat_big),
                "a threshold above the message size or a per-message switch is skipping it: "
                "compare with a larger --send message or check the threshold",
                failing=False,
            )
        )
    broken = [
        probe for probe in accepted
        if probe.message is not None and probe.message.rsv1 and probe.message.raw_bytes is None
    ]  # fmt: skip
    if broken:
        findings.append(
            Finding(
                "the server's compressed message does not inflate: "
                + (broken[0].message.error if broken[0].message else ""),
                tuple(probe.client.name for probe in broken),
                "the server compresses with another window or protocol than it announced",
            )
        )
    return findings


def _memory_problems(accepted: list[Probe], budget: int) -> list[Finding]:
    """Clients whose connection costs the server more than the budget, or an unknown amount."""
    from wsztune.text import format_bytes

    findings = []
    over = [p for p in accepted if p.memory is not None and p.memory > budget]
    if over:
        worst = max(over, key=lambda probe: probe.memory or 0)
        findings.append(
            Finding(
                f"a connection costs the server up to {format_bytes(worst.memory or 0)}, over "
                f"the budget of {format_bytes(budget)}",
                tuple(probe.client.name for probe in over),
                "cap the windows (server_max_window_bits, and client_max_window_bits for "
                "clients that offer it); clients with a bare offer keep 15 bits",
            )
        )
    unknown = [p for p in accepted if p.memory is None]
    if unknown:
        findings.append(
            Finding(
                "memory unknown for these clients: " + unknown[0].memory_how,
                tuple(probe.client.name for probe in unknown),
                "give --results of a run that swept these windows",
            )
        )
    return findings


def gate(findings: Sequence[Finding], gating: bool) -> None:
    """Raise :class:`CheckFailed` (exit code 1) when gating and a failing finding exists."""
    failing = [finding for finding in findings if finding.failing]
    if gating and failing:
        raise CheckFailed(
            f"probe: {len(failing)} problem(s); first: {failing[0].problem} "
            f"({', '.join(failing[0].clients)})"
        )
