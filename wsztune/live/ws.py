"""``wsztune live --server ws``: check the node-codec model against a real Node ``ws`` server.

A Node process runs a ``ws`` WebSocketServer with permessage-deflate at the setting
(serverMaxWindowBits, clientMaxWindowBits, zlibDeflateOptions memLevel/level/strategy,
threshold, no-context-takeover flags) on an ephemeral 127.0.0.1 port. A second Node process
runs ``ws`` clients with the same options, so both directions are Node's zlib and ws's framing.
Live connection ``i`` replays the corpus connection :func:`wsztune.live.plan.build_plan` assigns it,
as ``live --server websockets`` does: server-direction messages are sent by the server,
client-direction ones by the client. wsztune drives both processes over JSON lines
(``wsztune/live/ws.js``).

* bytes: both processes count the payload bytes of data frames on their own socket, with a frame
  parser of their own (not ws's code): what the server wrote and read must equal what the client
  read and wrote, and both must equal the node-codec model, byte for byte. The model is a sweep of
  one cell with the ``node`` codec over exactly the scripts replayed (:func:`scripts_corpus`),
  each script's sizes counted once per live connection that replays it.
* memory: RSS of the server process after each connection's exchange (garbage collected first,
  ``--expose-gc``), every connection held open: its resident anonymous memory (RssAnon, the
  heaps; RSS where /proc is not there). What each connection of the second half (the first half
  warms the server up: :func:`warmup_connections`) adds with compression, minus what the same
  script's connection adds in a fresh server without compression, averaged over the middle
  half of those differences (:func:`wsztune.live.growth.interquartile_mean`), is what
  compression costs a connection. It is compared within ``--tolerance`` with the
  ``connection_memory`` of the node codec's cell for the corpus (what ``wsztune run --codec
  node`` saves and ``recommend`` budgets with). RSS, not a count of allocations: nothing here
  asks zlib or the model what it holds.

ws allocates its compressor on the first message it compresses and its decompressor on the first
it inflates: a connection whose messages one way are all under the threshold never pays for that
stream. The model counts each stream for the share of connections that build it
(:func:`wsztune.codecs.node.node_shares`), and so does the check: the live connections are grouped
by what the server built (seen on the wire: RSV1 frames sent, received), each group's growth is the
middle half of its own connections', and the model's figure is the same mix of connections
(:func:`model_connection_memory`). A script in which the client sends nothing gets
:data:`wsztune.live.plan.PROBE` at its end, as the model assumes, compressed or not by the
threshold's rule (counted in the bytes of both the model and the live run).

Everything stops by itself: every step has a timeout, both Node processes are killed in
``finally`` (and stop on their own when their stdin closes or nothing happens for three
timeouts), and nothing listens or connects beyond 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from wsztune import stopping
from wsztune.corpus import CLIENT, SERVER, Corpus, Message
from wsztune.errors import SettingError
from wsztune.live.growth import (
    RSS_FLOOR,
    grouped_growth,
    growth_uncertainty,
    paired_growth,
    per_connection_growth,
    relative_difference,
)
from wsztune.live.options import LiveOptions
from wsztune.live.plan import Plan, Script, build_plan, replay_fields
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
from wsztune.permessage_deflate import Setting
from wsztune.programs import children_stopped_on_error
from wsztune.programs.node import find_node
from wsztune.stacks import STACKS

WS_THRESHOLD_DEFAULT = STACKS["ws"].threshold  # ws's: shorter messages go uncompressed
# The Node script that runs the server and the clients, shipped beside this module.
SCRIPT = Path(__file__).resolve().parent / "ws.js"
MIN_MEASURED = 20  # fewer measured connections than this: the memory figure is noise (say so)
# gc() before every reading; V8's young generation pinned at its usual maximum (16 MB per
# semi-space on 64-bit), because a busy server has grown it long ago, and its growth in the middle
# of a measurement is one 8 MB step in RSS that no connection causes.
SERVER_FLAGS = ("--expose-gc", "--min-semi-space-size=16", "--max-semi-space-size=16")
# A kind of connection (what the server builds: compressor, decompressor, both, none) measured on
# fewer connections than this is at the mercy of malloc: a new compressor often lands in memory
# freed earlier and moves RSS by nothing (the demo without context takeover, threshold 1024, 4
# compressing connections of 20 measured: -7 KiB against 23 KiB one run, -8% the next; 100
# connections: +5% and -6%). The default number of connections grows until each kind has this many.
MIN_PER_KIND = 10
MAX_AUTO_CONNECTIONS = 200


def connections_for(corpus: Corpus, setting: Setting, threshold: int, default: int) -> int:
    """``default`` live connections, or more (by 20, at most :data:`MAX_AUTO_CONNECTIONS`)
    until every kind of connection has :data:`MIN_PER_KIND` in the measured half."""
    plan = ws_plan(corpus, MAX_AUTO_CONNECTIONS, threshold)
    effective = 0 if setting.context_takeover else threshold
    kinds = [script_builds(script, effective) for script in plan.scripts]
    count = default
    while count < MAX_AUTO_CONNECTIONS:
        measured = Counter(
            kinds[plan.assignment[i]] for i in range(warmup_connections(count), count)
        )
        if min(measured.values()) >= MIN_PER_KIND:
            break
        count += 20
    return min(count, max(default, MAX_AUTO_CONNECTIONS))


# The replay plan, ws flavour ------------------------------------------------------------------


def ws_plan(corpus: Corpus, connections: int, threshold: int) -> Plan:
    """:func:`wsztune.live.plan.build_plan`: a silent client sends :data:`wsztune.live.plan.PROBE`.

    The probe is not padded to the threshold: the node codec's model assumes a silent client
    sends that message (:data:`wsztune.codecs.base.PROBE_PAYLOAD`), and counts the server's inflate
    stream for it only when ws would compress it. A silent server gets no probe: ws never builds
    its compressor, and the model counts that connection without one. ``threshold`` is accepted
    for compatibility.
    """
    del threshold
    return build_plan(corpus, connections)


def script_builds(script: Script, threshold: int) -> tuple[bool, bool]:
    """Whether ws's server builds (its compressor, its decompressor) replaying ``script``:
    some server message, resp. client message, reaches the compressor (``threshold`` the
    effective one: 0 with context takeover, where ws ignores it)."""
    reaches = [(d, len(payload) >= threshold) for d, _, payload in script.messages]
    return (
        any(ok for d, ok in reaches if d == SERVER),
        any(ok for d, ok in reaches if d == CLIENT),
    )


def scripts_corpus(corpus: Corpus, plan: Plan, indices: Sequence[int]) -> Corpus:
    """The scripts ``indices`` of ``plan``, each once, each its own connection: what the model
    is swept over (a script that several live connections replay is compressed once and its
    sizes multiplied: every connection has its own compressors, so they are the same)."""
    messages = [
        Message(payload, is_text, f"script-{index}", direction)
        for index in indices
        for direction, is_text, payload in plan.scripts[index].messages
    ]
    return Corpus(corpus.path, corpus.format, corpus.sha256, messages, corpus.sampled)


# Node and ws ------------------------------------------------------------------------------------


def resolve_ws_dir(ws_dir: Path) -> Path:
    """The ``ws`` package inside ``ws_dir``: the package itself, or a project or cache directory
    with ``node_modules/ws``. A one-line error when there is none."""
    for candidate in (ws_dir, ws_dir / "node_modules" / "ws"):
        manifest = candidate / "package.json"
        try:
            name = json.loads(manifest.read_text(encoding="utf-8")).get("name")
        except (OSError, ValueError, AttributeError):
            continue
        if name == "ws":
            return candidate.resolve()
    raise SettingError(
        f"--ws-dir {ws_dir}: no ws package there (no package.json of ws, nor "
        "node_modules/ws/package.json); give the directory where `npm install ws` ran, or leave "
        "--ws-dir out to let wsztune install ws into its cache"
    )


# Running the two Node processes -----------------------------------------------------------------


@dataclass
class NodeSide:
    """What one server run observed, per live connection."""

    compression: bool
    port: int = 0
    info: dict[str, Any] = field(default_factory=dict)  # node, zlib and ws versions
    # The server's memory at listen, then after each connection: process.memoryUsage() (rss,
    # heapTotal, heapUsed, external, arrayBuffers) and, on Linux, RssAnon and RssFile.
    usage: list[dict[str, int]] = field(default_factory=list)

    def series(self, key: str) -> list[int]:
        """One figure at every mark (RssAnon falls back to rss where /proc is not there)."""
        return [int(mark.get(key, mark["rss"])) for mark in self.usage]

    server_sent: list[int] = field(default_factory=list)
    server_received: list[int] = field(default_factory=list)
    client_sent: list[int] = field(default_factory=list)
    client_received: list[int] = field(default_factory=list)
    compressed_frames: list[int] = field(default_factory=list)  # frames with RSV1, both ways
    compressed_sent: list[int] = field(default_factory=list)  # RSV1 frames the server sent
    compressed_received: list[int] = field(default_factory=list)  # ... and received
    extensions: str = ""
    spawn_seconds: float = 0.0  # starting both node processes until both said they are ready
    measure_seconds: float = 0.0  # the connections, opened, replayed and measured


class _Process:
    """One Node process spoken to in JSON lines, its stderr kept for the error message."""

    def __init__(self, name: str, process: asyncio.subprocess.Process, stderr: Path) -> None:
        self.name = name
        self.process = process
        self.stderr = stderr

    async def send(self, message: dict[str, Any], timeout: float) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        async with asyncio.timeout(timeout):
            await self.process.stdin.drain()

    async def read(self, timeout: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        async with asyncio.timeout(timeout):
            line = await self.process.stdout.readline()
        if not line:  # it ended: wait for its exit code, to name it
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    await self.process.wait()
        return process_reply(
            line, f"the ws {self.name} process", self.stderr, self.process.returncode
        )

    async def stop(self, timeout: float) -> None:
        """Let it exit, else kill it: no node process outlives the check."""
        # Wait before killing: kill() polls the child first, and reaping one that just exited
        # there races asyncio's own watcher, which then logs "Unknown child process".
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1):
                await self.process.wait()
        await stopping.kill(self.process, timeout)


async def _start(
    node: str, name: str, args: Sequence[str], config: dict[str, Any], workdir: Path
) -> _Process:
    stderr_path = workdir / f"{name}.stderr"
    with stderr_path.open("wb") as stderr:
        process = await stopping.spawn(
            node,
            *args,
            str(SCRIPT),
            name,
            json.dumps(config),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            # Node reads no options from the user's environment here (NODE_OPTIONS could add a
            # preload or a heap flag that changes what RSS measures).
            env={key: value for key, value in os.environ.items() if key != "NODE_OPTIONS"},
            limit=1 << 20,
        )
    return _Process(name, process, stderr_path)


def compression_options(setting: Setting, threshold: int) -> dict[str, Any]:
    """ws's perMessageDeflate options for ``setting`` (the server's; the clients offer the same)."""
    from wsztune.permessage_deflate import STRATEGIES

    return {
        "serverMaxWindowBits": setting.server_bits,
        "clientMaxWindowBits": setting.client_bits,
        "memLevel": setting.mem_level,
        "level": setting.level,
        "strategy": STRATEGIES[setting.strategy],
        "threshold": threshold,
        "serverNoContextTakeover": not setting.context_takeover,
        "clientNoContextTakeover": not setting.context_takeover,
    }


USAGE_KEYS = ("rss", "RssAnon", "RssFile", "heapTotal", "heapUsed", "external", "arrayBuffers")


def _usage(reply: dict[str, Any]) -> dict[str, int]:
    return {key: int(reply[key]) for key in USAGE_KEYS if key in reply}


async def _serve_once(
    tools: Tools,
    plan: Plan,
    compression: dict[str, Any] | None,
    plan_path: Path,
    workdir: Path,
) -> NodeSide:
    """One fresh server process (compression per ``compression``, or off), measured."""
    side = NodeSide(compression=compression is not None)
    config: dict[str, Any] = {
        "ws": str(tools.ws_package),
        "plan": str(plan_path),
        "timeout": tools.timeout,
        "deadline": tools.timeout * 3,  # nothing happening this long: the node process stops
        "compression": compression,
    }
    directory = workdir / ("on" if compression else "off")
    server: _Process | None = None
    client: _Process | None = None
    try:
        spawning = time.perf_counter()
        server = await _start(tools.node, "server", SERVER_FLAGS, config, directory)
        hello = await server.read(tools.timeout)
        side.port = int(hello["port"])
        side.info = {key: hello[key] for key in ("node", "zlib", "ws")}
        side.usage.append(_usage(hello))
        client_config = {**config, "port": side.port}
        client = await _start(tools.node, "client", [], client_config, directory)
        await client.read(tools.timeout)  # ready
        side.spawn_seconds = time.perf_counter() - spawning
        measuring = time.perf_counter()
        for index in range(plan.connections):
            await _replay_one(index, server, client, side, tools.timeout)
        side.measure_seconds = time.perf_counter() - measuring
        for process in (client, server):
            await process.send({"close": True}, tools.timeout)
            await process.read(tools.timeout)
        return side
    finally:
        for process in (client, server):
            if process is not None:
                await process.stop(tools.timeout)


async def _replay_one(
    index: int, server: _Process, client: _Process, side: NodeSide, timeout: float
) -> None:
    """Live connection ``index``: opened, replayed, and what both ends counted recorded."""
    await client.send({"open": index}, timeout)
    from_client, from_server = await asyncio.gather(client.read(timeout), server.read(timeout))
    if from_client.get("done") != index or from_server.get("done") != index:
        raise LiveError(f"connection {index}: replies out of order")
    side.usage.append(_usage(from_server))
    side.server_sent.append(int(from_server["sent"]["bytes"]))
    side.server_received.append(int(from_server["received"]["bytes"]))
    side.client_sent.append(int(from_client["sent"]["bytes"]))
    side.client_received.append(int(from_client["received"]["bytes"]))
    side.compressed_sent.append(int(from_server["sent"]["compressed"]))
    side.compressed_received.append(int(from_server["received"]["compressed"]))
    side.compressed_frames.append(side.compressed_sent[-1] + side.compressed_received[-1])
    side.extensions = str(from_server.get("extensions") or "")


# The check ----------------------------------------------------------------------------------


def warmup_connections(connections: int) -> int:
    """How many connections warm the server up before memory is measured: the first half.

    A fresh Node server's first connections pay one-off costs (V8's heap, malloc's arenas in the
    libuv pool threads, code compiled on first use): on the bundled corpora the growth per
    connection settles after 5 to 15 connections. The second half is the steady state a server
    that has run for a while is in.
    """
    return max(1, connections // 2)


def _share(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def model_connection_memory(
    builds: Sequence[tuple[bool, bool]], compressor: float, decompressor: float
) -> float:
    """The model's memory per connection for connections that build ``builds`` (per
    connection: compressor, decompressor), one built stream costing what the cell measured."""
    if not builds:
        return 0.0
    return sum(c * compressor + d * decompressor for c, d in builds) / len(builds)


def node_model(corpus: Corpus, setting: Setting, threshold: int) -> dict[str, Any]:
    """The node codec's cell for ``setting`` on ``corpus``: a sweep of that one cell, the same
    function ``wsztune run --codec node`` measures every cell with (ws's threshold rule: ws
    ignores its threshold under context takeover)."""
    from wsztune.sweep import SweepPlan, TimingPlan, sweep

    grid = SweepPlan(
        window_bits=(setting.window_bits,),
        mem_levels=(setting.mem_level,),
        levels=(setting.level,),
        strategies=(setting.strategy,),
        context_takeover=(setting.context_takeover,),
        client_window_bits=setting.client_window_bits,
        thresholds=(threshold,),
        threshold_rule="ws",
    )
    # Sizes and memory are what is compared: no timing (``run --no-timing``).
    plan = TimingPlan(measure_time=False)
    run = sweep(corpus, grid, codec_name="node", plan=plan, jobs=1)
    (cell,) = run.cells
    return cell


@dataclass(frozen=True)
class ModelFigures:
    """What the node codec predicts for the live run."""

    server_bytes: int
    client_bytes: int
    raw_bytes: int
    cell: dict[str, Any]  # the corpus's own cell: its connection_memory is the one compared


def model_figures(
    corpus: Corpus,
    plan: Plan,
    setting: Setting,
    threshold: int,
    model: Callable[[Corpus, Setting, int], dict[str, Any]],
) -> ModelFigures:
    """The model's bytes for exactly what ``plan`` replays, and its memory for ``corpus``.

    Bytes: scripts replayed by the same number of live connections are swept together, once,
    and their sizes multiplied. Memory: the cell ``wsztune run --codec node`` saves for this
    corpus, the figure ``recommend`` budgets with. The sweeps are independent node processes:
    they run side by side.
    """
    uses = Counter(plan.assignment)
    groups: dict[int, list[int]] = {}
    for index in sorted(uses):
        groups.setdefault(uses[index], []).append(index)
    counts = sorted(groups)
    parts = [scripts_corpus(corpus, plan, groups[count]) for count in counts] + [corpus]
    with ThreadPoolExecutor(len(parts)) as pool:
        cells = list(pool.map(lambda part: model(part, setting, threshold), parts))
    server = client = raw = 0
    for count, cell in zip(counts, cells, strict=False):
        server += count * int(cell["server_compressed_bytes"])
        client += count * int(cell["client_compressed_bytes"])
        raw += count * int(cell["raw_bytes"])
    return ModelFigures(server, client, raw, cells[-1])


def prepare(options: LiveOptions) -> LiveOptions:
    """``live --server ws``: refuse what only another server takes, settle the setting from
    ws's profile (:mod:`wsztune.stacks`: 15:8, threshold 1024), before any corpus is read."""
    setting = options.zlib_setting(
        WS_THRESHOLD_DEFAULT if options.threshold is None else options.threshold
    )
    if options.connections < 4:
        raise SettingError(
            f"--connections must be at least 4 with --server ws, not {options.connections} (the "
            "first half warms the server up, the growth over the second half is measured)"
        )
    return replace(options, setting=setting)


