"""Node's zlib (ws, Socket.IO), called as ws calls it, in node processes.

The node side is two JavaScript files shipped beside this module: ``node.js`` measures cells
(sizes, digests and timings), ``node_memory.js`` probes the memory one zlib stream holds. This
module drives them and turns what they measure into results cells, as every codec does
(:func:`wsztune.codecs.base.cell_fields`). Finding node and caching its figures is
:mod:`wsztune.programs`'s job.

The corpus goes to node once per sweep, as one temporary file of length-prefixed payloads (no JSON
per message); the cells go one small JSON line at a time to each node process. Node answers one
JSON line per cell: per stream the compressed bytes and every message's frame payload size (a
message under the threshold counts its raw size), the sha256 of all frames, and, when timing is
asked for, CPU-time samples of ws's zlib calls made synchronously (the zlib work: see CLOCK_NAME).
"""

from __future__ import annotations

import json
import math
import os
import queue
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from wsztune.codecs.base import (
    PROBE_PAYLOAD,
    CellDone,
    CellMemory,
    CodecInfo,
    CorpusSummary,
    TimingPlan,
    cell_fields,
    timing_of,
)
from wsztune.corpus import CLIENT, SERVER, Stream
from wsztune.fanout import delivery_fields, delivery_schedule
from wsztune.memory import compressor_theory
from wsztune.permessage_deflate import STRATEGIES, Setting
from wsztune.programs import (
    STALL_SECONDS,
    Helper,
    HelperCell,
    communicate,
    core_for,
    helper_cell_fields,
    helper_failed,
    in_job_order,
    kill_tree,
    on_core,
    pinnable_cores,
    run_helpers,
    write_corpus,
)
from wsztune.programs.cache import (
    MemoryCache,
    ProbeFigure,
    default_cache,
    machine_fingerprint,
    probe_identity,
)
from wsztune.programs.node import find_node, node_identity, node_versions, phase
from wsztune.programs.npm import installed_ws as installed_sender_library
from wsztune.programs.sink import helper_job as sink_helper_job

NAME = "node"
# The helpers, shipped beside this module as package data.
CODEC_SCRIPT = Path(__file__).resolve().with_name("node.js")
MEMORY_SCRIPT = Path(__file__).resolve().with_name("node_memory.js")
# ws's zlib calls made synchronously: used by both (a probe's figure is keyed by it too).
SYNC_CALLS_SCRIPT = Path(__file__).resolve().with_name("node_zlib_sync.js")


@dataclass(frozen=True)
class NodeCodec:
    """Node's bundled zlib as the sweep's codec."""

    name: str = NAME

    def check(self) -> None:
        """Node missing or broken: one line, exit 2, before any work."""
        node_versions()

    def describe(self) -> CodecInfo:
        """Node's zlib version, node's versions and its timing and memory methods."""
        return CodecInfo(
            NAME,
            node_versions()["zlib"],
            clock=CLOCK_NAME,
            meta={
                "node": describe_node(),
                "memory_method": MEMORY_METHOD.format(
                    n=MEMORY_CONNECTIONS, probe=len(PROBE_PAYLOAD)
                ),
            },
        )

    def measure(
        self,
        streams: Sequence[Stream],
        order: Sequence[Setting],
        plan: TimingPlan,
        jobs: int,
        finished: CellDone,
    ) -> None:
        """Measure every setting with Node's zlib as ws calls it (sizes, round trip, timing),
        then the memory of a connection in fresh node processes; report cells as they complete."""
        measure_with_runtime(streams, order, plan, jobs, finished)


# Each node process runs on one core of its own, where the system lets us say so (Linux). Every
# zlib call ws makes is a hand-off from node's main thread to libuv's pool thread and back. On one
# core that is a context switch; across two it wakes an idle core each time, which cost 2.5-3.5x
# the calls' CPU time on a quiet 2-core machine, less the busier the machine (docs/node.md): a
# figure of the machine's idleness, not of the cell. Pinned, the hand-offs cost the same whatever
# else runs, and one process keeps its core busy. Where processes cannot be pinned, two per core
# keep the cores busy instead (one alone keeps a core busy about half the time).
UNPINNED_PROCESSES_PER_CORE = 2


def processes_for(jobs: int) -> int:
    """How many node processes keep ``jobs`` cores busy: one per core when pinned."""
    return jobs if pinnable_cores() else jobs * UNPINNED_PROCESSES_PER_CORE


