"""Memory of compressors and decompressors: zlib's formula, and what tracemalloc observes.

CPython's zlib module allocates zlib's state through ``PyMem_RawMalloc``, so tracemalloc sees every
byte zlib asks for. What it observes differs from the formula in zconf.h by zlib's own structs
(``deflate_state``, ``inflate_state``) and the Python object around them, and the inflate window
only exists once something has been inflated. A backend such as zlib-ng allocates differently and
the formula does not describe it at all.
"""

from __future__ import annotations

import gc
import tracemalloc
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from wsztune.codec import (
    EMPTY_BLOCK_TAIL,
    Backend,
    Raw,
    Setting,
    new_compressor,
    new_decompressor,
)


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
    setting: Setting, bits: int, payloads: Sequence[bytes], backend: Backend
) -> Observation:
    """Memory held by a compressor after compressing ``payloads`` as permessage-deflate does.

    The compressor exists even for no payloads, as websockets builds it at the handshake (and
    zlib allocates all of a compressor's memory when it is built). Without context takeover a
    compressor lives for one message: the last one is observed.
    """
    sync_flush = backend.module.Z_SYNC_FLUSH
    takeover = setting.context_takeover
    # Messages under the threshold never reach the compressor.
    payloads = [payload for payload in payloads if len(payload) >= setting.threshold]

    def work() -> object:  # allocates nothing but the codec's objects: the peak is theirs
        encoder = new_compressor(setting, bits, backend)
        used = False
        for payload in payloads:
            if used and not takeover:
                encoder = new_compressor(setting, bits, backend)
            used = True
            encoder.compress(payload)
            encoder.flush(sync_flush)
        return encoder

    return observe(work)


def observe_decompressor(
    setting: Setting, bits: int, frames: Sequence[bytes], backend: Backend
) -> Observation:
    """Memory held by a decompressor after inflating ``frames``.

    zlib allocates the window on the first inflate that produces output: after no frames, or
    only empty messages, the decompressor holds no window (see :mod:`wsztune.live.python`).
    """
    takeover = setting.context_takeover
    frames = [frame for frame in frames if type(frame) is not Raw]  # sent uncompressed

    def work() -> object:
        decoder = new_decompressor(bits, backend)
        used = False
        for frame in frames:
            if used and not takeover:
                decoder = new_decompressor(bits, backend)
            used = True
            decoder.decompress(frame + EMPTY_BLOCK_TAIL)
        return decoder

    return observe(work)


def rss_bytes() -> int:
    """Resident set size of this process (psutil), as ``wsztune live`` reads it per connection."""
    import psutil

    return int(psutil.Process().memory_info().rss)
