"""The zlib-ng codec, on measured values: what it allocates, and that we can see it.

What these tests pin (zlib 1.2.13 and zlib-ng 2.3.3 here; see docs/live.md for the figures):

* stdlib zlib holds exactly zlib's formula plus one constant (its ``deflate_state`` and the Python
  object) at every windowBits and memLevel;
* zlib-ng does not follow the formula: its residual above the formula swings by tens of KiB
  across the grid, and it never goes below a floor of about 137 KiB (a hash table of fixed
  size), where the formula says 3 KiB at 9:1; over memLevel 1-6 it is nearly flat;
* tracemalloc sees zlib-ng's allocations (its binding allocates through the Python allocator):
  RSS growth over many compressors agrees with the traced figure. If a future build stopped
  doing so the observed memory would collapse to a few hundred bytes, and these tests fail.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import sys
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from tests.support.samples import FAST_PLAN, chat_messages, document_messages
from wsztune import corpus, sweep
from wsztune.cli import cli
from wsztune.memory import compressor_theory, observe_compressor, observe_decompressor
from wsztune.permessage_deflate import Setting, check_stream, compress_stream, get_zlib_module

zlib_ng = pytest.importorskip("zlib_ng.zlib_ng")

WINDOW_BITS = range(9, 16)
MEM_LEVELS = range(1, 10)
KIB = 1024
PAYLOADS = [*chat_messages(60, seed=8), *document_messages(6, seed=9)]


def observed_grid(codec_name: str) -> dict[tuple[int, int], int]:
    """Bytes a compressor holds after compressing PAYLOADS, for every (windowBits, memLevel)."""
    zlib_module = get_zlib_module(codec_name)
    observe_compressor(Setting(9, 1), 9, PAYLOADS, zlib_module)  # first allocations pay one-offs
    return {
        (wb, ml): observe_compressor(Setting(wb, ml), wb, PAYLOADS, zlib_module).held
        for wb in WINDOW_BITS
        for ml in MEM_LEVELS
    }


@pytest.fixture(scope="module")
def zlib_grid() -> dict[tuple[int, int], int]:
    return observed_grid("zlib")


@pytest.fixture(scope="module")
def ng_grid() -> dict[tuple[int, int], int]:
    return observed_grid("zlib-ng")


def residuals(grid: dict[tuple[int, int], int]) -> dict[tuple[int, int], int]:
    """Observed minus zlib's formula, per cell."""
    return {(wb, ml): held - compressor_theory(wb, ml) for (wb, ml), held in grid.items()}


def test_stdlib_zlib_is_the_formula_plus_a_constant(zlib_grid: dict) -> None:
    excess = residuals(zlib_grid)
    assert max(excess.values()) - min(excess.values()) <= 256
    # The constant is zlib's deflate_state (ANCHORS: 6,152 B) and the Python object around it.
    assert 6_000 <= min(excess.values()) <= 7_000


def test_zlib_ng_does_not_follow_the_formula(ng_grid: dict) -> None:
    excess = residuals(ng_grid)
    # No constant makes the formula fit: the residual alone swings by more than 64 KiB.
    assert max(excess.values()) - min(excess.values()) > 64 * KIB
    # A floor the formula knows nothing about: 9:1 is 3 KiB in theory, over 100 KiB here.
    assert compressor_theory(9, 1) == 3 * KIB
    assert min(ng_grid.values()) > 100 * KIB
    assert ng_grid[(9, 1)] > 30 * compressor_theory(9, 1)


def test_zlib_ng_is_nearly_flat_in_memlevel(zlib_grid: dict, ng_grid: dict) -> None:
    for wb in WINDOW_BITS:
        low = [ng_grid[(wb, ml)] for ml in range(1, 7)]
        assert (max(low) - min(low)) / min(low) <= 0.15, wb  # memLevel 1-6: within 15%
        # Lowering memLevel from 8 (zlib's default) to 1 saves less with zlib-ng than with zlib.
        ng_saving = ng_grid[(wb, 8)] - ng_grid[(wb, 1)]
        zlib_saving = zlib_grid[(wb, 8)] - zlib_grid[(wb, 1)]
        assert ng_saving < 0.75 * zlib_saving, wb
    # Where zlib's memLevel matters most (small windows), the contrast is stark.
    assert zlib_grid[(9, 6)] > 3 * zlib_grid[(9, 1)]
    assert ng_grid[(9, 6)] < 1.15 * ng_grid[(9, 1)]


