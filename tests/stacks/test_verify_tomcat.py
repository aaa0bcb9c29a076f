"""wsztune's model against Tomcat's own compressor class, byte for byte.

Tomcat compresses with ``org.apache.tomcat.websocket.PerMessageDeflate``: the JDK's Deflater
(zlib, level -1, memLevel 8, 15 bits; the window cannot be set). A tiny Java program
(tests/support/java/WsztuneTomcatDeflate.java) drives that class as Tomcat's endpoint does, on the
corpus, and prints each message's frames; it is compiled into a temporary directory once per test
session, against Debian's ``libtomcat10-java`` jars, with ``default-jdk-headless``'s javac.

What Tomcat can be set to: compression on or off (it is on whenever the client offers it; a
custom ``ServerEndpointConfig.Configurator`` that drops the extension turns it off), and what the
client's offer decides: ``server_no_context_takeover`` (Tomcat agrees and resets its Deflater per
message), ``server_max_window_bits`` below 15 (Tomcat refuses the offer: no compression).
"""

from __future__ import annotations

import functools
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from tests.support import SUPPORT, wire
from wsztune.permessage_deflate import Setting

JAR_DIRS = (Path("/usr/share/tomcat10/lib"), Path("/usr/share/java"))
JARS = (
    "tomcat10-websocket.jar",
    "tomcat10-websocket-api.jar",
    "tomcat10-websocket-client-api.jar",
    "tomcat10-juli.jar",
    "tomcat10-util.jar",
)
# Tomcat's own jar names under /usr/share/tomcat10/lib.
LIB_NAMES = {
    "tomcat10-websocket.jar": "tomcat-websocket.jar",
    "tomcat10-websocket-api.jar": "websocket-api.jar",
    "tomcat10-websocket-client-api.jar": "websocket-client-api.jar",
    "tomcat10-juli.jar": "tomcat-juli.jar",
    "tomcat10-util.jar": "tomcat-util.jar",
}
SOURCE = SUPPORT / "java" / "WsztuneTomcatDeflate.java"
MAIN = "org.apache.tomcat.websocket.WsztuneTomcatDeflate"
# Tomcat's PerMessageDeflate writes its output in buffers of Constants.DEFAULT_BUFFER_SIZE bytes,
# one frame each: a message compressing to more than this is split into several frames.
TOMCAT_BUFFER = 8192


def _find_jars() -> list[Path] | None:
    found = []
    for name in JARS:
        for directory in JAR_DIRS:
            for candidate in (directory / name, directory / LIB_NAMES[name]):
                if candidate.is_file():
                    found.append(candidate)
                    break
            else:
                continue
            break
        else:
            return None
    return found


@pytest.fixture(scope="session")
def tomcat(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The command that runs the driver: java with Tomcat's jars and the compiled class."""
    if shutil.which("javac") is None or shutil.which("java") is None:
        pytest.skip("a JDK is needed (Debian: default-jdk-headless)")
    jars = _find_jars()
    if jars is None:
        pytest.skip("Tomcat's jars are needed (Debian: libtomcat10-java)")
    classes = tmp_path_factory.mktemp("tomcat-classes")
    classpath = ":".join(str(jar) for jar in jars)
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
    sent = wire.corpus_messages(name)
    path = Path(directory) / (Path(name).name + ".bin")
    with path.open("wb") as out:
        for is_text, payload in sent:
            out.write(bytes([1 if is_text else 0]) + struct.pack(">I", len(payload)) + payload)
    return path, tuple(payload for _, payload in sent)


def run_tomcat(command: list[str], path: Path, *offer: str) -> tuple[str, list[list[int]]]:
    """Tomcat's answer to ``offer`` and each message's frame payload sizes."""
    done = subprocess.run(
        [*command, str(path), *offer], check=True, capture_output=True, text=True, timeout=120
    )
    lines = done.stdout.splitlines()
    frames = []
    for line in lines[1:]:
        rsv, *sizes = (int(part) for part in line.split())
        assert rsv == 4, "every message is sent compressed (RSV1)"
        frames.append(sizes)
    return lines[0], frames


@pytest.mark.parametrize("corpus", wire.verify_corpora())
@pytest.mark.parametrize(
    ("offer", "takeover"),
    [
        ((), True),  # Firefox's bare offer
        (("client_max_window_bits",), True),  # websockets' and Chromium's offer
        (("server_no_context_takeover", "client_max_window_bits"), False),
    ],
)
def test_tomcat_per_message_deflate_equals_zlib_15_8(
    tomcat: list[str],
    tmp_path_factory: pytest.TempPathFactory,
    corpus: str,
    offer: tuple[str, ...],
    takeover: bool,
) -> None:
    """Tomcat's frames are zlib at 15:8, level -1, with or without context takeover."""
    path, payloads = corpus_file(corpus, str(tmp_path_factory.getbasetemp()))
    answer, frames = run_tomcat(tomcat, path, *offer)
    assert answer.startswith("extension permessage-deflate")
    assert ("server_no_context_takeover" in answer) == (not takeover)
    assert len(frames) == len(payloads)
    want = wire.model_sizes(list(payloads), Setting(15, 8, -1, context_takeover=takeover))
    assert [sum(sizes) for sizes in frames] == want
    # The frame split is Tomcat's buffer, not the codec: every frame but the last is full.
    for sizes in frames:
        assert all(size == TOMCAT_BUFFER for size in sizes[:-1])


def test_tomcat_refuses_a_smaller_server_window(
    tomcat: list[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The JDK's Deflater has no window setting: Tomcat refuses server_max_window_bits < 15, and
    that connection goes uncompressed. 15 is accepted."""
    path, _ = corpus_file(wire.DEFAULT_CORPORA[0], str(tmp_path_factory.getbasetemp()))
    for bits in (9, 12, 14):
        assert run_tomcat(tomcat, path, f"server_max_window_bits={bits}")[0] == "refused"
    assert run_tomcat(tomcat, path, "server_max_window_bits=15")[0].startswith("extension")


def test_tomcat_splits_big_messages_into_buffer_sized_frames(
    tomcat: list[str], tmp_path: Path
) -> None:
    """A message compressing to more than Tomcat's buffer goes out as several frames (8 KiB
    each but the last): the payload bytes still add up to the model's, only frame headers
    differ from one frame per message."""
    import base64
    import random

    rng = random.Random(7)
    payloads = [base64.b64encode(rng.randbytes(30_000)) for _ in range(3)]
    path = tmp_path / "big.bin"
    path.write_bytes(b"".join(b"\x01" + struct.pack(">I", len(p)) + p for p in payloads))
    answer, frames = run_tomcat(tomcat, path)
    assert answer == "extension permessage-deflate"
    assert [sum(sizes) for sizes in frames] == wire.model_sizes(payloads, Setting(15, 8, -1))
    assert all(len(sizes) > 1 for sizes in frames)
    assert all(size == TOMCAT_BUFFER for sizes in frames for size in sizes[:-1])
