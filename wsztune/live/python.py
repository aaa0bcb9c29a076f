"""``wsztune live``: check the model against a real python-websockets server on 127.0.0.1.

A server with the chosen setting listens on an ephemeral loopback port, in this process, under
tracemalloc. A separate client process (``python -m wsztune.live``) opens connections one at a
time; on each, both sides replay one corpus connection in order: server-direction messages are
sent by the server, client-direction ones by the client. Then:

* bytes: the payloads the server actually sent and received, counted on the frames by the
  permessage-deflate extension itself (after compression, before inflation), and counted again
  independently by the client; they must equal the model (:func:`wsztune.codec.compress_stream`
  per connection and direction) byte for byte;
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
``zlib`` backend.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsztune.codec import Setting, compress_stream, get_backend
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
from wsztune.live.plan import PROBE, Plan, Script, build_plan, describe_replay
from wsztune.live.result import LiveError, LiveResult, count_mismatch, judge, setting_fields
from wsztune.live.servers import Connection, LiveServer, counting_extension_class
from wsztune.loopback import LOOPBACK
from wsztune.memory import rss_bytes

DEFAULT_CONNECTIONS = 10
DEFAULT_TOLERANCE = 0.10
DEFAULT_TIMEOUT = 30.0  # seconds for any single step: a handshake plus one connection's replay


# The model ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScriptModel:
    """The codec model's bytes for one script at one setting (memory is per setting, not per
    script: :func:`model_memory`)."""

    server_bytes: int  # compressed payload bytes the server sends
    client_bytes: int  # compressed payload bytes the client sends (the server receives)
    server_raw_bytes: int
    client_raw_bytes: int


def model_script(script: Script, setting: Setting) -> ScriptModel:
    """Compressed sizes of one script, from the codec model, one compressor per direction."""
    backend = get_backend("zlib")  # websockets compresses with the interpreter's zlib
    server_payloads = script.payloads(SERVER)
    client_payloads = script.payloads(CLIENT)
    server_frames = compress_stream(server_payloads, setting, setting.server_bits, backend)
    client = setting.sender(CLIENT)  # the client's own memLevel and level, when it has them
    client_frames = compress_stream(client_payloads, client, setting.client_bits, backend)
    return ScriptModel(
        server_bytes=sum(map(len, server_frames)),
        client_bytes=sum(map(len, client_frames)),
        server_raw_bytes=sum(map(len, server_payloads)),
        client_raw_bytes=sum(map(len, client_payloads)),
    )


def model_memory(corpus: Corpus, setting: Setting) -> ConnectionMemory:
    """The sweep's memory per connection for ``setting`` on ``corpus``: the figure ``run`` saves
    as ``connection_memory`` and ``recommend`` budgets with, computed by the same function."""
    return observe_connection(corpus.streams(), setting, get_backend("zlib"))


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


def _package_root() -> str:
    return str(Path(__file__).resolve().parent.parent.parent)


async def _read_reply(stream: asyncio.StreamReader, timeout: float, stderr_path: Path) -> dict:
    async with asyncio.timeout(timeout):
        line = await stream.readline()
    if not line:
        detail = stderr_path.read_text(errors="replace").strip().splitlines()
        raise LiveError("the client process ended early" + (f": {detail[-1]}" if detail else ""))
    try:
        reply = json.loads(line)
    except ValueError:
        raise LiveError(f"the client process said something unexpected: {line[:80]!r}") from None
    if "error" in reply:
        raise LiveError(f"client: {reply['error']}")
    return reply


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
    run = ServerRun(compression=setting is not None)
    count = plan.connections
    marked = [asyncio.Event() for _ in range(count)]
    # Set by the parent once the client has read everything this connection sent: only then is
    # nothing in flight counted at the mark, whatever the server (websockets also pings).
    replayed = [asyncio.Event() for _ in range(count)]
    failures: list[str] = []
    run.traced = [0] * (count + 1)
    run.rss = [0] * (count + 1)
    run.sent = [0] * count
    run.received = [0] * count
    counted = [False] * count
    stop = asyncio.Event()

    async def replay(index: int, connection: Connection) -> None:
        try:
            script = plan.script_for(index)
            async with asyncio.timeout(timeout):
                for direction, is_text, payload in script.messages:
                    if direction == SERVER:
                        await connection.send(payload, is_text)
                    else:
                        message = await connection.recv()
                        if message != payload:
                            raise LiveError(f"connection {index}: a client message changed")
                        del message  # not held at the mark below
                await connection.flush()
                await replayed[index].wait()
            counts = connection.counts()
            if counts is not None:
                run.sent[index], run.received[index] = counts
                counted[index] = True
            gc.collect()
            run.traced[index + 1] = tracemalloc.get_traced_memory()[0]
            run.rss[index + 1] = rss_bytes()
            marked[index].set()
            # Hold the connection open until every connection has been measured.
            async with asyncio.timeout(timeout * (count + 2)):
                await stop.wait()
        except Exception as error:  # reported by the parent, which then stops waiting
            failures.append(f"server connection {index}: {error!r}")
            if 0 <= index < count:
                marked[index].set()

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
        async with server.serve(replay, setting, timeout) as port:
            try:
                run.port = port
                config["port"] = run.port
                env = {
                    **os.environ,
                    "PYTHONPATH": os.pathsep.join(
                        filter(None, [_package_root(), os.environ.get("PYTHONPATH")])
                    ),
                }
                with stderr_path.open("wb") as stderr:
                    async with asyncio.timeout(timeout):
                        client = await asyncio.create_subprocess_exec(
                            sys.executable,
                            "-m",
                            "wsztune.live",
                            json.dumps(config),
                            stdin=asyncio.subprocess.PIPE,
                            stdout=asyncio.subprocess.PIPE,
                            stderr=stderr,
                            env=env,
                        )
                assert client.stdin is not None and client.stdout is not None
                await _read_reply(client.stdout, timeout, stderr_path)  # ready
                gc.collect()
                run.traced[0] = tracemalloc.get_traced_memory()[0]
                run.rss[0] = rss_bytes()
                for index in range(count):
                    client.stdin.write(json.dumps({"open": index}).encode() + b"\n")
                    async with asyncio.timeout(timeout):
                        await client.stdin.drain()
                    reply = await _read_reply(client.stdout, timeout, stderr_path)
                    replayed[index].set()
                    async with asyncio.timeout(timeout):
                        await marked[index].wait()
                    if failures:
                        raise LiveError(failures[0])
                    run.client_sent.append(int(reply["sent"]))
                    run.client_received.append(int(reply["received"]))
                    if not counted[index]:
                        # No counter in this server: the client's count of the same frames is it.
                        run.sent[index] = run.client_received[-1]
                        run.received[index] = run.client_sent[-1]
                # Every connection is measured: the handlers may close theirs (aiohttp answers
                # the client's close only from its handler).
                stop.set()
                client.stdin.write(b'{"close": true}\n')
                async with asyncio.timeout(timeout):
                    await client.stdin.drain()
                await _read_reply(client.stdout, timeout, stderr_path)
                async with asyncio.timeout(timeout):
                    await client.wait()
            finally:
                # Handlers wait for this before closing: set it before the server stops.
                stop.set()
        return run
    finally:
        stop.set()
        if started_tracing:
            tracemalloc.stop()
        if client is not None and client.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                client.kill()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await client.wait()


# The client process -------------------------------------------------------------------------


def _client_factory(compression: Sequence[Any]) -> Any:
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


async def _client_main(config: dict[str, Any]) -> None:
    """Open connections when told to on stdin, replay their scripts, report on stdout."""
    from websockets.asyncio.client import connect

    plan = Plan.from_json(json.loads(Path(config["plan"]).read_text()))
    timeout = float(config["timeout"])
    compression = config["compression"]
    extensions = [_client_factory(compression)] if compression else []
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    open_connections: list[Any] = []

    def reply(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    reply({"ready": True})
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
                reply({"closed": True})
                return
            index = int(command["open"])
            async with asyncio.timeout(timeout):
                ws = await connect(
                    f"ws://{LOOPBACK}:{config['port']}/{index}",
                    compression=None,
                    extensions=extensions,
                    proxy=None,  # never through a proxy from the environment: loopback only
                    max_size=None,
                    ping_interval=None,
                    close_timeout=timeout,
                    open_timeout=timeout,
                )
                open_connections.append(ws)
                for direction, is_text, payload in plan.script_for(index).messages:
                    if direction == CLIENT:
                        await ws.send(payload, text=is_text)
                    elif await ws.recv(decode=False) != payload:
                        raise LiveError(f"connection {index}: a server message changed")
            counters = [e for e in ws.protocol.extensions if hasattr(e, "sent_bytes")]
            sent = counters[0].sent_bytes if counters else 0
            received = counters[0].received_bytes if counters else 0
            reply({"done": index, "sent": sent, "received": received})
    finally:
        for ws in open_connections:
            ws.transport.abort()  # no-op on connections already closed cleanly


def client_process_main(argv: Sequence[str]) -> int:
    """Entry point of the client process: ``python -m wsztune.live CONFIG_JSON``."""
    try:
        asyncio.run(_client_main(json.loads(argv[0])))
    except Exception as error:  # the parent shows it as one line
        sys.stdout.write(json.dumps({"error": f"{type(error).__name__}: {error}"}) + "\n")
        sys.stdout.flush()
        return 1
    return 0


# The check ----------------------------------------------------------------------------------


def run_live(
    corpus: Corpus,
    setting: Setting,
    *,
    connections: int = DEFAULT_CONNECTIONS,
    tolerance: float = DEFAULT_TOLERANCE,
    timeout: float = DEFAULT_TIMEOUT,
    server: str = "websockets",
) -> LiveResult:
    """Replay ``corpus`` through a real server at ``setting``; compare with the model.

    ``server``: python-websockets, or another Python stack of :mod:`wsztune.live.servers`
    (aiohttp, tornado, uvicorn and its backends), run in this process; the model is then the
    setting that stack really runs (``LiveServer.model``: its fixed level, memLevel, windows).
    Two server runs, each with its own client process: compression on, then off (the baseline).
    """
    import importlib
    import importlib.metadata

    from websockets.exceptions import WebSocketException

    from wsztune.live.servers import SERVERS

    runner = SERVERS[server]
    setting = runner.model(setting)

    if not setting.context_takeover:
        raise SettingError("live checks context takeover only (websockets' default)")
    if 8 in (setting.window_bits, setting.client_window_bits):
        raise SettingError("websockets cannot compress with windowBits 8; use 9 to 15")
    if not 0 < tolerance < 10:
        raise SettingError(f"--tolerance must be a fraction such as 0.1, not {tolerance}")
    if timeout <= 0:
        raise SettingError(f"--timeout must be positive, not {timeout}")
    plan = build_plan(corpus, connections)
    started = time.perf_counter()

    # The model first, before tracemalloc traces the server.
    models = [model_script(script, setting) for script in plan.scripts]
    per_live = [models[plan.assignment[i]] for i in range(plan.connections)]
    memory = model_memory(corpus, setting)
    model_connection = memory.held  # the same for every connection, as in the sweep
    modelled = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="wsztune-live-") as tmp:
        workdir = Path(tmp)
        plan_path = workdir / "plan.json"
        plan_path.write_text(json.dumps(plan.to_json()))

        async def both() -> tuple[ServerRun, ServerRun]:
            on = await _serve_once(plan, setting, plan_path, workdir, timeout, runner)
            off = await _serve_once(plan, None, plan_path, workdir, timeout, runner)
            return on, off

        try:
            on, off = asyncio.run(both())
        except TimeoutError:
            raise LiveError(
                f"a step took longer than --timeout {timeout:g} s; the server and the client "
                "were stopped"
            ) from None
        except (OSError, WebSocketException) as error:
            raise LiveError(f"{type(error).__name__}: {error}") from None

    timings = {
        "model": round(modelled - started, 3),
        "servers and clients": round(time.perf_counter() - modelled, 3),
    }
    # Bytes: the server's count, the client's count and the model must all agree.
    mismatch = count_mismatch(
        plan.connections, on.sent, on.received, on.client_sent, on.client_received
    )
    if mismatch:
        raise LiveError(mismatch)
    model_server = sum(model.server_bytes for model in per_live)
    model_client = sum(model.client_bytes for model in per_live)
    live_server, live_client = sum(on.sent), sum(on.received)
    bytes_equal = (model_server, model_client) == (live_server, live_client)

    # Memory: per connection, with compression minus without, first connection discarded.
    traced_on, traced_off = on.deltas(on.traced), off.deltas(off.traced)
    compression_part = [a - b for a, b in zip(traced_on, traced_off, strict=True)]
    measured = range(1, plan.connections)
    live_memory = mean([compression_part[i] for i in measured])
    difference = relative_difference(
        live_memory - model_connection, model_connection, TRACEMALLOC_FLOOR
    )
    within = abs(difference) <= tolerance
    uncertainty = standard_error([compression_part[i] for i in measured])
    baseline = mean([traced_off[i] for i in measured])
    verdict = judge(
        bytes_equal=bytes_equal,
        model_memory=model_connection,
        difference_bytes=live_memory - model_connection,
        uncertainty=uncertainty,
        baseline=baseline,
        tolerance=tolerance,
    )
    rss_on, rss_off = per_connection_growth(on.rss, 1), per_connection_growth(off.rss, 1)

    per_connection = [
        {
            "index": i,
            "corpus_connection": plan.script_for(i).connection,
            "messages": len(plan.script_for(i).messages),
            "model_server_bytes": per_live[i].server_bytes,
            "live_server_bytes": on.sent[i],
            "model_client_bytes": per_live[i].client_bytes,
            "live_client_bytes": on.received[i],
            "model_connection_memory": model_connection,
            "traced_growth": traced_on[i],
            "traced_growth_baseline": traced_off[i],
            "live_connection_memory": compression_part[i],
            "probe": plan.script_for(i).probed,
            "discarded": i == 0,
        }
        for i in range(plan.connections)
    ]
    notes = [
        "bytes: compressed payloads, counted on the frames by the server and by the client",
        "memory: tracemalloc growth per open connection, compression on minus off, "
        "first connection discarded; the model is the sweep's connection_memory (zlib's "
        "compressor + decompressor with its inflate window), websockets also keeps its "
        "extension object and the negotiated headers (~1.4 KB)",
        "RSS: psutil growth per connection; a page counts once touched, so it is noisy",
    ]
    probed = sum(plan.script_for(i).probed for i in range(plan.connections))
    if probed:
        notes.append(
            f"{probed} of {plan.connections} connections replay a corpus connection with no "
            f"client-to-server message: their client sent one {len(PROBE[2])}-byte probe at the "
            "end, so that the server allocates its inflate window as the model assumes "
            "(counted in the client bytes, model and live)"
        )
    raw = sum(model.server_raw_bytes + model.client_raw_bytes for model in per_live)
    if runner.name != "websockets":
        notes[0] = (
            "bytes: compressed payloads, counted on the frames by the client (before it "
            f"inflates them); {runner.title} has no counter of its own"
        )
        notes[1] = notes[1].replace(
            ", websockets also keeps its extension object and the negotiated headers (~1.4 KB)",
            f"; {runner.title} keeps its own objects per connection beside them",
        )
    stack_version = importlib.metadata.version(runner.version_module)
    return LiveResult.build(
        verdict,
        server=runner.name,
        codec="zlib",
        **setting_fields(setting),
        connections=plan.connections,
        measured_connections=len(measured),
        corpus={**corpus.describe(), "replayed_connections": len(plan.scripts)},
        replay=describe_replay(corpus, plan),
        probed_connections=probed,
        model_bytes=model_server + model_client,
        live_bytes=live_server + live_client,
        model_server_bytes=model_server,
        live_server_bytes=live_server,
        model_client_bytes=model_client,
        live_client_bytes=live_client,
        raw_bytes=raw,
        bytes_equal=bytes_equal,
        memory_figure="tracemalloc",
        model_connection_memory=model_connection,
        model_compressor_memory=memory.compressor.held,
        model_decompressor_memory=memory.decompressor.held,
        live_connection_memory=live_memory,
        live_baseline_connection_memory=baseline,
        memory_uncertainty=uncertainty,
        memory_difference=difference,
        memory_difference_bytes=live_memory - model_connection,
        tolerance=tolerance,
        memory_within_tolerance=within,
        per_connection=per_connection,
        ports=[on.port, off.port],
        versions={
            **({runner.version_module: stack_version}),
            "websockets": importlib.import_module("websockets").__version__,
            "zlib": zlib.ZLIB_RUNTIME_VERSION,
            "python": platform.python_version(),
        },
        duration_seconds=round(time.perf_counter() - started, 3),
        timings=timings,
        notes=notes,
        details={
            "live_connection_memory_with_baseline": mean([traced_on[i] for i in measured]),
            "live_rss_per_connection": rss_on,
            "live_rss_compression_per_connection": rss_on - rss_off,
            "live_rss_baseline_per_connection": rss_off,
            # The names --json gave these before the shared type (kept for scripts).
            "websockets_version": importlib.import_module("websockets").__version__,
            "zlib_version": zlib.ZLIB_RUNTIME_VERSION,
            "python_version": platform.python_version(),
        },
    )
