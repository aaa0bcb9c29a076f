"""The sweep: every cell of a grid of settings measured on one corpus, in parallel.

A cell is measured in three phases, in this order, in one process:

1. warm-up: compress and decompress the whole corpus once; this pass also gives the exact sizes
   and the round-trip check (every message must come back unchanged);
2. timing: ``repeat`` samples of compressing, then of decompressing, the whole corpus with the
   garbage collector off; a sample repeats the corpus ``loops`` times when one pass is shorter
   than ``min_sample_seconds``, so that every sample stands well above timer noise. Samples are
   CPU time of the measuring thread (:data:`CLOCK`), not wall time: on a busy machine another
   process taking turns on the same core doubles a wall-clock sample but leaves CPU time alone;
3. memory: one compressor and one decompressor observed with tracemalloc, never while timing, on
   the first messages only: zlib allocates all of a compressor's memory when it is built and a
   decompressor's window on its first output, so what they hold then is what they hold for the
   rest of the stream (``tests/test_memory.py`` proves it for every cell, on every backend).

With ``TimingPlan(measure_time=False)`` (``wsztune run --no-timing``) phase 2 is skipped: the cell
gets its exact sizes (round trip checked) and its memory, and ``None`` for every time field.

The corpus is never copied per worker nor held as one object per message: streams are views of
the corpus's one buffer (inherited by forked workers page for page), payloads reach the codec as
memoryview slices of it, and a cell's frames are packed in one buffer per stream
(:class:`wsztune.codec.Frames`).

Cells are visited in a seeded shuffled order, so that drift (heat, other load) spreads evenly over
the grid instead of favouring the first cells. Nothing here renders anything: progress is reported
through a callback.
"""

from __future__ import annotations

import collections
import gc
import itertools
import math
import multiprocessing
import os
import random
import re
import signal
import statistics
import time
from array import array
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from wsztune.codec import (
    Backend,
    Frames,
    Setting,
    check_stream,
    compress_frames,
    compress_pass,
    compress_stream,
    decompress_pass,
    frame_sizes,
    get_backend,
    round_trip_sizes,
    sent_payloads,
)
from wsztune.corpus import CLIENT, SERVER, Corpus, Stream
from wsztune.environment import describe_environment
from wsztune.errors import SettingError
from wsztune.memory import (
    Observation,
    compressor_theory,
    decompressor_theory,
    observe_compressor,
    observe_decompressor,
)
from wsztune.results import TIME_FIELD_NAMES, Run, utc_now
from wsztune.stats import messages_per_second
from wsztune.units import UnitLayout

DEFAULT_WINDOW_BITS = tuple(range(9, 16))
DEFAULT_MEM_LEVELS = tuple(range(1, 10))
THRESHOLD_RULES = ("always", "ws")
# A timing sample whose interquartile range exceeds this fraction of its median is flagged.
UNSTABLE_IQR_RATIO = 0.10
# The clock of timing samples: CPU seconds of this thread. Compression is pure computation, so CPU
# time is what a setting costs a server; unlike wall time it does not count the time this thread
# waits while other processes (other workers beyond the core count, a test suite, a browser) run
# on its core. With wall time, cells measured while something else ran read up to twice as slow
# and the sweep's ranking changed from run to run (see bench/sweep.py and docs/performance.md).
CLOCK = time.thread_time
CLOCK_NAME = "thread CPU time (time.thread_time)"


