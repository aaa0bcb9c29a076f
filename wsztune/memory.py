"""Memory of compressors and decompressors: zlib's formula, and what tracemalloc observes.

CPython's zlib module allocates zlib's state through ``PyMem_RawMalloc``, so tracemalloc sees every
byte zlib asks for. What it observes differs from the formula in zconf.h by zlib's own structs
(``deflate_state``, ``inflate_state``) and the Python object around them, and the inflate window
only exists once something has been inflated. A zlib such as zlib-ng allocates differently and
the formula does not describe it at all.
"""

from __future__ import annotations

import functools
import gc
import tracemalloc
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wsztune.permessage_deflate import (
    EMPTY_BLOCK_TAIL,
    Raw,
    Setting,
    ZlibModule,
    new_compressor,
    new_decompressor,
)

if TYPE_CHECKING:
    from wsztune.corpus import Stream


def compressor_theory(window_bits: int, mem_level: int) -> int:
    """zlib's documented deflate memory: ``(1 << (windowBits + 2)) + (1 << (memLevel + 9))``."""
    return (1 << (window_bits + 2)) + (1 << (mem_level + 9))


def decompressor_theory(window_bits: int) -> int:
    """zlib's documented inflate memory: ``1 << windowBits`` (the sliding window)."""
    return 1 << window_bits


@dataclass(frozen=True)
class Observation:
    """Bytes held by one live object after its work, and the peak while it worked."""

    held: int
    peak: int


def observe(build_and_use: Callable[[], object]) -> Observation:
    """Trace the memory that ``build_and_use()`` leaves held by the object it returns.

    The returned object is kept alive while the traced memory is read, so what it holds counts;
    everything else the call allocated and freed only shows in the peak.
    """
    started_here = not tracemalloc.is_tracing()
    if started_here:
        tracemalloc.start()
    # The collector is kept from running while observing, rather than run first: a collection
    # inside the window would free unrelated memory and lower the figure, and reference counting
    # frees everything else at once. A full gc.collect() per observation cost 10-20 ms, two per
    # cell, more than the codec work of a small corpus; it also emptied Python's free lists, so
    # that the observation's own small objects (112 B in all: the ints and tuples of the first
    # reading, some then kept in a free list) were counted as the codec's. Here the observation
    # runs twice and the second run counts, the first having left in the free lists whatever the
    # observation takes from them, and the first reading is stored in an array, so no object made
    # after it survives: the figure is the codec's alone (zlib 1.2.13: a compressor holds exactly
    # the formula + 6,152 B), whatever state the free lists were in.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    mark = array("q", [0])
    try:
        for _ in range(2):
            mark[0] = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            keep = build_and_use()
            current, peak = tracemalloc.get_traced_memory()
            del keep
        before = mark[0]
        return Observation(held=current - before, peak=peak - before)
    finally:
        if gc_was_enabled:
            gc.enable()
        if started_here:
            tracemalloc.stop()


def observe_compressor(
    setting: Setting, bits: int, payloads: Sequence[bytes], zlib_module: ZlibModule
) -> Observation:
    """Memory held by a compressor after compressing ``payloads`` as permessage-deflate does.

    The compressor exists even for no payloads, as websockets builds it at the handshake (and
    zlib allocates all of a compressor's memory when it is built). Without context takeover a
    compressor lives for one message: the last one is observed.
    """
    sync_flush = zlib_module.module.Z_SYNC_FLUSH
    takeover = setting.context_takeover
    # Messages under the threshold never reach the compressor.
    payloads = [payload for payload in payloads if len(payload) >= setting.threshold]

    def work() -> object:  # allocates nothing but the codec's objects: the peak is theirs
        encoder = new_compressor(setting, bits, zlib_module)
        used = False
        for payload in payloads:
            if used and not takeover:
                encoder = new_compressor(setting, bits, zlib_module)
            used = True
            encoder.compress(payload)
            encoder.flush(sync_flush)
        return encoder

    return observe(work)


