"""wsztune's Netty codec against Netty's own permessage-deflate encoder, byte for byte.

Netty builds its compressor with ``ZlibCodecFactory.newZlibEncoder(NONE, level, window, 8)``: the
JDK's Deflater (zlib) at window 15, JZlib (a pure-Java port) at any other window. A small Java
program (tests/support/java/WsztuneNettyDeflate.java) negotiates the extension with Netty's
``PerMessageDeflateServerExtensionHandshaker`` from a client offer, runs the encoder it hands out
in an ``EmbeddedChannel`` (no socket: the same handler code a server pipeline runs) on a corpus's
first server messages, and prints every frame and which zlib encoder Netty picked. It is compiled
once per test session against Debian's ``libnetty-java`` (4.1.48) and ``libjzlib-java`` (1.1.3).

The JDK path must equal wsztune's zlib model, the JZlib path wsztune's JZlib codec
(:mod:`wsztune.codecs.jzlib`), every byte of every frame. Where JZlib and zlib differ (level 0:
their stored blocks), Netty's bytes are JZlib's, not zlib's.
"""

from __future__ import annotations

import functools
import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support import SUPPORT, wire
from wsztune.cli import cli
from wsztune.permessage_deflate import Setting, compress_stream, get_zlib_module

JARS = tuple(
    Path("/usr/share/java") / name
    for name in (
        "netty-common.jar",
        "netty-buffer.jar",
        "netty-transport.jar",
        "netty-codec.jar",
        "netty-codec-http.jar",
        "jzlib.jar",
    )
)
SOURCE = SUPPORT / "java" / "WsztuneNettyDeflate.java"
MAIN = "WsztuneNettyDeflate"
# A fixed subset of each corpus: the test takes seconds.
MESSAGES = 100


