"""wsztune's go-nats codec against the real nats-server, byte for byte on the wire.

Debian's ``nats-server`` runs on 127.0.0.1 with its WebSocket listener and ``compression: true``.
A raw client (no NATS library: tests/support/wire.py's frame reader) connects over WebSocket
offering permessage-deflate, subscribes, and publishes each corpus message as a PUB payload, one at
a time; the server relays it as ``MSG subject sid size`` + payload, in one frame. Each frame's
compressed payload must equal the go-nats codec's bytes for that protocol message (Go's flate at
BestSpeed, no context takeover, uncompressed up to 64 bytes) exactly.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import re
import shutil
import subprocess
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support import wire
from wsztune.codecs import go
from wsztune.stacks.nats import NATS_THRESHOLD

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(shutil.which("nats-server") is None,
                       reason="nats-server is not installed (Debian: nats-server)"),
    pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed (the codec)"),
]

CORPORA = wire.verify_corpora()
MESSAGES = 120  # per corpus: each is a round trip through the server
SUBJECT = b"wsztune"
CONFIG = """
listen: 127.0.0.1:-1
websocket {
  listen: "127.0.0.1:-1"
  no_tls: true
  compression: %s
}
"""


@contextmanager
def nats_server(directory: Path, compression: bool = True) -> Iterator[int]:
    """nats-server with its WebSocket listener on a free loopback port; yields that port."""
    config = directory / f"nats-{compression}.conf"
    config.write_text(CONFIG % ("true" if compression else "false"))
    process = subprocess.Popen(
        ["nats-server", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:
            found = re.search(r"websocket clients on ws://127\.0\.0\.1:(\d+)", line)
            if found:
                yield int(found.group(1))
                break
        else:
            raise AssertionError("nats-server did not start its websocket listener")
    finally:
        process.terminate()
        process.wait(timeout=10)


async def relay(
    port: int,
    payloads: list[bytes],
    offer: str | None,
    compress: Callable[[bytes], bytes] | None = None,
) -> tuple[str | None, list]:
    """Connect, subscribe, publish each payload and read the frame that carries it back.
    Returns the extensions answer and, per payload, the frames of its MSG. With ``compress``
    every client message goes out compressed by it (RSV1), as a browser sends it."""

    def frame(data: bytes) -> bytes:
        return wire.masked_frame(data) if compress is None else wire.masked_frame(
            compress(data), 0xC2
        )

    reader, writer = await asyncio.open_connection(wire.LOOPBACK, port, limit=1 << 24)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        "GET / HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket",
        "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
    ]
    if offer:
        lines.append(f"Sec-WebSocket-Extensions: {offer}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    assert " 101 " in head[0] + " ", head[0]
    extensions = next(
        (line.split(":", 1)[1].strip() for line in head
         if line.lower().startswith("sec-websocket-extensions:")),
        None,
    )

    async def read_message() -> list[wire.WireFrame]:
        frames = [await wire._read_frame(reader)]
        while not frames[-1].fin:
            frames.append(await wire._read_frame(reader))
        return frames

    await read_message()  # INFO
    writer.write(frame(b'CONNECT {"verbose":false,"pedantic":false}\r\nSUB ' + SUBJECT
                       + b" 1\r\nPING\r\n"))  # fmt: skip
    await read_message()  # PONG
    out = []
    for payload in payloads:
        writer.write(frame(b"PUB %s %d\r\n%s\r\n" % (SUBJECT, len(payload), payload)))
        out.append(await read_message())
    writer.close()
    return extensions, out


def msg_line(payload: bytes) -> bytes:
    """The protocol message nats-server sends a subscriber for ``payload``."""
    return b"MSG %s 1 %d\r\n%s\r\n" % (SUBJECT, len(payload), payload)


def model(directory: Path, messages: list[bytes]) -> go.GoCell:
    """The go-nats codec's frames for ``messages`` (one server stream)."""
    go.write_corpus([messages], directory / "nats-corpus.bin")
    job = go.GoJob(0, go.GO_NATS, 1, False, NATS_THRESHOLD)
    return go.run_cells(directory / "nats-corpus.bin", ["server"], [job])[0]