def run_live_ws(
    corpus: Corpus,
    options: LiveOptions,
    *,
    model: Callable[[Corpus, Setting, int], dict[str, Any]] = node_model,
) -> LiveResult:
    """Replay ``corpus`` through a real ws server at ``options.setting``; compare with the model.

    ``model(corpus, setting, threshold)`` is the node codec's cell (:func:`node_model`): a dict
    with ``compressed_bytes`` and ``connection_memory``. Two server runs, each a fresh Node
    process with its own client process: compression on, then off (the baseline).
    """
    node, ws_package, installing = node_and_ws(options.ws_dir)
    setting = options.settled
    _check(setting, options)
    connections = options.connections
    if options.auto_connections:
        connections = connections_for(corpus, setting, setting.threshold, connections)
    plan = ws_plan(corpus, connections, setting.threshold)
    started = time.perf_counter()
    on, off, figures, timings = _measure(
        corpus, plan, setting, Tools(node, ws_package, options.timeout), model
    )
    mismatch = count_mismatch(
        plan.connections, on.server_sent, on.server_received, on.client_sent, on.client_received
    )
    if mismatch:
        raise LiveError(mismatch)
    memory = _memory(plan, setting, on, off, figures)
    fields = _result_fields(corpus, plan, setting, on, off, figures, memory, options)
    verdict = judge(
        bytes_equal=fields["bytes_equal"],
        model_memory=memory.model,
        difference_bytes=memory.live - memory.model,
        uncertainty=memory.uncertainty,
        baseline=memory.baseline,
        tolerance=options.tolerance,
        floor=RSS_FLOOR,
        more=(
            f"more --connections (this run measured {plan.connections - memory.warmup} of "
            f"{plan.connections}; the standard error falls as the root of the count), or "
            "longer traffic per connection (a corpus whose connections carry more messages)"
        ),
    )
    return LiveResult.build(
        verdict,
        **fields,
        memory_within_tolerance=abs(memory.live - memory.model) <= verdict.allowed,
        notes=_notes(plan, on, memory, ws_package),
        details=_details(plan, on, off, figures, memory, ws_package),
        duration_seconds=round(time.perf_counter() - started, 3),
        timings={"install": round(installing, 3), **timings},
    )


