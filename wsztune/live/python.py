"""``wsztune live``: check the model against a real python-websockets server on 127.0.0.1.

A server with the chosen setting listens on an ephemeral loopback port, in this process, under
tracemalloc. A separate client process (``python -m wsztune.live``) opens connections one at a
time; on each, both sides replay one corpus connection in order: server-direction messages are
sent by the server, client-direction ones by the client. Then:

* bytes: the payloads the server actually sent and received, counted on the frames by the
  permessage-deflate extension itself (after compression, before inflation), and counted again
  independently by the client; they must equal the model
  (:func:`wsztune.permessage_deflate.compress_stream` per connection and direction) byte for byte;
* memory: after each connection's exchange, traced memory and RSS are read; the growth from one
  connection to the next is what a connection costs. The first connection is discarded (it pays
  one-off costs), as in websockets' own experiments/compression/server.py. The same run with
  compression off is the baseline subtracted, connection by connection, to isolate compression.
  The model it is compared with is the sweep's own ``connection_memory`` for the setting
  (:func:`wsztune.codecs.zlib.observe_connection`): compressor plus decompressor, inflate window
  included. zlib allocates that window on the first message a server inflates, so a live client
  whose corpus connection sends nothing sends one short :data:`PROBE` message at the end, as a
  real client sends something; its bytes are counted like any other client message.

Which corpus connection each live connection replays: live connection ``i`` replays corpus
connection ``i mod M`` (M connections in the corpus, in order of first appearance). A flat corpus
(JSONL, lines, a directory) is one connection, so every live connection replays all of it.

Everything is bounded: each step runs under ``asyncio.timeout``, the server is closed and the
client process reaped in ``finally``, and nothing listens or connects beyond 127.0.0.1.
websockets always compresses with the interpreter's zlib, so the model here is always the
``zlib`` codec.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import json
import os
import platform
import sys
import tempfile
import time
import tracemalloc
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from wsztune import stopping
from wsztune.codecs.zlib import ConnectionMemory, observe_connection
from wsztune.corpus import CLIENT, SERVER, Corpus
from wsztune.errors import SettingError
from wsztune.live.growth import (
    TRACEMALLOC_FLOOR,
    mean,
    per_connection_growth,
    relative_difference,
    standard_error,
)
from wsztune.live.options import LiveOptions, OptionClash
from wsztune.live.plan import PROBE, Plan, Script, build_plan, replay_fields
from wsztune.live.result import (
    Display,
    LiveError,
    LiveResult,
    Row,
    byte_fields,
    count_mismatch,
    judge,
    kib,
    memory_rows,
    process_reply,
    setting_fields,
    zlib_setting_title,
)
from wsztune.live.servers import Connection, LiveServer, counting_extension_class
from wsztune.loopback import LOOPBACK
from wsztune.memory import rss_bytes
from wsztune.permessage_deflate import Setting, compress_stream, get_zlib_module

# The model ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScriptModel:
    """The codec model's bytes for one script at one setting (memory is per setting, not per
    script: :func:`model_memory`)."""

    server_bytes: int  # compressed payload bytes the server sends
    client_bytes: int  # compressed payload bytes the client sends (the server receives)
    server_raw_bytes: int
    client_raw_bytes: int
    server_frame_sizes: tuple[int, ...] = ()  # per server message, as the client receives it


def model_script(script: Script, setting: Setting) -> ScriptModel:
    """Compressed sizes of one script, from the codec model, one compressor per direction."""
    zlib_module = get_zlib_module("zlib")  # websockets compresses with the interpreter's zlib
    server_payloads = script.payloads(SERVER)
    client_payloads = script.payloads(CLIENT)
    server_frames = compress_stream(server_payloads, setting, setting.server_bits, zlib_module)
    client = setting.sender(CLIENT)  # the client's own memLevel and level, when it has them
    client_frames = compress_stream(client_payloads, client, setting.client_bits, zlib_module)
    return ScriptModel(
        server_bytes=sum(map(len, server_frames)),
        client_bytes=sum(map(len, client_frames)),
        server_raw_bytes=sum(map(len, server_payloads)),
        client_raw_bytes=sum(map(len, client_payloads)),
        server_frame_sizes=tuple(map(len, server_frames)),
    )


def model_memory(corpus: Corpus, setting: Setting) -> ConnectionMemory:
    """The sweep's memory per connection for ``setting`` on ``corpus``: the figure ``run`` saves
    as ``connection_memory`` and ``recommend`` budgets with, computed by the same function."""
    return observe_connection(corpus.streams(), setting, get_zlib_module("zlib"))


# The live server (this process) -------------------------------------------------------------


@dataclass
class ServerRun:
    """What one server run observed, per live connection."""

    compression: bool
    port: int = 0
    traced: list[int] = field(default_factory=list)  # traced memory after connection i (0: none)
    rss: list[int] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)  # payload bytes the server sent on connection i
    received: list[int] = field(default_factory=list)
    client_sent: list[int] = field(default_factory=list)  # as counted by the client process
    client_received: list[int] = field(default_factory=list)

    def deltas(self, marks: Sequence[int]) -> list[int]:
        """Growth per connection: ``marks[i + 1] - marks[i]``."""
        return [after - before for before, after in zip(marks, marks[1:], strict=False)]


def _trim_heap() -> None:
    """Give freed heap pages back to the system (glibc), so that RSS growth is not absorbed by
    memory this process freed earlier (loading the corpus, the model)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def package_root() -> str:
    """The directory wsztune is imported from: a client process's PYTHONPATH."""
    return str(Path(__file__).resolve().parent.parent.parent)


