"""A wire harness for the verification tests: real servers on 127.0.0.1, and a raw client that
records every frame as it arrived, before anything inflates it.

The client is a plain socket: it writes the HTTP upgrade with the ``Sec-WebSocket-Extensions``
offer a test chooses, reads the server's answer, then parses RFC 6455 frames itself (FIN, RSV1,
opcode, payload length, payload). Nothing of the server's library is on the client side, so
what the tests compare with wsztune's model is what the server really put on the wire.

Servers (each an async context manager yielding its port; every one sends the messages it is
given to each connection, then closes it):

* :func:`aiohttp_server`: ``aiohttp.web.WebSocketResponse(compress=...)``;
* :func:`tornado_server`: a ``tornado.websocket.WebSocketHandler`` whose
  ``get_compression_options`` returns what the test gives (None: compression off);
* :func:`uvicorn_server`: uvicorn with a ``--ws`` backend and ``--ws-per-message-deflate``;
* :func:`daphne_server`: daphne, in a subprocess (it runs Twisted's reactor).

The corpora: :func:`corpus_messages` takes the first server-to-client messages of a bundled
corpus, or of the file named by ``WSZTUNE_VERIFY_CORPUS`` (a corpus the code was never tuned on).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import zlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wsztune import corpus as corpus_module
from wsztune.corpus import SERVER
from wsztune.permessage_deflate import Setting, compress_stream, get_zlib_module

LOOPBACK = "127.0.0.1"
TIMEOUT = 30.0
REPO = Path(__file__).resolve().parents[2]
CORPORA = REPO / "corpora"
# Bundled corpora the tests run on by default: different shapes (chat fan-out, market ticks,
# game deltas with binary keyframes, big API documents, real GitHub documents).
DEFAULT_CORPORA = (
    "chat.records.jsonl",
    "market.records.jsonl",
    "game.records.jsonl",
    "api.jsonl",
    "websockets-commits.jsonl",
)
DEFAULT_MESSAGES = 250

Message = tuple[bool, bytes]  # (is_text, payload)


def corpus_messages(name: str, count: int = DEFAULT_MESSAGES) -> list[Message]:
    """The first ``count`` server-to-client messages of a corpus, as ``(is_text, payload)``.

    ``name`` is a file under ``corpora/`` or a path.
    """
    path = Path(name) if os.sep in name else CORPORA / name
    loaded = corpus_module.load(path)
    out: list[Message] = []
    for message in loaded.messages:
        if message.direction == SERVER:
            out.append((message.is_text, bytes(message.payload)))
            if len(out) == count:
                break
    return out


def verify_corpora() -> list[str]:
    """The corpora the verification tests run on: ``WSZTUNE_VERIFY_CORPUS`` (paths separated by
    ``os.pathsep``) when set, else :data:`DEFAULT_CORPORA`."""
    given = os.environ.get("WSZTUNE_VERIFY_CORPUS")
    if given:
        return [str(Path(item).resolve()) for item in given.split(os.pathsep) if item]
    return list(DEFAULT_CORPORA)


# The model --------------------------------------------------------------------------------------


def model_sizes(payloads: Sequence[bytes], setting: Setting, bits: int | None = None) -> list[int]:
    """wsztune's frame payload sizes for one stream at ``setting`` (CPython's zlib)."""
    bits = setting.server_bits if bits is None else bits
    frames = compress_stream(payloads, setting, bits, get_zlib_module("zlib"))
    return [len(frame) for frame in frames]


# The raw client ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WireFrame:
    """One frame as it crossed the socket."""

    fin: bool
    rsv1: bool
    opcode: int
    payload: bytes


@dataclass
class Wire:
    """What one connection received: the server's extension answer and every data frame."""

    extensions: str | None
    frames: list[WireFrame] = field(default_factory=list)

    def messages(self) -> list[tuple[bool, list[WireFrame]]]:
        """Data messages as ``(compressed, frames)``: RSV1 is on a message's first frame."""
        out: list[tuple[bool, list[WireFrame]]] = []
        current: list[WireFrame] = []
        for frame in self.frames:
            current.append(frame)
            if frame.fin:
                out.append((current[0].rsv1, current))
                current = []
        return out

    def sizes(self) -> list[int]:
        """Each message's payload bytes on the wire (all its frames)."""
        return [sum(len(f.payload) for f in frames) for _, frames in self.messages()]

    def compressed(self) -> list[bool]:
        """Per message: was it sent compressed (RSV1)?"""
        return [flag for flag, _ in self.messages()]

    def inflate(self, window_bits: int, takeover: bool) -> list[bytes]:
        """The messages, inflated as a receiver does: proves the frames are what was sent."""
        decoder = zlib.decompressobj(-window_bits)
        out = []
        for compressed, frames in self.messages():
            data = b"".join(frame.payload for frame in frames)
            if not compressed:
                out.append(data)
                continue
            if not takeover:
                decoder = zlib.decompressobj(-window_bits)
            out.append(decoder.decompress(data + b"\x00\x00\xff\xff"))
        return out


