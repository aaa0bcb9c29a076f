"""Captured corpora: records JSONL and HAR, and the connection/direction model built on them.

Every connection and direction is its own compressor: interleaving connections must not change a
single byte, and each stream must compress exactly as python-websockets' own extension does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.samples import FAST_PLAN, chat_messages, document_messages
from wsztune import corpus, sweep
from wsztune.cli import cli
from wsztune.codecs import zlib as zlib_codec
from wsztune.corpus import CLIENT, SERVER, Message
from wsztune.errors import CorpusError
from wsztune.permessage_deflate import Setting, compress_stream, get_zlib_module

ZLIB = get_zlib_module("zlib")


def write_records(path: Path, records: list[dict], header: bool = True) -> Path:
    """A records corpus: the header line, then one JSON object per message."""
    lines = [json.dumps({"wsztune": "records/1"})] if header else []
    lines += [json.dumps(record) for record in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def record(connection: str, direction: str, payload: bytes, is_text: bool = True) -> dict:
    """The records line for one message."""
    body = {"text": payload.decode()} if is_text else {"base64": base64.b64encode(payload).decode()}
    return {"connection": connection, "direction": direction, **body}


def measure(path: Path, setting: Setting) -> dict:
    """One cell of the real sweep on the corpus at ``path``."""
    return zlib_codec.measure_cell(corpus.load(path).streams(), setting, ZLIB, FAST_PLAN)


# HAR ----------------------------------------------------------------------------------------

BINARY = bytes(range(256)) * 3
HAR_FRAMES = {
    "ws1": [
        {"type": "send", "opcode": 1, "data": '{"op":"subscribe","channel":"prices"}'},
        {"type": "receive", "opcode": 1, "data": '{"op":"ack"}'},
        {"type": "receive", "opcode": 2, "data": base64.b64encode(BINARY).decode()},
        {"type": "receive", "opcode": 9, "data": ""},  # ping: never compressed, not a message
        {"type": "send", "opcode": 2, "data": base64.b64encode(b"\x00\x01\x02").decode()},
        {"type": "receive", "opcode": 1, "data": '{"price":101.5,"sym":"ÉTÉ"}'},
    ],
    "ws2": [
        {"type": "receive", "opcode": 1, "data": "héllo ☃"},
        {"type": "send", "opcode": 1, "data": "pong"},
    ],
}


def har_document(frames: dict[str, list[dict]]) -> dict:
    """A HAR as Chrome saves it: ordinary entries, and WebSocket entries with their frames."""
    entries: list[dict] = [{"request": {"url": "https://example.test/"}, "response": {}}]
    for name, messages in frames.items():
        entries.append(
            {
                "request": {"url": f"wss://example.test/{name}"},
                "response": {"status": 101},
                "_resourceType": "websocket",
                "_webSocketMessages": [
                    {**message, "time": 1700000000.0 + index}
                    for index, message in enumerate(messages)
                ],
            }
        )
    return {"log": {"version": "1.2", "entries": entries}}


@pytest.fixture
def har_path(tmp_path: Path) -> Path:
    path = tmp_path / "capture.har"
    path.write_text(json.dumps(har_document(HAR_FRAMES)), encoding="utf-8")
    return path


def test_har_round_trips_to_connections_directions_and_bytes(har_path: Path) -> None:
    loaded = corpus.load(har_path)
    assert loaded.format == "har"
    assert loaded.sha256 == hashlib.sha256(har_path.read_bytes()).hexdigest()
    assert loaded.connections == ["ws1", "ws2"]
    assert loaded.messages == [
        Message(b'{"op":"subscribe","channel":"prices"}', True, "ws1", CLIENT),
        Message(b'{"op":"ack"}', True, "ws1", SERVER),
        Message(BINARY, False, "ws1", SERVER),
        Message(b"\x00\x01\x02", False, "ws1", CLIENT),
        Message('{"price":101.5,"sym":"ÉTÉ"}'.encode(), True, "ws1", SERVER),
        Message("héllo ☃".encode(), True, "ws2", SERVER),
        Message(b"pong", True, "ws2", CLIENT),
    ]
    streams = {(s.connection, s.direction): s.payloads for s in loaded.streams()}
    assert list(streams) == [("ws1", CLIENT), ("ws1", SERVER), ("ws2", SERVER), ("ws2", CLIENT)]
    assert streams[("ws1", SERVER)] == [
        b'{"op":"ack"}',
        BINARY,
        '{"price":101.5,"sym":"ÉTÉ"}'.encode(),
    ]
    assert loaded.raw_bytes == sum(len(m.payload) for m in loaded.messages)
    description = loaded.describe()
    assert description["connections"] == 2
    assert description["directions"] == [CLIENT, SERVER]


def test_har_directions_reach_the_results(har_path: Path) -> None:
    cell = measure(har_path, Setting(12, 5))
    loaded = corpus.load(har_path)
    server_raw = sum(len(m.payload) for m in loaded.messages if m.direction == SERVER)
    client_raw = sum(len(m.payload) for m in loaded.messages if m.direction == CLIENT)
    assert (cell["server_raw_bytes"], cell["client_raw_bytes"]) == (server_raw, client_raw)
    assert cell["raw_bytes"] == server_raw + client_raw
    assert cell["messages"] == 7


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ({"type": "sent", "opcode": 1, "data": "x"}, '"type" must be "send" or "receive"'),
        ({"type": "send", "opcode": 2, "data": "not base64!"}, "not valid base64"),
        ({"type": "send", "opcode": 1, "data": 5}, "must be a string"),
    ],
)
def test_har_errors_name_the_frame(tmp_path: Path, frame: dict, reason: str) -> None:
    path = tmp_path / "bad.har"
    path.write_text(json.dumps(har_document({"ws1": [HAR_FRAMES["ws1"][0], frame]})))
    with pytest.raises(CorpusError) as caught:
        corpus.load(path)
    assert reason in str(caught.value)
    assert "entries[1]._webSocketMessages[1]" in str(caught.value)


def test_har_without_websocket_messages_says_how_to_capture(tmp_path: Path) -> None:
    path = tmp_path / "empty.har"
    path.write_text(json.dumps(har_document({})))
    with pytest.raises(CorpusError, match="Save all as HAR with content"):
        corpus.load(path)


# Records ------------------------------------------------------------------------------------


def test_records_read_connections_directions_text_and_binary(tmp_path: Path) -> None:
    path = tmp_path / "capture.records.jsonl"
    path.write_text(
        "\n".join(
            [
                '{"wsztune": "records/1"}',
                '{"connection": "a", "direction": "server", "text": "héllo"}',
                "",
                '{"connection": 7, "direction": "client", "base64": "AAEC/w=="}',
                '{"text": "no connection, no direction"}',
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    assert corpus.detect_format(path) == "records"
    loaded = corpus.load(path)
    assert loaded.messages == [
        Message("héllo".encode(), True, "a", SERVER),
        Message(b"\x00\x01\x02\xff", False, "7", CLIENT),
        Message(b"no connection, no direction", True, "default", SERVER),
    ]
    assert loaded.connections == ["a", "7", "default"]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"direction": "up", "text": "x"}', '"direction" must be "server"'),
        ('{"text": "x", "base64": "eA=="}', "exactly one payload"),
        ('{"connection": true, "text": "x"}', '"connection" must be a string or a number'),
        ('{"base64": "%%%"}', "not valid base64"),
        ("[1, 2]", "a record is an object"),
    ],
)
def test_records_errors_name_the_line(tmp_path: Path, line: str, reason: str) -> None:
    path = tmp_path / "bad.records.jsonl"
    path.write_text('{"wsztune": "records/1"}\n{"text": "fine"}\n' + line + "\n")
    with pytest.raises(CorpusError) as caught:
        corpus.load(path)
    assert caught.value.line == 3
    assert reason in caught.value.reason


def test_records_of_a_newer_version_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.jsonl"
    path.write_text('{"wsztune": "records/2"}\n{"text": "x"}\n')
    with pytest.raises(CorpusError, match="unsupported records version"):
        corpus.load(path, "records")


# Per-connection contexts ----------------------------------------------------------------------


def two_connections() -> tuple[list[dict], list[dict]]:
    """Two connections with both directions and similar content (so a shared context would help)."""
    chat = chat_messages(160, seed=11)
    docs = document_messages(10, seed=12)
    first = [record("a", SERVER if i % 3 else CLIENT, m) for i, m in enumerate(chat[:80])]
    second = [record("b", SERVER if i % 4 else CLIENT, m) for i, m in enumerate(chat[80:])]
    second += [record("b", SERVER, d, is_text=False) for d in docs]
    return first, second


def interleave(first: list, second: list, seed: int) -> list:
    """Merge two lists at random, keeping each one's own order."""
    rng = random.Random(seed)
    out, i, j = [], 0, 0
    while i < len(first) or j < len(second):
        if j == len(second) or (i < len(first) and rng.random() < 0.5):
            out.append(first[i])
            i += 1
        else:
            out.append(second[j])
            j += 1
    return out