async def _read_reply(stream: asyncio.StreamReader, timeout: float, stderr_path: Path) -> dict:
    async with asyncio.timeout(timeout):
        line = await stream.readline()
    return process_reply(line, "the client process", stderr_path)


class _Session:
    """One server run's shared state: the server's handlers replay and mark, the parent drives
    the client process one connection at a time and waits for each mark."""

    def __init__(self, plan: Plan, compression: bool, timeout: float) -> None:
        count = plan.connections
        self.plan = plan
        self.timeout = timeout
        self.run = ServerRun(compression=compression)
        self.run.traced = [0] * (count + 1)
        self.run.rss = [0] * (count + 1)
        self.run.sent = [0] * count
        self.run.received = [0] * count
        self.counted = [False] * count
        self.marked = [asyncio.Event() for _ in range(count)]
        # Set by the parent once the client has read everything this connection sent: only
        # then is nothing in flight counted at the mark, whatever the server (websockets also
        # pings).
        self.replayed = [asyncio.Event() for _ in range(count)]
        self.failures: list[str] = []
        self.stop = asyncio.Event()

    def mark(self, index: int) -> None:
        """Read the server's memory: traced and RSS, after connection ``index - 1`` (0: none)."""
        gc.collect()
        self.run.traced[index] = tracemalloc.get_traced_memory()[0]
        self.run.rss[index] = rss_bytes()

    async def serve(self, index: int, connection: Connection) -> None:
        """The server's handler: replay connection ``index``'s script, count, mark, hold it
        open until every connection has been measured."""
        try:
            await self._replay(index, connection)
            counts = connection.counts()
            if counts is not None:
                self.run.sent[index], self.run.received[index] = counts
                self.counted[index] = True
            self.mark(index + 1)
            self.marked[index].set()
            async with asyncio.timeout(self.timeout * (self.plan.connections + 2)):
                await self.stop.wait()
        except Exception as error:  # reported by the parent, which then stops waiting
            self.failures.append(f"server connection {index}: {error!r}")
            if 0 <= index < self.plan.connections:
                self.marked[index].set()

    async def _replay(self, index: int, connection: Connection) -> None:
        async with asyncio.timeout(self.timeout):
            await replay_server(self.plan, index, connection)
            await self.replayed[index].wait()