def node_and_ws(ws_dir: Path | None) -> tuple[str, Path, float]:
    """node, the ws package (``ws_dir``'s, or wsztune's cache, installing ws there the first
    time only: it stays in the cache), and the seconds finding them took."""
    from wsztune.programs import npm as install
    from wsztune.programs.cache import default_cache_dir

    started = time.perf_counter()
    node = find_node()
    if ws_dir is not None:
        return node, resolve_ws_dir(ws_dir), time.perf_counter() - started
    cache = default_cache_dir()
    if not (install.ws_package_dir(cache) / "package.json").is_file():
        print(
            f"wsztune: installing ws {install.WS_VERSION} into "
            f"{install.ws_package_dir(cache).parent.parent} with npm (first use only; "
            "--ws-dir DIR uses an existing install)",
            file=sys.stderr,
        )
    return node, install.ensure_ws(cache), time.perf_counter() - started


def _check(setting: Setting, options: LiveOptions) -> None:
    if 8 in (setting.window_bits, setting.nominal_client_bits):
        raise SettingError("live --server ws checks windowBits 9 to 15 (zlib deflates 8 as 9)")
    if not 0 < options.tolerance < 10:
        raise SettingError(
            f"--tolerance must be a fraction such as 0.3, not {options.tolerance}"
        )
    if options.timeout <= 0:
        raise SettingError(f"--timeout must be positive, not {options.timeout}")


