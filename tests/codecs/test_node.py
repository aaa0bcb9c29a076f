"""wsztune.codecs.node: Node's zlib, framed as ws frames, equal to the real ws byte for byte."""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support import SUPPORT
from tests.support.processes import launcher_script, process_ended
from wsztune import corpus, sweep
from wsztune.codecs import node
from wsztune.fanout import DeliverySchedule, delivery_schedule
from wsztune.permessage_deflate import Setting
from wsztune.programs import HelperFailed, sink, write_corpus

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")

ROOT = Path(__file__).resolve().parents[2]
CORPORA = ROOT / "corpora"
WS_REFERENCE = SUPPORT / "ws_reference.js"


def _job(index: int, setting: Setting) -> node.NodeJob:
    return node.NodeJob.of(index, setting)


def _sample_streams() -> tuple[list[list[bytes]], list[str]]:
    """A few streams of every bundled corpus and the demo: short and long messages (around
    ws's 1024-byte threshold), both directions; small enough for every cell in seconds."""
    paths = [corpus.demo_corpus_path(), *sorted(CORPORA.glob("*.jsonl"))]
    streams, directions = [], []
    for path in paths:
        loaded = corpus.load(path)
        kept = {"server": 0, "client": 0}
        for stream in loaded.streams():
            if kept[stream.direction] >= 2:
                continue
            kept[stream.direction] += 1
            streams.append(stream.payloads[:12])
            directions.append(stream.direction)
    return streams, directions


