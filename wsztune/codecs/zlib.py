"""CPython's zlib and zlib-ng, measured in this process, framed as python-websockets frames.

The model itself (encoding, decoding, the threshold) is :mod:`wsztune.permessage_deflate`; this
module measures a cell with it, in three phases, in this order, in one process:

1. warm-up: compress and decompress the whole corpus once; this pass also gives the exact sizes
   and the round-trip check (every message must come back unchanged);
2. timing: ``repeat`` samples of compressing, then of decompressing, the whole corpus with the
   garbage collector off; a sample repeats the corpus ``loops`` times when one pass is shorter
   than ``min_sample_seconds``, so that every sample stands well above timer noise (the first
   sample's loops judged by the warm-up pass, the later ones' by the first sample). Samples are
   CPU time of the measuring thread (:data:`wsztune.codecs.base.CLOCK`), not wall time;
3. memory: one compressor and one decompressor observed with tracemalloc, never while timing, on
   the first messages only: zlib allocates all of a compressor's memory when it is built and a
   decompressor's window on its first output, so what they hold then is what they hold for the
   rest of the stream (``tests/test_memory.py`` proves it for every cell, with zlib and zlib-ng).

With ``TimingPlan(measure_time=False)`` (``wsztune run --no-timing``) phase 2 is skipped: the cell
gets its exact sizes (round trip checked) and its memory, and ``None`` for every time field.

The corpus is never copied per worker nor held as one object per message: streams are views of
the corpus's one buffer (inherited by forked workers page for page), payloads reach the codec as
memoryview slices of it, and a cell's frames are packed in one buffer per stream
(:class:`wsztune.permessage_deflate.Frames`).
"""

from __future__ import annotations

import collections
import itertools
import socket
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from wsztune.codecs.base import (
    CLOCK,
    CellDone,
    CellMemory,
    CodecInfo,
    CorpusSummary,
    TimingPlan,
    cell_fields,
    collector_off,
    loops_for,
    measure_in_processes,
    time_samples,
    timing_fields,
    untimed_fields,
)
from wsztune.corpus import CLIENT, SERVER, Stream
from wsztune.fanout import (
    DeliverySchedule,
    delivery_fields,
    delivery_schedule,
    priming_messages,
)
from wsztune.memory import (
    Observation,
    ResidentModel,
    compressor_theory,
    connection_traffic,
    mean_resident,
    observe_compressor,
    observe_decompressor,
    zlib_ng_resident,
    zlib_resident,
)
from wsztune.permessage_deflate import (
    BIG_MESSAGE,
    STRATEGIES,
    Frames,
    Setting,
    ZlibModule,
    check_stream,
    compress_frames,
    compress_pass,
    compress_stream,
    decompress_pass,
    frame_sizes,
    get_zlib_module,
    new_compressor,
    new_decompressor,
    round_trip_sizes,
    sent_payloads,
)
from wsztune.programs.sink import SinkLost, SocketSink, close_sink, sink_for

# How each zlib module's pages become resident (derived from its source: wsztune.memory).
RESIDENT_MODELS: dict[str, ResidentModel] = {"zlib": zlib_resident, "zlib-ng": zlib_ng_resident}


@dataclass(frozen=True)
class ZlibCodec:
    """A zlib-compatible Python module as the sweep's codec (``zlib`` or ``zlib-ng``)."""

    name: str = "zlib"

    def zlib_module(self) -> ZlibModule:
        """The module itself, or a one-line error saying how to install it."""
        return get_zlib_module(self.name)

    def check(self) -> None:
        """Raise :class:`~wsztune.errors.ToolUnavailable` when the module is missing."""
        self.zlib_module()

    def describe(self) -> CodecInfo:
        """The module's name and runtime version."""
        zlib_module = self.zlib_module()
        return CodecInfo(zlib_module.name, zlib_module.version)

    def measure(
        self,
        streams: Sequence[Stream],
        order: Sequence[Setting],
        plan: TimingPlan,
        jobs: int,
        finished: CellDone,
    ) -> None:
        """Measure every setting in this process, or in ``jobs`` forked workers."""
        try:
            measure_in_processes(self, streams, order, plan, jobs, finished)
        finally:
            close_sink()  # the broadcast timings' sockets and their reader end with the sweep

    def measure_cell(
        self,
        streams: Sequence[Stream],
        setting: Setting,
        plan: TimingPlan,
        summary: CorpusSummary,
    ) -> dict[str, object]:
        """One cell, by :func:`measure_cell` (looked up when called, so tests may patch it)."""
        return measure_cell(streams, setting, self.zlib_module(), plan, summary)