def observe_decompressor(
    setting: Setting, bits: int, frames: Sequence[bytes], zlib_module: ZlibModule
) -> Observation:
    """Memory held by a decompressor after inflating ``frames``.

    zlib allocates the window on the first inflate that produces output: after no frames, or
    only empty messages, the decompressor holds no window (see :mod:`wsztune.live.python`).
    """
    takeover = setting.context_takeover
    frames = [frame for frame in frames if type(frame) is not Raw]  # sent uncompressed

    def work() -> object:
        decoder = new_decompressor(bits, zlib_module)
        used = False
        for frame in frames:
            if used and not takeover:
                decoder = new_decompressor(bits, zlib_module)
            used = True
            decoder.decompress(frame + EMPTY_BLOCK_TAIL)
        return decoder

    return observe(work)


def rss_bytes() -> int:
    """Resident set size of this process (psutil), as ``wsztune live`` reads it per connection."""
    import psutil

    return int(psutil.Process().memory_info().rss)


# Resident memory: the pages the OS charges ------------------------------------------------------
#
# zlib asks malloc for its buffers up front, but a page of them costs RSS only once something
# writes it. Which bytes are written follows from the library's source and from the traffic a
# connection carried; which pages hold them follows from how glibc's malloc lays chunks out.
# Every fact below names its source; nothing is fitted to a corpus.

PAGE = 4096  # x86-64 and arm64 Linux base pages
# glibc malloc (malloc/malloc.c): a chunk is the request plus SIZE_SZ (8) rounded up to 16, at
# least 32; its size field sits 8 bytes before the user pointer; requests whose chunk reaches
# DEFAULT_MMAP_THRESHOLD_MIN (128 KiB) get a mapping of their own (page aligned, header first).
MALLOC_ALIGN = 16
MALLOC_HEADER = 16
MALLOC_MIN_CHUNK = 32
MMAP_THRESHOLD = 128 * 1024
# zlib 1.2.13 on x86-64: sizeof(deflate_state) and sizeof(struct inflate_state) (deflate.h,
# inflate.h, compiled); CPython's compobject around a z_stream (Modules/zlibmodule.c) is the
# 200 B tracemalloc sees on top of them.
ZLIB_DEFLATE_STATE = 5952
ZLIB_INFLATE_STATE = 7160
PYTHON_ZLIB_OBJECT = 200
# deflate.h: MAX_MATCH (258) is WIN_INIT, the bytes past the data fill_window() zeroes;
# MIN_LOOKAHEAD = MAX_MATCH + MIN_MATCH + 1.
WIN_INIT = 258
MIN_LOOKAHEAD = 262
# zlib-ng 2.x (zlib_ng binding 0.5, zlib-ng 2.2+): the hash table has a fixed 2^16 entries of 2
# bytes whatever memLevel (deflate.h HASH_SIZE), and deflate allocates window, prev, head, the
# pending buffer and its state in one piece (alloc_deflate in deflate.c); inflate allocates its
# state and a 32 KiB window together at inflateInit2 (alloc_inflate in inflate.c).
ZLIB_NG_HASH_BYTES = 2 * 65536
ZLIB_NG_LIT_BUFS = 5  # LIT_MEM: pending_buf is lit_bufsize * 5


@dataclass(frozen=True)
class Touched:
    """One allocation and the byte ranges of it that have been written."""

    size: int
    ranges: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Traffic:
    """What one connection's server codec objects have processed, in bytes."""

    sent: int  # bytes the compressor alive now has read (takeover: the stream; else a message)
    largest_sent: int  # the largest message compressed
    largest_frame: int  # the largest compressed frame written
    received: int  # bytes the decompressor alive now has written (inflated)
    compressed_messages_sent: int
    compressed_messages_received: int  # 0: zlib never built the inflate window


@dataclass(frozen=True)
class Resident:
    """Resident bytes per connection: compressor, decompressor, both."""

    compressor: float
    decompressor: float

    @property
    def connection(self) -> float:
        """Compressor plus decompressor."""
        return self.compressor + self.decompressor


