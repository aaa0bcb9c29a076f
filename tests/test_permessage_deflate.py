"""The codec must frame exactly as python-websockets does, byte for byte, and round-trip."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support.samples import chat_messages, document_messages
from tests.support.websockets_reference import websockets_frames
from wsztune import corpus, sweep
from wsztune.cli import cli
from wsztune.codecs import zlib as zlib_codec
from wsztune.errors import RoundTripError, SettingError, ToolUnavailable
from wsztune.permessage_deflate import (
    Setting,
    check_stream,
    compress_pass,
    compress_stream,
    decompress_pass,
    get_zlib_module,
    parse_setting,
)

ZLIB = get_zlib_module("zlib")
GRID = [(wb, ml) for wb in range(9, 16) for ml in range(1, 10)]
CORPORA = {"chat": chat_messages(200), "documents": document_messages(25)}


@pytest.mark.parametrize("takeover", [True, False], ids=["takeover", "no-takeover"])
@pytest.mark.parametrize("corpus_name", sorted(CORPORA))
def test_frames_equal_websockets_byte_for_byte(corpus_name: str, takeover: bool) -> None:
    payloads = CORPORA[corpus_name]
    for wb, ml in GRID:
        setting = Setting(wb, ml, context_takeover=takeover)
        ours = compress_stream(payloads, setting, setting.server_bits, ZLIB)
        theirs = websockets_frames(payloads, wb, ml, context_takeover=takeover)
        assert ours == theirs, f"{wb}:{ml} differs from websockets"


@pytest.mark.parametrize("level", [0, 1, 9])
def test_levels_equal_websockets(level: int) -> None:
    payloads = CORPORA["chat"]
    setting = Setting(12, 5, level=level)
    ours = compress_stream(payloads, setting, 12, ZLIB)
    assert ours == websockets_frames(payloads, 12, 5, level=level)


@pytest.mark.parametrize("takeover", [True, False])
@pytest.mark.parametrize("strategy", ["default", "filtered", "huffman", "rle", "fixed"])
def test_round_trip_every_strategy(strategy: str, takeover: bool) -> None:
    payloads = [*CORPORA["chat"][:50], b"", b"\x00\xff" * 300]
    setting = Setting(10, 3, strategy=strategy, context_takeover=takeover)
    frames = compress_stream(payloads, setting, 10, ZLIB)
    check_stream(frames, payloads, setting, 10, ZLIB, "10:3")  # raises on any difference
    # The timed passes do the same codec work and keep nothing.
    assert compress_pass(payloads, setting, 10, ZLIB) is None
    assert decompress_pass(frames, setting, 10, ZLIB) is None


def test_context_takeover_compresses_repetition() -> None:
    payloads = [b'{"type":"tick","symbol":"ACME","price":101.25}'] * 20
    with_takeover = compress_stream(payloads, Setting(12, 5), 12, ZLIB)
    without = compress_stream(payloads, Setting(12, 5, context_takeover=False), 12, ZLIB)
    assert sum(map(len, with_takeover)) < sum(map(len, without)) / 3


@pytest.mark.parametrize("takeover", [True, False])
def test_round_trip_check_names_the_first_changed_message(takeover: bool) -> None:
    setting = Setting(12, 5, context_takeover=takeover)
    payloads = [b'{"a":1}', b'{"a":2}', b'{"a":3}']
    frames = compress_stream(payloads, setting, 12, ZLIB)
    with pytest.raises(RoundTripError, match="12:5: message 1 changed"):
        check_stream(frames, [payloads[0], b"other", payloads[2]], setting, 12, ZLIB, "12:5")
    with pytest.raises(RoundTripError, match="3 messages in, 2 out"):
        check_stream(frames[:2], payloads, setting, 12, ZLIB, "12:5")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window_bits": 7}, "window bits must be between 8 and 15"),
        ({"window_bits": 16}, "window bits must be between 8 and 15"),
        ({"client_window_bits": 16}, "client window bits"),
        ({"mem_level": 0}, "memLevel must be between 1 and 9"),
        ({"mem_level": 10}, "memLevel must be between 1 and 9"),
        ({"level": 10}, "compression level must be between 0 and 9"),
        ({"level": -3}, "compression level"),  # -2 is Go's Huffman-only level
        ({"strategy": "best"}, "strategy must be one of"),
    ],
)
def test_settings_out_of_range_are_rejected(kwargs: dict, message: str) -> None:
    with pytest.raises(SettingError, match=message):
        Setting(**kwargs)


def test_window_bits_8_is_accepted_and_behaves_as_9() -> None:
    payloads = CORPORA["chat"][:30]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the codec warns about nothing: the CLI tells the user
        setting = Setting(8, 5)
        assert (setting.server_bits, setting.client_bits, setting.nominal_client_bits) == (9, 9, 8)
        frames = compress_stream(payloads, setting, setting.server_bits, ZLIB)
    assert frames == compress_stream(payloads, Setting(9, 5), 9, ZLIB)


def test_a_window_bits_8_cell_says_8_and_measures_9(chat_corpus_path: Path) -> None:
    streams = corpus.load(chat_corpus_path).streams()
    plan = sweep.TimingPlan(repeat=1, warmup=1, min_sample_seconds=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        eight = zlib_codec.measure_cell(streams, Setting(8, 5), ZLIB, plan)
    nine = zlib_codec.measure_cell(streams, Setting(9, 5), ZLIB, plan)
    assert (eight["window_bits"], eight["client_window_bits"]) == (8, 8)  # as asked
    for key in ("compressed_bytes", "compress_memory_theoretical", "decompress_memory_theoretical"):
        assert eight[key] == nine[key], key
    assert eight["decompress_memory_theoretical"] == 1 << 9


def test_run_with_window_bits_8_warns_once(
    chat_corpus_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def to_stderr(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    # Python's own warning display, as outside pytest (which records warnings instead), into the
    # stderr CliRunner captures. --jobs 1: every cell in this process.
    monkeypatch.setattr(warnings, "showwarning", to_stderr)
    options = ["--window-bits", "8-9", "--mem-level", "5", "--repeat", "1", "--jobs", "1"]
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        outcome = CliRunner().invoke(
            cli, ["run", str(chat_corpus_path), *options, "-q", "--results-dir", str(tmp_path)]
        )
    assert outcome.exit_code == 0, outcome.output
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "windowBits 8" in lines[0] and "as 9" in lines[0]


def test_client_window_bits_default_to_server_bits() -> None:
    assert Setting(11, 4).client_bits == 11
    assert Setting(11, 4, client_window_bits=15).client_bits == 15
    assert Setting(11, 4, client_window_bits=15).bits_for("server") == 11
    assert Setting(11, 4, client_window_bits=15).bits_for("client") == 15


@pytest.mark.parametrize(
    ("text", "expected"), [("12:5", (12, 5)), (" 15:8 ", (15, 8)), ("9:1", (9, 1))]
)
def test_parse_setting(text: str, expected: tuple[int, int]) -> None:
    assert parse_setting(text) == expected


@pytest.mark.parametrize("text", ["12", "12:", "a:b", "12:5:1", "16:5", "12:0"])
def test_parse_setting_rejects(text: str) -> None:
    with pytest.raises(SettingError):
        parse_setting(text)


def test_unknown_zlib_module_is_a_setting_error() -> None:
    with pytest.raises(SettingError, match="codec must be one of"):
        get_zlib_module("brotli")


def test_missing_zlib_module_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    real_import = importlib.import_module

    def fake_import(name: str, *args: object) -> object:
        if name.startswith("zlib_ng"):
            raise ImportError(name)
        return real_import(name, *args)

    monkeypatch.setattr(importlib, "import_module", fake_import)
    with pytest.raises(ToolUnavailable, match="pip install"):
        get_zlib_module("zlib-ng")


@pytest.mark.parametrize("takeover", [True, False])
def test_packed_frames_and_lockstep_sizes_match_compress_stream(takeover: bool) -> None:
    """The sweep's packed frames and --no-timing's lockstep round trip give the same frames."""
    from wsztune.permessage_deflate import compress_frames, round_trip_sizes

    payloads = [b"", *chat_messages(40, seed=11), b""]
    setting = Setting(11, 4, context_takeover=takeover)
    expected = compress_stream(payloads, setting, 11, ZLIB)
    frames = compress_frames(map(memoryview, payloads), setting, 11, ZLIB)
    assert frames.payloads() == expected
    assert list(frames.sizes()) == [len(frame) for frame in expected]
    check_stream(frames, iter(payloads), setting, 11, ZLIB, "packed")
    decompress_pass(frames, setting, 11, ZLIB)
    sizes = round_trip_sizes(map(memoryview, payloads), setting, 11, ZLIB, "lockstep")
    assert list(sizes) == [len(frame) for frame in expected]
    with pytest.raises(RoundTripError, match="41 messages in, 42 out"):
        check_stream(frames, iter(payloads[:-1]), setting, 11, ZLIB, "short")


# Threshold -----------------------------------------------------------------------------------


@pytest.mark.parametrize("takeover", [True, False])
def test_threshold_sends_short_messages_raw_and_skips_the_compressor(takeover: bool) -> None:
    from wsztune.permessage_deflate import Raw, check_stream, compress_stream, get_zlib_module

    zlib_module = get_zlib_module("zlib")
    payloads = chat_messages(60) + document_messages(10)
    threshold = 100
    setting = Setting(12, 5, context_takeover=takeover, threshold=threshold)
    frames = compress_stream(payloads, setting, 12, zlib_module)
    long_ones = [p for p in payloads if len(p) >= threshold]
    # What reaches the compressor is exactly the long messages, as if the short never existed.
    expected = iter(
        compress_stream(long_ones, Setting(12, 5, context_takeover=takeover), 12, zlib_module)
    )
    for payload, frame in zip(payloads, frames, strict=True):
        if len(payload) < threshold:
            assert type(frame) is Raw and frame == payload
        else:
            assert type(frame) is bytes and frame == next(expected)
    check_stream(frames, payloads, setting, 12, zlib_module, "threshold")
    assert 0 < sum(type(f) is Raw for f in frames) < len(frames)


def test_threshold_must_be_a_byte_count() -> None:
    with pytest.raises(SettingError, match="threshold"):
        Setting(12, 5, threshold=-1)
    with pytest.raises(SettingError, match="--threshold"):
        sweep.parse_thresholds("0,1k")
    assert sweep.parse_thresholds("1024, 0,1024") == (0, 1024)


def test_ws_rule_measures_takeover_cells_at_threshold_zero() -> None:
    grid = sweep.SweepPlan(
        window_bits=(12,), mem_levels=(5,), context_takeover=(True, False),
        thresholds=(0, 1024), threshold_rule="ws",
    )  # fmt: skip
    cells = {(s.context_takeover, s.threshold) for s in grid.settings()}
    assert cells == {(True, 0), (False, 0), (False, 1024)}
    always = sweep.SweepPlan(window_bits=(12,), mem_levels=(5,), thresholds=(0, 1024))
    assert {s.threshold for s in always.settings()} == {0, 1024}


def test_sweep_cells_record_threshold_and_compress_calls() -> None:
    payloads = chat_messages(80) + document_messages(5)
    loaded = corpus.Corpus(
        "mem", "jsonl", "0" * 64,
        [corpus.Message(p, True, "c1", "server") for p in payloads],
    )  # fmt: skip
    grid = sweep.SweepPlan(window_bits=(12,), mem_levels=(5,), thresholds=(0, 150))
    plan = sweep.TimingPlan(repeat=1, warmup=1, min_sample_seconds=0.0)
    cells = {c["threshold"]: c for c in sweep.sweep(loaded, grid, plan=plan).cells}
    short = sum(len(p) < 150 for p in payloads)
    assert cells[0]["compressed_messages"] == len(payloads)
    assert cells[150]["compressed_messages"] == len(payloads) - short
    assert cells[150]["compressed_bytes"] > cells[0]["compressed_bytes"]


@pytest.mark.parametrize("codec_name", ["zlib", "zlib-ng"])
@pytest.mark.parametrize(
    ("level", "strategy", "takeover"),
    [(-1, "default", True), (-1, "default", False), (1, "filtered", True), (9, "huffman", True),
     (0, "default", True), (6, "rle", False), (1, "default", True), (4, "default", False)],
)  # fmt: skip
def test_big_messages_in_pieces_give_the_same_sizes_and_round_trip(
    monkeypatch: pytest.MonkeyPatch, level: int, strategy: str, takeover: bool, codec_name: str
) -> None:
    """Messages over BIG_MESSAGE are compressed and inflated in pieces (issue 17): the frames
    must be those of one compress() call, byte for byte, and every check and pass must work on
    them. A tiny BIG_MESSAGE makes ordinary messages "big" here."""
    import os

    from wsztune import permessage_deflate as model
    from wsztune.permessage_deflate import (
        Frames,
        check_stream,
        compress_frames,
        compress_pass,
        decompress_pass,
        round_trip_sizes,
    )

    payloads = [
        *document_messages(6, seed=3),
        b"x" * 50_000,  # inflates a thousand times: pending output with all input consumed
        os.urandom(9_000),  # incompressible
        b"",
        *chat_messages(5, seed=4),
    ]
    setting = Setting(12, 5, level=level, strategy=strategy, context_takeover=takeover)
    zlib_module = get_zlib_module(codec_name)
    whole = compress_stream(payloads, setting, 12, zlib_module)
    monkeypatch.setattr(model, "BIG_MESSAGE", 1000)
    monkeypatch.setattr(model, "_BIG_FRAME", 0)
    frames = compress_frames(payloads, setting, 12, zlib_module)
    assert isinstance(frames, Frames)
    assert frames.payloads() == whole  # byte for byte
    check_stream(frames, payloads, setting, 12, zlib_module, "big")
    sizes = round_trip_sizes(payloads, setting, 12, zlib_module, "big")
    assert list(sizes) == list(map(len, whole))
    compress_pass(payloads, setting, 12, zlib_module, big=True)
    decompress_pass(frames, setting, 12, zlib_module, big=True)
    # A changed message is still caught, in pieces.
    changed = [*payloads[:6], b"x" * 49_999 + b"y", *payloads[7:]]
    with pytest.raises(RoundTripError, match="message 6 changed"):
        check_stream(frames, changed, setting, 12, zlib_module, "big")
