"""codecs/base.py: what every codec shares: frame headers, timing fields, the corpus summary,
a cell's fields, and the split of cells over worker processes."""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import pytest

from wsztune.codecs.base import (
    CellMemory,
    CorpusSummary,
    TimingPlan,
    cell_fields,
    frame_header_size,
    loops_for,
    measure_in_processes,
    time_samples,
    timing_fields,
    timing_of,
    untimed_fields,
    wire_bytes,
)
from wsztune.corpus import CLIENT, SERVER, Stream
from wsztune.errors import SettingError
from wsztune.memory import compressor_theory, decompressor_theory
from wsztune.permessage_deflate import Setting
from wsztune.results import TIME_FIELD_NAMES

MEMORY = CellMemory(
    compressor=1000,
    compressor_peak=1200,
    decompressor=300,
    decompressor_peak=400,
    connection=1300,
    compressor_share=1.0,
    decompressor_share=0.5,
)


def corpus() -> list[Stream]:
    """Two connections; c2's server stream is the largest, c1's client stream the largest."""
    return [
        Stream("c1", SERVER, [b"a" * 10, b"b" * 200]),
        Stream("c1", CLIENT, [b"c" * 130, b"d" * 5]),
        Stream("c2", SERVER, [b"e" * 70_000]),
        Stream("c2", CLIENT, [b"f" * 3]),
    ]


@pytest.mark.parametrize(
    ("length", "unmasked"),
    [(0, 2), (125, 2), (126, 4), (65_535, 4), (65_536, 10), (10**7, 10)],
)
def test_frame_headers_follow_rfc_6455(length: int, unmasked: int) -> None:
    assert frame_header_size(length, masked=False) == unmasked
    assert frame_header_size(length, masked=True) == unmasked + 4


@pytest.mark.parametrize("masked", [False, True])
def test_wire_bytes_is_every_payload_with_its_header(masked: bool) -> None:
    sizes = [0, 1, 125, 126, 127, 65_535, 65_536, 200_000]
    expected = sum(size + frame_header_size(size, masked) for size in sizes)
    assert wire_bytes(iter(sizes), masked) == expected
    assert wire_bytes([], masked) == 0


def test_a_sample_lasts_the_whole_passes_nearest_the_minimum() -> None:
    assert loops_for(0.001, 0.02) == 20
    assert loops_for(0.003, 0.02) == 7  # 6.7 passes: 21 ms, nearer than 18
    assert loops_for(0.008, 0.02) == 3  # 2.5: halves round up
    assert loops_for(0.012, 0.02) == 2  # 1.67: 24 ms, nearer than 12
    # A pass just under the mark is one sample (17 ms), not two (34 ms): the market records'
    # Node passes, which rounded up cost twice CPython's 20.5 ms ones (docs/node.md).
    assert loops_for(0.017, 0.02) == 1
    assert loops_for(0.5, 0.02) == 1
    assert loops_for(0.0, 0.02) == 1000  # too fast for the clock to see one pass


def test_a_sample_of_passes_shorter_than_the_mark_lies_in_two_thirds_to_four_thirds() -> None:
    """What the docs say of the rule: once a pass is shorter than the mark, a sample lies in
    (2/3, 4/3] of it (4/3: two passes of 2/3 of the mark, the halves rounding up; near 2/3:
    one pass just over 2/3 of it)."""
    mark = 0.02
    ratios = []
    for step in range(1, 4000):
        one_pass = mark * step / 4000  # from 1/4000 of the mark up to just under it
        ratios.append(loops_for(one_pass, mark) * one_pass / mark)
    assert min(ratios) > 2 / 3 and max(ratios) <= 4 / 3 + 1e-9
    assert max(ratios) > 1.33 and min(ratios) < 0.67  # the bounds are reached, not loose


