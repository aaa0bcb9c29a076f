"""The Python servers ``wsztune live`` runs in this process: python-websockets, aiohttp, Tornado
and uvicorn (each ``--ws`` backend), behind one small interface.

Each :class:`LiveServer` knows three things: how to start its real server on an ephemeral
loopback port with compression on or off, handing every connection to the live check's replay
(:class:`Connection`: send, receive, flush); what the check's client (python-websockets) must
offer to get the setting; and the model :class:`~wsztune.permessage_deflate.Setting` of what the
server then really runs, with the values the stack fixes (aiohttp: level 1, memLevel 8, and no
cap on the client's window; Tornado: window 15; uvicorn: per backend). The replay, the client
process and the memory marks are the live check's own (:mod:`wsztune.live.python`), the same for
every server.

Every server's framework is imported only when its check runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from wsztune.errors import SettingError
from wsztune.loopback import LOOPBACK
from wsztune.permessage_deflate import Setting
from wsztune.stacks import STACKS
from wsztune.stacks.profile import Defaults


class Connection:
    """One server-side connection as the replay uses it."""

    async def send(self, payload: bytes, is_text: bool) -> None:
        """Send one message."""
        raise NotImplementedError

    async def recv(self) -> bytes:
        """The next message from the client, as bytes."""
        raise NotImplementedError

    async def flush(self) -> None:
        """Wait until what was sent has left (websockets: a ping answered); others: nothing,
        the check waits for the client's own count instead."""

    def counts(self) -> tuple[int, int] | None:
        """Compressed payload bytes sent and received, counted by the server itself, or None
        when the server has no such counter (the client's count is then the live figure)."""
        return None


Replay = Callable[[int, Connection], Awaitable[None]]  # connection index, connection


@dataclass(frozen=True)
class Offer:
    """What the check's python-websockets client offers (and compresses with)."""

    server_max_window_bits: int | None  # None: not offered (the server picks)
    client_max_window_bits: int | bool  # True: offered without a value (the server may cap it)
    mem_level: int

    def to_json(self) -> list[Any]:
        """The client process's ``compression`` config."""
        return [self.server_max_window_bits, self.client_max_window_bits, self.mem_level]


@dataclass(frozen=True)
class LiveServer:
    """A Python server stack the live check can run (see the module docstring)."""

    name: str  # the stack profile's name (wsztune.stacks)
    title: str
    version_module: str  # whose __version__ the result reports
    @property
    def read_buffer(self) -> int:
        """Bytes of a buffer the stack writes whole and frees on every socket read, whose
        pages the zlib objects built next reuse (its profile's, as a sweep for it uses)."""
        return STACKS[self.name].read_buffer

    @property
    def defaults(self) -> Defaults:
        """What the stack runs unconfigured, from its profile: the values it fixes come from
        there, not from a second copy here."""
        return STACKS[self.name].defaults

    def model(self, setting: Setting) -> Setting:
        """The setting the server really runs when the check asks for ``setting``."""
        return setting

    def offer(self, model: Setting) -> Offer:
        """What the client offers to get ``model`` (a result of :meth:`model`)."""
        return Offer(model.server_bits, model.client_bits, model.sender("client").mem_level)

    @contextlib.asynccontextmanager
    async def serve(
        self, replay: Replay, model: Setting | None, timeout: float
    ) -> AsyncIterator[int]:
        """Run the server (compression per ``model``, off with None); yield its port."""
        raise NotImplementedError
        yield 0  # pragma: no cover


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((LOOPBACK, 0))
    return sock


def _index(path: str) -> int:
    return int(path.strip("/"))


# python-websockets ----------------------------------------------------------------------------