CLOCK_NAME = (
    "node process CPU time (process.cpuUsage), ws's zlib calls made synchronously on zlib's "
    "native streams as node builds them for ws (a new one per stream of the corpus), without "
    "the Transform stream around each (node's whole streams instead where, checked before the "
    "first is built, a bare one does not make a whole one's bytes): the zlib work, without ws's "
    "hand-off of each call to libuv's thread pool nor a connection's JavaScript objects "
    "(docs/node.md: the hand-off's cost per message, measured apart by bench/node.py)"
)
# How node.js makes ws's zlib calls: "sync" (the sweep's: the same calls, the same bytes, made
# synchronously), or "ws" (asynchronously, each a hand-off to libuv's pool and back, as ws).
CALLS = ("sync", "ws")


# V8's flags for node's timing processes: every function compiled by Sparkplug, V8's baseline
# compiler, on its first call rather than interpreted until it is found hot. A process's first cells
# otherwise run their passes partly in V8's interpreter: measured on the market records (the same
# 12:5 cell four times in a fresh process, six processes), the first cell's compress median
# 20.5-27.8 ms against 16.5-18.7 for the third and fourth; with the flag 16.9-19.3 against
# 16.0-17.7, the later cells the same (docs/node.md). The same bytes; not Bun's (not V8).
NODE_CODEC_FLAGS = ("--always-sparkplug",)


@dataclass(frozen=True)
class NodeJob:
    """One cell for node: what ws would be configured with, bits already made effective."""

    id: int
    server_bits: int
    client_bits: int
    mem_level: int
    level: int
    strategy: int
    context_takeover: bool
    threshold: int
    # A named client's compressor (--client): None compresses client streams like the server.
    client_mem_level: int | None = None
    client_level: int | None = None
    client_threshold: int | None = None  # None: client streams follow ``threshold``

    @property
    def client_sends_threshold(self) -> int:
        """The threshold of what the client sends (a named client's own, else the cell's)."""
        return self.threshold if self.client_threshold is None else self.client_threshold

    @classmethod
    def of(cls, index: int, setting: Setting) -> NodeJob:
        """The job for ``setting``, numbered ``index`` (how its results are matched back)."""
        return cls(
            id=index,
            server_bits=setting.server_bits,
            client_bits=setting.client_bits,
            mem_level=setting.mem_level,
            level=setting.level,
            strategy=STRATEGIES[setting.strategy],
            context_takeover=setting.context_takeover,
            threshold=setting.threshold,
            client_mem_level=setting.client_mem_level,
            client_level=setting.client_level,
            client_threshold=setting.client_threshold,
        )


@dataclass
class NodeCell(HelperCell):
    """What node measured for one cell."""

    # A broadcast's timing (wsztune.fanout): seconds per stretch, "compress", "decompress", "hot",
    # and "lengths": the messages per timed stretch of each series.
    delivery: dict[str, Any] | None = None
    # What the passes' zlib calls went through (node.js): "bare", zlib's native streams as node
    # builds them inside its own; "node", node's whole streams (ws's asynchronous calls, Bun).
    zlib_streams: str | None = None