def parse_extensions(header: str | None) -> dict[str, str | None]:
    """``permessage-deflate; server_max_window_bits=12`` -> its parameters (name -> value)."""
    params: dict[str, str | None] = {}
    if not header:
        return params
    for part in header.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        params[name.strip()] = value.strip().strip('"') or None
    return params


async def _read_frame(reader: asyncio.StreamReader) -> WireFrame:
    head = await reader.readexactly(2)
    length = head[1] & 0x7F
    if length == 126:
        length = int.from_bytes(await reader.readexactly(2), "big")
    elif length == 127:
        length = int.from_bytes(await reader.readexactly(8), "big")
    mask = await reader.readexactly(4) if head[1] & 0x80 else b""
    payload = await reader.readexactly(length)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return WireFrame(bool(head[0] & 0x80), bool(head[0] & 0x40), head[0] & 0x0F, payload)


def masked_frame(payload: bytes, first: int = 0x82) -> bytes:
    """A masked client frame of any length: ``first`` is its first byte (0x82: a final binary
    frame; 0xC2: the same, compressed, RSV1 set)."""
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        head = bytes([first, 0x80 | length])
    elif length < 65536:
        head = bytes([first, 0x80 | 126]) + length.to_bytes(2, "big")
    else:
        head = bytes([first, 0x80 | 127]) + length.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (control frames only: short payloads)."""
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


async def fetch(port: int, offer: str | None, path: str = "/", timeout: float = TIMEOUT) -> Wire:
    """Connect to ``port``, offer ``offer`` (None: no extension), and record every data frame
    until the server closes the connection."""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(LOOPBACK, port, limit=1 << 24)
        try:
            key = base64.b64encode(os.urandom(16)).decode()
            lines = [
                f"GET {path} HTTP/1.1",
                f"Host: {LOOPBACK}:{port}",
                "Upgrade: websocket",
                "Connection: Upgrade",
                f"Sec-WebSocket-Key: {key}",
                "Sec-WebSocket-Version: 13",
                f"Origin: http://{LOOPBACK}:{port}",
            ]
            if offer is not None:
                lines.append(f"Sec-WebSocket-Extensions: {offer}")
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            if " 101 " not in head[0] + " ":
                raise AssertionError(f"the server refused the upgrade: {head[0]}")
            extensions = None
            for line in head[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "sec-websocket-extensions":
                    extensions = value.strip()
            wire = Wire(extensions)
            while True:
                frame = await _read_frame(reader)
                if frame.opcode == 0x8:  # close: answer it and stop
                    writer.write(_client_frame(0x8, frame.payload[:2]))
                    await writer.drain()
                    break
                if frame.opcode == 0x9:  # ping
                    writer.write(_client_frame(0xA, frame.payload))
                    continue
                if frame.opcode in (0x0, 0x1, 0x2):
                    wire.frames.append(frame)
            return wire
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, 0))
    return sock


# Servers ----------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def aiohttp_server(messages: Sequence[Message], compress: bool = True) -> AsyncIterator[int]:
    """aiohttp's ``WebSocketResponse(compress=compress)`` sending ``messages`` to every client."""
    from aiohttp import web

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=compress)
        await ws.prepare(request)
        for is_text, payload in messages:
            if is_text:
                await ws.send_str(payload.decode("utf-8"))
            else:
                await ws.send_bytes(payload)
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = _bound_socket()
    site = web.SockSite(runner, sock)
    await site.start()
    try:
        yield sock.getsockname()[1]
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def tornado_server(
    messages: Sequence[Message], options: dict[str, int] | None
) -> AsyncIterator[int]:
    """Tornado with ``get_compression_options() -> options`` (None: compression off)."""
    from tornado import httpserver, web, websocket

    class Handler(websocket.WebSocketHandler):
        def get_compression_options(self) -> dict[str, int] | None:
            return options

        async def open(self) -> None:
            for is_text, payload in messages:
                message = payload.decode("utf-8") if is_text else payload
                await self.write_message(message, binary=not is_text)
            self.close()

    app = web.Application([(r"/", Handler)])
    server = httpserver.HTTPServer(app)
    sock = _bound_socket()
    sock.listen(16)
    sock.setblocking(False)
    server.add_sockets([sock])
    try:
        yield sock.getsockname()[1]
    finally:
        server.stop()
        await server.close_all_connections()


