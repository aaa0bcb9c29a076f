"""``wsztune probe`` against real Python servers on 127.0.0.1: python-websockets, aiohttp, Tornado
and uvicorn's four ``--ws`` backends, each as it ships, plus planted misconfigurations
(compression off, a window other than expected, bare offers refused as python-websockets
10.0-10.1 did) and servers that refuse, redirect or speak TLS. Servers start once per module.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support.probe_servers import (
    GREETING,
    Loop,
    greet_then_echo,
    guarded_server,
    http_answer,
    websockets_server,
)
from wsztune.cli import cli
from wsztune.live import probe as probing
from wsztune.live.servers import SERVERS
from wsztune.permessage_deflate import Setting

CLIENTS = ("chrome", "firefox", "safari", "python-websockets", "ws", "gorilla", "coder")
GO_OFFER = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
CODER_OFFER = "permessage-deflate; client_no_context_takeover; server_no_context_takeover"
WINDOW = "permessage-deflate; client_max_window_bits"

# What each server answers each client's offer: the Sec-WebSocket-Extensions header, exactly.
WEBSOCKETS_12 = {
    "chrome": "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
    "firefox": "permessage-deflate; server_max_window_bits=12",
    "safari": "permessage-deflate; server_max_window_bits=12",
    "python-websockets": "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
    "ws": "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
    "gorilla": "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
    "server_max_window_bits=12",
    "coder": "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
    "server_max_window_bits=12",
}
BARE = dict.fromkeys(CLIENTS, "permessage-deflate")
EXPECTED = {
    "websockets": WEBSOCKETS_12,
    "uvicorn": WEBSOCKETS_12,  # --ws auto is websockets-sansio in this uvicorn
    "uvicorn-sansio": WEBSOCKETS_12,
    "aiohttp": {
        **BARE,
        "gorilla": "permessage-deflate; server_no_context_takeover",
        "coder": "permessage-deflate; server_no_context_takeover",
    },
    "tornado": BARE,  # Tornado 6.6 drops valueless parameters from its answer
    "uvicorn-websockets": {**BARE, "gorilla": GO_OFFER, "coder": GO_OFFER},
    "uvicorn-wsproto": {
        **BARE,
        "chrome": "permessage-deflate; client_max_window_bits=15",
        "python-websockets": "permessage-deflate; client_max_window_bits=15",
        "ws": "permessage-deflate; client_max_window_bits=15",
        "gorilla": CODER_OFFER,
        "coder": CODER_OFFER,
    },
}
# The windows (server, client) each client ends up with.
WINDOWS = {
    "websockets": {**dict.fromkeys(CLIENTS, (12, 15)), **dict.fromkeys(
        ("chrome", "python-websockets", "ws"), (12, 12))},
    "aiohttp": dict.fromkeys(CLIENTS, (15, 15)),
    "tornado": dict.fromkeys(CLIENTS, (15, 15)),
    "uvicorn-websockets": dict.fromkeys(CLIENTS, (15, 15)),
    "uvicorn-wsproto": dict.fromkeys(CLIENTS, (15, 15)),
}  # fmt: skip
WINDOWS["uvicorn"] = WINDOWS["uvicorn-sansio"] = WINDOWS["websockets"]


# Compression planted off in each Python stack, and the knob the fix must name.
OFF_KNOBS = {
    "aiohttp": "WebSocketResponse(compress=)",
    "tornado": "get_compression_options() -> dict | None",
    **dict.fromkeys(
        ("uvicorn", "uvicorn-sansio", "uvicorn-websockets", "uvicorn-wsproto"),
        "--ws-per-message-deflate",
    ),
}


def _live(name: str) -> functools.partial:
    server = SERVERS[name]
    profile = server.defaults  # the stack's own setting, from its profile
    client_bits = profile.window_bits
    if profile.client_window_bits is not None:
        client_bits = profile.client_window_bits
    setting = Setting(profile.window_bits, profile.mem_level, client_window_bits=client_bits)
    return functools.partial(server.serve, greet_then_echo, server.model(setting), 10)


@pytest.fixture(scope="module")
def ports() -> Iterator[dict[str, int]]:
    """Every server of this module, started once: name -> port."""
    loop = Loop()
    try:
        found = {name: loop.start(_live(name)) for name in EXPECTED if name != "websockets"}
        found["websockets"] = loop.start(lambda: websockets_server(default=True))
        found["off"] = loop.start(websockets_server)
        found["window10"] = loop.start(
            lambda: websockets_server(server_max_window_bits=10, client_max_window_bits=10)
        )
        # python-websockets 10.0-10.1 (websockets issue 1109): bare offers refused.
        found["bare-refused"] = loop.start(
            lambda: websockets_server(
                server_max_window_bits=12,
                client_max_window_bits=12,
                require_client_max_window_bits=True,
            )
        )
        for name in OFF_KNOBS:
            server = SERVERS[name]
            found[f"{name}-off"] = loop.start(
                functools.partial(server.serve, greet_then_echo, None, 10)
            )
        found["guarded"] = loop.start(lambda: guarded_server("https://app.test", "s3cret"))
        found["echo"] = loop.start(lambda: websockets_server(default=True, greet=False))
        found["403"] = loop.start(lambda: http_answer("403 Forbidden"))
        found["400"] = loop.start(lambda: http_answer("400 Bad Request"))
        found["redirect"] = loop.start(
            lambda: http_answer("301 Moved Permanently", "Location: ws://example.test/ws\r\n")
        )
        yield found
    finally:
        loop.close()


def probe(url: str, *args: str) -> tuple[int, str, str]:
    """``wsztune probe URL ARGS``: exit code, stdout, stderr."""
    result = CliRunner().invoke(cli, ["probe", url, *args])
    return result.exit_code, result.stdout, result.stderr


def probe_json(url: str, *args: str) -> tuple[int, dict[str, dict]]:
    code, out, err = probe(url, "--json", *args)
    assert out, err
    return code, {item["client"]: item for item in json.loads(out)}


def test_offers_are_the_clients_own() -> None:
    """Each profile sends its client's exact header (clients.py, gorilla's and coder's sources)."""
    offers = {client.name: client.offer for client in probing.client_profiles(["x"])}
    assert offers == {
        "chrome": WINDOW,
        "firefox": "permessage-deflate",
        "safari": "permessage-deflate",
        "python-websockets": WINDOW,
        "ws": WINDOW,
        "gorilla": GO_OFFER,
        "coder": CODER_OFFER,
        "custom": "x",
    }