def codec(name: str) -> ZlibCodec:
    """The registry's constructor (:data:`wsztune.codecs.CODECS`)."""
    return ZlibCodec(name)


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
    zlib_module: ZlibModule,
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
    compressor = observe_compressor(setting, setting.server_bits, first, zlib_module)
    source = streams[summary.decompressor_stream]
    first = _observed_messages(source, setting.sender(CLIENT), until_output=True)
    frames = compress_stream(first, setting.sender(CLIENT), setting.client_bits, zlib_module)
    decompressor = observe_decompressor(setting, setting.client_bits, frames, zlib_module)
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
    # A codec object holds what it will hold after the first kilobytes of a message: a big one
    # is observed on its first BIG_MESSAGE bytes, not copied whole (peaks are of those bytes).
    if not setting.context_takeover:
        last = collections.deque(sent_payloads(stream.buffers(), threshold), maxlen=1)
        return [bytes(payload[:BIG_MESSAGE]) for payload in last]
    if not threshold:
        count = 1
        if until_output:
            count = next((n for n, size in enumerate(stream.sizes(), 1) if size), len(stream))
        return [
            bytes(payload[:BIG_MESSAGE]) for payload in itertools.islice(stream.buffers(), count)
        ]
    observed: list[bytes] = []
    for payload in sent_payloads(stream.buffers(), threshold):
        observed.append(bytes(payload[:BIG_MESSAGE]))
        if len(payload) or not until_output:
            break
    return observed


def _what(setting: Setting, stream: Stream) -> str:
    return f"{setting.label} on {stream.connection}/{stream.direction}"


def _time_cell(
    compressed: Sequence[Frames],
    work: Sequence[tuple[Stream, int, Setting]],
    zlib_module: ZlibModule,
    plan: TimingPlan,
    compress_once: float,
    decompress_once: float,
) -> dict[str, object]:
    """Phase 2 of :func:`measure_cell`: the time fields of a cell."""

    # Streams holding a big message take the loops that work on it in pieces; others the tight ones.
    big = [max(stream.sizes(), default=0) > BIG_MESSAGE for stream, _, _ in work]

    def compress_all() -> None:
        for (stream, bits, sender), stream_big in zip(work, big, strict=True):
            compress_pass(stream.buffers(), sender, bits, zlib_module, stream_big)

    def decompress_all() -> None:
        for frames, (_, bits, sender), stream_big in zip(compressed, work, big, strict=True):
            decompress_pass(frames, sender, bits, zlib_module, stream_big)

    for _ in range(plan.warmup - 1):
        compress_all()
        decompress_all()

    mark = plan.min_sample_seconds
    compress_samples, loops_compress = time_samples(
        compress_all, plan.repeat, loops_for(compress_once, mark), mark
    )
    decompress_samples, loops_decompress = time_samples(
        decompress_all, plan.repeat, loops_for(decompress_once, mark), mark
    )
    return timing_fields(
        compress_samples, decompress_samples, plan.repeat, loops_compress, loops_decompress
    )


