"""``wsztune live`` at fleet scale: waves of client processes, the server's RSS slope checked
against the resident figure, churn, and the options that ask for it.

The live run keeps to 120 connections in 4 waves, replaced once: a server and its clients in
processes of their own, on 127.0.0.1. The 10,000-connection run is bench/live_fleet.py's.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from wsztune import corpus as corpus_module
from wsztune.cli import cli
from wsztune.codecs import get_codec, go
from wsztune.codecs.base import TimingPlan
from wsztune.errors import SettingError
from wsztune.live import RUNNERS, LiveOptions, OptionClash, Runner
from wsztune.live import ws as live_ws
from wsztune.live.fleet import (
    FleetRun,
    fleet_plan,
    plateau,
    wave_sizes,
)
from wsztune.live.golang import go_model
from wsztune.live.growth import least_squares
from wsztune.live.options import FLEET_AT
from wsztune.live.plan import build_plan
from wsztune.live.pyfleet import fleet_model
from wsztune.permessage_deflate import Setting

FLEET_LIGHT = Path(__file__).resolve().parents[2] / "corpora" / "fleet-light.records.jsonl"


def test_least_squares_recovers_a_line_and_its_error() -> None:
    exact = least_squares([100, 200, 300, 400], [1000 + 50 * x for x in (100, 200, 300, 400)])
    assert exact.value == pytest.approx(50)
    assert exact.error == pytest.approx(0)
    noisy = least_squares([1, 2, 3, 4], [10, 21, 29, 40])
    assert noisy.value == pytest.approx(9.8)
    assert 0 < noisy.error < 1
    assert noisy.interval == pytest.approx((9.8 - 2 * noisy.error, 9.8 + 2 * noisy.error))
    assert math.isinf(least_squares([1, 2], [3, 4]).error)  # two points: no error to read


def test_waves_cover_every_connection_once() -> None:
    assert wave_sizes(10, 3) == [(0, 4), (4, 3), (7, 3)]
    assert sum(count for _, count in wave_sizes(10_000, 10)) == 10_000


def test_plateau_is_growth_over_the_empty_server_per_held_connection() -> None:
    run = FleetRun(True, empty=1000, held=[10, 20], waves=[2000, 3000], churn=[3200, 3400])
    assert plateau(run, 20) == [100.0, 110.0, 120.0]


def test_a_fleet_is_asked_by_size_waves_or_churn() -> None:
    assert not LiveOptions(connections=FLEET_AT - 1).fleet
    assert LiveOptions(connections=FLEET_AT).fleet
    assert LiveOptions(connections=50, waves=5).fleet
    assert LiveOptions(connections=50, churn=1).fleet


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (LiveOptions(connections=10_001, waves=10), "10,000"),
        (LiveOptions(connections=20, waves=30), "--waves"),
        (LiveOptions(connections=20, waves=4, churn=11), "--churn"),
    ],
)
def test_a_fleet_out_of_bounds_is_refused(options: LiveOptions, says: str) -> None:
    with pytest.raises(SettingError, match=says):
        fleet_plan(options)


def test_a_runner_without_a_fleet_refuses_churn() -> None:
    runner = Runner("wsztune.live.python", "run_live", connections=10, tolerance="10%")
    with pytest.raises(OptionClash, match="--churn need a server with a fleet check"):
        runner.prepare(LiveOptions(churn=1))


def test_the_model_is_the_sweeps_resident_figure() -> None:
    """Every corpus connection replayed once: the fleet's resident figure is the sweep cell's
    connection_memory_resident for the same corpus and setting, and its allocation the cell's
    connection_memory."""
    corpus = corpus_module.load(FLEET_LIGHT)
    setting = Setting(12, 5)
    plan = build_plan(corpus, len(corpus.connections))
    cells: list[dict[str, Any]] = []
    streams = corpus.streams()
    get_codec("zlib").measure(streams, [setting], TimingPlan(measure_time=False), 1, cells.append)
    model = fleet_model(corpus, plan, setting)
    assert model.resident == pytest.approx(
        cells[0]["connection_memory_resident"], abs=1
    )
    assert model.allocation == cells[0]["connection_memory"]
    assert model.resident < model.allocation  # 12:5: pages not all written


@pytest.fixture(scope="module")
def fleet_result() -> tuple[int, dict[str, Any]]:
    pytest.importorskip("websockets")
    args = ["live", str(FLEET_LIGHT), "--setting", "12:5", "--connections", "120"]
    result = CliRunner().invoke(cli, [*args, "--waves", "4", "--churn", "1", "--json"])
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.live
def test_a_fleet_checks_rss_against_the_resident_figure(
    fleet_result: tuple[int, dict[str, Any]],
) -> None:
    exit_code, data = fleet_result
    assert data["memory_figure"] == "rss"
    assert data["bytes_equal"] and data["live_bytes"] == data["model_bytes"] > 0
    corpus = corpus_module.load(FLEET_LIGHT)
    model = fleet_model(corpus, build_plan(corpus, 120), Setting(12, 5))
    assert data["model_connection_memory"] == pytest.approx(model.resident)
    assert data["fleet"]["model_allocation"] == model.allocation
    # The RSS slope is a real measurement: compression costs pages, and the check judged it.
    assert data["live_connection_memory"] > 8 * 1024
    low, high = data["fleet"]["interval"]
    assert low <= data["live_connection_memory"] <= high
    assert data["verdict"] in ("pass", "inconclusive")  # not a fail: the model holds at 12:5
    assert exit_code == {"pass": 0, "inconclusive": 3}[data["verdict"]]


@pytest.mark.live
def test_a_fleet_samples_over_time_and_reports_its_churn(
    fleet_result: tuple[int, dict[str, Any]],
) -> None:
    _, data = fleet_result
    fleet = data["fleet"]
    assert fleet["held"] == [30, 60, 90, 120]
    assert len(fleet["rss_on"]) == 5  # the empty server, then each wave
    assert fleet["churn"] == 1 and len(fleet["plateau"]) == 2
    # Each connection was opened twice: the bytes counted are the model's twice over.
    assert data["model_server_bytes"] % 2 == 0
    assert fleet["samples"]["on"] and fleet["peak_fleet_rss"] >= fleet["peak_server_rss"] > 0
    held = [sample[1] for sample in fleet["samples"]["on"]]
    assert max(held) == 120


@pytest.mark.live
def test_a_ws_fleet_checks_node_rss_against_the_node_codecs_resident_figure(
    ws_dir: Path,
) -> None:
    args = ["live", str(FLEET_LIGHT), "--server", "ws", "--setting", "12:5"]
    result = CliRunner().invoke(
        cli, [*args, "--connections", "100", "--waves", "4", "--ws-dir", str(ws_dir), "--json"]
    )
    data = json.loads(result.stdout)
    assert data["server"] == "ws" and data["codec"] == "node"
    assert data["memory_figure"] == "rss" and data["fleet"]["held"] == [25, 50, 75, 100]
    assert data["bytes_equal"] and data["live_bytes"] > 0
    # The figure checked is the node codec's resident one for this corpus and setting.
    setting = live_ws.prepare(LiveOptions(server="ws", window_bits=12, mem_level=5)).settled
    cell = live_ws.node_model(corpus_module.load(FLEET_LIGHT), setting, setting.threshold)
    # Node's figures are RSS probes: two measurements agree within the cell's stated resolution
    # (equal when the second reads the first back from the probe cache).
    assert data["model_connection_memory"] == pytest.approx(
        cell["connection_memory_resident"], abs=max(2, cell["memory_resolution"])
    )
    assert data["live_connection_memory"] > 8 * 1024  # compression costs the server pages
    assert result.exit_code == {"pass": 0, "fail": 1, "inconclusive": 3}[data["verdict"]]


@pytest.mark.live
@pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")
def test_a_coder_fleet_checks_go_rss_against_the_go_codecs_resident_figure() -> None:
    args = ["live", str(FLEET_LIGHT), "--server", "coder", "--connections", "100"]
    result = CliRunner().invoke(cli, [*args, "--waves", "4", "--json"])
    data = json.loads(result.stdout)
    assert data["server"] == "coder" and data["memory_figure"] == "rss"
    assert data["bytes_equal"] and data["live_bytes"] > 0
    assert data["fleet"]["held"] == [25, 50, 75, 100]
    # The figure checked: the go codec's settled resident figure (live heap, writer stack).
    corpus = corpus_module.load(FLEET_LIGHT)
    options = RUNNERS["coder"].prepare(LiveOptions(server="coder", connections=100, waves=4))
    with tempfile.TemporaryDirectory() as work:
        model = go_model(corpus.streams(), options.settled, "coder", Path(work) / "corpus.bin")
    share = go.shares(model.cell, corpus.streams(), 100)
    expected = go.go_resident(share, model.memory, go.GO_CODER).connection
    # The go codec measures the live heap it models (runtime.MemStats): a few bytes apart.
    assert data["model_connection_memory"] == pytest.approx(expected, rel=0.01)
    assert data["live_connection_memory"] > 0
    assert result.exit_code == {"pass": 0, "fail": 1, "inconclusive": 3}[data["verdict"]]
