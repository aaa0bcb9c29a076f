"""Memory observed on the first messages only equals the whole-stream observation, every cell.

The sweep observes a compressor on one message and a decompressor up to its first output
(:func:`wsztune.codecs.zlib.observe_connection`), because zlib allocates all of a compressor's
memory when it is built and a decompressor's window on its first output. These tests prove that the
held bytes are exactly what the old whole-stream observation gave: every windowBits 9-15 x
memLevel 1-9, context takeover on and off, compressor and decompressor, with zlib and zlib-ng.
"""

from __future__ import annotations

import pytest

from tests.support.samples import chat_messages, document_messages
from wsztune import memory, sweep
from wsztune.codecs import zlib as zlib_codec
from wsztune.corpus import CLIENT, SERVER, Stream
from wsztune.memory import (
    Traffic,
    compressor_theory,
    decompressor_theory,
    observe_compressor,
    observe_decompressor,
)
from wsztune.permessage_deflate import Setting, compress_stream, get_zlib_module
from wsztune.stacks import STACKS

ZLIB_CODECS = ["zlib", "zlib-ng"]
# Empty messages first: a decompressor allocates its window only on its first output, so the
# observation must go past them; the last message is empty too (without context takeover, the
# observed codec objects are the last message's).
SERVER_PAYLOADS = [b"", *chat_messages(8, seed=3), *document_messages(2, seed=4), b""]
CLIENT_PAYLOADS = [b"", b"", *chat_messages(4, seed=5), b"{}"]


def whole_stream(setting: Setting, codec_name: str) -> tuple[int, int]:
    """(compressor, decompressor) held bytes observed over the whole streams, as before."""
    zlib_module = get_zlib_module(codec_name)
    compressor = observe_compressor(setting, setting.server_bits, SERVER_PAYLOADS, zlib_module)
    frames = compress_stream(CLIENT_PAYLOADS, setting, setting.client_bits, zlib_module)
    decompressor = observe_decompressor(setting, setting.client_bits, frames, zlib_module)
    return compressor.held, decompressor.held


@pytest.mark.parametrize("takeover", [True, False], ids=["takeover", "no-takeover"])
@pytest.mark.parametrize("codec_name", ZLIB_CODECS)
def test_first_messages_hold_what_the_whole_stream_holds(codec_name: str, takeover: bool) -> None:
    if codec_name == "zlib-ng":
        pytest.importorskip("zlib_ng.zlib_ng")
    zlib_module = get_zlib_module(codec_name)
    streams = [
        Stream("c1", SERVER, SERVER_PAYLOADS),
        Stream("c1", CLIENT, CLIENT_PAYLOADS),
    ]
    summary = sweep.CorpusSummary.of(streams)
    whole_stream(Setting(9, 1), codec_name)  # first allocations pay one-offs
    mismatches = []
    for wb in range(9, 16):
        for ml in range(1, 10):
            setting = Setting(wb, ml, context_takeover=takeover)
            first = zlib_codec.observe_connection(streams, setting, zlib_module, summary)
            whole = whole_stream(setting, codec_name)
            if (first.compressor.held, first.decompressor.held) != whole:
                mismatches.append(
                    (setting.label, first.compressor.held, first.decompressor.held, whole)
                )
    assert mismatches == []


def test_the_window_is_observed_past_empty_messages() -> None:
    """Without going past the leading empty messages, the window would be missed."""
    zlib_module = get_zlib_module("zlib")
    streams = [Stream("c1", SERVER, SERVER_PAYLOADS), Stream("c1", CLIENT, CLIENT_PAYLOADS)]
    memory = zlib_codec.observe_connection(streams, Setting(12, 5), zlib_module)
    assert memory.decompressor.held > decompressor_theory(12)
    assert memory.compressor.held > compressor_theory(12, 5)


# The resident model (wsztune.memory: what the OS charges) ---------------------------------------


def _traffic(sent: int, received: int, largest: int = 1000) -> Traffic:
    return Traffic(
        sent=sent,
        largest_sent=min(largest, sent),
        largest_frame=min(largest, sent) // 3,
        received=received,
        compressed_messages_sent=1 if sent else 0,
        compressed_messages_received=1 if received else 0,
    )


