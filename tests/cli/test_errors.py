"""Every reading command, fed a bad results file or a bad number, fails in one line with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from wsztune.cli import cli

BAD_RESULTS = {
    "missing": None,
    "truncated": '{"schema": "wsztune.run/1", "meta": {"corpus": ',
    "foreign": '{"name": "some other tool", "values": [1, 2, 3]}',
    "newer": '{"schema": "wsztune.run/3", "meta": {}, "cells": [{}]}',
}
EXPECTED = {
    "missing": "no such results file",
    "truncated": "not valid JSON",
    "foreign": "not a wsztune results file",
    "newer": "newer wsztune",
}


def bad_results(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.json"
    if BAD_RESULTS[kind] is not None:
        path.write_text(BAD_RESULTS[kind])
    return path


def assert_one_line(result: object, fragment: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if not line.startswith("wsztune: read ")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("wsztune: error:")
    assert fragment in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize("kind", sorted(BAD_RESULTS))
@pytest.mark.parametrize("command", ["table", "plot", "recommend"])
def test_bad_results_file(tmp_path: Path, command: str, kind: str) -> None:
    path = bad_results(tmp_path, kind)
    result = CliRunner().invoke(cli, [command, "--results", str(path)])
    assert_one_line(result, EXPECTED[kind])
    assert str(path) in result.stderr


@pytest.mark.parametrize("kind", sorted(BAD_RESULTS))
def test_compare_with_a_bad_file(tmp_path: Path, small_run_path: Path, kind: str) -> None:
    path = bad_results(tmp_path, kind)
    result = CliRunner().invoke(cli, ["compare", str(small_run_path), str(path)])
    assert_one_line(result, EXPECTED[kind])


@pytest.mark.parametrize(
    "args",
    [
        ["--max-memory", "-1KiB"],
        ["--max-memory", "64 parsecs"],
        ["--max-time-ratio", "fast"],
        ["--max-time-ratio", "-2"],
        ["--connections", "many"],
        ["--connections", "-5"],
        ["--tolerance", "abc"],
        ["--cliff", "-10%"],
        ["--relative-to", "16:5"],
    ],
)
def test_recommend_numbers_out_of_range(small_run_path: Path, args: list[str]) -> None:
    result = CliRunner().invoke(cli, ["recommend", "--results", str(small_run_path), *args])
    assert result.exit_code == 2, (args, result.output)
    assert len(result.stderr.strip().splitlines()) <= 2, result.stderr  # read + error lines
    assert result.stderr.count("wsztune: error:") == 1, result.stderr


def test_a_partial_run_is_announced_by_recommend(tmp_path: Path, small_run_path: Path) -> None:
    document = json.loads(small_run_path.read_text())
    document["meta"]["partial"] = True
    document["cells"] = document["cells"][:7]
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(document))
    result = CliRunner().invoke(cli, ["recommend", "--results", str(partial)])
    assert "partial" in result.stderr


def test_an_error_naming_a_hostile_file_stays_one_line(tmp_path: Path) -> None:
    # Issue 29's adversarial pass: a corpus file named with a newline forged a line of the log
    # (GitHub reads `::error::` lines as commands); ESC sequences reached the terminal.
    corpus = tmp_path / "evil\x1b[31m\n::error::forged.jsonl"
    corpus.write_text("{bad\n")
    result = CliRunner().invoke(cli, ["corpus", "stats", str(corpus)])
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("wsztune: error: ")
    assert r"evil\x1b[31m\n::error::forged.jsonl:1: not valid JSON" in result.stderr
