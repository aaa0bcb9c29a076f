"""``wsztune corpus stats``: counts, directions, kinds and size distribution."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from click.testing import CliRunner

from wsztune import corpus
from wsztune.cli import cli
from wsztune.stats import describe_corpus, percentile


def test_percentile_nearest_rank() -> None:
    values = list(range(1, 101))
    assert percentile(values, 0.95) == 95
    assert percentile(values, 0.5) == 50
    assert percentile([7], 0.99) == 7


def test_describe_records(tmp_path: Path) -> None:
    lines = [
        '{"wsztune":"records/1"}',
        json.dumps({"connection": "a", "direction": "server", "text": '{"x":1}'}),
        json.dumps({"connection": "a", "direction": "client", "text": "plain words"}),
        json.dumps(
            {
                "connection": "b",
                "direction": "server",
                "base64": base64.b64encode(b"\0" * 9).decode(),
            }
        ),
    ]
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(lines) + "\n")
    stats = describe_corpus(corpus.load(path))
    assert (stats.messages, stats.connections) == (3, 2)
    assert (stats.server_messages, stats.client_messages) == (2, 1)
    assert (stats.json_messages, stats.text_messages, stats.binary_messages) == (1, 1, 1)
    assert stats.raw_bytes == 7 + 11 + 9 == stats.server_bytes + stats.client_bytes
    assert (stats.sizes.minimum, stats.sizes.median, stats.sizes.maximum) == (7, 9, 11)


def test_cli_stats_text_and_json(chat_corpus_path: Path) -> None:
    result = CliRunner().invoke(cli, ["corpus", "stats", str(chat_corpus_path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["messages"] == 300
    assert data["json_messages"] == 300
    result = CliRunner().invoke(cli, ["corpus", "stats", str(chat_corpus_path)])
    assert result.exit_code == 0
    assert "messages" in result.stdout and "300" in result.stdout


def test_cli_stats_bad_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{\n")
    result = CliRunner().invoke(cli, ["corpus", "stats", str(bad)])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "bad.jsonl:1: not valid JSON" in result.stderr


def test_deeply_nested_text_is_counted_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "deep.txt"
    path.write_text("[" * 100_000 + "\n")
    result = CliRunner().invoke(cli, ["corpus", "stats", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["text_messages"] == 1
