"""``wsztune probe`` against real servers of other runtimes on 127.0.0.1: gorilla and coder (Go),
ws and Socket.IO (Node), and Tomcat (its own handshake and PerMessageDeflate class in a small
embedded server), each as it ships and with compression planted off or at another window. And
the Go clients' own verdict: what the probe says gorilla's and coder's clients refuse, their
real Dial refuses. Every server starts once per module; a runtime that is missing skips its
tests with the reason.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support import SUPPORT
from tests.support.probe_servers import GREETING, Loop, Peer, greet_then_echo, websockets_server
from wsztune.cli import cli

SOCKETIO_VERSION = "4.8.1"
CLIENTS = ("chrome", "firefox", "safari", "python-websockets", "ws", "gorilla", "coder")
GO_OFFER = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
CODER_OFFER = "permessage-deflate; client_no_context_takeover; server_no_context_takeover"
TOMCAT_JARS = (
    "annotations-api", "api", "catalina", "coyote", "el-api", "jaspic-api", "jni", "juli",
    "servlet-api", "util-scan", "util", "websocket-api", "websocket-client-api", "websocket",
)  # fmt: skip


def probe_json(port: int, *args: str, path: str = "/") -> tuple[int, dict[str, dict], str]:
    """``wsztune probe --json``: exit code, the objects by client, the text of stderr."""
    result = CliRunner().invoke(cli, ["probe", f"ws://127.0.0.1:{port}{path}", "--json", *args])
    found = {item["client"]: item for item in json.loads(result.stdout)} if result.stdout else {}
    return result.exit_code, found, result.stderr


def probe_text(port: int, *args: str, path: str = "/") -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["probe", f"ws://127.0.0.1:{port}{path}", *args])
    return result.exit_code, result.stdout + result.stderr


@pytest.fixture(scope="module")
def go_peer() -> Path:
    """tests/support/go/probe_peer.go built against Debian's gorilla and coder packages."""
    if shutil.which("go") is None:
        pytest.skip("go is not installed (Debian: golang-go)")
    from wsztune.codecs import go
    from wsztune.errors import WsztuneError

    try:
        return go.build_go(
            (SUPPORT / "go" / "probe_peer.go").resolve(), "wsztune-probe-peer", "probe test peers"
        )
    except WsztuneError as error:
        pytest.skip(str(error))


@pytest.fixture(scope="module")
def socketio_dir() -> Path:
    """socket.io (pinned), installed once with npm into a cache reused across test runs."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for Socket.IO")
    cache = Path.home() / ".cache" / "wsztune-test"
    target = cache / f"socketio-{SOCKETIO_VERSION}"
    package = target / "node_modules" / "socket.io"
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".socketio.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (package / "package.json").is_file():
            staging = Path(tempfile.mkdtemp(prefix=".socketio-", dir=cache))
            subprocess.run(
                ["npm", "install", "--prefix", str(staging), "--no-audit", "--no-fund",
                 "--no-save", "--loglevel=error", f"socket.io@{SOCKETIO_VERSION}"],
                check=True, capture_output=True, timeout=300,
            )  # fmt: skip
            if target.exists():
                shutil.rmtree(target)
            os.rename(staging, target)
    return package


@pytest.fixture(scope="module")
def tomcat_command() -> list[str]:
    """java running tests/support/java/WsztuneProbeTomcat.java against Debian's Tomcat 10 jars."""
    if shutil.which("javac") is None or shutil.which("java") is None:
        pytest.skip("a JDK is needed (Debian: default-jdk-headless)")
    jars = [Path(f"/usr/share/java/tomcat10-{name}.jar") for name in TOMCAT_JARS]
    missing = [jar.name for jar in jars if not jar.is_file()]
    if missing:
        pytest.skip(f"Tomcat's jars are needed (Debian: libtomcat10-java): {missing[0]}")
    classpath = ":".join(map(str, jars))
    source = SUPPORT / "java" / "WsztuneProbeTomcat.java"
    # Compiled once per source (javac against Tomcat's jars takes seconds), kept across runs.
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    classes = Path.home() / ".cache" / "wsztune-test" / f"tomcat-probe-{digest}"
    if not (classes / "WsztuneProbeTomcat.class").is_file():
        staging = Path(tempfile.mkdtemp(prefix=".tomcat-probe-", dir=classes.parent))
        subprocess.run(
            ["javac", "-nowarn", "-d", str(staging), "-cp", classpath, str(source)],
            check=True, capture_output=True, timeout=180,
        )  # fmt: skip
        with contextlib.suppress(OSError):  # another run may have put it there meanwhile
            os.rename(staging, classes)
    return ["java", "-Xshare:auto", "-cp", f"{classpath}:{classes}", "WsztuneProbeTomcat"]


