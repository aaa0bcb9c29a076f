"""The stack profiles: every stack says what it can set, its defaults, its codec and its sources,
and its snippet renders for a cell it can be set to."""

from __future__ import annotations

import pytest

from wsztune.codecs import CODECS
from wsztune.errors import WsztuneError
from wsztune.stacks import CLIENTS, STACKS, resolve, snippets
from wsztune.stacks.profile import (
    CANNOT_COMPRESS,
    KNOB_AXES,
    STATUSES,
    Preset,
    SnippetContext,
    version_matches,
)

SERVER_NAMES = sorted(STACKS)


def cell_for(profile, pair=None, **overrides):
    """A results-like cell at ``pair`` (default: the stack's default) with its fixed values."""
    defaults = profile.defaults
    wb, ml = pair or profile.default_pair()
    return {
        "window_bits": wb,
        "client_window_bits": defaults.client_window_bits or wb,
        "mem_level": ml,
        "level": defaults.level,
        "strategy": defaults.strategy,
        "context_takeover": defaults.context_takeover,
        "threshold": defaults.threshold,
        "compressed_bytes": 1000,
        "connection_memory": 1000,
        **overrides,
    }


def test_at_least_fifteen_server_stacks_and_four_clients() -> None:
    assert len(STACKS) >= 15
    assert {"chrome", "firefox", "safari", "websockets", "ws"} <= set(CLIENTS)
    for name in (
        "websockets",
        "uvicorn",
        "aiohttp",
        "tornado",
        "daphne",
        "ws",
        "socketio",
        "uwebsockets",
        "tomcat",
        "jetty",
        "netty",
        "spring",
        "dotnet",
        "cowboy",
        "phoenix",
        "bandit",
        "beast",
    ):
        assert name in STACKS, name


@pytest.mark.parametrize("name", SERVER_NAMES)
def test_every_profile_is_complete(name: str) -> None:
    profile = STACKS[name]
    assert profile.title
    if profile.status == CANNOT_COMPRESS:
        assert profile.codec == "none" and profile.instead and not profile.defaults.enabled
    else:
        assert profile.codec in CODECS
    assert profile.status in STATUSES and profile.status_note
    assert profile.sources, "every fact cites a source"
    for source in profile.sources:
        assert source.library and source.version and source.file and source.fact
    for knob in profile.knobs:
        assert knob.axis in KNOB_AXES and knob.values and knob.name
    # Every axis is either a knob or fixed at the stack's value.
    assert profile.settable_pairs(), "a stack can be set to at least one cell"
    assert profile.default_pair() in profile.settable_pairs() or not profile.defaults.enabled


@pytest.mark.parametrize("name", SERVER_NAMES)
def test_every_snippet_renders_for_a_cell_the_stack_can_be_set_to(name: str) -> None:
    profile = STACKS[name]
    assert profile.snippet is not None
    pair = profile.settable_pairs()[-1]
    cell = cell_for(profile, pair)
    preset = Preset(*profile.memory_presets[-1], "a note") if profile.memory_presets else None
    code = profile.snippet(cell, SnippetContext(slice=_FakeSlice({pair: cell}), preset=preset))
    assert code.strip()
    off = profile.snippet({**cell, "compression": False}, SnippetContext())
    assert off.strip()


class _FakeSlice:
    codec = "zlib"

    def __init__(self, cells):
        self.cells = cells

    def get(self, key):
        return self.cells.get(key)


@pytest.mark.parametrize(
    ("name", "pair", "level", "mem_level_knob"),
    [
        ("aiohttp", (15, 8), 1, False),
        ("tornado", (15, 8), 6, True),
        ("tomcat", (15, 8), -1, False),
        ("uvicorn", (12, 5), -1, False),
        ("uvicorn-websockets", (15, 8), -1, False),
        ("uvicorn-wsproto", (15, 8), -1, False),
        ("ws", (15, 8), -1, True),
        ("websockets", (12, 5), -1, True),
        ("beast", (15, 4), 8, True),
        ("dotnet", (15, 8), -1, False),
    ],
)
def test_defaults_and_fixed_values(name, pair, level, mem_level_knob) -> None:
    profile = STACKS[name]
    assert profile.default_pair() == pair
    assert profile.defaults.level == level
    assert (profile.knob("mem_level") is not None) == mem_level_knob


