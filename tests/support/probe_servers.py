"""Real servers for the probe tests, on 127.0.0.1, in one background event loop per module.

Each server greets every connection with one compressible message (:data:`GREETING`, above ws's
1024 B and coder's 512 B thresholds, so a server that compresses at all compresses it), then
echoes what it receives. The Python stacks are the live check's own servers
(:mod:`wsztune.live.servers`), started with compression on or off; the planted misconfigurations
are plain python-websockets servers with the wrong options.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

GREETING = json.dumps(
    {
        "type": "snapshot",
        "items": [{"id": i, "name": f"item {i}", "price": i * 3} for i in range(60)],
    }
)
HOST = "127.0.0.1"


async def greet_then_echo(index: int, connection: Any) -> None:
    """The replay each live server runs: the greeting, then an echo until the client leaves."""
    await connection.send(GREETING.encode(), True)
    with contextlib.suppress(Exception):
        while True:
            await connection.send(await connection.recv(), True)


class Loop:
    """An event loop in a thread that keeps servers running until :meth:`close`."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.stack = contextlib.AsyncExitStack()

    def start(self, server: Callable[[], contextlib.AbstractAsyncContextManager[int]]) -> int:
        """Enter ``server()`` (an async context manager yielding its port) in the loop."""
        future = asyncio.run_coroutine_threadsafe(
            self.stack.enter_async_context(server()), self.loop
        )
        return future.result(timeout=30)

    def close(self) -> None:
        """Stop every server, then the loop."""
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self.stack.aclose(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@contextlib.asynccontextmanager
async def websockets_server(
    default: bool = False, offers: list[str] | None = None, greet: bool = True, **factory: Any
) -> AsyncIterator[int]:
    """python-websockets greeting then echoing: with serve()'s own default compression
    (``default``), one ServerPerMessageDeflateFactory(**factory), or none (no ``factory``).
    Every request's Sec-WebSocket-Extensions header is appended to ``offers`` when given;
    ``greet`` false: an echo only, silent until the client speaks."""
    from websockets.asyncio.server import serve
    from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

    def record(connection: Any, request: Any) -> None:
        if offers is not None:
            offers.append(request.headers.get("Sec-WebSocket-Extensions", ""))

    async def handler(ws: Any) -> None:
        if greet:
            await ws.send(GREETING)
        with contextlib.suppress(Exception):
            async for message in ws:
                await ws.send(message)

    extensions = [ServerPerMessageDeflateFactory(**factory)] if factory else []
    compression = "deflate" if default else None
    async with serve(
        handler, HOST, 0, compression=compression, extensions=extensions, process_request=record
    ) as server:
        yield server.sockets[0].getsockname()[1]


@contextlib.asynccontextmanager
async def http_answer(status_line: str, headers: str = "") -> AsyncIterator[int]:
    """A server that answers every request with ``status_line`` (a refusal, a redirect)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(
                f"HTTP/1.1 {status_line}\r\n{headers}Content-Length: 0\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, HOST, 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


@contextlib.asynccontextmanager
async def guarded_server(origin: str, token: str) -> AsyncIterator[int]:
    """python-websockets (default compression) that answers 403 to another Origin and 401
    without ``Authorization: Bearer TOKEN``."""
    from http import HTTPStatus

    from websockets.asyncio.server import serve

    def check(connection: Any, request: Any) -> Any:
        if request.headers.get("Authorization") != f"Bearer {token}":
            return connection.respond(HTTPStatus.UNAUTHORIZED, "token needed\n")
        return None

    async def handler(ws: Any) -> None:
        await ws.send(GREETING)

    async with serve(handler, HOST, 0, origins=[origin], process_request=check) as server:
        yield server.sockets[0].getsockname()[1]


class Peer:
    """A server process that prints its port, gets the greeting on stdin and stops when stdin
    closes."""

    def __init__(self, command: list[str]) -> None:
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdin is not None
        self.process.stdin.write(GREETING + "\n")
        self.process.stdin.flush()

    @property
    def port(self) -> int:
        assert self.process.stdout is not None
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.process.stdout.readline()))
        reader.start()
        reader.join(timeout=60)
        if not line or not line[0].strip().isdigit():
            self.stop()
            raise RuntimeError(f"{self.process.args}: no port printed")
        return int(line[0])

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