def asgi_app(messages: Sequence[Message]):  # type: ignore[no-untyped-def]
    """A bare ASGI app: accept the WebSocket, send ``messages``, close."""

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "lifespan":
            while True:
                event = await receive()
                if event["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif event["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "websocket":
            return
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        for is_text, payload in messages:
            key = "text" if is_text else "bytes"
            await send({"type": "websocket.send", key: payload.decode() if is_text else payload})
        await send({"type": "websocket.close", "code": 1000})

    return app


@contextlib.asynccontextmanager
async def uvicorn_server(
    messages: Sequence[Message], ws: str, deflate: bool = True
) -> AsyncIterator[int]:
    """uvicorn in this event loop with ``--ws ws`` and ``--ws-per-message-deflate deflate``."""
    import uvicorn

    config = uvicorn.Config(
        asgi_app(messages),
        ws=ws,
        ws_per_message_deflate=deflate,
        lifespan="off",
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    # uvicorn's serve() installs signal handlers; keep them ours (and pytest's).
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    sock = _bound_socket()
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(TIMEOUT):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, TIMEOUT)
        sock.close()


DAPHNE_APP = """
import base64, json, os, sys
sys.path.insert(0, {repo!r})
from tests.support.wire import asgi_app
with open(os.environ["WSZTUNE_WIRE_MESSAGES"]) as f:
    application = asgi_app([(t, base64.b64decode(p)) for t, p in json.load(f)])
"""


@contextlib.asynccontextmanager
async def daphne_server(messages: Sequence[Message]) -> AsyncIterator[int]:
    """daphne in a subprocess, serving :func:`asgi_app` on an ephemeral loopback port."""
    with tempfile.TemporaryDirectory(prefix="wsztune-daphne-") as tmp:
        data = Path(tmp, "messages.json")
        data.write_text(json.dumps([[t, base64.b64encode(p).decode()] for t, p in messages]))
        Path(tmp, "wire_daphne_app.py").write_text(
            DAPHNE_APP.format(repo=str(REPO))
        )
        sock = _bound_socket()
        port = sock.getsockname()[1]
        sock.close()  # daphne binds it again; SO_REUSEADDR keeps the race short
        env = {**os.environ, "WSZTUNE_WIRE_MESSAGES": str(data), "PYTHONPATH": tmp}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "daphne", "-b", LOOPBACK, "-p", str(port),
            "wire_daphne_app:application",
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            async with asyncio.timeout(TIMEOUT):
                while True:
                    try:
                        _, writer = await asyncio.open_connection(LOOPBACK, port)
                    except OSError:
                        if process.returncode is not None:
                            raise AssertionError("daphne exited before listening") from None
                        await asyncio.sleep(0.05)
                        continue
                    writer.close()
                    break
            yield port
        finally:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
