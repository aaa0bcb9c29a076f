"""Browsers against the real Go libraries: what ``run --server gorilla|coder --client NAME``
counts for the client direction is what the real server accepts and inflates.

A browser's frames are zlib's output at its own settings (tests/stacks/test_verify_browsers.py
checks them against real Chromium and Firefox, byte for byte); the Go server inflates them with
its library's reader. Here a raw socket client offers what each browser offers, sends the very
frames the go codec counts (``go.zlib_client_frames``) to a real gorilla/websocket or
coder/websocket server (tests/support/go/probe_peer.go, which echoes every message), and checks
the negotiation the codec assumes and that every echo is the original message.
"""

from __future__ import annotations

import base64
import os
import random
import shutil
import socket
import zlib
from pathlib import Path

import pytest

from tests.support.probe_servers import GREETING, Peer
from tests.support.wire import masked_frame
from wsztune import corpus, stacks, sweep
from wsztune.codecs import go
from wsztune.permessage_deflate import Setting

REPO = Path(__file__).resolve().parents[2]
PEER = REPO / "tests" / "support" / "go" / "probe_peer.go"
# coder/websocket 1.8.7 reads at most 32 KiB per message by default (conn.go SetReadLimit).
LARGEST = 30_000


@pytest.fixture(scope="module")
def peer() -> Path:
    """probe_peer.go built against Debian's gorilla and coder packages."""
    if shutil.which("go") is None:
        pytest.skip("go is not installed (Debian: golang-go)")
    from wsztune.errors import WsztuneError

    try:
        return go.build_go(PEER, "wsztune-probe-peer", "probe test peers", lambda text: None)
    except WsztuneError as error:
        pytest.skip(str(error))


