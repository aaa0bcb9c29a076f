"""Compress once for a broadcast: gorilla's ``PreparedMessage`` against the real library.

gorilla makes a prepared message's frames once, on a fake connection whose write buffer is
4096 + 14 bytes (prepared.go), and sends those same bytes to every subscriber. The go codec's
``prepared`` job models that; here a real gorilla server (wsztune/live/golive, ``replay`` mode
with ``prepared``) writes each corpus message with ``WritePreparedMessage`` to a client on
127.0.0.1, and the frames read off the TCP connection must equal the model's, byte for byte,
on a subset of every bundled corpus and on messages large enough for several frames.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.codecs.test_go import REPO, big_messages, go_cache, pytestmark, reference, wire_report  # noqa: F401
from wsztune import corpus
from wsztune.codecs import go
from wsztune.permessage_deflate import Setting

BUNDLED = ("chat.records.jsonl", "game.records.jsonl", "market.records.jsonl", "api.jsonl",
           "websockets-commits.jsonl", "chat.har")


def server_subset(path: Path, messages: int = 40) -> corpus.Corpus:
    """The first ``messages`` server-to-client messages of a corpus: what a broadcast sends."""
    loaded = corpus.load(path)
    kept = [m for m in loaded.messages if m.direction == corpus.SERVER][:messages]
    return corpus.Corpus(str(path), loaded.format, loaded.sha256, kept)


@pytest.mark.parametrize("name", [*BUNDLED, "big"])
def test_prepared_frames_equal_gorilla_prepared_message_on_the_wire(
    name: str, go_cache: Path, reference: Path, tmp_path: Path  # noqa: F811
) -> None:
    source = big_messages(tmp_path / "big.jsonl") if name == "big" else REPO / "corpora" / name
    streams = server_subset(source).streams()
    go.write_corpus([stream.payloads for stream in streams], tmp_path / "corpus.bin")
    settings = [Setting(15, 8, level, "default", False, None, threshold)
                for level in (1, -1, 9, -2, 0) for threshold in (0, 200)]
    jobs = [go.GoJob.of(i, s, go.GO_GORILLA, prepared=True) for i, s in enumerate(settings)]
    cells = go.run_cells(tmp_path / "corpus.bin", [s.direction for s in streams], jobs)
    for job, cell in zip(jobs, cells, strict=True):
        real = wire_report(reference, tmp_path, job, streams)
        for index in range(len(streams)):
            assert real["streams"][index]["frames"] == cell.frames[index], (name, job, index)
            assert sum(real["streams"][index]["compressed"]) == cell.compressed_messages[index]
        assert real["sha256"] == cell.sha256, (name, job)


def test_prepared_frames_differ_from_a_connections_own_past_4082_bytes(
    go_cache: Path, tmp_path: Path  # noqa: F811
) -> None:
    # A net/http server's connection cuts frames at 4082 payload bytes, a PreparedMessage at
    # 4096: same payload bytes, other frame headers on big messages.
    streams = server_subset(big_messages(tmp_path / "big.jsonl")).streams()
    go.write_corpus([stream.payloads for stream in streams], tmp_path / "corpus.bin")
    setting = Setting(15, 8, 1, "default", False)
    own, prepared = go.run_cells(
        tmp_path / "corpus.bin",
        [s.direction for s in streams],
        [
            go.GoJob.of(0, setting, go.GO_GORILLA),
            go.GoJob.of(1, setting, go.GO_GORILLA, prepared=True),
        ],
    )
    assert own.sizes == prepared.sizes
    assert own.frames != prepared.frames
    assert max(max(frames) for frames in prepared.frames) > 4082


def test_run_cells_carry_the_compress_once_mode(
    go_cache: Path, reference: Path, tmp_path: Path  # noqa: F811
) -> None:
    """A gorilla run's cells each carry the compress-once mode: its wire bytes those the real
    PreparedMessage sent, memory per connection plus shared, CPU once per unique message."""
    from wsztune import sweep
    from wsztune.codecs.base import frame_header_size

    loaded = corpus.load(big_messages(tmp_path / "big.jsonl"))
    grid = sweep.SweepPlan(window_bits=(15,), mem_levels=(8,), levels=(1, 5),
                      context_takeover=(False,))
    run = sweep.sweep(loaded, grid, codec_name="go-gorilla",
                      plan=sweep.TimingPlan(measure_time=False))
    streams = loaded.streams()
    go.write_corpus([s.payloads for s in streams], tmp_path / "corpus.bin")
    for cell in run.cells:
        once = cell["compress_once"]
        setting = Setting(15, 8, cell["level"], "default", False)
        job = go.GoJob.of(0, setting, go.GO_GORILLA, True)
        real = wire_report(reference, tmp_path, job, streams)
        server_wire = sum(
            n + frame_header_size(n, False)
            for stream, report in zip(streams, real["streams"], strict=True)
            if stream.direction == corpus.SERVER
            for n in report["frames"]
        )
        assert once["server_wire_compressed_bytes"] == server_wire
        # Framed at 4096 instead of 4082: never more frames, so never more header bytes.
        assert once["server_wire_compressed_bytes"] <= (
            once["server_wire_compressed_bytes_per_connection_mode"]
        )
        assert once["wire_compressed_bytes"] <= cell["wire_compressed_bytes"]
        assert once["connection_memory"] == cell["connection_memory"]
        assert once["shared_memory"] > cell["compress_memory_peak"]


def test_recommend_sets_compress_once_against_per_connection(
    go_cache: Path, tmp_path: Path  # noqa: F811
) -> None:
    from click.testing import CliRunner

    from wsztune.cli import cli

    runner = CliRunner()
    result = runner.invoke(cli, ["run", str(big_messages(tmp_path / "big.jsonl")), "--server",
                                 "gorilla", "--level", "1,9", "--no-timing", "-j", "1", "-q",
                                 "--fanout", "500", "-o", str(tmp_path / "g.json")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["recommend", "--results", str(tmp_path / "g.json"), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    once = document["compress_once"]
    assert document["fanout"]["max"] == 500
    assert (once["compressions_per_message"], once["per_connection_compressions_per_message"]) == (
        1, 500
    )
    assert once["wire_compressed_bytes"] == document["chosen"]["compress_once"][
        "wire_compressed_bytes"
    ]
    text = runner.invoke(cli, ["recommend", "--results", str(tmp_path / "g.json")])
    assert "compress it 500 times" in " ".join(text.output.split())
