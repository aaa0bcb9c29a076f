"""The Go resident model against a real coder server's settled RSS, at small N.

``wsztune live --server coder`` (the live Go program: a coder server in a process of its own,
Go clients in another per wave), 240 connections of the bundled light fleet corpus in 3 waves,
context takeover, compression off then on. After each wave the server runs collections until
its goroutine stacks stop shrinking and RSS is read once the scavenger stopped returning pages
(the settled state, docs/memory.md). RSS growth per connection, on minus off, must be within
30% of ``connection_memory_resident`` (the issue's 20% is checked at fleet scale by
bench/fleet.py; why 30% here is in the test): the live heap a connection keeps times the
scavenger's 10% and the stack its writing goroutine keeps for having run StatelessDeflate.
Measured on a loaded 2-core machine (load average 12-25): 240 connections, model 46.1 KiB, live
41.1 (95% interval 38.9-43.3); 180 connections, 46.3 and 41.8; quiet, 240 connections: 46.1
and 36.9.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from wsztune.cli import cli
from wsztune.codecs import go

FLEET_LIGHT = Path(__file__).resolve().parents[2] / "corpora" / "fleet-light.records.jsonl"
INCONCLUSIVE_ATTEMPTS = 3


def _memory(compressor: int, decompressor: int) -> go.GoMemory:
    return go.GoMemory(
        compressor_idle=compressor, decompressor_idle=decompressor, decompressor_reader=0,
        compressor_writing=0, decompressor_reading=0, rss_idle=0, rss_writing=0,
    )  # fmt: skip


def test_a_coder_writer_keeps_a_stack_gorilla_does_not() -> None:
    share = go.Shares(compressor=0.5, decompressor=1.0, reader=0.0)
    memory = _memory(6000, 40000)
    coder = go.go_resident(share, memory, go.GO_CODER)
    gorilla = go.go_resident(share, memory, go.GO_GORILLA)
    # The heap: the scavenger keeps 10% over it; the stack: only connections that compressed.
    assert gorilla.compressor == pytest.approx(0.5 * 1.1 * 6000)
    assert coder.compressor == pytest.approx(0.5 * (1.1 * 6000 + go.HANDLER_STACK))
    assert coder.decompressor == gorilla.decompressor == pytest.approx(1.1 * 40000)


def test_the_settled_figure_does_not_follow_gogc(monkeypatch: pytest.MonkeyPatch) -> None:
    share, memory = go.Shares(1.0, 0.0, 0.0), _memory(6000, 0)
    monkeypatch.setenv("GOGC", "100")
    default = go.go_resident(share, memory, go.GO_CODER).connection
    monkeypatch.setenv("GOGC", "400")
    assert go.go_resident(share, memory, go.GO_CODER).connection == default


@pytest.mark.live
@pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc for RSS")
def test_coder_settled_rss_matches_the_resident_model() -> None:
    args = [
        "live", str(FLEET_LIGHT), "--server", "coder", "--context-takeover",
        "--connections", "240", "--waves", "3", "--tolerance", "30%", "--json",
    ]  # fmt: skip
    # A run whose own verdict is "inconclusive" (its waves' spread too wide to tell: on a
    # shared 2-CPU machine, 2 runs in 6 at times, with the code of earlier stops too) is run
    # again, as the command's message says to; a run that decides is what is checked.
    for _attempt in range(INCONCLUSIVE_ATTEMPTS):
        result = CliRunner().invoke(cli, args)
        data = json.loads(result.stdout)
        if data["verdict"] != "inconclusive":
            break
    live, model = data["live_connection_memory"], data["model_connection_memory"]
    # 30%, not the 20%: on this light corpus the model reads high by 12-25% at a few
    # hundred connections (CI: 47.6 KiB modelled against 38.8 live at 150; quiet: 46.1 against
    # 36.9 at 240), because its stack term counts the 8 KiB a settled writer's stack grew by,
    # of which RSS pays only the pages the copy wrote (docs/memory.md, "Go (coder)"); the 20%
    # goal is checked at fleet scale by bench/fleet.py. 30% still catches the settled state
    # being lost (the figure before collections read 20-280 KiB).
    assert abs(model - live) <= 0.30 * live, (model, live)
    assert data["verdict"] == "pass" and result.exit_code == 0, data["verdict"]