def test_python_websockets_connect_sends_the_profiles_offer(ports: dict[str, int]) -> None:
    """python-websockets' own connect() offers exactly what the profile sends, and gets the same
    answer the probe reports."""
    import asyncio

    from websockets.asyncio.client import connect

    async def handshake() -> tuple[str, str]:
        async with connect(f"ws://127.0.0.1:{ports['websockets']}/") as ws:
            return (
                ws.request.headers["Sec-WebSocket-Extensions"],
                ws.response.headers["Sec-WebSocket-Extensions"],
            )

    offer, answer = asyncio.run(handshake())
    assert offer == WINDOW
    assert answer == WEBSOCKETS_12["python-websockets"]


@pytest.mark.parametrize("server", sorted(EXPECTED))
def test_probe_reports_exactly_what_each_server_negotiates(
    ports: dict[str, int], server: str
) -> None:
    """Response header exactly as sent, the windows both ways, and RSV1 on the greeting (which
    inflates back to its size) for every client profile."""
    code, found = probe_json(f"ws://127.0.0.1:{ports[server]}/0")
    assert code == 0
    assert list(found) == list(CLIENTS)
    for name, item in found.items():
        assert item["response"] == EXPECTED[server][name], name
        windows = item["windows"]
        assert (windows["server_max_window_bits"], windows["client_max_window_bits"]) == (
            WINDOWS[server][name]
        ), name
        assert item["compressed"] is True, name
        assert item["message"]["rsv1"] is True
        assert item["message"]["raw_bytes"] == len(GREETING)
        assert item["message"]["wire_bytes"] < len(GREETING) / 3


