"""``--client``: the client direction compressed as the named client compresses it, the server's
decompressor sized by the window the client really uses, and a mix weighted by its shares."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from wsztune import corpus, results, stacks, sweep
from wsztune.cli import cli
from wsztune.corpus import CLIENT
from wsztune.errors import WsztuneError
from wsztune.memory import decompressor_theory
from wsztune.permessage_deflate import Setting, compress_stream, get_zlib_module

CHAT = Path(__file__).resolve().parent.parent / "corpora" / "chat.records.jsonl"
SIZES_ONLY = sweep.TimingPlan(measure_time=False)


@pytest.fixture(scope="module")
def chat() -> corpus.Corpus:
    """The bundled chat corpus, its first 400 messages: both directions on every connection."""
    loaded = corpus.load(CHAT)
    return corpus.Corpus(loaded.path, loaded.format, loaded.sha256, loaded.messages[:400])


def variant(name: str, share: float = 1.0) -> sweep.ClientVariant:
    """The sweep's model of the client profile ``name``."""
    return sweep.ClientVariant.of(stacks.CLIENTS[name], share)


def run_grid(source: corpus.Corpus, clients: tuple = (), **axes: tuple) -> results.Run:
    grid = sweep.SweepPlan(**{"window_bits": (9, 12), "mem_levels": (3,), **axes}, clients=clients)
    return sweep.sweep(source, grid, plan=SIZES_ONLY)


def client_model_bytes(source: corpus.Corpus, setting: Setting) -> int:
    """The client direction as the codec compresses it at ``setting``'s client side."""
    sender = setting.sender(CLIENT)
    zlib_module = get_zlib_module("zlib")
    return sum(
        len(frame)
        for stream in source.streams()
        if stream.direction == CLIENT
        for frame in compress_stream(stream.payloads, sender, setting.client_bits, zlib_module)
    )


def test_without_a_client_nothing_changes(chat: corpus.Corpus) -> None:
    """No --client: the cells have no client fields and the client compresses like the server."""
    run = run_grid(chat)
    assert "client" not in run.meta
    for cell in run.cells:
        assert "client_mem_level" not in cell and "clients" not in cell
        assert cell["client_window_bits"] == cell["window_bits"]
        setting = Setting(cell["window_bits"], cell["mem_level"])
        assert cell["client_compressed_bytes"] == client_model_bytes(chat, setting)


def test_firefox_gives_the_server_decompressor_the_15_bit_window(chat: corpus.Corpus) -> None:
    """Firefox cannot be capped: whatever the server's window, its decompressor holds 15 bits'
    memory, and the client direction is zlib 15:8 level -1, not the server's memLevel."""
    firefox = run_grid(chat, (variant("firefox"),), window_bits=(9, 11, 12, 15))
    reference = run_grid(chat, window_bits=(15,), mem_levels=(3,))
    full_window = reference.cells[0]["decompress_memory_observed"]
    assert firefox.meta["client"] == "firefox"
    for cell in firefox.cells:
        assert cell["client_window_bits"] == 15
        assert cell["client_mem_level"] == 8 and cell["client_level"] == -1
        assert cell["decompress_memory_theoretical"] == decompressor_theory(15)
        assert cell["decompress_memory_observed"] == full_window
        setting = Setting(cell["window_bits"], 3, client_window_bits=15, client_mem_level=8)
        assert cell["client_compressed_bytes"] == client_model_bytes(chat, setting)
    # The server's own direction does not change with the client.
    plain = run_grid(chat, window_bits=(9, 11, 12, 15))
    for mine, theirs in zip(firefox.cells, plain.cells, strict=True):
        assert mine["server_compressed_bytes"] == theirs["server_compressed_bytes"]
        assert mine["compress_memory_observed"] == theirs["compress_memory_observed"]


def test_chrome_uses_the_granted_window_but_at_least_9(chat: corpus.Corpus) -> None:
    """Chromium takes the server's client_max_window_bits, 8 read as 9, at memLevel 8."""
    run = run_grid(chat, (variant("chrome"),), window_bits=(8, 10, 13))
    assert [cell["client_window_bits"] for cell in run.cells] == [9, 10, 13]
    for cell in run.cells:
        assert cell["decompress_memory_theoretical"] == decompressor_theory(
            max(cell["window_bits"], 9)
        )