def _pages_by_layout(
    allocations: list[memory.Touched], neighbours: int, written_before: int
) -> float:
    """The layout spelled out, as the model first counted it: every neighbour's chunks one
    after the other, every written byte range as a set of pages (the reference for the fast
    count)."""
    from wsztune.memory import MALLOC_HEADER, MMAP_THRESHOLD, PAGE, _chunk

    pages: set[int] = set()
    mapped = 0
    address = 0
    for _ in range(neighbours):
        if written_before:
            pages |= set(range(address // PAGE, (address + _chunk(written_before) - 1) // PAGE + 1))
        for allocation in allocations:
            chunk = _chunk(allocation.size)
            ranges = [(-MALLOC_HEADER + 8, 0), *allocation.ranges]
            if chunk >= MMAP_THRESHOLD:
                mapped += len({
                    page
                    for start, end in ranges
                    if end > start
                    for page in range((start + MALLOC_HEADER) // PAGE,
                                      (end + MALLOC_HEADER - 1) // PAGE + 1)
                } | {0})
                continue
            user = address + MALLOC_HEADER
            for start, end in ranges:
                if end > start:
                    pages |= set(range((user + start) // PAGE, (user + end - 1) // PAGE + 1))
            address += chunk
    return (len(pages) + mapped) * PAGE / neighbours


def test_the_page_count_is_the_layouts_cached_or_not() -> None:
    """The resident model counts pages in one pass and caches per distinct layout (a sweep's
    connections repeat traffic shapes): every figure equals the layout spelled out page by
    page, for zlib and zlib-ng, with and without a read buffer, first call and cached call."""
    import random

    from wsztune.memory import zlib_deflate_touched, zlib_inflate_touched

    rng = random.Random(24)
    memory._resident_pages.cache_clear()
    for _ in range(300):
        bits, mem_level = rng.randint(9, 15), rng.randint(1, 9)
        sent = rng.choice([0, rng.randint(1, 400), rng.randint(1, 6000), rng.randint(1, 90000)])
        traffic = _traffic(sent, rng.choice([0, rng.randint(1, 70000)]), rng.randint(1, 3000))
        read_buffer = rng.choice([0, 65537, rng.randint(1, 100000)])
        state, window = zlib_inflate_touched(bits, traffic)
        for allocations in (
            zlib_deflate_touched(bits, mem_level, traffic), [state], [window] if window else []
        ):
            expected = _pages_by_layout(allocations, 16, read_buffer)
            assert memory.resident_pages(allocations, 16, read_buffer) == expected
            assert memory.resident_pages(allocations, 16, read_buffer) == expected  # cached
        # zlib-ng's compressor: one mapping.
        mapped = [memory.Touched(1 << 18, ((0, sent), (1 << 17, (1 << 17) + 5952)))]
        assert memory.resident_pages(mapped, 16, read_buffer) == _pages_by_layout(
            mapped, 16, read_buffer
        )
    assert memory._resident_pages.cache_info().hits >= 300


def test_no_compressed_message_received_means_no_inflate_window() -> None:
    from wsztune.memory import ZLIB_INFLATE_STATE, zlib_resident

    push_only = zlib_resident(15, 15, 8, _traffic(50_000, 0))
    chatty = zlib_resident(15, 15, 8, _traffic(50_000, 50_000))
    assert push_only.decompressor < ZLIB_INFLATE_STATE + 2 * 4096
    assert chatty.decompressor - push_only.decompressor >= 32 * 1024 - 4096


def test_resident_grows_with_traffic_up_to_the_allocation() -> None:
    """Light traffic touches a few pages of the window and prev; enough to slide the window
    touches them all, and the resident figure then sits within the allocation plus one page per
    buffer (page rounding, malloc headers) and below it by the unwritten pending buffer."""
    from wsztune.memory import zlib_resident

    light = zlib_resident(15, 15, 8, _traffic(6_000, 6_000)).compressor
    heavy = zlib_resident(15, 15, 8, _traffic(300_000, 300_000)).compressor
    allocation = compressor_theory(15, 8)
    assert light < allocation / 2
    assert allocation - (1 << 16) < heavy <= allocation + 5 * 4096
    assert zlib_resident(15, 15, 8, _traffic(30_000, 0)).compressor < heavy


def test_head_is_resident_before_any_message() -> None:
    """zlib clears the hash table at init (CLEAR_HASH in lm_init): a connection that has sent
    nothing already pays for it, with the state struct and a page per other buffer's malloc
    header."""
    from wsztune.memory import zlib_resident

    idle = zlib_resident(15, 15, 8, _traffic(0, 0)).compressor
    assert 2 << (8 + 7) <= idle < (2 << (8 + 7)) + 6 * 4096


def test_cells_carry_resident_figures_for_the_corpus_connections(tmp_path) -> None:
    """A cell's resident figures come from its corpus's connections: a server-push corpus has
    no inflate window in them, while the allocation keeps its bound."""
    from wsztune.codecs.base import TimingPlan

    zlib_module = get_zlib_module("zlib")
    streams = [Stream("c1", SERVER, SERVER_PAYLOADS), Stream("c2", SERVER, SERVER_PAYLOADS)]
    cell = zlib_codec.measure_cell(
        streams, Setting(15, 8), zlib_module, TimingPlan(measure_time=False)
    )
    assert cell["decompress_memory_resident"] < 8 * 1024
    assert cell["connection_memory_resident"] == (
        cell["compress_memory_resident"] + cell["decompress_memory_resident"]
    )
    assert cell["connection_memory_resident"] < cell["connection_memory"]


TORNADO_READ_BUFFER = STACKS["tornado"].read_buffer


def test_a_freed_read_buffer_makes_the_windows_it_precedes_resident() -> None:
    """Tornado frees a written 64 KiB read buffer before the compressor is built (the
    handshake's read) and before the inflate window is (a message's read): both are carved
    from its written pages, so light traffic pays nearly all of the deflate window and all of
    the inflate window, and nothing else changes."""
    from wsztune.memory import zlib_resident

    light = _traffic(6_000, 6_000)
    asyncio_read = zlib_resident(15, 15, 8, light)
    tornado_read = zlib_resident(15, 15, 8, light, TORNADO_READ_BUFFER)
    window = 2 << 15
    assert tornado_read.compressor - asyncio_read.compressor > window - 6_000 - 8 * 4096
    assert tornado_read.compressor < compressor_theory(15, 8)
    inflate_window = 1 << 15
    assert tornado_read.decompressor - asyncio_read.decompressor >= inflate_window - 6_000 - 4096
    push_only = _traffic(6_000, 0)
    assert zlib_resident(15, 15, 8, push_only, TORNADO_READ_BUFFER).decompressor == (
        zlib_resident(15, 15, 8, push_only).decompressor
    )


# Runs in a fresh interpreter: the pytest process's heap, fragmented by a thousand tests, does not
# lay chunks out as a server's young heap does (the model's premise), and made this check flaky.
TORNADO_RSS_PROBE = """
import json, zlib
import psutil
from tornado import websocket
from wsztune.memory import Traffic, zlib_resident
from wsztune.stacks import STACKS

TORNADO_READ_BUFFER = STACKS["tornado"].read_buffer

sent = [bytes(f'{{"n": {i}, "text": "message {i % 7} of the light chat"}}' * 8, "ascii")
        for i in range(6)]
encoder = zlib.compressobj(6, zlib.DEFLATED, -15, 8)
received = [encoder.compress(p) + encoder.flush(zlib.Z_SYNC_FLUSH) for p in sent]
options = {"compression_level": 6, "mem_level": 8}

def connection():
    bytearray(TORNADO_READ_BUFFER - 1)  # the handshake's read
    compressor = websocket._PerMessageDeflateCompressor(True, 15, options)
    decompressor = websocket._PerMessageDeflateDecompressor(True, 15, 1 << 20, options)
    frames = [compressor.compress(payload) for payload in sent]
    for frame in received:
        bytearray(TORNADO_READ_BUFFER - 1)  # the message's read
        decompressor.decompress(frame[:-4])
    return compressor, decompressor, frames

warm = [connection() for _ in range(20)]
before = psutil.Process().memory_info().rss
held = [connection() for _ in range(300)]
per_connection = (psutil.Process().memory_info().rss - before) / len(held)
frames = held[0][2]
traffic = Traffic(
    sent=sum(map(len, sent)), largest_sent=max(map(len, sent)),
    largest_frame=max(map(len, frames)), received=sum(map(len, sent)),
    compressed_messages_sent=len(sent), compressed_messages_received=len(received),
)
model = zlib_resident(15, 15, 8, traffic, TORNADO_READ_BUFFER).connection
print(json.dumps({"per_connection": per_connection, "model": model}))
"""


def test_the_read_buffer_model_matches_rss_of_tornados_own_objects() -> None:
    """RSS growth of Tornado's own deflate objects (tornado.websocket), a 64 KiB bytearray
    written and freed before each as IOStream._read_to_buffer does, against the model, in a
    fresh process: 300 connections, within 10%."""
    pytest.importorskip("tornado.websocket", reason="needs tornado")
    pytest.importorskip("psutil", reason="needs psutil")
    import json
    import subprocess
    import sys

    completed = subprocess.run(
        [sys.executable, "-c", TORNADO_RSS_PROBE], capture_output=True, text=True, check=True
    )
    figures = json.loads(completed.stdout)
    per_connection, model = figures["per_connection"], figures["model"]
    assert abs(per_connection - model) < 0.1 * model