@dataclass(frozen=True)
class Tools:
    """What runs the servers and the clients: node, the ws package, the step timeout."""

    node: str
    ws_package: Path
    timeout: float


def _measure(
    corpus: Corpus,
    plan: Plan,
    setting: Setting,
    tools: Tools,
    model: Callable[[Corpus, Setting, int], dict[str, Any]],
) -> tuple[NodeSide, NodeSide, ModelFigures, dict[str, float]]:
    """The two server runs (compression on, then off), with the model's sweep meanwhile."""
    timeout = tools.timeout
    with tempfile.TemporaryDirectory(prefix="wsztune-live-ws-") as tmp:
        workdir = Path(tmp)
        for tag in ("on", "off"):
            (workdir / tag).mkdir()
        plan_path = workdir / "plan.json"
        plan_path.write_text(json.dumps(plan.to_json()))
        options = compression_options(setting, setting.threshold)

        async def both() -> tuple[NodeSide, NodeSide]:
            on = await _serve_once(tools, plan, options, plan_path, workdir)
            off = await _serve_once(tools, plan, None, plan_path, workdir)
            return on, off

        # The model runs meanwhile, in its own node processes: it only needs sizes and the
        # memory probe's RSS, neither of which another process's load changes (its timings,
        # which are, are not used), and the check takes half as long.
        with ThreadPoolExecutor(1) as pool:
            modelled = pool.submit(model_figures, corpus, plan, setting, setting.threshold, model)
            try:
                # Stopped (Ctrl-C, SIGTERM) or failed: the model's node processes stop too.
                with children_stopped_on_error(modelled.done):
                    on, off = stopping.run(both())
            except TimeoutError:
                raise LiveError(
                    f"a step took longer than --timeout {timeout:g} s; the ws server and "
                    "clients were stopped"
                ) from None
            except OSError as error:
                raise LiveError(f"{type(error).__name__}: {error}") from None
            waiting = time.perf_counter()
            figures = modelled.result()
            model_wait = time.perf_counter() - waiting
    timings = {
        "spawn": round(on.spawn_seconds + off.spawn_seconds, 3),
        "measure": round(on.measure_seconds + off.measure_seconds, 3),
        # The model's sweep runs meanwhile; only what the check still waited for it is here.
        "model (after the servers)": round(model_wait, 3),
    }
    return on, off, figures, timings