async def replay_server(plan: Plan, index: int, connection: Connection) -> None:
    """The server's side of live connection ``index``: send its script's server messages,
    check the client's as they come (none is held after), then flush (every frame read)."""
    for direction, is_text, payload in plan.script_for(index).messages:
        if direction == SERVER:
            await connection.send(payload, is_text)
        elif await connection.recv() != payload:
            raise LiveError(f"connection {index}: a client message changed")
    await connection.flush()


async def _serve_once(
    plan: Plan,
    setting: Setting | None,
    plan_path: Path,
    workdir: Path,
    timeout: float,
    server: LiveServer | None = None,
) -> ServerRun:
    """One server run (compression per ``setting``, or off with ``None``), measured.

    ``server``: the stack that serves (:mod:`wsztune.live.servers`; python-websockets by
    default), in this process; the replay, the client process and the marks are the same for
    every one. ``setting`` is the server's model setting (:meth:`LiveServer.model`).
    """
    from wsztune.live.servers import SERVERS

    server = server or SERVERS["websockets"]
    session = _Session(plan, setting is not None, timeout)
    config: dict[str, Any] = {
        "plan": str(plan_path),
        "timeout": timeout,
        "compression": None if setting is None else server.offer(setting).to_json(),
    }
    stderr_path = workdir / f"client-{'on' if setting else 'off'}.stderr"
    started_tracing = not tracemalloc.is_tracing()
    client: asyncio.subprocess.Process | None = None
    try:
        gc.collect()
        _trim_heap()
        if started_tracing:
            tracemalloc.start()
        async with server.serve(session.serve, setting, timeout) as port:
            try:
                session.run.port = port
                client = await _start_client({**config, "port": port}, stderr_path, timeout)
                await _drive(session, client, stderr_path)
            finally:
                # Handlers wait for this before closing: set it before the server stops.
                session.stop.set()
        return session.run
    finally:
        session.stop.set()
        if started_tracing:
            tracemalloc.stop()
        if client is not None:
            await stopping.kill(client, timeout)


async def _start_client(
    config: dict[str, Any], stderr_path: Path, timeout: float
) -> asyncio.subprocess.Process:
    """The client process (``python -m wsztune.live``), its stderr kept for the error."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [package_root(), os.environ.get("PYTHONPATH")])
        ),
    }
    with stderr_path.open("wb") as stderr:
        async with asyncio.timeout(timeout):
            return await stopping.spawn(
                sys.executable,
                "-m",
                "wsztune.live",
                json.dumps(config),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                env=env,
            )


async def _drive(
    session: _Session, client: asyncio.subprocess.Process, stderr_path: Path
) -> None:
    """The server's empty mark, then each connection opened, replayed and marked in turn, then
    the client's connections closed."""
    assert client.stdin is not None and client.stdout is not None
    timeout, run = session.timeout, session.run
    await _read_reply(client.stdout, timeout, stderr_path)  # ready
    session.mark(0)
    for index in range(session.plan.connections):
        client.stdin.write(json.dumps({"open": index}).encode() + b"\n")
        async with asyncio.timeout(timeout):
            await client.stdin.drain()
        reply = await _read_reply(client.stdout, timeout, stderr_path)
        session.replayed[index].set()
        async with asyncio.timeout(timeout):
            await session.marked[index].wait()
        if session.failures:
            raise LiveError(session.failures[0])
        run.client_sent.append(int(reply["sent"]))
        run.client_received.append(int(reply["received"]))
        if not session.counted[index]:
            # No counter in this server: the client's count of the same frames is it.
            run.sent[index] = run.client_received[-1]
            run.received[index] = run.client_sent[-1]
    # Every connection is measured: the handlers may close theirs (aiohttp answers the
    # client's close only from its handler).
    session.stop.set()
    client.stdin.write(b'{"close": true}\n')
    async with asyncio.timeout(timeout):
        await client.stdin.drain()
    await _read_reply(client.stdout, timeout, stderr_path)
    async with asyncio.timeout(timeout):
        await client.wait()


# The client process -------------------------------------------------------------------------