@dataclass(frozen=True)
class Grid:
    """The settings to sweep: the product of every axis."""

    window_bits: tuple[int, ...] = DEFAULT_WINDOW_BITS
    mem_levels: tuple[int, ...] = DEFAULT_MEM_LEVELS
    levels: tuple[int, ...] = (-1,)
    strategies: tuple[str, ...] = ("default",)
    context_takeover: tuple[bool, ...] = (True,)
    client_window_bits: int | None = None
    thresholds: tuple[int, ...] = (0,)
    # When a threshold applies: "always" (a message under it is never compressed), or "ws": only
    # without context takeover, as ws's Sender decides (lib/sender.js: with takeover on, ws
    # compresses every message whatever its threshold option says).
    threshold_rule: str = "always"

    def __post_init__(self) -> None:
        if self.threshold_rule not in THRESHOLD_RULES:
            raise SettingError(f"threshold rule must be one of {', '.join(THRESHOLD_RULES)}")

    def settings(self) -> list[Setting]:
        """Every cell's setting, validated, in a stable order."""
        out = []
        for takeover in self.context_takeover:
            thresholds = self.thresholds
            if takeover and self.threshold_rule == "ws":
                thresholds = (0,)  # ws ignores its threshold with context takeover
            out += [
                Setting(wb, ml, level, strategy, takeover, self.client_window_bits, threshold)
                for threshold in thresholds
                for strategy in self.strategies
                for level in self.levels
                for wb in self.window_bits
                for ml in self.mem_levels
            ]
        return out

    def describe(self) -> dict[str, object]:
        """Plain metadata for a results file."""
        return {
            "window_bits": list(self.window_bits),
            "mem_levels": list(self.mem_levels),
            "levels": list(self.levels),
            "strategies": list(self.strategies),
            "context_takeover": list(self.context_takeover),
            "client_window_bits": self.client_window_bits,
            "thresholds": list(self.thresholds),
            "threshold_rule": self.threshold_rule,
        }


_RANGE_PART = re.compile(r"^\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?$")


def parse_thresholds(text: str) -> tuple[int, ...]:
    """Parse ``--threshold 0,1024`` (bytes, comma-separated) into sorted unique integers."""
    values: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit():
            raise SettingError(
                f"--threshold takes byte counts such as 0 or 0,1024, not {text!r}"
            )
        values.add(int(part))
    return tuple(sorted(values))


def parse_int_range(text: str, what: str, allowed: range) -> tuple[int, ...]:
    """Parse ``"9-15"``, ``"12"``, ``"9,12,15"`` or a mix into sorted unique integers."""
    values: set[int] = set()
    for part in text.split(","):
        match = _RANGE_PART.match(part)
        if match is None:
            raise SettingError(
                f"{what} takes numbers or ranges such as 9-15 or 9,12,15, not {text!r}"
            )
        low = int(match[1])
        high = int(match[2]) if match[2] is not None else low
        if low > high:
            raise SettingError(f"{what}: the range {part.strip()!r} is empty (write it low-high)")
        for value in (low, high):
            if value not in allowed:
                raise SettingError(
                    f"{what} must be within {allowed.start} to {allowed.stop - 1}, not {value}"
                )
        values.update(range(low, high + 1))
    return tuple(sorted(values))


@dataclass(frozen=True)
class TimingPlan:
    """How each cell is timed."""

    repeat: int = 5
    warmup: int = 1
    min_sample_seconds: float = 0.02
    # False: sizes and memory only (``--no-timing``); every time field of a cell is then None.
    measure_time: bool = True

    def __post_init__(self) -> None:
        if self.repeat < 1:
            raise SettingError(f"--repeat must be at least 1, not {self.repeat}")
        if self.warmup < 1:
            raise SettingError(f"--warmup must be at least 1, not {self.warmup}")
        if not 0 <= self.min_sample_seconds <= 10:
            raise SettingError(
                f"--min-sample-time must be between 0 and 10 seconds, not {self.min_sample_seconds}"
            )


def frame_header_size(length: int, masked: bool) -> int:
    """Bytes of WebSocket frame header (RFC 6455) for a payload of ``length`` bytes."""
    size = 2 if length < 126 else 4 if length < 65536 else 10
    return size + 4 if masked else size


def _wire_bytes(payload_sizes: Iterable[int], masked: bool) -> int:
    """Payloads plus their frame headers (:func:`frame_header_size`), counted in one pass."""
    total = count = extended = long = 0
    for size in payload_sizes:
        total += size
        count += 1
        if size >= 126:
            extended += 1
            if size >= 65536:
                long += 1
    # 2 bytes each, 2 more from 126 B, 6 more from 64 KiB, and a 4-byte mask from clients.
    return total + count * (6 if masked else 2) + 2 * extended + 6 * long


def _time_samples(work: Callable[[], object], repeat: int, loops: int) -> list[float]:
    """``repeat`` samples of ``work`` run ``loops`` times, in seconds per single run."""
    clock = CLOCK
    samples = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            start = clock()
            for _ in range(loops):
                work()
            samples.append((clock() - start) / loops)
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples


def _summary(samples: Sequence[float], prefix: str) -> dict[str, float]:
    ordered = sorted(samples)
    if len(ordered) >= 4:
        quartiles = statistics.quantiles(ordered, n=4)
        iqr = quartiles[2] - quartiles[0]
    else:
        iqr = ordered[-1] - ordered[0]
    return {
        f"{prefix}_seconds": statistics.median(ordered),
        f"{prefix}_seconds_min": ordered[0],
        f"{prefix}_seconds_max": ordered[-1],
        f"{prefix}_seconds_iqr": iqr,
    }


def _loops_for(one_pass_seconds: float, min_sample_seconds: float) -> int:
    if one_pass_seconds <= 0:
        return 1000
    return max(1, math.ceil(min_sample_seconds / one_pass_seconds))


def _largest(streams: Sequence[Stream], direction: str) -> int | None:
    """Index of the stream of ``direction`` with the most raw bytes, None if there is none."""
    candidates = [index for index, stream in enumerate(streams) if stream.direction == direction]
    return max(candidates, key=lambda index: streams[index].raw_bytes, default=None)


@dataclass(frozen=True)
class CorpusSummary:
    """What a cell needs of the corpus that no setting changes, worked out once per sweep."""

    messages: int
    server_raw_bytes: int
    client_raw_bytes: int
    wire_raw_bytes: int
    compressor_stream: int  # the stream the server's compressor memory is observed on
    decompressor_stream: int  # the stream the server's decompressor memory is observed inflating
    units: UnitLayout | None = None  # how each cell's compressed sizes are kept per unit

    @classmethod
    def of(cls, streams: Sequence[Stream]) -> CorpusSummary:
        """Summarize ``streams`` (at least one) as :func:`measure_cell` uses them."""
        raw = {SERVER: 0, CLIENT: 0}
        wire = 0
        for stream in streams:
            raw[stream.direction] += stream.raw_bytes
            wire += _wire_bytes(stream.sizes(), stream.direction == CLIENT)
        server = _largest(streams, SERVER)
        if server is None:
            server = max(range(len(streams)), key=lambda index: streams[index].raw_bytes)
        client = _largest(streams, CLIENT)
        return cls(
            messages=sum(len(stream) for stream in streams),
            server_raw_bytes=raw[SERVER],
            client_raw_bytes=raw[CLIENT],
            wire_raw_bytes=wire,
            compressor_stream=server,
            decompressor_stream=server if client is None else client,
            units=UnitLayout.of(streams),
        )


@dataclass(frozen=True)
class ConnectionMemory:
    """The server's compression memory for one connection: compressor and decompressor."""

    compressor: Observation
    decompressor: Observation

    @property
    def held(self) -> int:
        """Bytes held for the connection: the results' ``connection_memory``."""
        return self.compressor.held + self.decompressor.held


def observe_connection(
    streams: Sequence[Stream],
    setting: Setting,
    backend: Backend,
    summary: CorpusSummary | None = None,
) -> ConnectionMemory:
    """What a connection costs the server at ``setting``, as tracemalloc sees it.

    The compressor of the largest server stream; the decompressor of the largest client stream
    or, on a corpus with no client traffic, of the largest server stream compressed with the
    client's window: every connection pays for an inflate window, because a real client sends
    something and zlib then allocates the whole window (``wsztune live`` has its clients send a
    message for the same reason).

    Only the first messages are observed, and they give what the whole stream would (the held
    bytes; the peaks are those of the messages observed): zlib allocates all of a compressor's
    memory when it is built, so with context takeover its first message shows it all, and
    without, the compressor of the stream's last message is the one left (as before); a
    decompressor allocates its window on its first output, so with context takeover it inflates
    up to the first message that is not empty, and without, the last message's frame alone
    (frames of a compressor per message do not depend on each other).
    """
    summary = summary or CorpusSummary.of(streams)
    sender = streams[summary.compressor_stream]
    first = _observed_messages(sender, setting, until_output=False)
    compressor = observe_compressor(setting, setting.server_bits, first, backend)
    source = streams[summary.decompressor_stream]
    first = _observed_messages(source, setting, until_output=True)
    frames = compress_stream(first, setting, setting.client_bits, backend)
    decompressor = observe_decompressor(setting, setting.client_bits, frames, backend)
    return ConnectionMemory(compressor, decompressor)


