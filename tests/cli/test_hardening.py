"""Hardening (issue 7): the bad inputs, odd options and odd runs tests/test_corpus.py and
tests/cli/test_run.py do not already cover. Each must end as one line and exit code 2, or as a
correct result, never as a traceback, a lie or a lost result.
"""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support.samples import SMALL_GRID, chat_messages, write_jsonl
from tests.support.websockets_reference import websockets_frames
from wsztune import corpus, results, sweep
from wsztune.cli import cli
from wsztune.errors import CorpusError, ResultsError

HEADER = b'{"wsztune":"records/1"}\n'
FAST = ["--repeat", "1", "--min-sample-time", "0", "--jobs", "1", "--quiet"]
ONE_CELL = ["--window-bits", "12", "--mem-level", "5"]


def invoke(*args: str | Path) -> object:
    return CliRunner().invoke(cli, [str(arg) for arg in args])


def assert_one_line_error(result: object, *fragments: str) -> str:
    """Exit code 2, one ``wsztune: error:`` line on stderr with every fragment, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("wsztune: error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# Corpora ------------------------------------------------------------------------------------------


def test_a_single_50_mb_line_is_one_message(tmp_path: Path) -> None:
    # One JSON string of 50 MB: read as one message, quickly, with its exact size.
    size = 50 * 1024 * 1024
    path = tmp_path / "big.jsonl"
    with path.open("wb") as stream:
        stream.write(b'"')
        stream.write(b"a" * (size - 2))
        stream.write(b'"\n')
    # CPU time, with room to spare: a quadratic read of 50 MB would take minutes, while other
    # processes on a loaded machine only stretch wall time.
    started = time.process_time()
    loaded = corpus.load(path)
    assert time.process_time() - started < 10
    assert len(loaded.messages) == 1
    assert loaded.raw_bytes == size


def test_a_50_mb_line_with_a_bad_byte_at_its_end_names_line_and_byte(tmp_path: Path) -> None:
    size = 50 * 1024 * 1024
    path = tmp_path / "big.txt"
    path.write_bytes(b"ok\n" + b"a" * size + b"\xff\n")
    with pytest.raises(CorpusError) as caught:
        corpus.load(path)
    assert caught.value.line == 2
    assert f"at byte {size + 1} of the line" in str(caught.value)


@pytest.mark.parametrize("fmt", ["jsonl", "lines", "records"])
def test_crlf_never_reaches_a_payload_in_any_line_format(tmp_path: Path, fmt: str) -> None:
    # CRLF everywhere, a blank CRLF line, and a last line cut just after its "\r".
    lines = [
        b'{"connection":"a","direction":"server","text":"one"}',
        b'{"connection":"a","direction":"client","text":"two"}',
    ]
    # A header is never a message: only the records reader takes one (issue 17).
    header = HEADER.replace(b"\n", b"\r\n") if fmt == "records" else b""
    data = header + lines[0] + b"\r\n\r\n" + lines[1] + b"\r"
    path = tmp_path / "c.data"
    path.write_bytes(data)
    loaded = corpus.load(path, fmt)
    assert all(b"\r" not in message.payload for message in loaded.messages)
    if fmt == "records":
        assert [m.payload for m in loaded.messages] == [b"one", b"two"]
    else:
        assert [m.payload for m in loaded.messages] == lines


def test_a_nul_byte_is_a_legitimate_character_of_a_text_line(tmp_path: Path) -> None:
    # test_corpus covers NUL in JSONL (invalid JSON); in --format lines it is valid UTF-8 text.
    path = tmp_path / "nul.txt"
    path.write_bytes(b"a\x00b\n")
    assert corpus.load(path).messages[0].payload == b"a\x00b"


def test_nul_in_a_record_text_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(HEADER + b'{"text":"a\\u0000b"}\n')
    assert corpus.load(path).messages[0].payload == b"a\x00b"


def test_directory_skips_subdirectories_and_their_files(tmp_path: Path) -> None:
    root = tmp_path / "messages"
    (root / "nested" / "deeper").mkdir(parents=True)
    (root / "nested" / "x.json").write_bytes(b"{}")
    (root / "nested" / "deeper" / "y.json").write_bytes(b"{}")
    (root / "m.json").write_bytes(b"[1]")
    assert [m.payload for m in corpus.load(root).messages] == [b"[1]"]


def test_directory_keeps_empty_files_as_zero_length_messages(tmp_path: Path) -> None:
    # Decision: an empty file is an empty message (websockets sends those; they cost bytes too).
    root = tmp_path / "messages"
    root.mkdir()
    (root / "1").write_bytes(b"")
    (root / "2").write_bytes(b"x")
    (root / "3").write_bytes(b"")
    loaded = corpus.load(root)
    assert [m.payload for m in loaded.messages] == [b"", b"x", b""]
    assert [m.is_text for m in loaded.messages] == [True, True, True]


def test_directory_of_only_empty_files_still_sweeps(tmp_path: Path) -> None:
    # The odd corner: messages exist, but raw_bytes is 0. No division by zero anywhere.
    root = tmp_path / "messages"
    root.mkdir()
    for name in "abc":
        (root / name).write_bytes(b"")
    out = tmp_path / "run.json"
    result = invoke("run", root, *ONE_CELL, "--repeat", "1", "--min-sample-time", "0", "-o", out)
    assert result.exit_code == 0, (result.output, result.exception)
    (cell,) = results.load(out).cells
    assert cell["raw_bytes"] == 0
    assert cell["savings"] == 0.0
    # What websockets really sends for three empty messages, not zero.
    expected = sum(map(len, websockets_frames([b""] * 3, 12, 5)))
    assert cell["compressed_bytes"] == expected > 0


def test_directory_with_a_broken_symlink_is_one_line(tmp_path: Path) -> None:
    # Tests run as root, so chmod cannot make a file unreadable; a link to a missing file is
    # the honest unreadable entry. It used to be skipped silently (is_file() is False for it),
    # dropping a message the user meant to include.
    root = tmp_path / "messages"
    root.mkdir()
    (root / "a.json").write_bytes(b"{}")
    (root / "b.json").symlink_to(tmp_path / "gone.json")
    with pytest.raises(CorpusError) as caught:
        corpus.load(root)
    assert str(caught.value).startswith(str(root / "b.json"))
    assert "symbolic link to a missing file" in str(caught.value)
    result = invoke("run", root, "--results-dir", tmp_path / "results")
    assert_one_line_error(result, "b.json", "missing file")


def test_directory_with_an_unreadable_file_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real EACCES, simulated: root reads through chmod 000.
    root = tmp_path / "messages"
    root.mkdir()
    (root / "a.json").write_bytes(b"{}")
    (root / "secret.json").write_bytes(b"{}")
    real_read_bytes = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "secret.json":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with pytest.raises(CorpusError, match=r"secret\.json: cannot read: Permission denied$"):
        corpus.load(root)


def test_directory_with_a_symlink_to_a_file_follows_it(tmp_path: Path) -> None:
    root = tmp_path / "messages"
    root.mkdir()
    (tmp_path / "elsewhere.json").write_bytes(b'{"n":1}')
    (root / "linked.json").symlink_to(tmp_path / "elsewhere.json")
    assert [m.payload for m in corpus.load(root).messages] == [b'{"n":1}']


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"log": 1}, 'no "log.entries" list'),
        ({"log": {"entries": {"a": 1}}}, 'no "log.entries" list'),
        ([], 'no "log.entries" list'),
        ({"log": {"entries": [{"_webSocketMessages": 5}]}}, "must be a list"),
        ({"log": {"entries": [{"_webSocketMessages": [1]}]}}, "must be an object"),
        (
            {"log": {"entries": [{"_webSocketMessages": [{"type": "send", "data": 3}]}]}},
            "must be a string",
        ),
        (
            {
                "log": {
                    "entries": [
                        {"_webSocketMessages": [{"type": "send", "opcode": 2, "data": "QQ="}]}
                    ]
                }
            },
            "not valid base64",
        ),
    ],
)
def test_malformed_har_is_one_precise_error(tmp_path: Path, document: object, reason: str) -> None:
    path = tmp_path / "c.har"
    path.write_text(json.dumps(document))
    with pytest.raises(CorpusError, match=reason) as caught:
        corpus.load(path)
    assert str(caught.value).startswith(str(path))


def test_har_that_is_not_utf8_json(tmp_path: Path) -> None:
    path = tmp_path / "c.har"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CorpusError, match="not a HAR file"):
        corpus.load(path)


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"direction": "both", "text": "x"}, '"direction" must be'),
        ({"direction": None, "text": "x"}, '"direction" must be'),
        ({"direction": ["server"], "text": "x"}, '"direction" must be'),
        ({"connection": "a"}, "exactly one payload"),
        ({"text": "x", "base64": "eA=="}, "exactly one payload"),
        ({"text": None}, '"text" must be a string'),
        ({"base64": 12}, "must be a base64 string"),
        ({"connection": [1], "text": "x"}, '"connection" must be'),
        ({"connection": True, "text": "x"}, '"connection" must be'),
        ({"text": "\ud800"}, "lone surrogate"),
    ],
)
def test_bad_records_name_their_line(tmp_path: Path, record: dict, reason: str) -> None:
    good = json.dumps({"text": "fine"}).encode()
    path = tmp_path / "r.jsonl"
    path.write_bytes(HEADER + good + b"\n" + json.dumps(record).encode() + b"\n")
    with pytest.raises(CorpusError, match=reason) as caught:
        corpus.load(path)
    assert caught.value.line == 3


def test_binary_record_with_empty_payload_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(HEADER + b'{"base64":""}\n{"text":""}\n')
    loaded = corpus.load(path)
    assert [(m.payload, m.is_text) for m in loaded.messages] == [(b"", False), (b"", True)]
    assert base64.b64encode(b"") == b""


def test_corpus_path_that_is_a_dangling_symlink(tmp_path: Path) -> None:
    link = tmp_path / "c.jsonl"
    link.symlink_to(tmp_path / "gone.jsonl")
    assert_one_line_error(invoke("run", link), "c.jsonl", "no such file")


# Options ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        # Non-numeric values, for every numeric option test_cli_run.py does not already try.
        (["--warmup", "x"], "'x' is not a valid integer"),
        (["--seed", "abc"], "'abc' is not a valid integer"),
        (["--sample", "two"], "'two' is not a valid integer"),
        (["--jobs", "1.5"], "'1.5' is not a valid integer"),
        (["--client-window-bits", "big"], "'big' is not a valid integer"),
        (["--min-sample-time", "soon"], "'soon' is not a valid float"),
        (["--mem-level", "five"], "--mem-level takes numbers"),
        (["--level", "max"], "--level takes numbers"),
        # Out of range.
        (["--warmup", "0"], "--warmup must be at least 1"),
        (["--warmup", "-3"], "--warmup must be at least 1"),
        (["--client-window-bits", "16"], "client window bits must be between 8 and 15"),
        (["--jobs", "-2"], "must be at least 1"),
        (["--sample", "-1"], "must be at least 1"),
        (["--repeat", "-1"], "--repeat must be at least 1"),
        (["--min-sample-time", "11"], "--min-sample-time must be between 0 and 10"),
        (["--min-sample-time", "nan"], "--min-sample-time must be between 0 and 10"),
        (["--min-sample-time", "inf"], "--min-sample-time must be between 0 and 10"),
        (["--window-bits", "7"], "--window-bits must be within 8 to 15"),
        (["--window-bits", "15-9"], "is empty"),
        (["--window-bits", "9-99999999999999999999"], "--window-bits must be within 8 to 15"),
        (["--window-bits", "9,"], "--window-bits takes numbers"),
        (["--window-bits", ""], "--window-bits takes numbers"),
        (["--mem-level", "10"], "--mem-level must be within 1 to 9"),
        (["--level", "-2"], "--level must be within -1 to 9"),
        (["--strategy", ""], "--strategy takes"),
        (["--format", "csv"], "'csv' is not one of"),
        (["--context-takeover", "maybe"], "'maybe' is not one of"),
    ],
)
def test_every_numeric_option_out_of_range_or_not_a_number(
    tmp_path: Path, chat_corpus_path: Path, options: list[str], fragment: str
) -> None:
    result = invoke("run", chat_corpus_path, *options, "--results-dir", tmp_path / "results")
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "results").exists()


def test_sample_larger_than_the_corpus_keeps_everything(tmp_path: Path) -> None:
    lines = [json.dumps({"connection": f"c{i}", "text": f"m{i}"}).encode() for i in range(4)]
    path = tmp_path / "r.jsonl"
    path.write_bytes(HEADER + b"\n".join(lines))
    out = tmp_path / "run.json"
    result = invoke("run", path, *ONE_CELL, *FAST, "--sample", "99999999999999", "-o", out)
    assert result.exit_code == 0, result.output
    assert results.load(out).meta["corpus"]["connections"] == 4


# Results files and their directory -------------------------------------------------------------


def test_unwritable_results_dir_fails_before_the_corpus_is_read(
    tmp_path: Path, chat_corpus_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "A read-only results/ is a clear error before any work starts": loading a big corpus is
    # work, so the check must come first. As root chmod cannot make a directory read-only, so
    # the probe write fails the way a read-only mount fails.
    import tempfile

    def refuse(*args: object, **kwargs: object) -> object:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", refuse)

    def must_not_load(*args: object, **kwargs: object) -> object:
        raise AssertionError("the corpus was read before the results dir was checked")

    monkeypatch.setattr(corpus, "load", must_not_load)
    result = invoke("run", chat_corpus_path, "--results-dir", tmp_path / "ro")
    assert_one_line_error(result, str(tmp_path / "ro"), "Permission denied", "--output")


def test_read_only_results_dir_really_read_only(tmp_path: Path, chat_corpus_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as root: chmod does not stop writes (see the test above)")
        result = invoke("run", chat_corpus_path, "--results-dir", folder)
        assert_one_line_error(result, "cannot write results there")
    finally:
        folder.chmod(0o700)


def test_a_failed_final_write_keeps_the_results_elsewhere(
    tmp_path: Path, chat_corpus_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The directory passed the check, then the disk filled up during the sweep: the run is not
    # lost, it is saved in the temporary directory and the one error line says where.
    rescue = tmp_path / "rescue"
    rescue.mkdir()
    monkeypatch.setenv("TMPDIR", str(rescue))
    monkeypatch.setattr("tempfile.tempdir", None)
    target = tmp_path / "out" / "run.json"
    real_save = results.save

    def full_disk(run: results.Run, path: str | os.PathLike[str]) -> Path:
        if Path(path) == target:
            raise OSError(28, "No space left on device")
        return real_save(run, path)

    monkeypatch.setattr(results, "save", full_disk)
    result = invoke("run", chat_corpus_path, *ONE_CELL, *FAST, "-o", target)
    line = assert_one_line_error(result, str(target), "No space left on device", str(rescue))
    (kept,) = rescue.glob("*.json")
    assert str(kept) in line
    assert results.load(kept).cells[0]["window_bits"] == 12


def test_newest_ignores_temporary_files_of_an_interrupted_save(
    tmp_path: Path, small_run_path: Path
) -> None:
    run = results.load(small_run_path)
    real = results.save(run, tmp_path / "chat-20260101T000000Z.json")
    os.utime(real, (1, 1))
    # What a kill -9 between mkstemp and rename leaves: a newer, truncated temporary file.
    (tmp_path / f".{real.name}.abc123.tmp").write_text('{"schema": "wsztune.run/1", "me')
    (tmp_path / ".wsztune-probe-xyz").write_text("")
    assert results.newest(tmp_path) == real


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("", "not valid JSON"),
        ('{"schema": "wsztune.run/1", "meta": {}, "cells": [{"window_', "truncated or damaged"),
        ('{"type": "FeatureCollection", "features": []}', "not a wsztune results file"),
        ('{"schema": "wsztune.run/3", "meta": {}, "cells": [{}]}', "upgrade wsztune"),
    ],
)
def test_results_errors_are_one_line(tmp_path: Path, content: str, fragment: str) -> None:
    # results.load is what --results FILE goes through: every problem is one printable line.
    path = tmp_path / "r.json"
    path.write_text(content)
    with pytest.raises(ResultsError, match=fragment) as caught:
        results.load(path)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(str(path))


# Determinism --------------------------------------------------------------------------------------

DETERMINISTIC_FIELDS = (
    "messages",
    "raw_bytes",
    "compressed_bytes",
    "savings",
    "server_raw_bytes",
    "server_compressed_bytes",
    "client_raw_bytes",
    "client_compressed_bytes",
    "wire_raw_bytes",
    "wire_compressed_bytes",
    "compress_memory_theoretical",
    "compress_memory_observed",
    "compress_memory_peak",
    "decompress_memory_theoretical",
    "decompress_memory_observed",
    "decompress_memory_peak",
    "connection_memory_theoretical",
    "connection_memory",
)


def test_sizes_and_memory_do_not_depend_on_jobs_or_repetition(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "chat.jsonl", chat_messages(120))
    loaded = corpus.load(path)
    grid = sweep.SweepPlan(window_bits=SMALL_GRID.window_bits[:3], mem_levels=(1, 8))
    plan = sweep.TimingPlan(repeat=1, warmup=1, min_sample_seconds=0.0)

    def measured(jobs: int, seed: int) -> list[dict[str, object]]:
        run = sweep.sweep(loaded, grid, plan=plan, jobs=jobs, seed=seed)
        return [{name: cell[name] for name in DETERMINISTIC_FIELDS} for cell in run.cells]

    first = measured(1, 0)
    assert measured(1, 0) == first
    assert measured(2, 0) == first
    assert measured(2, 7) == first  # a different visiting order changes nothing either