def test_time_samples_runs_the_work_repeat_times_loops_and_restores_gc() -> None:
    calls = []
    samples, loops = time_samples(lambda: calls.append(sum(range(2000))), repeat=4, loops=3)
    assert len(samples) == 4
    assert len(calls) == 12
    assert loops == 3  # without a mark, every sample keeps the loops it was given
    assert all(sample > 0 for sample in samples)
    assert gc.isenabled()


def test_the_first_sample_sets_the_loops_of_the_later_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    # Loops judged by a cell's first pass (cold, checking the round trip) were too few for the
    # steady passes: the samples after the first are judged by the first sample's passes.
    now = [0.0]
    monkeypatch.setattr("wsztune.codecs.base.CLOCK", lambda: now[0])
    passes = []

    def one_pass() -> None:  # 2 ms of "CPU" a pass
        now[0] += 0.002
        passes.append(1)

    samples, loops = time_samples(one_pass, repeat=3, loops=4, min_sample_seconds=0.02)
    assert loops == 10  # 0.02 / 0.002
    assert len(passes) == 4 + 10 + 10
    assert samples == pytest.approx([0.002] * 3)


def test_timing_fields_summarize_each_side() -> None:
    fields = timing_fields([1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 2.0, 2.0], 5, 7, 11)
    assert fields["compress_seconds"] == 3.0
    assert (fields["compress_seconds_min"], fields["compress_seconds_max"]) == (1.0, 5.0)
    assert fields["compress_seconds_iqr"] == pytest.approx(3.0)  # quartiles 1.5 and 4.5
    assert fields["decompress_seconds"] == 2.0
    assert fields["decompress_seconds_iqr"] == 0.0  # under four samples: the range
    assert (fields["timing_loops_compress"], fields["timing_loops_decompress"]) == (7, 11)
    assert fields["timing_repeat"] == 5
    assert fields["timing_unstable"] is True  # compress spread is far above 10% of its median
    steady = timing_fields([1.0, 1.01, 1.02, 1.0], [0.5, 0.5, 0.51, 0.5], 4, 1, 1)
    assert steady["timing_unstable"] is False
    assert set(fields) == set(TIME_FIELD_NAMES)


def test_untimed_cells_have_none_never_zero() -> None:
    fields = untimed_fields()
    assert set(fields) == set(TIME_FIELD_NAMES)
    assert all(value is None for value in fields.values())
    assert timing_of(object(), TimingPlan(measure_time=False)) == fields


@pytest.mark.parametrize(
    ("option", "value"), [("repeat", 0), ("warmup", 0), ("min_sample_seconds", 11.0)]
)
def test_a_timing_plan_refuses_what_cannot_measure(option: str, value: float) -> None:
    with pytest.raises(SettingError, match=option.replace("_seconds", "").replace("_", "-")):
        TimingPlan(**{option: value})


def test_a_timing_plan_as_a_helper_reads_it() -> None:
    assert TimingPlan(repeat=3, warmup=2, min_sample_seconds=0.1).helper_job() == {
        "repeat": 3,
        "warmup": 2,
        "min_sample_seconds": 0.1,
    }
    assert TimingPlan(measure_time=False).helper_job() is None


def test_the_summary_picks_the_largest_stream_of_each_side() -> None:
    streams = corpus()
    summary = CorpusSummary.of(streams)
    assert summary.messages == 6
    assert summary.server_raw_bytes == 10 + 200 + 70_000
    assert summary.client_raw_bytes == 130 + 5 + 3
    assert summary.wire_raw_bytes == sum(
        wire_bytes(stream.sizes(), stream.direction == CLIENT) for stream in streams
    )
    assert summary.compressor_stream == 2
    assert summary.decompressor_stream == 1
    # Without client traffic the decompressor is observed on the server's largest stream.
    server_only = CorpusSummary.of([streams[0], streams[2]])
    assert server_only.decompressor_stream == server_only.compressor_stream == 1