@pytest.fixture(scope="session")
def netty(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The command that runs the driver: java with Netty's and JZlib's jars and the class."""
    if shutil.which("javac") is None or shutil.which("java") is None:
        pytest.skip("a JDK is needed (Debian: default-jdk-headless)")
    missing = [jar.name for jar in JARS if not jar.is_file()]
    if missing:
        pytest.skip(f"{', '.join(missing)} needed (Debian: libnetty-java libjzlib-java)")
    classes = tmp_path_factory.mktemp("netty-classes")
    classpath = ":".join(str(jar) for jar in JARS)
    subprocess.run(
        ["javac", "-nowarn", "-d", str(classes), "-cp", classpath, str(SOURCE)],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return ["java", "-Xshare:auto", "-cp", f"{classpath}:{classes}", MAIN]


@functools.cache
def corpus_file(name: str, directory: str) -> tuple[Path, tuple[bytes, ...]]:
    """The corpus's first server messages in the driver's input format, and their payloads."""
    sent = wire.corpus_messages(name, MESSAGES)
    path = Path(directory) / (Path(name).name + ".netty.bin")
    with path.open("wb") as out:
        for is_text, payload in sent:
            out.write(bytes([1 if is_text else 0]) + struct.pack(">I", len(payload)) + payload)
    return path, tuple(payload for _, payload in sent)


def run_netty(
    command: list[str], level: int, path: Path, *offer: str
) -> tuple[str, str, list[bytes]]:
    """Netty's answer to ``offer``, the zlib encoder it picked and every frame's payload."""
    done = subprocess.run(
        [*command, str(level), str(path), *offer],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = done.stdout.splitlines()
    frames = []
    for line in lines[2:]:
        rsv, _, payload = line.partition(" ")
        assert rsv == "4", "every message is sent compressed (RSV1) in one frame"
        frames.append(bytes.fromhex(payload))
    return lines[0], lines[1].removeprefix("encoder "), frames


def zlib_frames(payloads: tuple[bytes, ...], setting: Setting) -> list[bytes]:
    """wsztune's zlib model of one stream (CPython's zlib, the same library as the JDK's)."""
    return compress_stream(list(payloads), setting, setting.server_bits, get_zlib_module("zlib"))


def jzlib_frames(payloads: tuple[bytes, ...], setting: Setting) -> list[bytes]:
    """wsztune's JZlib codec on one stream (its Java helper, compiled on first use)."""
    from wsztune.codecs import jzlib

    return jzlib.frames(list(payloads), setting)


@pytest.mark.parametrize("corpus", wire.verify_corpora())
@pytest.mark.parametrize(
    ("offer", "takeover"),
    [
        ((), True),  # Firefox's bare offer: 15 bits
        (("server_no_context_takeover", "client_max_window_bits"), False),
    ],
)
def test_netty_at_15_8_runs_the_jdks_zlib_and_equals_the_zlib_model(
    netty: list[str],
    tmp_path_factory: pytest.TempPathFactory,
    corpus: str,
    offer: tuple[str, ...],
    takeover: bool,
) -> None:
    """At window 15 Netty picks JdkZlibEncoder, and its frames are zlib's at 15:8, level 6."""
    path, payloads = corpus_file(corpus, str(tmp_path_factory.getbasetemp()))
    answer, encoder, frames = run_netty(netty, 6, path, *offer)
    assert answer.startswith("extension permessage-deflate")
    assert ("server_no_context_takeover" in answer) == (not takeover)
    if takeover:
        assert encoder == "JdkZlibEncoder"
    assert frames == zlib_frames(payloads, Setting(15, 8, 6, context_takeover=takeover))


@pytest.mark.parametrize("corpus", wire.verify_corpora())
@pytest.mark.parametrize(
    ("window", "level", "takeover"), [(12, 6, True), (10, 1, False)]
)
def test_netty_at_another_window_runs_jzlib_and_equals_the_jzlib_codec(
    netty: list[str],
    tmp_path_factory: pytest.TempPathFactory,
    corpus: str,
    window: int,
    level: int,
    takeover: bool,
) -> None:
    """A client's server_max_window_bits below 15 makes Netty pick JZlibEncoder; its frames are
    the JZlib codec's, byte for byte."""
    path, payloads = corpus_file(corpus, str(tmp_path_factory.getbasetemp()))
    offer = [f"server_max_window_bits={window}"]
    if not takeover:
        offer.append("server_no_context_takeover")
    answer, encoder, frames = run_netty(netty, level, path, *offer)
    assert f"server_max_window_bits={window}" in answer
    if takeover:
        assert encoder == "JZlibEncoder"
    setting = Setting(window, 8, level, context_takeover=takeover)
    assert frames == jzlib_frames(payloads, setting)


def test_where_jzlib_and_zlib_differ_netty_sends_jzlibs_bytes(
    netty: list[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Level 0 at window 12: JZlib's stored blocks are not zlib 1.2.13's, and Netty's frames are
    JZlib's: a model of zlib would be wrong there, not merely slower."""
    path, payloads = corpus_file("api.jsonl", str(tmp_path_factory.getbasetemp()))
    _, encoder, frames = run_netty(netty, 0, path, "server_max_window_bits=12")
    assert encoder == "JZlibEncoder"
    setting = Setting(12, 8, 0)
    zlib_model = zlib_frames(payloads, setting)
    assert frames == jzlib_frames(payloads, setting)
    differing = sum(ours != theirs for ours, theirs in zip(frames, zlib_model, strict=True))
    assert differing > 0
    assert sum(map(len, frames)) != sum(map(len, zlib_model))


def test_netty_accepts_window_8_then_fails_every_compressed_write(
    netty: list[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """netty#8702: the handshake grants server_max_window_bits=8, JZlibEncoder then refuses it;
    the profile's window knob is 9-15 for that reason."""
    from wsztune.stacks import STACKS

    path, _ = corpus_file(wire.DEFAULT_CORPORA[0], str(tmp_path_factory.getbasetemp()))
    done = subprocess.run(
        [*netty, "6", str(path), "server_max_window_bits=8"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "windowBits: 8 (expected: 9-15)" in done.stderr
    assert 8 not in STACKS["netty"].knob("window_bits").values


def test_a_netty_run_names_each_cells_codec_and_matches_netty_on_the_wire(
    netty: list[str], tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``run --server netty`` sweeps Netty's windows at memLevel 8: 15:8 is measured with zlib,
    every other window with JZlib, and each cell says so; a cell's server bytes are the sum of
    the frames real Netty sends at that window."""
    corpus_name = wire.DEFAULT_CORPORA[0]
    path, payloads = corpus_file(corpus_name, str(tmp_path_factory.getbasetemp()))
    corpus = tmp_path / "server.records.jsonl"
    with corpus.open("w", encoding="utf-8") as out:
        out.write('{"wsztune":"records/1"}\n')
        for payload in payloads:
            record = {"connection": "c1", "direction": "server", "text": payload.decode("utf-8")}
            out.write(json.dumps(record) + "\n")
    results = tmp_path / "netty.json"
    outcome = CliRunner().invoke(
        cli,
        ["run", str(corpus), "--server", "netty", "--no-timing", "-q", "-j", "1",
         "-o", str(results)],
    )
    assert outcome.exit_code == 0, outcome.output
    document = json.loads(results.read_text(encoding="utf-8"))
    assert document["meta"]["codec"] == "netty"
    cells = {cell["window_bits"]: cell for cell in document["cells"]}
    assert sorted(cells) == list(range(9, 16))
    assert {cell["mem_level"] for cell in cells.values()} == {8}
    assert cells[15]["codec"] == "zlib"
    assert all(cells[window]["codec"] == "JZlib" for window in range(9, 15))
    for window in (15, 11):
        offer = () if window == 15 else (f"server_max_window_bits={window}",)
        _, _, frames = run_netty(netty, 6, path, *offer)
        assert cells[window]["server_compressed_bytes"] == sum(map(len, frames))
    # recommend names what Netty cannot do, and the codec Netty runs at the chosen cell.
    advice = CliRunner().invoke(
        cli, ["recommend", "--results", str(results), "--max-memory", "250KiB"]
    )
    assert advice.exit_code == 0, advice.output
    text = " ".join(advice.output.split())
    assert "Netty cannot set memLevel" in text
    assert "Netty 4.1 cannot pick its own window" in text
    assert "Netty cannot compress at window 8" in text
    chosen = next(line for line in advice.output.splitlines() if line.startswith("Recommended:"))
    if "15:8" not in chosen:
        assert "with JZlib, not zlib as at its default 15:8" in text
