"""Run cells through Node's zlib (``codec.js``) and read back sizes, digests and timings.

The corpus goes to node once per sweep, as one temporary file of length-prefixed payloads (no JSON
per message); the cells go as one small JSON job per node process. ``jobs`` node processes share
the cells. Node answers one JSON line per cell: per stream the compressed bytes and every message's
frame payload size (a message under the threshold counts its raw size), the sha256 of all frames,
and, when timing is asked for, CPU-time samples of the calls as ws makes them.

This module knows nothing of the sweep's cell format: it hands back :class:`NodeCell`.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import struct
import subprocess
import sys
import tempfile
import threading
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from wsztune.codec import STRATEGIES, Setting
from wsztune.nodejs import find_node, helper
from wsztune.programs import Helper, core_for, on_core, pinnable_cores, run_helpers

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
    "node process CPU time (process.cpuUsage: main thread and libuv pool), "
    "async zlib stream calls as ws makes them"
)


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
        )


@dataclass
class NodeCell:
    """What node measured for one cell."""

    id: int
    sizes: list[list[int]]  # per stream, per message: frame payload bytes
    compressed_messages: list[int]  # per stream: messages that went through the compressor
    sha256: str
    compress_samples: list[float] = field(default_factory=list)
    decompress_samples: list[float] = field(default_factory=list)
    loops_compress: int = 0
    loops_decompress: int = 0


def write_corpus(streams: Sequence[Sequence[bytes]], path: Path) -> None:
    """Write payloads as node reads them: per stream a u32 count, per message u32 length + bytes."""
    pack = struct.Struct("<I").pack
    with open(path, "wb") as out:
        for payloads in streams:
            out.write(pack(len(payloads)))
            for payload in payloads:
                out.write(pack(len(payload)))
                out.write(payload)


@contextmanager
def corpus_file(streams: Sequence[Sequence[bytes]]) -> Iterator[Path]:
    """A temporary corpus file for node, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="wsztune-node-") as directory:
        path = Path(directory) / "corpus.bin"
        write_corpus(streams, path)
        yield path


def _decode(line: str) -> NodeCell:
    data = json.loads(line)
    sizes = []
    for stream in data["streams"]:
        values = array("I")
        values.frombytes(base64.b64decode(stream["sizes"]))
        if sys.byteorder != "little":  # pragma: no cover - node wrote little-endian
            values.byteswap()
        sizes.append(values.tolist())
    return NodeCell(
        id=data["id"],
        sizes=sizes,
        compressed_messages=[stream["compressed_messages"] for stream in data["streams"]],
        sha256=data["sha256"],
        compress_samples=data.get("compress_samples", []),
        decompress_samples=data.get("decompress_samples", []),
        loops_compress=data.get("loops_compress", 0),
        loops_decompress=data.get("loops_decompress", 0),
    )


def run_cells(
    corpus: Path,
    directions: Sequence[str],
    cells: Sequence[NodeJob],
    *,
    timing: dict[str, float] | None = None,
    jobs: int = 1,
    on_cell: Callable[[NodeCell], None] | None = None,
    pin: bool = True,
    node: str | None = None,
) -> list[NodeCell]:
    """Measure ``cells`` in ``jobs`` node processes over the corpus file; results in cell order.

    Each process measures one cell at a time and times it with its own CPU time, pinned to a core
    (:func:`core_for`): ``jobs`` may exceed the cores without one cell's time counting another's.
    ``pin=False`` lets them run anywhere, as before pinning (``bench/node.py``'s reference).

    ``timing`` is ``{"repeat", "warmup", "min_sample_seconds"}``, or None for sizes only.
    A node that fails is a bug or a broken node install: its message is raised. ``node``: the
    runtime to run ``codec.js`` with (Bun runs it too, with Bun's zlib), by default node.
    """
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
        job = {"corpus": str(corpus), "directions": list(directions), "timing": timing}
        job_path.write_text(json.dumps(job), encoding="utf-8")
        argv = [node, str(helper("codec.js")), str(job_path)]
        results = run_helpers(
            [Helper(argv, core_for(index) if pin else None) for index in range(jobs)],
            _decode,
            name="node codec",
            feed=hand_next,
            on_result=on_cell,
        )
    found = {cell.id: cell for cell in results}
    missing = [cell.id for cell in cells if cell.id not in found]
    if missing:
        raise RuntimeError(f"node codec returned no result for cells {missing}")
    return [found[cell.id] for cell in cells]