def counting_extension_class() -> type:
    """PerMessageDeflate that also adds up the payload bytes it puts on and takes off the wire."""
    from websockets.extensions.permessage_deflate import PerMessageDeflate
    from websockets.frames import CTRL_OPCODES

    class CountingPerMessageDeflate(PerMessageDeflate):
        sent_bytes = 0
        received_bytes = 0

        def encode(self, frame: Any) -> Any:
            frame = super().encode(frame)
            if frame.opcode not in CTRL_OPCODES:
                self.sent_bytes += len(frame.data)  # compressed, exactly as it goes on the wire
            return frame

        def decode(self, frame: Any, *, max_size: int | None = None) -> Any:
            if frame.opcode not in CTRL_OPCODES:
                self.received_bytes += len(frame.data)  # still compressed, as it came in
            return super().decode(frame, max_size=max_size)

    return CountingPerMessageDeflate


def websockets_server_factory(setting: Setting) -> Any:
    """A python-websockets server extension factory for ``setting`` whose extensions count their
    frames' bytes (:func:`counting_extension_class`)."""
    from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

    counting = counting_extension_class()

    class CountingFactory(ServerPerMessageDeflateFactory):
        def process_request_params(self, params: Any, accepted_extensions: Any) -> Any:
            response, extension = super().process_request_params(params, accepted_extensions)
            # Swap the class rather than build a second extension: a second one would allocate
            # (and free) another compressor in the middle of the measurement.
            extension.__class__ = counting
            return response, extension

    return CountingFactory(
        server_max_window_bits=setting.server_bits,
        client_max_window_bits=setting.client_bits,
        compress_settings={"memLevel": setting.mem_level},
    )


class _WebsocketsConnection(Connection):
    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def send(self, payload: bytes, is_text: bool) -> None:
        await self.ws.send(payload, text=is_text)

    async def recv(self) -> bytes:
        return await self.ws.recv(decode=False)

    async def flush(self) -> None:
        # The client answers the ping only after it has read every frame before it.
        pong = await self.ws.ping()
        await pong

    def counts(self) -> tuple[int, int] | None:
        for extension in self.ws.protocol.extensions:
            if hasattr(extension, "sent_bytes"):
                return extension.sent_bytes, extension.received_bytes
        return (0, 0)


class Websockets(LiveServer):
    """python-websockets' ``serve()`` with the setting's extension, counting its frames."""

    @contextlib.asynccontextmanager
    async def serve(
        self, replay: Replay, model: Setting | None, timeout: float
    ) -> AsyncIterator[int]:
        from websockets.asyncio.server import serve

        async def handler(ws: Any) -> None:
            await replay(_index(ws.request.path), _WebsocketsConnection(ws))

        server = None
        try:
            async with asyncio.timeout(timeout):
                server = await serve(
                    handler,
                    LOOPBACK,
                    0,
                    compression=None,  # only the extension configured here
                    extensions=[websockets_server_factory(model)] if model is not None else [],
                    max_size=None,  # a corpus message may exceed websockets' 1 MiB default
                    ping_interval=None,  # keepalive pings would only add noise
                    close_timeout=timeout,
                )
            yield server.sockets[0].getsockname()[1]
        finally:
            if server is not None:
                server.close()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await server.wait_closed()


# aiohttp --------------------------------------------------------------------------------------


class _AiohttpConnection(Connection):
    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def send(self, payload: bytes, is_text: bool) -> None:
        if is_text:
            await self.ws.send_str(payload.decode("utf-8"))
        else:
            await self.ws.send_bytes(payload)

    async def recv(self) -> bytes:
        message = await self.ws.receive()
        data = message.data
        if isinstance(data, str):
            return data.encode("utf-8")
        if not isinstance(data, bytes | bytearray):
            raise ConnectionError(f"aiohttp received {message.type!r} instead of a message")
        return bytes(data)


