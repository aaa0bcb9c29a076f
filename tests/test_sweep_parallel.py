"""The parallel sweep: same sizes and memory whatever --jobs is, seeded order, prompt Ctrl-C."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path

import psutil
import pytest

from tests.support.samples import FAST_PLAN, SMALL_GRID
from wsztune import corpus, sweep
from wsztune.codecs import zlib as zlib_codec

# Fields that depend on time and load; every other field is deterministic.
TIMING_FIELDS = ("timing_loops_compress", "timing_loops_decompress", "timing_unstable")


def deterministic(cell: dict[str, object]) -> dict[str, object]:
    """A cell without its timing fields: what must not depend on --jobs."""
    return {
        name: value
        for name, value in cell.items()
        if "_seconds" not in name and name not in TIMING_FIELDS
    }


@pytest.fixture(scope="module")
def streams(chat_corpus_path: Path) -> list[corpus.Stream]:
    """The chat corpus's streams."""
    return corpus.load(chat_corpus_path).streams()


def test_sizes_and_memory_do_not_depend_on_jobs(streams: list[corpus.Stream]) -> None:
    settings = SMALL_GRID.settings()
    one = sweep.run_sweep(streams, settings, plan=FAST_PLAN, jobs=1)
    two = sweep.run_sweep(streams, settings, plan=FAST_PLAN, jobs=2)
    assert len(one) == len(two) == len(settings)
    assert [deterministic(cell) for cell in one] == [deterministic(cell) for cell in two]
    # The comparison covers sizes and memory, not just the grid's coordinates.
    assert {"compressed_bytes", "wire_compressed_bytes", "connection_memory"} <= set(
        deterministic(one[0])
    )


def test_order_is_seeded_shuffled_and_covers_every_cell_once(
    streams: list[corpus.Stream],
) -> None:
    settings = SMALL_GRID.settings()

    def visit_order(seed: int, jobs: int) -> list[tuple[int, int]]:
        seen: list[tuple[int, int]] = []
        sweep.run_sweep(
            streams,
            settings,
            plan=FAST_PLAN,
            jobs=jobs,
            seed=seed,
            on_cell=lambda cell, done, total: seen.append((cell["window_bits"], cell["mem_level"])),
        )
        return seen

    grid_order = [(s.window_bits, s.mem_level) for s in settings]
    expected = list(grid_order)
    random.Random(7).shuffle(expected)
    assert visit_order(7, jobs=1) == expected  # one job: cells finish in the shuffled order
    assert visit_order(7, jobs=1) == expected  # the same seed, the same order
    assert visit_order(8, jobs=1) != expected
    assert expected != grid_order
    parallel = visit_order(7, jobs=2)
    assert sorted(parallel) == sorted(grid_order)  # every cell exactly once


def live_children() -> list[psutil.Process]:
    """Child processes of this test process that still exist and are not zombies."""
    alive = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                alive.append(child)
        except psutil.NoSuchProcess:
            pass
    return alive


def wait_for_no_children(timeout: float) -> list[psutil.Process]:
    """Children still alive after up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while (alive := live_children()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return alive


real_measure_cell = zlib_codec.measure_cell


def measure_or_hang(streams, setting, zlib_module, plan, summary=None):  # type: ignore[no-untyped-def]
    """measure_cell, except that windowBits 9 cells then take a minute (a stand-in for a huge
    corpus): an interrupt must not wait for the cells in flight. Workers are forked, so they
    inherit this patch."""
    cell = real_measure_cell(streams, setting, zlib_module, plan, summary)
    if setting.window_bits == 9:
        time.sleep(60)
    return cell


@pytest.mark.parametrize("how", ["callback", "signal"])
def test_interrupt_with_jobs_stops_promptly_and_leaves_no_workers(
    streams: list[corpus.Stream], how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(zlib_codec, "measure_cell", measure_or_hang)
    assert not live_children()
    settings = SMALL_GRID.settings()
    finished: list[dict[str, object]] = []
    interrupted_at: list[float] = []

    def on_cell(cell: dict[str, object], done: int, total: int) -> None:
        finished.append(cell)
        if how == "callback" and done == 3:
            interrupted_at.append(time.monotonic())
            raise KeyboardInterrupt

    timer = None
    stop_pressing = threading.Event()
    if how == "signal":
        # Ctrl-C as the terminal delivers it to the main process, while it waits for workers:
        # once three cells are in (not after a fixed delay, which a loaded machine outlasts).
        def press_ctrl_c() -> None:
            deadline = time.monotonic() + 60
            while len(finished) < 3 and time.monotonic() < deadline:
                if stop_pressing.wait(0.01):
                    return
            interrupted_at.append(time.monotonic())
            os.kill(os.getpid(), signal.SIGINT)

        timer = threading.Thread(target=press_ctrl_c, daemon=True)
        timer.start()
    try:
        with pytest.raises(sweep.SweepInterrupted) as caught:
            sweep.run_sweep(streams, settings, plan=FAST_PLAN, jobs=2, seed=3, on_cell=on_cell)
    finally:
        stop_pressing.set()
        if timer is not None:
            timer.join()
    elapsed = time.monotonic() - interrupted_at[0]
    # The hung workers sleep for 60 s: stopping well before that is the point, not a time goal.
    assert elapsed < 10.0
    assert caught.value.total == len(settings)
    assert caught.value.cells == sorted(finished, key=sweep.sort_key)
    assert 3 <= len(caught.value.cells) < len(settings)
    assert wait_for_no_children(2.0) == []
