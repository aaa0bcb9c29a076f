"""The jzlib codec (JZlib as Netty calls it, in a Java helper) and the netty codec's choice.

The byte-for-byte check against Netty itself is tests/codecs/test_verify_netty.py; here: the rule
that picks the codec per cell, the one-line error without a JDK or JZlib, and the codec as the sweep
runs it (sizes the same whatever the number of JVMs, round trip checked, memory and time).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from wsztune import corpus, results, sweep
from wsztune.cli import cli
from wsztune.codecs import jzlib
from wsztune.codecs.netty import runs_jdk_zlib
from wsztune.permessage_deflate import Setting


def test_netty_runs_the_jdks_zlib_only_at_15_8() -> None:
    """ZlibCodecFactory: JdkZlibEncoder at windowBits 15 and memLevel 8, JZlib otherwise."""
    assert runs_jdk_zlib(Setting(15, 8, 6))
    assert runs_jdk_zlib(Setting(15, 8, 0, context_takeover=False))
    assert not runs_jdk_zlib(Setting(14, 8, 6))
    assert not runs_jdk_zlib(Setting(9, 8, 6))
    assert not runs_jdk_zlib(Setting(15, 7, 6))  # Netty 4.2.16's memLevel: JZlib too


def test_jzlib_without_its_jar_is_one_line_and_exit_2(
    chat_corpus_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No JZlib (or no JDK): one line saying what to install, exit 2, no results file."""
    monkeypatch.setenv(jzlib.JAR_ENV, str(tmp_path / "missing.jar"))
    output = tmp_path / "run.json"
    outcome = CliRunner().invoke(
        cli, ["run", str(chat_corpus_path), "--codec", "jzlib", "-q", "-o", str(output)]
    )
    assert outcome.exit_code == 2
    lines = [line for line in outcome.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "libjzlib-java" in lines[0] or "JDK" in lines[0]
    assert not output.exists()


@pytest.fixture(scope="module")
def java_ready() -> None:
    """Skips without a JDK or Debian's jzlib.jar (the helper compiles on first use)."""
    if shutil.which("java") is None or shutil.which("javac") is None:
        pytest.skip("a JDK is needed (Debian: default-jdk-headless)")
    if not jzlib.DEBIAN_JAR.is_file() and not jzlib.os.environ.get(jzlib.JAR_ENV):
        pytest.skip("JZlib is needed (Debian: libjzlib-java)")


def test_the_jzlib_codec_measures_cells_like_every_codec(
    java_ready: None, chat_corpus_path: Path
) -> None:
    """Sizes identical with one JVM or two, every message round-tripped (the helper checks it
    with the JDK's Inflater), memory observed close above JZlib's theory, time measured."""
    loaded = corpus.load(chat_corpus_path)
    streams = loaded.streams()
    settings = [Setting(12, 8, 6), Setting(9, 8, 1, context_takeover=False), Setting(15, 8, 6)]
    plan = sweep.TimingPlan(repeat=2, min_sample_seconds=0.001)
    one = sweep.run_sweep(streams, settings, codec_name="jzlib", plan=plan, jobs=1)
    two = sweep.run_sweep(streams, settings, codec_name="jzlib", plan=plan, jobs=2)
    assert [cell["compressed_bytes"] for cell in one] == [cell["compressed_bytes"] for cell in two]
    for cell in one:
        plain = tuple(
            n for n in results.CELL_FIELD_NAMES if n not in results.BROADCAST_CELL_FIELDS
        )  # no fan-out: no broadcast fields
        assert tuple(cell)[: len(plain)] == plain
        assert cell["compress_seconds"] > 0 and cell["decompress_seconds"] > 0
        theory = cell["compress_memory_theoretical"]
        assert theory == jzlib.jzlib_theory(cell["window_bits"], cell["mem_level"])
        # Object headers and JZlib's own objects come on top of the arrays: a few KB, no more.
        assert theory <= cell["compress_memory_observed"] <= theory + 4096
        assert cell["compress_memory_peak"] >= cell["compress_memory_observed"]
        assert cell["decompress_memory_theoretical"] == 1 << 15  # the JDK's Inflater
    # The per-message compressor without context takeover costs more bytes than with it.
    by_window = {cell["window_bits"]: cell for cell in one}
    assert by_window[9]["compressed_bytes"] > by_window[12]["compressed_bytes"]


def test_the_netty_summary_names_each_rows_codec(
    small_run_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run whose cells name their codec (Netty's) says which codec measured which cells."""
    from wsztune.console import stdout_console
    from wsztune.report import run_summary

    run = results.load(small_run_path)
    for cell in run.cells:
        cell["codec"] = "zlib" if cell["window_bits"] == 13 else "JZlib"
    stdout_console().print(run_summary(run))
    shown = capsys.readouterr().out
    assert "codec per cell: JZlib at 9:1, " in shown and "; zlib at 13:1, " in shown


def test_without_context_takeover_netty_holds_no_compressor_between_messages() -> None:
    """DeflateEncoder drops its encoder after each message without context takeover: the
    connection's idle memory is its decompressor's, the compressor only its peak."""
    from wsztune.codecs.netty import idle_without_takeover

    cell = {
        "context_takeover": False,
        "compress_memory_observed": 268_296,
        "compress_memory_peak": 268_400,
        "decompress_memory_observed": 40_128,
        "connection_memory": 308_424,
    }
    idle_without_takeover(cell)
    assert cell["compress_memory_observed"] == 0
    assert cell["compress_memory_peak"] == 268_400
    assert cell["connection_memory"] == 40_128
    kept = {**cell, "context_takeover": True, "compress_memory_observed": 5, "connection_memory": 7}
    assert idle_without_takeover(dict(kept)) == kept
