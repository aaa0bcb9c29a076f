"""Corpus readers: what each format yields, and one precise error for every bad input."""

from __future__ import annotations

import base64
import itertools
import json
import re
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
    with pytest.raises(CorpusError, match="line 2 has one, line 4 has none") as caught:
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


# Inputs read as what they are, or refused (issue 17) ----------------------------------------------

RECORD = b'{"connection":"c1","direction":"server","text":"{\\"a\\":1}"}\n'
RECORD_B64 = b'{"connection":"c2","direction":"client","base64":"AAEC"}\n'


@pytest.mark.parametrize(
    ("name", "data", "fmt", "line", "reason"),
    [
        # Records without their header: refused, naming both ways out (not guessed either way).
        ("no-header.jsonl", RECORD * 3, None, 1, "looks like a record"),
        ("no-header-b64.jsonl", RECORD_B64 + RECORD, None, 1, "--format records"),
        ("blank-first.jsonl", b"\n\n" + RECORD, None, 3, "no records header"),
        ("dir-only.jsonl", b'{"direction":"client","text":"hi"}\n', None, 1, "looks like a record"),
        ("int-conn.ndjson", b'{"connection":7,"base64":""}\n', None, 1, "looks like a record"),
        ("records.log", RECORD * 2, None, 1, "pass --format lines"),
        # A header naming another version, or a second header: refused, with the line.
        ("v9.jsonl", b'{"wsztune":"records/9"}\n' + RECORD, None, 1, "unsupported records"),
        ("v9.txt", b'{"wsztune":"records/9"}\n' + RECORD, None, 1, "upgrade wsztune"),
        ("v0.jsonl", b'{"wsztune": "records/0"}\n' + RECORD, None, 1, "'records/0'"),
        ("vnum.jsonl", b'{"wsztune": 1}\n' + RECORD, None, 1, "unsupported records version 1"),
        ("v9r.jsonl", b'{"wsztune":"records/9"}\n' + RECORD, "records", 1, "unsupported"),
        ("cat.jsonl", HEADER + RECORD + HEADER + RECORD, None, 3, "a records header after records"),
        ("last.jsonl", RECORD + HEADER, "records", 2, "keep one header, on the first line"),
        ("pretty.txt", b'[\n  "hello",\n  "world"\n]\n', None, 1, "--format json"),
        ("rec.json", HEADER + RECORD, None, 2, "--format records"),
        ("half.jsonl", b'[{"a": 1},\n {"a": 2}]\n', None, 1, "--format json"),
        # A header is never a message, whatever --format says.
        ("hdr.jsonl", HEADER + b'{"a":1}\n', "jsonl", 1, "pass --format records"),
        ("hdr.txt", HEADER + b"hello\n", "lines", 1, "records header"),
        # A JSON array: --format json, not one message of JSONL.
        ("array.jsonl", b'[{"a":1},{"a":2},{"a":3}]\n', None, None, "--format json"),
        ("array2.jsonl", b"\n  [1, 2]  \n\n", "jsonl", None, "one JSON array"),
        ("pretty.jsonl", b'[\n  {"a": 1},\n  {"a": 2}\n]\n', None, 1, "--format json"),
        ("obj.json", b'{"a": [1, 2]}', None, None, "not an array"),
        ("har.json", b'{"log": {"entries": []}}', None, None, "--format har"),
        ("lines.json", b'{"a":1}\n{"a":2}\n', None, 2, "--format jsonl"),
        ("recs.json", b'[{"connection":"a","text":"x"}]', None, None, "--format records"),
        ("nan.json", b"[1, NaN]", None, None, "NaN"),
        ("empty.json", b"[]", None, None, "no messages"),
        ("str.json", b'"just a string"', None, None, "a JSON string, not an array"),
        ("bad.json", b"[1, 2", None, 1, "not valid JSON"),
        ("deep.json", b"[" * 100_000 + b"]" * 100_000, None, None, "nested too deeply"),
        ("utf8.json", b'["\xff"]', None, None, "UTF-8"),
    ],
)
def test_inputs_are_read_as_what_they_are_or_refused(
    tmp_path: Path, name: str, data: bytes, fmt: str | None, line: int | None, reason: str
) -> None:
    path = write(tmp_path, name, data)
    with pytest.raises(CorpusError) as caught:
        corpus.load(path, fmt)
    assert reason in str(caught.value)
    assert caught.value.line == line
    assert "\n" not in str(caught.value)


def test_records_shaped_lines_read_as_told(tmp_path: Path) -> None:
    # Explicit formats are honoured: records without a header, or objects that are messages.
    path = write(tmp_path, "r.jsonl", RECORD + RECORD_B64)
    as_records = corpus.load(path, "records")
    assert [(m.connection, m.direction) for m in as_records.messages] == [
        ("c1", "server"),
        ("c2", "client"),
    ]
    as_jsonl = corpus.load(path, "jsonl")
    assert [m.payload for m in as_jsonl.messages] == [RECORD.rstrip(), RECORD_B64.rstrip()]