def test_incompatible_answers_are_named_with_the_client(ports: dict[str, int]) -> None:
    """Answers the real Go clients refuse: coder's Dial allows no server_max_window_bits
    (python-websockets adds it), gorilla's Dialer requires both no-context-takeover parameters
    (aiohttp answers one); Tornado agrees to no server_no_context_takeover it was offered."""
    _, found = probe_json(f"ws://127.0.0.1:{ports['websockets']}/")
    assert found["coder"]["findings"][0]["problem"] == (
        "the response fails the connection: coder allows no server_max_window_bits"
    )
    assert "no server_max_window_bits unless" in found["coder"]["findings"][0]["fix"]
    assert found["gorilla"]["findings"] == []
    _, found = probe_json(f"ws://127.0.0.1:{ports['aiohttp']}/0")
    assert [f["problem"] for f in found["gorilla"]["findings"]] == [
        "the response fails the connection: gorilla requires client_no_context_takeover"
    ]
    _, found = probe_json(f"ws://127.0.0.1:{ports['tornado']}/0", "--client", "gorilla")
    problems = [(f["problem"], f["failing"]) for f in found["gorilla"]["findings"]]
    assert problems == [
        ("the response fails the connection: gorilla requires server_no_context_takeover", True),
        ("the response fails the connection: gorilla requires client_no_context_takeover", True),
        ("the response breaks RFC 7692: server_no_context_takeover offered but not agreed (the "
         "server keeps its context between messages, which the client asked it not to)", False),
    ]  # fmt: skip


def test_compression_off_is_named_with_its_fix(ports: dict[str, int]) -> None:
    url = f"ws://127.0.0.1:{ports['off']}/"
    code, found = probe_json(url)
    assert code == 0  # not a gate
    for item in found.values():
        assert item["response"] is None
        assert item["windows"] is None
        assert item["compressed"] is False
        assert item["message"]["rsv1"] is False
    code, out, err = probe(url, "--expect", "12:5", "--server", "websockets")
    assert code == 1
    assert "problem: compression is off: the server accepted permessage-deflate for no offer" in out
    assert "fix: turn permessage-deflate on (python-websockets: compression=None)" in out
    assert err.strip().startswith("wsztune: error: probe: 1 problem(s); first: compression is off")
    assert probe(url, "--expect", "off")[0] == 0


@pytest.mark.parametrize("server", sorted(OFF_KNOBS))
def test_compression_off_in_each_python_stack(ports: dict[str, int], server: str) -> None:
    url = f"ws://127.0.0.1:{ports[server + '-off']}/0"
    code, found = probe_json(url)
    assert all(item["response"] is None and item["compressed"] is False for item in found.values())
    code, out, _ = probe(url, "--expect", "15", "--server", server, "--client", "firefox")
    assert code == 1
    assert "problem: compression is off" in out
    assert "fix: turn permessage-deflate on (" in out and OFF_KNOBS[server] in out


def test_other_window_than_expected_fails_the_gate(ports: dict[str, int]) -> None:
    url = f"ws://127.0.0.1:{ports['window10']}/"
    code, out, _ = probe(url, "--expect", "12:5", "--server", "websockets")
    assert code == 1
    assert "problem: server window 10 bits, expected 12" in out
    assert "fix: set python-websockets's server_max_window_bits to 12" in out
    browsers = ("--client", "chrome", "--client", "firefox", "--client", "safari")
    assert probe(url, "--expect", "10", *browsers)[0] == 0
    # The stack's default server passes the same gate (for the browsers: coder's Dial refuses
    # python-websockets' answer, test_incompatible_answers_are_named_with_the_client).
    assert probe(f"ws://127.0.0.1:{ports['websockets']}/", "--expect", "12:5", *browsers)[0] == 0


def test_bare_offers_refused_as_websockets_10_did(ports: dict[str, int]) -> None:
    url = f"ws://127.0.0.1:{ports['bare-refused']}/"
    code, found = probe_json(url)
    assert code == 0
    assert found["firefox"]["response"] is None and found["firefox"]["compressed"] is False
    assert found["safari"]["response"] is None
    assert found["chrome"]["response"] == WEBSOCKETS_12["chrome"]
    code, out, _ = probe(url, "--expect", "12")
    assert code == 1
    assert (
        "problem: permessage-deflate refused for bare offers (Firefox, Safari), accepted for "
        "offers with parameters"
    ) in out
    assert "websockets issue 1109" in out and "require_client_max_window_bits" in out


