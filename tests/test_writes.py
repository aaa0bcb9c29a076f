"""Write concurrency: the fleet's memory at the peak of concurrent writes, beside the steady state.

The arithmetic (:mod:`wsztune.writes`) is checked on its own; the decision through ``recommend``
on real gorilla and coder runs of a small corpus (the Go helper measures every cell's memory per
concurrent write, ``compress_memory_peak``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.codecs.test_go import _recommend, go_cache, pytestmark, small_chat  # noqa: F401
from wsztune.cli import cli
from wsztune.codecs import go
from wsztune.writes import ESTIMATED, STATED, peak_memory, write_load

# The Go tests' skip marks (no go, no Debian Go libraries) apply to the CLI tests only.
go_marks = pytestmark
pytestmark = []


def test_stated_writes_are_taken_as_stated() -> None:
    load = write_load(40_000, 1000, 5000.0, 1e-5, stated=64)
    assert load is not None
    assert (load.writes, load.broadcasts, load.source) == (64, 1, STATED)
    load = write_load(40_000, 10, None, None, stated=64)
    assert load is not None and load.broadcasts == 7  # 64 writes are 6.4 broadcasts of 10


def test_the_estimate_is_the_fanout_or_littles_law_capped_by_connections() -> None:
    # A broadcast to 1,000 starts 1,000 writes; Little's law (5,000/s x 10 us) is far less.
    load = write_load(40_000, 1000, 5000.0, 1e-5)
    assert load is not None
    assert (load.writes, load.broadcasts, load.source) == (1000, 1, ESTIMATED)
    assert "ESTIMATED" in load.how and "not measured" in load.how
    # Overlapping broadcasts: 2,000,000 deliveries/s x 1 ms = 2,000 writes in flight on average.
    load = write_load(40_000, 1000, 2_000_000.0, 1e-3)
    assert load is not None and (load.writes, load.broadcasts) == (2000, 2)
    # Never more writes than connections.
    load = write_load(300, 1000, None, None)
    assert load is not None and load.writes == 300
    # A rate alone: Little's law, at least one write.
    load = write_load(40_000, None, 5000.0, 1e-5)
    assert load is not None and load.writes == 1
    # Nothing to go by: no peak, rather than a made-up one.
    assert write_load(40_000, None, None, None) is None
    assert write_load(40_000, 1, None, None) is None


def test_peak_is_steady_plus_writes_held() -> None:
    cell = {"connection_memory": 213, "compress_memory_peak": 803_933}
    load = write_load(40_000, 1000, None, None)
    assert load is not None
    peak = peak_memory(cell, 40_000, load)
    assert peak is not None
    assert peak.steady == 40_000 * 213
    assert peak.peak == 40_000 * 213 + 1000 * 803_933
    assert peak_memory({**cell, "compression": False}, 40_000, load) is None


@pytest.fixture(scope="module")
def gorilla_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A timed gorilla run of a small chat corpus at levels 1 and 9."""
    directory = tmp_path_factory.mktemp("writes")
    output = directory / "gorilla.json"
    result = CliRunner().invoke(
        cli,
        ["run", str(small_chat(directory / "small.records.jsonl")), "--server", "gorilla",
         "--level", "1,9", "--repeat", "1", "-o", str(output), "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return output


@go_marks[0]
@go_marks[1]
def test_gorilla_names_the_write_pool_peak_and_compress_once(gorilla_run: Path) -> None:
    code, document, output = _recommend(
        gorilla_run, "--max-memory", "64KiB", "--connections", "40000", "--fanout", "1000",
        "--messages-per-second", "5000",
    )  # fmt: skip
    assert code == 0, output
    # The chosen cell as decided: its connection_memory the figure the budget is checked
    # against (resident by default), its per-write and compress-once figures as measured.
    chosen = document["chosen"]
    peak = document["write_peak"]
    # The estimate is the fan-out (far above Little's law here), labelled as an estimate.
    assert peak["concurrent_writes"]["writes"] == 1000
    assert peak["concurrent_writes"]["estimated"] is True
    per_connection = peak["per_connection"]
    assert per_connection["steady"] == 40_000 * chosen["connection_memory"]
    assert per_connection["peak"] == (
        40_000 * chosen["connection_memory"] + 1000 * chosen["compress_memory_peak"]
    )
    # Compress-once: one broadcast in flight holds the shared memory once, not 1,000 writers.
    once = peak["compress_once"]
    shared = chosen["compress_once"]["shared_memory"]
    assert once["broadcasts"] == 1 and once["peak"] == once["steady"] + shared
    assert once["steady"] == per_connection["steady"]  # PreparedMessage changes nothing there
    assert once["peak"] < per_connection["peak"] / 10
    # The fleet cost prices the peak, and compress-once's CPU is the per-connection's over K.
    costs = {cost["setting"]: cost for cost in document["costs"]["per_month"]}
    mine = costs[document["chosen"]["setting"]]
    assert mine["fleet_memory"]["peak"] == per_connection["peak"]
    assert mine["memory"] == pytest.approx(per_connection["peak"] / 1024**3 * 3.65)
    assert once["per_month"]["cpu"] == pytest.approx(mine["cpu"] / 1000)
    # The budget stays per connection: 64 KiB fits although the peak is hundreds of MiB.
    assert document["chosen"]["connection_memory"] <= 64 * 1024
    text = CliRunner().invoke(
        cli, ["recommend", "--results", str(gorilla_run), "--max-memory", "64KiB",
              "--connections", "40000", "--fanout", "1000"],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert text.exit_code == 0, text.output
    words = " ".join(text.output.split())
    assert "write-pool peak: 40,000 connections x" in words
    assert "ESTIMATED 1,000 concurrent writes" in words
    assert "compress-once (gorilla PreparedMessage)" in words
    header = next(line for line in text.output.splitlines() if "memory/mo" in line)
    assert "fleet memory" in header and " peak " in header
    assert any(line.strip().startswith("compress-once") for line in text.output.splitlines())


@go_marks[0]
@go_marks[1]
def test_stated_writes_enter_the_decision(gorilla_run: Path) -> None:
    cells = {c["level"]: c for c in json.loads(gorilla_run.read_text())["cells"]}
    # Both levels within the tolerance, compression off not: the tie on memory per connection
    # decides.
    sizes = [cell["compressed_bytes"] for cell in cells.values()]
    gap = max(sizes) / min(sizes) - 1
    assert cells[1]["raw_bytes"] / min(sizes) - 1 > gap + 0.02
    tolerance = f"{(gap + 0.01) * 100:.2f}%"
    code, document, output = _recommend(gorilla_run, "--tolerance", tolerance)
    assert code == 0, output
    assert document["chosen"]["level"] == 1  # gorilla's default, without a peak
    assert document["write_peak"] is None
    code, document, output = _recommend(
        gorilla_run, "--tolerance", tolerance, "--connections", "1000",
        "--concurrent-writes", "64",
    )  # fmt: skip
    assert code == 0, output
    writes = document["write_peak"]["concurrent_writes"]
    # Without the fleet there is no peak to show: refused, not ignored.
    alone = CliRunner().invoke(
        cli, ["recommend", "--results", str(gorilla_run), "--concurrent-writes", "64"]
    )
    assert alone.exit_code == 2 and "--connections" in alone.output
    assert (writes["writes"], writes["source"], writes["estimated"]) == (
        64, "--concurrent-writes", False
    )
    # Level 1's flate writer holds more than level 9's: at 64 writes in flight, that decides.
    assert cells[1]["compress_memory_peak"] - cells[9]["compress_memory_peak"] > 1024
    assert document["chosen"]["level"] == 9
    assert "peak of concurrent writes" in document["reason"]


def test_concurrent_writes_refused_on_a_zlib_run(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"text": f"hello {i} " * 20}) + "\n" for i in range(30)))
    runner = CliRunner()
    result = runner.invoke(cli, ["run", str(corpus), "--no-timing", "-q", "--window-bits", "15",
                                 "--mem-level", "8", "-o", str(tmp_path / "r.json")])  # fmt: skip
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["recommend", "--results", str(tmp_path / "r.json"),
                                 "--concurrent-writes", "10"])  # fmt: skip
    assert result.exit_code == 2
    assert "--concurrent-writes" in result.output and "Traceback" not in result.output