class Aiohttp(LiveServer):
    """``aiohttp.web.WebSocketResponse(compress=True|False)``.

    aiohttp fixes level 1 and memLevel 8, compresses with the window the client asks for
    (server_max_window_bits), never caps the client's window, and inflates at 15 bits
    (aiohttp/_websocket/writer.py and reader.py).
    """

    def model(self, setting: Setting) -> Setting:
        fixed = self.defaults
        if setting.mem_level != fixed.mem_level:
            raise SettingError(
                f"aiohttp compresses at memLevel {fixed.mem_level} only, not {setting.mem_level}: "
                f"give --setting {setting.window_bits}:{fixed.mem_level}"
            )
        if setting.client_window_bits not in (None, fixed.client_window_bits):
            raise SettingError("aiohttp never caps the client's window: drop --client-window-bits")
        # The check's client compresses at memLevel 8 and zlib's default level.
        return replace(
            setting,
            level=fixed.level,
            client_window_bits=fixed.client_window_bits,
            client_mem_level=8,
            client_level=-1,
        )

    def offer(self, model: Setting) -> Offer:
        bits = model.server_bits
        return Offer(None if bits == 15 else bits, True, 8)

    @contextlib.asynccontextmanager
    async def serve(
        self, replay: Replay, model: Setting | None, timeout: float
    ) -> AsyncIterator[int]:
        from aiohttp import web

        async def handler(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse(compress=model is not None, max_msg_size=0)
            await ws.prepare(request)
            await replay(_index(request.path), _AiohttpConnection(ws))
            await ws.close()
            return ws

        app = web.Application()
        app.router.add_get("/{index}", handler)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        sock = _bound_socket()
        try:
            await web.SockSite(runner, sock, shutdown_timeout=0).start()
            yield sock.getsockname()[1]
        finally:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await runner.cleanup()
            sock.close()


# Tornado --------------------------------------------------------------------------------------


class _TornadoConnection(Connection):
    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self.inbox: asyncio.Queue[bytes] = asyncio.Queue()

    async def send(self, payload: bytes, is_text: bool) -> None:
        message = payload.decode("utf-8") if is_text else payload
        await self.handler.write_message(message, binary=not is_text)

    async def recv(self) -> bytes:
        return await self.inbox.get()


class Tornado(LiveServer):
    """A ``tornado.websocket.WebSocketHandler`` whose ``get_compression_options`` returns the
    setting's ``compression_level`` and ``mem_level``. Tornado has no window option: 15 bits
    both ways (the client is not capped)."""

    def model(self, setting: Setting) -> Setting:
        bits = self.defaults.window_bits
        if setting.window_bits != bits or setting.client_window_bits not in (None, bits):
            raise SettingError(
                f"Tornado has no window option: it compresses at {bits} bits; give --setting "
                f"{bits}:{setting.mem_level}"
            )
        # Tornado's own default level (6) unless one is asked for.
        level = self.defaults.level if setting.level == -1 else setting.level
        return replace(
            setting,
            level=level,
            client_window_bits=bits,
            client_mem_level=setting.mem_level,
            client_level=-1,
        )

    def offer(self, model: Setting) -> Offer:
        return Offer(None, True, model.mem_level)

    @contextlib.asynccontextmanager
    async def serve(
        self, replay: Replay, model: Setting | None, timeout: float
    ) -> AsyncIterator[int]:
        from tornado import httpserver, web, websocket

        options = (
            None
            if model is None
            else {"compression_level": model.level, "mem_level": model.mem_level}
        )
        tasks: set[asyncio.Task] = set()

        class Handler(websocket.WebSocketHandler):
            def get_compression_options(self) -> dict[str, int] | None:
                return options

            def open(self, index: str) -> None:
                # The replay runs beside the handler: Tornado delivers messages only once
                # open() has returned.
                self.connection_ = _TornadoConnection(self)
                task = asyncio.ensure_future(replay(int(index), self.connection_))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

            def on_message(self, message: str | bytes) -> None:
                data = message.encode("utf-8") if isinstance(message, str) else message
                self.connection_.inbox.put_nowait(data)

        app = web.Application([(r"/(\d+)", Handler)], websocket_max_message_size=1 << 40)
        server = httpserver.HTTPServer(app)
        sock = _bound_socket()
        sock.listen(128)
        sock.setblocking(False)
        server.add_sockets([sock])
        try:
            yield sock.getsockname()[1]
        finally:
            server.stop()
            for task in list(tasks):
                task.cancel()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await server.close_all_connections()


# uvicorn --------------------------------------------------------------------------------------


class _AsgiConnection(Connection):
    def __init__(self, receive: Any, send: Any) -> None:
        self._receive = receive
        self._send = send

    async def send(self, payload: bytes, is_text: bool) -> None:
        key, value = ("text", payload.decode("utf-8")) if is_text else ("bytes", payload)
        await self._send({"type": "websocket.send", key: value})

    async def recv(self) -> bytes:
        event = await self._receive()
        if event["type"] != "websocket.receive":
            raise ConnectionError(f"uvicorn delivered {event['type']} instead of a message")
        text = event.get("text")
        return text.encode("utf-8") if text is not None else bytes(event["bytes"])


@dataclass(frozen=True)
class Uvicorn(LiveServer):
    """uvicorn with ``--ws BACKEND`` and ``--ws-per-message-deflate`` on or off, serving a bare
    ASGI app. The backend fixes the setting: websockets-sansio (``auto``) 12:5 with the
    client's window 12; websockets 15:8 (a bare ServerPerMessageDeflateFactory()); wsproto 15:8
    (its PerMessageDeflate(): zlib's defaults), both leaving the client at 15 bits."""

    backend: str = "auto"

    def model(self, setting: Setting) -> Setting:
        fixed = self.defaults
        server_bits, mem_level = fixed.window_bits, fixed.mem_level
        client_bits = server_bits if fixed.client_window_bits is None else fixed.client_window_bits
        asked = (setting.window_bits, setting.mem_level)
        if asked != (server_bits, mem_level) or setting.client_window_bits not in (
            None,
            client_bits,
        ):
            raise SettingError(
                f"uvicorn --ws {self.backend} runs {server_bits}:{mem_level} and nothing else "
                f"(it can only turn compression on or off): give --setting "
                f"{server_bits}:{mem_level} or no setting"
            )
        return replace(
            setting,
            client_window_bits=client_bits,
            client_mem_level=mem_level,
            client_level=-1,
        )

    def offer(self, model: Setting) -> Offer:
        return Offer(None, True, model.mem_level)

    @contextlib.asynccontextmanager
    async def serve(
        self, replay: Replay, model: Setting | None, timeout: float
    ) -> AsyncIterator[int]:
        import uvicorn

        async def app(scope: dict, receive: Any, send: Any) -> None:
            if scope["type"] != "websocket":
                return
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            await replay(_index(scope["path"]), _AsgiConnection(receive, send))
            await send({"type": "websocket.close", "code": 1000})

        config = uvicorn.Config(
            app,
            ws=self.backend,
            ws_per_message_deflate=model is not None,
            ws_max_size=1 << 40,
            ws_ping_interval=None,
            lifespan="off",
            log_level="error",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        sock = _bound_socket()
        task = asyncio.ensure_future(server.serve(sockets=[sock]))
        try:
            async with asyncio.timeout(timeout):
                while not server.started:
                    if task.done():
                        task.result()
                    await asyncio.sleep(0.01)
            yield sock.getsockname()[1]
        finally:
            server.should_exit = True
            server.force_exit = True
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                async with asyncio.timeout(timeout):
                    await task
            sock.close()


# The servers by the names --server takes (the stack profiles' names).
SERVERS: dict[str, LiveServer] = {
    "websockets": Websockets("websockets", "python-websockets", "websockets"),
    "aiohttp": Aiohttp("aiohttp", "aiohttp", "aiohttp"),
    "tornado": Tornado("tornado", "Tornado", "tornado"),
    "uvicorn": Uvicorn("uvicorn", "uvicorn --ws auto", "uvicorn", "auto"),
    "uvicorn-sansio": Uvicorn(
        "uvicorn-sansio", "uvicorn --ws websockets-sansio", "uvicorn", "websockets-sansio"
    ),
    "uvicorn-websockets": Uvicorn(
        "uvicorn-websockets", "uvicorn --ws websockets", "uvicorn", "websockets"
    ),
    "uvicorn-wsproto": Uvicorn("uvicorn-wsproto", "uvicorn --ws wsproto", "uvicorn", "wsproto"),
}
