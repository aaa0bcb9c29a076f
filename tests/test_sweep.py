"""The sweep: sizes equal websockets' wire bytes in every cell, memory behaves as zlib says."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.samples import FAST_PLAN, chat_messages, document_messages, write_jsonl
from tests.support.websockets_reference import websockets_frames
from wsztune import corpus, sweep
from wsztune.codecs import base
from wsztune.codecs import node as node_codec
from wsztune.codecs import zlib as zlib_codec
from wsztune.errors import SettingError
from wsztune.permessage_deflate import Setting, compress_stream, get_zlib_module
from wsztune.results import CELL_FIELD_NAMES

REPO = Path(__file__).resolve().parent.parent
COMMITS = REPO / "corpora" / "websockets-commits.jsonl"
ZERO_PLAN = sweep.TimingPlan(repeat=1, warmup=1, min_sample_seconds=0.0)


def websockets_total(loaded: corpus.Corpus, wb: int, ml: int, takeover: bool) -> int:
    """Sum of frame payload sizes websockets produces, one extension instance per stream."""
    total = 0
    by_stream: dict[tuple[str, str], list[corpus.Message]] = {}
    for message in loaded.messages:
        by_stream.setdefault((message.connection, message.direction), []).append(message)
    for messages in by_stream.values():
        frames = websockets_frames(
            [m.payload for m in messages],
            wb,
            ml,
            context_takeover=takeover,
            is_text=[m.is_text for m in messages],
        )
        total += sum(map(len, frames))
    return total


@pytest.fixture(scope="module")
def three_corpora(tmp_path_factory: pytest.TempPathFactory) -> dict[str, corpus.Corpus]:
    folder = tmp_path_factory.mktemp("three")
    return {
        "bundled demo": corpus.load(corpus.demo_corpus_path()),
        "chat": corpus.load(write_jsonl(folder / "chat.jsonl", chat_messages(400))),
        "documents": corpus.load(write_jsonl(folder / "docs.jsonl", document_messages(40))),
    }


@pytest.mark.parametrize("takeover", [True, False], ids=["takeover", "no-takeover"])
@pytest.mark.parametrize("name", ["bundled demo", "chat", "documents"])
def test_every_cell_equals_websockets_wire_bytes(
    three_corpora: dict[str, corpus.Corpus], name: str, takeover: bool
) -> None:
    loaded = three_corpora[name]
    grid = sweep.SweepPlan(context_takeover=(takeover,))
    cells = sweep.run_sweep(loaded.streams(), grid.settings(), plan=ZERO_PLAN, jobs=2)
    assert len(cells) == 63
    for cell in cells:
        expected = websockets_total(loaded, cell["window_bits"], cell["mem_level"], takeover)
        assert cell["compressed_bytes"] == expected, (cell["window_bits"], cell["mem_level"])
        assert cell["raw_bytes"] == loaded.raw_bytes
        assert cell["messages"] == len(loaded.messages)


def test_cells_have_exactly_the_documented_fields(small_run_path: Path) -> None:
    from wsztune import results

    run = results.load(small_run_path)
    for cell in run.cells:
        # The documented fields (a broadcast's only with a fan-out), then the per-unit sizes
        # (aligned with meta.units).
        names = [name for name in CELL_FIELD_NAMES if name not in results.BROADCAST_CELL_FIELDS]
        assert tuple(cell) == (*names, results.UNIT_SIZES)
        assert sum(cell[results.UNIT_SIZES]) == cell["compressed_bytes"]
        assert len(cell[results.UNIT_SIZES]) == run.meta["units"]["count"]


def test_directions_and_wire_bytes_add_up(three_corpora: dict[str, corpus.Corpus]) -> None:
    loaded = three_corpora["bundled demo"]
    zlib_module = get_zlib_module()
    cell = zlib_codec.measure_cell(loaded.streams(), Setting(12, 5), zlib_module, ZERO_PLAN)
    assert cell["server_raw_bytes"] + cell["client_raw_bytes"] == cell["raw_bytes"]
    assert (
        cell["server_compressed_bytes"] + cell["client_compressed_bytes"]
        == cell["compressed_bytes"]
    )
    assert cell["client_raw_bytes"] > 0
    headers = 0
    for message in loaded.messages:
        headers += sweep.frame_header_size(len(message.payload), message.direction == "client")
    assert cell["wire_raw_bytes"] == cell["raw_bytes"] + headers
    assert cell["wire_compressed_bytes"] > cell["compressed_bytes"]


@pytest.mark.parametrize(
    ("length", "masked", "expected"),
    [
        (0, False, 2),
        (125, False, 2),
        (126, False, 4),
        (65535, False, 4),
        (65536, False, 10),
        (10, True, 6),
        (70000, True, 14),
    ],
)
def test_frame_header_size(length: int, masked: bool, expected: int) -> None:
    assert sweep.frame_header_size(length, masked) == expected


def test_anchor_savings_table_of_the_commits_corpus() -> None:
    """ANCHORS.md section 3: the savings grid and the 12:x byte counts, reproduced exactly."""
    loaded = corpus.load(COMMITS)
    assert (len(loaded.messages), loaded.raw_bytes) == (1837, 2_377_298)
    payloads = loaded.streams()[0].payloads
    zlib_module = get_zlib_module()
    expected_rows = {
        9: "52.0 56.1 58.6 59.5 59.5 59.5 59.5 59.5 59.5",
        10: "63.1 65.6 67.9 68.0 68.0 68.0 68.0 68.0 68.0",
        11: "81.7 83.0 83.1 83.1 83.1 83.1 83.1 83.1 83.1",
        12: "84.9 85.2 85.3 85.3 85.3 85.3 85.3 85.3 85.3",
        13: "85.2 85.4 85.4 85.5 85.5 85.5 85.5 85.5 85.5",
        14: "85.5 85.7 85.7 85.7 85.7 85.7 85.7 85.7 85.7",
        15: "85.8 85.9 86.0 86.0 86.0 86.0 86.0 86.0 86.0",
    }
    sizes = {}
    for wb in range(9, 16):
        row = []
        for ml in range(1, 10):
            size = sum(map(len, compress_stream(payloads, Setting(wb, ml), wb, zlib_module)))
            sizes[wb, ml] = size
            row.append(f"{100 * (1 - size / loaded.raw_bytes):.1f}")
        assert " ".join(row) == expected_rows[wb], wb
    assert [sizes[12, ml] for ml in range(1, 10)] == [
        358629,
        351828,
        350604,
        350497,
        350471,
        350471,
        350471,
        350471,
        350471,
    ]
    # And the sweep itself gives the same bytes for the 12:x row.
    cells = sweep.run_sweep(
        loaded.streams(), sweep.SweepPlan(window_bits=(12,)).settings(), plan=ZERO_PLAN, jobs=2
    )
    assert [c["compressed_bytes"] for c in cells] == [sizes[12, ml] for ml in range(1, 10)]


def test_compressor_memory_is_theory_plus_one_constant(small_run_path: Path) -> None:
    from wsztune import results

    cells = results.load(small_run_path).cells
    overheads = {c["compress_memory_observed"] - c["compress_memory_theoretical"] for c in cells}
    assert len(overheads) == 1, overheads
    (overhead,) = overheads
    assert 0 < overhead < 16 * 1024  # zlib's deflate_state and the Python object around it


def test_decompressor_memory_grows_with_the_window(small_run_path: Path) -> None:
    from wsztune import results

    cells = results.load(small_run_path).cells
    by_bits = {}
    for cell in cells:
        by_bits.setdefault(cell["client_window_bits"], set()).add(
            cell["decompress_memory_observed"]
        )
    assert all(len(values) == 1 for values in by_bits.values())  # memLevel plays no part
    observed = {bits: values.pop() for bits, values in by_bits.items()}
    overheads = {value - (1 << bits) for bits, value in observed.items()}
    # The window (1 << wb) was allocated: what is left is one small constant (inflate_state).
    assert max(overheads) - min(overheads) <= 64, overheads
    assert 0 < min(overheads) < 16 * 1024
    bits = sorted(observed)
    assert all(observed[a] < observed[b] for a, b in zip(bits, bits[1:], strict=False))


def test_connection_memory_is_compressor_plus_decompressor(small_run_path: Path) -> None:
    from wsztune import results

    for cell in results.load(small_run_path).cells:
        assert cell["connection_memory"] == (
            cell["compress_memory_observed"] + cell["decompress_memory_observed"]
        )
        assert cell["connection_memory_theoretical"] == (
            cell["compress_memory_theoretical"] + cell["decompress_memory_theoretical"]
        )


def test_timing_fields_are_sane(small_run_path: Path) -> None:
    from wsztune import results

    for cell in results.load(small_run_path).cells:
        assert 0 < cell["compress_seconds_min"] <= cell["compress_seconds"]
        assert cell["compress_seconds"] <= cell["compress_seconds_max"]
        assert 0 < cell["decompress_seconds_min"] <= cell["decompress_seconds_max"]
        assert cell["timing_repeat"] == FAST_PLAN.repeat
        assert cell["timing_loops_compress"] >= 1


def test_calibration_repeats_a_small_corpus_inside_a_sample() -> None:
    streams = [corpus.Stream("c", "server", chat_messages(5))]
    plan = sweep.TimingPlan(repeat=2, min_sample_seconds=0.01)
    cell = zlib_codec.measure_cell(streams, Setting(12, 5), get_zlib_module(), plan)
    assert cell["timing_loops_compress"] > 1
    assert cell["timing_loops_decompress"] > 1


@pytest.mark.parametrize(
    ("text", "allowed", "expected"),
    [
        ("9-15", range(8, 16), (9, 10, 11, 12, 13, 14, 15)),
        ("12", range(8, 16), (12,)),
        ("9,12, 15", range(8, 16), (9, 12, 15)),
        ("1-3,2-4", range(1, 10), (1, 2, 3, 4)),
        ("-1", range(-1, 10), (-1,)),
        ("-1,6,9", range(-1, 10), (-1, 6, 9)),
    ],
)
def test_parse_int_range(text: str, allowed: range, expected: tuple[int, ...]) -> None:
    assert sweep.parse_int_range(text, "--x", allowed) == expected


@pytest.mark.parametrize("text", ["", "x", "9-", "15-9", "16", "9-16", "1.5", "9..15"])
def test_parse_int_range_rejects(text: str) -> None:
    with pytest.raises(SettingError, match="--window-bits"):
        sweep.parse_int_range(text, "--window-bits", range(8, 16))


@pytest.mark.parametrize(
    "kwargs", [{"repeat": 0}, {"warmup": 0}, {"min_sample_seconds": -1}, {"min_sample_seconds": 11}]
)
def test_timing_plan_rejects(kwargs: dict) -> None:
    with pytest.raises(SettingError):
        sweep.TimingPlan(**kwargs)


def test_grid_settings_cover_the_product() -> None:
    grid = sweep.SweepPlan(
        window_bits=(9, 15), mem_levels=(1, 9), levels=(1, 9), context_takeover=(True, False)
    )
    settings = grid.settings()
    assert len(settings) == 16
    assert len(set(settings)) == 16


def test_a_compressor_exists_before_its_first_message() -> None:
    # websockets builds the compressor at the handshake and zlib allocates all of it there: a
    # side that sends nothing still holds it.
    from wsztune.memory import compressor_theory, observe_compressor

    zlib_module = get_zlib_module()
    idle = observe_compressor(Setting(12, 5), 12, [], zlib_module).held
    busy = observe_compressor(Setting(12, 5), 12, chat_messages(20), zlib_module).held
    assert compressor_theory(12, 5) < idle <= busy < idle + 256


def test_corpus_summary_is_what_every_cell_repeats(three_corpora: dict[str, corpus.Corpus]) -> None:
    loaded = three_corpora["bundled demo"]
    streams = loaded.streams()
    summary = sweep.CorpusSummary.of(streams)
    assert summary.messages == len(loaded.messages)
    assert summary.server_raw_bytes + summary.client_raw_bytes == loaded.raw_bytes
    # Memory is observed on the largest stream of each direction.
    assert streams[summary.compressor_stream].direction == "server"
    assert streams[summary.decompressor_stream].direction == "client"
    assert streams[summary.compressor_stream].raw_bytes == max(
        s.raw_bytes for s in streams if s.direction == "server"
    )
    zlib_module = get_zlib_module()
    given = zlib_codec.measure_cell(streams, Setting(12, 5), zlib_module, ZERO_PLAN, summary)
    computed = zlib_codec.measure_cell(streams, Setting(12, 5), zlib_module, ZERO_PLAN)
    untimed = [key for key in given if "seconds" not in key and "timing" not in key]
    assert {k: given[k] for k in untimed} == {k: computed[k] for k in untimed}
    assert given["wire_raw_bytes"] == summary.wire_raw_bytes


def test_run_meta_carries_the_message_rate_of_a_timed_corpus(tmp_path: Path) -> None:
    grid = sweep.SweepPlan(window_bits=(12,), mem_levels=(5,))
    timed = tmp_path / "t.jsonl"
    timed.write_text(
        '{"wsztune":"records/1"}\n'
        + "".join(f'{{"connection":"a","t":{i / 4},"text":"m{i}"}}\n' for i in range(9))
    )
    run = sweep.sweep(corpus.load(timed), grid, plan=FAST_PLAN)
    assert run.meta["corpus"]["messages_per_second"] == 9 / 2.0  # 9 messages over 2 s
    # A corpus without timestamps has no rate, and the key stays absent (optional field).
    untimed = corpus.load(write_jsonl(tmp_path / "u.jsonl", chat_messages(20)))
    assert "messages_per_second" not in sweep.sweep(untimed, grid, plan=FAST_PLAN).meta["corpus"]


@pytest.mark.parametrize("takeover", [True, False], ids=["takeover", "no-takeover"])
@pytest.mark.parametrize("threshold", [0, 200])
def test_a_threshold_gives_the_same_cell_timed_or_not(
    three_corpora: dict[str, corpus.Corpus], threshold: int, takeover: bool
) -> None:
    """Timed (packed frames) and --no-timing (lockstep round trip) agree field for field on
    sizes, units and memory, with messages under the threshold sent as they are."""
    loaded = three_corpora["bundled demo"]
    streams = loaded.streams()
    summary = sweep.CorpusSummary.of(streams)
    zlib_module = get_zlib_module("zlib")
    untimed_plan = sweep.TimingPlan(measure_time=False)
    for wb, ml in ((9, 1), (12, 5), (15, 8)):
        setting = Setting(wb, ml, context_takeover=takeover, threshold=threshold)
        timed = zlib_codec.measure_cell(streams, setting, zlib_module, ZERO_PLAN, summary)
        untimed = zlib_codec.measure_cell(streams, setting, zlib_module, untimed_plan, summary)
        kept = {k: v for k, v in timed.items() if "seconds" not in k and "timing" not in k}
        assert kept == {k: v for k, v in untimed.items() if k in kept}
        # Under the threshold a message is its own frame and never reaches the compressor.
        small = sum(1 for message in loaded.messages if len(message.payload) < threshold)
        assert timed["compressed_messages"] == timed["messages"] - small
        assert (small > 0) == bool(threshold)  # the demo has messages on both sides of 200 B
        expected = sum(
            len(frame)
            for stream in streams
            for frame in compress_stream(
                stream.payloads, setting, setting.bits_for(stream.direction), zlib_module
            )
        )
        assert timed["compressed_bytes"] == expected


def test_node_shares_count_the_connections_ws_builds_each_zlib_stream_on() -> None:
    # ws builds its deflate stream on the first message it compresses and its inflate stream on
    # the first compressed message it receives: a connection that compresses nothing one way
    # never pays for that stream.
    def stream(connection: str, direction: str) -> corpus.Stream:
        return corpus.Stream(connection, direction, [b"x"])

    streams = [
        stream("a", corpus.SERVER),  # a: the server compresses, the client too
        stream("a", corpus.CLIENT),
        stream("b", corpus.SERVER),  # b: neither (all under the threshold)
        stream("b", corpus.CLIENT),
        stream("c", corpus.SERVER),  # c: the client says nothing: the probe stands in
        stream("d", corpus.CLIENT),  # d: no server message, the client compresses
    ]
    counts = [3, 1, 0, 0, 2, 5]
    shares = node_codec.node_shares(streams, counts, threshold=1024)  # the probe is under it
    assert (shares.compressor, shares.decompressor) == (2 / 4, 2 / 4)
    # Without a threshold (or with takeover: ws ignores it) the probe is compressed.
    shares = node_codec.node_shares(streams, counts, threshold=0)
    assert (shares.compressor, shares.decompressor) == (2 / 4, 3 / 4)
    assert len(base.PROBE_PAYLOAD) < 1024