@dataclass(frozen=True)
class Memory:
    """Memory per connection from the marks (see the module docstring), model and live."""

    figure: str  # RssAnon, or rss where /proc is not there
    warmup: int  # the first connections, which warm the server up
    resident_on: list[int]
    resident_off: list[int]
    built: list[tuple[bool, bool]]  # per measured connection: compressor, decompressor (wire)
    predicted: list[tuple[bool, bool]]  # ... as the model's threshold rule says
    live: float
    uncertainty: float
    baseline: float
    model: float
    compressor: float  # the model's, one stream
    decompressor: float

    @property
    def measured(self) -> int:
        """How many connections the figures are taken over."""
        return len(self.built)


def _memory(
    plan: Plan, setting: Setting, on: NodeSide, off: NodeSide, figures: ModelFigures
) -> Memory:
    # Resident anonymous memory (the heaps: malloc's, V8's; not the node binary's pages mapped
    # in as code runs the first time), RSS where /proc is not there.
    figure = "RssAnon" if all("RssAnon" in mark for mark in on.usage + off.usage) else "rss"
    warmup = warmup_connections(plan.connections)
    resident_on, resident_off = on.series(figure), off.series(figure)
    # Each measured connection against the same script's connection without compression; the
    # middle half of those differences, because a heap that grows by a large block now and then
    # (malloc's top, a V8 page) puts one connection's step up to 1.4 MB off, in either run.
    # ws builds its zlib streams lazily: connections of each kind (what the server built, seen
    # on the wire) are their own population; the model is weighed over the same connections.
    measured = range(warmup, plan.connections)
    built = [(on.compressed_sent[i] > 0, on.compressed_received[i] > 0) for i in measured]
    growth = paired_growth(resident_on, resident_off, warmup)
    effective = 0 if setting.context_takeover else setting.threshold  # ws ignores it then
    predicted = [script_builds(plan.script_for(i), effective) for i in measured]
    compressor = float(figures.cell["compress_memory_observed"])
    decompressor = float(figures.cell["decompress_memory_observed"])
    return Memory(
        figure, warmup, resident_on, resident_off, built, predicted,
        live=grouped_growth(growth, built),
        uncertainty=growth_uncertainty(growth, built),
        baseline=per_connection_growth(resident_off, warmup),
        model=model_connection_memory(predicted, compressor, decompressor),
        compressor=compressor,
        decompressor=decompressor,
    )  # fmt: skip