def _observed_messages(stream: Stream, setting: Setting, until_output: bool) -> list[bytes]:
    """The payloads whose processing leaves a codec object holding all it will ever hold.

    Only messages that reach the compressor count (a message under the threshold never does).
    Without context takeover each message has its own codec object and the last one is
    observed, as a server is left with it. With context takeover: the first message, or (for a
    decompressor, whose window comes with its first output) every message up to the first that
    is not empty.
    """
    threshold = setting.threshold
    if not setting.context_takeover:
        if not threshold:
            return [bytes(stream.payloads[-1])] if len(stream) else []
        last = collections.deque(sent_payloads(stream.buffers(), threshold), maxlen=1)
        return [bytes(payload) for payload in last]
    if not threshold:
        count = 1
        if until_output:
            count = next((n for n, size in enumerate(stream.sizes(), 1) if size), len(stream))
        return [bytes(payload) for payload in itertools.islice(stream.buffers(), count)]
    observed: list[bytes] = []
    for payload in sent_payloads(stream.buffers(), threshold):
        observed.append(bytes(payload))
        if len(payload) or not until_output:
            break
    return observed


def _what(setting: Setting, stream: Stream) -> str:
    return f"{setting.label} on {stream.connection}/{stream.direction}"


def _time_cell(
    compressed: Sequence[Frames],
    work: Sequence[tuple[Stream, int]],
    setting: Setting,
    backend: Backend,
    plan: TimingPlan,
    compress_once: float,
    decompress_once: float,
) -> dict[str, object]:
    """Phase 2 of :func:`measure_cell`: the time fields of a cell."""

    def compress_all() -> None:
        for stream, bits in work:
            compress_pass(stream.buffers(), setting, bits, backend)

    def decompress_all() -> None:
        for frames, (_, bits) in zip(compressed, work, strict=True):
            decompress_pass(frames, setting, bits, backend)

    for _ in range(plan.warmup - 1):
        compress_all()
        decompress_all()

    loops_compress = _loops_for(compress_once, plan.min_sample_seconds)
    loops_decompress = _loops_for(decompress_once, plan.min_sample_seconds)
    return timing_fields(
        _time_samples(compress_all, plan.repeat, loops_compress),
        _time_samples(decompress_all, plan.repeat, loops_decompress),
        plan.repeat,
        loops_compress,
        loops_decompress,
    )


def timing_fields(
    compress_samples: Sequence[float],
    decompress_samples: Sequence[float],
    repeat: int,
    loops_compress: int,
    loops_decompress: int,
) -> dict[str, object]:
    """The time fields of a cell from its samples (seconds per whole-corpus pass), any codec."""
    compress_timing = _summary(compress_samples, "compress")
    decompress_timing = _summary(decompress_samples, "decompress")
    unstable = any(
        timing[f"{name}_seconds_iqr"] > UNSTABLE_IQR_RATIO * timing[f"{name}_seconds"]
        for name, timing in (("compress", compress_timing), ("decompress", decompress_timing))
    )
    return {
        **compress_timing,
        **decompress_timing,
        "timing_repeat": repeat,
        "timing_loops_compress": loops_compress,
        "timing_loops_decompress": loops_decompress,
        "timing_unstable": unstable,
    }