def test_objects_that_are_not_records_stay_jsonl(tmp_path: Path) -> None:
    # Near misses: a "text" without a connection or a known direction; both payload fields.
    lines = [
        b'{"text":"hello","user":"ana"}',
        b'{"direction":"north","text":"x"}',
        b'{"connection":"c","text":"x","base64":"AA=="}',
        b'{"connection":"c","text":5}',
    ]
    for line in lines:
        loaded = corpus.load(write(tmp_path, "m.jsonl", line + b"\n" + line + b"\n"))
        assert loaded.format == "jsonl" and len(loaded.messages) == 2


def test_many_array_lines_are_jsonl(tmp_path: Path) -> None:
    # Phoenix channels send arrays: a JSONL of arrays is a corpus, one message per line.
    path = write(
        tmp_path, "phx.jsonl", b'[null,"1","room:1","phx_join",{}]\n[null,"2","r","x",{}]\n'
    )
    assert len(corpus.load(path).messages) == 2


def test_long_first_record_is_still_recognised(tmp_path: Path) -> None:
    # A first record longer than what the sniffer parses is recognised by its first key, or,
    # written text first, by every line being a record once all are read.
    big = json.dumps({"connection": "c", "direction": "server", "text": "x" * (2 << 20)})
    path = write(tmp_path, "big.jsonl", big.encode() + b"\n")
    with pytest.raises(CorpusError, match="looks like a record"):
        corpus.load(path)
    text_first = json.dumps({"text": "x" * (2 << 20), "direction": "server", "connection": "c"})
    path = write(tmp_path, "big2.jsonl", (text_first + "\n").encode() + RECORD + RECORD_B64)
    with pytest.raises(CorpusError, match="every line looks like a record") as caught:
        corpus.load(path)
    assert caught.value.line == 1
    # A long first message among ordinary ones stays a message.
    path = write(tmp_path, "big3.jsonl", (text_first + "\n").encode() + b'{"a": 1}\n')
    assert len(corpus.load(path).messages) == 2
    assert len(corpus.load(write(tmp_path, "b.jsonl", RECORD * 2), "jsonl").messages) == 2


def test_header_found_after_blank_lines(tmp_path: Path) -> None:
    loaded = corpus.load(write(tmp_path, "r.jsonl", b"\n\r\n" + HEADER + RECORD))
    assert loaded.format == "records" and len(loaded.messages) == 1


def test_json_array_one_message_per_element(tmp_path: Path) -> None:
    data = json.dumps(
        [{"b": 1, "a": "é"}, "plain text", [1, 2], 3, None, {"n": {"m": []}}], indent=2
    )
    loaded = corpus.load(write(tmp_path, "msgs.json", data.encode()))
    assert loaded.format == "json"
    assert [m.payload for m in loaded.messages] == [
        '{"b":1,"a":"é"}'.encode(),
        b"plain text",
        b"[1,2]",
        b"3",
        b"null",
        b'{"n":{"m":[]}}',
    ]
    assert all(m.is_text for m in loaded.messages)
    # The same array under another name, with --format json.
    other = corpus.load(write(tmp_path, "msgs.dump", data.encode()), "json")
    assert other.messages == loaded.messages and other.sha256 == loaded.sha256


def test_results_are_never_read_as_a_corpus(tmp_path: Path, small_run_path: Path) -> None:
    data = small_run_path.read_bytes()
    compact = json.dumps(json.loads(data)).encode()
    for name, content, fmt in [
        ("run.json", data, None),
        ("run.json", data, "lines"),
        ("run.jsonl", compact, None),
        ("run.jsonl", compact, "jsonl"),
        ("run.txt", data, None),
        ("run.unknown", data, None),
    ]:
        path = write(tmp_path, name, content)
        with pytest.raises(CorpusError, match="is a wsztune results file"):
            corpus.load(path, fmt)
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"\x89PNG")
    (folder / "demo-20260101T000000Z.json").write_bytes(data)
    with pytest.raises(CorpusError, match="holds wsztune results files"):
        corpus.load(folder)


def test_corpus_kind_names_each_kind(tmp_path: Path, small_run_path: Path) -> None:
    cases = {
        "r.jsonl": (HEADER + RECORD, "a records corpus"),
        "nh.jsonl": (RECORD, "a records corpus"),
        "m.jsonl": (b'{"a":1}\n{"a":2}\n', "a JSONL corpus"),
        "a.json": (b"[1,2]", "a JSON array"),
        "c.har": (b'{\n "log": {}}', "a HAR capture"),
        "l.txt": (b"hello\n", "a corpus of text lines"),
    }
    for name, (data, kind) in cases.items():
        assert (corpus.corpus_kind(write(tmp_path, name, data)) or "").startswith(kind), name
    assert corpus.corpus_kind(small_run_path) is None
    assert corpus.corpus_kind(tmp_path) is not None