def test_a_cell_adds_up_what_the_codec_measured() -> None:
    streams = corpus()
    summary = CorpusSummary.of(streams)
    setting = Setting(window_bits=11, mem_level=4, client_window_bits=10)
    sizes = [[5, 50], [40, 5], [9000], [3]]
    cell = cell_fields(streams, setting, summary, sizes, untimed_fields(), MEMORY, 6)

    assert cell["compressed_bytes"] == 5 + 50 + 40 + 5 + 9000 + 3
    assert cell["server_compressed_bytes"] == 9055
    assert cell["client_compressed_bytes"] == 48
    assert cell["raw_bytes"] == summary.server_raw_bytes + summary.client_raw_bytes
    assert cell["savings"] == pytest.approx(1 - cell["compressed_bytes"] / cell["raw_bytes"])
    assert cell["wire_compressed_bytes"] == (5 + 2) + (50 + 2) + (40 + 6) + (5 + 6) + (9000 + 4) + (
        3 + 6
    )
    assert cell["frames"] == 6
    assert (cell["window_bits"], cell["client_window_bits"], cell["mem_level"]) == (11, 10, 4)
    assert cell["compress_memory_theoretical"] == compressor_theory(11, 4)
    assert cell["decompress_memory_theoretical"] == decompressor_theory(10)
    assert cell["connection_memory"] == 1300
    assert cell["compressor_share"] == 1.0 and cell["decompressor_share"] == 0.5
    # No resident figures given: the allocation, weighed by the share of connections that pay.
    assert cell["connection_memory_resident"] == 1000 + 150
    assert "client_mem_level" not in cell
    # A message sent in several frames: the frames are counted on the wire, the sizes in bytes.
    frames = [[5, 50], [40, 5], [4000, 4000, 1000], [3]]
    framed = cell_fields(
        streams, setting, summary, sizes, untimed_fields(), MEMORY, 6, frames=frames
    )
    assert framed["compressed_bytes"] == cell["compressed_bytes"]
    assert framed["frames"] == 8
    assert framed["wire_compressed_bytes"] == cell["wire_compressed_bytes"] + 2 * 4


def test_a_named_client_records_its_own_compressor() -> None:
    streams = corpus()
    setting = Setting(client_mem_level=8, client_level=1, mem_level=5)
    summary = CorpusSummary.of(streams)
    sizes = [[1, 1], [1, 1], [1], [1]]
    cell = cell_fields(streams, setting, summary, sizes, untimed_fields(), MEMORY, 6)
    assert (cell["client_mem_level"], cell["client_level"]) == (8, 1)


@dataclass(frozen=True)
class Recorder:
    """A codec that measures nothing: its cell says which setting it got, and where."""

    def measure_cell(
        self, streams: list[Stream], setting: Setting, plan: TimingPlan, summary: CorpusSummary
    ) -> dict[str, object]:
        """The setting's window and memLevel, the worker's pid and what it was handed."""
        return {
            "setting": (setting.window_bits, setting.mem_level),
            "pid": os.getpid(),
            "messages": summary.messages,
            "streams": len(streams),
        }


ORDER = [Setting(window_bits=bits, mem_level=level) for bits in (9, 12, 15) for level in (1, 8)]


@pytest.mark.parametrize("jobs", [1, 2, 3, 50])
def test_the_worker_split_measures_every_cell_once(jobs: int) -> None:
    cells: list[dict[str, object]] = []
    measure_in_processes(Recorder(), corpus(), ORDER, TimingPlan(), jobs, cells.append)

    expected = [(setting.window_bits, setting.mem_level) for setting in ORDER]
    assert sorted(cell["setting"] for cell in cells) == sorted(expected)
    assert all(cell["messages"] == 6 and cell["streams"] == 4 for cell in cells)
    pids = {cell["pid"] for cell in cells}
    if jobs == 1:
        # In this process, in the order given.
        assert [cell["setting"] for cell in cells] == expected
        assert pids == {os.getpid()}
    else:
        assert os.getpid() not in pids
        assert len(pids) <= min(jobs, len(ORDER))