def time_deliveries(
    streams: Sequence[Stream], setting: Setting, zlib_module: ZlibModule, plan: TimingPlan
) -> dict[str, object]:
    """The per-delivery time fields of a cell for a broadcast to ``plan.fanout`` subscribers:
    the server's messages compressed by that many per-connection compressors in turn (each
    python-websockets connection has its own encoder, and ``broadcast()`` runs each one), as
    :class:`~wsztune.fanout.DeliverySchedule` lays out, each sample calibrated to the plan's
    ``min_sample_seconds``; empty without a fan-out."""
    state = compressor_theory(setting.server_bits, setting.mem_level)
    if not setting.context_takeover:
        state = 0  # python-websockets builds a compressor per message then
    messages = sum(len(stream) for stream in streams if stream.direction == SERVER)
    schedule = delivery_schedule(messages, plan.fanout, plan.repeat, plan.warmup, state,
                                 plan.min_sample_seconds)  # fmt: skip
    if schedule is None:
        return {}  # no per-message list: without a fan-out a big corpus pays nothing here
    server = [payload for stream in streams if stream.direction == SERVER
              for payload in stream.buffers()]  # fmt: skip
    sizes = [len(payload) for payload in server]
    if not plan.measure_time:
        return delivery_fields(schedule, sizes, None, None, None)
    bits = setting.server_bits
    window = 1 << bits if setting.context_takeover else 0
    primed = [server[i % len(server)]
              for i in range(priming_messages(sizes, window))]  # fmt: skip
    compress, compress_length = _broadcast_compress(server, primed, setting, bits, zlib_module,
                                                    schedule)  # fmt: skip
    hot, hot_length = _interleaved_compress(server, primed, setting, bits, zlib_module,
                                            schedule.hot())  # fmt: skip
    inflate, inflate_length = _interleaved_decompress(server, primed, setting, bits, zlib_module,
                                                      schedule)  # fmt: skip
    lengths = {"compress": compress_length, "decompress": inflate_length, "hot": hot_length}
    return delivery_fields(schedule, sizes, compress, inflate, hot, lengths, setting.threshold)


def _deliver(
    compressor: Any,
    setting: Setting,
    bits: int,
    zlib_module: ZlibModule,
    payload: bytes | memoryview,
) -> bytes | None:
    """One message through one subscriber's compressor (a fresh one per message without
    context takeover, as python-websockets builds it); ``None`` under the threshold."""
    if len(payload) < setting.threshold:
        return None
    encoder = compressor if setting.context_takeover else new_compressor(setting, bits, zlib_module)
    return (encoder.compress(payload) + encoder.flush(zlib_module.module.Z_SYNC_FLUSH))[:-4]


def _clocked(work: Callable[[], object]) -> float:
    """CPU seconds ``work()`` took (:data:`CLOCK`)."""
    started = CLOCK()
    work()
    return CLOCK() - started


def _interleaved_compress(
    server: Sequence[memoryview], primed: Sequence[memoryview], setting: Setting, bits: int,
    zlib_module: ZlibModule, schedule: DeliverySchedule,
) -> tuple[list[float], int]:
    """Seconds per timed stretch, every message compressed by each compressor in turn, after
    the ``primed`` messages (untimed) have filled their windows; and the stretches' length."""
    compressors = [
        new_compressor(setting, bits, zlib_module) if setting.context_takeover else None
        for _ in range(schedule.compressors)
    ]
    for compressor in compressors:
        for payload in primed:
            _deliver(compressor, setting, bits, zlib_module, payload)

    def send(indices: Sequence[int]) -> None:
        for index in indices:
            payload = server[index]
            for compressor in compressors:
                _deliver(compressor, setting, bits, zlib_module, payload)

    with collector_off():
        return schedule.timed(len(server), lambda index: _clocked(lambda: send((index,))),
                              lambda indices: _clocked(lambda: send(indices)))  # fmt: skip