def _logging_snippets() -> list[tuple[str, str]]:
    """Every Python block of the README and the docs that writes a records file by hand."""
    root = Path(__file__).resolve().parent.parent
    pages = [root / "README.md", *sorted((root / "docs").rglob("*.md"))]
    found = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for match in re.finditer(r"^( *)```python\n(.*?)^\1```", text, re.S | re.M):
            code = "\n".join(line[len(match[1]) :] for line in match[2].splitlines())
            if "records" in code and "open(" in code and "def record(" in code:
                found.append((page.name, code))
    return found


def test_the_docs_logging_snippets_write_valid_records(tmp_path: Path, monkeypatch) -> None:
    snippets = _logging_snippets()
    assert snippets, "the README shows how to log records from a server"
    monkeypatch.chdir(tmp_path)
    for page, code in snippets:
        for existing in (None, b""):  # a new file, and an empty one left by an earlier start
            for name in list(tmp_path.iterdir()):
                name.unlink()
            if existing is not None:
                for path in re.findall(r'open\("([^"]+)"', code):
                    (tmp_path / path).write_bytes(existing)
            # Two starts of the server appending to the same file, two connections each.
            for start in range(2):
                namespace: dict[str, object] = {}
                exec(compile(code, page, "exec"), namespace)  # noqa: S102 - our own docs
                record = namespace["record"]
                for connection in (f"a{start}", f"b{start}"):
                    record(connection, "client", '{"type":"join"}')
                    record(connection, "server", b"\x00\x01binary")
                namespace["log"].close()
            (path,) = list(tmp_path.iterdir())
            loaded = corpus.load(path)
            assert loaded.format == "records", page
            assert len(loaded.connections) == 4 and len(loaded.messages) == 8
            assert path.read_bytes().count(b'"wsztune"') == 1


def test_long_lines_go_straight_into_the_buffer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines longer than LINE_PIECE are read into the corpus buffer piece by piece (issue 17):
    the same messages as short lines give, blank ones dropped, bad UTF-8 and JSON lines over
    the limit refused with the line and the way out."""
    monkeypatch.setattr(corpus, "LINE_PIECE", 16)
    long_text = "é long text line " * 10
    lines_file = tmp_path / "long.txt"
    lines_file.write_bytes(
        b"short\r\n" + long_text.encode() + b"\r\n" + b" " * 40 + b"\n" + b"x" * 32 + b"\nend"
    )
    loaded = corpus.load(lines_file)
    assert [m.payload for m in loaded.messages] == [
        b"short", long_text.encode(), b"x" * 32, b"end"
    ]
    assert loaded.raw_bytes == len(loaded.packed.data)  # nothing left behind in the buffer

    document = {"items": [{"id": n, "name": f"item {n}"} for n in range(20)]}
    jsonl = tmp_path / "long.jsonl"
    jsonl.write_text(json.dumps({"a": 1}) + "\n" + json.dumps(document) + "\n")
    assert [json.loads(m.payload) for m in corpus.load(jsonl).messages] == [{"a": 1}, document]

    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\n" + b"y" * 40 + b"\xff" + b"y" * 10 + b"\n")
    with pytest.raises(CorpusError, match=r"bad.txt:2: not valid UTF-8 at byte 41 of the line"):
        corpus.load(bad)

    monkeypatch.setattr(corpus, "MAX_JSONL_LINE", 100)
    big = tmp_path / "big.jsonl"
    big.write_text(json.dumps({"a": 1}) + "\n" + json.dumps(document) + "\n")
    refused = r"big.jsonl:2: a line of .* bytes, over the .*--format lines"
    with pytest.raises(CorpusError, match=refused):
        corpus.load(big)
    assert len(corpus.load(big, "lines").messages) == 2  # the way out works


def test_a_byte_order_mark_and_a_huge_integer_are_read_not_refused(tmp_path: Path) -> None:
    """Issue 29's adversarial pass: a JSONL corpus saved with a BOM, and a valid JSON message
    holding a 5,000-digit integer, were refused with messages naming Python internals
    ("decode using utf-8-sig", "sys.set_int_max_str_digits"). The BOM is no part of the first
    message; the integer is valid JSON, and the line is kept as written."""
    jsonl = tmp_path / "bom.jsonl"
    jsonl.write_bytes(b'\xef\xbb\xbf{"a":1}\n{"b":2}\n')
    assert [m.payload for m in corpus.load(jsonl).messages] == [b'{"a":1}', b'{"b":2}']
    records = tmp_path / "bom.records.jsonl"
    records.write_bytes(
        b'\xef\xbb\xbf{"wsztune":"records/1"}\n{"connection":"a","direction":"server","text":"hi"}\n'
    )
    assert [m.payload for m in corpus.load(records).messages] == [b"hi"]
    big = tmp_path / "big.jsonl"
    line = b'{"n":' + b"9" * 5000 + b"}"
    big.write_bytes(line + b"\n")
    assert [m.payload for m in corpus.load(big).messages] == [line]