@contextmanager
def corpus_file(streams: Sequence[Sequence[bytes]]) -> Iterator[Path]:
    """A temporary corpus file for node, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="wsztune-node-") as directory:
        path = Path(directory) / "corpus.bin"
        write_corpus(streams, path)
        yield path


def _decode(line: str) -> NodeCell:
    data = json.loads(line)
    return NodeCell(
        **helper_cell_fields(data),
        delivery=data.get("delivery"),
        zlib_streams=data.get("zlib_streams"),
    )


def run_cells(
    corpus: Path,
    directions: Sequence[str],
    cells: Sequence[NodeJob],
    *,
    timing: dict[str, object] | None = None,
    jobs: int = 1,
    on_cell: Callable[[NodeCell], None] | None = None,
    pin: bool = True,
    node: str | None = None,
    fresh_output: bool = False,
    calls: str = "sync",
) -> list[NodeCell]:
    """Measure ``cells`` in ``jobs`` node processes over the corpus file; results in cell order.

    Each process measures one cell at a time and times it with its own CPU time, pinned to a core
    (:func:`core_for`): ``jobs`` may exceed the cores without one cell's time counting another's.
    ``pin=False`` lets them run anywhere, as before pinning (``bench/node.py``'s reference).

    ``timing`` is ``{"repeat", "warmup", "min_sample_seconds"}``, or None for sizes only.
    A node that fails is a bug or a broken node install: its message is raised. ``node``: the
    runtime to run ``node.js`` with (Bun runs it too, with Bun's zlib), by default node.
    ``fresh_output``: deflate every message into a fresh output buffer, as uWebSockets does.
    ``calls``: how ws's zlib calls are made (:data:`CALLS`).
    """
    flags = NODE_CODEC_FLAGS if node is None else ()
    node = node or find_node()
    jobs = max(1, min(jobs, len(cells)))
    todo = list(reversed(cells))  # popped from the end: cell order
    handing = threading.Lock()

    def hand_next(stdin: IO[str]) -> None:
        # The cells go one at a time on each process's stdin, the next one when it answers the
        # last: a process that drew cheap cells takes more, and every process stays busy.
        with handing:
            cell = todo.pop() if todo else None
        try:
            if cell is None:
                stdin.close()  # no more cells: the process ends
            else:
                stdin.write(json.dumps(vars(cell)) + "\n")
                stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the process died: its stderr says why

    with tempfile.TemporaryDirectory(prefix="wsztune-node-job-") as directory:
        # One job file for all: the corpus and the plan.
        job_path = Path(directory) / "job.json"
        job = {
            "corpus": str(corpus),
            "directions": list(directions),
            "timing": timing,
            "fresh_output": fresh_output,
            "calls": calls,
        }
        job_path.write_text(json.dumps(job), encoding="utf-8")
        argv = [node, *flags, str(CODEC_SCRIPT), str(job_path)]
        results = run_helpers(
            [Helper(argv, core_for(index) if pin else None) for index in range(jobs)],
            _decode,
            name="node codec",
            feed=hand_next,
            on_result=on_cell,
        )
    return in_job_order("node codec", cells, results)


def describe_node() -> dict[str, object]:
    """What a results file records of the node codec: versions, framing, threshold rule."""
    versions = node_versions()
    return {
        "node_version": versions.get("node"),
        "zlib_version": versions.get("zlib"),
        "v8_version": versions.get("v8"),
        "uv_version": versions.get("uv"),
        "framing": "ws 8 PerMessageDeflate: write, flush(Z_SYNC_FLUSH), drop 4 bytes; "
        "reset() per message without context takeover",
    }


# Streams per probe: at 200, two sweeps differed by up to 6% per cell; at 800, up to 3.9%. The
# slope's error shrinks faster than the streams grow (more marks, over a longer range): six probes
# of 9:1 on the commits corpus spread over 3.1% at 800 streams, 1.0% at 1600.
MEMORY_CONNECTIONS = 1600
MEMORY_METHOD = (
    "a fresh node process per distinct compressor (window bits, memLevel, level, strategy, "
    "takeover, threshold) and per distinct decompressor (client window bits, takeover, "
    "threshold), UV_THREADPOOL_SIZE=1; after a warm-up, {n} streams made as ws makes them "
    "(compressors, their zlib calls made synchronously, sending the largest server stream's "
    "first messages until twice the window went through, at most 8; decompressors inflating "
    "the other stream's, compressed by the client's compressor: zlib's defaults unless a "
    "--client names its own), held open, 8 at a time; every 80 streams past the first quarter "
    "(Bun: 40), after a full gc done on the main thread (Bun: three gcs), resident anonymous "
    "memory minus V8's committed "
    "heap plus V8's live objects; one stream is the least-squares slope over those marks (its "
    "standard error kept). With node, the compressors of a windowBits x memLevel grid are "
    "derived from one row and three windows of one column of probes (the cell's "
    "memory_source says derived; Bun probes every one). Includes "
    "each zlib stream's JS objects and 16 KiB "
    "output buffer. These are compress/decompress_memory_observed: what one stream holds once "
    "built. "
    "ws builds a connection's deflate stream on the first message it compresses and its inflate "
    "stream on the first compressed message it receives, so connection_memory = "
    "compressor_share x compressor + decompressor_share x decompressor, the shares being the "
    "corpus connections with at least one message that reaches the compressor (at or over the "
    "threshold) from the server, resp. from the client (a connection with no client message "
    "counts wsztune live's probe message, {probe} B). memory_resolution: what two sweeps of "
    "the same corpus can differ by (cells closer than that are a tie). "
    "A probe's figure is kept on disk (wsztune's cache directory) keyed by the probe, the node "
    "binary and its versions, the machine's CPU and libc, the setting and the sizes of the "
    "messages the probe sent; a later run with the same key reads it back (the cell's "
    "memory_source says cached) unless run with --no-cache."
)
# The smallest difference of memory per stream the probe resolves, whatever its regression
# says: two sweeps of the bundled corpora differ by up to this much per stream (measured: 0.3-1.5
# KiB per stream between repeated probes, the spread a few marks cannot show).
MEMORY_GRAIN = 2048


# V8's flags for a node probe: its gcs done whole on the main thread before gc() returns (the
# probe makes one per mark: node_memory.js), ArrayBuffers' memory freed with them, so a mark
# reads the same heap however busy the machine is (background gc threads on a probe's one core
# finish when the scheduler lets them). Not Bun's (it is not V8).
NODE_PROBE_FLAGS = ("--single-threaded-gc", "--no-concurrent-array-buffer-sweeping")

# The sender of the frames a decompressor probe inflates, unless a --client names its own:
# zlib's defaults (a browser's and ws's client compress with them). Fixed, so that a
# decompressor's figure does not hang on which cell of the grid happened to be probed first.
PROBE_SENDER = {"mem_level": 8, "level": -1, "strategy": 0}
# At most this many messages per probe stream: each is a round trip to libuv's pool, and
# Chromium's zlib zeroes (so makes resident) its window, prev and hash tables when it allocates
# them, so more messages only add the pending buffer's and output buffers' touched pages (at 15:8
# on the commits corpus, 8 messages hold 2% less than 32, in half the time).
PROBE_MESSAGES = 8


def probe_messages(sizes: Sequence[int], threshold: int, bits: int) -> list[int]:
    """Indices of the messages a probe stream sends: the stream's first ones that reach the
    compressor (at least ``threshold`` bytes) until twice the window went through, at most
    :data:`PROBE_MESSAGES`. When none reaches the threshold (no connection like it builds that
    stream: the cell's share says so), the first ones whatever their size stand in, because a
    stream never written allocates nothing to measure."""

    def first(least: int) -> list[int]:
        chosen: list[int] = []
        total = 0
        for index, size in enumerate(sizes):
            if size < least:
                continue
            chosen.append(index)
            total += size
            if total >= 2 << bits or len(chosen) >= PROBE_MESSAGES:
                break
        return chosen

    return first(threshold) or first(0)


@dataclass(frozen=True)
class NodeMemory:
    """Resident bytes one connection's compressor and decompressor add to a node process, and
    what each figure is uncertain by (bytes: two standard errors, at least the grain), and
    where each came from (:data:`wsztune.results.MEMORY_SOURCES`: probed in this run, read
    from the probe cache, or derived from other probes' figures)."""

    compressor: int
    decompressor: int
    compressor_resolution: int = 0
    decompressor_resolution: int = 0
    compressor_source: str = "measured"
    decompressor_source: str = "measured"

    @property
    def connection(self) -> int:
        """Compressor + decompressor: a connection that builds both (the cell's
        ``connection_memory`` weighs each by the share of connections that build it)."""
        return self.compressor + self.decompressor

    @property
    def source(self) -> str:
        """Where the figures came from: one word when both agree, else
        ``compressor+decompressor`` (``cached+measured``)."""
        if self.compressor_source == self.decompressor_source:
            return self.compressor_source
        return f"{self.compressor_source}+{self.decompressor_source}"


def memory_key(cell: NodeJob) -> tuple:
    """Cells that cost the same memory share one probe (the threshold changes what is sent)."""
    return compressor_key(cell) + decompressor_key(cell)


def compressor_key(cell: NodeJob) -> tuple:
    """Cells whose compressors cost the same: one compressor probe."""
    return (
        cell.server_bits,
        cell.mem_level,
        cell.level,
        cell.strategy,
        cell.context_takeover,
        cell.threshold,
    )


def decompressor_key(cell: NodeJob) -> tuple:
    """Cells whose decompressors cost the same (inflate has no memLevel): one probe."""
    # The client's memLevel and level make the frames inflated (a --client's), not the inflater.
    return (
        cell.client_bits,
        cell.context_takeover,
        cell.client_sends_threshold,
        cell.client_mem_level,
        cell.client_level,
    )


@dataclass(frozen=True)
class _Probe:
    """One memory probe to run: its job for ``node_memory.js`` and its key in the cache."""

    kind: str
    cell: NodeJob
    stream: int
    messages: list[int]
    cache_key: dict[str, Any]


def _probes(
    cells: Sequence[NodeJob],
    sizes: Sequence[Sequence[int]],
    compressor_stream: int,
    decompressor_stream: int,
    identity: dict[str, Any],
) -> dict[tuple, _Probe]:
    """The distinct probes ``cells`` need, by (kind, :func:`compressor_key` /
    :func:`decompressor_key`), each with the cache key of what it depends on."""
    probes: dict[tuple, _Probe] = {}
    for cell in cells:
        for kind, setting, stream, bits, threshold in (
            ("compressor", compressor_key(cell), compressor_stream, cell.server_bits,
             cell.threshold),
            ("decompressor", decompressor_key(cell), decompressor_stream, cell.client_bits,
             cell.client_sends_threshold),
        ):  # fmt: skip
            if (kind, *setting) in probes:
                continue
            messages = probe_messages(sizes[stream], threshold, bits)
            key = {
                **identity,
                "kind": kind,
                "setting": list(setting),
                "sizes": [sizes[stream][index] for index in messages],
            }
            probes[(kind, *setting)] = _Probe(kind, cell, stream, messages, key)
    return probes


def measure_memory(
    corpus: Path,
    sizes: Sequence[Sequence[int]],
    compressor_stream: int,
    decompressor_stream: int,
    cells: Sequence[NodeJob],
    *,
    connections: int | None = None,
    jobs: int = 1,
    cache: MemoryCache | None = None,
    derive: bool = True,
    node: str | None = None,
) -> dict[tuple, NodeMemory]:
    """One fresh node process per distinct compressor and per distinct decompressor
    (:func:`compressor_key`, :func:`decompressor_key`) not found in ``cache``, ``jobs`` of them
    at a time; the figures by :func:`memory_key`. ``sizes``: the corpus's payload sizes per
    stream (which messages a probe sends, and the traffic shape its figure is cached by).
    ``derive``: compressors of a windowBits x memLevel rectangle from one row of it and three
    windows of one column (:func:`derivable`); False probes every one. ``node``: the runtime
    to probe with (default: node)."""
    connections = MEMORY_CONNECTIONS if connections is None else connections
    flags = NODE_PROBE_FLAGS if node is None else ()
    node = node or find_node()
    binary = node_identity(node)
    if binary is None:
        cache = None  # a binary we cannot identify: nothing to key its figures by
    identity = _probe_identity(node, binary, connections, flags)
    probes = _probes(cells, sizes, compressor_stream, decompressor_stream, identity)
    derived = derivable(list(probes)) if derive else {}
    found = _cached_figures(probes, derived, cache)
    todo = [(name, item) for name, item in probes.items() if name not in found | derived.keys()]
    runner = _ProbeRunner(corpus, connections, node, cache, flags)
    found.update(runner.run_all(todo, processes_for(jobs)))
    for name, terms in derived.items():
        found[name] = _Figure.derived([(found[probed], weight) for probed, weight in terms])
    return {memory_key(cell): _cell_memory(cell, found) for cell in cells}


def _probe_identity(
    node: str, binary: str | None, connections: int, flags: Sequence[str] = ()
) -> dict[str, Any]:
    """What every probe's figure depends on beyond its setting and traffic: the probe and the
    flags it runs with, the node binary (:func:`node_identity`) and its versions, the machine."""
    versions = node_versions(node)
    return {
        "probe": probe_identity((MEMORY_SCRIPT, SYNC_CALLS_SCRIPT), connections),
        "flags": list(flags),
        "node": binary,
        "versions": {name: versions.get(name) for name in ("node", "zlib", "v8", "uv")},
        "machine": machine_fingerprint(),
    }


def _cached_figures(
    probes: dict[tuple, _Probe], derived: dict[tuple, Any], cache: MemoryCache | None
) -> dict[tuple, _Figure]:
    """The probes' figures found in ``cache`` (none for the ones to be derived)."""
    found: dict[tuple, _Figure] = {}
    if cache is None:
        return found
    for name, item in probes.items():
        figure = cache.get(item.cache_key) if name not in derived else None
        if figure is not None:
            found[name] = _Figure.of(figure, "cached")
    return found


def _cell_memory(cell: NodeJob, found: dict[tuple, _Figure]) -> NodeMemory:
    """A cell's memory from its compressor's and its decompressor's figures."""
    compressor = found[("compressor", *compressor_key(cell))]
    decompressor = found[("decompressor", *decompressor_key(cell))]
    return NodeMemory(
        compressor.held,
        decompressor.held,
        compressor.resolution,
        decompressor.resolution,
        compressor.source,
        decompressor.source,
    )


class _ProbeRunner:
    """Runs memory probes in fresh node processes, a few side by side, each pinned to a core
    like the timing passes (it then takes a third of the CPU time); RSS is per process, so they
    do not disturb one another's figures. Interrupted or failed: no new probe starts, and the
    running ones are killed."""

    def __init__(
        self,
        corpus: Path,
        connections: int,
        node: str,
        cache: MemoryCache | None,
        flags: Sequence[str] = (),
    ) -> None:
        self.corpus = corpus
        self.flags = list(flags)
        self.connections = connections
        self.node = node
        self.cache = cache
        self.running: set[subprocess.Popen[str]] = set()
        self.stopping = threading.Event()
        self.slots: queue.Queue[int | None] = queue.Queue()
        # One pool thread: every zlib allocation from one malloc arena (the figure's spread
        # between runs halves); the probe times nothing, so it loses nothing.
        self.env = {key: value for key, value in os.environ.items() if key != "NODE_OPTIONS"}
        self.env["UV_THREADPOOL_SIZE"] = "1"
        self.stall_seconds: float = STALL_SECONDS

    def run_all(
        self, todo: Sequence[tuple[tuple, _Probe]], processes: int
    ) -> list[tuple[tuple, _Figure]]:
        """Every probe of ``todo``, ``processes`` at a time (as many as keep the cores busy:
        :func:`processes_for`); their figures, stored in the cache as they come."""
        from concurrent.futures import ThreadPoolExecutor

        workers = max(1, min(processes, len(todo)))
        for index in range(workers):
            self.slots.put(core_for(index))
        pool = ThreadPoolExecutor(workers)
        try:
            figures = list(pool.map(self.run, todo))
        except BaseException:
            self.stopping.set()
            for process in list(self.running):
                kill_tree(process)  # a launcher's child (Volta's node) would outlive it
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return figures

    def run(self, entry: tuple[tuple, _Probe]) -> tuple[tuple, _Figure]:
        """One probe in a node process on a free core: its figure."""
        name, item = entry
        if self.stopping.is_set():
            raise RuntimeError("stopped")
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as job_file:
            json.dump(self.job(item), job_file)
        core = self.slots.get()
        try:
            with on_core(core):
                process = subprocess.Popen(
                    [self.node, "--expose-gc", *self.flags, str(MEMORY_SCRIPT), job_file.name],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    errors="replace",  # a stray byte must not kill communicate's readers
                    env=self.env,
                )
            self.running.add(process)
            try:
                # One takes 0.5-1.4 s of CPU, far longer on a loaded machine: the stall guard,
                # not a wall clock, tells a slow probe from a hung one.
                stdout, stderr = communicate(process, "node memory probe", self.stall_seconds)
            finally:
                self.running.discard(process)
        finally:
            self.slots.put(core)
            os.unlink(job_file.name)
        if process.returncode != 0:
            raise helper_failed("node memory probe", process.returncode, stderr)
        data = json.loads(stdout)
        figure = ProbeFigure(int(data["held"]), int(data["error"]))
        if self.cache is not None:
            self.cache.put(item.cache_key, figure)
        return name, _Figure.of(figure, "measured")

    def job(self, item: _Probe) -> dict[str, Any]:
        """``node_memory.js``'s job for one probe: the stream, its messages, the sender of the
        frames a decompressor inflates (zlib's defaults unless a --client names its own)."""
        named = {"mem_level": item.cell.client_mem_level, "level": item.cell.client_level}
        sender = {**PROBE_SENDER, **{k: v for k, v in named.items() if v is not None}}
        return {
            "corpus": str(self.corpus),
            "stream": item.stream,
            "messages": item.messages,
            "sender": sender,
            "cell": vars(item.cell),
            "kind": item.kind,
            "connections": self.connections,
        }


@dataclass(frozen=True)
class _Figure:
    """One stream's figure as a cell uses it: bytes held, resolution, where it came from."""

    held: int
    resolution: int
    source: str

    @classmethod
    def of(cls, figure: ProbeFigure, source: str) -> _Figure:
        """A probe's figure: its resolution is two standard errors, at least the grain."""
        return cls(figure.held, max(MEMORY_GRAIN, 2 * figure.error), source)

    @classmethod
    def derived(cls, terms: Sequence[tuple[_Figure, float]]) -> _Figure:
        """The figure ``sum(weight x figure)`` over ``terms`` (:func:`derivable`); its resolution
        adds the terms' weighted resolutions in quadrature, at least the grain."""
        held = sum(weight * figure.held for figure, weight in terms)
        spread = math.sqrt(sum((weight * figure.resolution) ** 2 for figure, weight in terms))
        return cls(round(held), max(MEMORY_GRAIN, math.ceil(spread)), "derived")


# A derived figure: the probed figures it is made of, each with its weight.
Derivation = tuple[tuple[tuple, float], ...]


def derivable(names: Sequence[tuple]) -> dict[tuple, Derivation]:
    """The compressor probes that need not run, each with the probed figures it is derived
    from and their weights (figure = the weighted sum).

    A Node compressor's memory is a window part plus a memLevel part plus what every stream
    holds (docs/node.md). The window part is Chromium's zlib's window and ``prev``, zeroed when
    allocated (``4 << windowBits`` bytes, resident whatever the traffic), with what the traffic
    touches of the rest varying little with the window. The memLevel part is the hash table
    (``2 << max(memLevel + 7, 15)`` bytes) and the pages of the pending buffer the traffic
    touches, which no formula gives. So, among compressors that differ only in window bits and
    memLevel:

    - one row is probed: every memLevel at one window, ``window0``;
    - one column is probed at its ends and at ``window0`` (memLevel ``level0``); its other
      windows are interpolated linearly in ``2 ** windowBits`` between the probed windows
      either side (measured on the commits corpus and the chat records: within 0.7 KiB of
      their probes);
    - every other cell is row + column - corner: ``(window, memLevel)`` from ``(window,
      level0)`` + ``(window0, memLevel)`` - ``(window0, level0)``.

    Measured on the bundled corpora and held-out ones within the probes' resolution
    (docs/node.md, bench/node_memory.py). Only a full rectangle of at least 3 x 3 is derived
    (fewer saves at most one probe). ``window0`` and ``level0`` are the middle ones (the
    residuals were smallest there).
    """
    groups: dict[tuple, dict[tuple[int, int], tuple]] = {}
    for name in names:
        if name[0] != "compressor":
            continue
        bits, mem_level, *rest = name[1:]
        groups.setdefault(tuple(rest), {})[(bits, mem_level)] = name
    out: dict[tuple, Derivation] = {}
    for cells in groups.values():
        windows = sorted({bits for bits, _ in cells})
        levels = sorted({mem_level for _, mem_level in cells})
        if len(windows) < 3 or len(levels) < 3 or len(cells) != len(windows) * len(levels):
            continue
        window0, level0 = windows[len(windows) // 2], levels[len(levels) // 2]
        probed = sorted({windows[0], window0, windows[-1]})
        column = {bits: _interpolated(bits, probed, cells, level0) for bits in windows}
        corner = cells[(window0, level0)]
        for (bits, mem_level), name in cells.items():
            if bits == window0 or (mem_level == level0 and bits in probed):
                continue  # probed
            if mem_level == level0:
                out[name] = column[bits]
            else:
                out[name] = (*column[bits], (cells[(window0, mem_level)], 1.0), (corner, -1.0))
    return out


def _interpolated(
    bits: int, probed: Sequence[int], cells: dict[tuple[int, int], tuple], level: int
) -> Derivation:
    """The column's figure at ``bits``: probed, or linear in ``2 ** bits`` between the probed
    windows either side."""
    if bits in probed:
        return ((cells[(bits, level)], 1.0),)
    below = max(window for window in probed if window < bits)
    above = min(window for window in probed if window > bits)
    share = ((1 << bits) - (1 << below)) / ((1 << above) - (1 << below))
    return ((cells[(below, level)], 1.0 - share), (cells[(above, level)], share))


CellMaker = Callable[
    [Sequence[Stream], Setting, Any, Any, TimingPlan, CorpusSummary], dict[str, object]
]


def measure_with_runtime(
    streams: Sequence[Stream],
    order: Sequence[Setting],
    plan: TimingPlan,
    jobs: int,
    finished: CellDone,
    *,
    runtime: str | None = None,
    make_cell: CellMaker | None = None,
    fresh_output: bool = False,
) -> None:
    """Run ``node.js`` and ``node_memory.js`` over every setting with ``runtime`` (node by default;
    Bun runs them too, with its own zlib) and report each cell, built by ``make_cell`` (by
    default :func:`node_cell`: ws's lazily built streams), as it completes. ``fresh_output``:
    every message deflated into a fresh output buffer (uWebSockets' way, Bun's)."""
    make_cell = make_cell or node_cell
    summary = CorpusSummary.of(streams)
    directions = [stream.direction for stream in streams]
    jobs_for = [NodeJob.of(index, setting) for index, setting in enumerate(order)]
    timing: dict[str, object] | None = plan.helper_job()  # type: ignore[assignment]
    # A broadcast (a fan-out): each subscriber's deflate stream, which ws keeps (and resets
    # without takeover) for the connection's life.
    server_sizes = [size for s in streams if s.direction == SERVER for size in s.sizes()]
    state = max(compressor_theory(s.server_bits, s.mem_level) for s in order)
    schedule = delivery_schedule(len(server_sizes), plan.fanout, plan.repeat, plan.warmup, state,
                                 plan.min_sample_seconds)  # fmt: skip
    if timing is not None and schedule is not None:
        deliveries = schedule.helper_job()
        if runtime is None:
            deliveries["ws"] = installed_sender_library()  # ws's own broadcast path, if here
            if deliveries["ws"] is not None:  # only ws's path sends: no reader to hand without it
                deliveries["sink"] = sink_helper_job(schedule.compressors)
        timing = {**timing, "deliveries": deliveries}
    with corpus_file([stream.payloads for stream in streams]) as path:
        # Memory first, in its own processes, never while timing.
        with phase("memory probes"):
            memory = measure_memory(
                path,
                [list(stream.sizes()) for stream in streams],
                summary.compressor_stream,
                summary.decompressor_stream,
                jobs_for,
                jobs=jobs,
                node=runtime,
                cache=default_cache(read=plan.use_cache),
                # Derived cells were measured to hold for Node's zlib (Chromium's), not for
                # another runtime's (Bun: Cloudflare's): that one probes every cell.
                derive=plan.derive_memory and runtime is None,
            )

        def done(result: NodeCell) -> None:
            job = jobs_for[result.id]
            cell = make_cell(streams, order[result.id], result, memory[memory_key(job)], plan,
                             summary)  # fmt: skip
            delivery = result.delivery or {}
            cell.update(delivery_fields(schedule, server_sizes, delivery.get("compress"),
                                        delivery.get("decompress"), delivery.get("hot"),
                                        delivery.get("lengths"), job.threshold))  # fmt: skip
            finished(cell)

        # One process per core, pinned to it (or two per core where they cannot be pinned);
        # each times its cells with its own CPU time.
        processes = processes_for(jobs)
        with phase("timing passes" if timing else "sizes"):
            run_cells(
                path,
                directions,
                jobs_for,
                timing=timing,
                jobs=processes,
                on_cell=done,
                node=runtime,
                fresh_output=fresh_output,
            )


def codec(name: str = NAME) -> NodeCodec:
    """The registry's constructor (:data:`wsztune.codecs.CODECS`)."""
    return NodeCodec(name)


@dataclass(frozen=True)
class ZlibShares:
    """Share of a corpus's connections on which a ws server builds each zlib stream.

    ws creates a connection's deflate stream on the first message it compresses, and its
    inflate stream on the first compressed message it receives (``lib/permessage-deflate.js``:
    ``_compress`` / ``_decompress``), then keeps them (``reset()`` without context takeover
    does not free zlib's memory). A message under the threshold goes out raw and builds
    nothing, so a connection whose messages one way are all short never pays for that stream.
    """

    compressor: float
    decompressor: float


def node_shares(
    streams: Sequence[Stream], compressed_messages: Sequence[int], threshold: int
) -> ZlibShares:
    """:class:`ZlibShares` of ``streams`` from node's count of compressed messages per stream.

    A server stream with a compressed message builds the server's deflate stream; a client
    stream with one, the server's inflate stream. A connection with no client message is
    assumed to send :data:`PROBE_PAYLOAD` (a real client says something; ``live`` replays it),
    which is compressed when it reaches ``threshold`` (the effective one: 0 means every
    message). A corpus with no connection counts as one that builds both.
    """
    built: dict[str, list[bool]] = {}
    for stream, count in zip(streams, compressed_messages, strict=True):
        flags = built.setdefault(stream.connection, [False, False, False])
        if stream.direction == SERVER:
            flags[0] = flags[0] or count > 0
        else:
            flags[1] = flags[1] or count > 0
            flags[2] = flags[2] or len(stream) > 0  # the client said something itself
    if not built:
        return ZlibShares(1.0, 1.0)
    probe_compressed = len(PROBE_PAYLOAD) >= threshold
    compressors = sum(flags[0] for flags in built.values())
    decompressors = sum(
        flags[1] or (not flags[2] and probe_compressed) for flags in built.values()
    )
    return ZlibShares(compressors / len(built), decompressors / len(built))


def node_cell(
    streams: Sequence[Stream],
    setting: Setting,
    result: Any,
    memory: Any,
    plan: TimingPlan,
    summary: CorpusSummary,
    shares: ZlibShares | None = None,
) -> dict[str, object]:
    """A results cell from what node measured (``NodeCell``, ``NodeMemory``): the same fields,
    in the same order, as every codec gives. ``shares``: the connections that build each stream
    (default: ws's, built lazily, :func:`node_shares`)."""
    timing = timing_of(result, plan)
    # ws builds each zlib stream lazily: a connection pays for the ones it uses (ZlibShares);
    # the *_observed fields stay what one built stream holds. RSS never shrinks back within
    # the probe: what it holds after the work covers the peak.
    if shares is None:
        shares = node_shares(streams, result.compressed_messages, setting.sender(CLIENT).threshold)
    expected = shares.compressor * memory.compressor + shares.decompressor * memory.decompressor
    # Two RSS-based figures closer than this are a tie (recommend breaks it by preference).
    resolution = (
        shares.compressor * memory.compressor_resolution
        + shares.decompressor * memory.decompressor_resolution
    )
    return cell_fields(
        streams,
        setting,
        summary,
        result.sizes,
        timing,
        CellMemory(
            compressor=memory.compressor,
            compressor_peak=memory.compressor,
            decompressor=memory.decompressor,
            decompressor_peak=memory.decompressor,
            connection=round(expected),
            compressor_share=shares.compressor,
            decompressor_share=shares.decompressor,
            resolution=round(resolution),
            source=memory.source,
        ),
        compressed_messages=sum(result.compressed_messages),
    )
