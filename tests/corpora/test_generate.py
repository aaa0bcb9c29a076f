"""Tests for the seeded corpus generator (``corpora/generate/``) and the committed corpora."""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import struct
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from corpora import generate as synth

ROOT = Path(__file__).resolve().parents[2]
CORPORA = ROOT / "corpora"
GENERATED = [
    "chat.records.jsonl",
    "game.records.jsonl",
    "market.records.jsonl",
    "api.jsonl",
    "chat.har",
    "fleet-light.records.jsonl",
    "fleet-heavy.records.jsonl",
]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One full generation with the default seed, shared by the slower checks."""
    out = tmp_path_factory.mktemp("corpora")
    synth.generate_all(out, synth.DEFAULT_SEED)
    return out


@pytest.fixture(scope="module")
def corpora() -> dict[str, list[synth.Record]]:
    return {
        "chat": synth.chat(),
        "market": synth.market(),
        "game": synth.game(),
        "api": synth.api(),
    }


def test_same_seed_same_bytes(generated: Path, tmp_path: Path) -> None:
    synth.main([str(tmp_path), "--seed", str(synth.DEFAULT_SEED)])
    for name in GENERATED:
        assert _sha(tmp_path / name) == _sha(generated / name), name


def test_different_seed_different_bytes() -> None:
    for gen in (synth.chat, synth.market, synth.game, synth.api):
        a = synth.records_bytes(gen(1, messages=200))
        b = synth.records_bytes(gen(2, messages=200))
        assert a != b, gen.__name__
    assert synth.har_bytes(1) != synth.har_bytes(2)


def test_committed_corpora_match_generator(generated: Path) -> None:
    # If this fails, the generator changed: rerun
    # `python -m corpora.generate corpora/ --package-data` and commit the result.
    for name in GENERATED:
        assert _sha(CORPORA / name) == _sha(generated / name), name


def test_committed_package_data_matches_generator(tmp_path: Path) -> None:
    demo = synth.write_package_data(synth.DEFAULT_SEED, tmp_path / "demo.records.jsonl")
    committed = ROOT / "wsztune" / "data" / "demo.records.jsonl"
    assert _sha(committed) == _sha(demo)
    assert committed.stat().st_size < 1_000_000


def test_real_corpus_is_present() -> None:
    lines = (CORPORA / "websockets-commits.jsonl").read_bytes().splitlines()
    assert len(lines) == 1837
    assert "sha" in json.loads(lines[0])


@pytest.mark.parametrize("name", ["chat", "market", "game", "api"])
def test_messages_are_valid(corpora: dict[str, list[synth.Record]], name: str) -> None:
    records = corpora[name]
    assert 1000 <= len(records) <= 6000
    for r in records:
        assert r.direction in ("server", "client")
        assert r.connection
        assert isinstance(r.payload, bytes) and r.payload
        if r.is_text:
            text = r.payload.decode("utf-8")
            json.loads(text)
            # Keep payloads safe for line-based readers, including str.splitlines().
            assert not any(ch in text for ch in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def test_chat_connections_talk_both_ways(corpora: dict[str, list[synth.Record]]) -> None:
    directions: dict[str, set[str]] = defaultdict(set)
    for r in corpora["chat"]:
        directions[r.connection].add(r.direction)
    assert len(directions) == 24
    assert all(d == {"server", "client"} for d in directions.values())


def test_chat_sizes_are_chat_like(corpora: dict[str, list[synth.Record]]) -> None:
    sizes = [len(r.payload) for r in corpora["chat"] if r.is_text]
    messages = [
        len(r.payload) for r in corpora["chat"] if r.is_text and b'"type":"message"' in r.payload
    ]
    assert min(messages) >= 40 and max(messages) <= 600
    assert 40 <= sorted(sizes)[len(sizes) // 2] <= 400


def test_game_has_binary_snapshots(corpora: dict[str, list[synth.Record]]) -> None:
    server = [r for r in corpora["game"] if r.direction == "server"]
    binary = [r for r in server if not r.is_text]
    assert 0.05 <= len(binary) / len(server) <= 0.15
    for r in binary:
        kind, _tick, count = struct.unpack_from("<BIH", r.payload)
        assert kind == 1 and len(r.payload) == 7 + 15 * count
    assert any(r.direction == "client" for r in corpora["game"])


def test_market_is_mostly_server(corpora: dict[str, list[synth.Record]]) -> None:
    records = corpora["market"]
    client = [r for r in records if r.direction == "client"]
    assert 0 < len(client) < 20
    ticks = [len(r.payload) for r in records if b'"type":"tick"' in r.payload]
    assert len(ticks) > 500 and 70 <= sorted(ticks)[len(ticks) // 2] <= 160


def test_api_documents_are_1_to_5_kb(corpora: dict[str, list[synth.Record]]) -> None:
    records = corpora["api"]
    assert all(r.direction == "server" and r.is_text for r in records)
    assert all(1024 <= len(r.payload) <= 5000 for r in records)
    assert len({r.connection for r in records}) >= 2


def test_api_jsonl_is_one_payload_per_line(generated: Path) -> None:
    data = (generated / "api.jsonl").read_bytes()
    assert data.endswith(b"\n") and b"\r" not in data
    lines = data[:-1].split(b"\n")
    assert lines == [r.payload for r in synth.api()]


def test_records_format(generated: Path) -> None:
    for name in ("chat", "game", "market"):
        lines = (generated / f"{name}.records.jsonl").read_text("utf-8").split("\n")
        assert lines[0] == '{"wsztune":"records/1"}'
        assert lines[-1] == ""
        kinds = set()
        for line in lines[1:-1]:
            obj = json.loads(line)
            keys = list(obj)
            assert keys[:2] == ["connection", "direction"] and len(keys) == 3
            assert keys[2] in ("text", "base64")
            kinds.add(keys[2])
            if keys[2] == "base64":
                base64.b64decode(obj["base64"], validate=True)
        assert "text" in kinds
    game = (generated / "game.records.jsonl").read_text("utf-8")
    assert '"base64":' in game


def test_har_shape(generated: Path) -> None:
    har = json.loads((generated / "chat.har").read_text("utf-8"))
    log = har["log"]
    assert log["version"] == "1.2"
    assert {"creator", "pages", "entries"} <= set(log)
    ws = [e for e in log["entries"] if e.get("_resourceType") == "websocket"]
    other = [e for e in log["entries"] if e.get("_resourceType") != "websocket"]
    assert len(ws) == synth.HAR_CONNECTIONS and other
    assert all("_webSocketMessages" not in e for e in other)
    chat_payloads = {r.payload for r in synth.chat()}
    total = 0
    for e in ws:
        req = e["request"]
        assert req["method"] == "GET" and req["url"].startswith("wss://chat.example.test/ws?")
        headers = {h["name"]: h["value"] for h in req["headers"]}
        assert headers["Sec-WebSocket-Extensions"].startswith("permessage-deflate")
        assert e["response"]["status"] == 101
        msgs = e["_webSocketMessages"]
        assert {m["type"] for m in msgs} == {"send", "receive"}
        times = [m["time"] for m in msgs]
        assert times == sorted(times)
        for m in msgs:
            assert list(m) == ["type", "time", "opcode", "data"]
            assert m["opcode"] in (1, 2)
            if m["opcode"] == 1:
                payload = m["data"].encode("utf-8")
                json.loads(payload)
            else:
                payload = base64.b64decode(m["data"], validate=True)
            # Frames are a subset of the chat corpus; direction must agree too.
            assert payload in chat_payloads
            if m["opcode"] == 2:
                # Binary keepalives: 0x09 ping from the client, 0x0A pong from the server.
                assert payload[0] == (0x09 if m["type"] == "send" else 0x0A)
            if payload.startswith(b'{"op":'):
                assert m["type"] == "send"
            elif payload.startswith(b'{"type":'):
                assert m["type"] == "receive"
        total += len(msgs)
    assert total == synth.HAR_FRAMES


def test_cli_requires_a_target() -> None:
    with pytest.raises(SystemExit):
        synth.main([])


def test_runs_as_a_script(tmp_path: Path) -> None:
    # `python corpora/generate OUTDIR`, from anywhere: the bundled files' own command.
    script = ROOT / "corpora" / "generate"
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path), "--seed", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "chat.records.jsonl" in done.stdout
    assert _sha(tmp_path / "chat.har") == hashlib.sha256(synth.har_bytes(1)).hexdigest()


def test_wsztune_never_imports_the_generators() -> None:
    # The generators are tooling: importing every runtime module must not pull them in.
    code = (
        "import importlib, pkgutil, sys, wsztune\n"
        "for info in pkgutil.walk_packages(wsztune.__path__, 'wsztune.'):\n"
        "    importlib.import_module(info.name)\n"
        "print(sorted(m for m in sys.modules if m == 'corpora' or m.startswith('corpora.')"
        " or m.endswith('synth')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
    assert not (ROOT / "wsztune" / "synth.py").exists()
    for source in (ROOT / "wsztune").rglob("*.py"):
        tree = ast.parse(source.read_text("utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [alias.name for alias in node.names]
            assert not any(n.split(".")[0] in ("corpora", "synth") for n in names), source
