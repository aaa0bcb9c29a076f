"""The resident model against a real python-websockets server's RSS, at small N.

bench/fleet.py's own server and client processes (a server on 127.0.0.1 in a process of its
own, clients in another per wave), 160 connections of the bundled light fleet corpus in 4
waves, compression off then on: RSS growth per connection, on minus off, must be within
``TOLERANCE`` of the cell's ``connection_memory_resident``, and well below the allocation at
15:8 (what the model is for). Measured (a loaded 2-core machine): at 4,000 connections 12:5
41.1 KiB live vs 43.5 predicted, 15:8 100.1 vs 101.7; at 160 connections four repeats gave
42.8-44.5 (12:5) and 101.1-103.8 KiB (15:8), two standard errors of each slope 0.4-1.7 KiB: the
noise is under 4%, the model within 2% of every repeat, so the issue's 10% goal is the
tolerance, with room for the noise.

The bench's coder rows run wsztune live's own Go server (``wsztune-live-go fleet-serve``), with
ws clients in node: a small fleet checks that the two agree on what each connection replays and
that the server settles (its writers' stacks shrink) when asked.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.bench import load_bench

pytest.importorskip("websockets")
TOLERANCE = 0.10
CONNECTIONS = 160


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc for RSS")
@pytest.mark.parametrize("setting", ["12:5", "15:8"])
def test_resident_model_matches_live_rss(setting: str) -> None:
    fleet = load_bench("fleet")
    corpus = fleet.CORPORA["light"]
    resident, allocation = fleet.predict(corpus, setting)
    off = fleet.run_fleet(fleet.PYTHON, corpus, "off", CONNECTIONS, waves=4).slope()
    on = fleet.run_fleet(fleet.PYTHON, corpus, setting, CONNECTIONS, waves=4).slope()
    live = on.minus(off).value
    assert abs(resident - live) <= TOLERANCE * live, (setting, resident, live)
    if setting == "15:8":
        assert live < allocation / 2  # the allocation would overstate it threefold


@pytest.mark.live
@pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")
def test_the_bench_serves_coder_with_the_live_go_program(
    ws_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WS_PACKAGE", str(ws_dir))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    fleet = load_bench("fleet")
    corpus = fleet.CORPORA["light"]
    # One server stream per corpus connection, in the records' order (fleet_ws.js's): live
    # connection i replays the same corpus connection on both sides.
    lines = corpus.read_text().splitlines()[1:]
    order = list(dict.fromkeys(json.loads(line)["connection"] for line in lines))
    job = json.loads(fleet.coder_job(corpus, True).read_text())
    assert job["connections"] == list(range(len(order)))
    assert set(job["directions"]) == {"server"}
    assert (job["library"], job["context_takeover"], job["compression"]) == ("coder", True, True)
    # The clients report done only once every server message of their connection arrived.
    curve = fleet.run_fleet(
        fleet.coder_stack(), corpus, "takeover", 60, waves=3, client_setting="push"
    )
    assert curve.connections == [20, 40, 60] and len(curve.settled) == 3
    # StatelessDeflate grew each writer's stack to 512 KiB; the collections shrink them.
    assert all(settled < before for settled, before in zip(curve.settled, curve.rss, strict=True))
