"""wsztune's model against libwebsockets' own permessage-deflate, byte for byte on the wire.

A small C server (wsztune/live/lwsserver/wsztune_lws.c, compiled on first use into wsztune's
cache against the installed libwebsockets, Debian's libwebsockets-dev) sends a corpus with the
deflate options a test gives it; a raw client (tests/support/wire.py) records every frame. Each
message's payload must equal CPython's zlib at the same level, memLevel, window and takeover, and
its frames must be libwebsockets' 1 KiB output buffers (tx_buf_size).

One rule of libwebsockets' framing beyond zlib: when its output buffer fills up inside the
4-5 bytes that end a message (the stored block of the sync flush), zlib is called again, emits
a second empty stored block, and libwebsockets trims only that one's trailer: the message then
carries the sync-flush trailer plus one byte ``00``. :func:`lws_payload` predicts it.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import struct
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support import wire
from wsztune.permessage_deflate import Setting, compress_stream, get_zlib_module

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(shutil.which("cc") is None, reason="a C compiler is needed (Debian: "
                       "build-essential)"),
]

DEFAULT_TX_BITS = 10  # libwebsockets' tx_buf_size default: 2^10 bytes
SYNC_TAIL = b"\x00\x00\xff\xff"
OFFER = "permessage-deflate; client_max_window_bits"  # what Chromium and websockets offer
CORPORA = wire.verify_corpora()


@pytest.fixture(scope="session")
def server() -> Path:
    """The compiled server (skips when libwebsockets is not installed)."""
    from wsztune.live import lws

    try:
        return lws.server_binary()
    except lws.LwsUnavailable as missing:
        pytest.skip(str(missing))


@functools.cache
def corpus_file(name: str, directory: str) -> tuple[Path, tuple[bytes, ...]]:
    """The corpus's first server messages in the server's input format, and their payloads."""
    sent = wire.corpus_messages(name)
    path = Path(directory) / (Path(name).name + ".lws.bin")
    path.write_bytes(
        b"".join(bytes([is_text]) + struct.pack(">I", len(p)) + p for is_text, p in sent)
    )
    return path, tuple(payload for _, payload in sent)


@contextmanager
def running(binary: Path, messages: Path, *options: int) -> Iterator[int]:
    """The server on 127.0.0.1 with ``options`` (level, memLevel, window, takeover, tx bits;
    -1: the extension's default); yields its port."""
    process = subprocess.Popen(
        [str(binary), str(messages), *map(str, options)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield int(process.stdout.readline().split()[1])
    finally:
        process.terminate()
        process.wait(timeout=10)


def lws_payload(model: bytes, tx_size: int) -> bytes:
    """The payload libwebsockets sends for a message whose sync-flushed deflate stream is
    ``model`` + 00 00 ff ff, with a ``tx_size`` output buffer."""
    end = len(model) + len(SYNC_TAIL)  # the stream's length with the trailer
    if end >= tx_size and end % tx_size <= len(SYNC_TAIL):
        # The buffer filled inside the trailer: zlib is called again and flushes once more.
        return model + SYNC_TAIL + b"\x00"
    return model


def lws_frames(payload: bytes, tx_size: int) -> list[int]:
    """Frame payload sizes: a frame per full output buffer, the last one less the trailer."""
    sizes = []
    rest = len(payload) + len(SYNC_TAIL)
    while rest > tx_size:
        sizes.append(tx_size)
        rest -= tx_size
    sizes.append(rest - len(SYNC_TAIL))
    if sizes[-1] < 0:  # the extra flush case: the last call's output was trimmed alone
        sizes[-1] = len(payload) - sum(sizes[:-1])
    return sizes


def check(
    server: Path,
    tmp_path_factory: pytest.TempPathFactory,
    corpus: str,
    setting: Setting,
    options: tuple[int, ...],
    offer: str = OFFER,
    tx_bits: int = DEFAULT_TX_BITS,
) -> wire.Wire:
    """Run the server with ``options`` on ``corpus`` and hold every frame to ``setting``."""
    path, payloads = corpus_file(corpus, str(tmp_path_factory.getbasetemp()))
    with running(server, path, *options, tx_bits) as port:
        got = asyncio.run(wire.fetch(port, offer))
    assert got.extensions is not None and got.extensions.startswith("permessage-deflate")
    messages = got.messages()
    assert len(messages) == len(payloads)
    model = compress_stream(list(payloads), setting, setting.server_bits, get_zlib_module("zlib"))
    tx_size = 1 << tx_bits
    for index, ((compressed, frames), want) in enumerate(zip(messages, model, strict=True)):
        assert compressed, f"message {index} is not compressed (RSV1)"
        expected = lws_payload(bytes(want), tx_size)
        sent = b"".join(frame.payload for frame in frames)
        assert sent == expected, (
            f"{corpus} message {index}: wire {len(sent)} B, model {len(expected)} B"
        )
        sizes = [len(frame.payload) for frame in frames]
        assert sum(sizes) == len(expected)
        assert all(size == tx_size for size in sizes[:-1]), (index, sizes)
        if expected == bytes(want):
            assert sizes == lws_frames(expected, tx_size), (index, sizes)
    assert got.inflate(setting.server_bits, setting.context_takeover) == list(payloads)
    return got


# (level, memLevel, window, takeover) as set with lws_set_extension_option; -1: the default.
CASES = [
    pytest.param((-1, -1, -1, 1), Setting(15, 8, 1), id="defaults 15:8 level 1"),
    pytest.param((9, 3, 10, 0), Setting(10, 3, 9, context_takeover=False),
                 id="10:3 level 9 no takeover"),
    pytest.param((6, 9, 12, 1), Setting(12, 9, 6), id="12:9 level 6"),
    pytest.param((2, 1, 9, 1), Setting(9, 1, 2), id="9:1 level 2"),
]


@pytest.mark.parametrize("corpus", CORPORA)
@pytest.mark.parametrize(("options", "setting"), CASES)
def test_lws_frames_equal_zlib(
    server: Path,
    tmp_path_factory: pytest.TempPathFactory,
    corpus: str,
    options: tuple[int, ...],
    setting: Setting,
) -> None:
    """Every message, every frame, byte for byte: level, memLevel, window and takeover as set."""
    check(server, tmp_path_factory, corpus, setting, options)


def test_lws_keeps_context_when_asked_for_server_no_context_takeover(
    server: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """libwebsockets answers server_no_context_takeover but keeps its deflater's context (it
    resets its inflater instead): the frames are those of takeover."""
    offer = "permessage-deflate; server_no_context_takeover; client_max_window_bits"
    got = check(server, tmp_path_factory, "market.records.jsonl", Setting(15, 8, 1),
                (-1, -1, -1, 1), offer=offer)
    assert "server_no_context_takeover" in (got.extensions or "")


def test_lws_output_buffer_sets_the_frames(
    server: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """tx_buf_size 2^8: four times as many frames for the same bytes, and the rare double
    flush at buffer edges is predicted (this corpus's big documents hit it)."""
    got = check(server, tmp_path_factory, "api.jsonl", Setting(15, 8, 1), (-1, -1, -1, 1),
                tx_bits=8)
    assert max(len(frames) for _, frames in got.messages()) > 4


def test_lws_payload_rule() -> None:
    """The double-flush rule on its own: only a trailer that straddles or ends at a buffer
    edge adds the 5 bytes."""
    model = bytes(1020)  # 1024 with the trailer: ends at the edge
    assert lws_payload(model, 1024) == model + SYNC_TAIL + b"\x00"
    assert lws_payload(bytes(1019), 1024) == bytes(1019)  # 1023: fits in one buffer
    assert lws_payload(bytes(1026), 1024) == bytes(1026)  # 1030: the trailer in buffer two
    assert lws_frames(bytes(1026), 1024) == [1024, 2]


def test_lws_level_0_stored_blocks_follow_its_buffer(
    server: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Level 0 is not zlib's one-call output: zlib sizes stored blocks by the room left in the
    output buffer, so libwebsockets' 1 KiB buffer cuts them differently (the profile's levels
    are 1-9 for that reason). The bytes still inflate to the messages."""
    path, payloads = corpus_file("api.jsonl", str(tmp_path_factory.getbasetemp()))
    with running(server, path, 0, -1, -1, 1, DEFAULT_TX_BITS) as port:
        got = asyncio.run(wire.fetch(port, OFFER))
    model = compress_stream(list(payloads), Setting(15, 8, 0), 15, get_zlib_module("zlib"))
    sent = [b"".join(f.payload for f in frames) for _, frames in got.messages()]
    assert sent != [bytes(frame) for frame in model]
    assert got.inflate(15, True) == list(payloads)