def client_factory(compression: Sequence[Any]) -> Any:
    """The client's permessage-deflate offer (:meth:`Offer.to_json`), counting its frames."""
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

    server_bits, client_bits, mem_level = compression
    counting = counting_extension_class()

    class CountingFactory(ClientPerMessageDeflateFactory):
        def process_response_params(self, params: Any, accepted_extensions: Any) -> Any:
            extension = super().process_response_params(params, accepted_extensions)
            extension.__class__ = counting
            return extension

    # server_bits None: not offered (the server picks); client_bits True: offered without a
    # value, so the server may cap it. The client compresses at the memLevel the model gives
    # the client direction (the server's own by default; a browser picks its own: --client).
    return CountingFactory(
        server_max_window_bits=server_bits,
        client_max_window_bits=client_bits,
        compress_settings={"memLevel": mem_level},
    )


async def connect_client(port: int, index: int, extensions: list[Any], timeout: float) -> Any:
    """A python-websockets client of live connection ``index`` (the path says which) to the
    server on the loopback ``port``, with ``extensions`` (:func:`client_factory`'s, or none)."""
    from websockets.asyncio.client import connect

    return await connect(
        f"ws://{LOOPBACK}:{port}/{index}",
        compression=None,
        extensions=extensions,
        proxy=None,  # loopback only, never through a proxy from the environment
        max_size=None,
        ping_interval=None,
        close_timeout=timeout,
        open_timeout=timeout,
    )


async def replay_client(plan: Plan, index: int, ws: Any) -> None:
    """The client's side of live connection ``index``: send its script's client messages,
    check the server's as they come."""
    for direction, is_text, payload in plan.script_for(index).messages:
        if direction == CLIENT:
            await ws.send(payload, text=is_text)
        elif await ws.recv(decode=False) != payload:
            raise LiveError(f"connection {index}: a server message changed")


def client_counts(ws: Any) -> tuple[int, int]:
    """The compressed payload bytes a client sent and received (its counting extension's);
    ``(0, 0)`` with no compression."""
    counters = [e for e in ws.protocol.extensions if hasattr(e, "sent_bytes")]
    return (counters[0].sent_bytes, counters[0].received_bytes) if counters else (0, 0)


def say(message: dict[str, Any]) -> None:
    """One JSON line to the parent process (a live check's helper processes speak so)."""
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def _client_main(config: dict[str, Any]) -> None:
    """Open connections when told to on stdin, replay their scripts, report on stdout."""
    plan = Plan.from_json(json.loads(Path(config["plan"]).read_text()))
    timeout = float(config["timeout"])
    compression = config["compression"]
    extensions = [client_factory(compression)] if compression else []
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    open_connections: list[Any] = []
    say({"ready": True})
    try:
        while True:
            # The parent answers within its own timeouts; waiting longer means it is gone.
            async with asyncio.timeout(timeout * 3):
                line = await commands.readline()
            if not line:
                return  # the parent closed the pipe: stop
            command = json.loads(line)
            if command.get("close"):
                async with asyncio.timeout(timeout):
                    await asyncio.gather(*(ws.close() for ws in open_connections))
                say({"closed": True})
                return
            index = int(command["open"])
            async with asyncio.timeout(timeout):
                ws = await connect_client(config["port"], index, extensions, timeout)
                open_connections.append(ws)
                await replay_client(plan, index, ws)
            sent, received = client_counts(ws)
            say({"done": index, "sent": sent, "received": received})
    finally:
        for ws in open_connections:
            ws.transport.abort()  # no-op on connections already closed cleanly


def client_process_main(argv: Sequence[str]) -> int:
    """Entry point of the client process: ``python -m wsztune.live CONFIG_JSON``."""
    try:
        asyncio.run(_client_main(json.loads(argv[0])))
    except Exception as error:  # the parent shows it as one line
        say({"error": f"{type(error).__name__}: {error}"})
        return 1
    return 0


# The check ----------------------------------------------------------------------------------