def messages() -> list[bytes]:
    """The client messages of two bundled corpora, and larger ones (several deflate blocks,
    random bytes that zlib stores), under coder's read limit."""
    chosen: list[bytes] = []
    for name in ("chat.records.jsonl", "game.records.jsonl"):
        loaded = corpus.load(REPO / "corpora" / name)
        for stream in loaded.streams():
            if stream.direction == corpus.CLIENT:
                chosen += [bytes(payload) for payload in stream.payloads[:40]]
    rng = random.Random(25)
    for size in (5_000, 12_000, 20_000):
        chosen.append(base64.b64encode(rng.randbytes(size * 3 // 4))[:size])
        chosen.append((" ".join(rng.choice(["bid", "ask", "0.25"]) for _ in range(size // 4)))
                      .encode()[:size])  # fmt: skip
    chosen.append(rng.randbytes(LARGEST))
    assert all(len(message) <= LARGEST for message in chosen)
    return chosen


class Connection:
    """A raw WebSocket client: the browser's offer, masked frames, the echoes read back."""

    def __init__(self, port: int, offer: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: http://127.0.0.1:{port}\r\nSec-WebSocket-Extensions: {offer}\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        assert " 101 " in lines[0] + " ", lines[0]
        self.extensions = next(
            (line.partition(":")[2].strip() for line in lines[1:]
             if line.lower().startswith("sec-websocket-extensions:")),
            "",
        )  # fmt: skip

    def _recv(self) -> bytes:
        data = self.sock.recv(1 << 16)
        assert data, "the server closed the connection"
        return data

    def _take(self, count: int) -> bytes:
        while len(self.buffer) < count:
            self.buffer += self._recv()
        taken, self.buffer = self.buffer[:count], self.buffer[count:]
        return taken

    def send_compressed(self, payload: bytes) -> None:
        """One binary message, compressed (RSV1), in one masked frame, as a browser sends it."""
        self.sock.sendall(masked_frame(payload, 0xC2))

    def receive(self) -> tuple[bool, bytes]:
        """The next data message: (compressed, payload of all its frames)."""
        compressed, parts = None, []
        while True:
            first, second = self._take(2)
            length = second & 0x7F
            if length == 126:
                length = int.from_bytes(self._take(2), "big")
            elif length == 127:
                length = int.from_bytes(self._take(8), "big")
            payload = self._take(length)
            if first & 0x0F >= 0x8:  # control frames (ping) between the data frames
                continue
            if compressed is None:
                compressed = bool(first & 0x40)
            parts.append(payload)
            if first & 0x80:
                return compressed, b"".join(parts)

    def close(self) -> None:
        self.sock.close()


def parameters(extensions: str) -> set[str]:
    """The parameter names of the server's permessage-deflate answer."""
    assert extensions.startswith("permessage-deflate"), extensions
    return {part.strip().split("=")[0] for part in extensions.split(";")[1:]}


# (library, probe_peer mode, the codec's framing, the Go setting's context takeover)
SERVERS = [
    ("gorilla", "on", go.GO_GORILLA, False),
    ("coder", "on", go.GO_CODER, False),
    ("coder", "takeover", go.GO_CODER, True),
]


@pytest.mark.parametrize("browser", ["chrome", "firefox", "websockets"])
@pytest.mark.parametrize(("library", "mode", "framing", "takeover"), SERVERS)
def test_real_go_server_inflates_the_frames_a_browser_sends_as_counted(
    peer: Path, browser: str, library: str, mode: str, framing: str, takeover: bool
) -> None:
    client = stacks.resolve_clients(browser)[0][0]
    # The setting the codec measures this browser's cell at, as run --client builds it.
    base = Setting(15, 8, 1 if framing == go.GO_GORILLA else -1, "default", takeover)
    setting = sweep.ClientVariant.of(client).apply(base)
    payloads = messages()
    frames = go.zlib_client_frames(payloads, setting)
    assert len(frames) == len(payloads)
    server = Peer([str(peer), "serve", library, mode])
    try:
        connection = Connection(server.port, client.offer_header)
        try:
            answer = parameters(connection.extensions)
            # What the codec assumes: the server decides the client's takeover, and never
            # limits its window (a Go server has no client_max_window_bits to give).
            assert ("client_no_context_takeover" in answer) == (not takeover), answer
            assert "client_max_window_bits" not in answer, answer
            server_takeover = "server_no_context_takeover" not in answer
            inflater = zlib.decompressobj(-15)

            def read() -> bytes:
                nonlocal inflater
                compressed, data = connection.receive()
                if not compressed:
                    return data
                if not server_takeover:
                    inflater = zlib.decompressobj(-15)
                return inflater.decompress(data + b"\x00\x00\xff\xff")

            assert read() == GREETING.encode()
            for payload, frame in zip(payloads, frames, strict=True):
                connection.send_compressed(frame)
                assert read() == payload, f"{library} {mode} {browser}: an echo differs"
        finally:
            connection.close()
    finally:
        server.stop()


def _helper_cell(tmp_path: Path, framing: str, takeover: bool, frames: list[list[bytes]],
                 streams: list) -> go.GoCell:  # fmt: skip
    """The Go helper's cell for ``streams`` whose client streams a named client sent as
    ``frames`` (timed once)."""
    path, named = tmp_path / "corpus.bin", tmp_path / "client.bin"
    go.write_corpus([stream.payloads for stream in streams], path)
    go.write_corpus(frames, named)
    setting = Setting(15, 8, 1 if framing == go.GO_GORILLA else -1, "default", takeover)
    job = go.GoJob.of(0, setting, framing)
    job = go.GoJob(**{**vars(job), "client_frames": str(named)})
    timing = {"repeat": 1, "warmup": 1, "min_sample_seconds": 0.0, "deliveries": None}
    directions = [stream.direction for stream in streams]
    return go.run_cells(path, directions, [job], timing=timing)[0]


@pytest.mark.parametrize(("framing", "takeover"), [(go.GO_GORILLA, False), (go.GO_CODER, True)])
def test_the_go_helper_inflates_a_named_clients_frames_as_the_server_does(
    tmp_path: Path, framing: str, takeover: bool
) -> None:
    go.helper_binary(notice=lambda text: None)
    loaded = corpus.sample_connections(corpus.load(REPO / "corpora" / "chat.records.jsonl"), 3, 5)
    streams = loaded.streams()
    chrome = sweep.ClientVariant.of(stacks.resolve_clients("chrome")[0][0])
    base = Setting(15, 8, 1 if framing == go.GO_GORILLA else -1, "default", takeover)
    setting = chrome.apply(base)
    frames = [go.zlib_client_frames(s.payloads, setting) if s.direction == corpus.CLIENT else []
              for s in streams]  # fmt: skip
    cell = _helper_cell(tmp_path, framing, takeover, frames, streams)
    for index, stream in enumerate(streams):
        if stream.direction == corpus.CLIENT:
            # The client's frames as sent, one per message, every one compressed.
            assert cell.sizes[index] == [len(frame) for frame in frames[index]]
            assert cell.frames[index] == cell.sizes[index]
            assert cell.compressed_messages[index] == len(stream.payloads)
    # The server inflated them (the round trip is checked in Go) in the timed pass too.
    assert cell.decompress_samples and cell.decompress_samples[0] > 0
    # One flipped byte in a takeover stream's frames no longer inflates to the message.
    client = next(i for i, s in enumerate(streams) if s.direction == corpus.CLIENT and frames[i])
    broken = [list(stream) for stream in frames]
    first = bytearray(broken[client][0])
    first[len(first) // 2] ^= 0x55
    broken[client][0] = bytes(first)
    with pytest.raises(RuntimeError):
        _helper_cell(tmp_path, framing, takeover, broken, streams)
