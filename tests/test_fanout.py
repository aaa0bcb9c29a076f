"""Broadcasts found in a corpus: ``corpus stats`` fan-out, exact on a corpus of known groups."""

from __future__ import annotations

import json
import random
import shutil
import statistics
from pathlib import Path

import pytest
from click.testing import CliRunner

from wsztune import corpus, results
from wsztune import fanout as broadcasts
from wsztune.cli import cli
from wsztune.codecs import zlib as zlib_codec
from wsztune.fanout import detect_fanout


def broadcast_corpus(path: Path, groups: list[int], seed: int = 5) -> Path:
    """A records corpus where broadcast ``i`` sends one payload to ``groups[i]`` of 60
    subscribers, its deliveries spread over 0.4 s and interleaved with the other broadcasts',
    plus client messages and per-connection replies that repeat nothing within a second."""
    rng = random.Random(seed)
    subscribers = [f"c{n}" for n in range(60)]
    records: list[dict[str, object]] = []
    for index, fanout in enumerate(groups):
        start = index * 0.3  # broadcasts overlap in time: only the payload tells them apart
        payload = json.dumps({"channel": "prices", "seq": index, "bid": rng.random()})
        for connection in rng.sample(subscribers, fanout):
            records.append(
                {"connection": connection, "t": start + rng.uniform(0, 0.4), "text": payload}
            )
    for n, connection in enumerate(subscribers):
        records.append({"connection": connection, "t": n * 0.01, "direction": "client",
                        "text": json.dumps({"subscribe": "prices"})})
        records.append({"connection": connection, "t": n * 0.01 + 0.005,
                        "text": json.dumps({"ack": n})})
    # The same heartbeat to one connection every 2 s: repeated, but never a broadcast.
    records += [{"connection": "c0", "t": 2.0 * k, "text": '{"ping":1}'} for k in range(5)]
    records.sort(key=lambda record: record["t"])
    lines = ['{"wsztune":"records/1"}'] + [json.dumps(record) for record in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GROUPS = [2, 60, 7, 7, 31, 3, 12, 45, 2, 19]


def test_fanout_of_known_broadcast_groups_is_exact(tmp_path: Path) -> None:
    found = detect_fanout(corpus.load(broadcast_corpus(tmp_path / "b.jsonl", GROUPS)))
    assert found is not None
    singles = 60 + 5  # the acks and the heartbeats
    assert found.broadcasts == len(GROUPS)
    assert found.max == max(GROUPS)
    assert found.mean == pytest.approx(sum(GROUPS) / len(GROUPS))
    assert found.broadcast_deliveries == sum(GROUPS)
    assert found.deliveries == sum(GROUPS) + singles
    assert found.share == pytest.approx(sum(GROUPS) / (sum(GROUPS) + singles))
    expected = {1: singles}
    for fanout in GROUPS:
        expected[fanout] = expected.get(fanout, 0) + 1
    assert found.distribution == expected


def test_the_window_separates_repeats(tmp_path: Path) -> None:
    # The heartbeat repeats every 2 s to one connection; with a 3 s window it is still one
    # connection (no broadcast), and the same payload sent again to a connection opens a new
    # group rather than widening the old one.
    path = tmp_path / "r.jsonl"
    lines = ['{"wsztune":"records/1"}']
    for t, connection in [(0.0, "a"), (0.1, "b"), (0.2, "a"), (0.3, "b"), (5.0, "c")]:
        lines.append(json.dumps({"connection": connection, "t": t, "text": "same"}))
    path.write_text("\n".join(lines) + "\n")
    found = detect_fanout(corpus.load(path), window=1.0)
    assert found is not None
    assert found.distribution == {2: 2, 1: 1}
    wide = detect_fanout(corpus.load(path), window=10.0)
    assert wide is not None and wide.distribution == {2: 1, 3: 1}


def test_untimed_corpus_cannot_tell(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"wsztune":"records/1"}\n{"text":"x"}\n')
    assert detect_fanout(corpus.load(path)) is None
    result = CliRunner().invoke(cli, ["corpus", "stats", "--json", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["fanout"] is None


def test_corpus_stats_reports_fanout(tmp_path: Path) -> None:
    path = broadcast_corpus(tmp_path / "b.jsonl", GROUPS)
    result = CliRunner().invoke(cli, ["corpus", "stats", "--json", str(path)])
    assert result.exit_code == 0, result.output
    fanout = json.loads(result.output)["fanout"]
    assert (fanout["max"], fanout["broadcasts"]) == (60, len(GROUPS))
    assert fanout["mean"] == pytest.approx(18.8)
    assert fanout["share"] == pytest.approx(188 / 253)
    text = CliRunner().invoke(cli, ["corpus", "stats", str(path)])
    assert text.exit_code == 0, text.output
    assert "fan-out mean / max" in text.output and "18.8 / 60" in text.output
    # A window shorter than the deliveries' spread splits the broadcasts.
    narrow = CliRunner().invoke(
        cli, ["corpus", "stats", "--json", "--broadcast-window", "0.01", str(path)]
    )
    assert json.loads(narrow.output)["fanout"]["max"] < 60


def test_har_corpus_has_fanout() -> None:
    loaded = corpus.load(Path(__file__).resolve().parent.parent / "corpora" / "chat.har")
    found = detect_fanout(loaded)
    assert found is not None and found.deliveries == sum(
        1 for message in loaded.messages if message.direction == "server"
    )


def sweep_args(corpus_path: Path, output: Path) -> list[str]:
    """A quick run: two cells, sizes and memory only."""
    return ["run", str(corpus_path), "--window-bits", "15", "--mem-level", "8,9", "--no-timing",
            "-j", "1", "-q", "-o", str(output)]


def test_run_and_recommend_carry_the_fanout(tmp_path: Path) -> None:
    timed = broadcast_corpus(tmp_path / "b.jsonl", GROUPS)
    runner = CliRunner()
    result = runner.invoke(cli, sweep_args(timed, tmp_path / "r.json"))
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "r.json").read_text())["meta"]
    assert meta["fanout"]["source"] == "corpus"
    assert (meta["fanout"]["max"], meta["fanout"]["broadcasts"]) == (60, len(GROUPS))

    # --fanout states it; the corpus's own figure stays beside it.
    result = runner.invoke(cli, [*sweep_args(timed, tmp_path / "s.json"), "--fanout", "1000"])
    assert result.exit_code == 0, result.output
    stated = json.loads((tmp_path / "s.json").read_text())["meta"]["fanout"]
    assert (stated["source"], stated["max"], stated["mean"]) == ("--fanout", 1000, 1000.0)
    assert stated["corpus"]["max"] == 60

    # recommend goes by --fanout over the run's, and says which.
    result = runner.invoke(
        cli, ["recommend", "--results", str(tmp_path / "r.json"), "--json", "--fanout", "40"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["fanout"]["max"], document["fanout"]["corpus"]["max"]) == (40, 60)
    result = runner.invoke(cli, ["recommend", "--results", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert "fan-out 18.8 mean, 60 max" in result.stderr


def test_untimed_run_has_no_fanout_unless_stated(tmp_path: Path) -> None:
    untimed = tmp_path / "u.jsonl"
    untimed.write_text('{"wsztune":"records/1"}\n{"text":"hello"}\n{"text":"world"}\n')
    runner = CliRunner()
    assert runner.invoke(cli, sweep_args(untimed, tmp_path / "r.json")).exit_code == 0
    assert "fanout" not in json.loads((tmp_path / "r.json").read_text())["meta"]
    bad = runner.invoke(cli, [*sweep_args(untimed, tmp_path / "x.json"), "--fanout", "0"])
    assert bad.exit_code == 2 and not (tmp_path / "x.json").exists()


def test_a_damaged_fanout_is_refused_on_load(tmp_path: Path) -> None:
    timed = broadcast_corpus(tmp_path / "b.jsonl", GROUPS)
    runner = CliRunner()
    assert runner.invoke(cli, sweep_args(timed, tmp_path / "r.json")).exit_code == 0
    document = json.loads((tmp_path / "r.json").read_text())
    document["meta"]["fanout"]["share"] = 1.5
    (tmp_path / "r.json").write_text(json.dumps(document))
    result = runner.invoke(cli, ["recommend", "--results", str(tmp_path / "r.json")])
    assert result.exit_code == 2
    assert "meta.fanout.share" in result.output


def test_a_sample_keeps_the_whole_corpus_fanout(tmp_path: Path) -> None:
    timed = broadcast_corpus(tmp_path / "b.jsonl", GROUPS)
    result = CliRunner().invoke(cli, [*sweep_args(timed, tmp_path / "r.json"), "--sample", "5"])
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "r.json").read_text())["meta"]
    assert meta["corpus"]["messages"] < 313  # 5 of 60 subscribers kept
    assert (meta["fanout"]["max"], meta["fanout"]["broadcasts"]) == (60, len(GROUPS))


# CPU per delivery: K compressors interleaved ------------------------------------------------------

DELIVERY_FIELDS = ("compress_seconds_per_delivery", "decompress_seconds_per_delivery",
                   "compress_seconds_per_message", "delivery_compressors")  # fmt: skip


def test_delivery_schedule_spreads_stretches_over_the_corpus() -> None:
    # 1,000 subscribers at 15:8 (256 KiB of state each): as many as 64 MiB of state holds.
    schedule = broadcasts.delivery_schedule(1000, fanout=1000, repeat=5, warmup=1,
                                            state_bytes=256 << 10)  # fmt: skip
    assert schedule is not None and schedule.compressors == 256
    assert schedule.deliveries_per_sample >= broadcasts.MIN_DELIVERIES_PER_SAMPLE
    assert [start for start, _ in schedule.stretches] == [0, 166, 333, 500, 666, 833]
    hot = schedule.hot()  # as many deliveries through one compressor
    assert (hot.compressors, hot.deliveries_per_sample) == (1, schedule.deliveries_per_sample)
    assert broadcasts.delivery_schedule(1000, fanout=1, repeat=5, warmup=1) is None
    # Small state (or none): every subscriber's compressor; never fewer than 128.
    assert broadcasts.interleaved(1000, 37 << 10) == 1000
    assert broadcasts.interleaved(40_000, 0) == 40_000
    assert broadcasts.interleaved(40_000, 1 << 20) == broadcasts.MIN_INTERLEAVED
    assert broadcasts.delivery_schedule(10, fanout=3, repeat=1, warmup=1).compressors == 3  # type: ignore[union-attr]
    # Takeover: every compressor first fed twice its window, cycling over the messages.
    assert broadcasts.priming_messages([100, 300], 1024) == 11  # 2,100 B >= 2,048
    assert broadcasts.priming_messages([100, 300], 0) == 0


def test_per_delivery_reads_samples_per_byte_of_mean_message() -> None:
    schedule = broadcasts.DeliverySchedule(4, 2, 1, ((0, 2), (2, 4)))
    # The timed stretch holds messages of 30 and 10 B (mean of all four: 25 B) x 2 compressors.
    fields = broadcasts.delivery_fields(schedule, [40, 20, 30, 10], [0.8], [0.4], [0.2])
    assert fields["compress_seconds_per_delivery"] == pytest.approx(0.8 / 40 * 25 / 2)
    assert fields["decompress_seconds_per_delivery"] == pytest.approx(0.4 / 40 * 25 / 2)
    assert fields["delivery_compressors"] == 2
    assert broadcasts.delivery_fields(None, [1], [1.0], [1.0], [1.0]) == {}


@pytest.mark.parametrize(
    ("sizes", "threshold", "expected"),
    [
        # Every message reaches the compressor: per byte of the stretch (40 B of its 30 + 10),
        # for the corpus's mean message (25 B), over the 2 compressors.
        ([40, 20, 30, 10], 0, 0.8 / 40 * 25 / 2),
        # Under a 25 B threshold only the 30 B message of the stretch is compressed: per byte of
        # it, for the corpus's mean compressed bytes per message ((40 + 30) / 4).
        ([40, 20, 30, 10], 25, 0.8 / 30 * (70 / 4) / 2),
        # Nothing reaches the compressor anywhere: every byte counts, as without a threshold.
        ([40, 20, 30, 10], 100, 0.8 / 40 * 25 / 2),
    ],
)
def test_samples_are_read_per_byte_that_reaches_the_compressor(
    sizes: list[int], threshold: int, expected: float
) -> None:
    """Messages under the threshold are sent raw, at the cost of compression off, which the
    samples (on - off) leave out: only the bytes that go through the compressor scale them."""
    schedule = broadcasts.DeliverySchedule(4, 2, 1, ((0, 2), (2, 4)))
    assert broadcasts.seconds_per_delivery(schedule, sizes, [0.8], None, threshold) == (
        pytest.approx(expected)
    )


def test_a_stretch_with_nothing_compressed_says_nothing_of_the_cost() -> None:
    """Its sample (on - off, about nothing) is left out of the median, where read per byte of
    all its messages it would pull the figure towards zero."""
    schedule = broadcasts.DeliverySchedule(4, 1, 1, ((0, 1), (1, 2), (2, 3), (3, 4)))
    sizes = [10, 200, 10, 300]  # the second and fourth are compressed at 100 B
    per_delivery = broadcasts.seconds_per_delivery(schedule, sizes, [2e-3, 0.0, 3e-3], None, 100)
    assert per_delivery == pytest.approx(statistics.median([2e-3 / 200 * 125, 3e-3 / 300 * 125]))


@pytest.mark.parametrize(
    ("samples", "longer", "expected"),
    [
        # Each 1 KiB more cost nothing: 0 per byte. Stretch 1 holds 2 compressed messages
        # (2 compressors), stretch 2 one.
        ([0.8, 0.4], [0.8, 0.4], 0.0),
        # 1 KiB more cost 0.2 s per compressed message over the 2 compressors.
        ([0.8, 0.4], [1.2, 0.6], 0.2 / 2 / 1024),
        # Longer messages that read cheaper (noise about nothing): no negative cost.
        ([0.8, 0.4], [0.7, 0.3], 0.0),
    ],
)
def test_the_cost_per_byte_is_the_longer_messages_over_their_bytes(
    samples: list[float], longer: list[float], expected: float
) -> None:
    """What a compressed delivery costs per byte more: each stretch's compressed messages,
    timed LONGER_BY bytes longer, less its own sample, per message, byte and compressor."""
    schedule = broadcasts.DeliverySchedule(6, 2, 1, ((0, 2), (2, 4), (4, 6)))
    sizes = [9, 9, 200, 300, 5, 400]  # threshold 100: stretches of 2 and of 1 compressed
    assert broadcasts.byte_cost(schedule, sizes, samples, longer, 100) == pytest.approx(expected)
    assert broadcasts.byte_cost(schedule, [1] * 6, samples, longer, 100) is None  # none compressed


@pytest.mark.parametrize(
    ("per_byte", "expected"),
    [
        # Nothing per byte: the stretches' cost per compressed message (0.8 s over 2 messages
        # and 2 compressors; 0.4 over 1 and 2: 0.2 either way), for the corpus's share (3 of 6).
        (0.0, 0.2 * 3 / 6),
        # 1 ms per byte: stretch 1's messages (mean 250 B) move to the corpus's mean compressed
        # message (300 B) by 50 ms, stretch 2's (400 B) by -100 ms; the median of the two.
        (1e-3, statistics.median([(0.2 + 0.05) / 2, (0.2 - 0.1) / 2])),
    ],
)
def test_with_a_cost_per_byte_samples_are_read_per_compressed_message(
    per_byte: float, expected: float
) -> None:
    """A library that pays mostly per compressed message (coder's dictionary, refilled on every
    call): each stretch per compressed message, moved by the cost per byte to the corpus's mean
    compressed message, for the corpus's share of compressed messages."""
    schedule = broadcasts.DeliverySchedule(6, 2, 1, ((0, 2), (2, 4), (4, 6)))
    sizes = [9, 9, 200, 300, 5, 400]
    reading = broadcasts.seconds_per_delivery(schedule, sizes, [0.8, 0.4], None, 100, per_byte)
    assert reading == pytest.approx(expected)
    # Without a cost per byte (the codec did not time longer messages): per byte, as before.
    assert broadcasts.seconds_per_delivery(schedule, sizes, [0.8, 0.4], None, 100) == (
        pytest.approx(statistics.median([0.8 / 500 * 150 / 2, 0.4 / 400 * 150 / 2]))
    )


@pytest.mark.parametrize(
    ("samples", "per_byte"),
    [
        # On - off samples (the Go helper's connections) that a loaded machine read below zero.
        ([-0.8, -0.4], None),
        # A stretch of larger messages moved down by the cost per byte past its own reading
        # (stretch 2: 0.2 per message less 100 B at 5 ms each), the other stretch as low.
        ([0.0, 0.4], 5e-3),
    ],
)
def test_a_figure_per_delivery_is_never_below_zero(
    samples: list[float], per_byte: float | None
) -> None:
    """No negative CPU: the figure a results file holds, which its reader bounds at 0."""
    schedule = broadcasts.DeliverySchedule(6, 2, 1, ((0, 2), (2, 4), (4, 6)))
    sizes = [9, 9, 200, 300, 5, 400]
    assert broadcasts.seconds_per_delivery(schedule, sizes, samples, None, 100, per_byte) == 0.0


def test_a_figure_is_read_for_other_messages_per_compressed_message() -> None:
    """As bench/broadcast.py reads the model for its windows: per compressed message, moved
    by the cost per byte between the two mean compressed messages, for the other's share."""
    corpus = broadcasts.compressed_mix([9, 9, 200, 300, 5, 400], 100)
    assert corpus == broadcasts.CompressedMix(0.5, 300.0)
    window = broadcasts.CompressedMix(0.25, 100.0)
    assert broadcasts.reading_for(1e-5, 0.0, corpus, window) == pytest.approx(0.5e-5)
    assert broadcasts.reading_for(1e-5, 1e-8, corpus, window) == pytest.approx(
        0.25 * (2e-5 - 200 * 1e-8)
    )
    assert broadcasts.reading_for(1e-5, 0.0, broadcasts.CompressedMix(0.0, 0.0), window) == 0.0
    # Empty messages are never compressed, whatever the threshold.
    assert broadcasts.compressed_flags([0, 1, 5], 0) == [0, 1, 1]


def test_delivery_fields_carry_the_cost_per_byte_they_were_read_with() -> None:
    schedule = broadcasts.DeliverySchedule(6, 2, 1, ((0, 2), (2, 4), (4, 6)))
    sizes = [9, 9, 200, 300, 5, 400]
    fields = broadcasts.delivery_fields(schedule, sizes, [0.8, 0.4], [0.1, 0.1], [0.1, 0.1],
                                        threshold=100, longer_samples=[0.8, 0.4])  # fmt: skip
    assert fields[broadcasts.BYTE_COST_FIELD] == 0.0
    assert fields["compress_seconds_per_delivery"] == pytest.approx(0.2 * 3 / 6)
    plain = broadcasts.delivery_fields(schedule, sizes, [0.8, 0.4], [0.1, 0.1], [0.1, 0.1])
    assert broadcasts.BYTE_COST_FIELD not in plain  # a codec that timed no longer messages


def test_the_results_schema_holds_every_field_a_broadcast_cell_gets_as_broadcast_only() -> None:
    """What delivery_fields may write is what loading leaves absent from a run without a fan-out:
    the schema's broadcast flag and fanout's names are one list."""
    written = {
        *broadcasts.DELIVERY_FIELD_NAMES,
        broadcasts.BYTE_COST_FIELD,
        broadcasts.RAW_COST_FIELD,
    }
    assert written == results.BROADCAST_CELL_FIELDS


def test_a_calibrated_sample_lasts_the_target_cpu_between_its_bounds() -> None:
    """A sample holds as many messages as DELIVERY_SAMPLE_FACTOR x --min-sample-time of CPU asks
    for, found on the warm-up stretch run a message at a time: at least 16 messages, at most the
    fixed 4,096 deliveries; without a target (the Go codec) the full stretches, as before."""
    plain = broadcasts.delivery_schedule(1000, fanout=2, repeat=2, warmup=1)
    assert plain is not None and plain.sample_seconds is None
    assert "sample_seconds" not in plain.helper_job()
    schedule = broadcasts.delivery_schedule(1000, fanout=2, repeat=2, warmup=1,
                                            min_sample_seconds=0.02)  # fmt: skip
    assert schedule is not None
    assert schedule.sample_seconds == pytest.approx(broadcasts.DELIVERY_SAMPLE_FACTOR * 0.02)
    assert schedule.helper_job()["min_messages"] == broadcasts.MIN_MESSAGES_PER_STRETCH
    full = broadcasts.MIN_DELIVERIES_PER_SAMPLE // 2
    assert schedule.stretches[0] == (0, full)
    # 1 ms per message: the warm-up runs 100 messages (0.1 s) and the samples hold 100.
    stepped: list[int] = []

    def step(index: int) -> float:
        stepped.append(index)
        return 0.001

    ran: list[list[int]] = []

    def run(indices: list[int]) -> float:
        ran.append(indices)
        return 0.1

    samples, length = schedule.timed(1000, step, run)
    assert (stepped, length, samples) == (list(range(100)), 100, [0.1, 0.1])
    assert ran == [list(range(333, 433)), list(range(666, 766))]
    assert plain.timed(1000, step, run)[1] == full  # no target: the whole stretch
    # The bounds: never fewer than 16 messages, never more than the full stretch.
    assert schedule.length_for(10, 1.0) == broadcasts.MIN_MESSAGES_PER_STRETCH
    assert schedule.length_for(10, 1e-6) == full
    assert schedule.length_for(full, 0.0) == full  # nothing timed (every message raw)
    # Samples read per byte of the messages their stretch really held.
    cut = broadcasts.DeliverySchedule(4, 2, 1, ((0, 2), (2, 4)), 0.1)
    fields = broadcasts.delivery_fields(cut, [40, 20, 30, 10], [0.8], [0.4], [0.2],
                                        {"compress": 1, "decompress": 2, "hot": 2})  # fmt: skip
    assert fields["compress_seconds_per_delivery"] == pytest.approx(0.8 / 30 * 25 / 2)
    assert fields["decompress_seconds_per_delivery"] == pytest.approx(0.4 / 40 * 25 / 2)


def test_a_broadcast_run_times_k_compressors_interleaved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    timed = broadcast_corpus(tmp_path / "b.jsonl", GROUPS)
    runner = CliRunner()
    args = ["run", str(timed), "--window-bits", "15", "--mem-level", "8", "--repeat", "2",
            "--min-sample-time", "0", "-j", "1", "-q"]  # fmt: skip
    built: list[int] = []
    real = zlib_codec.new_compressor

    def counted(*args: object) -> object:
        built.append(1)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(zlib_codec, "new_compressor", counted)
    # The zlib calls alone (websockets' own path builds its compressors itself: test_zlib.py).
    monkeypatch.setattr(zlib_codec, "_server_protocol_classes", lambda: None)
    result = runner.invoke(cli, [*args, "--fanout", "6", "-o", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    cell = json.loads((tmp_path / "r.json").read_text())["cells"][0]
    assert cell["delivery_compressors"] == 6
    for name in DELIVERY_FIELDS[:3]:
        assert isinstance(cell[name], float) and cell[name] > 0
    # Six compressors with their own state for the interleaved samples, one hot one, one that
    # makes the frames the six decompressors inflate (takeover: built once per subscriber).
    assert len(built) == 6 + 1 + 1
    # The corpus's own fan-out (mean 18.8) when none is stated; none without timing's figures.
    result = runner.invoke(cli, [*args, "--no-timing", "-o", str(tmp_path / "u.json")])
    assert result.exit_code == 0, result.output
    cell = json.loads((tmp_path / "u.json").read_text())["cells"][0]
    assert cell["delivery_compressors"] == 19 and cell["compress_seconds_per_delivery"] is None
    # An untimed corpus and no --fanout: no broadcast, no field (and none added on load).
    plain = tmp_path / "p.jsonl"
    plain.write_text('{"wsztune":"records/1"}\n{"text":"hello"}\n{"text":"world"}\n')
    result = runner.invoke(cli, ["run", str(plain), "--window-bits", "15", "--mem-level", "8",
                                 "--no-timing", "-q", "-o", str(tmp_path / "p.json")])  # fmt: skip
    assert result.exit_code == 0, result.output
    loaded = results.load(tmp_path / "p.json").cells[0]
    assert not set(DELIVERY_FIELDS) & set(loaded)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_cells_time_a_broadcast(tmp_path: Path) -> None:
    timed = broadcast_corpus(tmp_path / "b.jsonl", GROUPS)
    result = CliRunner().invoke(cli, [
        "run", str(timed), "--server", "ws", "--window-bits", "15", "--mem-level", "8",
        "--threshold", "0", "--repeat", "1", "--min-sample-time", "0", "--fanout", "5", "-j", "1",
        "-q", "-o", str(tmp_path / "r.json")])  # fmt: skip
    assert result.exit_code == 0, result.output
    cell = json.loads((tmp_path / "r.json").read_text())["cells"][0]
    assert cell["delivery_compressors"] == 5
    for name in DELIVERY_FIELDS[:3]:
        assert isinstance(cell[name], float) and cell[name] > 0


# A threshold library's compressed and raw deliveries timed apart --------------------------------


@pytest.mark.parametrize(
    ("sizes", "compressors", "compressed", "raw"),
    [
        # Stretches of 2 from messages 0 and 2; at 4,096 / 2,048 compressors at least 2
        # compressed messages, at 16,384 / 2,048 at least 8 raw ones: each kind from the
        # stretch's first message on, in corpus order, round again.
        ([9, 200, 9, 300], 2048, ((1, 3), (3, 1)), ((0, 2) * 4, (2, 0) * 4)),
        # One compressed message in the corpus: every stretch samples it.
        ([9, 9, 9, 300], 4096, ((3,), (3,)), ((0, 1, 2, 0), (2, 0, 1, 2))),
    ],
)
def test_split_series_sample_both_kinds_however_rare_one_is(
    sizes: list[int], compressors: int, compressed: tuple, raw: tuple
) -> None:
    """Each stretch gives a sample of each kind, as many of its messages as the stretch holds
    of that kind and at least enough for a sample's deliveries."""
    schedule = broadcasts.DeliverySchedule(compressors, compressors, 1, ((0, 2), (2, 4)))
    split = broadcasts.split_series(schedule, sizes, 100)
    assert split == broadcasts.SplitSeries(compressed, raw)
    assert split.helper_job() == {"compressed": [list(s) for s in compressed],
                                  "raw": [list(s) for s in raw]}  # fmt: skip


def test_a_corpus_of_one_kind_is_not_split() -> None:
    schedule = broadcasts.DeliverySchedule(2, 2, 1, ((0, 2), (2, 4)))
    assert broadcasts.split_series(schedule, [200, 300, 400, 500], 100) is None
    assert broadcasts.split_series(schedule, [1, 2, 3, 4], 100) is None


def test_split_samples_give_each_kind_its_own_cost_and_the_corpus_its_mix() -> None:
    """A raw delivery's cost from the raw series, a compressed one's from the compressed series
    (moved by the cost per byte to the corpus's mean compressed message), and the figure per
    delivery for the corpus's share of each: the raw deliveries no longer charged to the few
    compressed ones beside them."""
    schedule = broadcasts.DeliverySchedule(2, 2, 1, ((0, 2), (2, 4), (4, 6)))
    sizes = [9, 200, 9, 9, 9, 400]  # threshold 100: 2 of 6 compressed, mean 300 B
    series = broadcasts.SplitSeries(
        compressed=((1,), (5,), (5, 1)),  # the warm-up's, then one sample each
        raw=((0, 2), (2, 3, 4), (4, 0)),
    )
    # Compressed: 40 us per delivery for the 400 B message, 50 us for 400 B and 200 B;
    # 1 KiB more: +1.024 us per delivery (1 ns per byte). Raw: 2 us and 3 us per delivery.
    samples = broadcasts.SplitSamples(
        series,
        compressed=[40e-6 * 2, 50e-6 * 4],
        longer=[(40e-6 + 1024e-9) * 2, (50e-6 + 1024e-9) * 4],
        raw=[2e-6 * 6, 3e-6 * 4],
    )
    fields = broadcasts.split_fields(schedule, sizes, 100, samples)
    raw = statistics.median([2e-6, 3e-6])
    per_message = statistics.median([40e-6 - 100 * 1e-9, 50e-6])
    assert fields[broadcasts.RAW_COST_FIELD] == pytest.approx(raw)
    assert fields[broadcasts.BYTE_COST_FIELD] == pytest.approx(1e-9)
    assert fields["compress_seconds_per_delivery"] == pytest.approx(
        4 / 6 * raw + 2 / 6 * per_message)
    # delivery_fields takes them over the reading of the mixed stretches
    whole = broadcasts.delivery_fields(schedule, sizes, [1.0, 1.0], [0.1, 0.1], [0.1, 0.1],
                                       threshold=100, split=samples)  # fmt: skip
    assert whole["compress_seconds_per_delivery"] == fields["compress_seconds_per_delivery"]
    assert whole[broadcasts.RAW_COST_FIELD] == fields[broadcasts.RAW_COST_FIELD]


def test_raw_deliveries_are_read_for_another_mix_too() -> None:
    """bench/broadcast.py reads the model for a window of another share of compressed messages:
    the raw cost for its raw ones, the compressed cost for the rest."""
    corpus = broadcasts.CompressedMix(0.5, 300.0)
    window = broadcasts.CompressedMix(0.1, 300.0)
    # 2 us raw, 18 us compressed: 10 us per delivery over the corpus's even mix.
    assert broadcasts.reading_for(10e-6, 0.0, corpus, window, 2e-6) == pytest.approx(
        0.9 * 2e-6 + 0.1 * 18e-6)
    nothing = broadcasts.CompressedMix(0.0, 0.0)
    assert broadcasts.reading_for(10e-6, 0.0, corpus, nothing, 2e-6) == pytest.approx(2e-6)
