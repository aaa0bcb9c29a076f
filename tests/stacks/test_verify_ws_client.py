"""``--client ws`` against the real Node ws client's frames.

ws's client compresses a message only when it is at least ``threshold`` bytes long (1024 by
default, the byte length of what is sent), and decides that only when
``client_no_context_takeover`` was negotiated: with context takeover it compresses every message
(ws 8.23 ``lib/sender.js``, ``Sender.send``: ``rsv1 = byteLength >= perMessageDeflate._threshold``
inside the ``client_no_context_takeover`` branch). A real ws client sends a corpus with messages
under, at and over 1024 bytes to a websockets server on 127.0.0.1 that records every frame before
inflating it; the model's client-direction frame per message must be the wire's: compressed or
not, and the same size.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
from pathlib import Path

import pytest

from tests.support import SUPPORT, browsers, wire
from wsztune import corpus, stacks
from wsztune.codecs import node
from wsztune.corpus import CLIENT
from wsztune.permessage_deflate import Raw, Setting, compress_stream, get_zlib_module
from wsztune.sweep import ClientVariant

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed"),
]

WS_CLIENT = SUPPORT / "ws_client.js"


def _payloads() -> list[bytes]:
    """Short client events (chat, game) and long documents (api), and the three sizes around
    the threshold that pin its ``>=``."""
    out: list[bytes] = []
    for name, direction, count in (
        ("chat.records.jsonl", CLIENT, 20),
        ("game.records.jsonl", CLIENT, 20),
        ("api.jsonl", "server", 15),
    ):
        loaded = corpus.load(wire.CORPORA / name)
        picked = [bytes(m.payload) for m in loaded.messages if m.direction == direction]
        out += picked[:count]
    document = b"".join(out)
    out += [document[:1023], document[:1024], document[:1025]]
    return out


async def _ws_client_frames(
    ws_dir: Path, payloads: list[bytes], takeover: bool, tmp: Path
) -> browsers.ClientFrames:
    """What a real ws client put on the wire sending ``payloads`` to a server that grants
    ``client_no_context_takeover`` unless ``takeover``."""
    from websockets.asyncio.server import serve

    record = browsers.ClientFrames("", "")
    factory = browsers._recording_factory(
        record, None, None, client_no_context_takeover=not takeover
    )

    async def handler(connection) -> None:  # type: ignore[no-untyped-def]
        record.agreed = connection.response.headers.get("Sec-WebSocket-Extensions", "")
        async for message in connection:
            record.messages.append(message.encode() if isinstance(message, str) else message)

    listing = tmp / "payloads.json"
    listing.write_text(json.dumps([base64.b64encode(p).decode() for p in payloads]))
    async with serve(
        handler, wire.LOOPBACK, 0, extensions=[factory], compression=None, max_size=None
    ) as server:
        port = server.sockets[0].getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            "node", str(WS_CLIENT), str(ws_dir), str(port), str(listing),
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, stderr = await asyncio.wait_for(process.communicate(), wire.TIMEOUT)
        assert process.returncode == 0, stderr.decode()
    return record


@pytest.mark.parametrize("takeover", [False, True], ids=["no-takeover", "takeover"])
def test_ws_client_model_equals_its_wire(ws_dir: Path, tmp_path: Path, takeover: bool) -> None:
    payloads = _payloads()
    sizes = [len(p) for p in payloads]
    assert min(sizes) < 1024 < max(sizes)
    record = asyncio.run(_ws_client_frames(ws_dir, payloads, takeover, tmp_path))
    assert record.messages == payloads
    assert ("client_no_context_takeover" in record.agreed) == (not takeover)
    wire_compressed = record.compressed()

    variant = ClientVariant.of(stacks.CLIENTS["ws"])
    setting = variant.apply(Setting(15, 8, context_takeover=takeover))
    client = setting.sender(CLIENT)
    # ws's rule: the threshold only without takeover; at 1024 the message is compressed.
    assert client.threshold == (0 if takeover else 1024)
    expected = [not (client.threshold and size < 1024) for size in sizes]
    assert wire_compressed == expected

    # The zlib model decides the same per message (its bytes are CPython's zlib, not Node's).
    frames = compress_stream(payloads, client, setting.client_bits, get_zlib_module("zlib"))
    assert [not isinstance(frame, Raw) for frame in frames] == wire_compressed
    assert [len(f) for f in frames if isinstance(f, Raw)] == [
        size for size, compressed in zip(record.sizes(), wire_compressed, strict=True)
        if not compressed
    ]

    # The node codec (Node's zlib, as ws) is the wire byte for byte, per message.
    with node.corpus_file([payloads]) as path:
        (cell,) = node.run_cells(path, [CLIENT], [node.NodeJob.of(0, setting)], jobs=1)
    assert cell.sizes == [record.sizes()]
    assert cell.compressed_messages == [sum(wire_compressed)]
