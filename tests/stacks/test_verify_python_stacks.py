"""wsztune's model against real Python servers, byte for byte, in every cell each can be set to.

Each case starts the real library on 127.0.0.1 (tests/support/wire.py), has a raw client offer
permessage-deflate the way a given client does, reads every frame's payload off the socket, and
compares each message's size with wsztune's zlib model at the values the stack fixes. The frames
are inflated back too, so a size that matches by accident on different content fails.

What each stack can be set to (the server's knobs, and what a client's offer decides):

* aiohttp 3.14: ``WebSocketResponse(compress=True|False)``; compressor level 1 (Z_BEST_SPEED),
  memLevel 8, window = the client's ``server_max_window_bits`` (9-15, else 15), no context
  takeover if the client asks (one compressor with Z_FULL_FLUSH: the same bytes as a fresh one);
* Tornado 6.6: ``get_compression_options() -> {compression_level, mem_level}`` (0-9 x 1-9; None:
  off), window = the client's ``server_max_window_bits``, else 15; it ignores
  ``server_no_context_takeover``;
* uvicorn 0.55: ``--ws`` backend x ``--ws-per-message-deflate``: websockets-sansio (what ``auto``
  picks) 12:5 capped by the client's offer, websockets 15:8, wsproto 15:8 (zlib's defaults);
* daphne 4: no permessage-deflate at all (autobahn's ``perMessageCompressionAccept`` is left at
  its default, which refuses every offer).
"""

from __future__ import annotations

import asyncio
import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.support import wire
from wsztune.permessage_deflate import Setting

pytest.importorskip("aiohttp", reason="pip install -e '.[test]' installs aiohttp")
pytest.importorskip("tornado", reason="pip install -e '.[test]' installs tornado")
pytest.importorskip("uvicorn", reason="pip install -e '.[test]' installs uvicorn")

pytestmark = pytest.mark.live

CORPORA = wire.verify_corpora()

# What clients offer. websockets' connect() offers client_max_window_bits (no value); Firefox the
# bare extension; a client that caps the server's window, server_max_window_bits.
BARE = "permessage-deflate"
WEBSOCKETS = "permessage-deflate; client_max_window_bits"


def capped(bits: int) -> str:
    """An offer asking the server to compress with at most ``bits`` of window."""
    return f"permessage-deflate; server_max_window_bits={bits}; client_max_window_bits"


NO_TAKEOVER = "permessage-deflate; server_no_context_takeover; client_max_window_bits"


@functools.cache
def messages(name: str) -> list[wire.Message]:
    """A corpus's first server messages, loaded once per session."""
    return wire.corpus_messages(name)


@dataclass(frozen=True)
class Case:
    """One real server configuration, one client offer, and what wsztune says it puts on the wire
    (None: uncompressed)."""

    name: str
    server: Callable[[list[wire.Message]], object]  # messages -> async context manager -> port
    offer: str | None
    model: Setting | None


def check(case: Case, corpus: str) -> None:
    """Run ``case`` on ``corpus`` and hold the wire to the model, message by message."""
    sent = messages(corpus)
    payloads = [payload for _, payload in sent]

    async def scenario() -> wire.Wire:
        async with case.server(sent) as port:  # type: ignore[attr-defined]
            return await wire.fetch(port, case.offer)

    with warnings.catch_warnings():
        # uvicorn's legacy websockets backend warns that websockets' legacy API is deprecated.
        warnings.simplefilter("ignore", DeprecationWarning)
        got = asyncio.run(scenario())
    assert len(got.messages()) == len(sent)
    if case.model is None:
        assert got.extensions is None or "permessage-deflate" not in got.extensions
        assert not any(got.compressed())
        assert got.sizes() == [len(payload) for payload in payloads]
        return
    assert got.extensions is not None and got.extensions.startswith("permessage-deflate")
    assert all(got.compressed())
    want = wire.model_sizes(payloads, case.model)
    first = next(
        (i for i, pair in enumerate(zip(got.sizes(), want, strict=True)) if pair[0] != pair[1]),
        None,
    )
    assert got.sizes() == want, (
        f"{case.name} on {corpus}: wire {sum(got.sizes())} B, model {sum(want)} B; "
        f"first differing message {first}"
    )
    assert got.inflate(case.model.server_bits, case.model.context_takeover) == payloads