def _result_fields(
    corpus: Corpus,
    plan: Plan,
    setting: Setting,
    on: NodeSide,
    off: NodeSide,
    figures: ModelFigures,
    memory: Memory,
    options: LiveOptions,
) -> dict[str, Any]:
    """The result's shared fields but the verdict's, the notes, the details and the time."""
    live_server, live_client = sum(on.server_sent), sum(on.server_received)
    difference = memory.live - memory.model
    return {
        "server": "ws",
        "codec": "node",
        **setting_fields(setting),
        "threshold": setting.threshold,
        "connections": plan.connections,
        "measured_connections": memory.measured,
        **replay_fields(corpus, plan),
        **byte_fields(figures.server_bytes, figures.client_bytes, live_server, live_client),
        "raw_bytes": figures.raw_bytes,
        "memory_figure": memory.figure,
        "model_connection_memory": memory.model,
        "model_compressor_memory": memory.compressor,
        "model_decompressor_memory": memory.decompressor,
        "live_connection_memory": memory.live,
        "live_baseline_connection_memory": memory.baseline,
        "memory_uncertainty": memory.uncertainty,
        # Relative to the model, or to RSS's grain when the model expects less than that.
        "memory_difference": relative_difference(difference, memory.model, RSS_FLOOR),
        "memory_difference_bytes": difference,
        "memory_floor": RSS_FLOOR,
        "tolerance": options.tolerance,
        "per_connection": _per_connection(plan, on, memory),
        "ports": [on.port, off.port],
        "versions": _versions(on),
    }


