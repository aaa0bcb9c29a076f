"""units.py: how the corpus is cut into resampling units, and their exact sizes per cell."""

from __future__ import annotations

from wsztune import corpus, sweep
from wsztune.units import MAX_UNITS, TARGET_UNITS, UnitLayout


def test_one_long_stream_is_cut_into_about_the_target_in_blocks() -> None:
    sizes = [100 + (index % 7) * 30 for index in range(1000)]
    layout = UnitLayout.of_sizes([("feed", "server", sizes)])
    assert abs(layout.count - TARGET_UNITS) <= 1
    assert sum(layout.raw_bytes) == sum(sizes) and sum(layout.messages) == 1000
    # Consecutive messages, every message in exactly one block, blocks of about equal raw size.
    [blocks] = layout.blocks
    assert blocks[0][0] == 0 and blocks[-1][1] == 1000
    assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:], strict=False))
    assert max(layout.raw_bytes) < 1.2 * min(layout.raw_bytes)
    assert layout.names[0] == "feed/server#1"


def test_short_streams_stay_whole_and_never_split_below_one_message() -> None:
    streams = [("c1", "server", [5000, 5000, 5000]), ("c1", "client", [10]), ("c2", "server", [])]
    layout = UnitLayout.of_sizes(streams)
    assert layout.count == 5  # 3 one-message blocks, the client stream, the empty stream
    assert layout.messages == (1, 1, 1, 1, 0)
    assert layout.directions == ("server", "server", "server", "client", "server")


def test_many_streams_share_units_up_to_the_cap() -> None:
    streams = [(f"c{i}", "server" if i % 2 else "client", [20, 30]) for i in range(1000)]
    layout = UnitLayout.of_sizes(streams)
    assert layout.count == MAX_UNITS
    assert sum(layout.messages) == 2000 and sum(layout.raw_bytes) == 50_000
    assert "mixed" in layout.directions
    per_stream = [[1, 2] for _ in streams]
    assert sum(layout.sizes(per_stream)) == 3000


def test_sweep_keeps_exact_sizes_per_unit(chat_corpus_path) -> None:
    loaded = corpus.load(chat_corpus_path)
    grid = sweep.SweepPlan(window_bits=(9, 15), mem_levels=(1, 8))
    plan = sweep.TimingPlan(repeat=1, warmup=1, min_sample_seconds=0.0)
    run = sweep.sweep(loaded, grid, plan=plan)
    units = run.meta["units"]
    assert units["count"] == len(units["raw_bytes"]) >= 30
    assert sum(units["raw_bytes"]) == loaded.raw_bytes
    assert sum(units["messages"]) == len(loaded.messages)
    for cell in run.cells:
        assert sum(cell["unit_compressed_bytes"]) == cell["compressed_bytes"]
    small, large = run.find(9, 1), run.find(15, 8)
    # Every unit compresses at least as well with the larger window here.
    better = sum(a >= b for a, b in zip(small["unit_compressed_bytes"],
                                        large["unit_compressed_bytes"], strict=True))  # fmt: skip
    assert better >= 0.9 * units["count"]


def test_blocks_always_cover_every_message_once() -> None:
    import random

    rng = random.Random(11)
    for _ in range(200):
        streams = [
            (f"c{i}", rng.choice(["server", "client"]),
             [rng.choice([0, 1, 50, 3000, 70_000]) for _ in range(rng.randint(0, 40))])
            for i in range(rng.randint(1, 12))
        ]  # fmt: skip
        layout = UnitLayout.of_sizes(streams)
        assert layout.count <= MAX_UNITS
        for (_, _, sizes), blocks in zip(streams, layout.blocks, strict=True):
            covered = [index for start, stop, _ in blocks for index in range(start, stop)]
            assert covered == list(range(len(sizes)))
            assert all(stop > start for start, stop, _ in blocks) or not sizes
        per_stream = [list(sizes) for _, _, sizes in streams]
        assert sum(layout.sizes(per_stream)) == sum(map(sum, per_stream))
        assert list(layout.raw_bytes) == layout.sizes(per_stream)