def test_zlib_ng_decompressor_does_not_scale_with_the_window() -> None:
    ng, stdlib = get_zlib_module("zlib-ng"), get_zlib_module("zlib")
    held = {}
    for wb in (9, 15):
        setting = Setting(wb, 8)
        frames = compress_stream(PAYLOADS, setting, wb, stdlib)
        held[("ng", wb)] = observe_decompressor(setting, wb, frames, ng).held
        held[("zlib", wb)] = observe_decompressor(setting, wb, frames, stdlib).held
    assert held[("zlib", 15)] - held[("zlib", 9)] > 30 * KIB  # the window, 32 KiB vs 512 B
    assert abs(held[("ng", 15)] - held[("ng", 9)]) < 1 * KIB  # one size for every window
    assert held[("ng", 9)] > 4 * held[("zlib", 9)]


def _trim() -> None:
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: RSS is just noisier
        ctypes.CDLL(None).malloc_trim(0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RSS check tuned for Linux")
def test_tracemalloc_sees_zlib_ng_allocations() -> None:
    """RSS confirms the traced figure: if tracemalloc missed zlib-ng, traced would be ~0."""
    zlib_module = get_zlib_module("zlib-ng")
    setting = Setting(12, 5)
    traced = observe_compressor(setting, 12, PAYLOADS, zlib_module).held
    count = 100
    process = psutil.Process()
    _trim()
    before = process.memory_info().rss
    keep = []
    for _ in range(count):
        encoder = zlib_ng.compressobj(-1, zlib_ng.DEFLATED, -12, 5, 0)
        for payload in PAYLOADS:
            encoder.compress(payload)
            encoder.flush(zlib_ng.Z_SYNC_FLUSH)
        keep.append(encoder)
    rss_each = (process.memory_info().rss - before) / count
    del keep
    assert rss_each > 64 * KIB  # the memory is really there
    # A page counts in RSS once touched, so RSS may be a little lower; never far above.
    assert 0.8 * rss_each <= traced <= 1.3 * rss_each, (traced, rss_each)


def test_runs_record_the_codec_and_interoperate(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    path.write_bytes(b"".join(payload + b"\n" for payload in PAYLOADS))
    loaded = corpus.load(path)
    grid = sweep.SweepPlan(window_bits=(9, 12), mem_levels=(1, 8))
    ng_run = sweep.sweep(loaded, grid, codec_name="zlib-ng", plan=FAST_PLAN)
    zlib_run = sweep.sweep(loaded, grid, codec_name="zlib", plan=FAST_PLAN)
    version = getattr(zlib_ng, "ZLIBNG_RUNTIME_VERSION", None) or zlib_ng.ZLIB_RUNTIME_VERSION
    assert (ng_run.meta["codec"], ng_run.meta["codec_version"]) == ("zlib-ng", str(version))
    assert zlib_run.meta["codec"] == "zlib"
    for ng_cell, zlib_cell in zip(ng_run.cells, zlib_run.cells, strict=True):
        # In the results file, too: observed memory follows the formula for zlib only.
        assert zlib_cell["compress_memory_observed"] - zlib_cell["compress_memory_theoretical"] < (
            7 * KIB
        )
        assert ng_cell["compress_memory_observed"] > 100 * KIB
    # A peer with stock zlib (websockets, browsers) inflates what zlib-ng deflated.
    setting = Setting(12, 5)
    frames = compress_stream(PAYLOADS, setting, 12, get_zlib_module("zlib-ng"))
    check_stream(frames, PAYLOADS, setting, 12, get_zlib_module("zlib"), "zlib-ng frames")


def test_missing_module_is_one_line_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch, chat_corpus_path: Path, tmp_path: Path
) -> None:
    # None in sys.modules makes "import zlib_ng.zlib_ng" raise ImportError, as if not installed.
    monkeypatch.setitem(sys.modules, "zlib_ng.zlib_ng", None)
    results_dir = tmp_path / "results"
    outcome = CliRunner().invoke(
        cli,
        ["run", str(chat_corpus_path), "--codec", "zlib-ng", "--results-dir", str(results_dir)],
    )
    assert outcome.exit_code == 2
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "zlib-ng codec is not installed" in lines[0]
    assert "pip install 'wsztune[zlib-ng]'" in lines[0]
    assert "Traceback" not in outcome.output
    assert not results_dir.exists()
