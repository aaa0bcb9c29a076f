"""Real browsers as WebSocket clients, headless, for the verification tests.

A python-websockets server on 127.0.0.1 serves a page and one WebSocket endpoint per setting to
try (each its own port, each granting its own ``client_max_window_bits``). The page opens the
endpoints one after the other; on each, the server sends the corpus messages one at a time and
the page sends each back as it came (text as text, binary as binary). The server records what
the browser offered, what was agreed, and every client frame's payload as it arrived: its RSV1
bit and its size, before anything inflates it. The echoed messages are checked against the
corpus, so a size can only be compared with the model on the same content.

Browsers: Debian's ``chromium`` and ``firefox-esr``, started headless with a throwaway profile
and stopped (by their process id) when the page is done or the time is up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

LOOPBACK = "127.0.0.1"
TIMEOUT = 300.0  # a whole session: browser start-up and every connection, on a busy machine

Message = tuple[bool, bytes]  # (is_text, payload)

PAGE = """<!doctype html>
<meta charset="utf-8"><title>running</title>
<script>
const urls = new URLSearchParams(location.search).get("urls").split(",");
function one(url) {
  return new Promise((done) => {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    ws.onmessage = (event) => ws.send(event.data);
    ws.onclose = () => done();
    ws.onerror = () => done();
  });
}
(async () => { for (const url of urls) await one(url); document.title = "done"; })();
</script>
"""

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
)

# A Firefox profile that starts straight on the page and calls nobody.
FIREFOX_PREFS = """
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("browser.aboutwelcome.enabled", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("datareporting.healthreport.uploadEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("app.update.enabled", false);
user_pref("app.normandy.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("extensions.update.enabled", false);
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
"""


def chromium() -> str | None:
    """Path of a Chromium binary, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


def firefox() -> str | None:
    """Path of a Firefox binary, or None."""
    for name in ("firefox-esr", "firefox"):
        if path := shutil.which(name):
            return path
    return None


def browser_version(binary: str) -> str:
    """``Chromium 156.0...`` / ``Mozilla Firefox 153.8.0esr``."""
    done = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=60, env=_env()
    )
    return done.stdout.strip()


@dataclass
class ClientFrames:
    """What one browser connection did: its offer, the agreement, and its frames to the server."""

    offer: str
    agreed: str
    frames: list[tuple[bool, bool, int]] = field(default_factory=list)  # (rsv1, fin, size)
    messages: list[bytes] = field(default_factory=list)  # what the server read back

    def sizes(self) -> list[int]:
        """Each message's compressed payload bytes (all its frames)."""
        out, size = [], 0
        for _, fin, length in self.frames:
            size += length
            if fin:
                out.append(size)
                size = 0
        return out

    def compressed(self) -> list[bool]:
        """Per message: did the browser compress it (RSV1 on its first frame)?"""
        out, first = [], True
        for rsv1, fin, _ in self.frames:
            if first:
                out.append(rsv1)
            first = fin
        return out


def _recording_factory(  # type: ignore[no-untyped-def]
    record: ClientFrames,
    client_bits: int | None,
    server_bits: int | None,
    client_no_context_takeover: bool = False,
):
    from websockets.extensions.permessage_deflate import (
        PerMessageDeflate,
        ServerPerMessageDeflateFactory,
    )
    from websockets.frames import CTRL_OPCODES

    class Recording(PerMessageDeflate):
        def decode(self, frame, *, max_size=None):  # type: ignore[no-untyped-def]
            if frame.opcode not in CTRL_OPCODES:
                record.frames.append((frame.rsv1, frame.fin, len(frame.data)))
            return super().decode(frame, max_size=max_size)

    class Factory(ServerPerMessageDeflateFactory):
        def process_request_params(self, params, accepted_extensions):  # type: ignore[no-untyped-def]
            response, extension = super().process_request_params(params, accepted_extensions)
            extension.__class__ = Recording
            return response, extension

    return Factory(
        server_max_window_bits=server_bits,
        client_max_window_bits=client_bits,
        client_no_context_takeover=client_no_context_takeover,
    )


def _env() -> dict[str, str]:
    # No display: both browsers run headless. A HOME of their own keeps the user's untouched.
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.setdefault("HOME", tempfile.gettempdir())
    return env


@dataclass(frozen=True)
class Connection:
    """One connection to make: the messages to replay, and what the server grants (None: the
    server does not set that parameter)."""

    messages: Sequence[Message]
    client_bits: int | None = None
    server_bits: int | None = None


async def run_browser(
    command: Sequence[str], connections: Sequence[Connection], timeout: float = TIMEOUT
) -> list[ClientFrames]:
    """Load the page in the browser started by ``command`` (the URL is appended) and make each
    of ``connections`` in turn, one endpoint each."""
    from websockets.asyncio.server import serve
    from websockets.datastructures import Headers
    from websockets.http11 import Response

    records = [ClientFrames("", "") for _ in connections]
    finished = [asyncio.Event() for _ in connections]

    def handler_for(index: int):  # type: ignore[no-untyped-def]
        async def handler(connection) -> None:  # type: ignore[no-untyped-def]
            record = records[index]
            record.offer = connection.request.headers.get("Sec-WebSocket-Extensions", "")
            record.agreed = connection.response.headers.get("Sec-WebSocket-Extensions", "")
            try:
                for is_text, payload in connections[index].messages:
                    await connection.send(payload.decode() if is_text else payload)
                    echo = await connection.recv()
                    record.messages.append(echo.encode() if isinstance(echo, str) else echo)
                await connection.close()
            finally:
                finished[index].set()

        return handler

    def page(connection, request):  # type: ignore[no-untyped-def]
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        body = PAGE.encode()
        headers = Headers([("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
        return Response(200, "OK", headers, body)

    async with contextlib.AsyncExitStack() as stack:
        ports = []
        for index, connection in enumerate(connections):
            factory = _recording_factory(
                records[index], connection.client_bits, connection.server_bits
            )
            server = await stack.enter_async_context(
                serve(
                    handler_for(index),
                    LOOPBACK,
                    0,
                    extensions=[factory],
                    process_request=page if index == 0 else None,
                    max_size=None,
                    compression=None,
                )
            )
            ports.append(next(iter(server.sockets)).getsockname()[1])
        urls = ",".join(f"ws://{LOOPBACK}:{port}/" for port in ports)
        url = f"http://{LOOPBACK}:{ports[0]}/page?urls={urls}"
        profile = stack.enter_context(tempfile.TemporaryDirectory(prefix="wsztune-browser-"))
        argv = [part.replace("{profile}", profile) for part in command]
        if "{prefs}" in " ".join(command):
            Path(profile, "user.js").write_text(FIREFOX_PREFS)
            argv = [part for part in argv if part != "{prefs}"]
        process = await asyncio.create_subprocess_exec(
            *argv,
            url,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=_env(),
            start_new_session=True,  # its own process group: stopped with its helpers
        )
        try:
            async with asyncio.timeout(timeout):
                for event in finished:
                    await event.wait()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
    return records


def chromium_command(binary: str) -> list[str]:
    """Chromium headless with a throwaway profile (``{profile}`` is filled in)."""
    return [binary, *CHROMIUM_FLAGS, "--user-data-dir={profile}"]


def firefox_command(binary: str) -> list[str]:
    """Firefox headless with a throwaway profile holding :data:`FIREFOX_PREFS`."""
    return [binary, "--headless", "--no-remote", "--profile", "{profile}", "{prefs}"]