def _start_ws_reference(
    ws_dir: Path, corpus_path: Path, directions: list[str], jobs: list[node.NodeJob], tmp: Path
) -> subprocess.Popen[str]:
    job_path = tmp / "ws-job.json"
    job_path.write_text(
        json.dumps(
            {"corpus": str(corpus_path), "directions": directions, "cells": [vars(j) for j in jobs]}
        )
    )
    return subprocess.Popen(
        ["node", str(WS_REFERENCE), str(ws_dir), str(job_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _answers(process: subprocess.Popen[str]) -> dict[int, dict]:
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr
    answers = [json.loads(line) for line in stdout.splitlines()]
    return {answer["id"]: answer for answer in answers}


def _beside_ws(
    ws_dir: Path,
    path: Path,
    directions: list[str],
    ws_jobs: list[node.NodeJob],
    ours: list[node.NodeJob],
    tmp: Path,
) -> tuple[list[node.NodeCell], dict[int, dict]]:
    """wsztune's node codec on ``ours`` and ws itself on ``ws_jobs``, side by side (two
    processes on different cores): our cells, and ws's answers by job id."""
    process = _start_ws_reference(ws_dir, path, directions, ws_jobs, tmp)
    try:
        measured = node.run_cells(path, directions, ours, jobs=1)
        return measured, _answers(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_node_codec_equals_real_ws_byte_for_byte(ws_dir: Path, tmp_path: Path) -> None:
    """Every cell of 9-15 x 1-9, context takeover on and off, ws's threshold 0 and 1024, both
    directions (clients with their own window bits too), on every bundled corpus: the same
    payload sizes per message and the same bytes (sha256) as ws's own Sender and
    PerMessageDeflate."""
    streams, directions = _sample_streams()
    assert {"server", "client"} <= set(directions)
    lengths = [len(p) for payloads in streams for p in payloads]
    assert min(lengths) < 1024 < max(lengths)  # the threshold matters on this sample

    # ws's threshold option as configured; wsztune's grid applies ws's rule (SweepPlan "ws").
    configured: list[Setting] = []
    for threshold in (0, 1024):
        grid = sweep.SweepPlan(context_takeover=(True, False), thresholds=(threshold,))
        configured += grid.settings()
        for server_bits, client_bits in ((15, 9), (9, 15), (12, 10)):
            configured += sweep.SweepPlan(
                window_bits=(server_bits,),
                mem_levels=(1, 8),
                context_takeover=(True, False),
                client_window_bits=client_bits,
                thresholds=(threshold,),
            ).settings()
    ws_jobs = [_job(index, setting) for index, setting in enumerate(configured)]
    ours = [
        _job(
            index,
            Setting(
                s.window_bits,
                s.mem_level,
                s.level,
                s.strategy,
                s.context_takeover,
                s.client_window_bits,
                0 if s.context_takeover else s.threshold,  # ws's Sender rule
            ),
        )
        for index, s in enumerate(configured)
    ]
    assert len(ours) == 7 * 9 * 2 * 2 + 3 * 2 * 2 * 2

    with node.corpus_file(streams) as path:
        measured, reference = _beside_ws(ws_dir, path, directions, ws_jobs, ours, tmp_path)

    for job, cell in zip(ours, measured, strict=True):
        expected = reference[job.id]
        assert cell.sizes == [stream["sizes"] for stream in expected["streams"]], job
        assert cell.compressed_messages == [
            stream["compressed_messages"] for stream in expected["streams"]
        ], job
        assert cell.sha256 == expected["sha256"], job
    # ws really left some messages uncompressed (threshold, no takeover) and not others.
    skipped = [
        sum(len(sizes) for sizes in cell.sizes) - sum(cell.compressed_messages) for cell in measured
    ]
    assert max(skipped) > 0 and min(skipped) == 0


def _big_streams() -> list[list[bytes]]:
    """Messages whose output crosses node's 16 KiB output buffer: incompressible ones of 20 to
    70 KB (zlib fills the buffer and is called again), and runs of medium ones that leave the
    buffer part-filled for the next message."""
    import random

    rng = random.Random(30)
    lines = (b"%d: the quick brown fox, %d\n" % (i, rng.randrange(10**6)) for i in range(4000))
    text = b"".join(lines)
    noisy = [rng.randbytes(rng.choice((20_000, 40_000, 70_000))) for _ in range(6)]
    medium = [text[i : i + rng.randrange(3000, 9000)] for i in range(0, 60_000, 5000)]
    return [noisy + medium, medium[::-1] + noisy[:2], [text[:90_000], text[1000:2000]]]


def test_synchronous_calls_give_ws_bytes_across_output_buffers(
    ws_dir: Path, tmp_path: Path
) -> None:
    """The sweep makes ws's zlib calls synchronously (node.js: writeSync into the stream's own
    output buffer); on messages whose output fills and renews that buffer, the bytes are ws's
    own (its Sender and PerMessageDeflate), and the same as with ws's asynchronous calls, with
    a fresh output buffer per message too (Bun's way)."""
    streams = _big_streams()
    directions = ["server", "client", "server"]
    settings = [
        Setting(wb, ml, context_takeover=takeover)
        for wb, ml in ((9, 1), (12, 5), (15, 8))
        for takeover in (True, False)
    ]
    jobs = [_job(index, setting) for index, setting in enumerate(settings)]
    with node.corpus_file(streams) as path:
        synchronous, reference = _beside_ws(ws_dir, path, directions, jobs, jobs, tmp_path)
        ws_calls = node.run_cells(path, directions, jobs, jobs=1, calls="ws")
        fresh = [
            node.run_cells(path, directions, jobs, jobs=1, calls=calls, fresh_output=True)
            for calls in node.CALLS
        ]
    for job, cell, asynchronous in zip(jobs, synchronous, ws_calls, strict=True):
        assert cell.sizes == [stream["sizes"] for stream in reference[job.id]["streams"]], job
        assert cell.sha256 == reference[job.id]["sha256"] == asynchronous.sha256, job
    assert [c.sha256 for c in fresh[0]] == [c.sha256 for c in fresh[1]]
    assert max(max(sizes) for sizes in synchronous[0].sizes) > 16 * 1024


def test_synchronous_passes_build_bare_zlib_streams_with_node_streams_bytes() -> None:
    """The sweep's passes make their synchronous calls on zlib's native streams alone (node.js:
    BareStream, a new one per corpus stream), ws's asynchronous calls on node's whole streams;
    on many short streams (a new one for each) and every kind of cell the bytes are the same."""
    streams, directions = _sample_streams()
    short = [stream[i : i + 2] for stream in streams for i in range(0, len(stream), 2)]
    short_directions = [
        direction
        for stream, direction in zip(streams, directions, strict=True)
        for _ in range(0, len(stream), 2)
    ]
    settings = [
        Setting(9, 1, context_takeover=False, threshold=1024),
        Setting(12, 5, level=1, strategy="filtered"),
        Setting(15, 9, context_takeover=False),
    ]
    jobs = [_job(index, setting) for index, setting in enumerate(settings)]
    with node.corpus_file(short) as path:
        bare = node.run_cells(path, short_directions, jobs, jobs=1)
        whole = node.run_cells(path, short_directions, jobs, jobs=1, calls="ws")
    assert [cell.zlib_streams for cell in bare] == ["bare"] * len(jobs)
    assert [cell.zlib_streams for cell in whole] == ["node"] * len(jobs)
    assert [(c.sizes, c.sha256) for c in bare] == [(c.sizes, c.sha256) for c in whole]
    assert len(short) > 2 * len(streams)


# A preload that hands node.js a zlib binding whose streams compress at level 1 whatever they
# are asked: a node whose internals moved, as far as node.js can tell.
SKEWED_BINDING = """
const real = process.binding.bind(process);
process.binding = (name) => {
  const binding = real(name);
  if (name !== 'zlib') return binding;
  class Zlib extends binding.Zlib {
    init(bits, level, ...rest) { return super.init(bits, 1, ...rest); }
  }
  return { ...binding, Zlib };
};
"""


def test_a_binding_that_makes_other_bytes_falls_back_to_whole_streams(tmp_path: Path) -> None:
    """node.js checks a bare stream against a whole one before it builds any; where they disagree it
    uses node's whole streams: the same bytes as ever, never other ones."""
    preload = tmp_path / "skew.js"
    preload.write_text(SKEWED_BINDING)
    wrapper = tmp_path / "node"
    wrapper.write_text(f'#!/bin/sh\nexec "{node.find_node()}" --require "{preload}" "$@"\n')
    wrapper.chmod(0o755)
    streams, directions = _sample_streams()
    jobs = [_job(0, Setting(15, 8))]
    with node.corpus_file(streams) as path:
        skewed = node.run_cells(path, directions, jobs, jobs=1, node=str(wrapper))
        plain = node.run_cells(path, directions, jobs, jobs=1)
    assert skewed[0].zlib_streams == "node" and plain[0].zlib_streams == "bare"
    assert (skewed[0].sizes, skewed[0].sha256) == (plain[0].sizes, plain[0].sha256)


def test_timing_processes_start_with_v8_flags_and_give_the_same_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """node's timing processes start with NODE_CODEC_FLAGS, which node accepts, and measure the
    bytes a node started without them measures (the flags change when V8 compiles the script,
    not the zlib calls); another runtime (``node=``: Bun's way) gets no flags."""
    streams, directions = _sample_streams()
    jobs = [_job(index, Setting(wb, ml)) for index, (wb, ml) in enumerate(((9, 1), (15, 8)))]
    started: list[list[str]] = []
    real_run_helpers = node.run_helpers

    def spy(helpers, *args, **kwargs):  # type: ignore[no-untyped-def]
        started.extend(helper.argv for helper in helpers)
        return real_run_helpers(helpers, *args, **kwargs)

    monkeypatch.setattr(node, "run_helpers", spy)
    with node.corpus_file(streams) as path:
        flagged = node.run_cells(path, directions, jobs, jobs=1)
        plain = node.run_cells(path, directions, jobs, jobs=1, node=node.find_node())
    flags = list(node.NODE_CODEC_FLAGS)
    assert started[0][1 : 1 + len(flags)] == flags
    assert not set(flags) & set(started[1])
    assert [cell.sha256 for cell in flagged] == [cell.sha256 for cell in plain]
    assert [cell.sizes for cell in flagged] == [cell.sizes for cell in plain]


def test_issue_figures_on_the_commits_corpus() -> None:
    """Issue 10's figures, ws 8.23 + Node 20's zlib on websockets-commits.jsonl (one stream)."""
    loaded = corpus.load(CORPORA / "websockets-commits.jsonl")
    streams = loaded.streams()
    cases = [(9, 1, 0, 1_173_731), (12, 5, 0, 347_200), (15, 8, 0, 330_695)]
    # The issue's 348,030 B applies the threshold although context takeover is on: that is
    # the "always" rule. ws's own Sender ignores its threshold with takeover (347,200 B).
    cases.append((12, 5, 1024, 348_030))
    jobs = [_job(i, Setting(wb, ml, threshold=t)) for i, (wb, ml, t, _) in enumerate(cases)]
    with node.corpus_file([stream.payloads for stream in streams]) as path:
        measured = node.run_cells(path, [s.direction for s in streams], jobs, jobs=2)
    assert [sum(map(sum, cell.sizes)) for cell in measured] == [case[3] for case in cases]
    assert measured[3].compressed_messages == [1836]  # one message under 1024 B went raw


def test_sweep_with_node_fills_every_field(tmp_path: Path) -> None:
    """A small node sweep: cells like zlib's (same fields), threshold recorded, node versions and
    the clock in the metadata, memory measured (RSS grows with the window)."""
    from wsztune import results

    loaded = corpus.load(corpus.demo_corpus_path())
    grid = sweep.SweepPlan(window_bits=(9, 15), mem_levels=(1,), thresholds=(0, 1024))
    run = sweep.sweep(
        loaded,
        grid,
        codec_name="node",
        plan=sweep.TimingPlan(repeat=1, warmup=1, min_sample_seconds=0.0),
        jobs=2,
        server="ws",
    )
    saved = results.load(results.save(run, tmp_path / "node.json"))
    assert len(saved.cells) == 4
    assert {cell["threshold"] for cell in saved.cells} == {0, 1024}
    for cell in saved.cells:
        plain = [n for n in results.CELL_FIELD_NAMES if n not in results.BROADCAST_CELL_FIELDS]
        assert tuple(cell) == (*plain, results.UNIT_SIZES)  # no fan-out: no broadcast fields
        assert cell["compressed_messages"] <= cell["messages"]
        assert cell["compress_seconds"] > 0 and cell["connection_memory"] > 0
    assert saved.meta["codec"] == "node"
    assert saved.meta["server"] == "ws"
    assert saved.meta["node"]["zlib_version"]
    assert "process.cpuUsage" in saved.meta["timing"]["clock"]
    by_key = {(c["window_bits"], c["mem_level"], c["threshold"]): c for c in saved.cells}
    # A 15-bit window costs more resident memory than a 9-bit one (64 KiB more window alone).
    assert by_key[(15, 1, 0)]["connection_memory"] > by_key[(9, 1, 0)]["connection_memory"]


def test_node_connection_memory_counts_only_connections_that_compress(tmp_path: Path) -> None:
    """ws builds a zlib stream on first use: with a threshold and no context takeover, a
    connection whose messages are all short pays for nothing. Four connections, one with a
    long server message and one with a long client message: each stream is paid by a quarter
    of the connections; with takeover (ws ignores the threshold) by all."""
    long = "x" * 600 + "".join(f"{i:05d}" for i in range(200))  # 1,600 B, over 1024
    lines = [{"wsztune": "records/1"}]
    for name in "abcd":
        for direction, mine in (("server", "a"), ("client", "b")):
            text = long if name == mine else "hi"
            lines.append({"connection": name, "direction": direction, "text": text})
    path = tmp_path / "four.records.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    grid = sweep.SweepPlan(
        window_bits=(12,),
        mem_levels=(5,),
        context_takeover=(False, True),
        thresholds=(1024,),
        threshold_rule="ws",
    )
    run = sweep.sweep(
        corpus.load(path), grid, codec_name="node", plan=sweep.TimingPlan(measure_time=False)
    )
    by_takeover = {cell["context_takeover"]: cell for cell in run.cells}
    for takeover, share in ((False, 0.25), (True, 1.0)):
        cell = by_takeover[takeover]
        assert cell["compressor_share"] == cell["decompressor_share"] == share
        # One built stream costs what the probe measured (a 12-bit window and more)...
        assert cell["compress_memory_observed"] > 16 * 1024
        assert cell["decompress_memory_observed"] > 4 * 1024
        # ... and a connection the share of each.
        assert cell["connection_memory"] == round(
            share * cell["compress_memory_observed"] + share * cell["decompress_memory_observed"]
        )
    assert by_takeover[False]["compressed_messages"] == 2
    assert "compressor_share" in run.meta["memory_method"]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _claimed_cpu(cell: node.NodeCell) -> float:
    """CPU seconds a cell's timed passes say they took (samples are per pass)."""
    return (
        sum(cell.compress_samples) * cell.loops_compress
        + sum(cell.decompress_samples) * cell.loops_decompress
    )


def test_interleaved_processes_time_each_cell_with_its_own_cpu_time() -> None:
    """More node processes than cores (the sweep's default) must keep each cell's CPU time its
    own. CPU-time accounting, which a shared machine does not make flaky: what the cells' timed
    passes claim, added up, fits in the CPU time the node processes really used (a clock that
    counted another process's work, or cells timed on top of one another in one process, would
    claim more than was used), and is most of it (the passes are the work). The per-cell
    figures, interleaved and one cell at a time, are of the same size (the least sample of
    each: contention only ever adds; bench/node.py measures the ratio on the commits corpus)."""
    loaded = corpus.load(CORPORA / "chat.records.jsonl")
    streams = loaded.streams()
    settings = [Setting(9, 1), Setting(12, 5), Setting(15, 8)]
    jobs = [_job(i, setting) for i, setting in enumerate(settings)]
    timing = {"repeat": 3, "warmup": 1, "min_sample_seconds": 0.01}
    with node.corpus_file([stream.payloads for stream in streams]) as path:
        directions = [s.direction for s in streams]
        alone = node.run_cells(path, directions, jobs, timing=timing, jobs=1)
        before = _children_cpu()
        together = node.run_cells(path, directions, jobs, timing=timing, jobs=3)
        used = _children_cpu() - before
    claimed = sum(_claimed_cpu(cell) for cell in together)
    assert claimed <= used, (claimed, used)
    assert claimed >= 0.3 * used, (claimed, used)
    for one, many in zip(alone, together, strict=True):
        assert one.sizes == many.sizes and one.sha256 == many.sha256  # the same work
    least = [
        sum(min(cell.compress_samples) + min(cell.decompress_samples) for cell in run)
        for run in (alone, together)
    ]
    assert 0.5 < least[1] / least[0] < 2, least


def test_memory_of_the_same_corpus_twice_within_3_percent() -> None:
    """Two memory measurements of a bundled corpus give each cell's connection memory within
    3% (issue 19: RSS over 200 streams, one probe, moved by up to 6.2%)."""
    loaded = corpus.load(CORPORA / "chat.records.jsonl")
    streams = loaded.streams()
    summary = sweep.CorpusSummary.of(streams)
    settings = [Setting(9, 1), Setting(12, 5), Setting(15, 8)]
    jobs = [_job(i, setting) for i, setting in enumerate(settings)]
    sizes = [list(stream.sizes()) for stream in streams]
    with node.corpus_file([stream.payloads for stream in streams]) as path:
        runs = [
            node.measure_memory(
                path, sizes, summary.compressor_stream, summary.decompressor_stream, jobs, jobs=2
            )
            for _ in range(2)
        ]
    for job in jobs:
        first, second = (run[node.memory_key(job)] for run in runs)
        assert abs(first.connection - second.connection) <= 0.03 * first.connection, (
            job,
            first,
            second,
        )
        # What a tie is: the resolution covers the difference seen.
        resolution = first.compressor_resolution + first.decompressor_resolution
        assert first.compressor_resolution >= 2048 and first.decompressor_resolution >= 2048
        assert abs(first.connection - second.connection) <= resolution, (first, second)


def test_unpinned_two_processes_per_core(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where processes cannot be pinned, two per core keep the cores busy (one alone leaves its
    core idle while it waits on libuv's pool); pinned, one per core does."""
    monkeypatch.setattr(node, "pinnable_cores", lambda: [0, 1])
    assert node.processes_for(2) == 2
    monkeypatch.setattr(node, "pinnable_cores", lambda: [])
    assert node.processes_for(2) == 4


def _tiny_corpus(tmp_path: Path, name: str, texts: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("".join(text + "\n" for text in texts))
    return path


def test_memory_probes_are_cached_reused_and_measured_afresh_with_no_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probes' figures go to $WSZTUNE_CACHE: the same run again reads them back (the cells
    say ``cached``, the figures are equal), so does another corpus whose probe traffic has the
    same shape (message sizes), a corpus of another shape is probed, and --no-cache probes
    afresh. Probes of 120 streams: the cache is under test, not the probe."""
    from click.testing import CliRunner

    from wsztune import results
    from wsztune.cli import cli

    monkeypatch.setenv("WSZTUNE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(node, "MEMORY_CONNECTIONS", 120)
    texts = [f'{{"n": {i}, "text": "{"abc" * (40 + i)}"}}' for i in range(6)]
    first = _tiny_corpus(tmp_path, "a.jsonl", texts)
    # Same sizes, other bytes: the same traffic shape.
    same_shape = _tiny_corpus(tmp_path, "b.jsonl", [text.replace("abc", "xyz") for text in texts])
    other_shape = _tiny_corpus(tmp_path, "c.jsonl", [text.replace("}", ' }') for text in texts])

    def sweep_memory(corpus_path: Path, *extra: str) -> list[dict[str, object]]:
        output = tmp_path / f"{corpus_path.stem}-{len(list(tmp_path.glob('*.json')))}.json"
        outcome = CliRunner().invoke(
            cli,
            ["run", str(corpus_path), "--server", "ws", "--window-bits", "9,15"]
            + ["--mem-level", "8", "--no-timing", "--quiet", "-o", str(output), *extra],
        )
        assert outcome.exit_code == 0, (outcome.output, repr(outcome.exception))
        return results.load(output).cells

    cold = sweep_memory(first)
    assert {cell["memory_source"] for cell in cold} == {"measured"}
    probes = sorted((tmp_path / "cache" / "node-memory").glob("*.json"))
    assert len(probes) == 4  # two compressors, two decompressors

    def figures(cells: list[dict[str, object]]) -> list[tuple[object, ...]]:
        return [
            (c["compress_memory_observed"], c["decompress_memory_observed"], c["memory_resolution"])
            for c in cells
        ]

    warm = sweep_memory(first)
    assert {cell["memory_source"] for cell in warm} == {"cached"}
    assert figures(warm) == figures(cold)
    assert [c["compressed_bytes"] for c in warm] == [c["compressed_bytes"] for c in cold]
    assert {c["memory_source"] for c in sweep_memory(same_shape)} == {"cached"}
    assert {c["memory_source"] for c in sweep_memory(other_shape)} == {"measured"}
    assert {c["memory_source"] for c in sweep_memory(first, "--no-cache")} == {"measured"}
    # --no-cache refreshed the entries it measured, and added none.
    assert len(list((tmp_path / "cache" / "node-memory").glob("*.json"))) == 8


def test_memory_cache_misses_on_another_key_or_a_damaged_entry(tmp_path: Path) -> None:
    """An entry is read back only under its own key: another node binary, setting or traffic
    shape is a miss; so is a damaged file; ``read=False`` (--no-cache) never reads."""
    from wsztune.programs.cache import MemoryCache, ProbeFigure

    cache = MemoryCache(tmp_path)
    key = {"node": "/usr/bin/node:1:2", "kind": "compressor", "setting": [9, 8], "sizes": [10]}
    cache.put(key, ProbeFigure(100_000, 300))
    assert cache.get(dict(key)) == ProbeFigure(100_000, 300)
    for change in ({"node": "/usr/bin/node:1:3"}, {"setting": [9, 7]}, {"sizes": [11]}):
        assert cache.get({**key, **change}) is None
    assert MemoryCache(tmp_path, read=False).get(key) is None
    (entry,) = tmp_path.glob("*.json")
    entry.write_text("{not json")
    assert cache.get(key) is None


def test_derived_compressors_are_a_row_and_three_windows_of_a_column() -> None:
    """A windowBits x memLevel rectangle of compressors: one row of probes (the middle window),
    and the middle memLevel's column probed at its ends and the middle window, interpolated
    linearly in 2 ** windowBits between them; the other cells are row + column - corner.
    Smaller than 3 x 3, every cell is probed; decompressors are always probed."""

    def name(bits: int, mem_level: int) -> tuple:
        return ("compressor", bits, mem_level, -1, 0, True, 0)

    names = [name(bits, mem_level) for bits in range(9, 16) for mem_level in (1, 5, 8, 9)]
    names += [("decompressor", 9, True, 0, None, None)]
    derived = node.derivable(names)
    probed = set(names) - set(derived)
    assert probed == {name(12, level) for level in (1, 5, 8, 9)} | {
        name(9, 8), name(15, 8), ("decompressor", 9, True, 0, None, None)
    }
    # 12:8 is the corner; 10:8 lies between the probed 9:8 and 12:8, by 2 ** windowBits.
    share = (1024 - 512) / (4096 - 512)
    assert derived[name(10, 8)] == ((name(9, 8), 1.0 - share), (name(12, 8), share))
    assert derived[name(14, 1)] == (
        (name(12, 8), 1.0 - (16384 - 4096) / (32768 - 4096)),
        (name(15, 8), (16384 - 4096) / (32768 - 4096)),
        (name(12, 1), 1.0),
        (name(12, 8), -1.0),
    )
    assert derived[name(9, 1)] == ((name(9, 8), 1.0), (name(12, 1), 1.0), (name(12, 8), -1.0))
    assert node.derivable([n for n in names if n[1] in (9, 12)]) == {}
    figure = node._Figure.derived(
        [
            (node._Figure(100, 2048, "measured"), 1.0),
            (node._Figure(50, 2048, "cached"), 1.0),
            (node._Figure(40, 2048, "measured"), -1.0),
        ]
    )
    assert (figure.held, figure.source) == (110, "derived")
    assert 2048 < figure.resolution < 3 * 2048
    # An interpolated figure: the weighted sum; its resolution never below the grain.
    halfway = node._Figure.derived(
        [(node._Figure(100, 2048, "measured"), 0.5), (node._Figure(200, 2048, "measured"), 0.5)]
    )
    assert (halfway.held, halfway.resolution) == (150, node.MEMORY_GRAIN)


def _ws_broadcast(
    ws_dir: Path, tmp_path: Path, fanout: int
) -> tuple[Path, dict[str, Any], DeliverySchedule]:
    """A 60-message corpus written to ``tmp_path``, and the timing job of a broadcast of it
    to ``fanout`` subscribers through the ws in ``ws_dir``."""
    streams = [[f'{{"n": {n}, "text": "{"hello " * (n % 40)}"}}'.encode() for n in range(60)]]
    schedule = delivery_schedule(60, fanout=fanout, repeat=2, warmup=1)
    assert schedule is not None
    deliveries = {**schedule.helper_job(), "ws": str(ws_dir),
                  "sink": sink.helper_job(schedule.compressors)}  # fmt: skip
    timing = {"repeat": 1, "warmup": 1, "min_sample_seconds": 0.0, "deliveries": deliveries}
    path = tmp_path / "corpus.bin"
    write_corpus(streams, path)
    return path, timing, schedule


def test_broadcast_deliveries_go_through_ws_itself(ws_dir: Path, tmp_path: Path) -> None:
    """With ws at hand, a broadcast's deliveries are timed through ws's own Sender and
    PerMessageDeflate (the plan names the package: a wrong directory fails on ws's files), and
    the figure is what compression adds, 0 or more per stretch; the sweep finds wsztune's ws."""
    path, timing, _ = _ws_broadcast(ws_dir, tmp_path, 4)
    jobs = [_job(0, Setting(window_bits=15, mem_level=8, threshold=0))]
    [cell] = node.run_cells(path, ["server"], jobs, timing=timing, jobs=1)
    assert cell.delivery is not None
    assert len(cell.delivery["compress"]) == 2 and min(cell.delivery["compress"]) >= 0
    timing["deliveries"]["ws"] = str(tmp_path / "no-ws-here")  # type: ignore[index]
    with pytest.raises(RuntimeError, match="sender.js"):
        node.run_cells(path, ["server"], jobs, timing=timing, jobs=1)


def test_broadcast_through_ws_sends_every_frame_through_loopback_sockets(
    ws_dir: Path, tmp_path: Path
) -> None:
    """ws's Senders write to real loopback TCP sockets that wsztune's own reader drains
    (programs/sink.py, as the other models'): it reads exactly the bytes the sockets wrote
    (every frame, compressed and plain, of every subscriber), one socket per subscriber, and
    is gone after the cell; without loopback sockets, or without a reader in the plan, a fake
    socket, labelled so."""
    path, timing, schedule = _ws_broadcast(ws_dir, tmp_path, 5)
    [cell] = node.run_cells(path, ["server"], [_job(0, Setting(window_bits=15, mem_level=8))],
                            timing=timing, jobs=1)  # fmt: skip
    assert cell.delivery is not None
    sends = cell.delivery["sends"]
    assert sends["to"] == "loopback" and sends["sockets"] == schedule.compressors
    # At least every timed message went to every subscriber twice (with and without compression).
    assert sends["written"] == sends["read"] > 2 * schedule.compressors * 16
    assert not Path(f"/proc/{sends['pid']}").exists()
    # Where no loopback socket opens (a sandbox), the sends go nowhere, and the cell says so.
    guard = tmp_path / "no-sockets.js"
    guard.write_text("require('net').Server.prototype.listen = function () {\n"
                     "  throw new Error('no sockets here');\n};\n", encoding="utf-8")  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NODE_OPTIONS", f"--require {guard}")
        [cell] = node.run_cells(path, ["server"], [_job(0, Setting(window_bits=15, mem_level=8))],
                                timing=timing, jobs=1)  # fmt: skip
    assert cell.delivery is not None and cell.delivery["sends"] == {"to": "none"}
    assert len(cell.delivery["compress"]) == 2 and min(cell.delivery["compress"]) >= 0
    del timing["deliveries"]["sink"]
    [cell] = node.run_cells(path, ["server"], [_job(0, Setting(window_bits=15, mem_level=8))],
                            timing=timing, jobs=1)  # fmt: skip
    assert cell.delivery is not None and cell.delivery["sends"] == {"to": "none"}


def test_broadcast_hot_and_inflating_series_are_ws_zlib_calls_made_synchronously(
    ws_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broadcast's hot compressor and its subscribers' decompressors are timed on ws's zlib
    calls made synchronously (the zlib codec's definition: the zlib calls alone), only the
    compress series through ws's own asynchronous path: with every asynchronous deflate or
    inflate flush outside ws's permessage-deflate.js made to fail, the cell still measures;
    with the passes' calls made as ws makes them ("ws"), the guard trips."""
    guard = tmp_path / "guard.js"
    guard.write_text(
        "const zlib = require('zlib');\n"
        "for (const name of ['DeflateRaw', 'InflateRaw']) {\n"
        "  const flush = zlib[name].prototype.flush;\n"
        "  zlib[name].prototype.flush = function (...args) {\n"
        "    if (!new Error().stack.includes('permessage-deflate.js')) {\n"
        "      throw new Error(`asynchronous ${name} flush outside ws`);\n"
        "    }\n"
        "    return flush.apply(this, args);\n"
        "  };\n"
        "}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("NODE_OPTIONS", f"--require {guard}")
    path, timing, _ = _ws_broadcast(ws_dir, tmp_path, 3)
    for takeover in (True, False):
        setting = Setting(window_bits=12, mem_level=5, threshold=0, context_takeover=takeover)
        [cell] = node.run_cells(path, ["server"], [_job(0, setting)], timing=timing, jobs=1)
        assert cell.delivery is not None
        for series in ("compress", "hot", "decompress"):
            assert len(cell.delivery[series]) == 2 and min(cell.delivery[series]) >= 0
    with pytest.raises(RuntimeError, match="asynchronous DeflateRaw flush outside ws"):
        node.run_cells(path, ["server"], [_job(0, setting)], timing=timing, jobs=1, calls="ws")


@pytest.mark.parametrize("hangs", [False, True])
def test_a_memory_probe_is_bounded_by_the_stall_guard_not_a_wall_clock(
    tmp_path: Path, hangs: bool
) -> None:
    """A probe that works, however long, gives its figure; one that uses no CPU for the
    guard's span is stopped with one line (HelperStalled, exit 2) instead of waited for."""
    import stat
    import sys

    from wsztune.programs import HelperStalled

    work = "import time\ntime.sleep(600)\n" if hangs else (
        "import time\nend = time.process_time() + 3\nwhile time.process_time() < end: pass\n"
        "print('{\"held\": 4096, \"error\": 10}')\n"
    )
    fake_node = tmp_path / "node"
    fake_node.write_text(f"#!{sys.executable}\n{work}")
    fake_node.chmod(fake_node.stat().st_mode | stat.S_IEXEC)
    runner = node._ProbeRunner(tmp_path / "corpus.bin", 1, str(fake_node), None)
    runner.stall_seconds = 2
    runner.job = lambda item: {}  # type: ignore[method-assign]
    runner.slots.put(None)
    if hangs:
        with pytest.raises(HelperStalled, match="^node memory probe stopped working"):
            runner.run(("probe", None))  # type: ignore[arg-type]
    else:
        name, figure = runner.run(("probe", None))  # type: ignore[arg-type]
        assert (name, figure.held, figure.source) == ("probe", 4096, "measured")


def test_an_interrupted_probe_run_leaves_no_child_of_a_launcher_behind(tmp_path: Path) -> None:
    """Ctrl-C while a probe runs under a launcher (a ``node`` that runs the real one as its
    child, as Volta's shim does): the launcher and its child are both killed; the child alone
    would live on, holding the probe's pipes and its core."""
    import os
    import signal
    import stat
    import sys
    import threading
    import time

    pid_file = tmp_path / "child.pid"
    fake_node = tmp_path / "node"
    fake_node.write_text(f"#!{sys.executable}\n{launcher_script(pid_file)}")
    fake_node.chmod(fake_node.stat().st_mode | stat.S_IEXEC)
    runner = node._ProbeRunner(tmp_path / "corpus.bin", 1, str(fake_node), None)
    runner.job = lambda item: {}  # type: ignore[method-assign]

    main = threading.main_thread().ident
    assert main is not None

    def interrupt_once_the_child_runs() -> None:
        deadline = time.monotonic() + 30
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        # To the main thread, where Python raises it: sent to the process, one full run of two
        # here waited out the probe's 60 s stall instead, the interrupt never raised.
        signal.pthread_kill(main, signal.SIGINT)

    # Ctrl-C as a terminal's: an earlier in-process command that was stopped leaves SIGINT
    # ignored (first_interrupt_only: the process is on its way out).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    threading.Thread(target=interrupt_once_the_child_runs, daemon=True).start()
    try:
        with pytest.raises(KeyboardInterrupt):
            runner.run_all([(("probe",), None)], 1)  # type: ignore[list-item]
    finally:
        signal.signal(signal.SIGINT, previous)
    pid = int(pid_file.read_text())
    if not process_ended(pid):
        os.kill(pid, signal.SIGKILL)  # leave nothing behind, then fail
        pytest.fail(f"the launcher's child {pid} survived the interrupt")


def test_a_memory_probe_failing_with_bytes_that_are_not_utf8_says_why(tmp_path: Path) -> None:
    """A probe whose stderr holds a byte that is not UTF-8 fails with its last line, its whole
    message saved (the byte read as a replacement character), not with a reader thread's
    traceback."""
    import stat
    import sys

    fake_node = tmp_path / "node"
    fake_node.write_text(
        f"#!{sys.executable}\nimport sys\n"
        "sys.stderr.buffer.write(b'\\xff garbled\\nout of memory\\n')\nsys.exit(1)\n"
    )
    fake_node.chmod(fake_node.stat().st_mode | stat.S_IEXEC)
    runner = node._ProbeRunner(tmp_path / "corpus.bin", 1, str(fake_node), None)
    runner.job = lambda item: {}  # type: ignore[method-assign]
    runner.slots.put(None)
    with pytest.raises(HelperFailed) as failure:
        runner.run(("probe", None))  # type: ignore[arg-type]
    message = str(failure.value)
    assert message.startswith("node memory probe failed (exit code 1): out of memory (its whole ")
    saved = Path(message.split("its whole error output: ")[1].split(")")[0])
    assert saved.read_text(encoding="utf-8") == "\ufffd garbled\nout of memory\n"
    saved.unlink()
