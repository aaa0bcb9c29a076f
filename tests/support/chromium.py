"""Open a local HTML file in a real headless Chromium and report what a user would see.

Driven over the Chrome DevTools Protocol (CDP) on its websocket, with the ``websockets``
package: the page is loaded from a ``file://`` URL, and everything the browser says about it is
collected: console messages and uncaught exceptions, log entries (CSP violations arrive there),
every network request, the DOM after load, and a screenshot. Tests assert on a :class:`PageView`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.browsers import CHROMIUM_FLAGS, chromium

CHROMIUM = os.environ.get("WSZTUNE_CHROMIUM") or chromium() or "/usr/bin/chromium"
# The verification tests' flags (headless, no sandbox, nothing called at start-up), and a
# DevTools port the system picks, written to the profile's DevToolsActivePort.
FLAGS = (*CHROMIUM_FLAGS, "--remote-debugging-port=0")

# What the page is asked after load: the facts the tests check, in one round trip.
PROBE = """(() => {
  const imgs = [...document.images];
  const bg = getComputedStyle(document.body).backgroundColor;
  return JSON.stringify({
    title: document.title,
    text: document.body ? document.body.innerText : "",
    ids: [...document.querySelectorAll("[id]")].map(e => e.id),
    images: imgs.length,
    images_drawn: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
    background: bg,
    scroll_width: document.documentElement.scrollWidth,
    inner_width: window.innerWidth,
  });
})()"""


@dataclass
class PageView:
    """What the browser made of a page."""

    url: str
    dom: dict[str, Any] = field(default_factory=dict)
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    screenshot: bytes = b""

    @property
    def external_requests(self) -> list[str]:
        """Requests that would leave the file: anything but the file itself and data: URIs."""
        return [url for url in self.requests if url != self.url and not url.startswith("data:")]

    def pixel_spread(self) -> float:
        """Standard deviation of the screenshot's grey levels: about 0 for a blank page."""
        from PIL import Image, ImageStat

        image = Image.open(io.BytesIO(self.screenshot)).convert("L")
        return float(ImageStat.Stat(image).stddev[0])

    def problems(self, *, expect_text: tuple[str, ...] = (), min_images: int = 0) -> list[str]:
        """Everything wrong with the page, in words; empty when it rendered cleanly."""
        found = [f"console error: {line}" for line in self.console_errors]
        found += [f"request leaving the file: {url}" for url in self.external_requests]
        text = self.dom.get("text", "")
        found += [f"text not rendered: {word!r}" for word in expect_text if word not in text]
        if self.dom.get("images_drawn", 0) < min_images:
            found.append(f"only {self.dom.get('images_drawn', 0)} of {min_images} images drawn")
        if self.pixel_spread() < 5:
            found.append(f"blank screenshot (grey-level spread {self.pixel_spread():.1f})")
        return found


def available() -> bool:
    """Whether a Chromium binary is there to run."""
    return Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is not None


class Browser:
    """One headless Chromium, started once, in which any number of pages are viewed.

    ``with Browser() as browser: browser.view(path)``; each view gets a fresh tab.
    """

    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._profile: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._endpoint = ""

    def __enter__(self) -> Browser:
        # Chromium's helper processes may still write into the profile after the browser has
        # gone: they are stopped with it (one session), and a late write must not fail the test.
        self._profile = tempfile.TemporaryDirectory(
            prefix="wsztune-chromium-", ignore_cleanup_errors=True
        )
        self._process = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={self._profile.name}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            self._endpoint = _endpoint(Path(self._profile.name), self._process, self.timeout)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
            self._process = None
        if self._profile is not None:
            self._profile.cleanup()
            self._profile = None

    def view(
        self,
        path: Path,
        *,
        width: int = 1200,
        height: int = 1600,
        mobile: bool = False,
        dark: bool = False,
    ) -> PageView:
        """Load ``path`` in a new tab and return what the browser saw."""
        return asyncio.run(
            asyncio.wait_for(
                _drive(self._endpoint, path.resolve().as_uri(), width, height, mobile, dark),
                self.timeout,
            )
        )


def view(path: Path, **options: Any) -> PageView:
    """Load ``path`` in a fresh headless Chromium of its own (see :class:`Browser`)."""
    with Browser() as browser:
        return browser.view(path, **options)


def _endpoint(profile: Path, process: subprocess.Popen[bytes], timeout: float) -> str:
    """The browser's CDP websocket URL, from the DevToolsActivePort file Chromium writes."""
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with {process.returncode} before listening")
        if port_file.exists():
            lines = port_file.read_text().split()
            if len(lines) >= 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        time.sleep(0.05)
    raise TimeoutError("chromium did not open its DevTools port")


class _Session:
    """One CDP connection: numbered commands, and every event kept for later."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    async def send(self, method: str, session: str | None = None, **params: Any) -> Any:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        await self.connection.send(json.dumps(message))
        while True:
            reply = json.loads(await self.connection.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    async def wait_for(self, method: str, timeout: float) -> None:
        if any(event.get("method") == method for event in self.events):
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                raw = await asyncio.wait_for(self.connection.recv(), deadline - time.monotonic())
            except TimeoutError:
                break
            event = json.loads(raw)
            self.events.append(event)
            if event.get("method") == method:
                return
        raise TimeoutError(f"no {method} within {timeout} s")


async def _drive(
    endpoint: str, url: str, width: int, height: int, mobile: bool, dark: bool
) -> PageView:
    from websockets.asyncio.client import connect

    async with connect(endpoint, max_size=None) as connection:
        cdp = _Session(connection)
        target = await cdp.send("Target.createTarget", url="about:blank")
        attached = await cdp.send(
            "Target.attachToTarget", targetId=target["targetId"], flatten=True
        )
        session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            await cdp.send(f"{domain}.enable", session)
        await cdp.send(
            "Emulation.setDeviceMetricsOverride",
            session,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=mobile,
        )
        await cdp.send(
            "Emulation.setEmulatedMedia",
            session,
            features=[{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}],
        )
        cdp.events.clear()
        await cdp.send("Page.navigate", session, url=url)
        await cdp.wait_for("Page.loadEventFired", 30)
        await asyncio.sleep(0.3)  # late console messages and image decoding
        probe = await cdp.send("Runtime.evaluate", session, expression=PROBE, returnByValue=True)
        shot = await cdp.send("Page.captureScreenshot", session, format="png")
        await cdp.send("Target.closeTarget", targetId=target["targetId"])
        page = PageView(url=url, dom=json.loads(probe["result"]["value"]))
        page.screenshot = base64.b64decode(shot["data"])
        for event in cdp.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                page.console_errors.append(
                    " ".join(
                        str(arg.get("value", arg.get("description", "")))
                        for arg in params.get("args", [])
                    )
                )
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                page.console_errors.append(
                    details.get("exception", {}).get("description") or details.get("text", "")
                )
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                page.console_errors.append(params["entry"].get("text", ""))
            elif method == "Network.requestWillBeSent":
                page.requests.append(params.get("request", {}).get("url", ""))
            elif method == "Network.loadingFailed" and params.get("blockedReason"):
                page.console_errors.append(f"blocked ({params['blockedReason']})")
        return page