# aiohttp ----------------------------------------------------------------------------------------

# aiohttp/_websocket/writer.py: Z_BEST_SPEED, and zlib's default memLevel.
AIOHTTP_LEVEL, AIOHTTP_MEM_LEVEL = 1, 8


def aiohttp(compress: bool = True) -> Callable:
    """A factory for aiohttp's server with ``compress``."""
    return lambda sent: wire.aiohttp_server(sent, compress=compress)


AIOHTTP_CASES = [
    Case("aiohttp default, websockets client", aiohttp(), WEBSOCKETS, Setting(15, 8, 1)),
    Case("aiohttp default, bare offer", aiohttp(), BARE, Setting(15, 8, 1)),
    *(
        Case(f"aiohttp, client caps {bits}", aiohttp(), capped(bits), Setting(bits, 8, 1))
        for bits in range(9, 15)
    ),
    Case(
        "aiohttp, client asks no takeover",
        aiohttp(),
        NO_TAKEOVER,
        Setting(15, 8, 1, context_takeover=False),
    ),
    Case("aiohttp compress=False", aiohttp(False), WEBSOCKETS, None),
    Case("aiohttp, client offers nothing", aiohttp(), None, None),
]


@pytest.mark.parametrize("corpus", CORPORA)
@pytest.mark.parametrize("case", AIOHTTP_CASES, ids=lambda case: case.name)
def test_aiohttp_on_the_wire(case: Case, corpus: str) -> None:
    """aiohttp's frames are zlib at level 1, memLevel 8, in each window a client can ask for."""
    check(case, corpus)


def test_aiohttp_fixes_level_1_and_mem_level_8() -> None:
    """No other level or memLevel reproduces aiohttp's frames: the model is not right by luck."""
    sent = messages("chat.records.jsonl")
    payloads = [payload for _, payload in sent]

    async def scenario() -> wire.Wire:
        async with wire.aiohttp_server(sent) as port:
            return await wire.fetch(port, WEBSOCKETS)

    got = asyncio.run(scenario()).sizes()
    matches = [
        (level, mem_level)
        for level in range(0, 10)
        for mem_level in range(1, 10)
        if wire.model_sizes(payloads, Setting(15, mem_level, level)) == got
    ]
    assert (AIOHTTP_LEVEL, AIOHTTP_MEM_LEVEL) in matches
    assert all(level == AIOHTTP_LEVEL for level, _ in matches)


# Tornado ----------------------------------------------------------------------------------------


def tornado(options: dict[str, int] | None) -> Callable:
    """A factory for Tornado's server whose ``get_compression_options`` returns ``options``."""
    return lambda sent: wire.tornado_server(sent, options)


TORNADO_CASES = [
    Case("tornado {} (defaults)", tornado({}), WEBSOCKETS, Setting(15, 8, 6)),
    Case("tornado {}, bare offer", tornado({}), BARE, Setting(15, 8, 6)),
    *(
        Case(f"tornado {{}}, client caps {bits}", tornado({}), capped(bits), Setting(bits, 8, 6))
        for bits in (9, 10, 12, 14)
    ),
    # Tornado does not agree to server_no_context_takeover: it answers the bare extension.
    Case("tornado {}, client asks no takeover", tornado({}), NO_TAKEOVER, Setting(15, 8, 6)),
    Case("tornado compression off", tornado(None), WEBSOCKETS, None),
]


@pytest.mark.parametrize("corpus", CORPORA)
@pytest.mark.parametrize("case", TORNADO_CASES, ids=lambda case: case.name)
def test_tornado_on_the_wire(case: Case, corpus: str) -> None:
    """Tornado's defaults and the windows a client can ask for."""
    check(case, corpus)