def prepare(options: LiveOptions) -> LiveOptions:
    """``live --server websockets`` (and the other Python stacks): refuse what only another
    server takes, settle the setting from the stack's profile (:mod:`wsztune.stacks`), check that
    the stack is installed. Before any corpus is read, so a typo costs nothing."""
    import importlib.util

    setting = options.zlib_setting()
    for option, given in (
        ("--threshold", options.threshold is not None),
        ("--no-context-takeover", not options.context_takeover),
        ("--ws-dir", options.ws_dir is not None),
    ):
        if given:
            raise OptionClash(f"{option} needs --server ws")
    if options.connections < 2:
        raise SettingError(
            f"--connections must be at least 2, not {options.connections} (the first is "
            "discarded)"
        )
    if importlib.util.find_spec("websockets") is None:
        raise SettingError(
            "wsztune live needs websockets: pip install 'wsztune[live]'  (or: pip install "
            "websockets)"
        )
    framework = options.server.split("-")[0]
    if importlib.util.find_spec(framework) is None:
        raise SettingError(
            f"live --server {options.server} needs {framework}: pip install {framework}"
        )
    return replace(options, setting=setting)


def run_live(corpus: Corpus, options: LiveOptions) -> LiveResult:
    """Replay ``corpus`` through a real server at ``options.setting``; compare with the model.

    ``options.server``: python-websockets, or another Python stack of
    :mod:`wsztune.live.servers` (aiohttp, tornado, uvicorn and its backends), run in this
    process; the model is then the setting that stack really runs (``LiveServer.model``: its
    fixed level, memLevel, windows). Two server runs, each with its own client process:
    compression on, then off (the baseline).
    """
    server, setting = server_and_setting(options)
    plan = build_plan(corpus, options.connections)
    started = time.perf_counter()
    model = _model(corpus, plan, setting)  # before tracemalloc traces the server
    modelled = time.perf_counter()
    on, off = _measure(plan, setting, server, options.timeout)
    timings = {
        "model": round(modelled - started, 3),
        "servers and clients": round(time.perf_counter() - modelled, 3),
    }
    mismatch = count_mismatch(
        plan.connections, on.sent, on.received, on.client_sent, on.client_received
    )
    if mismatch:  # the server's count, the client's count and the model must all agree
        raise LiveError(mismatch)
    memory = _memory(plan, on, off, model.connection)
    fields = _result_fields(corpus, plan, setting, server, model, on, off, memory, options)
    verdict = judge(
        bytes_equal=fields["bytes_equal"],
        model_memory=model.connection,
        difference_bytes=memory.live - model.connection,
        uncertainty=memory.uncertainty,
        baseline=memory.baseline,
        tolerance=options.tolerance,
    )
    return LiveResult.build(
        verdict, **fields, duration_seconds=round(time.perf_counter() - started, 3),
        timings=timings,
    )  # fmt: skip


def server_and_setting(options: LiveOptions) -> tuple[LiveServer, Setting]:
    """The stack that serves, and the setting it really runs (its fixed values applied)."""
    from wsztune.live.servers import SERVERS

    server = SERVERS[options.server]
    setting = server.model(options.settled)
    if not setting.context_takeover:
        raise SettingError("live checks context takeover only (websockets' default)")
    if 8 in (setting.window_bits, setting.client_window_bits):
        raise SettingError("websockets cannot compress with windowBits 8; use 9 to 15")
    if not 0 < options.tolerance < 10:
        raise SettingError(
            f"--tolerance must be a fraction such as 0.1, not {options.tolerance}"
        )
    if options.timeout <= 0:
        raise SettingError(f"--timeout must be positive, not {options.timeout}")
    return server, setting


@dataclass(frozen=True)
class Model:
    """What the model predicts for the live run: bytes per live connection, memory per
    connection (the same for every connection, as in the sweep)."""

    per_live: list[ScriptModel]
    memory: ConnectionMemory

    @property
    def connection(self) -> int:
        """Memory per connection: the sweep's ``connection_memory``."""
        return self.memory.held

    @property
    def server_bytes(self) -> int:
        """Compressed bytes the server sends over every live connection."""
        return sum(model.server_bytes for model in self.per_live)

    @property
    def client_bytes(self) -> int:
        """Compressed bytes the clients send over every live connection."""
        return sum(model.client_bytes for model in self.per_live)