def measure_cell(
    streams: Sequence[Stream],
    setting: Setting,
    backend: Backend,
    plan: TimingPlan,
    summary: CorpusSummary | None = None,
) -> dict[str, object]:
    """Measure one setting on the whole corpus: sizes (exact), times, memory. Plain dict out.

    ``summary`` is :meth:`CorpusSummary.of` ``streams``, given when many cells share it.
    """
    summary = summary or CorpusSummary.of(streams)
    work = [(stream, setting.bits_for(stream.direction)) for stream in streams]

    sizes: list[Iterable[int]]
    if plan.measure_time:
        # 1. Warm-up; the first pass yields the sizes and is checked message by message.
        # Payloads are views of the corpus buffer and the frames are packed: no object per
        # message outlives its call.
        started = CLOCK()
        compressed = [
            compress_frames(stream.buffers(), setting, bits, backend) for stream, bits in work
        ]
        compress_once = CLOCK() - started
        started = CLOCK()
        for frames, (stream, bits) in zip(compressed, work, strict=True):
            check_stream(frames, stream.buffers(), setting, bits, backend, _what(setting, stream))
        decompress_once = CLOCK() - started
        # 2. Timing.
        timing = _time_cell(
            compressed, work, setting, backend, plan, compress_once, decompress_once
        )
        sent = [array("q", frames.sizes()) for frames in compressed]
        del compressed
    else:
        # Sizes only: each message compressed and inflated back at once, no frame kept.
        sent = [
            round_trip_sizes(stream.buffers(), setting, bits, backend, _what(setting, stream))
            for stream, bits in work
        ]
        # Not measured is None, never zero, which would read as infinitely fast.
        timing = dict.fromkeys(TIME_FIELD_NAMES)

    # Every message's frame size: a message under the threshold is its own frame.
    sizes = [
        sent_sizes
        if not setting.threshold
        else array("q", frame_sizes(stream.sizes(), sent_sizes, setting.threshold))
        for stream, sent_sizes in zip(streams, sent, strict=True)
    ]

    # 3. Memory, never while timing.
    memory = observe_connection(streams, setting, backend, summary)

    return cell_fields(
        streams,
        setting,
        summary,
        sizes,
        timing,
        CellMemory(
            compressor=memory.compressor.held,
            compressor_peak=memory.compressor.peak,
            decompressor=memory.decompressor.held,
            decompressor_peak=memory.decompressor.peak,
            connection=memory.held,
            # python-websockets builds both codec objects with the connection: every one pays.
            compressor_share=1.0,
            decompressor_share=1.0,
        ),
        compressed_messages=sum(map(len, sent)),
    )


@dataclass(frozen=True)
class CellMemory:
    """What a backend observed of one connection's codec objects, in bytes."""

    compressor: int
    compressor_peak: int
    decompressor: int
    decompressor_peak: int
    connection: int  # what a connection costs, the results' connection_memory
    compressor_share: float  # share of connections that build a compressor
    decompressor_share: float
    # Cells closer than this in connection memory are a tie: 0 for counted allocations (exact),
    # the probe's resolution for RSS-based figures (node).
    resolution: int = 0


def cell_fields(
    streams: Sequence[Stream],
    setting: Setting,
    summary: CorpusSummary,
    sizes: Sequence[Sequence[int]],
    timing: dict[str, object],
    memory: CellMemory,
    compressed_messages: int,
) -> dict[str, object]:
    """A results cell, every field in the documented order, from what any backend measured:
    each stream's per-message frame sizes, the time fields and the memory."""
    compressed_bytes = {SERVER: 0, CLIENT: 0}
    wire_compressed = 0
    for stream, stream_sizes in zip(streams, sizes, strict=True):
        compressed_bytes[stream.direction] += sum(stream_sizes)
        wire_compressed += _wire_bytes(stream_sizes, stream.direction == CLIENT)
    raw_bytes = summary.server_raw_bytes + summary.client_raw_bytes
    total_compressed = compressed_bytes[SERVER] + compressed_bytes[CLIENT]
    compress_theory = compressor_theory(setting.server_bits, setting.mem_level)
    decompress_theory = decompressor_theory(setting.client_bits)
    return {
        "window_bits": setting.window_bits,
        "client_window_bits": setting.nominal_client_bits,  # as window_bits: 8 stays 8
        "mem_level": setting.mem_level,
        "level": setting.level,
        "strategy": setting.strategy,
        "context_takeover": setting.context_takeover,
        "messages": summary.messages,
        "raw_bytes": raw_bytes,
        "compressed_bytes": total_compressed,
        "savings": 1 - total_compressed / raw_bytes if raw_bytes else 0.0,
        "server_raw_bytes": summary.server_raw_bytes,
        "server_compressed_bytes": compressed_bytes[SERVER],
        "client_raw_bytes": summary.client_raw_bytes,
        "client_compressed_bytes": compressed_bytes[CLIENT],
        "wire_raw_bytes": summary.wire_raw_bytes,
        "wire_compressed_bytes": wire_compressed,
        **timing,
        "compress_memory_theoretical": compress_theory,
        "compress_memory_observed": memory.compressor,
        "compress_memory_peak": memory.compressor_peak,
        "decompress_memory_theoretical": decompress_theory,
        "decompress_memory_observed": memory.decompressor,
        "decompress_memory_peak": memory.decompressor_peak,
        "connection_memory_theoretical": compress_theory + decompress_theory,
        "connection_memory": memory.connection,
        "threshold": setting.threshold,
        "compressed_messages": compressed_messages,
        "compressor_share": memory.compressor_share,
        "decompressor_share": memory.decompressor_share,
        "memory_resolution": memory.resolution,
        **_unit_sizes(summary, sizes),
    }