def _broadcast_compress(
    server: Sequence[memoryview], primed: Sequence[memoryview], setting: Setting, bits: int,
    zlib_module: ZlibModule, schedule: DeliverySchedule,
) -> tuple[list[float], int]:
    """Seconds per timed stretch of a ``broadcast()``: python-websockets' own per-message path
    when websockets is installed (:func:`_server_path_broadcast`), else the zlib calls alone;
    and the stretches' length."""
    classes = _server_protocol_classes()
    if classes is None:
        return _interleaved_compress(server, primed, setting, bits, zlib_module, schedule)
    return _server_path_broadcast(classes, server, primed, setting, bits, zlib_module, schedule)


def _server_protocol_classes() -> tuple[Any, Any, Any] | None:
    """websockets' ``ServerProtocol``, ``PerMessageDeflate`` and ``State``, or ``None`` when
    websockets is not installed (it is an optional dependency: ``wsztune[live]``)."""
    try:
        from websockets.extensions.permessage_deflate import PerMessageDeflate
        from websockets.protocol import State
        from websockets.server import ServerProtocol
    except ImportError:
        return None
    return ServerProtocol, PerMessageDeflate, State


def _server_senders(
    classes: tuple[Any, Any, Any], count: int, setting: Setting, bits: int,
    zlib_module: ZlibModule, compress: bool,
) -> list[Callable[[bytes | memoryview], object]]:
    """``count`` python-websockets server connections' sending sides, as ``broadcast()`` drives
    each one (``protocol.send_binary(message)``, then ``protocol.data_to_send()``, the bytes its
    connection hands to the transport): websockets' sans-I/O ``ServerProtocol``, open, with its
    ``PerMessageDeflate`` extension at the cell's setting, or none (compression off);
    ``classes``: :func:`_server_protocol_classes`.

    The extension's ``encode`` is the stack's whole per-message compression: compress + flush,
    the tail stripped (a copy under 2 KiB), a new ``Frame``; the protocol then serialises it.
    With zlib-ng, whose compressors websockets does not build, each extension is given the run's
    own compressor (a fresh one per message without context takeover, as ``encode`` does)."""
    ServerProtocol, PerMessageDeflate, State = classes  # noqa: N806 - websockets' class names
    own_zlib = zlib_module.module.__name__ == "zlib"
    settings = {"level": setting.level, "memLevel": setting.mem_level,
                "strategy": STRATEGIES[setting.strategy]}  # fmt: skip
    senders: list[Callable[[bytes | memoryview], object]] = []
    for _ in range(count):
        protocol = ServerProtocol()
        protocol.state = State.OPEN
        if compress:
            fresh = not setting.context_takeover and own_zlib
            extension = PerMessageDeflate(False, fresh, 15, bits, settings)
            if not own_zlib:
                extension.encoder = new_compressor(setting, bits, zlib_module)
            protocol.extensions = [extension]
            if not setting.context_takeover and not own_zlib:
                senders.append(_fresh_encoder_sender(protocol, extension, setting, bits,
                                                     zlib_module))  # fmt: skip
                continue
        senders.append(_sender(protocol))
    return senders


def _sender(protocol: Any) -> Callable[[bytes | memoryview], object]:
    """One connection's send as ``broadcast()`` makes it."""

    def send(payload: bytes | memoryview) -> object:
        protocol.send_binary(payload)
        return protocol.data_to_send()

    return send


def _fresh_encoder_sender(
    protocol: Any, extension: Any, setting: Setting, bits: int, zlib_module: ZlibModule
) -> Callable[[bytes | memoryview], object]:
    """One connection's send without context takeover when the run's zlib is not the one
    websockets builds its per-message compressor with: that compressor, built as ``encode``
    builds it, before each message."""

    def send(payload: bytes | memoryview) -> object:
        extension.encoder = new_compressor(setting, bits, zlib_module)
        protocol.send_binary(payload)
        return protocol.data_to_send()

    return send