def _versions(on: NodeSide) -> dict[str, str]:
    return {
        "node": str(on.info.get("node", "")),
        "zlib": str(on.info.get("zlib", "")),
        "ws": str(on.info.get("ws", "")),
    }


def _per_connection(plan: Plan, on: NodeSide, memory: Memory) -> list[dict[str, Any]]:
    return [
        {
            "index": i,
            "corpus_connection": plan.script_for(i).connection,
            "messages": len(plan.script_for(i).messages),
            "live_server_bytes": on.server_sent[i],
            "live_client_bytes": on.server_received[i],
            "resident_after": memory.resident_on[i + 1],
            "resident_after_baseline": memory.resident_off[i + 1],
            "probe": plan.script_for(i).probed,
            "warmup": i < memory.warmup,
        }
        for i in range(plan.connections)
    ]


def _notes(plan: Plan, on: NodeSide, memory: Memory, ws_package: Path) -> list[str]:
    measured, warmup = memory.measured, memory.warmup
    notes = [
        "bytes: payload bytes of data frames, counted on the sockets by the server and by the "
        "clients (a frame parser of wsztune's, not ws's code); the model is the node codec "
        "swept over the same messages",
        f"memory: resident memory of the server process ({memory.figure}) after each "
        f"connection, after gc, every connection held open; compression on minus off (two "
        f"fresh servers), connection by connection, over the last {measured} connections (the "
        f"first {warmup} warm the server up), mean of the middle half of each kind of "
        "connection (what the server built: compressor, decompressor, both, none) weighed by "
        "its count; the model: the node codec's compressor and decompressor memory, counted for "
        "the measured connections that build them (ws builds each on first use)",
        "external: V8's external memory per connection, on minus off (shown, not checked)",
    ]
    if measured < MIN_MEASURED:
        notes.append(
            f"only {measured} connections measured: a heap's steps make RSS noisy at this count "
            f"(one connection's step can be off by 1 MB); use --connections "
            f"{2 * MIN_MEASURED} or more for a memory figure worth checking"
        )
    ws_version = str(on.info.get("ws", ""))
    if not ws_version.startswith("8."):
        notes.append(
            f"ws {ws_version} from {ws_package}: the node codec models ws 8's PerMessageDeflate "
            "and Sender; another major version may frame or apply the threshold differently"
        )
    return notes + _mix_notes(plan, memory)


def _mix_notes(plan: Plan, memory: Memory) -> list[str]:
    """What to know about the connections replayed: probes, and the kinds of connection."""
    notes = []
    probed, measured = plan.probed, memory.measured
    if probed:
        notes.append(
            f"{probed} of {plan.connections} connections replay a corpus connection in which "
            "the client sends nothing: it sent one probe message at the end, as the model "
            "assumes (counted in the bytes, model and live)"
        )
    if memory.built != memory.predicted:
        notes.append(
            "the server built zlib streams on other connections than the model predicts "
            "(RSV1 frames): ws's threshold rule differs from the model's"
        )
    kinds = Counter(memory.built)
    if len(kinds) > 1 and min(kinds.values()) < MIN_PER_KIND:
        notes.append(
            f"of {measured} measured connections, {min(kinds.values())} are of one kind (what "
            f"the server built): fewer than {MIN_PER_KIND}, and malloc's reuse of freed memory "
            "makes such a figure noisy; more --connections (or none given: wsztune picks) "
            "narrow it"
        )
    if memory.model < RSS_FLOOR:
        compressors = sum(c for c, _ in memory.built)
        decompressors = sum(d for _, d in memory.built)
        notes.append(
            f"the model expects {memory.model / 1024:.1f} KiB per connection (of "
            f"{measured} measured, {compressors} build a compressor, {decompressors} a "
            f"decompressor): the check allows {RSS_FLOOR // 1024} KiB either way, RSS's grain"
        )
    return notes


