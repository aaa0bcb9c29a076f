"""wsztune's Bun codec against a real ``Bun.serve``, byte for byte, on the wire.

The ``bun`` npm package ships the Bun runtime; it is installed with npm into the test cache (as
``ws`` is) and runs
``tests/support/bun_server.js``: one ``Bun.serve`` per compression mode (the shared
mode of ``perMessageDeflate: true``, ``dedicated`` and the sized presets "3KB".."128KB"), each
sending a fixed subset of a corpus's server messages with ``ws.send(data, true)``. A raw socket
client (:mod:`tests.wire`) records the frames as they crossed the socket; wsztune's Bun codec
(``codec.js`` run by bun, as ``wsztune run --server bun`` runs it) must give every message's
payload size and the same bytes (sha256 of all frames), for every mode, on five bundled corpora.

Skips only when bun cannot be installed here (no node/npm, or npm cannot reach the registry).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support import SUPPORT, wire
from wsztune.cli import cli
from wsztune.codecs import node
from wsztune.codecs.bun import BUN_ENV
from wsztune.errors import NodeUnavailable
from wsztune.permessage_deflate import Setting
from wsztune.stacks import STACKS
from wsztune.stacks.bun import BUN_PRESETS

SERVER_SCRIPT = SUPPORT / "bun_server.js"
# A fixed subset per corpus: the first messages. At 120, a node stream's way of cutting the output
# (instead of uWebSockets' fresh buffer per message) still matched everywhere; at 400 it shows.
MESSAGES = 400
# Every mode Bun.serve offers: the cell each stands for (windowBits, memLevel, takeover).
MODES = {
    "shared": (15, 8, False),
    **{name: (wb, ml, True) for name, wb, ml in BUN_PRESETS},
}
MODES["dedicated"] = (15, 8, True)  # the same cell as "256KB"


@pytest.fixture(scope="session")
def bun(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The real bun, installed from npm into the test cache once."""
    from wsztune.programs import npm as install

    if shutil.which("npm") is None:
        pytest.skip("npm is needed to install Bun (the npm package bun ships its binary)")
    try:
        return str(install.ensure_bun(Path.home() / ".cache" / "wsztune-test"))
    except NodeUnavailable as error:
        pytest.skip(f"bun cannot be installed here: {error}")


@pytest.fixture
def bun_codec_env(bun: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The Bun codec pointed at the test's bun (no install into the user's cache)."""
    monkeypatch.setenv(BUN_ENV, bun)
    return bun


def _serve(bun: str, messages: list[wire.Message], tmp: Path) -> Iterator[dict[str, int]]:
    data = tmp / "messages.json"
    data.write_text(json.dumps([[t, base64.b64encode(p).decode()] for t, p in messages]))
    process = subprocess.Popen(
        [bun, str(SERVER_SCRIPT), str(data), *MODES, "plain-send"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"bun_server.js did not start: {process.stderr.read()}")
        yield json.loads(line)
    finally:
        process.kill()
        process.wait()


def _fetch_all(ports: dict[str, int]) -> dict[str, wire.Wire]:
    async def everything() -> dict[str, wire.Wire]:
        offer = "permessage-deflate; client_max_window_bits"
        wires = await asyncio.gather(*(wire.fetch(port, offer) for port in ports.values()))
        return dict(zip(ports, wires, strict=True))

    return asyncio.run(everything())


def _model(bun: str, payloads: list[bytes]) -> dict[str, node.NodeCell]:
    """The Bun codec's answer for every mode: one server stream, as the sweep runs it."""
    jobs = [
        node.NodeJob.of(index, Setting(wb, ml, -1, "default", takeover, 15, 0))
        for index, (wb, ml, takeover) in enumerate(MODES.values())
    ]
    with node.corpus_file([payloads]) as path:
        cells = node.run_cells(path, ["server"], jobs, node=bun, fresh_output=True)
    return dict(zip(MODES, cells, strict=True))