@pytest.mark.parametrize(
    "setting", [Setting(9, 1), Setting(12, 5), Setting(15, 8, client_window_bits=10)]
)
def test_interleaved_connections_give_the_same_sizes_as_each_alone(
    tmp_path: Path, setting: Setting
) -> None:
    first, second = two_connections()
    alone_a = measure(write_records(tmp_path / "a.jsonl", first), setting)
    alone_b = measure(write_records(tmp_path / "b.jsonl", second), setting)
    mixed = measure(write_records(tmp_path / "ab.jsonl", interleave(first, second, 3)), setting)
    for key in (
        "compressed_bytes",
        "server_compressed_bytes",
        "client_compressed_bytes",
        "wire_compressed_bytes",
        "raw_bytes",
        "wire_raw_bytes",
    ):
        assert mixed[key] == alone_a[key] + alone_b[key], key

    # The check has teeth: one shared compressor over the interleaved stream gives other sizes.
    mixed_payloads = [
        m.payload for m in corpus.load(tmp_path / "ab.jsonl").messages if m.direction == SERVER
    ]
    shared = sum(map(len, compress_stream(mixed_payloads, setting, setting.server_bits, ZLIB)))
    assert shared != mixed["server_compressed_bytes"]


@settings(max_examples=25, deadline=None)
@given(
    connections=st.lists(
        st.lists(
            st.tuples(st.sampled_from([SERVER, CLIENT]), st.binary(min_size=0, max_size=300)),
            min_size=1,
            max_size=12,
        ),
        min_size=1,
        max_size=4,
    ),
    seed=st.integers(0, 2**16),
)
def test_any_interleaving_compresses_each_stream_as_if_alone(
    connections: list[list[tuple[str, bytes]]], seed: int
) -> None:
    setting = Setting(10, 3)
    # A random interleaving of the connections, each one's own order kept.
    messages = []
    cursors = [list(sends) for sends in connections]
    rng = random.Random(seed)
    while any(cursors):
        index = rng.choice([i for i, left in enumerate(cursors) if left])
        direction, payload = cursors[index].pop(0)
        messages.append(Message(payload, False, f"c{index}", direction))
    loaded = corpus.Corpus("mem", "records", "", messages)
    sizes = {
        (s.connection, s.direction): sum(
            map(len, compress_stream(s.payloads, setting, setting.bits_for(s.direction), ZLIB))
        )
        for s in loaded.streams()
    }
    for index, sends in enumerate(connections):
        for direction in (SERVER, CLIENT):
            alone = [payload for d, payload in sends if d == direction]
            if alone:
                expected = compress_stream(alone, setting, setting.bits_for(direction), ZLIB)
                assert sizes[(f"c{index}", direction)] == sum(map(len, expected))


