"""bench/broadcast.py's pairing of the model with the server, without servers: the on and off
windows are measured side by side, the model inside every repeat beside them, and the verdict
is the median of the repeats' own ratios (the bench's docstring says why)."""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.bench import load_bench

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """bench/broadcast.py, imported from its file (bench/ is not a package)."""
    return load_bench("broadcast")


def _repeat(bench: ModuleType, on: float, off: float, model: float, load: float = 10.0) -> object:
    return bench.Repeat(on=on, off=off, model=model, busy=1.0, sizes=[100.0, 120.0],
                        loads=[load, load, load])  # fmt: skip


def test_a_repeat_sets_its_own_difference_against_its_own_model(bench: ModuleType) -> None:
    repeat = _repeat(bench, on=30.0, off=12.0, model=15.0)
    assert repeat.measured == pytest.approx(18.0)
    assert repeat.ratio == pytest.approx(1.2)
    assert _repeat(bench, on=30.0, off=12.0, model=0.0).ratio is None


def test_the_ratio_is_the_median_of_paired_ratios_not_the_ratio_of_medians(
    bench: ModuleType,
) -> None:
    # Two repeats where model and server agree under very different loads, and one where the
    # server's windows were spoiled: the medians of each column alone come from different
    # repeats (model 11 from the third, measured 19 from it too, against 10 and 20 elsewhere)
    # and would read 1.73; the paired verdict reads 1.0.
    repeats = [
        _repeat(bench, on=22.0, off=12.0, model=10.0, load=5.0),
        _repeat(bench, on=35.0, off=15.0, model=20.0, load=30.0),
        _repeat(bench, on=31.0, off=12.0, model=11.0, load=12.0),
    ]
    row = bench.summarize(repeats)
    assert row.ratio[0] == pytest.approx(1.0)
    assert row.ratio[1:] == pytest.approx((1.0, 19.0 / 11.0))
    assert row.measured == pytest.approx((19.0, 10.0, 20.0))
    assert row.model == pytest.approx((11.0, 10.0, 20.0))
    assert row.measured[0] / row.model[0] == pytest.approx(19.0 / 11.0)
    assert (row.on, row.off) == pytest.approx((31.0, 12.0))
    assert row.load == (5.0, 30.0) and row.size == 110.0
    assert row.ok


def test_the_goal_is_25_percent_either_way(bench: ModuleType) -> None:
    def row_at(ratio: float) -> object:
        return bench.summarize([_repeat(bench, on=10.0 + 10.0 * ratio, off=10.0, model=10.0)])

    assert row_at(0.76).ok and row_at(1.24).ok
    assert not row_at(0.74).ok and not row_at(1.26).ok
    assert not bench.summarize([_repeat(bench, on=20.0, off=10.0, model=0.0)]).ok
    line = bench.format_row("gorilla WriteMessage", row_at(1.5))
    assert line.startswith("gorilla WriteMessage") and line.endswith("MISSED")
    assert "1.50 (1.50..1.50)" in line