def _server_path_broadcast(
    classes: tuple[Any, Any, Any], server: Sequence[memoryview], primed: Sequence[memoryview],
    setting: Setting, bits: int, zlib_module: ZlibModule, schedule: DeliverySchedule,
) -> tuple[list[float], int]:
    """Seconds per timed stretch that compression adds to python-websockets' ``broadcast()``:
    every message sent through each connection's protocol in turn with its extension, its
    bytes written to that subscriber's socket, less the same sends through protocols without
    one (what ``bench/broadcast.py`` sets against the real server's CPU with compression on,
    less off); and the stretches' length. Messages under the threshold cost nothing more
    compressed: they are not sent. The ``primed`` messages (untimed) fill the windows first;
    the calibration times the sends with compression.

    The sockets are loopback TCP connections read by another process
    (:func:`wsztune.programs.sink.sink_for`), as a server's ``transport.write`` hands each
    frame to the kernel while its clients read on another core: measured in one process
    against the real server (docs/broadcast.md), a send per delivery and the reading beside
    it made compression cost 10-13% more than with the bytes going nowhere. On and off take
    turns message by message, so that both see the same moment of a shared machine's load."""
    count = schedule.compressors
    try:
        sink: SocketSink | None = sink_for(count)
    except OSError:  # no loopback sockets here (a sandbox): the bytes go nowhere, as before
        sink = None
    on = _written(_server_senders(classes, count, setting, bits, zlib_module, compress=True),
                  sink)  # fmt: skip
    off = _written(_server_senders(classes, count, setting, bits, zlib_module, compress=False),
                   sink)  # fmt: skip
    for payload in primed:
        if len(payload) >= setting.threshold:
            for send in on:
                send(payload)

    def broadcast(senders: Sequence[Callable[[memoryview], object]], payload: memoryview) -> float:
        started = CLOCK()
        for send in senders:
            send(payload)
        return CLOCK() - started

    def step(index: int) -> float:  # the calibration: the sends with compression, timed
        payload = server[index]
        if len(payload) < setting.threshold:
            return 0.0
        seconds = broadcast(on, payload)
        broadcast(off, payload)  # untimed, so that the timed ones find these warm too
        return seconds

    def run(indices: Sequence[int]) -> float:
        seconds = 0.0
        for turn, index in enumerate(indices):
            payload = server[index]
            if len(payload) < setting.threshold:
                continue
            if turn % 2:
                seconds -= broadcast(off, payload)
                seconds += broadcast(on, payload)
            else:
                seconds += broadcast(on, payload)
                seconds -= broadcast(off, payload)
        return max(0.0, seconds)

    with collector_off():
        return schedule.timed(len(server), step, run)


def _written(
    senders: list[Callable[[bytes | memoryview], object]], sink: SocketSink | None
) -> list[Callable[[bytes | memoryview], object]]:
    """Each subscriber's send followed by the write of its bytes to its own socket, as
    ``broadcast()`` follows ``send_binary`` with ``send_data`` (``transport.write``); the
    sends alone without a sink."""
    if sink is None:
        return senders

    def writer(send: Callable[[bytes | memoryview], object], sock: socket.socket
               ) -> Callable[[bytes | memoryview], object]:  # fmt: skip
        def deliver(payload: bytes | memoryview) -> object:
            for data in send(payload):  # type: ignore[attr-defined]
                try:
                    sock.sendall(data)
                except OSError as error:  # not BrokenPipeError: that reads as a closed output
                    raise SinkLost(error) from None
            return None

        return deliver

    return [writer(send, sink.socket_for(number)) for number, send in enumerate(senders)]