def _unit_sizes(summary: CorpusSummary, sizes: Sequence[Iterable[int]]) -> dict[str, object]:
    """``unit_compressed_bytes``: exact sizes per resampling unit, from a cell's per-message
    frame sizes per stream (empty when the summary has no unit layout)."""
    if summary.units is None:
        return {}
    return {"unit_compressed_bytes": summary.units.sizes(sizes)}


# Node's zlib (ws, Socket.IO) ----------------------------------------------------------------------

NODE = "node"

# What a client whose corpus connection records nothing from it is assumed to send: one short
# message (``wsztune live`` replays it, as :data:`wsztune.live.PROBE`). Whether it reaches the
# compressor (and the server then inflates, building its inflate stream) follows the threshold.
PROBE_PAYLOAD = b'{"wsztune":"live probe"}'


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


def node_backend() -> Backend:
    """The node codec as a :class:`Backend` for metadata: its zlib runs in node, not here."""
    from wsztune.nodejs import node_versions

    # module is None: nothing in this process compresses with node's zlib; the sweep hands
    # node cells to wsztune.nodejs.backend instead of the zlib loops.
    return Backend(NODE, None, node_versions()["zlib"])  # type: ignore[arg-type]


def _node_cells(
    streams: Sequence[Stream],
    order: Sequence[Setting],
    plan: TimingPlan,
    jobs: int,
    finished: Callable[[dict[str, object]], None],
) -> list[dict[str, object]]:
    """Measure every setting with Node's zlib as ws calls it (sizes, round trip, timing), then
    the memory of a connection in fresh node processes; report cells as they complete."""
    from wsztune.nodejs import backend as node

    summary = CorpusSummary.of(streams)
    directions = [stream.direction for stream in streams]
    jobs_for = [node.NodeJob.of(index, setting) for index, setting in enumerate(order)]
    timing = (
        {
            "repeat": plan.repeat,
            "warmup": plan.warmup,
            "min_sample_seconds": plan.min_sample_seconds,
        }
        if plan.measure_time
        else None  # sizes (round trip checked) only
    )
    cells: list[dict[str, object]] = []
    with node.corpus_file([stream.payloads for stream in streams]) as path:
        # Memory first, in its own processes, never while timing.
        memory = node.measure_memory(
            path, summary.compressor_stream, summary.decompressor_stream, jobs_for, jobs=jobs
        )

        def done(result: node.NodeCell) -> None:
            job = jobs_for[result.id]
            cell = node_cell(
                streams, order[result.id], result, memory[node.memory_key(job)], plan, summary
            )
            cells.append(cell)
            finished(cell)

        # More node processes than cores: one alone keeps a core busy about half the time
        # (each zlib call waits on libuv's pool); each times its cells with its own CPU time.
        processes = jobs * node.PROCESSES_PER_CORE
        node.run_cells(path, directions, jobs_for, timing=timing, jobs=processes, on_cell=done)
    return cells


def node_cell(
    streams: Sequence[Stream],
    setting: Setting,
    result: Any,
    memory: Any,
    plan: TimingPlan,
    summary: CorpusSummary,
) -> dict[str, object]:
    """A results cell from what node measured (``NodeCell``, ``NodeMemory``): the same fields,
    in the same order, as :func:`measure_cell` gives."""
    if plan.measure_time:
        timing = timing_fields(
            result.compress_samples,
            result.decompress_samples,
            plan.repeat,
            result.loops_compress,
            result.loops_decompress,
        )
    else:
        # Not measured is None, never zero, which would read as infinitely fast.
        timing = dict.fromkeys(TIME_FIELD_NAMES)
    # ws builds each zlib stream lazily: a connection pays for the ones it uses (ZlibShares);
    # the *_observed fields stay what one built stream holds. RSS never shrinks back within
    # the probe: what it holds after the work covers the peak.
    shares = node_shares(streams, result.compressed_messages, setting.threshold)
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
        ),
        compressed_messages=sum(result.compressed_messages),
    )