def _model(corpus: Corpus, plan: Plan, setting: Setting) -> Model:
    models = [model_script(script, setting) for script in plan.scripts]
    per_live = [models[plan.assignment[i]] for i in range(plan.connections)]
    return Model(per_live, model_memory(corpus, setting))


def _measure(
    plan: Plan, setting: Setting, server: LiveServer, timeout: float
) -> tuple[ServerRun, ServerRun]:
    """Two server runs, each with its own client process: compression on, then off."""
    from websockets.exceptions import WebSocketException

    with tempfile.TemporaryDirectory(prefix="wsztune-live-") as tmp:
        workdir = Path(tmp)
        plan_path = workdir / "plan.json"
        plan_path.write_text(json.dumps(plan.to_json()))

        async def both() -> tuple[ServerRun, ServerRun]:
            on = await _serve_once(plan, setting, plan_path, workdir, timeout, server)
            off = await _serve_once(plan, None, plan_path, workdir, timeout, server)
            return on, off

        try:
            return stopping.run(both())
        except TimeoutError:
            raise LiveError(
                f"a step took longer than --timeout {timeout:g} s; the server and the client "
                "were stopped"
            ) from None
        except (OSError, WebSocketException) as error:
            raise LiveError(f"{type(error).__name__}: {error}") from None


@dataclass(frozen=True)
class Memory:
    """Memory per connection from the marks: compression on minus off, connection by
    connection, the first connection discarded (it pays one-off costs)."""

    traced_on: list[int]
    traced_off: list[int]
    compression: list[int]  # per live connection: traced growth on minus off
    measured: range  # the connections the figures are taken over
    live: float
    uncertainty: float
    baseline: float  # growth per connection with compression off


def _memory(plan: Plan, on: ServerRun, off: ServerRun, model: int) -> Memory:
    traced_on, traced_off = on.deltas(on.traced), off.deltas(off.traced)
    compression = [a - b for a, b in zip(traced_on, traced_off, strict=True)]
    measured = range(1, plan.connections)
    return Memory(
        traced_on,
        traced_off,
        compression,
        measured,
        live=mean([compression[i] for i in measured]),
        uncertainty=standard_error([compression[i] for i in measured]),
        baseline=mean([traced_off[i] for i in measured]),
    )


def _result_fields(
    corpus: Corpus,
    plan: Plan,
    setting: Setting,
    server: LiveServer,
    model: Model,
    on: ServerRun,
    off: ServerRun,
    memory: Memory,
    options: LiveOptions,
) -> dict[str, Any]:
    """Every field of the result but the verdict's and the time's."""
    live_server, live_client = sum(on.sent), sum(on.received)
    difference = memory.live - model.connection
    relative = relative_difference(difference, model.connection, TRACEMALLOC_FLOOR)
    return {
        "server": server.name,
        "codec": "zlib",
        **setting_fields(setting),
        "connections": plan.connections,
        "measured_connections": len(memory.measured),
        **replay_fields(corpus, plan),
        **byte_fields(model.server_bytes, model.client_bytes, live_server, live_client),
        "raw_bytes": sum(m.server_raw_bytes + m.client_raw_bytes for m in model.per_live),
        "memory_figure": "tracemalloc",
        "model_connection_memory": model.connection,
        "model_compressor_memory": model.memory.compressor.held,
        "model_decompressor_memory": model.memory.decompressor.held,
        "live_connection_memory": memory.live,
        "live_baseline_connection_memory": memory.baseline,
        "memory_uncertainty": memory.uncertainty,
        "memory_difference": relative,
        "memory_difference_bytes": difference,
        "tolerance": options.tolerance,
        "memory_within_tolerance": abs(relative) <= options.tolerance,
        "per_connection": _per_connection(plan, model, on, memory),
        "ports": [on.port, off.port],
        "versions": versions(server),
        "notes": _notes(plan, server),
        "details": _details(on, off, memory),
    }


