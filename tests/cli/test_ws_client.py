"""``run --client ws``: Node ws's client sends a message under its threshold (1024 B) as it is,
but only without context takeover (ws's ``Sender``; tests/stacks/test_verify_ws_client.py holds
the model to a real ws client's frames). Every client message of the bundled game corpus is
under 1024 B, so without takeover the client direction's bytes are the raw ones."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from wsztune import corpus
from wsztune.cli import cli
from wsztune.codecs import go

REPO = Path(__file__).resolve().parents[2]
GAME = REPO / "corpora" / "game.records.jsonl"


def _cell(output: Path, *options: str) -> dict:
    result = CliRunner().invoke(
        cli, ["run", str(GAME), "--no-timing", "--quiet", "-o", str(output), *options]
    )
    assert result.exit_code == 0, result.output
    (cell,) = json.loads(output.read_text())["cells"]
    return cell


def _client_raw_bytes() -> int:
    client = [len(m.payload) for m in corpus.load(GAME).messages if m.direction == corpus.CLIENT]
    assert client and max(client) < 1024  # every client message is under ws's threshold
    return sum(client)


def test_client_ws_sends_small_messages_uncompressed_without_takeover(tmp_path: Path) -> None:
    grid = ("--window-bits", "15", "--mem-level", "8")
    plain = _cell(tmp_path / "plain.json", *grid, "--context-takeover", "off")
    ws = _cell(tmp_path / "ws.json", *grid, "--context-takeover", "off", "--client", "ws")
    assert ws["client_threshold"] == 1024 and ws["threshold"] == 0
    assert ws["client_compressed_bytes"] == _client_raw_bytes()
    assert plain["client_compressed_bytes"] < ws["client_compressed_bytes"]
    # The server's direction is untouched; the server inflates none of the client's messages.
    assert ws["server_compressed_bytes"] == plain["server_compressed_bytes"]
    assert ws["decompress_memory_resident"] < plain["decompress_memory_resident"]
    assert ws["compressed_messages"] < plain["compressed_messages"]

    # With context takeover ws compresses every message: as a client without a threshold.
    on = _cell(tmp_path / "on.json", *grid, "--context-takeover", "on")
    ws_on = _cell(tmp_path / "ws-on.json", *grid, "--context-takeover", "on", "--client", "ws")
    assert "client_threshold" not in ws_on
    assert ws_on["client_compressed_bytes"] == on["client_compressed_bytes"]


@pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")
def test_client_ws_on_a_go_server_keeps_its_threshold(tmp_path: Path) -> None:
    go.helper_binary(notice=lambda text: None)
    # gorilla answers client_no_context_takeover: ws's client applies its threshold.
    ws = _cell(tmp_path / "ws.json", "--server", "gorilla", "--level", "1", "--client", "ws")
    chrome = _cell(tmp_path / "chrome.json", "--server", "gorilla", "--level", "1",
                   "--client", "chrome")  # fmt: skip
    assert ws["client_threshold"] == 1024
    assert ws["client_compressed_bytes"] == _client_raw_bytes()
    assert chrome["client_compressed_bytes"] < ws["client_compressed_bytes"]
    assert ws["server_compressed_bytes"] == chrome["server_compressed_bytes"]