# Parallel execution -------------------------------------------------------------------------------

_worker_state: dict[str, object] = {}


def _init_worker(
    streams: Sequence[Stream], backend_name: str, plan: TimingPlan, summary: CorpusSummary
) -> None:
    # Ctrl-C and SIGTERM (sent to the whole process group by a terminal, an orchestrator or a CI
    # runner) are the parent's to handle: it stops the workers itself (SIGKILL: they hold nothing
    # worth saving), without their tracebacks, and keeps the finished cells.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _worker_state.update(
        streams=streams, backend=get_backend(backend_name), plan=plan, summary=summary
    )


def _worker_measure(setting: Setting) -> dict[str, object]:
    return measure_cell(
        _worker_state["streams"],  # type: ignore[arg-type]
        setting,
        _worker_state["backend"],  # type: ignore[arg-type]
        _worker_state["plan"],  # type: ignore[arg-type]
        _worker_state["summary"],  # type: ignore[arg-type]
    )


class SweepInterrupted(Exception):
    """The sweep was stopped (Ctrl-C) before every cell was measured; carries the finished ones."""

    def __init__(self, cells: list[dict[str, object]], total: int) -> None:
        super().__init__(f"interrupted after {len(cells)} of {total} cells")
        self.cells = cells
        self.total = total
        self.run: Run | None = None


CellCallback = Callable[[dict[str, object], int, int], None]


def default_jobs() -> int:
    """Worker processes by default: every core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def sort_key(cell: dict[str, object]) -> tuple:
    """Stable cell order for results files: the grid's axes."""
    return (
        not cell["context_takeover"],
        cell["strategy"],
        cell["level"],
        cell.get("threshold", 0),
        cell["window_bits"],
        cell["mem_level"],
    )


def run_sweep(
    streams: Sequence[Stream],
    settings: Sequence[Setting],
    *,
    backend_name: str = "zlib",
    plan: TimingPlan | None = None,
    jobs: int = 1,
    seed: int = 0,
    on_cell: CellCallback | None = None,
) -> list[dict[str, object]]:
    """Measure every setting on the streams; cells come back in grid order.

    Sizes and memory are the same whatever ``jobs`` is; only timings feel the other workers.
    """
    plan = plan or TimingPlan()
    if jobs < 1:
        raise SettingError(f"--jobs must be at least 1, not {jobs}")
    order = list(settings)
    random.Random(seed).shuffle(order)
    total = len(order)
    cells: list[dict[str, object]] = []

    def finished(cell: dict[str, object]) -> None:
        cells.append(cell)
        if on_cell is not None:
            on_cell(cell, len(cells), total)

    if backend_name == NODE:
        try:
            cells = _node_cells(streams, order, plan, jobs, finished)
        except KeyboardInterrupt:
            raise SweepInterrupted(sorted(cells, key=sort_key), total) from None
        return sorted(cells, key=sort_key)
    backend = get_backend(backend_name)
    jobs = min(jobs, total) or 1
    summary = CorpusSummary.of(streams)
    try:
        if jobs == 1:
            for setting in order:
                finished(measure_cell(streams, setting, backend, plan, summary))
        else:
            _run_parallel(streams, order, backend_name, plan, jobs, finished, summary)
    except KeyboardInterrupt:
        raise SweepInterrupted(sorted(cells, key=sort_key), total) from None
    return sorted(cells, key=sort_key)


