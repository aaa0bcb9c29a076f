"""What every codec shares: the interface the sweep calls, and the pieces of a results cell.

A codec measures cells: given the corpus's streams, the settings (in the order to visit them), a
:class:`TimingPlan` and a number of jobs, it hands back one results cell per setting, as each
completes, through a callback. How it gets there is its own business: CPython's zlib measures in
this process (forked workers for ``jobs`` > 1, :func:`measure_in_processes`), Node's zlib in node
processes. Every codec builds its cells with :func:`cell_fields`, so that the fields, their order
and their meaning are the same whatever measured them.

Nothing here names a codec: the registry (:mod:`wsztune.codecs`) does.
"""

from __future__ import annotations

import gc
import math
import multiprocessing
import signal
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from wsztune.corpus import CLIENT, SERVER, Stream
from wsztune.errors import SettingError
from wsztune.memory import Resident, compressor_theory, decompressor_theory
from wsztune.permessage_deflate import Setting
from wsztune.results import TIME_FIELD_NAMES
from wsztune.units import UnitLayout

# A timing sample whose interquartile range exceeds this fraction of its median is flagged.
UNSTABLE_IQR_RATIO = 0.10
# The clock of timing samples: CPU seconds of this thread. Compression is pure computation, so CPU
# time is what a setting costs a server; unlike wall time it does not count the time this thread
# waits while other processes (other workers beyond the core count, a test suite, a browser) run
# on its core. With wall time, cells measured while something else ran read up to twice as slow
# and the sweep's ranking changed from run to run (see bench/sweep.py and docs/performance.md).
CLOCK = time.thread_time
CLOCK_NAME = "thread CPU time (time.thread_time)"

# What a client whose corpus connection records nothing from it is assumed to send: one short
# message (``wsztune live`` replays it, as :data:`wsztune.live.plan.PROBE`). Whether it reaches the
# compressor (and the server then inflates, building its inflate stream) follows the threshold.
PROBE_PAYLOAD = b'{"wsztune":"live probe"}'

Cell = dict[str, object]
CellDone = Callable[[Cell], None]


@dataclass(frozen=True)
class TimingPlan:
    """How each cell is timed."""

    repeat: int = 5
    warmup: int = 1
    min_sample_seconds: float = 0.02
    # False: sizes and memory only (``--no-timing``); every time field of a cell is then None.
    measure_time: bool = True
    # False (``--no-cache``): memory figures a codec keeps on disk between runs (node's probes)
    # are measured afresh instead of read back.
    use_cache: bool = True
    # False (``--probe-every-cell``): a codec that derives some cells' memory from other cells'
    # probes (node) probes every cell instead.
    derive_memory: bool = True
    # The fan-out K the run is for (``--fanout``, or the corpus's): above 1, each cell also
    # times a broadcast, K per-connection compressors interleaved (wsztune.fanout).
    fanout: int = 1
    # Bytes of a buffer the server stack writes whole and frees on every socket read (its
    # profile's ``read_buffer``, given by ``wsztune run --server``): the resident model of a
    # codec whose objects are built on it lays it under them (wsztune.memory.zlib_resident).
    read_buffer: int = 0

    def __post_init__(self) -> None:
        if self.repeat < 1:
            raise SettingError(f"--repeat must be at least 1, not {self.repeat}")
        if self.warmup < 1:
            raise SettingError(f"--warmup must be at least 1, not {self.warmup}")
        if not 0 <= self.min_sample_seconds <= 10:
            raise SettingError(
                f"--min-sample-time must be between 0 and 10 seconds, not {self.min_sample_seconds}"
            )

    def helper_job(self) -> dict[str, float] | None:
        """The plan as a helper process (node, Go) reads it; None for sizes only."""
        if not self.measure_time:
            return None
        return {
            "repeat": self.repeat,
            "warmup": self.warmup,
            "min_sample_seconds": self.min_sample_seconds,
        }


@dataclass(frozen=True)
class CodecInfo:
    """What a results file records of the codec that measured a run."""

    name: str  # the results' ``codec``
    version: str  # the results' ``codec_version``
    clock: str = CLOCK_NAME  # what the timing samples count
    meta: dict[str, Any] = field(default_factory=dict)  # more run metadata (e.g. ``node``)


class Codec(Protocol):
    """One codec behind the sweep: a new codec is a module with a class like this one and an
    entry in :data:`wsztune.codecs.CODECS`."""

    name: str

    def check(self) -> None:
        """Raise a one-line user error (exit 2) when the codec cannot run here."""

    def describe(self) -> CodecInfo:
        """Versions and method notes for the results file."""

    def measure(
        self,
        streams: Sequence[Stream],
        order: Sequence[Setting],
        plan: TimingPlan,
        jobs: int,
        finished: CellDone,
    ) -> None:
        """Measure every setting of ``order`` on ``streams`` with ``jobs`` workers, calling
        ``finished`` with each cell as it completes (any order; the sweep sorts them)."""