@pytest.mark.parametrize("corpus", CORPORA[:2])
def test_tornado_every_level_and_mem_level(corpus: str) -> None:
    """Every cell of Tornado's two knobs, compression_level 0-9 x mem_level 1-9, at window 15."""
    for level in range(10):
        for mem_level in range(1, 10):
            options = {"compression_level": level, "mem_level": mem_level}
            name = f"tornado {options}"
            check(Case(name, tornado(options), WEBSOCKETS, Setting(15, mem_level, level)), corpus)


# uvicorn ----------------------------------------------------------------------------------------


def uvicorn(ws: str, deflate: bool = True) -> Callable:
    """A factory for uvicorn with ``--ws ws``."""
    return lambda sent: wire.uvicorn_server(sent, ws, deflate)


def _sansio(server_bits: int = 12, takeover: bool = True) -> Setting:
    # uvicorn/protocols/websockets/websockets_sansio_impl.py: ServerPerMessageDeflateFactory(
    # server_max_window_bits=12, client_max_window_bits=12, compress_settings={"memLevel": 5})
    return Setting(server_bits, 5, -1, context_takeover=takeover, client_window_bits=12)


UVICORN_CASES = [
    Case("uvicorn --ws auto", uvicorn("auto"), WEBSOCKETS, _sansio()),
    Case("uvicorn --ws auto, bare offer", uvicorn("auto"), BARE, _sansio()),
    Case("uvicorn --ws websockets-sansio", uvicorn("websockets-sansio"), WEBSOCKETS, _sansio()),
    Case("uvicorn sansio, client caps 10", uvicorn("websockets-sansio"), capped(10), _sansio(10)),
    Case(
        "uvicorn sansio, client asks no takeover",
        uvicorn("websockets-sansio"),
        NO_TAKEOVER,
        _sansio(takeover=False),
    ),
    # A bare ServerPerMessageDeflateFactory(): zlib's own defaults, 15:8.
    Case("uvicorn --ws websockets", uvicorn("websockets"), WEBSOCKETS, Setting(15, 8)),
    Case("uvicorn websockets, client caps 11", uvicorn("websockets"), capped(11), Setting(11, 8)),
    Case(
        "uvicorn websockets, client asks no takeover",
        uvicorn("websockets"),
        NO_TAKEOVER,
        Setting(15, 8, context_takeover=False),
    ),
    # wsproto's PerMessageDeflate(): compressobj(Z_DEFAULT_COMPRESSION, DEFLATED, -bits).
    Case("uvicorn --ws wsproto", uvicorn("wsproto"), WEBSOCKETS, Setting(15, 8)),
    Case("uvicorn wsproto, client caps 9", uvicorn("wsproto"), capped(9), Setting(9, 8)),
    Case(
        "uvicorn wsproto, client asks no takeover",
        uvicorn("wsproto"),
        NO_TAKEOVER,
        Setting(15, 8, context_takeover=False),
    ),
    *(
        Case(f"uvicorn --ws {ws}, deflate off", uvicorn(ws, False), WEBSOCKETS, None)
        for ws in ("auto", "websockets", "wsproto")
    ),
]


@pytest.mark.parametrize("corpus", CORPORA)
@pytest.mark.parametrize("case", UVICORN_CASES, ids=lambda case: case.name)
def test_uvicorn_on_the_wire(case: Case, corpus: str) -> None:
    """Each uvicorn backend, compression on and off."""
    check(case, corpus)


# daphne -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("corpus", CORPORA[:2])
def test_daphne_never_compresses(corpus: str) -> None:
    """daphne refuses permessage-deflate whatever the client offers: every frame is the message."""
    pytest.importorskip("daphne", reason="pip install -e '.[test]' installs daphne")
    for offer in (WEBSOCKETS, BARE):
        check(Case("daphne", wire.daphne_server, offer, None), corpus)