@go_marks[0]
@go_marks[1]
def test_coder_peak_beside_steady(tmp_path: Path) -> None:
    runner = CliRunner()
    output = tmp_path / "coder.json"
    result = runner.invoke(
        cli,
        ["run", str(small_chat(tmp_path / "small.records.jsonl")), "--server", "coder",
         "--no-timing", "-o", str(output), "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    code, document, text = _recommend(output, "--connections", "2000", "--fanout", "300")
    assert code == 0, text
    chosen = document["chosen"]
    peak = document["write_peak"]
    assert peak["concurrent_writes"]["writes"] == 300
    assert peak["per_connection"]["peak"] == (
        2000 * chosen["connection_memory"] + 300 * chosen["compress_memory_peak"]
    )
    assert peak["compress_once"] is None  # coder has no compress-once mode


@go_marks[0]
@go_marks[1]
def test_go_cells_time_a_broadcast_and_compress_once_divides_by_k(tmp_path: Path) -> None:
    corpus_path = small_chat(tmp_path / "small.records.jsonl")
    for server, library_cells in (("gorilla", 1), ("coder", 2)):
        output = tmp_path / f"{server}.json"
        result = CliRunner().invoke(
            cli,
            ["run", str(corpus_path), "--server", server, "--repeat", "2", "--fanout", "8",
             "--min-sample-time", "0", "-o", str(output), "--quiet",
             *(["--level", "1"] if server == "gorilla" else [])],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        cells = json.loads(output.read_text())["cells"]
        assert len(cells) >= library_cells
        for cell in cells:
            assert cell["delivery_compressors"] == 8
            if server == "coder":
                # Its connections' CPU with compression on less off: on a tiny corpus with
                # --min-sample-time 0, a loaded machine's noise can outweigh the difference,
                # never below 0 (a results file that recommend reads back).
                assert isinstance(cell["compress_seconds_per_delivery"], float)
                assert cell["compress_seconds_per_delivery"] >= 0
            else:
                assert cell["compress_seconds_per_delivery"] > 0
            assert cell["compress_seconds_per_message"] > 0
            if server == "gorilla":  # one compression per message, over the 8 subscribers
                once = cell["compress_once"]
                if go.go_gorilla_found():  # timed through gorilla's own PreparedMessage broadcast
                    assert once["delivery_timing"] == go.GO_GORILLA_TIMING
                    assert isinstance(once["compress_seconds_per_delivery"], float)
                else:  # one hot compressor's time over K
                    assert once["delivery_timing"] == go.HOT_TIMING
                    assert once["compress_seconds_per_delivery"] == pytest.approx(
                        cell["compress_seconds_per_message"] / 8)
        # The fleet table prices CPU per delivery as measured interleaved, and shows it.
        result = CliRunner().invoke(cli, ["recommend", "--results", str(output), "--connections",
                                          "40000", "--messages-per-second", "5000"],
                                    env={"COLUMNS": "200"})  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "CPU/delivery" in result.output and " us " in result.output
        code, document, _ = _recommend(output, "--connections", "40000",
                                       "--messages-per-second", "5000")  # fmt: skip
        assert code == 0
        chosen = document["chosen"]
        cost = next(c for c in document["costs"]["per_month"] if c["setting"] == chosen["setting"])
        # rate x per-message CPU x what interleaving the subscribers' compressors measured
        share = chosen["server_raw_bytes"] / chosen["raw_bytes"]
        per_message = chosen["compress_seconds"] * share / chosen["messages"]
        factor = chosen["compress_seconds_per_delivery"] / chosen["compress_seconds_per_message"]
        assert cost["cpu"] == pytest.approx(5000 * per_message * factor * 29.2)
