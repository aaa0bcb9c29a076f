"""``wsztune live --server aiohttp|tornado|uvicorn...``: real Python servers in this process, held
to the model like python-websockets (bytes exact, memory per connection within the tolerance)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from wsztune import corpus
from wsztune.cli import cli
from wsztune.errors import SettingError
from wsztune.live import RUNNERS, LiveOptions, OptionClash
from wsztune.live import python as live
from wsztune.live.result import FAIL
from wsztune.live.servers import SERVERS
from wsztune.permessage_deflate import Setting
from wsztune.stacks import STACKS

pytestmark = pytest.mark.live

CHAT = Path(__file__).resolve().parents[2] / "corpora" / "chat.records.jsonl"


@pytest.fixture(scope="module")
def chat() -> corpus.Corpus:
    """The bundled chat corpus's first 400 messages: both directions, several connections."""
    loaded = corpus.load(CHAT)
    return corpus.Corpus(loaded.path, loaded.format, loaded.sha256, loaded.messages[:400])


@pytest.mark.parametrize(
    ("server", "asked", "runs"),
    [
        # aiohttp: the window the client asks for, level 1 and memLevel 8 fixed, client uncapped.
        ("aiohttp", Setting(11, 8), (11, 8, 1, 15)),
        # Tornado: its level (6 by default) and memLevel; 15 bits both ways.
        ("tornado", Setting(15, 4), (15, 4, 6, 15)),
        ("uvicorn", Setting(12, 5), (12, 5, -1, 12)),
        ("uvicorn-websockets", Setting(15, 8), (15, 8, -1, 15)),
        ("uvicorn-wsproto", Setting(15, 8), (15, 8, -1, 15)),
    ],
)
def test_live_python_stack_matches_the_model(
    chat: corpus.Corpus, server: str, asked: Setting, runs: tuple[int, int, int, int]
) -> None:
    """Bytes equal both ways, and the memory never a FAIL (the verdict is PASS here; a loaded
    machine may make it INCONCLUSIVE, which the check then says itself)."""
    pytest.importorskip(server.split("-")[0])
    options = LiveOptions(server=server, setting=asked, connections=3, timeout=60)
    result = live.run_live(chat, options)
    assert result.server == server
    got = (result.window_bits, result.mem_level, result.level, result.client_window_bits)
    assert got == runs
    assert result.bytes_equal, (result.model_bytes, result.live_bytes)
    assert result.live_client_bytes > 0 and result.live_server_bytes > 0
    assert result.verdict != FAIL, result.reasons


@pytest.mark.parametrize("name", sorted(SERVERS))
def test_live_servers_run_their_stack_profiles_defaults(name: str) -> None:
    """Unconfigured, each live server models exactly its stack profile's defaults (window,
    memLevel, level, the client's window): one source of a stack's values, wsztune.stacks."""
    profile = STACKS[name].defaults
    model = SERVERS[name].model(Setting(profile.window_bits, profile.mem_level))
    client_bits = profile.window_bits
    if profile.client_window_bits is not None:
        client_bits = profile.client_window_bits
    got = (model.window_bits, model.mem_level, model.level, model.client_bits)
    assert got == (profile.window_bits, profile.mem_level, profile.level, client_bits)


def test_every_live_server_has_a_stack_profile() -> None:
    """``live`` takes its default setting from the profile of the --server it is given."""
    assert set(RUNNERS) <= set(STACKS)
    # Every Python stack that runs in this process, and only those, runs through one runner.
    in_process = {name for name, runner in RUNNERS.items() if runner.module.endswith(".python")}
    assert in_process == set(SERVERS)


def test_live_refuses_what_a_stack_cannot_run() -> None:
    """Each stack's fixed values are refused as settings, with what to give instead."""
    with pytest.raises(SettingError, match="memLevel 8 only"):
        SERVERS["aiohttp"].model(Setting(12, 5))
    with pytest.raises(SettingError, match="no window option"):
        SERVERS["tornado"].model(Setting(12, 8))
    with pytest.raises(SettingError, match="runs 12:5 and nothing else"):
        SERVERS["uvicorn"].model(Setting(15, 8))
    with pytest.raises(SettingError, match="runs 15:8 and nothing else"):
        SERVERS["uvicorn-websockets"].model(Setting(12, 5))


def test_cli_live_server_aiohttp_json(tmp_path: Path) -> None:
    """``live --server aiohttp --json``: the shared result, exit 0 on a pass (3 if the machine
    is too busy to judge memory, never 1)."""
    small = tmp_path / "chat.jsonl"
    small.write_bytes(b"".join(line + b"\n" for line in CHAT.read_bytes().splitlines()[:301]))
    result = CliRunner().invoke(
        cli, ["live", str(small), "--server", "aiohttp", "-n", "4", "--json"]
    )
    assert result.exit_code in (0, 3), result.output
    document = json.loads(result.stdout)
    assert document["server"] == "aiohttp"
    assert (document["level"], document["mem_level"], document["client_window_bits"]) == (1, 8, 15)
    assert document["bytes_equal"] is True


@pytest.mark.parametrize("server", sorted(RUNNERS))
def test_every_runner_prepares_checks_and_displays(server: str) -> None:
    """The registry's one interface: prepare(options), the check, display(result)."""
    module = importlib.import_module(RUNNERS[server].module)
    for name in ("prepare", RUNNERS[server].check, "display"):
        assert callable(getattr(module, name)), (server, name)


@pytest.mark.parametrize("server", sorted(set(RUNNERS) - {"gorilla", "coder"}))
def test_prepare_settles_the_stack_profiles_defaults(server: str) -> None:
    """Unasked, a zlib server's check runs its stack profile's window, memLevel and threshold
    (wsztune.stacks, the one source of a stack's values), never a copy in live/ or cli/."""
    if server != "ws":
        pytest.importorskip(server.split("-")[0])
    setting = RUNNERS[server].prepare(LiveOptions(server=server, connections=40)).settled
    profile = STACKS[server].defaults
    assert (setting.window_bits, setting.mem_level) == (profile.window_bits, profile.mem_level)
    assert setting.threshold == STACKS[server].threshold


def test_prepare_settles_go_from_its_profile() -> None:
    """gorilla: its level 1 and no context takeover; coder: its own level, takeover asked."""
    gorilla = RUNNERS["gorilla"].prepare(LiveOptions(server="gorilla", connections=8)).settled
    assert (gorilla.level, gorilla.context_takeover) == (STACKS["gorilla"].defaults.level, False)
    coder = RUNNERS["coder"].prepare(LiveOptions(server="coder", connections=8)).settled
    assert (coder.level, coder.context_takeover) == (STACKS["coder"].defaults.level, True)
    with pytest.raises(OptionClash, match="no compression level"):
        RUNNERS["coder"].prepare(LiveOptions(server="coder", level=3, connections=8))
    with pytest.raises(OptionClash, match="needs --server ws"):
        RUNNERS["websockets"].prepare(LiveOptions(threshold=100))