@pytest.mark.parametrize("corpus_name", wire.verify_corpora())
def test_bun_codec_equals_bun_serve_on_the_wire(
    bun: str, corpus_name: str, tmp_path: Path
) -> None:
    messages = wire.corpus_messages(corpus_name, MESSAGES)
    payloads = [payload for _, payload in messages]
    assert len(payloads) >= 20, corpus_name
    model = _model(bun, payloads)
    server = _serve(bun, messages, tmp_path)
    try:
        wires = _fetch_all(next(server))
    finally:
        server.close()

    for mode, (wb, _, takeover) in MODES.items():
        got = wires[mode]
        what = f"{corpus_name}, {mode}"
        params = wire.parse_extensions(got.extensions)
        # shared: no context takeover either way; dedicated: the preset's window, takeover on,
        # and never a client window (Bun keeps the client's at 15).
        assert ("server_no_context_takeover" in params) is (not takeover), what
        assert params.get("server_max_window_bits") == (None if wb == 15 else str(wb)), what
        assert "client_max_window_bits" not in params, what
        assert all(got.compressed()), what  # ws.send(data, true): every message compressed
        assert got.inflate(wb, takeover) == payloads, what  # the frames are the messages
        assert got.sizes() == model[mode].sizes[0], what
        wire_bytes = b"".join(f.payload for _, frames in got.messages() for f in frames)
        assert hashlib.sha256(wire_bytes).hexdigest() == model[mode].sha256, what
    # Both 15:8 names are one cell, and the shared mode's bytes differ from the dedicated ones.
    assert wires["dedicated"].sizes() == wires["256KB"].sizes()
    assert wires["shared"].sizes() != wires["dedicated"].sizes()
    # ws.send(data) without compress=true never compresses, even with perMessageDeflate on.
    assert not any(wires["plain-send"].compressed())
    assert wires["plain-send"].sizes() == [len(p) for p in payloads]


def test_stock_zlib_is_not_bun_zlib(bun: str, tmp_path: Path) -> None:
    """Why Bun has a codec of its own: CPython's zlib gives other bytes than Bun.serve (Bun
    links Cloudflare's zlib fork), for the shared and the dedicated mode alike."""
    messages = wire.corpus_messages("chat.records.jsonl", MESSAGES)
    payloads = [payload for _, payload in messages]
    model = _model(bun, payloads)
    for mode in ("shared", "dedicated"):
        wb, ml, takeover = MODES[mode]
        stock = wire.model_sizes(payloads, Setting(wb, ml, -1, "default", takeover))
        assert stock != model[mode].sizes[0], mode


def test_run_server_bun_sweeps_its_modes_only(
    bun_codec_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``run --server bun``: the shared mode and the eight dedicated presets, one run, codec
    bun; the shared cell costs no memory per connection."""
    # Memory probes of a few streams: this test is about the cells, not the figures' precision.
    monkeypatch.setattr(
        node, "measure_memory", functools.partial(node.measure_memory, connections=80)
    )
    out = tmp_path / "bun.json"
    result = CliRunner().invoke(
        cli,
        ["run", str(wire.CORPORA / "chat.records.jsonl"), "--server", "bun", "--no-timing",
         "-j", "1", "-q", "-o", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    saved = json.loads(out.read_text())
    cells = saved["cells"]
    measured = {(c["window_bits"], c["mem_level"], c["context_takeover"]) for c in cells}
    assert measured == set(STACKS["bun"].cells) == set(MODES.values())
    assert len(cells) == 9
    assert saved["meta"]["codec"] == "bun"
    for cell in cells:
        assert cell["client_window_bits"] == 15  # Bun never caps the client's window
        if cell["context_takeover"]:
            assert cell["connection_memory"] > 0 and cell["compressor_share"] == 1.0
        else:
            assert cell["connection_memory"] == 0 and cell["compressor_share"] == 0.0

    # recommend names what Bun cannot do, and where its other mode is.
    advice = CliRunner().invoke(
        cli, ["recommend", "--results", str(out), "--resamples", "100", "--max-memory", "240KiB"]
    )
    assert advice.exit_code == 0, advice.output
    text = " ".join(advice.output.split())
    assert "cannot set the level, the client's window" in text
    assert "with takeover on only 9:1, 9:2, 10:3, 11:4, 12:5, 13:6, 14:7, 15:8" in text
    assert "with it off, 15:8 (--context-takeover off shows them)" in text
    assert 'decompress: "dedicated"' in advice.output
    shared = CliRunner().invoke(
        cli, ["recommend", "--results", str(out), "--resamples", "100", "--context-takeover", "off"]
    )
    assert shared.exit_code == 0, shared.output
    assert "perMessageDeflate: true" in shared.output


def test_run_server_bun_refuses_what_bun_cannot_set(tmp_path: Path) -> None:
    """A level is not Bun's to set: one line, exit 2, before any work."""
    result = CliRunner().invoke(
        cli,
        ["run", str(wire.CORPORA / "chat.records.jsonl"), "--server", "bun", "--level", "1",
         "-o", str(tmp_path / "x.json")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "cannot set level" in result.output
