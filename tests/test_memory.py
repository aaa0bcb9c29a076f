"""Memory observed on the first messages only equals the whole-stream observation, every cell.

The sweep observes a compressor on one message and a decompressor up to its first output
(:func:`wsztune.codecs.zlib.observe_connection`), because zlib allocates all of a compressor's
memory when it is built and a decompressor's window on its first output. These tests prove that the
held bytes are exactly what the old whole-stream observation gave: every windowBits 9-15 x
memLevel 1-9, context takeover on and off, compressor and decompressor, on both backends.
"""

from __future__ import annotations

import pytest

from tests.conftest import chat_messages, document_messages
from wsztune import sweep
from wsztune.codec import Setting, compress_stream, get_backend
from wsztune.codecs import zlib as zlib_codec
from wsztune.corpus import CLIENT, SERVER, Stream
from wsztune.memory import (
    compressor_theory,
    decompressor_theory,
    observe_compressor,
    observe_decompressor,
)

BACKENDS = ["zlib", "zlib-ng"]
# Empty messages first: a decompressor allocates its window only on its first output, so the
# observation must go past them; the last message is empty too (without context takeover, the
# observed codec objects are the last message's).
SERVER_PAYLOADS = [b"", *chat_messages(8, seed=3), *document_messages(2, seed=4), b""]
CLIENT_PAYLOADS = [b"", b"", *chat_messages(4, seed=5), b"{}"]


def whole_stream(setting: Setting, backend_name: str) -> tuple[int, int]:
    """(compressor, decompressor) held bytes observed over the whole streams, as before."""
    backend = get_backend(backend_name)
    compressor = observe_compressor(setting, setting.server_bits, SERVER_PAYLOADS, backend)
    frames = compress_stream(CLIENT_PAYLOADS, setting, setting.client_bits, backend)
    decompressor = observe_decompressor(setting, setting.client_bits, frames, backend)
    return compressor.held, decompressor.held


@pytest.mark.parametrize("takeover", [True, False], ids=["takeover", "no-takeover"])
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_first_messages_hold_what_the_whole_stream_holds(backend_name: str, takeover: bool) -> None:
    if backend_name == "zlib-ng":
        pytest.importorskip("zlib_ng.zlib_ng")
    backend = get_backend(backend_name)
    streams = [
        Stream("c1", SERVER, SERVER_PAYLOADS),
        Stream("c1", CLIENT, CLIENT_PAYLOADS),
    ]
    summary = sweep.CorpusSummary.of(streams)
    whole_stream(Setting(9, 1), backend_name)  # first allocations pay one-offs
    mismatches = []
    for wb in range(9, 16):
        for ml in range(1, 10):
            setting = Setting(wb, ml, context_takeover=takeover)
            first = zlib_codec.observe_connection(streams, setting, backend, summary)
            whole = whole_stream(setting, backend_name)
            if (first.compressor.held, first.decompressor.held) != whole:
                mismatches.append(
                    (setting.label, first.compressor.held, first.decompressor.held, whole)
                )
    assert mismatches == []


def test_the_window_is_observed_past_empty_messages() -> None:
    """Without going past the leading empty messages, the window would be missed."""
    backend = get_backend("zlib")
    streams = [Stream("c1", SERVER, SERVER_PAYLOADS), Stream("c1", CLIENT, CLIENT_PAYLOADS)]
    memory = zlib_codec.observe_connection(streams, Setting(12, 5), backend)
    assert memory.decompressor.held > decompressor_theory(12)
    assert memory.compressor.held > compressor_theory(12, 5)
