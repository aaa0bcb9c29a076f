"""Corpus readers: what each format yields, and one precise error for every bad input."""

from __future__ import annotations

import base64
import itertools
import json
from pathlib import Path

import pytest

from wsztune import corpus
from wsztune.errors import CorpusError

HEADER = b'{"wsztune":"records/1"}\n'


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_jsonl_payload_is_the_line_as_written(tmp_path: Path) -> None:
    # Spaces and key order are kept: re-serializing would change the sizes being measured.
    path = write(tmp_path, "m.jsonl", b'{"b": 1,  "a": 2}\n\n[1,2]\r\n"x"')
    loaded = corpus.load(path)
    assert [m.payload for m in loaded.messages] == [b'{"b": 1,  "a": 2}', b"[1,2]", b'"x"']
    assert loaded.format == "jsonl"
    assert loaded.raw_bytes == 17 + 5 + 3
    assert len(loaded.sha256) == 64
    assert [s.direction for s in loaded.streams()] == ["server"]


def test_crlf_never_reaches_the_payload(tmp_path: Path) -> None:
    path = write(tmp_path, "m.jsonl", b'{"a":1}\r\n{"a":2}\r\n')
    assert [m.payload for m in corpus.load(path).messages] == [b'{"a":1}', b'{"a":2}']


def test_lines_format_takes_any_text(tmp_path: Path) -> None:
    path = write(tmp_path, "m.txt", b"hello world\nnot json {\n\n")
    loaded = corpus.load(path)
    assert [m.payload for m in loaded.messages] == [b"hello world", b"not json {"]
    assert loaded.format == "lines"


def test_directory_one_message_per_file_sorted(tmp_path: Path) -> None:
    folder = tmp_path / "msgs"
    folder.mkdir()
    (folder / "b.json").write_bytes(b'{"n":2}')
    (folder / "a.json").write_bytes(b'{"n":1}')
    (folder / "c.bin").write_bytes(b"\xff\xfe")
    (folder / ".hidden").write_bytes(b"skip")
    (folder / "sub").mkdir()
    loaded = corpus.load(folder)
    assert [m.payload for m in loaded.messages] == [b'{"n":1}', b'{"n":2}', b"\xff\xfe"]
    assert [m.is_text for m in loaded.messages] == [True, True, False]
    assert loaded.format == "dir"


def test_records_connections_and_directions(tmp_path: Path) -> None:
    lines = [
        {"connection": "c1", "direction": "client", "text": "hi"},
        {"connection": "c2", "direction": "server", "base64": base64.b64encode(b"\0\1").decode()},
        {"connection": "c1", "direction": "server", "text": "héllo"},
        {"connection": 7, "direction": "client", "text": "x"},
    ]
    data = HEADER + b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    loaded = corpus.load(write(tmp_path, "r.jsonl", data))
    assert loaded.format == "records"
    assert loaded.connections == ["c1", "c2", "7"]
    streams = {(s.connection, s.direction): s.payloads for s in loaded.streams()}
    assert streams == {
        ("c1", "client"): [b"hi"],
        ("c2", "server"): [b"\0\1"],
        ("c1", "server"): ["héllo".encode()],
        ("7", "client"): [b"x"],
    }
    assert [m.is_text for m in loaded.messages] == [True, False, True, True]


def test_records_by_explicit_format_need_no_header(tmp_path: Path) -> None:
    path = write(tmp_path, "r.data", b'{"connection":"a","direction":"client","text":"t"}\n')
    loaded = corpus.load(path, "records")
    assert loaded.messages[0].direction == "client"


def test_sampling_keeps_whole_connections_seeded(tmp_path: Path) -> None:
    lines = [
        json.dumps({"connection": f"c{i % 10}", "direction": "server", "text": f"m{i}"})
        for i in range(100)
    ]
    loaded = corpus.load(write(tmp_path, "r.jsonl", HEADER + "\n".join(lines).encode()))
    sample = corpus.sample_connections(loaded, 3, seed=4)
    assert len(sample.connections) == 3
    assert len(sample.messages) == 30  # ten messages per connection, none cut
    assert sample.connections == corpus.sample_connections(loaded, 3, seed=4).connections
    assert sample.sampled == {"connections": 3, "of_connections": 10, "seed": 4}


def test_sampling_a_single_connection_corpus_is_an_error(tmp_path: Path) -> None:
    loaded = corpus.load(write(tmp_path, "m.jsonl", b"1\n2\n"))
    with pytest.raises(CorpusError, match="only one"):
        corpus.sample_connections(loaded, 1)