def _chunk(size: int) -> int:
    return max(MALLOC_MIN_CHUNK, (size + 8 + MALLOC_ALIGN - 1) // MALLOC_ALIGN * MALLOC_ALIGN)


def _pages(intervals: list[tuple[int, int]]) -> int:
    """Distinct pages under byte ``intervals`` (start, end), end exclusive."""
    spans = sorted((start // PAGE, (end - 1) // PAGE) for start, end in intervals if end > start)
    count, last = 0, -1
    for first, final in spans:
        if final <= last:
            continue
        count += final - max(first, last + 1) + 1
        last = final
    return count


def resident_pages(
    allocations: Sequence[Touched], neighbours: int = 16, written_before: int = 0
) -> float:
    """Resident bytes per connection of ``allocations`` made in this order by each of
    ``neighbours`` connections, one after the other, as glibc lays chunks out from the top of
    its heap (an mmap'd chunk alone in its mapping). Pages shared by neighbouring connections
    count once, as the OS counts them.

    ``written_before``: the heap chunk of a buffer the server wrote whole and freed just
    before each connection's allocations (a read buffer); freed at the top, it merges back
    into the top chunk, so the allocations that follow are carved from its written pages."""
    return _resident_pages(tuple(allocations), neighbours, written_before)


# Connections of one cell often share a traffic shape (a corpus's connections replay the same
# script; every one that has slid its window touches the same): their layout is counted once.
@functools.lru_cache(maxsize=4096)
def _resident_pages(
    allocations: tuple[Touched, ...], neighbours: int, written_before: int
) -> float:
    # One connection's written byte ranges, relative to where its allocations start; every
    # neighbour repeats them one stride (its heap chunks) further on.
    relative: list[tuple[int, int]] = []
    if written_before:
        relative.append((0, _chunk(written_before)))
    mapped = 0
    stride = 0
    for allocation in allocations:
        chunk = _chunk(allocation.size)
        if chunk >= MMAP_THRESHOLD:
            touched = [(0, MALLOC_HEADER)]
            touched += [(MALLOC_HEADER + a, MALLOC_HEADER + b) for a, b in allocation.ranges]
            mapped += _pages(touched)
            continue
        relative.append((stride + 8, stride + MALLOC_HEADER))  # the size field malloc writes
        user = stride + MALLOC_HEADER
        relative += [(user + start, user + end) for start, end in allocation.ranges]
        stride += chunk
    # In address order (each range starts inside its own chunk, the chunks follow one another,
    # the freed buffer starts where the connection does), so the union of their pages is counted
    # in one pass, without sorting: a range adds the pages past the last one counted.
    relative = [(start, end - 1) for start, end in relative if end > start]
    count, last = 0, -1
    for base in range(0, stride * neighbours, stride) if stride else (0,):  # all at one place
        for start, final_byte in relative:
            final = (base + final_byte) // PAGE
            if final > last:
                first = (base + start) // PAGE
                count += final - (first if first > last else last + 1) + 1
                last = final
    return (count + mapped * neighbours) * PAGE / neighbours


def zlib_deflate_touched(window_bits: int, mem_level: int, traffic: Traffic) -> list[Touched]:
    """zlib 1.2.13's deflate buffers (deflateInit2_, deflate.c) and what the traffic wrote:

    - the state struct, written whole (deflateReset, _tr_init);
    - ``head`` (2 << (memLevel + 7) bytes), zeroed by CLEAR_HASH in lm_init: all of it;
    - ``window`` (2 x 2^wbits): fill_window() reads input at strstart + lookahead and zeroes
      WIN_INIT bytes past it, so the bytes read so far plus 258; once strstart reaches
      2 wsize - MIN_LOOKAHEAD the window slides and all of it has been written;
    - ``prev`` (2 x 2^wbits): entry ``str & w_mask`` per position inserted, so 2 bytes per byte
      read up to the window, all of it after a slide (slide_hash);
    - ``pending_buf`` (4 x lit_bufsize, lit_bufsize = 1 << (memLevel + 6)): the compressed
      block at its start (flush_pending copies it out on every call) and three bytes per symbol
      from ``sym_buf`` = pending_buf + lit_bufsize on, at most lit_bufsize - 1 symbols per
      block; a message of n bytes makes at most n symbols.
    """
    wsize = 1 << window_bits
    lit_bufsize = 1 << (mem_level + 6)
    hash_bytes = 2 << (mem_level + 7)
    sent = traffic.sent
    slid = sent >= 2 * wsize - MIN_LOOKAHEAD
    window = 2 * wsize if slid else min(2 * wsize, sent + WIN_INIT) if sent else 0
    prev = 2 * wsize if slid else 2 * min(wsize, sent)
    symbols = min(traffic.largest_sent, lit_bufsize - 1)
    block = 0
    if traffic.compressed_messages_sent:
        block = min(traffic.largest_frame + 8, 4 * lit_bufsize)
    return [
        Touched(ZLIB_DEFLATE_STATE, ((0, ZLIB_DEFLATE_STATE),)),
        Touched(2 * wsize, ((0, window),)),
        Touched(2 * wsize, ((0, prev),)),
        Touched(hash_bytes, ((0, hash_bytes),)),
        Touched(4 * lit_bufsize, ((0, block), (lit_bufsize, lit_bufsize + 3 * symbols))),
    ]


def zlib_inflate_touched(window_bits: int, traffic: Traffic) -> tuple[Touched, Touched | None]:
    """zlib 1.2.13's inflate state (inflateInit2_, written whole as tables are built) and its
    window: allocated by updatewindow() (inflate.c) on the first inflate that produces output,
    then written from its start as output is copied in, all of it after 2^wbits bytes."""
    state = Touched(ZLIB_INFLATE_STATE, ((0, ZLIB_INFLATE_STATE),))
    if not traffic.compressed_messages_received or not traffic.received:
        return state, None
    wsize = 1 << window_bits
    return state, Touched(wsize, ((0, min(wsize, traffic.received)),))


def zlib_resident(
    window_bits: int, client_bits: int, mem_level: int, traffic: Traffic, read_buffer: int = 0
) -> Resident:
    """Resident bytes of CPython's zlib objects for a connection that carried ``traffic``.

    The compressor's buffers are allocated together at the handshake, one connection after
    another; the inflate window later, on the first compressed message received, so windows of
    neighbouring connections sit together. Python's compobject (200 B) counts as bytes.

    ``read_buffer``: bytes of a buffer the server stack writes whole and frees on every socket
    read (the stack profile's ``read_buffer``: Tornado's IOStream read chunk; 0 for a stack
    that reads into fresh bytes).
    Both the compressor (built right after the handshake's read) and the inflate window (built
    inflating a message just read) are then carved from that buffer's written pages."""
    compressor = 0.0
    if traffic.compressed_messages_sent or traffic.sent == 0:
        touched = zlib_deflate_touched(window_bits, mem_level, traffic)
        compressor = resident_pages(touched, written_before=read_buffer) + PYTHON_ZLIB_OBJECT
    state, window = zlib_inflate_touched(client_bits, traffic)
    decompressor = resident_pages([state]) + PYTHON_ZLIB_OBJECT
    if window is not None:
        decompressor += resident_pages([window], written_before=read_buffer)
    return Resident(compressor, decompressor)


def zlib_ng_resident(
    window_bits: int, client_bits: int, mem_level: int, traffic: Traffic, read_buffer: int = 0
) -> Resident:
    """Resident bytes of zlib-ng's objects: one mapping per compressor (its single allocation
    is over 128 KiB: window, prev, head, pending, state in that order), the 128 KiB hash table
    zeroed at init; the inflate state and its 32 KiB window allocated together up front, on
    the heap: built after the handshake's read, carved from a freed ``read_buffer``'s written
    pages (:func:`zlib_resident`); the compressor's fresh mapping is not."""
    wsize = 1 << window_bits
    lit_bufsize = 1 << (mem_level + 6)
    deflate = zlib_deflate_touched(window_bits, mem_level, traffic)
    window, prev = deflate[1].ranges[0][1], deflate[2].ranges[0][1]
    block, symbols = deflate[4].ranges
    start = 0
    ranges: list[tuple[int, int]] = [(0, window)]
    start += 2 * wsize
    ranges.append((start, start + prev))
    start += 2 * wsize
    ranges.append((start, start + ZLIB_NG_HASH_BYTES))
    start += ZLIB_NG_HASH_BYTES
    ranges += [(start + a, start + b) for a, b in (block, symbols)]
    start += ZLIB_NG_LIT_BUFS * lit_bufsize
    ranges.append((start, start + ZLIB_DEFLATE_STATE))
    size = start + ZLIB_DEFLATE_STATE
    compressor = resident_pages([Touched(size, tuple(ranges))]) + PYTHON_ZLIB_OBJECT
    received = min(1 << 15, traffic.received) if traffic.compressed_messages_received else 0
    inflate = Touched(
        (1 << 15) + ZLIB_INFLATE_STATE,
        ((0, received), (1 << 15, (1 << 15) + ZLIB_INFLATE_STATE)),
    )
    del client_bits  # zlib-ng's inflate window is 32 KiB whatever the negotiated bits
    decompressor = resident_pages([inflate], written_before=read_buffer) + PYTHON_ZLIB_OBJECT
    return Resident(compressor, decompressor)


# Sizes are kept as packed arrays: a corpus of millions of messages must not cost a Python int
# per message here (tests/test_scale.py bounds what measuring a cell adds).
Sizes = array


def _split(sizes: Sizes, frames: Sizes, per: int | None) -> list[tuple[Sizes, Sizes]]:
    if not per:
        return [(sizes, frames)]
    return [(sizes[i : i + per], frames[i : i + per]) for i in range(0, len(sizes), per)] or [
        (array("q"), array("q"))
    ]


def connection_traffic(
    streams: Sequence[Stream],
    frame_sizes: Sequence[Sequence[int]],
    threshold: int,
    takeover: bool,
    messages_per_connection: int | None = None,
    client_threshold: int | None = None,
) -> list[Traffic]:
    """What each of the corpus's connections made its server's codec objects process.

    ``frame_sizes``: per stream, each message's frame payload size (a cell's sizes). The
    corpus's connections are its records', HAR's or directory's; a stream with no connection
    of its own (JSONL, lines) is one, unless ``messages_per_connection`` cuts its streams into
    connections of that many messages. A message shorter than ``threshold`` never reaches a
    codec object (``client_threshold``, when given, for what the client sends: a named client's
    own). Without context takeover the objects alive are the last message's.
    """
    from wsztune.corpus import SERVER

    by_connection: dict[tuple[str, int], dict[str, tuple[list[int], list[int]]]] = {}
    for stream, frames in zip(streams, frame_sizes, strict=True):
        pieces = _split(array("q", stream.sizes()), array("q", frames), messages_per_connection)
        for index, piece in enumerate(pieces):
            by_connection.setdefault((stream.connection, index), {})[stream.direction] = piece
    traffic = []
    for directions in by_connection.values():
        nothing = (array("q"), array("q"))
        sent_sizes, sent_frames = _compressed(directions.get(SERVER, nothing), threshold)
        received_sizes, _ = _compressed(
            next((piece for side, piece in directions.items() if side != SERVER), nothing),
            threshold if client_threshold is None else client_threshold,
        )
        if not takeover:
            sent_sizes, received_sizes = sent_sizes[-1:], received_sizes[-1:]
        traffic.append(
            Traffic(
                sent=sum(sent_sizes),
                largest_sent=max(sent_sizes, default=0),
                largest_frame=max(sent_frames, default=0),
                received=sum(received_sizes),
                compressed_messages_sent=len(sent_sizes),
                compressed_messages_received=len(received_sizes),
            )
        )
    return traffic


def _compressed(piece: tuple[Sizes, Sizes], threshold: int) -> tuple[Sizes, Sizes]:
    sizes, frames = piece
    if not threshold:
        return sizes, frames
    kept_sizes = array("q", (size for size in sizes if size >= threshold))
    pairs = zip(sizes, frames, strict=True)
    kept_frames = array("q", (frame for size, frame in pairs if size >= threshold))
    return kept_sizes, kept_frames


ResidentModel = Callable[[int, int, int, Traffic, int], Resident]


def mean_resident(
    model: ResidentModel, setting: Setting, traffic: Sequence[Traffic], read_buffer: int = 0
) -> Resident:
    """The mean over the corpus's connections of ``model``'s resident bytes, with the server
    stack's ``read_buffer`` (:func:`zlib_resident`)."""
    bits = setting.server_bits, setting.client_bits, setting.mem_level
    figures = [model(*bits, one, read_buffer) for one in traffic] or [Resident(0.0, 0.0)]
    return Resident(
        sum(figure.compressor for figure in figures) / len(figures),
        sum(figure.decompressor for figure in figures) / len(figures),
    )