def test_ws_default_is_zlibs_15_8_with_a_threshold_of_1024() -> None:
    ws = STACKS["ws"]
    assert ws.defaults.label == "15:8" and ws.threshold == 1024 and ws.threshold_rule == "ws"


def test_on_off_only_stacks() -> None:
    assert {n for n, p in STACKS.items() if p.on_off_only} >= {
        "aiohttp",
        "tomcat",
        "jetty",
        "uvicorn",
        "uvicorn-websockets",
        "spring",
        "phoenix",
    }
    assert not STACKS["tornado"].on_off_only and not STACKS["ws"].on_off_only


def test_uvicorn_auto_depends_on_the_version() -> None:
    profile, version = resolve("uvicorn@0.49")
    assert version == "0.49" and profile.default_pair(version) == (15, 8)
    assert profile.default_pair("0.50.0") == (12, 5) and profile.default_pair(None) == (12, 5)
    assert resolve("FastAPI==0.55.0")[0].name == "uvicorn"
    assert "0.50.0" in profile.version_note("0.40.1")
    assert "no websockets-sansio backend" in profile.version_note("0.30.1")


def test_dotnet_codec_follows_the_version() -> None:
    dotnet = STACKS["dotnet"]
    assert dotnet.codec_for(None) == "zlib-ng" and dotnet.codec_for("8") == "zlib"
    assert dotnet.codec_for("9.0") == "zlib-ng"


def test_settable_cells() -> None:
    aiohttp = STACKS["aiohttp"]
    assert aiohttp.settable(cell_for(aiohttp))
    assert not aiohttp.settable(cell_for(aiohttp, level=-1))  # aiohttp fixes level 1
    assert not aiohttp.settable(cell_for(aiohttp, (12, 5)))
    assert aiohttp.settable({"compression": False})
    daphne = STACKS["daphne"]
    assert daphne.settable({"compression": False}) and not daphne.settable(cell_for(daphne))
    uws = STACKS["uwebsockets"]
    assert uws.settable(cell_for(uws, (11, 4))) and not uws.settable(cell_for(uws, (11, 5)))


def test_unknown_stack_is_a_usage_error_naming_the_known_ones() -> None:
    with pytest.raises(WsztuneError, match="known: .*aiohttp"):
        resolve("nginx")
    with pytest.raises(WsztuneError, match="version"):
        resolve("uvicorn@latest")


@pytest.mark.parametrize(
    ("version", "spec", "expected"),
    [
        ("0.49.0", "<0.50.0", True),
        ("0.50", "<0.50.0", False),
        ("0.55.0", ">=0.50.0", True),
        ("9", ">=9", True),
        ("8.0.11", "<9", True),
        ("1.2", ">1,<2", True),
    ],
)
def test_version_matches(version, spec, expected) -> None:
    assert version_matches(version, spec) is expected


def test_firefox_cannot_be_capped_chrome_can() -> None:
    assert CLIENTS["firefox"].window_for(10) == 15
    assert CLIENTS["chrome"].window_for(10) == 10 and CLIENTS["chrome"].window_for(8) == 9


def test_default_snippets_are_marked_when_the_run_measured_another_codec() -> None:
    ws = STACKS["ws"]
    cell = cell_for(ws)
    out = snippets(cell, _FakeSlice({(15, 8): cell}), {"uwebsockets": Preset(15, 8, "a note")})
    assert list(out) == [
        "python-websockets (serve)",
        "Node ws",
        "Socket.IO",
        "uWebSockets (presets only)",
    ]
    assert out["Node ws"][1].startswith("// measured with CPython's zlib")


def test_coder_is_more_than_on_or_off() -> None:
    """coder sets context takeover and a threshold besides the switch: recommend must not say it
    "can only turn compression on or off" (it did, issue 25's Go-parity pass noticed)."""
    from wsztune.recommend.explain import cannot_set
    from wsztune.stacks import STACKS

    assert not STACKS["coder"].on_off_only
    assert "can only turn compression on or off" not in cannot_set(STACKS["coder"])
    assert STACKS["uvicorn"].on_off_only and STACKS["aiohttp"].on_off_only
