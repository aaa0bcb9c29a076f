"""wsztune's client model against real browsers' frames (tests/support/browsers.py).

* Firefox ESR offers bare ``permessage-deflate``: the server cannot cap its window (RFC 7692
  section 7.1.2.2), so it compresses at 15 bits, memLevel 8, level -1 whatever the server
  grants, with the system's zlib. Its frames must equal stock zlib at 15:8 exactly.
* Chromium offers ``permessage-deflate; client_max_window_bits`` and compresses with its own
  copy of zlib (third_party/zlib, linked into the browser) at memLevel 8, Z_DEFAULT_COMPRESSION
  and the window ``max(negotiated, 9)`` (net/websockets/websocket_deflater.cc). Chromium's zlib is
  a fork (SIMD hashing, other match finding) that cannot be loaded outside the browser, so the
  model is stock zlib at the same parameters: equal in most frames, a frame off by a byte or two
  now and then. The test holds each corpus and window to 0.1% of the total, and reports how many
  frames were exact.
"""

from __future__ import annotations

import asyncio
import functools

import pytest

from tests.support import browsers, wire
from wsztune import stacks
from wsztune.corpus import CLIENT
from wsztune.permessage_deflate import Setting
from wsztune.sweep import ClientVariant

pytestmark = pytest.mark.live

CORPORA = wire.verify_corpora()
# Chromium's tolerance: the bar where Chromium's own zlib cannot be had.
CHROMIUM_TOLERANCE = 0.001


def client_model(client: str, server: Setting, payloads: list[bytes]) -> list[int]:
    """What ``wsztune run --client CLIENT`` models for the client direction of a server
    configured as ``server``: the client profile's window, memLevel and level."""
    setting = ClientVariant.of(stacks.CLIENTS[client]).apply(server)
    return wire.model_sizes(payloads, setting.sender(CLIENT), setting.client_bits)


@functools.cache
def messages(name: str) -> tuple[wire.Message, ...]:
    """A corpus's first server messages, loaded once per session."""
    return tuple(wire.corpus_messages(name, 150))


@pytest.fixture(scope="module")
def firefox_runs() -> dict[tuple[str, int | None], browsers.ClientFrames]:
    """One Firefox session: every corpus, with the server granting no client window and then
    ``client_max_window_bits=10`` (which Firefox never offered, so cannot be applied)."""
    binary = browsers.firefox()
    if binary is None:
        pytest.skip("Firefox is not installed (Debian: firefox-esr)")
    keys = [(corpus, grant) for corpus in CORPORA for grant in (None, 10)]
    connections = [
        browsers.Connection(messages(corpus), client_bits=grant, server_bits=11 if grant else None)
        for corpus, grant in keys
    ]
    records = asyncio.run(browsers.run_browser(browsers.firefox_command(binary), connections))
    return dict(zip(keys, records, strict=True))


@pytest.fixture(scope="module")
def chromium_runs() -> dict[tuple[str, int], browsers.ClientFrames]:
    """One Chromium session: every corpus at every client window a server can grant (8-15)."""
    binary = browsers.chromium()
    if binary is None:
        pytest.skip("Chromium is not installed (Debian: chromium)")
    keys = [(corpus, bits) for corpus in CORPORA for bits in range(8, 16)]
    connections = [browsers.Connection(messages(corpus), client_bits=bits) for corpus, bits in keys]
    records = asyncio.run(browsers.run_browser(browsers.chromium_command(binary), connections))
    return dict(zip(keys, records, strict=True))


@pytest.mark.parametrize("corpus", CORPORA)
@pytest.mark.parametrize("grant", [None, 10])
def test_firefox_frames_equal_zlib_15_8(firefox_runs: dict, corpus: str, grant: int | None) -> None:
    """Firefox compresses at 15:8 level -1 whatever the server asks: byte for byte."""
    record = firefox_runs[(corpus, grant)]
    payloads = [payload for _, payload in messages(corpus)]
    assert record.offer == "permessage-deflate"
    assert "client_max_window_bits" not in record.agreed
    assert record.messages == payloads
    assert all(record.compressed())
    assert record.sizes() == wire.model_sizes(payloads, Setting(15, 8, -1))
    # --client firefox models exactly that, whatever the server would grant.
    server = Setting(11, 5, client_window_bits=grant)
    assert record.sizes() == client_model("firefox", server, payloads)


@pytest.mark.parametrize("corpus", CORPORA)
@pytest.mark.parametrize("bits", range(8, 16))
def test_chromium_frames_within_a_tenth_of_a_percent(
    chromium_runs: dict, corpus: str, bits: int
) -> None:
    """Chromium at memLevel 8, default level, window max(granted, 9): within 0.1% of stock zlib
    at any window, most frames exact."""
    record = chromium_runs[(corpus, bits)]
    payloads = [payload for _, payload in messages(corpus)]
    assert record.offer == "permessage-deflate; client_max_window_bits"
    assert f"client_max_window_bits={bits}" in record.agreed
    assert record.messages == payloads
    assert all(record.compressed())
    got = record.sizes()
    model = client_model("chrome", Setting(bits, 5), payloads)  # 8 read as 9, as Chromium
    assert model == wire.model_sizes(payloads, Setting(max(bits, 9), 8, -1))
    exact = sum(a == b for a, b in zip(got, model, strict=True))
    assert abs(sum(got) - sum(model)) <= CHROMIUM_TOLERANCE * sum(model), (
        f"Chromium at {bits} bits on {corpus}: {sum(got)} B on the wire, model {sum(model)} B, "
        f"{exact} of {len(model)} frames exact"
    )
    assert exact >= 0.9 * len(model)