def test_a_mix_weights_memory_and_client_bytes_by_its_shares(
    chat: corpus.Corpus, tmp_path: Path
) -> None:
    """chrome=0.7,firefox=0.3: one cell per setting, each client's figures weighted, the file
    saved and read back whole."""
    mix = (variant("chrome", 0.7), variant("firefox", 0.3))
    mixed = run_grid(chat, mix)
    chrome = run_grid(chat, (variant("chrome"),))
    firefox = run_grid(chat, (variant("firefox"),))
    assert mixed.meta["client"] == "chrome=0.7,firefox=0.3"
    assert mixed.meta["cells_planned"] == len(mixed.cells) == 2
    for cell, one, other in zip(mixed.cells, chrome.cells, firefox.cells, strict=True):
        for field in ("connection_memory", "decompress_memory_observed"):
            assert cell[field] == round(0.7 * one[field] + 0.3 * other[field])
        assert cell["server_compressed_bytes"] == one["server_compressed_bytes"]
        expected = 0.7 * one["client_compressed_bytes"] + 0.3 * other["client_compressed_bytes"]
        assert abs(cell["client_compressed_bytes"] - expected) <= len(cell["unit_compressed_bytes"])
        assert sum(cell["unit_compressed_bytes"]) == cell["compressed_bytes"]
        assert [c["name"] for c in cell["clients"]] == ["chrome", "firefox"]
        assert cell["clients"][1]["client_window_bits"] == 15
    loaded = results.load(results.save(mixed, tmp_path / "mixed.json"))
    assert loaded.cells[0]["clients"] == mixed.cells[0]["clients"]


def test_same_client_numbers_are_measured_once(chat: corpus.Corpus) -> None:
    """Firefox and Safari are modelled alike: a mix of both measures each setting once."""
    grid = sweep.SweepPlan(
        window_bits=(12,),
        mem_levels=(5,),
        clients=(variant("firefox", 0.5), variant("safari", 0.5)),
    )
    assert len(grid.settings()) == 1
    run = sweep.sweep(chat, grid, plan=SIZES_ONLY)
    assert len(run.cells) == 1 and len(run.cells[0]["clients"]) == 2


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_codec_compresses_the_client_direction_at_the_clients_mem_level(
    chat: corpus.Corpus,
) -> None:
    """With Node's zlib the client's memLevel reaches node too: a memLevel-8 server with a
    memLevel-5 client (websockets' connect()) sends what memLevel 8 sends and receives what
    memLevel 5 sends."""
    small = corpus.Corpus(chat.path, chat.format, chat.sha256, chat.messages[:150])

    def node_run(mem_level: int, clients: tuple = ()) -> dict:
        grid = sweep.SweepPlan(window_bits=(12,), mem_levels=(mem_level,), clients=clients)
        return sweep.sweep(small, grid, codec_name="node", plan=SIZES_ONLY).cells[0]

    mixed = node_run(8, (variant("websockets"),))
    server_8, client_5 = node_run(8), node_run(5)
    assert mixed["server_compressed_bytes"] == server_8["server_compressed_bytes"]
    assert mixed["client_compressed_bytes"] == client_5["client_compressed_bytes"]


def test_resolve_clients_reads_names_and_mixes() -> None:
    """One name, a mix, mixed:..., and the errors a typo gets."""
    assert [(c.name, s) for c, s in stacks.resolve_clients("Firefox")] == [("firefox", 1.0)]
    mix = stacks.resolve_clients("mixed:chrome=0.7,firefox=0.3")
    assert [(c.name, round(s, 6)) for c, s in mix] == [("chrome", 0.7), ("firefox", 0.3)]
    assert stacks.resolve_clients("chrome=0.7, firefox=0.3") == mix
    for text, fragment in [
        ("edge", "no client called 'edge'"),
        ("mixed", "needs the shares"),
        ("chrome=0.7,firefox=0.2", "add up to 0.9"),
        ("chrome=x,firefox=1", "needs a share"),
        ("chrome=0.5,chrome=0.5", "named twice"),
    ]:
        with pytest.raises(WsztuneError, match=fragment):
            stacks.resolve_clients(text)


def test_cli_run_client_mix_and_errors(tmp_path: Path) -> None:
    """``wsztune run --client``: the run records its clients; a bad name is one line, exit 2."""
    out = tmp_path / "run.json"
    runner = CliRunner()
    args = ["run", str(CHAT), "--window-bits", "12", "--mem-level", "5", "--no-timing", "-q"]
    result = runner.invoke(cli, [*args, "--client", "chrome=0.7,firefox=0.3", "-o", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert document["meta"]["client"] == "chrome=0.7,firefox=0.3"
    assert document["meta"]["grid"]["clients"][1]["windows"]["9"] == 15
    # recommend says whose memory it weighed.
    advice = runner.invoke(cli, ["recommend", "--results", str(out), "--max-memory", "96KiB"])
    assert advice.exit_code == 0, advice.output
    assert "Clients: chrome=0.7,firefox=0.3" in advice.stdout
    text = " ".join(advice.stdout.split())
    assert "chrome 12 bits, 49.2 KiB; firefox 15 bits, 77.2 KiB per connection" in text
    # The worst client's memory is in the text beside the mean, over the budget it is.
    tight = runner.invoke(cli, ["recommend", "--results", str(out), "--max-memory", "64KiB"])
    worst = "The worst client, firefox, needs 77.2 KiB per connection, over the 64.0 KiB"
    assert worst in " ".join(tight.stdout.split())
    result = runner.invoke(cli, [*args, "--client", "opera", "-o", str(tmp_path / "x.json")])
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("wsztune: error: --client 'opera'")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.json").exists()
    result = runner.invoke(cli, [*args, "--client", "safari", "-o", str(out)])
    assert result.exit_code == 0
    assert "unverified" in result.stderr