def _peers(commands: dict[str, list[str]]) -> Iterator[dict[str, int]]:
    started = {name: Peer(command) for name, command in commands.items()}
    try:
        yield {name: peer.port for name, peer in started.items()}
    finally:
        for peer in started.values():
            peer.stop()


@pytest.fixture(scope="module")
def go_ports(go_peer: Path) -> Iterator[dict[str, int]]:
    yield from _peers(
        {f"{lib}-{mode}": [str(go_peer), "serve", lib, mode]
         for lib in ("gorilla", "coder") for mode in ("on", "off")}
    )  # fmt: skip


def _node_peers(kind: str, module: Path, options: dict[str, str]) -> Iterator[dict[str, int]]:
    """tests/support/probe_peers.js servers of ``kind``, one per perMessageDeflate option."""
    script = str(SUPPORT / "probe_peers.js")
    yield from _peers(
        {name: ["node", script, kind, str(module), text] for name, text in options.items()}
    )


@pytest.fixture(scope="module")
def node_ports(ws_dir: Path) -> Iterator[dict[str, int]]:
    yield from _node_peers(
        "ws",
        ws_dir,
        {"ws-default": "default", "ws-on": "true", "ws-window10": '{"serverMaxWindowBits": 10}'},
    )


@pytest.fixture(scope="module")
def socketio_ports(socketio_dir: Path) -> Iterator[dict[str, int]]:
    yield from _node_peers(
        "socketio", socketio_dir, {"socketio-default": "default", "socketio-on": "true"}
    )


@pytest.fixture(scope="module")
def tomcat_ports(
    tomcat_command: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, int]]:
    base = tmp_path_factory.mktemp("tomcat-base")
    yield from _peers({"tomcat": [*tomcat_command, str(base)]})


def _assert_all(found: dict[str, dict], responses: dict[str, str | None], windows: tuple) -> None:
    assert list(found) == list(CLIENTS)
    for name, item in found.items():
        assert item["response"] == responses[name], name
        if responses[name] is None:
            assert item["windows"] is None and item["compressed"] is False, name
            continue
        got = item["windows"]
        assert (got["server_max_window_bits"], got["client_max_window_bits"]) == windows, name
        assert item["compressed"] is True, name
        assert item["message"]["raw_bytes"] == len(GREETING), name


# Go -------------------------------------------------------------------------------------------


def test_gorilla_answers_every_offer_with_both_no_context_takeover(
    go_ports: dict[str, int],
) -> None:
    code, found, _ = probe_json(go_ports["gorilla-on"])
    assert code == 0
    _assert_all(found, dict.fromkeys(CLIENTS, GO_OFFER), (15, 15))
    assert all(not item["windows"]["server_context_takeover"] for item in found.values())
    assert all(item["findings"] == [] for item in found.values())


def test_coder_answers_no_context_takeover_to_every_offer(go_ports: dict[str, int]) -> None:
    code, found, _ = probe_json(go_ports["coder-on"])
    assert code == 0
    _assert_all(found, dict.fromkeys(CLIENTS, CODER_OFFER), (15, 15))


@pytest.mark.parametrize("library", ["gorilla", "coder"])
def test_go_compression_off_is_named(go_ports: dict[str, int], library: str) -> None:
    """gorilla's default (EnableCompression false), coder's CompressionDisabled."""
    port = go_ports[f"{library}-off"]
    code, found, _ = probe_json(port)
    _assert_all(found, dict.fromkeys(CLIENTS), (15, 15))
    code, text = probe_text(port, "--expect", "15", "--server", library)
    assert code == 1
    assert "problem: compression is off" in text
    knob = {"gorilla": "Upgrader.EnableCompression", "coder": "CompressionDisabled"}[library]
    assert "fix: turn permessage-deflate on (" in text and knob in text