@pytest.mark.parametrize("corpus", CORPORA)
def test_nats_msg_frames_equal_the_go_nats_codec(tmp_path: Path, corpus: str) -> None:
    """Every MSG frame: compressed or not as the codec says, the same bytes, one frame each."""
    payloads = [payload for _, payload in wire.corpus_messages(corpus, MESSAGES)]
    with nats_server(tmp_path) as port:
        extensions, relayed = asyncio.run(relay(port, payloads, "permessage-deflate"))
    assert extensions == (
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
    )
    lines = [msg_line(payload) for payload in payloads]
    cell = model(tmp_path, lines)
    wire_bytes = b"".join(frame.payload for frames in relayed for frame in frames)
    assert [[len(f.payload) for f in frames] for frames in relayed] == [
        [size] for size in cell.frames[0]
    ]
    assert sum(frames[0].rsv1 for frames in relayed) == cell.compressed_messages[0]
    assert hashlib.sha256(wire_bytes).hexdigest() == cell.sha256  # the bytes themselves
    for frames, line in zip(relayed, lines, strict=True):
        data = frames[0].payload
        if frames[0].rsv1:  # a fresh inflater each time: no context takeover
            data = zlib.decompressobj(-15).decompress(data + b"\x00\x00\xff\xff")
        assert data == line


def test_nats_compresses_only_above_64_bytes(tmp_path: Path) -> None:
    """wsCompressThreshold: a protocol message of 64 bytes goes out as it is, 65 compressed."""
    payloads = [
        next(b"a" * n for n in range(100) if len(msg_line(b"a" * n)) == size) for size in (64, 65)
    ]
    with nats_server(tmp_path) as port:
        _, relayed = asyncio.run(relay(port, payloads, "permessage-deflate"))
    assert [frames[0].rsv1 for frames in relayed] == [False, True]


def test_nats_without_compression_or_offer_sends_plain_frames(tmp_path: Path) -> None:
    """compression: false (the default), or a client that offers nothing: no RSV1 ever."""
    payloads = [payload for _, payload in wire.corpus_messages("chat.records.jsonl", 20)]
    with nats_server(tmp_path, compression=False) as port:
        extensions, relayed = asyncio.run(relay(port, payloads, "permessage-deflate"))
    assert extensions is None
    assert [frames[0].payload for frames in relayed] == [msg_line(p) for p in payloads]
    with nats_server(tmp_path) as port:
        extensions, relayed = asyncio.run(relay(port, payloads, None))
    assert extensions is None and not any(frames[0].rsv1 for frames in relayed)


def test_nats_inflates_what_a_browser_sends_as_the_go_codec_counts(tmp_path: Path) -> None:
    """``run --server nats --client chrome``: Chrome's offer is answered without a window limit
    and with client_no_context_takeover, and nats-server inflates every PUB compressed as the
    go codec counts Chrome's frames (go.zlib_client_frames): each comes back as its MSG."""
    from wsztune import stacks, sweep
    from wsztune.permessage_deflate import Setting

    chrome = stacks.resolve_clients("chrome")[0][0]
    setting = sweep.ClientVariant.of(chrome).apply(Setting(15, 8, 1, "default", False))
    payloads = [payload for _, payload in wire.corpus_messages("chat.records.jsonl", 40)]
    with nats_server(tmp_path) as port:
        extensions, relayed = asyncio.run(relay(
            port, payloads, chrome.offer_header,
            lambda data: go.zlib_client_frames([data], setting)[0],
        ))  # fmt: skip
    assert extensions == (
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
    )
    for frames, payload in zip(relayed, payloads, strict=True):
        data = frames[0].payload
        if frames[0].rsv1:
            data = zlib.decompressobj(-15).decompress(data + b"\x00\x00\xff\xff")
        assert data == msg_line(payload)