def websockets_frames(payloads: list[bytes], local_bits: int, mem_level: int) -> list[bytes]:
    """What python-websockets' own extension puts on the wire for one sender's messages."""
    from websockets.extensions.permessage_deflate import PerMessageDeflate
    from websockets.frames import Frame, Opcode

    extension = PerMessageDeflate(False, False, 15, local_bits, {"memLevel": mem_level})
    return [bytes(extension.encode(Frame(Opcode.BINARY, payload)).data) for payload in payloads]


def test_each_stream_compresses_exactly_as_websockets(tmp_path: Path) -> None:
    pytest.importorskip("websockets")
    first, second = two_connections()
    path = write_records(tmp_path / "ab.jsonl", interleave(first, second, 9))
    # The client's window differs from the server's: --client-window-bits reaches the client
    # streams only, as websockets' client_max_window_bits does.
    setting = Setting(12, 5, client_window_bits=9)
    for stream in corpus.load(path).streams():
        bits = 12 if stream.direction == SERVER else 9
        assert setting.bits_for(stream.direction) == bits
        ours = compress_stream(stream.payloads, setting, bits, ZLIB)
        assert ours == websockets_frames(stream.payloads, bits, 5), stream.connection


def test_wire_bytes_add_frame_headers_and_client_masks(tmp_path: Path) -> None:
    rng = random.Random(4)
    server_big = bytes(rng.randrange(256) for _ in range(70_000))  # 8-byte length, incompressible
    path = write_records(
        tmp_path / "sizes.jsonl",
        [
            record("x", CLIENT, b"a" * 10),
            record("x", SERVER, b"b" * 200),
            record("x", SERVER, server_big, is_text=False),
        ],
    )
    cell = measure(path, Setting(12, 5))
    # RFC 6455: 2-byte header up to 125, 4 up to 65535, 10 beyond; client frames add a 4-byte mask.
    assert cell["wire_raw_bytes"] == (10 + 2 + 4) + (200 + 4) + (70_000 + 10)
    streams = corpus.load(path).streams()
    sizes = {
        s.direction: [len(f) for f in compress_stream(s.payloads, Setting(12, 5), 12, ZLIB)]
        for s in streams
    }
    expected = sum(n + sweep.frame_header_size(n, masked=True) for n in sizes[CLIENT]) + sum(
        n + sweep.frame_header_size(n, masked=False) for n in sizes[SERVER]
    )
    assert cell["wire_compressed_bytes"] == expected
    assert cell["client_compressed_bytes"] == sum(sizes[CLIENT])