@pytest.fixture(scope="module")
def python_ports() -> Iterator[dict[str, int]]:
    """python-websockets as serve() ships, aiohttp and Tornado: for the Go clients' verdicts."""
    import functools

    from wsztune.live.servers import SERVERS
    from wsztune.permessage_deflate import Setting

    loop = Loop()
    try:
        ports = {"websockets": loop.start(lambda: websockets_server(default=True))}
        for name in ("aiohttp", "tornado"):
            server = SERVERS[name]
            model = server.model(Setting(15, 8))
            ports[name] = loop.start(
                functools.partial(server.serve, greet_then_echo, model, 10)
            )
        yield ports
    finally:
        loop.close()


@pytest.mark.parametrize("server", ["websockets", "aiohttp", "tornado", "gorilla", "coder"])
@pytest.mark.parametrize("library", ["gorilla", "coder"])
def test_go_clients_refuse_what_the_probe_says_they_refuse(
    go_peer: Path,
    go_ports: dict[str, int],
    python_ports: dict[str, int],
    server: str,
    library: str,
) -> None:
    """The probe's verdict for the gorilla and coder profiles equals the real client's Dial:
    coder refuses python-websockets' server_max_window_bits, gorilla refuses aiohttp's and
    Tornado's answers without client_no_context_takeover; coder takes Tornado's answer that
    ignores its server_no_context_takeover (a non-failing note); both take gorilla's and coder's
    own answers."""
    port = {**python_ports, "gorilla": go_ports["gorilla-on"], "coder": go_ports["coder-on"]}[
        server
    ]
    path = "/0" if server in ("aiohttp", "tornado") else "/"
    _, found, _ = probe_json(port, "--client", library, path=path)
    probe_says_ok = not any(finding["failing"] for finding in found[library]["findings"])
    dial = subprocess.run(
        [str(go_peer), "dial", library, f"ws://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    real_ok = dial.stdout.startswith("ok ")
    assert probe_says_ok == real_ok, (found[library]["findings"], dial.stdout)
    if real_ok:  # the client saw the very header the probe reports
        assert dial.stdout[3:].strip() == found[library]["response"]
    expected_ok = (server, library) not in {
        ("websockets", "coder"),
        ("aiohttp", "gorilla"),
        ("tornado", "gorilla"),
    }
    assert real_ok == expected_ok, dial.stdout


def test_the_real_clients_send_the_profiles_offers(go_peer: Path, ws_dir: Path) -> None:
    """gorilla's Dialer, coder's Dial and ws's client, as a user dials with compression on, send
    exactly the offer their probe profile sends (Chromium's and Firefox's are checked in
    tests/stacks/test_verify_browsers.py, python-websockets' in tests/live/test_probe.py)."""
    from wsztune.live import probe as probing

    offers: list[str] = []
    loop = Loop()
    try:
        port = loop.start(lambda: websockets_server(default=True, offers=offers))
        url = f"ws://127.0.0.1:{port}/"
        seen = {}
        for library in ("gorilla", "coder"):
            subprocess.run([str(go_peer), "dial", library, url], timeout=30, capture_output=True)
            seen[library] = offers[-1]
        script = (
            f"const W = require({json.dumps(str(ws_dir))}); const ws = new W({json.dumps(url)});"
            "ws.on('open', () => ws.close()); ws.on('error', () => process.exit(1));"
        )
        subprocess.run(["node", "-e", script], timeout=30, capture_output=True, check=True)
        seen["ws"] = offers[-1]
    finally:
        loop.close()
    profiles = {client.name: client.offer for client in probing.client_profiles()}
    assert seen == {name: profiles[name] for name in ("gorilla", "coder", "ws")}


# Node: ws and Socket.IO -----------------------------------------------------------------------


def test_ws_default_is_off_and_named(node_ports: dict[str, int]) -> None:
    """ws's WebSocketServer has perMessageDeflate off unless given."""
    port = node_ports["ws-default"]
    _, found, _ = probe_json(port)
    _assert_all(found, dict.fromkeys(CLIENTS), (15, 15))
    code, text = probe_text(port, "--expect", "15:8", "--server", "ws")
    assert code == 1
    assert "problem: compression is off" in text and "perMessageDeflate" in text


def test_ws_on_answers_each_offer(node_ports: dict[str, int]) -> None:
    code, found, _ = probe_json(node_ports["ws-on"])
    assert code == 0
    responses = {**dict.fromkeys(CLIENTS, "permessage-deflate"), "gorilla": GO_OFFER,
                 "coder": CODER_OFFER}  # fmt: skip
    _assert_all(found, responses, (15, 15))


def test_ws_other_window_than_expected(node_ports: dict[str, int]) -> None:
    port = node_ports["ws-window10"]
    _, found, _ = probe_json(port, "--client", "chrome", "--client", "firefox")
    assert found["chrome"]["response"] == "permessage-deflate; server_max_window_bits=10"
    assert found["chrome"]["windows"]["server_max_window_bits"] == 10
    assert found["chrome"]["compressed"] is True
    code, text = probe_text(port, "--client", "chrome", "--expect", "15:8", "--server", "ws")
    assert code == 1
    assert "problem: server window 10 bits, expected 15" in text
    assert "serverMaxWindowBits to 15" in text


SOCKETIO_PATH = "/socket.io/?EIO=4&transport=websocket"


def test_socketio_default_is_off(socketio_ports: dict[str, int]) -> None:
    """Socket.IO 4 (engine.io) leaves perMessageDeflate off by default."""
    code, found, _ = probe_json(socketio_ports["socketio-default"], path=SOCKETIO_PATH)
    assert code == 0
    assert all(item["response"] is None for item in found.values())
    code, text = probe_text(
        socketio_ports["socketio-default"], "--expect", "15", "--server", "socketio",
        path=SOCKETIO_PATH,
    )  # fmt: skip
    assert code == 1 and "problem: compression is off" in text


def test_socketio_on_compresses_past_its_threshold(socketio_ports: dict[str, int]) -> None:
    """perMessageDeflate: true. With context takeover (Chrome) even the 107 B open packet is
    compressed; without it (gorilla's offer) ws's 1024 B threshold applies, so the open packet
    goes out plain, and the greeting comes compressed once the client joins (--send 40)."""
    port = socketio_ports["socketio-on"]
    code, found, _ = probe_json(port, "--client", "chrome", "--client", "gorilla",
                                path=SOCKETIO_PATH)  # fmt: skip
    assert found["chrome"]["response"] == "permessage-deflate"
    assert found["chrome"]["compressed"] is True
    assert found["chrome"]["message"]["raw_bytes"] < 200  # the open packet
    assert found["gorilla"]["response"] == GO_OFFER
    assert found["gorilla"]["message"]["rsv1"] is False
    code, found, _ = probe_json(
        port, "--client", "gorilla", "--send", "40", "--server", "socketio", path=SOCKETIO_PATH
    )
    assert found["gorilla"]["compressed"] is True
    assert found["gorilla"]["message"]["messages_read"] == 3  # open, connect, greeting
    assert found["gorilla"]["message"]["raw_bytes"] > len(GREETING)  # 42["greeting","..."]


# Tomcat ---------------------------------------------------------------------------------------


def test_tomcat_answers_each_offer(tomcat_ports: dict[str, int]) -> None:
    """Tomcat's UpgradeUtil writes the parameters with ';' and no space."""
    code, found, _ = probe_json(tomcat_ports["tomcat"])
    assert code == 0
    responses = {
        **dict.fromkeys(CLIENTS, "permessage-deflate"),
        **dict.fromkeys(
            ("chrome", "python-websockets", "ws"), "permessage-deflate;client_max_window_bits=15"
        ),
        "gorilla": "permessage-deflate;server_no_context_takeover;client_no_context_takeover",
        "coder": "permessage-deflate;server_no_context_takeover;client_no_context_takeover",
    }
    _assert_all(found, responses, (15, 15))


def test_tomcat_off_and_a_refused_small_window(tomcat_ports: dict[str, int]) -> None:
    """A Configurator that negotiates nothing turns it off; Tomcat refuses an offer asking for a
    server window under 15 (its Deflater's window is fixed), which --offer shows."""
    _, found, _ = probe_json(tomcat_ports["tomcat"], path="/off")
    _assert_all(found, dict.fromkeys(CLIENTS), (15, 15))
    code, found, _ = probe_json(
        tomcat_ports["tomcat"], "--client", "chrome",
        "--offer", "permessage-deflate; server_max_window_bits=10",
    )  # fmt: skip
    assert found["custom"]["response"] is None
    assert found["chrome"]["response"] == "permessage-deflate;client_max_window_bits=15"
    code, text = probe_text(
        tomcat_ports["tomcat"], "--client", "chrome", "--expect", "15",
        "--offer", "permessage-deflate; server_max_window_bits=10",
    )  # fmt: skip
    assert code == 1
    assert "permessage-deflate refused for these clients' offers: custom" in text
