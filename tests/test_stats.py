"""``wsztune corpus stats``: counts, directions, kinds and size distribution."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

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


# A big line, checked as JSON where it lies (issue 29 item 10) ----------------------------------


def _json_or_not(data: bytes) -> bool:
    try:
        json.loads(data)
    except (ValueError, RecursionError):
        return False
    return True


def _big_payloads(size: int) -> dict[str, bytes]:
    item = json.dumps({"id": 12345, "name": "abcdefghij", "tags": ["x", "y"], "v": 1.5})
    return {
        "array of objects": ("[" + ",".join([item] * (size // (len(item) + 1))) + "]").encode(),
        "array of numbers": ("[" + ",".join(["12345"] * (size // 6)) + "]").encode(),
        "one long string": ('{"a":"' + "é" * (size // 2) + '"}').encode(),
        "plain text": b"plain text " * (size // 11),
    }


@pytest.mark.parametrize("kind", list(_big_payloads(100)))
def test_corpus_stats_keeps_one_copy_of_a_big_line(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line of N bytes costs the corpus's one copy of it, plus a window: `corpus stats` used to
    hold a copy of the payload, its text and its parsed values beside it (904 MB for 300 MB)."""
    import tracemalloc

    from wsztune import stats

    monkeypatch.setattr(stats, "_WINDOW", 1 << 16)  # the window is constant; keep it small here
    ratios = []
    for size in (1 << 21, 1 << 22):
        path = tmp_path / f"{size}.txt"
        payload = _big_payloads(size)[kind]
        path.write_bytes(payload + b"\n")
        loaded = corpus.load(path, "lines")
        tracemalloc.start()
        try:
            described = stats.describe_corpus(loaded)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert (described.json_messages, described.text_messages) == (
            (0, 1) if kind == "plain text" else (1, 0)
        )
        ratios.append(peak / len(payload))
    # Beside the corpus: a few windows, never a copy: the same small share at 2 and at 4 MiB.
    assert max(ratios) < 0.15, ratios


json_documents = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None)
@given(
    document=json_documents,
    indent=st.sampled_from([None, 1]),
    ascii_only=st.booleans(),
    cut=st.integers(min_value=0, max_value=400),
    insert=st.sampled_from(["", ",", "]", "}", '"', "x", " ", "1", ":", "\\", "\x01", "[", "."]),
    window=st.sampled_from([8, 13, 64]),
)
def test_checking_in_place_agrees_with_json_loads(
    document: object, indent: int | None, ascii_only: bool, cut: int, insert: str, window: int
) -> None:
    """Whatever the window cuts (a number, a string, a character in two), the in-place check
    says what json.loads says, for valid documents and for broken ones."""
    from wsztune import stats

    text = json.dumps(document, indent=indent, ensure_ascii=ascii_only)
    broken = text[:cut] + insert + text[cut + 1 :]
    previous = stats._WINDOW
    stats._WINDOW = window
    try:
        for candidate in (text, broken):
            data = candidate.encode("utf-8", "surrogatepass")
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                continue  # text payloads are UTF-8: the readers refuse anything else
            assert stats._is_json_in_place(memoryview(bytearray(data))) == _json_or_not(data)
    finally:
        stats._WINDOW = previous