def test_memory_from_the_profile_and_a_budget(ports: dict[str, int]) -> None:
    """--server: zlib's formula at the stack's memLevel; Firefox's bare offer keeps the server's
    inflater at 15 bits. --max-memory makes it a gate."""
    url = f"ws://127.0.0.1:{ports['websockets']}/"
    code, found = probe_json(url, "--server", "websockets")
    assert found["chrome"]["memory"] == (1 << 14) + (1 << 14) + (1 << 12)  # 12:5 + 12-bit
    assert found["firefox"]["memory"] == (1 << 14) + (1 << 14) + (1 << 15)
    assert (
        probe(url, "--server", "websockets", "--max-memory", "64KiB", "--client", "firefox")[0] == 0
    )
    code, out, _ = probe(url, "--server", "websockets", "--max-memory", "48KiB")
    assert code == 1
    assert "over the budget of 48.0 KiB" in out
    assert "clients: firefox, safari, gorilla, coder" in out


def test_memory_from_a_run(ports: dict[str, int], tmp_path: Path) -> None:
    """--results: the run's observed connection_memory of the negotiated cell."""
    results = tmp_path / "run.json"
    corpus = Path(__file__).resolve().parents[2] / "wsztune" / "data" / "demo.records.jsonl"
    done = CliRunner().invoke(
        cli,
        ["run", str(corpus), "-o", str(results), "--no-timing", "--window-bits", "12,15",
         "--mem-level", "5"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    from wsztune import results as results_module

    cells = results_module.load(results).cells
    code, found = probe_json(
        f"ws://127.0.0.1:{ports['websockets']}/", "--results", str(results), "--client", "chrome"
    )
    cell = next(c for c in cells if (c["window_bits"], c["client_window_bits"]) == (12, 12))
    assert found["chrome"]["memory"] == cell["connection_memory"]
    assert found["chrome"]["memory_source"].startswith("run, cell 12:5 client 12")
    # Firefox's 12/15 is no cell of this run: the 12-bit compressor plus a 15-bit inflater.
    wide = next(c for c in cells if c["client_window_bits"] == 15)
    firefox = cell["compress_memory_observed"] + wide["decompress_memory_observed"]
    args = ("--results", str(results), "--client", "chrome", "--client", "firefox")
    code, found = probe_json(f"ws://127.0.0.1:{ports['websockets']}/", *args)
    assert found["firefox"]["memory"] == firefox
    assert "+ inflater of 15 bits" in found["firefox"]["memory_source"]
    # The gate: a budget between the two fails for Firefox only.
    budget = f"{(cell['connection_memory'] + firefox) // 2}B"
    code, out, _ = probe(f"ws://127.0.0.1:{ports['websockets']}/", *args, "--max-memory", budget)
    assert code == 1
    assert "over the budget" in out and "clients: firefox\n" in out


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        ("403", "the server answered HTTP 403 Forbidden: it refuses this client; check --origin"),
        ("400", "the server answered HTTP 400 Bad Request to the upgrade: is the path a "),
        ("redirect", "a redirect to ws://example.test/ws: probe that URL instead"),
    ],
)
def test_http_refusals_are_one_line(ports: dict[str, int], server: str, expected: str) -> None:
    code, out, err = probe(f"ws://127.0.0.1:{ports[server]}/")
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert expected in err


def test_origin_and_header_reach_the_server(ports: dict[str, int]) -> None:
    """--origin and --header are sent as given: without them, one line naming both (401, 403);
    with them, the probe goes through."""
    url = f"ws://127.0.0.1:{ports['guarded']}/"
    code, _, err = probe(url)
    assert code == 2 and "HTTP 401 Unauthorized: it refuses this client; check --origin" in err
    code, _, err = probe(url, "--header", "Authorization: Bearer s3cret")
    assert code == 2 and "HTTP 403 Forbidden" in err
    code, found = probe_json(
        url, "--header", "Authorization: Bearer s3cret", "--origin", "https://app.test",
        "--client", "firefox",
    )  # fmt: skip
    assert code == 0 and found["firefox"]["response"] == WEBSOCKETS_12["firefox"]


def test_unreachable_host_is_one_line() -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, out, err = probe(f"ws://127.0.0.1:{port}/")
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"wsztune: error: ws://127.0.0.1:{port}/: cannot connect to 127.0.0.1:{port} "
        "(connection refused): is the server running, and the host and port right?"
    ]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1/", "the URL must start with ws:// or wss://: write ws://127.0.0.1..."),
        ("ws:///x", "no host"),
    ],
)
def test_bad_urls_are_one_line(url: str, expected: str) -> None:
    code, _, err = probe(url)
    assert code == 2 and len(err.splitlines()) == 1 and expected in err


