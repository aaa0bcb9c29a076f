"""Sizes and memory of every bundled corpus are what they were before issue 12, field by field.

``tests/support/data/baseline.json`` was made with main's code before the corpus was packed into one
buffer and before memory was observed on the first messages only
(``tests/support/data/make_baseline.py`` says how). Peaks (``*_memory_peak``) are not compared: they
are those of the messages observed, which are now fewer by design; the held bytes are the figures a
user reads.

One change is deliberate, and the same in every cell: main's observation counted 112 B per codec
object that were the observation's own (it ran ``gc.collect()`` first, which empties Python's free
lists, so the ints and tuples of its first reading of tracemalloc stayed counted). Today's
observation does not, and a zlib 1.2.13 compressor then holds exactly zlib's formula + 6,152 B
(its ``deflate_state``) and a decompressor 7,360 B + its window, as measured independently
(reference figures of the project). So observed = baseline - 112 B per object, - 224 B per
connection, checked exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wsztune import corpus, sweep
from wsztune.codecs import zlib as zlib_codec
from wsztune.permessage_deflate import Setting, get_zlib_module

REPO = Path(__file__).resolve().parents[1]
BASELINE = json.loads((REPO / "tests" / "support" / "data" / "baseline.json").read_text())
KEYS = ("window_bits", "client_window_bits", "mem_level", "level", "strategy", "context_takeover")
SIZES_ONLY = sweep.TimingPlan(measure_time=False)
OWN_OBJECTS = 112  # bytes of the old observation's own objects, per codec object
CORRECTED = {
    "compress_memory_observed": OWN_OBJECTS,
    "decompress_memory_observed": OWN_OBJECTS,
    "connection_memory": 2 * OWN_OBJECTS,
}
# The two big corpora (2.3 and 4.3 MiB) are checked on a few cells only, to keep the test fast.
FEW_CELLS = {(9, 1, True), (12, 5, True), (15, 9, True), (12, 5, False)}
BIG = {"corpora/api.jsonl", "corpora/websockets-commits.jsonl"}


@pytest.mark.parametrize("name", sorted(BASELINE["corpora"]))
def test_sizes_and_memory_unchanged(name: str) -> None:
    """Every field of every baseline cell, as today's sweep measures it (zlib codec)."""
    zlib_module = get_zlib_module("zlib")
    if zlib_module.version != BASELINE["zlib"]:
        pytest.skip(f"baseline made with zlib {BASELINE['zlib']}, this is {zlib_module.version}")
    streams = corpus.load(REPO / name).streams()
    summary = sweep.CorpusSummary.of(streams)
    for expected in BASELINE["corpora"][name]:
        key = (expected["window_bits"], expected["mem_level"], expected["context_takeover"])
        if name in BIG and key not in FEW_CELLS:
            continue
        setting = Setting(
            expected["window_bits"],
            expected["mem_level"],
            expected["level"],
            expected["strategy"],
            expected["context_takeover"],
            expected["client_window_bits"],
        )
        cell = zlib_codec.measure_cell(streams, setting, zlib_module, SIZES_ONLY, summary)
        for field, value in expected.items():
            if field in CORRECTED:
                value -= CORRECTED[field]
            assert cell[field] == value, (name, setting, field)
        assert cell["compress_memory_observed"] == cell["compress_memory_theoretical"] + 6152
        assert cell["decompress_memory_observed"] == cell["decompress_memory_theoretical"] + 7360
        assert cell["compress_seconds"] is None