def test_har_websocket_entries_become_connections(tmp_path: Path) -> None:
    har = {
        "log": {
            "version": "1.2",
            "entries": [
                {"request": {"url": "https://example.test/"}, "response": {"status": 200}},
                {
                    "_resourceType": "websocket",
                    "_webSocketMessages": [
                        {"type": "send", "opcode": 1, "data": '{"op":"sub"}', "time": 1.0},
                        {"type": "receive", "opcode": 1, "data": '{"ok":true}', "time": 1.1},
                        {"type": "receive", "opcode": 2, "data": "AAEC", "time": 1.2},
                        {"type": "receive", "opcode": 9, "data": "", "time": 1.3},
                    ],
                },
                {
                    "_resourceType": "websocket",
                    "_webSocketMessages": [{"type": "receive", "opcode": 1, "data": "x"}],
                },
            ],
        }
    }
    loaded = corpus.load(write(tmp_path, "c.har", json.dumps(har).encode()))
    assert loaded.format == "har"
    assert [(m.connection, m.direction, m.payload, m.is_text) for m in loaded.messages] == [
        ("ws1", "client", b'{"op":"sub"}', True),
        ("ws1", "server", b'{"ok":true}', True),
        ("ws1", "server", b"\x00\x01\x02", False),
        ("ws2", "server", b"x", True),
    ]


def test_bundled_demo_corpus_loads() -> None:
    loaded = corpus.load(corpus.demo_corpus_path())
    assert loaded.format == "records"
    assert len(loaded.connections) > 1
    assert {m.direction for m in loaded.messages} == {"server", "client"}


@pytest.mark.parametrize(
    ("name", "data", "fmt", "line", "reason"),
    [
        ("empty.jsonl", b"", None, None, "the file is empty"),
        ("blank.jsonl", b"\n  \n\r\n", None, None, "only blank lines"),
        ("bad.jsonl", b'{"a":1}\n{"a":\n{"a":3}\n', None, 2, "not valid JSON"),
        ("trunc.jsonl", b'{"a":1}\n{"a":2', None, 2, "not valid JSON"),
        ("utf8.jsonl", b'"ok"\n"\xff\xfe"\n', None, 2, "not valid UTF-8"),
        ("nul.jsonl", b'{"a":1}\n\x00\n', None, 2, "not valid JSON"),
        ("utf8.txt", b"fine\n\xc3\x28\n", None, 2, "not valid UTF-8"),
        ("only-header.jsonl", HEADER, None, None, "no messages"),
        ("dir.unknown", b"x", None, None, "cannot tell the format"),
        (
            "r1.jsonl",
            HEADER + b'{"connection":"a","direction":"up","text":"x"}\n',
            None,
            2,
            '"direction" must be "server"',
        ),
        ("r2.jsonl", HEADER + b'{"connection":"a","direction":"server"}\n', None, 2, "exactly one"),
        (
            "r3.jsonl",
            HEADER + b'{"connection":"a","direction":"server","base64":"!!"}\n',
            None,
            2,
            "not valid base64",
        ),
        ("r4.jsonl", HEADER + b"[1,2]\n", None, 2, "a record is an object"),
        ("r5.jsonl", b'{"wsztune":"records/9"}\n', "records", 1, "unsupported records version"),
        ("h1.har", b"{not json", None, 1, "not a HAR file"),
        ("h2.har", b'{"log":{}}', None, None, 'no "log.entries"'),
        ("h3.har", b'{"log":{"entries":[{"request":{}}]}}', None, None, "no WebSocket messages"),
        (
            "h4.har",
            b'{"log":{"entries":[{"_webSocketMessages":[{"type":"receive","opcode":2,"data":"%"}]}]}}',
            None,
            None,
            "not valid base64",
        ),
    ],
)
def test_bad_input_is_one_precise_error(
    tmp_path: Path, name: str, data: bytes, fmt: str | None, line: int | None, reason: str
) -> None:
    path = write(tmp_path, name, data)
    with pytest.raises(CorpusError) as caught:
        corpus.load(path, fmt)
    error = caught.value
    assert reason in str(error)
    assert error.line == line
    assert str(error).startswith(str(path))
    assert "\n" not in str(error)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="no such file"):
        corpus.load(tmp_path / "nope.jsonl")


def test_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="holds no files"):
        corpus.load(tmp_path)


def test_har_error_names_the_frame(tmp_path: Path) -> None:
    data = b'{"log":{"entries":[{},{"_webSocketMessages":[{"type":"x","data":""}]}]}}'
    with pytest.raises(CorpusError, match=r"entries\[1\]\._webSocketMessages\[0\]"):
        corpus.load(write(tmp_path, "t.har", data))