def _details(
    plan: Plan,
    on: NodeSide,
    off: NodeSide,
    figures: ModelFigures,
    memory: Memory,
    ws_package: Path,
) -> dict[str, Any]:
    warmup = memory.warmup
    versions = _versions(on)
    return {
        "compressed_frames": sum(on.compressed_frames),
        "data_frames": sum(len(plan.script_for(i).messages) for i in range(plan.connections)),
        "model_corpus_connection_memory": float(figures.cell["connection_memory"]),
        "model_compressor_share": float(figures.cell.get("compressor_share", 1.0)),
        "model_decompressor_share": float(figures.cell.get("decompressor_share", 1.0)),
        "model_measured_compressor_share": _share([c for c, _ in memory.predicted]),
        "model_measured_decompressor_share": _share([d for _, d in memory.predicted]),
        "live_compressor_share": _share([c for c, _ in memory.built]),
        "live_decompressor_share": _share([d for _, d in memory.built]),
        "live_connection_memory_endpoints": per_connection_growth(memory.resident_on, warmup)
        - per_connection_growth(memory.resident_off, warmup),
        "live_rss_per_connection": per_connection_growth(on.series("rss"), warmup),
        "live_rss_baseline_per_connection": per_connection_growth(off.series("rss"), warmup),
        "live_external_per_connection": per_connection_growth(on.series("external"), warmup)
        - per_connection_growth(off.series("external"), warmup),
        "warmup_connections": warmup,
        "memory_marks": {"on": on.usage, "off": off.usage},
        "negotiated": on.extensions,
        # The names --json gave these before the shared type (kept for scripts).
        "node_version": versions["node"],
        "node_zlib_version": versions["zlib"],
        "ws_version": versions["ws"],
        "ws_path": str(ws_package),
    }


def display(result: LiveResult) -> Display:
    """The rows ws's result adds: memory (RssAnon), the connections that built each zlib
    stream, the baseline, RSS and V8's external memory (shown, not checked), and the model's
    parts."""
    details = result.details
    rows = [*memory_rows(result, "memory")]
    # ws builds a zlib stream on first use: how many of the measured connections did.
    for label, stream in (("conns with a compressor", "compressor"),
                          ("conns with a decompressor", "decompressor")):  # fmt: skip
        model_share = details[f"model_measured_{stream}_share"]
        rows.append(Row(label, f"{model_share:.0%}", f"{details[f'live_{stream}_share']:.0%}"))
    rows += [
        Row(f"{result.memory_figure}/conn, compression off", "",
            kib(result.live_baseline_connection_memory)),
        Row("RSS/conn, compression on (*)", "", kib(details["live_rss_per_connection"])),
        Row("RSS/conn, compression off (*)", "",
            kib(details["live_rss_baseline_per_connection"])),
        Row("V8 external/conn, on - off", "", kib(details["live_external_per_connection"])),
    ]  # fmt: skip
    return Display(
        setting=zlib_setting_title(
            result,
            [] if result.context_takeover
            else [f"no context takeover, threshold {result.threshold}"],
        ),
        rows=tuple(rows),
        footnote="(*) the process's whole RSS, first and last measured marks: shown, not checked",
        lines=(
            f"model: one compressor {kib(result.model_compressor_memory)}, one decompressor "
            f"{kib(result.model_decompressor_memory)}; over the whole corpus (run --codec node's "
            f"cell) {kib(details['model_corpus_connection_memory'])} per connection, "
            f"{details['model_compressor_share']:.0%} of connections building a compressor, "
            f"{details['model_decompressor_share']:.0%} a decompressor",
        ),
        replay=(
            f"; {details['compressed_frames']:,} of {details['data_frames']:,} messages compressed"
        ),
        versions=f"ws {result.versions['ws']}, Node {result.versions['node']}, "
        f"zlib {result.versions['zlib']}",
    )