def test_a_cost_not_told_from_nothing_is_unresolved_not_missed(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    """gorilla's PreparedMessage at 1,000 connections: one compression per message, its on -
    off -0.5 to 1.0 ms per 1,000 deliveries over the repeats against a model of 0.06. The
    ratio (17) says nothing: the row reads unresolved, the bench does not fail on it, and it
    says what would narrow the noise."""
    repeats = [_repeat(bench, on=9.7, off=9.1, model=0.06), _repeat(bench, 9.3, 9.8, 0.06),
               _repeat(bench, 10.3, 9.3, 0.06)]  # fmt: skip
    row = bench.summarize(repeats)
    assert row.unresolved and not row.ok
    assert bench.format_row("gorilla PreparedMessage", row).endswith("unresolved")
    options = argparse.Namespace(corpus=Path("market.jsonl"), connections=1000, rate=10.0,
                                 repeats=3, seconds=10.0)  # fmt: skip
    server = bench.Server("gorilla PreparedMessage", lambda *_: [], [], lambda cell: True,
                          repeats=repeats)  # fmt: skip
    assert bench.report([server], options, (1.0,), (1.0,), 100.0) == 0
    assert '--only "gorilla PreparedMessage" --seconds 60' in capsys.readouterr().out
    # On - off of 0.6 to 0.9 where the server without compression moved by 1.0 between the
    # repeats: no more told from nothing.
    moved = bench.summarize([_repeat(bench, 10.5, 9.9, 0.05), _repeat(bench, 11.6, 10.9, 0.05),
                             _repeat(bench, 10.8, 9.9, 0.05)])  # fmt: skip
    assert moved.off_spread == pytest.approx(1.0) and moved.unresolved
    # A cost told from nothing is judged by its ratio, however wide its spread.
    wide = bench.summarize([_repeat(bench, 12.0, 10.0, 1.0), _repeat(bench, 30.0, 10.0, 1.0)])
    assert not wide.unresolved and not wide.ok


def test_a_server_that_made_fewer_broadcasts_than_its_rate_says_so(bench: ModuleType) -> None:
    """The rate column is what the server was asked for; where its windows held fewer
    deliveries than that rate gives its subscribers, a note says how many it made."""

    def row_at(made: float) -> object:
        repeat = _repeat(bench, on=20.0, off=10.0, model=10.0)
        repeat.rate, repeat.made = 2000.0, made
        return bench.summarize([repeat])

    (note,) = bench.row_notes("gorilla PreparedMessage", row_at(1260.0))
    assert "made 1,260 broadcasts a second, not the 2000 of its rate" in note
    assert bench.row_notes("gorilla PreparedMessage", row_at(1990.0)) == []


def test_a_window_counts_its_deliveries_per_second(bench: ModuleType) -> None:
    server = bench.Server("ws", lambda *_: [], [], lambda cell: True)
    before = ({"connections": 1000, "deliveries": 0, "bytes": 0}, 1.0)
    after = ({"connections": 1000, "deliveries": 20_000, "bytes": 2_000_000}, 3.0)
    assert bench.window_of(server, before, after, 0.5, 10.0).delivered == pytest.approx(2000.0)


def test_a_miss_by_a_server_that_idled_most_of_its_window_says_so(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    """python-websockets at 10 broadcasts/s to 1,000 connections is busy about a third of a core:
    its row shows that load, and a miss there, with the CPUs free to halt (the default), points
    at what idling does to its reading."""
    options = argparse.Namespace(corpus=Path("game.jsonl"), connections=1000, rate=10.0,
                                 repeats=1, seconds=10.0)  # fmt: skip

    def server_at(core: float, on: float) -> object:
        repeat = _repeat(bench, on=on, off=10.0, model=10.0)
        repeat.core = core
        return bench.Server("websockets broadcast()", lambda *_: [], [], lambda cell: True,
                            repeats=[repeat])  # fmt: skip

    idle = server_at(0.31, on=25.0)
    assert bench.report([idle], options, (1.0,), (1.0,), 100.0) == 1
    out = capsys.readouterr().out
    assert " 0.31 " in out and "busy 31% of a core" in out and "A server that idles" in out
    # Saturated, within the goal, or missing low (idling makes a server pay more, not less),
    # nothing more is said.
    for server in (server_at(0.95, on=25.0), server_at(0.31, on=21.0), server_at(0.31, on=15.0)):
        bench.report([server], options, (1.0,), (1.0,), 100.0)
        assert "of a core" not in capsys.readouterr().out
    # With every CPU kept from halting (--busy-cpus), a sleeping server wakes no halted CPU: the
    # miss is said, and nothing about idling.
    options.busy_cpus = True
    assert bench.report([server_at(0.31, on=25.0)], options, (1.0,), (1.0,), 100.0) == 1
    out = capsys.readouterr().out
    assert "MISSED" in out and "of a core" not in out and "kept each CPU from halting" in out
    # A row from repeats that measured no load prints "-" in its place.
    assert " - " in bench.format_row("ws", bench.summarize([_repeat(bench, 20.0, 10.0, 10.0)]))


def test_a_row_prints_its_rate_and_fanout(bench: ModuleType) -> None:
    """The rate and K columns: the broadcasts per second and the subscribers of each."""
    repeat = _repeat(bench, 20.0, 10.0, 10.0)
    repeat.rate, repeat.fanout = 2000.0, 10
    line = bench.format_row("gorilla PreparedMessage", bench.summarize([repeat, repeat]))
    assert f" {'2000':>5} {'10':>5} " in line


def test_a_server_without_a_model_figure_reads_n_a_with_the_reason(bench: ModuleType) -> None:
    # A model run whose cell gave no CPU per delivery (0 or missing) in any repeat: no ratio to
    # print (not "nan"), and no goal met; the line says why.
    repeats = [_repeat(bench, on=20.0, off=10.0, model=10.0), _repeat(bench, 20.0, 10.0, 0.0)]
    row = bench.summarize(repeats)
    assert row.ratio is None and not row.ok
    line = bench.format_row("ws", row)
    assert "nan" not in line and f"{'n/a':>18}" in line
    assert line.endswith("n/a: no model figure in 1 of 2 repeats (the model run's cell gave no "
                         "CPU per delivery, or the windows held no message at or over the "
                         "threshold)")  # fmt: skip
    # The model's range is over the repeats that have a figure: the one without is no 0.00.
    assert row.model == pytest.approx((10.0, 10.0, 10.0)) and "10.00 (10.00..10.00)" in line
    none = bench.summarize([_repeat(bench, 20.0, 10.0, 0.0)])
    assert none.model is None and bench.format_row("ws", none).startswith(f"{'ws':24} {'n/a':>20} ")
    # And the bench exits 1 for it, as for a missed goal.
    options = argparse.Namespace(corpus=Path("market.jsonl"), connections=100, rate=10.0,
                                 repeats=2, seconds=5.0)  # fmt: skip
    server = bench.Server("ws", lambda *_: [], [], lambda cell: True, repeats=repeats)
    assert bench.report([server], options, (1.0,), (1.0,), 100.0) == 1
    server.repeats = [repeats[0]]
    assert bench.report([server], options, (1.0,), (1.0,), 100.0) == 0


@pytest.mark.parametrize(("number", "order"), [(0, ["on and off", "model"]),
                                               (1, ["model", "on and off"])])  # fmt: skip
def test_the_model_runs_beside_the_repeats_windows_measured_side_by_side(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, number: int,
    order: list[str],
) -> None:
    happened: list[str] = []

    def measure(server: object, *rest: object) -> dict[bool, object]:
        happened.append("on and off")
        # CPU seconds per 1,000 deliveries, busy share, the window's mean message (bytes), of
        # it the bytes at or over the threshold (none here: all of them), no count of the
        # compressed deliveries (a server that does not count them: the Python and Node ones),
        # and the server's load in cores
        return {compress: bench.Window((0.030 if compress else 0.012), 0.5, size, size, None,
                                       0.3 if compress else 0.1)
                for compress, size in ((True, 150.0), (False, 170.0))}  # fmt: skip

    def model_run(corpus: Path, args: list[str], fanout: int, output: Path) -> list[dict]:
        happened.append("model")
        assert corpus == tmp_path / "w.jsonl"  # the messages the server broadcasts
        assert args == ["--window-bits", "12"] and fanout == 1000
        return [{"window_bits": 9, "compress_seconds_per_delivery": 1.0},
                {"window_bits": 12, "compress_seconds_per_delivery": 15e-6}]  # fmt: skip

    monkeypatch.setattr(bench, "measure", measure)
    monkeypatch.setattr(bench, "model_run", model_run)
    server = bench.Server("a server", lambda *_: [], ["--window-bits", "12"],
                          lambda cell: cell["window_bits"] == 12)  # fmt: skip
    options = argparse.Namespace(corpus=tmp_path / "c.jsonl", connections=1000, rate=10.0,
                                 warmup=0.0, seconds=0.0, model_corpus=tmp_path / "w.jsonl")
    repeat = bench.one_repeat(server, number, options, tmp_path / "m.bin", tmp_path, tmp_path,
                              corpus_sizes=[100, 140])  # fmt: skip
    assert happened == order
    # The model's 15 ms per 1,000 deliveries of a 120-byte message, read per byte for the
    # windows' 160-byte mean: 20.
    assert (repeat.on, repeat.off, repeat.model) == pytest.approx((30.0, 12.0, 20.0))
    assert repeat.ratio == pytest.approx(0.9)
    assert len(repeat.loads) == 2 and repeat.busy == 0.5
    assert repeat.core == 0.3  # the window with compression on only: the server at work
    assert sorted(repeat.sizes) == [150.0, 170.0]


def test_a_threshold_reads_the_model_per_byte_the_server_compressed(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """coder sends messages under its threshold raw: the model's figure, given for the corpus's
    mean bytes per message at or over it, is read for the windows' such bytes per delivery,
    which its server counts apart."""

    def measure(server: object, *rest: object) -> dict[bool, object]:
        # Windows of 150 B per delivery, of which 90 B in messages of 128 B or more.
        return {compress: bench.Window((0.030 if compress else 0.012), 0.5, 150.0, 90.0, None)
                for compress in (True, False)}  # fmt: skip

    # The corpus: (140 + 130) / 4 = 67.5 B per message in messages of 128 B or more.
    cell = {"compress_seconds_per_delivery": 15e-6}
    repeat = coder_repeat(bench, monkeypatch, tmp_path, measure, cell)
    assert bench.compressible_mean([100, 140, 10, 130], 128) == pytest.approx(67.5)
    assert repeat.model == pytest.approx(15.0 * 90.0 / 67.5)
    assert repeat.compressible == [90.0, 90.0]
    # Nothing at or over the threshold: every byte, as the model reads its samples then.
    assert bench.compressible_mean([10, 20], 128) == pytest.approx(15.0)
    # Such a corpus is left out of the bench for that server: nothing to compare.
    assert not bench.compresses_any([10, 20], 128) and bench.compresses_any([10, 130], 128)


def test_a_server_broadcasts_runs_from_every_part_of_the_corpus_in_turn(
    bench: ModuleType,
) -> None:
    # 1,000 messages: ten parts of 100; runs of 10, one from each part in turn, so that 100
    # broadcasts in a row hold 10 runs from all ten parts; every message exactly once.
    messages = [str(index).encode() for index in range(1000)]
    order = [int(m) for m in bench.spread_order(messages)]
    assert order[:100] == [part * 100 + i for part in range(10) for i in range(10)]
    assert order[100:110] == list(range(10, 20))
    assert sorted(order) == list(range(1000))
    # Parts of unequal length (1,003 messages) and a corpus shorter than a run: all, once.
    uneven = [str(index).encode() for index in range(1003)]
    assert sorted(bench.spread_order(uneven)) == sorted(uneven)
    assert bench.spread_order(messages[:7]) == messages[:7]


def test_the_model_reads_the_messages_the_server_broadcasts(
    bench: ModuleType, tmp_path: Path
) -> None:
    from wsztune import corpus

    messages = [b'{"t":"tick"}', bytes([0x81, 0xFF, 0x00]), "caf\u00e9".encode()]
    path = tmp_path / "cycle.jsonl"
    bench.write_corpus(messages, path)
    loaded = corpus.load(path)
    assert [m.payload for m in loaded.messages if m.direction == "server"] == messages
    assert bench.server_messages(path) == messages


def test_a_model_read_per_compressed_message_reads_the_windows_so_too(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A cell that timed its compressed messages 1 KiB longer carries their cost per byte and
    was read per compressed message: the windows are read so too, from the Go server's counts
    of its compressed deliveries and their bytes, moved by that cost per byte."""
    windows = iter([bench.CompressedMix(0.5, 235.0), bench.CompressedMix(0.25, 135.0)])

    def measure(server: object, *rest: object) -> dict[bool, object]:
        return {compress: bench.Window((0.030 if compress else 0.012), 0.5, 150.0, 90.0,
                                       next(windows))
                for compress in (True, False)}  # fmt: skip

    # The corpus: two of four messages compressed (140 and 130 B: share 0.5, 135 B), 20 us
    # each. Windows: 0.5 x (20 us + 100 B x 10 ns) and 0.25 x 20 us, in ms per 1,000.
    cell = {"compress_seconds_per_delivery": 10e-6, "compress_seconds_per_byte": 1e-8}
    repeat = coder_repeat(bench, monkeypatch, tmp_path, measure, cell)
    assert repeat.model == pytest.approx((10.5 + 5.0) / 2)


def coder_repeat(bench: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                 measure: object, cell: dict) -> object:
    """One repeat of a coder server (threshold 128) whose windows ``measure`` gives and whose
    model run gives ``cell``, over a corpus of messages of 100, 140, 10 and 130 B."""
    monkeypatch.setattr(bench, "measure", measure)
    monkeypatch.setattr(bench, "model_run", lambda *_: [cell])
    server = bench.Server("coder", lambda *_: [], [], lambda cell: True, threshold=128)
    options = argparse.Namespace(corpus=tmp_path / "c.jsonl", connections=1000, rate=10.0,
                                 warmup=0.0, seconds=0.0, model_corpus=tmp_path / "c.jsonl")
    return bench.one_repeat(server, 0, options, tmp_path / "m.bin", tmp_path, tmp_path,
                            corpus_sizes=[100, 140, 10, 130])  # fmt: skip


@pytest.mark.parametrize(
    ("rate", "core", "target", "chosen"),
    [
        (10.0, 0.30, 0.8, 80.0 / 3),  # in proportion
        (10.0, 0.95, 0.8, 10.0),  # busier already: never below --rate
        (10.0, 0.01, 0.8, 200.0),  # at most MAX_RATE_FACTOR times over: the clients keep up
        (10.0, 0.0, 0.8, 200.0),  # no CPU read at all
    ],
)
def test_load_to_scales_the_rate_by_the_servers_load(
    bench: ModuleType, rate: float, core: float, target: float, chosen: float
) -> None:
    assert bench.MAX_RATE_FACTOR == 20
    assert bench.rate_for_load(rate, core, target) == pytest.approx(chosen)


def test_load_to_measures_each_server_at_its_own_rate(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One pair of windows at --rate gives the server its rate from its load with compression
    on; both windows of every repeat run at it, and the row prints it."""
    rates: list[tuple[bool, float]] = []

    def measure(server: object, messages: Path, go: Path, connections: int, rate: float,
                warmup: float, seconds: float, poll: str | None,
                spinners: tuple[int, ...], fanout: int) -> dict[bool, object]:
        rates.append(rate)
        assert fanout == 0  # every broadcast to every connection, by default
        assert poll == bench.CLIENT_POLL  # clients that read as remote ones, by default
        core = 0.2 * rate / 10.0
        return {compress: bench.Window((0.030 if compress else 0.012), 0.5, 150.0, 150.0, None,
                                       core if compress else core / 2)
                for compress in (True, False)}  # fmt: skip

    def model_run(corpus: Path, args: list[str], fanout: int, output: Path) -> list[dict]:
        return [{"compress_seconds_per_delivery": 18e-6}]

    monkeypatch.setattr(bench, "measure", measure)
    monkeypatch.setattr(bench, "model_run", model_run)
    server = bench.Server("a server", lambda *_: [], [], lambda cell: True)
    options = argparse.Namespace(corpus=tmp_path / "c.jsonl", connections=1000, rate=10.0,
                                 warmup=0.0, seconds=0.0, model_corpus=tmp_path / "c.jsonl",
                                 load_to=0.8, repeats=1)  # fmt: skip
    server.rate = bench.loaded_rate(server, options, tmp_path / "m.bin", tmp_path)
    assert server.rate == 40.0 and rates == [10.0]
    server.repeats.append(bench.one_repeat(server, 0, options, tmp_path / "m.bin", tmp_path,
                                           tmp_path, corpus_sizes=[150]))  # fmt: skip
    assert rates[1:] == [40.0]
    bench.report([server], options, (1.0,), (1.0,), 150.0)
    out = capsys.readouterr().out
    assert "0.20 of a core at 10/s; measured at 40/s" in out
    assert "about 0.8 of a core busy" in out
    assert " 0.80    40 " in out  # core, then rate


@pytest.mark.parametrize(("flags", "poll"), [([], "20ms"), (["--waiting-clients"], None)])
def test_clients_read_as_remote_ones_unless_told_to_wait(
    bench: ModuleType, flags: list[str], poll: str | None
) -> None:
    """By default the clients read every CLIENT_POLL, no reader waiting on a socket (a server's
    send wakes none, as with clients on other machines, and as the model's readers); with
    --waiting-clients they wait on their sockets, woken by every send."""
    options = argparse.Namespace(waiting_clients="--waiting-clients" in flags)
    assert bench.client_poll(options) == poll
    go = bench.GO_SOURCE / "main.go"
    assert 'flags.Duration("poll"' in go.read_text()  # the clients' flag the bench passes


def test_load_to_never_rounds_below_the_rate(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # --rate 0.4 with a server already at the target: 0.4, not round(0.4) == 0 broadcasts/s.
    window = bench.Window(0.03, 0.5, 150.0, 150.0, None, 0.9)
    monkeypatch.setattr(bench, "measure", lambda *_: {True: window, False: window})
    server = bench.Server("a server", lambda *_: [], [], lambda cell: True)
    options = argparse.Namespace(connections=10, rate=0.4, warmup=0.0, seconds=0.0,
                                 load_to=0.8)  # fmt: skip
    assert bench.loaded_rate(server, options, tmp_path / "m.bin", tmp_path) == 0.4


def test_load_to_takes_a_share_of_one_core(bench: ModuleType) -> None:
    for wrong in ("0", "-0.5", "1.5"):
        with pytest.raises(SystemExit) as stopped:
            bench.main(["--load-to", wrong])
        assert stopped.value.code == 2


needs_go_servers = pytest.mark.skipif(
    shutil.which("go") is None
    or not (Path("/usr/share/gocode") / "src" / "nhooyr.io" / "websocket").is_dir()
    or not (Path("/usr/share/gocode") / "src" / "github.com" / "gorilla" / "websocket").is_dir(),
    reason="go, or Debian's gorilla/coder websocket packages, are not installed",
)


@needs_go_servers
def test_polling_clients_hold_their_connections_and_are_delivered_to(
    bench: ModuleType, tmp_path: Path
) -> None:
    """The real bench/broadcast_go: polling clients (raw sockets read every 20 ms) open their
    connections with permessage-deflate, and a gorilla server broadcasting to them counts
    deliveries to every one, the clients reading all along (a client that stopped reading
    would stall the server's writes)."""
    go = bench.go_binary(Path.home() / ".cache" / "wsztune-bench")
    messages = tmp_path / "messages.bin"
    bench.write_messages([b"x" * 300, b'{"tick": 1}'], messages)
    command = [str(go), "serve", "-lib", "gorilla", "-compress", "-rate", "200", "-corpus",
               str(messages)]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    clients = None
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])
        clients = subprocess.Popen([str(go), "clients", "-port", str(port), "-n", "3", "-compress",
                                    "-poll", bench.CLIENT_POLL], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert clients.stdout is not None
        assert clients.stdout.readline().strip() == "open 3"
        deadline = time.monotonic() + 20
        status = {"connections": 0, "deliveries": 0}
        while status["connections"] < 3 or status["deliveries"] < 3 * 200:
            assert time.monotonic() < deadline, status
            line = server.stdout.readline()
            if line.startswith("{"):
                status = json.loads(line)
        assert clients.poll() is None  # still reading
    finally:
        for process in (clients, server):
            if process is not None:
                process.kill()
                process.wait()


def test_every_server_is_started_at_the_phase_it_is_given(
    bench: ModuleType, tmp_path: Path
) -> None:
    """The on and off servers run side by side and take turns (phases 0 and 0.5 of each
    interval): every server's command line carries its phase, in its own program's terms."""
    go, messages = tmp_path / "broadcast_go", tmp_path / "messages.bin"
    for server in bench.servers(go, tmp_path / "ws"):
        command = server.command(False, messages, 10.0, 0.5, 7)
        assert "0.5" in command, (server.name, command)
        flag = command[command.index("0.5") - 1]
        if server.name.startswith("ws"):  # node broadcast_ws.js WS_DIR 0|1 RATE MESSAGES PHASE K
            assert command[-2:] == ["0.5", "7"]
        else:
            assert flag in ("-phase", "--phase"), (server.name, command)
            assert command[command.index("7") - 1] in ("-fanout", "--fanout")
    # the programs read it: the Go server's flag, ws's fifth argument
    assert 'flags.Float64("phase"' in (bench.GO_SOURCE / "main.go").read_text()
    assert "phase = '0'" in bench.WS_SERVER.read_text()


@pytest.mark.parametrize(
    ("count", "number", "fanout", "subscribers"),
    [
        (6, 0, 0, range(0, 6)),  # no fan-out: everyone
        (6, 5, 6, range(0, 6)),  # one group of all
        (6, 0, 2, range(0, 2)),
        (6, 1, 2, range(2, 4)),
        (6, 2, 2, range(4, 6)),
        (6, 3, 2, range(0, 2)),  # the groups in turn
        (7, 1, 3, range(3, 6)),  # the seventh is in no whole group
        (7, 2, 3, range(0, 3)),
        (2, 0, 3, range(0, 2)),  # fewer than a group (still connecting): everyone
        (0, 4, 3, range(0, 0)),
    ],
)
def test_a_fanout_broadcast_goes_to_one_group_in_turn(
    bench: ModuleType, count: int, number: int, fanout: int, subscribers: range
) -> None:
    """With --fanout K a broadcast goes to K subscribers: the connections in the order they
    came, in groups of K, the groups in turn."""
    assert range(count)[bench.group(count, number, fanout)] == subscribers


@pytest.mark.parametrize("name", ["missing.jsonl", "bad.jsonl"])
def test_a_corpus_it_cannot_read_is_one_line_and_exit_2(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """A corpus that is not there, or not a corpus: one line naming it, exit 2, no traceback
    (and no server built or started)."""
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    assert bench.main(["--corpus", str(tmp_path / name)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and name in err and "Traceback" not in err


def test_fanout_is_refused_over_the_connections(bench: ModuleType) -> None:
    """--fanout K of more subscribers than connections is refused, with what it takes."""
    with pytest.raises(SystemExit) as stopped:
        bench.main(["--connections", "10", "--fanout", "11"])
    assert stopped.value.code == 2


def test_each_server_runs_at_its_fanout_and_rate_and_the_model_at_its_fanout(
    bench: ModuleType, tmp_path: Path
) -> None:
    """Without --fanout, a per-connection server broadcasts to every connection at --rate and
    PreparedMessage to groups of its own at its own rate; --fanout K sets every server's
    fan-out (at --rate); the model runs at the fan-out, or at every connection; a rate that
    --load-to chose wins."""
    by_name = {server.name: server for server in bench.servers(tmp_path / "go", None)}
    plain, prepared = by_name["gorilla WriteMessage"], by_name["gorilla PreparedMessage"]
    default = argparse.Namespace(connections=1000, rate=10.0, fanout=None)
    given = argparse.Namespace(connections=1000, rate=10.0, fanout=50)
    expected = [
        (plain, default, (0, 10.0, 1000)),
        (prepared, default, (bench.COMPRESS_ONCE_FANOUT, bench.COMPRESS_ONCE_RATE,
                             bench.COMPRESS_ONCE_FANOUT)),
        (plain, given, (50, 10.0, 50)),
        (prepared, given, (50, 10.0, 50)),
    ]  # fmt: skip
    for server, options, figures in expected:
        found = (bench.fanout_of(server, options), bench.rate_of(server, options),
                 bench.model_fanout(server, options))  # fmt: skip
        assert found == figures, (server.name, options)
    prepared.rate = 40.0  # --load-to's
    assert bench.rate_of(prepared, default) == 40.0
    assert bench.fanout_of(plain, argparse.Namespace(connections=10, rate=1.0)) == 0


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("gorilla WriteMessage", marks=needs_go_servers),
        "websockets broadcast()",
        "ws (",
    ],
)
def test_a_real_server_sends_a_fanout_broadcast_to_its_group_only(
    bench: ModuleType, tmp_path: Path, request: pytest.FixtureRequest, name: str
) -> None:
    """Each server program of the bench, run with compression on at fan-out 2 with four
    connections: the first two (in the order they came) get the even broadcasts and the last
    two the odd ones, each message once, whole."""
    from websockets.sync.client import connect

    ws_dir = request.getfixturevalue("ws_dir") if name.startswith("ws") else None
    go = tmp_path / "not-built"
    if name.startswith("gorilla"):
        go = bench.go_binary(Path.home() / ".cache" / "wsztune-bench")
    server = next(s for s in bench.servers(go, ws_dir) if s.name.startswith(name))
    messages = tmp_path / "messages.bin"
    payloads = [f"message {n} ".encode() * 20 for n in range(20)]  # an even count: parity holds
    bench.write_messages(payloads, messages)
    process = subprocess.Popen(server.command(True, messages, 100.0, 0.0, 2),
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
    received: list[list[int]] = []
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().split()[1])
        with contextlib.ExitStack() as stack:
            connections = []
            for _ in range(4):  # one after the other: their order is the server's
                connections.append(stack.enter_context(
                    connect(f"ws://127.0.0.1:{port}/", max_queue=None)))
                time.sleep(0.2)
            time.sleep(1.0)  # a hundred broadcasts with all four connected
            # Stopped, then drained: a server still sending while the connections are read one
            # after the other would give the later ones broadcasts the earlier ones missed.
            process.send_signal(signal.SIGSTOP)
            time.sleep(0.3)  # what it sent before it stopped arrives
            for connection in connections:
                numbers = []
                while True:
                    try:
                        message = connection.recv(timeout=0)
                    except TimeoutError:
                        break
                    payload = message.encode() if isinstance(message, str) else message
                    numbers.append(int(payload.split()[1]))
                    assert payload == payloads[numbers[-1]]
                received.append(numbers)
            process.kill()  # first: gorilla's server would not end the closing handshake
    finally:
        process.kill()
        process.wait()
    # The last ones (those before the fourth came went to a group of all three) that the
    # group's other connection got too: the server may have stopped mid-broadcast.
    received = [[n for n in numbers if n in received[index ^ 1]][-10:]
                for index, numbers in enumerate(received)]  # fmt: skip
    assert all(len(numbers) == 10 for numbers in received), received
    assert received[0] == received[1] and received[2] == received[3], received
    parities = [{n % 2 for n in numbers} for numbers in received]
    assert parities[0] in ({0}, {1}) and parities[2] == {0, 1} - parities[0], received