def describe() -> dict[str, object]:
    """What a results file records of the node codec: versions, framing, threshold rule."""
    from wsztune.nodejs import node_versions

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
    "(compressors sending the largest server stream's first messages until twice the window "
    "went through, at most 8; decompressors inflating the other stream's), held open, 8 at a "
    "time; every 40 streams, after gc, resident anonymous memory minus V8's committed heap plus "
    "V8's live objects; one stream is the least-squares slope over the last three quarters of "
    "those marks (its standard error kept). Includes each zlib stream's JS objects and 16 KiB "
    "output buffer. These are compress/decompress_memory_observed: what one stream holds once "
    "built. "
    "ws builds a connection's deflate stream on the first message it compresses and its inflate "
    "stream on the first compressed message it receives, so connection_memory = "
    "compressor_share x compressor + decompressor_share x decompressor, the shares being the "
    "corpus connections with at least one message that reaches the compressor (at or over the "
    "threshold) from the server, resp. from the client (a connection with no client message "
    "counts wsztune live's probe message, {probe} B). memory_resolution: what two sweeps of "
    "the same corpus can differ by (cells closer than that are a tie)."
)
# The smallest difference of memory per stream the probe resolves, whatever its regression
# says: two sweeps of the bundled corpora differ by up to this much per stream (measured: 0.3-1.5
# KiB per stream between repeated probes, the spread a few marks cannot show).
MEMORY_GRAIN = 2048


@dataclass(frozen=True)
class NodeMemory:
    """Resident bytes one connection's compressor and decompressor add to a node process, and
    what each figure is uncertain by (bytes: two standard errors, at least the grain)."""

    compressor: int
    decompressor: int
    compressor_resolution: int = 0
    decompressor_resolution: int = 0

    @property
    def connection(self) -> int:
        """Compressor + decompressor: a connection that builds both (the cell's
        ``connection_memory`` weighs each by the share of connections that build it)."""
        return self.compressor + self.decompressor


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
        cell.threshold,
        cell.client_mem_level,
        cell.client_level,
    )


def measure_memory(
    corpus: Path,
    compressor_stream: int,
    decompressor_stream: int,
    cells: Sequence[NodeJob],
    *,
    connections: int = MEMORY_CONNECTIONS,
    jobs: int = 1,
    node: str | None = None,
) -> dict[tuple, NodeMemory]:
    """One fresh node process per distinct compressor and per distinct decompressor
    (:func:`compressor_key`, :func:`decompressor_key`), ``jobs`` of them at a time; the
    figures by :func:`memory_key`. ``node``: the runtime to probe with (default: node)."""
    from concurrent.futures import ThreadPoolExecutor

    node = node or find_node()
    probes: dict[tuple, tuple[str, NodeJob]] = {}
    for cell in cells:
        probes.setdefault(("compressor", *compressor_key(cell)), ("compressor", cell))
        probes.setdefault(("decompressor", *decompressor_key(cell)), ("decompressor", cell))

    running: set[subprocess.Popen[str]] = set()
    stopping = threading.Event()
    # One pool thread: every zlib allocation from one malloc arena (the figure's spread between
    # runs halves); the probe times nothing, so it loses nothing.
    env = {key: value for key, value in os.environ.items() if key != "NODE_OPTIONS"}
    env["UV_THREADPOOL_SIZE"] = "1"

    def probe(item: tuple[tuple, tuple[str, NodeJob]]) -> tuple[tuple, tuple[int, int]]:
        key, (kind, cell) = item
        if stopping.is_set():
            raise RuntimeError("stopped")
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as job_file:
            json.dump(
                {
                    "corpus": str(corpus),
                    "compressor_stream": compressor_stream,
                    "decompressor_stream": decompressor_stream,
                    "cell": vars(cell),
                    "kind": kind,
                    "connections": connections,
                },
                job_file,
            )
        core = slots.get()
        try:
            with on_core(core):
                process = subprocess.Popen(
                    [node, "--expose-gc", str(helper("memory.js")), job_file.name],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=env,
                )
            running.add(process)
            try:
                stdout, stderr = process.communicate(timeout=600)
            finally:
                running.discard(process)
        finally:
            slots.put(core)
            os.unlink(job_file.name)
        if process.returncode != 0:
            raise RuntimeError(f"node memory probe failed: {stderr.strip()}")
        data = json.loads(stdout)
        return key, (int(data["held"]), max(MEMORY_GRAIN, 2 * int(data["error"])))

    # As many probes at once as keep the cores busy (:func:`processes_for`), each pinned like the
    # timing passes (it then takes a third of the CPU time); RSS is per process, so they do not
    # disturb one another's figures.
    workers = max(1, processes_for(jobs))
    slots: queue.Queue[int | None] = queue.Queue()
    for index in range(workers):
        slots.put(core_for(index))
    pool = ThreadPoolExecutor(workers)
    try:
        found = dict(pool.map(probe, probes.items()))
    except BaseException:
        # Interrupted or failed: no new probe starts, the running ones are killed now.
        stopping.set()
        for process in list(running):
            process.kill()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    out: dict[tuple, NodeMemory] = {}
    for cell in cells:
        compressor, compressor_error = found[("compressor", *compressor_key(cell))]
        decompressor, decompressor_error = found[("decompressor", *decompressor_key(cell))]
        out[memory_key(cell)] = NodeMemory(
            compressor, decompressor, compressor_error, decompressor_error
        )
    return out
