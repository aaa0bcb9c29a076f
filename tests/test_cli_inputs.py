"""The reading commands, fed inputs of the wrong kind or in another form: read as what they are,
or refused in one line with exit code 2 (issue 17)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from wsztune.cli import cli

RECORD = '{"connection":"c1","direction":"server","text":"{\\"a\\":1}"}'


def invoke(*args: str) -> object:
    return CliRunner().invoke(cli, list(args))


def error_lines(result: object) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("wsztune: error:")]


@pytest.mark.parametrize(
    ("name", "content", "extra", "fragment"),
    [
        ("nohdr.jsonl", RECORD + "\n" + RECORD + "\n", [], "no records header"),
        ("v9.jsonl", '{"wsztune":"records/9"}\n' + RECORD + "\n", [], "unsupported records"),
        ("arr.jsonl", '[{"a":1},{"a":2}]\n', [], "--format json"),
        ("arr2.jsonl", '[{"a":1},{"a":2}]\n', ["--format", "jsonl"], "--format json"),
        ("obj.json", '{"a":1}', [], "not an array"),
    ],
)
@pytest.mark.parametrize("command", [["corpus", "stats"], ["run", "--no-timing", "-q"]])
def test_misread_inputs_are_refused_by_every_command(
    tmp_path: Path, command: list[str], name: str, content: str, extra: list[str], fragment: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    out = ["-o", str(tmp_path / "out.json")] if command[0] == "run" else []
    result = invoke(*command, str(path), *extra, *out)
    assert result.exit_code == 2, result.output
    (line,) = error_lines(result)
    assert fragment in line and str(path) in line
    assert not (tmp_path / "out.json").exists()


def test_json_array_corpus_end_to_end(tmp_path: Path) -> None:
    messages = [{"type": "tick", "seq": i, "price": 100 + i % 7} for i in range(50)]
    path = tmp_path / "ticks.json"
    path.write_text(json.dumps(messages, indent=2))
    stats = invoke("corpus", "stats", str(path), "--json")
    assert stats.exit_code == 0, stats.output
    document = json.loads(stats.stdout)
    assert document["messages"] == 50
    compact = sum(len(json.dumps(m, separators=(",", ":"))) for m in messages)
    assert document["raw_bytes"] == compact
    # Under another name, only with --format json.
    other = tmp_path / "ticks.dump"
    other.write_text(path.read_text())
    assert invoke("corpus", "stats", str(other)).exit_code == 2
    assert invoke("corpus", "stats", str(other), "--format", "json").exit_code == 0


def test_results_given_as_a_corpus_and_a_corpus_given_as_results(
    tmp_path: Path, small_run_path: Path, chat_corpus_path: Path
) -> None:
    result = invoke("corpus", "stats", str(small_run_path))
    assert result.exit_code == 2
    assert "is a wsztune results file" in error_lines(result)[0]
    folder = small_run_path.parent
    result = invoke("corpus", "stats", str(folder))
    assert result.exit_code == 2 and "holds wsztune results files" in result.stderr
    for command in ("table", "recommend", "plot"):
        result = invoke(command, "--results", str(chat_corpus_path))
        assert result.exit_code == 2
        (line,) = error_lines(result)
        assert "is a JSONL corpus" in line and "wsztune run" in line
    result = invoke("compare", str(small_run_path), str(chat_corpus_path))
    assert result.exit_code == 2 and "is a JSONL corpus" in result.stderr
    result = invoke("table", "--results", str(folder))
    assert result.exit_code == 2 and "--results-dir" in result.stderr


@pytest.mark.parametrize("text", ["64", "65536", "1.5"])
@pytest.mark.parametrize("command", ["table", "plot", "recommend"])
def test_a_size_without_unit_is_refused_with_its_likely_meaning(
    small_run_path: Path, command: str, text: str
) -> None:
    result = invoke(command, "--results", str(small_run_path), "--max-memory", text)
    assert result.exit_code == 2
    (line,) = error_lines(result)
    assert "did you mean" in line and "needs a unit" in line


def test_slash_and_colon_settings_are_the_same_everywhere(small_run_path: Path) -> None:
    for option in ("--check", "--relative-to"):
        colon = invoke("recommend", "--results", str(small_run_path), option, "12:5", "--json")
        slash = invoke("recommend", "--results", str(small_run_path), option, "12/5", "--json")
        assert colon.exit_code == slash.exit_code
        assert json.loads(colon.stdout) == json.loads(slash.stdout)
    colon = invoke("table", "--results", str(small_run_path), "--relative-to", "12:5")
    slash = invoke("table", "--results", str(small_run_path), "--relative-to", "12/5")
    assert colon.exit_code == slash.exit_code == 0 and colon.stdout == slash.stdout
    for bad in ("12-5", "12:5:1", "12/", "/5", "12\\5"):
        result = invoke("recommend", "--results", str(small_run_path), "--check", bad)
        assert result.exit_code == 2 and "WINDOW_BITS:MEM_LEVEL" in result.stderr