def _per_connection(
    plan: Plan, model: Model, on: ServerRun, memory: Memory
) -> list[dict[str, Any]]:
    return [
        {
            "index": i,
            "corpus_connection": plan.script_for(i).connection,
            "messages": len(plan.script_for(i).messages),
            "model_server_bytes": model.per_live[i].server_bytes,
            "live_server_bytes": on.sent[i],
            "model_client_bytes": model.per_live[i].client_bytes,
            "live_client_bytes": on.received[i],
            "model_connection_memory": model.connection,
            "traced_growth": memory.traced_on[i],
            "traced_growth_baseline": memory.traced_off[i],
            "live_connection_memory": memory.compression[i],
            "probe": plan.script_for(i).probed,
            "discarded": i == 0,
        }
        for i in range(plan.connections)
    ]


def _notes(plan: Plan, server: LiveServer) -> list[str]:
    notes = [
        "bytes: compressed payloads, counted on the frames by the server and by the client",
        "memory: tracemalloc growth per open connection, compression on minus off, "
        "first connection discarded; the model is the sweep's connection_memory (zlib's "
        "compressor + decompressor with its inflate window), websockets also keeps its "
        "extension object and the negotiated headers (~1.4 KB)",
        "RSS: psutil growth per connection; a page counts once touched, so it is noisy",
    ]
    probed = plan.probed
    if probed:
        notes.append(
            f"{probed} of {plan.connections} connections replay a corpus connection with no "
            f"client-to-server message: their client sent one {len(PROBE[2])}-byte probe at the "
            "end, so that the server allocates its inflate window as the model assumes "
            "(counted in the client bytes, model and live)"
        )
    if server.name != "websockets":
        notes[0] = (
            "bytes: compressed payloads, counted on the frames by the client (before it "
            f"inflates them); {server.title} has no counter of its own"
        )
        notes[1] = notes[1].replace(
            ", websockets also keeps its extension object and the negotiated headers (~1.4 KB)",
            f"; {server.title} keeps its own objects per connection beside them",
        )
    return notes


def versions(server: LiveServer) -> dict[str, str]:
    """What ran: the stack, websockets, zlib and Python, by version."""
    import importlib
    import importlib.metadata

    return {
        server.version_module: importlib.metadata.version(server.version_module),
        "websockets": importlib.import_module("websockets").__version__,
        "zlib": zlib.ZLIB_RUNTIME_VERSION,
        "python": platform.python_version(),
    }


def _details(on: ServerRun, off: ServerRun, memory: Memory) -> dict[str, Any]:
    import importlib

    rss_on, rss_off = per_connection_growth(on.rss, 1), per_connection_growth(off.rss, 1)
    return {
        "live_connection_memory_with_baseline": mean(
            [memory.traced_on[i] for i in memory.measured]
        ),
        "live_rss_per_connection": rss_on,
        "live_rss_compression_per_connection": rss_on - rss_off,
        "live_rss_baseline_per_connection": rss_off,
        # The names --json gave these before the shared type (kept for scripts).
        "websockets_version": importlib.import_module("websockets").__version__,
        "zlib_version": zlib.ZLIB_RUNTIME_VERSION,
        "python_version": platform.python_version(),
    }


def display(result: LiveResult) -> Display:
    """The rows a Python stack's result adds: memory (tracemalloc), whole and uncompressed, and
    RSS (shown, not checked)."""
    details = result.details
    return Display(
        setting=zlib_setting_title(result, []),
        rows=(
            *memory_rows(result, "memory"),
            Row("memory/conn, whole", "", kib(details["live_connection_memory_with_baseline"])),
            Row("memory/conn, uncompressed", "", kib(result.live_baseline_connection_memory)),
            Row(
                "RSS/conn, compression (*)", "",
                kib(details["live_rss_compression_per_connection"]),
            ),
        ),
        footnote="(*) psutil, noisy: shown, not checked",
        versions=f"websockets {result.versions['websockets']}, zlib {result.versions['zlib']}",
    )  # fmt: skip