def test_invalid_json_in_the_middle_of_a_long_file_names_its_line(tmp_path: Path) -> None:
    lines = [b'{"n":%d}' % i for i in range(100_000)]
    lines[73_456] = b'{"n":'
    path = write(tmp_path, "big.jsonl", b"\n".join(lines) + b"\n")
    with pytest.raises(CorpusError) as caught:
        corpus.load(path)
    assert caught.value.line == 73_457


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("corpora/chat.records.jsonl", "chat"),
        ("x/api.jsonl", "api"),
        ("cap.har", "cap"),
        ("dir", "dir"),
    ],
)
def test_corpus_name(name: str, expected: str) -> None:
    assert corpus.corpus_name(name) == expected


def test_json_error_reads_as_a_sentence(tmp_path: Path) -> None:
    path = write(tmp_path, "ctrl.jsonl", b'{"a": "x\x01y"}\n')
    with pytest.raises(CorpusError) as caught:
        corpus.load(path)
    assert "Invalid control character at column 9" in str(caught.value)
    assert " at at " not in str(caught.value)


def test_a_loaded_corpus_holds_no_object_per_message(tmp_path: Path) -> None:
    """One buffer and a few arrays, whatever the message count: forked workers then share it."""
    import gc
    import sys

    path = tmp_path / "many.jsonl"
    path.write_bytes(b"".join(b'{"n":%d}\n' % n for n in range(20_000)))
    gc.collect()
    before = len(gc.get_objects())
    loaded = corpus.load(path)
    streams = loaded.streams()
    gc.collect()
    assert len(gc.get_objects()) - before < 100  # a list of 20,000 messages would add 20,000
    assert loaded.raw_bytes == sum(len(b'{"n":%d}' % n) for n in range(20_000))
    assert sys.getsizeof(loaded.packed.data) < 2 * loaded.raw_bytes
    # Views on demand, equal to what a list of messages gave.
    assert loaded.messages[19_999] == corpus.Message(b'{"n":19999}')
    assert list(streams[0].payloads[:2]) == [b'{"n":0}', b'{"n":1}']
    assert [bytes(view) for view in itertools.islice(streams[0].buffers(), 2)] == [
        b'{"n":0}',
        b'{"n":1}',
    ]


# Timestamps: an optional "t" per record -----------------------------------------------------------


def test_records_carry_optional_timestamps(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "t.jsonl",
        b'{"wsztune":"records/1"}\n'
        b'{"connection":"a","direction":"client","t":0,"text":"hi"}\n'
        b'{"connection":"a","direction":"server","t":1.25,"base64":"AAE="}\n',
    )
    loaded = corpus.load(path)
    assert [message.t for message in loaded.messages] == [0.0, 1.25]
    assert [message.payload for message in loaded.messages] == [b"hi", b"\0\1"]
    # Without "t" nothing changes: the field defaults to None.
    assert corpus.Message(b"x").t is None


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (b'"t":-1', '"t" must be the seconds since the start'),
        (b'"t":"3"', "not '3'"),
        (b'"t":true', "not True"),
        (b'"t":NaN', "not nan"),
        (b'"t":1' + b"0" * 400, "..."),
    ],
)
def test_bad_timestamp_names_its_line(tmp_path: Path, record: bytes, reason: str) -> None:
    path = write(
        tmp_path,
        "t.jsonl",
        b'{"wsztune":"records/1"}\n{"connection":"a","direction":"server","text":"x",'
        + record
        + b"}\n",
    )
    with pytest.raises(CorpusError) as caught:
        corpus.load(path)
    assert caught.value.line == 2
    assert reason in str(caught.value)
    assert len(str(caught.value)) < 300


def test_timestamps_on_some_records_only_is_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "t.jsonl",
        b'{"wsztune":"records/1"}\n'
        b'{"connection":"a","t":0.5,"text":"x"}\n'
        b'{"connection":"a","t":0.7,"text":"y"}\n'
        b'{"connection":"a","text":"z"}\n',
    )
    with pytest.raises(CorpusError, match='line 2 has one, line 4 has none') as caught:
        corpus.load(path)
    assert caught.value.line == 4


def test_har_frame_times_become_t_from_the_first_frame(tmp_path: Path) -> None:
    def har(frames: list[dict[str, object]]) -> bytes:
        return json.dumps({"log": {"entries": [{"_webSocketMessages": frames}]}}).encode()

    timed = [
        {"type": "send", "time": 1709542801.25, "opcode": 1, "data": "a"},
        {"type": "receive", "time": 1709542803.75, "opcode": 1, "data": "b"},
    ]
    loaded = corpus.load(write(tmp_path, "timed.har", har(timed)))
    assert [message.t for message in loaded.messages] == [0.0, 2.5]
    # One frame without a time: no message keeps one (rates need them all).
    untimed = [*timed, {"type": "receive", "opcode": 1, "data": "c"}]
    loaded = corpus.load(write(tmp_path, "untimed.har", har(untimed)))
    assert [message.t for message in loaded.messages] == [None, None, None]