def filed_fields(codec: Codec, setting: Setting) -> dict[str, Any]:
    """The cell fields ``codec`` records other than ``setting`` says them: the codec's own
    ``filed_fields`` when it has one (a Go cell has Go's fixed window, no memLevel and the
    threshold its library applied), else none. A sweep finds the cells of a client mix by it."""
    filed = getattr(codec, "filed_fields", None)
    return {} if filed is None else filed(setting)


# Frames on the wire ------------------------------------------------------------------------------


def frame_header_size(length: int, masked: bool) -> int:
    """Bytes of WebSocket frame header (RFC 6455) for a payload of ``length`` bytes."""
    size = 2 if length < 126 else 4 if length < 65536 else 10
    return size + 4 if masked else size


def wire_bytes(payload_sizes: Iterable[int], masked: bool) -> int:
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


# Timing ------------------------------------------------------------------------------------------


@contextmanager
def collector_off() -> Iterator[None]:
    """The garbage collector off while something is timed (every timing sample has it off),
    back as it was afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# A cell's first pass is no steady pass: it makes the sizes, checks the round trip and finds caches
# and allocators cold, so loops judged by it alone can miss the mark far (CPython's first pass of a
# small corpus took up to 2.5 times a later one: half its samples ran under two thirds of the mark,
# 15 ms against 20 over the sweep of the fleet-light records, where Node's ran 22). So the first
# sample, whose passes are warm, sets the loops of the samples after it. Every codec applies this
# rule (node.js for node and Bun, the Go and JVM helpers: each its own copy of these lines).
def time_samples(
    work: Callable[[], object], repeat: int, loops: int, min_sample_seconds: float | None = None
) -> tuple[list[float], int]:
    """``repeat`` samples of ``work``, in seconds per single run, and the passes the later
    samples ran. The first sample runs ``loops`` times (:func:`loops_for` of a cell's first
    pass); given ``min_sample_seconds``, the later ones run :func:`loops_for` of the first
    sample's time per pass."""
    clock = CLOCK
    samples = []
    with collector_off():
        for number in range(repeat):
            start = clock()
            for _ in range(loops):
                work()
            samples.append((clock() - start) / loops)
            if number == 0 and min_sample_seconds is not None:
                loops = loops_for(samples[0], min_sample_seconds)
    return samples, loops


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


# How many whole passes a timing sample repeats: the count whose time comes nearest
# --min-sample-time, judging by the first pass (at least one). Every codec applies this one rule
# (node.js, Bun through it, the Go and JVM helpers: each its own copy of these lines). Rounded up,
# as it once was, a pass just under the mark doubled the sample: on the market records Node's
# 16-19 ms passes timed 2 per sample where CPython's 20.5 ms timed 1, so the faster codec's sweep
# cost a third more (docs/node.md). Nearest keeps a sample between 2/3 and 4/3 of the mark once a
# pass is shorter than it (a pass longer than the mark is one pass a sample).
def loops_for(one_pass_seconds: float, min_sample_seconds: float) -> int:
    """How many passes one timing sample repeats: the whole number whose time comes nearest
    ``min_sample_seconds`` (halves round up), at least 1; 1000 when a pass took no time."""
    if one_pass_seconds <= 0:
        return 1000
    return max(1, math.floor(min_sample_seconds / one_pass_seconds + 0.5))


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


def timing_of(result: Any, plan: TimingPlan) -> dict[str, object]:
    """The time fields of a cell a helper process measured (its ``compress_samples``,
    ``decompress_samples``, ``loops_compress``, ``loops_decompress``), or None fields when the
    plan measured no time."""
    if not plan.measure_time:
        return untimed_fields()
    return timing_fields(
        result.compress_samples,
        result.decompress_samples,
        plan.repeat,
        result.loops_compress,
        result.loops_decompress,
    )


def untimed_fields() -> dict[str, object]:
    """The time fields of a cell whose time was not measured: None, never zero, which would
    read as infinitely fast."""
    return dict.fromkeys(TIME_FIELD_NAMES)


# The corpus as cells see it ----------------------------------------------------------------------


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
        """Summarize ``streams`` (at least one) as the codecs use them."""
        raw = {SERVER: 0, CLIENT: 0}
        wire = 0
        for stream in streams:
            raw[stream.direction] += stream.raw_bytes
            wire += wire_bytes(stream.sizes(), stream.direction == CLIENT)
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


# A results cell ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellMemory:
    """What a codec observed of one connection's codec objects, in bytes."""

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
    # Where the figures came from: "measured" in this run, "cached" from an earlier run's probe
    # (node), "cached+measured" when the compressor's and the decompressor's differ.
    source: str = "measured"
    # What the OS charges per connection in the steady state for the corpus's traffic (the
    # results' *_memory_resident); None: the allocation, for a runtime that touches all it
    # allocates (the JVM zeroes arrays) or measures RSS itself.
    resident: Resident | None = None

    def resident_or_allocation(self) -> Resident:
        """The resident figures, or the allocation weighed by the shares when none was given."""
        if self.resident is not None:
            return self.resident
        return Resident(
            self.compressor_share * self.compressor, self.decompressor_share * self.decompressor
        )