# Sampling whole connections ------------------------------------------------------------------


def many_connections(tmp_path: Path, count: int = 12) -> Path:
    chat = chat_messages(count * 10, seed=21)
    records = [
        record(f"user-{i % count}", SERVER if i % 3 else CLIENT, m) for i, m in enumerate(chat)
    ]
    return write_records(tmp_path / "many.records.jsonl", records)


def test_sample_keeps_whole_connections_seeded(tmp_path: Path) -> None:
    loaded = corpus.load(many_connections(tmp_path))
    sampled = corpus.sample_connections(loaded, 4, seed=1)
    kept = set(sampled.connections)
    assert len(kept) == 4
    # Every message of a kept connection, in order; none of the others.
    assert sampled.messages == [m for m in loaded.messages if m.connection in kept]
    assert sampled.sampled == {"connections": 4, "of_connections": 12, "seed": 1}
    assert corpus.sample_connections(loaded, 4, seed=1).messages == sampled.messages
    others = {tuple(corpus.sample_connections(loaded, 4, seed=s).connections) for s in range(8)}
    assert len(others) > 1  # the seed matters
    assert corpus.sample_connections(loaded, 12, seed=1) is loaded


def test_sample_on_one_connection_is_an_error(chat_corpus_path: Path) -> None:
    with pytest.raises(CorpusError, match="only one"):
        corpus.sample_connections(corpus.load(chat_corpus_path), 1)


def test_run_on_a_har_with_client_window_bits_and_sample(tmp_path: Path, har_path: Path) -> None:
    output = tmp_path / "run.json"
    outcome = CliRunner().invoke(
        cli,
        [
            "run",
            str(har_path),
            "--window-bits",
            "12",
            "--mem-level",
            "5",
            "--client-window-bits",
            "9",
            "--sample",
            "1",
            "--seed",
            "2",
            "--repeat",
            "1",
            "-j",
            "1",
            "--quiet",
            "-o",
            str(output),
        ],
    )
    assert outcome.exit_code == 0, outcome.output
    document = json.loads(output.read_text())
    meta, (cell,) = document["meta"], document["cells"]
    assert meta["corpus"]["sampled"] == {"connections": 1, "of_connections": 2, "seed": 2}
    assert meta["grid"]["client_window_bits"] == 9
    assert (cell["window_bits"], cell["client_window_bits"], cell["mem_level"]) == (12, 9, 5)
    kept = corpus.sample_connections(corpus.load(har_path), 1, seed=2)
    client = [m.payload for m in kept.messages if m.direction == CLIENT]
    expected = sum(map(len, compress_stream(client, Setting(12, 5), 9, ZLIB)))
    assert cell["client_compressed_bytes"] == expected