def _interleaved_decompress(
    server: Sequence[memoryview], primed: Sequence[memoryview], setting: Setting, bits: int,
    zlib_module: ZlibModule, schedule: DeliverySchedule,
) -> tuple[list[float], int]:
    """Seconds per timed stretch, every frame inflated by each subscriber's decompressor in
    turn (a fresh one per message without context takeover, as python-websockets builds it),
    and the stretches' length. The frames are one subscriber's compressor's (every
    subscriber's are the same: the same messages in the same order), made untimed just before
    their stretch, so that they follow the messages the decompressors inflate; the primed
    messages' first, inflated untimed."""
    takeover = setting.context_takeover
    compressor = new_compressor(setting, bits, zlib_module)
    decompressors = [new_decompressor(bits, zlib_module) for _ in range(schedule.compressors)]
    tail = b"\x00\x00\xff\xff"

    def frames(payloads: Sequence[memoryview]) -> list[bytes]:
        made = (_deliver(compressor, setting, bits, zlib_module, payload) for payload in payloads)
        return [frame + tail for frame in made if frame is not None]

    def inflate(data: Sequence[bytes]) -> None:
        for frame in data:
            for decompressor in decompressors:
                if not takeover:
                    decompressor = new_decompressor(bits, zlib_module)
                decompressor.decompress(frame)

    inflate(frames(primed))
    with collector_off():
        return schedule.timed(
            len(server),
            lambda index: _clocked(partial(inflate, frames((server[index],)))),
            lambda indices: _clocked(partial(inflate, frames([server[i] for i in indices]))),
        )


def measure_cell(
    streams: Sequence[Stream],
    setting: Setting,
    zlib_module: ZlibModule,
    plan: TimingPlan,
    summary: CorpusSummary | None = None,
) -> dict[str, object]:
    """Measure one setting on the whole corpus: sizes (exact), times, memory. Plain dict out.

    ``summary`` is :meth:`CorpusSummary.of` ``streams``, given when many cells share it.
    """
    summary = summary or CorpusSummary.of(streams)
    # Each stream with its sender's window and setting (a named client's memLevel and level
    # for client streams: Setting.sender).
    work = [
        (stream, setting.bits_for(stream.direction), setting.sender(stream.direction))
        for stream in streams
    ]

    sizes: list[Iterable[int]]
    if plan.measure_time:
        # 1. Warm-up; the first pass yields the sizes and is checked message by message.
        # Payloads are views of the corpus buffer and the frames are packed: no object per
        # message outlives its call.
        started = CLOCK()
        compressed = [
            compress_frames(stream.buffers(), sender, bits, zlib_module)
            for stream, bits, sender in work
        ]
        compress_once = CLOCK() - started
        started = CLOCK()
        for frames, (stream, bits, sender) in zip(compressed, work, strict=True):
            what = _what(setting, stream)
            check_stream(frames, stream.buffers(), sender, bits, zlib_module, what)
        decompress_once = CLOCK() - started
        # 2. Timing.
        timing = _time_cell(
            compressed, work, zlib_module, plan, compress_once, decompress_once
        )
        sent = [array("q", frames.sizes()) for frames in compressed]
        del compressed
    else:
        # Sizes only: each message compressed and inflated back at once, no frame kept.
        sent = [
            round_trip_sizes(stream.buffers(), sender, bits, zlib_module, _what(setting, stream))
            for stream, bits, sender in work
        ]
        timing = untimed_fields()

    # Every message's frame size: a message under its sender's threshold is its own frame.
    sizes = [
        sent_sizes
        if not sender.threshold
        else array("q", frame_sizes(stream.sizes(), sent_sizes, sender.threshold))
        for (stream, _, sender), sent_sizes in zip(work, sent, strict=True)
    ]

    # 3. Memory, never while timing.
    memory = observe_connection(streams, setting, zlib_module, summary)
    traffic = connection_traffic(
        streams, sizes, setting.threshold, setting.context_takeover,
        client_threshold=setting.sender(CLIENT).threshold,
    )  # fmt: skip
    model = RESIDENT_MODELS[zlib_module.name]
    resident = mean_resident(model, setting, traffic, plan.read_buffer)

    cell = cell_fields(
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
            resident=resident,
        ),
        compressed_messages=sum(map(len, sent)),
    )
    # A broadcast's CPU per delivery, after the rest: memory is never observed while timing.
    cell.update(time_deliveries(streams, setting, zlib_module, plan))
    return cell