def cell_fields(
    streams: Sequence[Stream],
    setting: Setting,
    summary: CorpusSummary,
    sizes: Sequence[Sequence[int]],
    timing: dict[str, object],
    memory: CellMemory,
    compressed_messages: int,
    frames: Sequence[Sequence[int]] | None = None,
) -> dict[str, object]:
    """A results cell, every field in the documented order, from what any codec measured:
    each stream's per-message payload sizes, the time fields and the memory.

    ``frames``: per stream, every frame's payload size, for a library that sends a message in
    several frames (coder, gorilla's full write buffer); by default a message is one frame.
    """
    compressed_bytes = {SERVER: 0, CLIENT: 0}
    wire_compressed = 0
    frame_count = 0
    for index, (stream, stream_sizes) in enumerate(zip(streams, sizes, strict=True)):
        compressed_bytes[stream.direction] += sum(stream_sizes)
        on_wire = stream_sizes if frames is None else frames[index]
        wire_compressed += wire_bytes(on_wire, stream.direction == CLIENT)
        frame_count += len(on_wire)
    raw_bytes = summary.server_raw_bytes + summary.client_raw_bytes
    total_compressed = compressed_bytes[SERVER] + compressed_bytes[CLIENT]
    compress_theory = compressor_theory(setting.server_bits, setting.mem_level)
    decompress_theory = decompressor_theory(setting.client_bits)
    resident = memory.resident_or_allocation()
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
        "frames": frame_count,
        "memory_source": memory.source,
        "compress_memory_resident": round(resident.compressor),
        "decompress_memory_resident": round(resident.decompressor),
        "connection_memory_resident": round(resident.compressor) + round(resident.decompressor),
        **_client_fields(setting),
        **_unit_sizes(summary, sizes),
    }


def _client_fields(setting: Setting) -> dict[str, object]:
    """``client_mem_level`` and ``client_level``: what the client's compressor was built with,
    when a client was named (``--client``); absent otherwise (the server's values). And
    ``client_threshold`` when the named client's threshold is not the cell's ``threshold``."""
    if not setting.client_named:
        return {}
    client = setting.sender(CLIENT)
    fields: dict[str, object] = {"client_mem_level": client.mem_level, "client_level": client.level}
    if client.threshold != setting.threshold:
        fields["client_threshold"] = client.threshold
    return fields


def _unit_sizes(summary: CorpusSummary, sizes: Sequence[Iterable[int]]) -> dict[str, object]:
    """``unit_compressed_bytes``: exact sizes per resampling unit, from a cell's per-message
    frame sizes per stream (empty when the summary has no unit layout)."""
    if summary.units is None:
        return {}
    return {"unit_compressed_bytes": summary.units.sizes(sizes)}


# Cells measured in this process, in parallel -----------------------------------------------------


class InProcessCodec(Protocol):
    """A codec that measures one cell at a time in this process (picklable: it crosses into
    the workers)."""

    def measure_cell(
        self,
        streams: Sequence[Stream],
        setting: Setting,
        plan: TimingPlan,
        summary: CorpusSummary,
    ) -> Cell:
        """Measure one setting on the whole corpus."""


_worker_state: dict[str, Any] = {}


def _init_worker(
    streams: Sequence[Stream], codec: InProcessCodec, plan: TimingPlan, summary: CorpusSummary
) -> None:
    # Ctrl-C and SIGTERM (sent to the whole process group by a terminal, an orchestrator or a CI
    # runner) are the parent's to handle: it stops the workers itself (SIGKILL: they hold nothing
    # worth saving), without their tracebacks, and keeps the finished cells.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _worker_state.update(streams=streams, codec=codec, plan=plan, summary=summary)


def _worker_measure(setting: Setting) -> Cell:
    state = _worker_state
    return state["codec"].measure_cell(state["streams"], setting, state["plan"], state["summary"])


def measure_in_processes(
    codec: InProcessCodec,
    streams: Sequence[Stream],
    order: Sequence[Setting],
    plan: TimingPlan,
    jobs: int,
    finished: CellDone,
) -> None:
    """Measure every setting with ``codec.measure_cell``: here when ``jobs`` is 1, else in
    ``jobs`` forked worker processes; ``finished`` gets each cell as it completes."""
    summary = CorpusSummary.of(streams)
    jobs = min(jobs, len(order)) or 1
    if jobs == 1:
        for setting in order:
            finished(codec.measure_cell(streams, setting, plan, summary))
        return
    # Forked, explicitly (Python 3.14 makes forkserver the default on Linux): the workers then
    # inherit the corpus buffer page for page, shared with this process, instead of receiving a
    # pickled copy each.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    executor = ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=context,
        initializer=_init_worker,
        initargs=(streams, codec, plan, summary),
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
