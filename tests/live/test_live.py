"""wsztune live against a real websockets server: bytes exact, memory within tolerance, clean exit.

Every test that starts a server is marked ``live`` (select with ``-m live``, skip with
``-m "not live"``). They keep to a few connections on small corpora: the whole file runs in
well under 40 s on two cores.
"""

from __future__ import annotations

import base64
import json
import random
import socket
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from tests.support.samples import chat_messages, document_messages, write_jsonl
from wsztune import corpus, sweep
from wsztune.cli import cli
from wsztune.codecs import zlib as zlib_codec
from wsztune.errors import SettingError
from wsztune.live import LiveOptions
from wsztune.live import plan as live_plan
from wsztune.live import python as live
from wsztune.live.result import LiveError
from wsztune.loopback import LOOPBACK
from wsztune.permessage_deflate import Setting, get_zlib_module

pytest.importorskip("websockets")


def write_records(path: Path, connections: int = 4, seed: int = 5) -> Path:
    """A small records corpus like the bundled demo: chat both ways, binary documents down."""
    rng = random.Random(seed)
    chat = chat_messages(400, seed=seed)
    documents = document_messages(20, seed=seed)
    lines = [json.dumps({"wsztune": "records/1"})]
    for index in range(360):
        connection = f"user-{rng.randrange(connections)}"
        roll = rng.random()
        if roll < 0.35:
            record = {"direction": "client", "text": chat[index].decode()}
        elif roll < 0.9:
            record = {"direction": "server", "text": chat[(index * 7) % 400].decode()}
        else:
            payload = documents[index % 20]
            record = {"direction": "server", "base64": base64.b64encode(payload).decode()}
        lines.append(json.dumps({"connection": connection, **record}))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def records_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four connections, both directions, text and binary."""
    return write_records(tmp_path_factory.mktemp("live") / "demo-like.records.jsonl")


def assert_port_closed(port: int) -> None:
    """Nothing listens on ``port`` any more: a connection is refused."""
    with socket.socket() as probe:
        probe.settimeout(2)
        assert probe.connect_ex((LOOPBACK, port)) != 0, f"port {port} still accepts"


def listening_ports() -> set[int]:
    """TCP ports this process listens on."""
    process = psutil.Process()
    connections = getattr(process, "net_connections", process.connections)(kind="tcp")
    return {conn.laddr.port for conn in connections if conn.status == psutil.CONN_LISTEN}


# The plan: which corpus connection each live connection replays --------------------------------


def test_flat_corpus_every_live_connection_replays_all_of_it(chat_corpus_path: Path) -> None:
    loaded = corpus.load(chat_corpus_path)
    plan = live_plan.build_plan(loaded, 3)
    assert plan.assignment == (0, 0, 0)
    assert plan.script_for(2).payloads("server") == [m.payload for m in loaded.messages]
    # All of it is server-to-client: the client then sends the probe, once, at the end, so that
    # the server inflates something and holds the window the sweep's connection_memory counts.
    script = plan.scripts[0]
    assert script.probed
    assert script.messages == (
        *((m.direction, m.is_text, m.payload) for m in loaded.messages),
        live_plan.PROBE,
    )
    assert script.payloads("client") == [live_plan.PROBE[2]]


def test_only_connections_without_client_messages_get_the_probe(tmp_path: Path) -> None:
    lines = [json.dumps({"wsztune": "records/1"})]
    for connection, direction in (("a", "server"), ("a", "client"), ("b", "server")):
        lines.append(json.dumps({"connection": connection, "direction": direction, "text": "hi"}))
    path = tmp_path / "mixed.records.jsonl"
    path.write_text("\n".join(lines) + "\n")
    plan = live_plan.build_plan(corpus.load(path), 2)
    assert [script.probed for script in plan.scripts] == [False, True]
    assert plan.scripts[0].payloads("client") == [b"hi"]
    assert plan.scripts[1].payloads("client") == [live_plan.PROBE[2]]
    back = live_plan.Plan.from_json(json.loads(json.dumps(plan.to_json())))
    assert back.scripts[1].messages[-1] == live_plan.PROBE  # the client process sends it too


ZERO_PLAN = sweep.TimingPlan(repeat=1, warmup=1, min_sample_seconds=0.0)


@pytest.mark.parametrize(
    "setting",
    [Setting(12, 5), Setting(15, 8), Setting(10, 3, client_window_bits=13)],
    ids=["12:5", "15:8", "10:3 client 13"],
)
@pytest.mark.parametrize("which", ["server only", "both directions"])
def test_the_model_memory_is_the_sweeps_connection_memory(
    chat_corpus_path: Path, records_path: Path, which: str, setting: Setting
) -> None:
    # One definition: what live compares with is the figure run saves and recommend budgets
    # with, the inflate window included even when the corpus has no client traffic.
    loaded = corpus.load(chat_corpus_path if which == "server only" else records_path)
    cell = zlib_codec.measure_cell(loaded.streams(), setting, get_zlib_module(), ZERO_PLAN)
    memory = live.model_memory(loaded, setting)
    assert memory.held == cell["connection_memory"]
    assert memory.decompressor.held == cell["decompress_memory_observed"]
    assert memory.decompressor.held > 1 << setting.client_bits  # the window is in it


def test_records_live_connections_cycle_over_corpus_connections(records_path: Path) -> None:
    loaded = corpus.load(records_path)
    names = loaded.connections
    assert len(names) == 4
    assert live_plan.build_plan(loaded, 6).assignment == (0, 1, 2, 3, 0, 1)
    two = live_plan.build_plan(loaded, 2)
    assert [script.connection for script in two.scripts] == names[:2]  # only what is played
    # A script keeps its connection's messages in corpus order, both directions interleaved.
    expected = [
        (m.direction, m.is_text, m.payload) for m in loaded.messages if m.connection == names[1]
    ]
    assert list(two.script_for(1).messages) == expected


def test_plan_survives_the_trip_to_the_client_process(records_path: Path) -> None:
    plan = live_plan.build_plan(corpus.load(records_path), 5)
    back = live_plan.Plan.from_json(json.loads(json.dumps(plan.to_json())))
    assert back.assignment == plan.assignment
    assert [s.messages for s in back.scripts] == [s.messages for s in plan.scripts]


def test_fewer_than_two_connections_is_a_setting_error(chat_corpus_path: Path) -> None:
    with pytest.raises(SettingError, match="at least 2"):
        live_plan.build_plan(corpus.load(chat_corpus_path), 1)


# Against the real server ---------------------------------------------------------------------


@pytest.mark.live
@pytest.mark.parametrize(("window_bits", "mem_level"), [(12, 5), (15, 8)])
@pytest.mark.parametrize("which", ["server only", "both directions"])
def test_live_agrees_with_the_model(
    chat_corpus_path: Path, records_path: Path, which: str, window_bits: int, mem_level: int
) -> None:
    loaded = corpus.load(chat_corpus_path if which == "server only" else records_path)
    setting = Setting(window_bits, mem_level)
    result = live.run_live(loaded, LiveOptions(setting=setting, connections=4, timeout=20))

    # Bytes: equal to the model exactly, in each direction and on each connection.
    assert result.bytes_equal
    assert result.live_server_bytes == result.model_server_bytes > 0
    assert result.live_client_bytes == result.model_client_bytes > 0
    for row in result.per_connection:
        assert row["live_server_bytes"] == row["model_server_bytes"]
        assert row["live_client_bytes"] == row["model_client_bytes"]
    assert result.live_bytes < result.raw_bytes  # compression did happen on the wire

    # Memory: the compression part of a connection is the model within the tolerance, and the
    # model is the sweep's connection_memory for the setting, whether or not the corpus has
    # client traffic (without any, each client sent the probe, and only then).
    assert result.memory_within_tolerance, result.memory_difference
    assert abs(result.memory_difference) <= 0.10
    assert result.passed
    cell = zlib_codec.measure_cell(loaded.streams(), setting, get_zlib_module(), ZERO_PLAN)
    assert result.model_connection_memory == cell["connection_memory"]
    assert abs(result.live_connection_memory / cell["connection_memory"] - 1) <= 0.10
    assert result.probed_connections == (4 if which == "server only" else 0)
    # The baseline is a real connection without compression (ANCHORS section 1: ~12-14 KiB).
    assert 4 * 1024 < result.live_baseline_connection_memory < 32 * 1024
    assert result.per_connection[0]["discarded"]

    # Everything stopped: no port open, no client process left.
    for port in result.ports:
        assert_port_closed(port)
    assert psutil.Process().children() == []


@pytest.mark.live
def test_live_json_on_a_flat_corpus(chat_corpus_path: Path) -> None:
    outcome = CliRunner().invoke(
        cli, ["live", str(chat_corpus_path), "--setting", "12:5", "-n", "3", "--json"]
    )
    assert outcome.exit_code == 0, outcome.output
    data = json.loads(outcome.stdout)
    for key in (
        "window_bits",
        "mem_level",
        "connections",
        "model_bytes",
        "live_bytes",
        "model_connection_memory",
        "live_connection_memory",
        "live_rss_per_connection",
    ):
        assert key in data
    assert (data["window_bits"], data["mem_level"], data["connections"]) == (12, 5, 3)
    assert data["live_bytes"] == data["model_bytes"]
    # A flat corpus is all server-to-client: what the server received is the clients' probes.
    assert data["probed_connections"] == 3
    assert data["live_client_bytes"] == data["model_client_bytes"] > 0
    # Each of the three connections replayed the whole corpus, then its client sent the probe.
    loaded = corpus.load(chat_corpus_path)
    assert data["raw_bytes"] == 3 * (loaded.raw_bytes + len(live_plan.PROBE[2]))


@pytest.mark.live
def test_memory_outside_tolerance_exits_1_with_one_line(records_path: Path) -> None:
    # The model leaves out websockets' own ~1.4 KB per connection: 0.01% cannot hold. Ten
    # connections: two standard errors of the live figure stay well under those 1.4 KB, so the
    # verdict is a failure, not "inconclusive".
    outcome = CliRunner().invoke(
        cli, ["live", str(records_path), "--setting", "12:5", "-n", "10", "--tolerance", "0.01%"]
    )
    assert outcome.exit_code == 1, outcome.output
    assert "PASS" not in outcome.stdout and "FAIL" in outcome.stdout
    errors = outcome.stderr.strip().splitlines()
    assert len(errors) == 1 and "live check failed at 12:5" in errors[0]


@pytest.mark.live
def test_a_step_that_times_out_stops_everything(records_path: Path) -> None:
    before = listening_ports()
    with pytest.raises(LiveError, match="timeout"):
        options = LiveOptions(setting=Setting(12, 5), connections=2, timeout=0.05)
        live.run_live(corpus.load(records_path), options)
    assert listening_ports() == before
    assert psutil.Process().children() == []


def test_bad_live_options_are_one_line_errors(records_path: Path) -> None:
    runner = CliRunner()
    for args, message in (
        (["--setting", "8:5"], "windowBits 8"),
        (["-n", "1"], "at least 2"),
        (["--setting", "12:5", "--mem-level", "3"], "not both"),
        (["--tolerance", "lots"], "--tolerance"),
    ):
        outcome = runner.invoke(cli, ["live", str(records_path), *args])
        assert outcome.exit_code == 2, (args, outcome.output)
        lines = outcome.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], lines


def test_window_bits_and_memlevel_default_to_websockets_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[Setting] = []

    def fake_run_live(loaded: corpus.Corpus, options: LiveOptions) -> None:
        seen.append(options.settled)
        raise LiveError("stopped here")

    monkeypatch.setattr(live, "run_live", fake_run_live)
    path = write_jsonl(tmp_path / "one.jsonl", [b'{"a":1}'])
    runner = CliRunner()
    runner.invoke(cli, ["live", str(path)])
    runner.invoke(cli, ["live", str(path), "--window-bits", "10", "--client-window-bits", "9"])
    assert seen == [Setting(12, 5), Setting(10, 5, client_window_bits=9)]
