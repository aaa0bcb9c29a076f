"""wsztune live --server ws: a real Node ws server, bytes equal to the node codec, memory within
tolerance, one-line errors, nothing left running.

The tests that start servers need node and the ws package (installed once into a test cache by
the ``ws_dir`` fixture); they skip with the reason only where node or npm is missing.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from tests.support.samples import chat_messages, write_jsonl
from wsztune import corpus
from wsztune.cli import cli
from wsztune.codecs import base
from wsztune.corpus import CLIENT, SERVER
from wsztune.live import LiveOptions
from wsztune.live import growth as live_growth
from wsztune.live import ws as live_ws
from wsztune.live.plan import PROBE
from wsztune.live.result import LiveError
from wsztune.permessage_deflate import Setting

REPO = Path(__file__).resolve().parents[2]
CHAT = REPO / "corpora" / "chat.records.jsonl"

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def records(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """A records corpus from ``(connection, direction, text)`` rows."""
    lines = [json.dumps({"wsztune": "records/1"})]
    lines += [json.dumps({"connection": c, "direction": d, "text": t}) for c, d, t in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def runs_live_ws(process: psutil.Process) -> bool:
    """``process`` is a live --server ws node process (and still there)."""
    try:
        return str(live_ws.SCRIPT) in process.cmdline()
    except psutil.Error:
        return False


def no_node_left() -> None:
    """No child process of this test process is still running."""
    assert [p for p in psutil.Process().children(recursive=True) if p.is_running()] == []


# The plan and the model's bookkeeping (no node needed) ---------------------------------------


def test_a_silent_client_sends_the_models_probe_and_a_silent_server_nothing(
    tmp_path: Path,
) -> None:
    # ws builds a zlib stream on first use, and the model counts the connections that do: the
    # probe is the one the model assumes (compressed or not by the threshold's rule), and a
    # server that says nothing builds no compressor, live as in the model.
    path = records(
        tmp_path / "silent.records.jsonl",
        [("a", SERVER, "down"), ("b", CLIENT, "up"), ("c", SERVER, "x"), ("c", CLIENT, "y")],
    )
    plan = live_ws.ws_plan(corpus.load(path), 3, threshold=1024)
    a, b, c = (plan.script_for(i) for i in range(3))
    assert a.messages == ((SERVER, True, b"down"), PROBE) and a.probed
    assert PROBE[2] == base.PROBE_PAYLOAD
    assert b.messages == ((CLIENT, True, b"up"),) and not b.probed
    assert c.messages == ((SERVER, True, b"x"), (CLIENT, True, b"y")) and not c.probed
    # Under a 1024-byte threshold nothing is compressed; with none (takeover), everything.
    assert [live_ws.script_builds(s, 1024) for s in (a, b, c)] == [(False, False)] * 3
    assert [live_ws.script_builds(s, 0) for s in (a, b, c)] == [
        (True, True),
        (False, True),
        (True, True),
    ]


def test_memory_of_a_mix_of_connections_weighs_each_kind() -> None:
    # A fifth of the connections build a 100 KiB compressor: 20 KiB per connection, which a
    # middle half over all of them would miss (it sees none of the five).
    growth = [100_000.0] * 5 + [0.0] * 20
    kinds = [(True, False)] * 5 + [(False, False)] * 20
    assert live_growth.interquartile_mean(growth) == 0
    assert live_growth.grouped_growth(growth, kinds) == 20_000
    # One kind: the middle half of all, robust to one heap step as before.
    assert live_growth.grouped_growth([90, 90, 2090, 90], [(True, True)] * 4) == 90
    builds = [(True, True), (False, True), (False, False), (True, False)]
    assert live_ws.model_connection_memory(builds, 100.0, 40.0) == (140 + 40 + 0 + 100) / 4


def test_half_slope_takes_the_second_half_over_whole_cycles() -> None:
    # The Go check's heap slope: connections alternate between a script that costs 20 and one
    # that costs nothing. Over whole cycles that is 10 per connection, exactly; step by step the
    # same mean would carry a spread that is only the plan's variety.
    marks = [0, 100, 100, 120, 120, 140, 140, 160, 160]  # the first half warms up
    assert live_growth.half_slope(marks, cycle=2) == (10.0, 0.0)
    mean, error = live_growth.half_slope(marks)
    assert mean == 10.0 and error > 0
    assert live_growth.half_slope([0, 5]) == (5.0, math.inf)  # one step: no error to give
    assert live_growth.half_slope([7]) == (0.0, math.inf)


def test_the_model_counts_each_script_once_per_live_connection(tmp_path: Path) -> None:
    path = records(
        tmp_path / "three.records.jsonl",
        [(name, direction, name * 10) for name in "abc" for direction in (SERVER, CLIENT)],
    )
    loaded = corpus.load(path)
    plan = live_ws.ws_plan(loaded, 5, threshold=0)  # a, b, c, a, b: a and b twice, c once
    swept: list[list[str]] = []

    def fake_model(part: corpus.Corpus, setting: Setting, threshold: int) -> dict[str, int]:
        swept.append(part.connections)
        server = sum(len(m.payload) for m in part.messages if m.direction == SERVER)
        client = sum(len(m.payload) for m in part.messages if m.direction == CLIENT)
        return {
            "server_compressed_bytes": server,
            "client_compressed_bytes": client,
            "raw_bytes": server + client,
            "connection_memory": 1000,
        }

    figures = live_ws.model_figures(loaded, plan, Setting(12, 5), 0, fake_model)
    # One sweep per use count (c once; a and b twice), then the corpus itself for memory.
    assert swept == [["script-2"], ["script-0", "script-1"], loaded.connections]
    assert figures.server_bytes == figures.client_bytes == 10 * (1 + 2 * 2)
    assert figures.cell["connection_memory"] == 1000


def test_growth_is_paired_per_connection_and_robust_to_one_step() -> None:
    on = [0, 500, 600, 700, 800, 2900, 3000, 3100, 3200]  # one 2 MB step at connection 4
    off = [0, 300, 310, 320, 330, 340, 350, 360, 370]
    assert live_ws.warmup_connections(8) == 4
    growth = live_growth.paired_growth(on, off, 4)
    assert growth == [2090, 90, 90, 90]
    assert live_growth.interquartile_mean(growth) == 90
    assert live_growth.per_connection_growth(on, 4) == 600  # the endpoints see the step


def test_a_difference_is_relative_to_the_model_or_to_the_floor_when_the_model_is_below_it() -> None:
    assert live_growth.relative_difference(400.0, 40_000.0, floor=4096) == 0.01
    assert live_growth.relative_difference(-1024.0, 1000.0, floor=4096) == -0.25
    assert live_growth.relative_difference(-500.0, 1000.0, floor=0.0) == -0.5


# The real thing ---------------------------------------------------------------------------------


@pytest.mark.live
@needs_node
def test_live_ws_passes_on_the_bundled_chat_corpus(ws_dir: Path) -> None:
    outcome = CliRunner().invoke(
        cli,
        ["live", "--server", "ws", str(CHAT), "--ws-dir", str(ws_dir), "--setting", "12:5"]
        + ["--json"],
    )
    assert outcome.exit_code == 0, outcome.output
    data = json.loads(outcome.stdout)
    assert data["passed"] and data["server"] == "ws"
    # Bytes: what the server's and the clients' sockets carried is the node codec's model.
    assert data["bytes_equal"]
    assert data["live_server_bytes"] == data["model_server_bytes"] > 0
    assert data["live_client_bytes"] == data["model_client_bytes"] > 0
    assert data["compressed_frames"] == data["data_frames"]  # context takeover: ws compresses all
    # Memory: RSS growth per connection, compression on minus off, within 30% of the model.
    assert data["memory_within_tolerance"] and data["tolerance"] == 0.3
    assert abs(data["live_connection_memory"] - data["model_connection_memory"]) <= (
        0.3 * data["model_connection_memory"]
    )
    assert data["connections"] == 40 and data["warmup_connections"] == 20
    assert data["ws_version"] == "8.23.0" and data["node_zlib_version"]
    assert "permessage-deflate" in data["negotiated"]
    assert "client_max_window_bits=12" in data["negotiated"]
    no_node_left()


@pytest.mark.live
@needs_node
def test_no_context_takeover_with_a_threshold_equals_the_model(
    ws_dir: Path, tmp_path: Path
) -> None:
    # Short chat messages under a 100-byte threshold go out raw, the rest compressed, each with
    # a reset compressor: ws's rules, and the node codec's.
    rows = []
    for index, payload in enumerate(chat_messages(120, seed=7)):
        direction = CLIENT if index % 3 == 0 else SERVER
        rows.append((f"c{index % 4}", direction, payload.decode()))
    path = records(tmp_path / "small.records.jsonl", rows)
    options = LiveOptions(
        server="ws",
        setting=Setting(11, 4, context_takeover=False, threshold=100),
        ws_dir=ws_dir,
        connections=4,
        tolerance=9,  # memory over 2 measured connections means nothing: bytes are the point
        timeout=30,
    )
    result = live_ws.run_live_ws(corpus.load(path), options)
    assert result.bytes_equal, (result.model_bytes, result.live_bytes)
    assert 0 < result.details["compressed_frames"] < result.details["data_frames"]
    assert "server_no_context_takeover" in result.details["negotiated"]
    assert "client_no_context_takeover" in result.details["negotiated"]
    no_node_left()


@pytest.mark.live
@needs_node
def test_a_step_that_times_out_stops_both_node_processes(ws_dir: Path) -> None:
    def model(part: corpus.Corpus, setting: Setting, threshold: int) -> dict[str, int]:
        return {
            "server_compressed_bytes": 0,
            "client_compressed_bytes": 0,
            "raw_bytes": 0,
            "connection_memory": 1,
        }

    with pytest.raises(LiveError, match="timeout"):
        options = LiveOptions(
            server="ws", setting=Setting(12, 5), ws_dir=ws_dir, connections=4, timeout=0.01
        )
        live_ws.run_live_ws(corpus.load(CHAT), options, model=model)
    no_node_left()


# Errors: one line, exit code 2 --------------------------------------------------------------


def one_line_exit_2(args: list[str], message: str, env: dict[str, str] | None = None) -> None:
    outcome = CliRunner().invoke(cli, args, env=env)
    assert outcome.exit_code == 2, (args, outcome.output)
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_missing_node_is_one_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "one.jsonl", [b'{"a":1}'])
    one_line_exit_2(
        ["live", "--server", "ws", str(path)],
        "node is not installed",
        env={"PATH": str(tmp_path), "WSZTUNE_NODE": ""},
    )


@needs_node
def test_missing_npm_on_first_use_is_one_line(tmp_path: Path) -> None:
    # node alone on PATH, an empty cache: installing ws needs npm.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("node") or "", bin_dir / "node")
    path = write_jsonl(tmp_path / "one.jsonl", [b'{"a":1}'])
    outcome = CliRunner().invoke(
        cli,
        ["live", "--server", "ws", str(path)],
        env={"PATH": str(bin_dir), "WSZTUNE_CACHE": str(tmp_path / "cache"), "WSZTUNE_NODE": ""},
    )
    assert outcome.exit_code == 2, outcome.output
    lines = outcome.stderr.strip().splitlines()
    # The first-use notice, then the error.
    assert lines[0].startswith("wsztune: installing ws 8.23.0")
    assert len(lines) == 2 and "npm is not installed" in lines[1], lines


@needs_node
def test_bad_ws_dir_is_one_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "one.jsonl", [b'{"a":1}'])
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_exit_2(
        ["live", "--server", "ws", str(path), "--ws-dir", str(empty)], "no ws package there"
    )


def test_ws_only_options_need_server_ws(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "one.jsonl", [b'{"a":1}'])
    for args, message in (
        (["--threshold", "100"], "--threshold needs --server ws"),
        (["--no-context-takeover"], "--no-context-takeover needs --server ws"),
        (["--ws-dir", str(tmp_path)], "--ws-dir needs --server ws"),
    ):
        one_line_exit_2(["live", str(path), *args], message)
    one_line_exit_2(["live", "--server", "ws", str(path), "-n", "3"], "at least 4")


@pytest.mark.live
@needs_node
def test_ctrl_c_stops_everything_with_one_line(ws_dir: Path) -> None:
    # SIGINT to wsztune alone (not to its process group, as a terminal would): wsztune itself
    # must stop its node server, its node clients and the model's node processes.
    import signal
    import subprocess
    import sys
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "wsztune", "live", "--server", "ws", str(CHAT)]
        + ["--ws-dir", str(ws_dir), "--setting", "12:5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        # A child started from a shell in the background would ignore SIGINT: not this one.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 30
        children: list[psutil.Process] = []
        while time.monotonic() < deadline and not any(map(runs_live_ws, children)):
            time.sleep(0.1)
            children = psutil.Process(process.pid).children(recursive=True)
        assert children, "the ws server never started"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130
    assert stderr.decode().strip().splitlines() == ["wsztune: error: interrupted"]
    _, alive = psutil.wait_procs(children, timeout=5)
    assert alive == []


@pytest.mark.live
@needs_node
def test_no_takeover_with_ws_threshold_counts_only_connections_that_compress(
    ws_dir: Path,
) -> None:
    # chat.har: of its 4 connections one server sends a message over 1024 B and no client does.
    # ws builds a compressor on that connection alone and no decompressor anywhere: the model
    # counts one compressor for a quarter of the connections, as the wire shows (RSV1 frames).
    outcome = CliRunner().invoke(
        cli,
        ["live", "--server", "ws", str(REPO / "corpora" / "chat.har"), "--ws-dir", str(ws_dir)]
        + ["--setting", "12:5", "--no-context-takeover", "--threshold", "1024", "--json"],
    )
    # The memory of 10 compressing connections among 40 is at the mercy of RSS's steps: a pass
    # or, when its standard error is too wide for the tolerance, inconclusive (exit 3), never a
    # failure. The bytes and the shares are what this test is about.
    assert outcome.exit_code in (0, 3), outcome.output
    data = json.loads(outcome.stdout)
    assert data["verdict"] in ("pass", "inconclusive") and data["bytes_equal"]
    if data["verdict"] == "pass":
        assert data["memory_uncertainty"] <= data["memory_allowed"] / 2
    assert data["live_compressor_share"] == data["model_measured_compressor_share"] == 0.25
    assert data["live_decompressor_share"] == data["model_measured_decompressor_share"] == 0
    assert data["model_compressor_share"] == 0.25 and data["model_decompressor_share"] == 0
    assert data["model_connection_memory"] == pytest.approx(0.25 * data["model_compressor_memory"])
    assert data["model_corpus_connection_memory"] == round(0.25 * data["model_compressor_memory"])
    no_node_left()


def test_default_connections_grow_until_each_kind_is_measured_ten_times(tmp_path: Path) -> None:
    # One connection of four compresses (a long server message): 40 connections would measure
    # 5 of that kind, too few for RSS; 80 measure 10. With takeover, all are of one kind.
    rows = [(name, SERVER, ("x" * 2000) if name == "a" else "hi") for name in "abcd"]
    loaded = corpus.load(records(tmp_path / "mixed.records.jsonl", rows))
    no_takeover = Setting(12, 5, context_takeover=False)
    assert live_ws.connections_for(loaded, no_takeover, 1024, 40) == 80
    assert live_ws.connections_for(loaded, Setting(12, 5), 1024, 40) == 40
    assert live_ws.connections_for(loaded, no_takeover, 0, 40) == 40
