"""``wsztune corpus stats``: counts, directions, kinds and size distribution."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from click.testing import CliRunner

from wsztune import corpus
from wsztune.cli import cli
from wsztune.stats import describe_corpus, messages_per_second, percentile


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


def write_timed(path: Path, records: list[tuple[str, float, int]]) -> Path:
    """A records file of (connection, t, payload size) with "t" on every line."""
    lines = ['{"wsztune":"records/1"}']
    for connection, t, size in records:
        lines.append(json.dumps({"connection": connection, "t": t, "text": "x" * size}))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_rates_from_timestamps(tmp_path: Path) -> None:
    # Connection a: 5 messages over 2 s (2.0/s between them); b: 3 over 4 s (0.5/s);
    # c: one message, no rate of its own. The capture spans 1.0 .. 6.0 s.
    records = [("a", 1.0 + 0.5 * i, 10) for i in range(5)]
    records += [("b", 2.0 + 2.0 * i, 20) for i in range(3)]
    records += [("c", 2.5, 30)]
    stats = describe_corpus(corpus.load(write_timed(tmp_path / "t.jsonl", records)))
    rates = stats.rates
    assert rates is not None
    assert rates.duration_seconds == 5.0
    assert rates.messages_per_second == 9 / 5.0
    assert rates.bytes_per_second == (50 + 60 + 30) / 5.0
    assert rates.rated_connections == 2
    assert rates.connection_messages_per_second_median == (2.0 + 0.5) / 2
    assert rates.connection_messages_per_second_p95 == 2.0
    assert messages_per_second(corpus.load(tmp_path / "t.jsonl")) == 9 / 5.0


def test_no_timestamps_no_rates(chat_corpus_path: Path) -> None:
    loaded = corpus.load(chat_corpus_path)
    assert describe_corpus(loaded).rates is None
    assert messages_per_second(loaded) is None


def test_all_at_one_instant_has_a_duration_but_no_rate(tmp_path: Path) -> None:
    path = write_timed(tmp_path / "t.jsonl", [("a", 3.0, 5), ("b", 3.0, 5)])
    rates = describe_corpus(corpus.load(path)).rates
    assert rates is not None
    assert rates.duration_seconds == 0.0
    assert rates.messages_per_second is None and rates.bytes_per_second is None
    assert rates.rated_connections == 0


def test_cli_stats_shows_rates(tmp_path: Path) -> None:
    path = write_timed(tmp_path / "t.jsonl", [("a", 0.0, 10), ("a", 4.0, 10), ("b", 2.0, 10)])
    result = CliRunner().invoke(cli, ["corpus", "stats", str(path)])
    assert result.exit_code == 0, result.output
    assert "duration" in result.stdout and "4.0 s" in result.stdout
    assert "0.75" in result.stdout  # 3 messages in 4 s
    data = json.loads(CliRunner().invoke(cli, ["corpus", "stats", str(path), "--json"]).stdout)
    assert data["rates"]["messages_per_second"] == 0.75
    assert data["rates"]["connection_messages_per_second_median"] == 0.25