def _run_parallel(
    streams: Sequence[Stream],
    order: Sequence[Setting],
    backend_name: str,
    plan: TimingPlan,
    jobs: int,
    finished: Callable[[dict[str, object]], None],
    summary: CorpusSummary,
) -> None:
    # Forked, explicitly (Python 3.14 makes forkserver the default on Linux): the workers then
    # inherit the corpus buffer page for page, shared with this process, instead of receiving a
    # pickled copy each.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    executor = ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=context,
        initializer=_init_worker,
        initargs=(streams, backend_name, plan, summary),
    )
    try:
        # Keep at most two cells per worker in flight: one running and one queued keeps every
        # worker busy, while an interrupt has little queued work to throw away and finished cells
        # report promptly.
        pending: set[Future] = set()
        queue = list(reversed(order))
        while queue or pending:
            while queue and len(pending) < jobs * 2:
                pending.add(executor.submit(_worker_measure, queue.pop()))
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                finished(future.result())
    except BaseException:
        # Interrupted or failed: stop the workers now rather than wait for their cells.
        for process in list(getattr(executor, "_processes", {}).values()):
            process.kill()  # they ignore SIGTERM
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    executor.shutdown(wait=True)


def sweep(
    corpus: Corpus,
    grid: Grid,
    *,
    backend_name: str = "zlib",
    plan: TimingPlan | None = None,
    jobs: int = 1,
    seed: int = 0,
    on_cell: CellCallback | None = None,
    server: str | None = None,
) -> Run:
    """Sweep ``grid`` over ``corpus`` and return the Run, metadata included (not yet saved).

    ``server`` names the stack tuned (``wsztune run --server``), recorded in the metadata.

    On Ctrl-C this raises :class:`SweepInterrupted` whose ``run`` holds the finished cells,
    marked partial, for the caller to keep or drop.
    """
    plan = plan or TimingPlan()
    backend = node_backend() if backend_name == NODE else get_backend(backend_name)
    settings = grid.settings()
    # No more workers than cells: the metadata must say how the cells were really timed.
    jobs = max(1, min(jobs, len(settings)))
    started = utc_now()
    meta: dict[str, Any] = {
        **describe_environment(backend),
        "started_at": started.isoformat(timespec="seconds"),
        "corpus": corpus.describe(),
        "grid": grid.describe(),
        "timing": (
            {
                "measured": True,
                "repeat": plan.repeat,
                "warmup": plan.warmup,
                "min_sample_seconds": plan.min_sample_seconds,
                "clock": CLOCK_NAME,
                "jobs": jobs,
                "order": f"shuffled, seed {seed}",
                "note": (
                    "cells were timed one at a time"
                    if jobs == 1
                    else f"cells were timed {jobs} at a time in parallel processes: compare "
                    "times between cells of this run, not absolute times with other runs"
                ),
            }
            if plan.measure_time
            else {
                "measured": False,
                "jobs": jobs,
                "order": f"shuffled, seed {seed}",
                "note": "time was not measured (--no-timing): sizes and memory only, every "
                "time field of the cells is null",
            }
        ),
        "seed": seed,
        "partial": False,
    }
    rate = messages_per_second(corpus)
    if rate is not None:  # optional: only corpora whose records carry "t" have a rate
        meta["corpus"]["messages_per_second"] = rate
    if server is not None:
        meta["server"] = server  # the stack tuned: which snippet this run may be trusted for
    if backend_name == NODE:
        from wsztune.nodejs import backend as node

        meta["node"] = node.describe()
        meta["timing"]["clock"] = node.CLOCK_NAME
        meta["memory_method"] = node.MEMORY_METHOD.format(
            n=node.MEMORY_CONNECTIONS, probe=len(PROBE_PAYLOAD)
        )
    streams = corpus.streams()
    # The same layout CorpusSummary.of gives every cell: the units its sizes are aligned with.
    meta["units"] = UnitLayout.of(streams).describe()

    def finish(cells: list[dict[str, Any]], partial: bool) -> Run:
        finished = utc_now()
        meta.update(
            finished_at=finished.isoformat(timespec="seconds"),
            duration_seconds=round((finished - started).total_seconds(), 3),
            cells=len(cells),
            cells_planned=len(settings),
            partial=partial,
        )
        return Run(meta, cells)

    try:
        cells = run_sweep(
            streams,
            settings,
            backend_name=backend_name,
            plan=plan,
            jobs=jobs,
            seed=seed,
            on_cell=on_cell,
        )
    except SweepInterrupted as interrupted:
        interrupted.run = finish(interrupted.cells, partial=True)
        raise
    return finish(cells, partial=False)