def test_bad_options_are_one_line(ports: dict[str, int]) -> None:
    url = f"ws://127.0.0.1:{ports['websockets']}/"
    for args, expected in [
        (("--expect", "16:2"), "--expect '16:2': give WINDOW:MEMLEVEL"),
        (("--header", "no colon"), "--header 'no colon': write it as 'Name: value'"),
        (("--client", "netscape"), "--client 'netscape': no such profile"),
        (("--max-memory", "64KiB"), "--max-memory needs the memory per connection"),
    ]:
        code, _, err = probe(url, *args)
        assert code == 2, args
        assert len(err.splitlines()) == 1 and expected in err, err


def test_send_on_an_echo_path_and_a_custom_offer(ports: dict[str, int]) -> None:
    """--offer adds a client; --send's message is sent first (the greeting still comes first
    here); a custom offer asking for a 9-bit server window gets it."""
    offer = "permessage-deflate; server_max_window_bits=9; client_max_window_bits"
    code, found = probe_json(
        f"ws://127.0.0.1:{ports['websockets']}/", "--client", "chrome", "--offer", offer,
        "--send", "hello",
    )  # fmt: skip
    assert code == 0
    assert list(found) == ["chrome", "custom"]
    assert found["custom"]["offer"] == offer
    assert found["custom"]["response"] == (
        "permessage-deflate; server_max_window_bits=9; client_max_window_bits=12"
    )
    assert found["custom"]["compressed"] is True


def test_send_shows_compression_on_a_silent_echo_path(ports: dict[str, int]) -> None:
    """A server that speaks only when spoken to: without --send, compressed is unknown (null)
    and the text says to use --send; with it, the echo comes back compressed."""
    url = f"ws://127.0.0.1:{ports['echo']}/"
    code, found = probe_json(url, "--client", "chrome", "--wait", "0.3")
    assert code == 0 and found["chrome"]["compressed"] is None
    assert found["chrome"]["message"] is None
    code, out, _ = probe(url, "--client", "chrome", "--wait", "0.3")
    assert "compressed  unknown: no message from the server within 0.3 s (try --send" in out
    code, found = probe_json(url, "--client", "chrome", "--send", GREETING)
    assert found["chrome"]["compressed"] is True
    assert found["chrome"]["message"]["raw_bytes"] == len(GREETING)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with openssl)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate (Debian: openssl)")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def tls_port(certificate: tuple[Path, Path]) -> Iterator[int]:
    """python-websockets (its default compression) behind TLS with the self-signed certificate."""
    import contextlib
    import ssl

    from websockets.asyncio.server import serve

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)

    @contextlib.asynccontextmanager
    async def server():  # type: ignore[no-untyped-def]
        async def handler(ws):  # type: ignore[no-untyped-def]
            await ws.send(GREETING)
            with contextlib.suppress(Exception):
                await ws.wait_closed()

        async with serve(handler, "127.0.0.1", 0, ssl=context) as running:
            yield running.sockets[0].getsockname()[1]

    loop = Loop()
    try:
        yield loop.start(server)
    finally:
        loop.close()


def test_tls_untrusted_certificate_is_one_line(tls_port: int, certificate: tuple) -> None:
    url = f"wss://127.0.0.1:{tls_port}/"
    code, out, err = probe(url)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1
    assert "TLS certificate not trusted (self-signed certificate)" in err
    assert "--cafile FILE" in err and "--insecure" in err
    code, found = probe_json(url, "--cafile", str(certificate[0]), "--client", "firefox")
    assert code == 0 and found["firefox"]["response"] == WEBSOCKETS_12["firefox"]
    code, found = probe_json(url, "--insecure", "--client", "chrome")
    assert code == 0 and found["chrome"]["compressed"] is True


def test_tls_to_a_plain_server_is_one_line(ports: dict[str, int]) -> None:
    code, _, err = probe(f"wss://127.0.0.1:{ports['websockets']}/")
    assert code == 2 and len(err.splitlines()) == 1
    assert "TLS handshake failed" in err and "did you mean ws://?" in err
