"""uvicorn (FastAPI, Starlette): one on/off knob, and a backend (``--ws``) whose default differs.

``--ws-per-message-deflate`` (on by default) is uvicorn's only compression knob. What runs
depends on the backend, and ``--ws auto`` picked different backends over the versions (read in
uvicorn's ``uvicorn/protocols/websockets/auto.py`` of each release on PyPI):

* 0.50.0 and later: ``auto`` picks websockets-sansio when websockets is installed, which builds
  ``ServerPerMessageDeflateFactory(server_max_window_bits=12, client_max_window_bits=12,
  compress_settings={"memLevel": 5})``: 12:5;
* before 0.50.0: ``auto`` picks the ``websockets`` backend (websockets' legacy server), which builds
  a bare ``ServerPerMessageDeflateFactory()``: zlib's 15:8 (about 300 KiB per connection);
* without websockets, ``auto`` picks wsproto, whose ``PerMessageDeflate()`` is 15:8 as well.
"""

from __future__ import annotations

from wsztune.stacks.profile import (
    VERIFIED,
    Cell,
    Defaults,
    Knob,
    SnippetContext,
    Source,
    Stack,
    Version,
    version_matches,
)

SANSIO = Defaults(window_bits=12, mem_level=5, client_window_bits=12)
WEBSOCKETS = Defaults(window_bits=15, mem_level=8)
WSPROTO = Defaults(window_bits=15, mem_level=8)
# The first uvicorn whose --ws auto picks websockets-sansio (bisected on PyPI's wheels).
AUTO_SANSIO_SINCE = "0.50.0"
# The first uvicorn with a websockets-sansio backend at all (websockets_sansio_impl.py is in the
# 0.35.0 wheel, not in 0.34.3's).
SANSIO_SINCE = "0.35.0"
BACKENDS = {
    "websockets-sansio": ("uvicorn-sansio", SANSIO),
    "websockets": ("uvicorn-websockets", WEBSOCKETS),
    "wsproto": ("uvicorn-wsproto", WSPROTO),
}


def _backend(cell: Cell) -> str:
    """The --ws backend that runs ``cell``'s setting, or an empty string if none does."""
    pair = (cell["window_bits"], cell["mem_level"])
    if pair == (12, 5) and cell["level"] == -1:
        return "websockets-sansio"
    if pair == (15, 8) and cell["level"] == -1:
        return "websockets"
    return ""


def uvicorn_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """The command line that runs ``cell`` (uvicorn has no window or memLevel option)."""
    if cell.get("compression") is False:
        return "uvicorn app:app --ws-per-message-deflate false"
    backend = _backend(cell)
    version = getattr(context.slice, "server_version", None) if context is not None else None
    if backend == "websockets-sansio" and version and not version_matches(
        version, f">={SANSIO_SINCE}"
    ):
        return (
            f"# uvicorn {version} has no websockets-sansio backend (it came in {SANSIO_SINCE}), "
            "so it cannot run 12:5:\n# upgrade uvicorn, or serve with python-websockets "
            "directly (--server websockets)"
        )
    if not backend:
        return (
            f"# uvicorn cannot run {cell['window_bits']}:{cell['mem_level']}: its backends run "
            "12:5 (--ws websockets-sansio) or 15:8 (--ws websockets, --ws wsproto) only;\n"
            "# for another setting, serve with python-websockets directly (--server websockets)"
        )
    return f"uvicorn app:app --ws {backend} --ws-per-message-deflate true"


_ON_OFF = Knob("--ws-per-message-deflate", "enabled", (True, False), True)
_BACKEND_KNOB = Knob(
    "--ws",
    "backend",
    ("auto", "websockets-sansio", "websockets", "wsproto"),
    "auto",
    "websockets-sansio runs 12:5, websockets and wsproto 15:8",
)

_SOURCES = (
    Source(
        "uvicorn",
        "0.55.0",
        "uvicorn/protocols/websockets/auto.py",
        "auto imports websockets_sansio_impl when websockets is installed, else wsproto_impl",
    ),
    Source(
        "uvicorn",
        "0.49.0",
        "uvicorn/protocols/websockets/auto.py",
        "auto imports websockets_impl (the legacy websockets backend) when websockets is "
        "installed; 0.50.0 is the first release whose auto picks websockets-sansio",
    ),
    Source(
        "uvicorn",
        "0.55.0",
        "uvicorn/protocols/websockets/websockets_sansio_impl.py",
        "ServerPerMessageDeflateFactory(server_max_window_bits=12, client_max_window_bits=12, "
        'compress_settings={"memLevel": 5}) when ws_per_message_deflate',
    ),
    Source(
        "uvicorn",
        "0.55.0",
        "uvicorn/protocols/websockets/websockets_impl.py",
        "extensions.append(ServerPerMessageDeflateFactory()): no arguments, zlib's 15:8",
    ),
    Source(
        "uvicorn",
        "0.55.0",
        "uvicorn/protocols/websockets/wsproto_impl.py",
        "extensions.append(PerMessageDeflate()): wsproto's defaults",
    ),
    Source(
        "uvicorn",
        "0.55.0",
        "uvicorn/config.py",
        "ws_per_message_deflate: bool = True; --ws auto|none|websockets|websockets-sansio|wsproto",
    ),
    Source(
        "wsproto",
        "1.3.2",
        "wsproto/extensions.py",
        "PerMessageDeflate: windows 15 by default; zlib.compressobj(Z_DEFAULT_COMPRESSION, "
        "DEFLATED, -bits): memLevel 8, level -1; the compressor is built on the first message",
    ),
    Source(
        "ANCHORS.md section 6",
        "uvicorn 0.55.0, websockets 17.4",
        "frame counter on the wire",
        "--ws auto negotiated 12/12 and reproduced zlib 12:5; --ws websockets 15:8",
    ),
)

_PITFALLS = (
    "no window or memLevel option: the only choices are the backend (--ws) and on/off",
    "which backend --ws auto picks depends on the version (websockets-sansio from 0.50.0, "
    "the websockets backend before) and on what is installed (wsproto without websockets)",
    "the websockets and wsproto backends accept a client's bare permessage-deflate at 15 bits: "
    "about 300 KiB per connection, reported as 4 GB for 5-8k connections",
)

_ALTERNATIVES = ("uvicorn-sansio", "uvicorn-websockets", "uvicorn-wsproto", "websockets")


def _profile(name: str, title: str, defaults: Defaults, note: str, **extra: object) -> Stack:
    return Stack(
        name=name,
        title=title,
        codec="zlib",
        defaults=defaults,
        knobs=(_ON_OFF, _BACKEND_KNOB),
        fixed={
            "level": "every backend compresses at zlib's default level (-1)",
            "strategy": "zlib's default strategy",
            "context_takeover": "granted when the client asks for no context takeover",
            "client_window_bits": "the backend's: 12 (websockets-sansio) or the client's (15)",
        },
        status=str(extra.pop("status", VERIFIED)),
        status_note=note,
        sources=_SOURCES,
        pitfalls=_PITFALLS,
        snippet=uvicorn_snippet,
        snippet_title="uvicorn",
        lexer="bash",
        alternatives=tuple(a for a in _ALTERNATIVES if a != name),
        family="uvicorn",
        **extra,  # type: ignore[arg-type]
    )


PROFILES = (
    _profile(
        "uvicorn",
        "uvicorn --ws auto",
        SANSIO,
        "python-websockets' own compressor underneath; the wire bytes of a real uvicorn 0.55 "
        "matched zlib 12:5 (ANCHORS.md section 6)",
        aliases=("fastapi", "starlette"),
        versions=(
            Version(
                f"<{SANSIO_SINCE}",
                WEBSOCKETS,
                f"uvicorn before {SANSIO_SINCE}: --ws auto picks the websockets backend, a bare "
                "ServerPerMessageDeflateFactory(): 15:8; there is no websockets-sansio backend "
                f"(it came in {SANSIO_SINCE})",
                lacks=("uvicorn-sansio",),
            ),
            Version(
                f"<{AUTO_SANSIO_SINCE}",
                WEBSOCKETS,
                f"uvicorn before {AUTO_SANSIO_SINCE}: --ws auto picks the websockets backend, "
                "a bare ServerPerMessageDeflateFactory(): 15:8",
            ),
            Version(
                f">={AUTO_SANSIO_SINCE}",
                SANSIO,
                f"uvicorn {AUTO_SANSIO_SINCE} and later: --ws auto picks websockets-sansio: 12:5",
            ),
        ),
    ),
    _profile(
        "uvicorn-sansio",
        "uvicorn --ws websockets-sansio",
        SANSIO,
        "python-websockets' compressor with 12:5; the wire bytes of uvicorn 0.55 matched it",
    ),
    _profile(
        "uvicorn-websockets",
        "uvicorn --ws websockets",
        WEBSOCKETS,
        "python-websockets' compressor with a bare factory; the wire bytes of uvicorn 0.55 "
        "matched zlib 15:8 (ANCHORS.md section 6)",
    ),
    _profile(
        "uvicorn-wsproto",
        "uvicorn --ws wsproto",
        WSPROTO,
        "wsproto calls CPython's zlib as python-websockets does (compress + Z_SYNC_FLUSH, "
        "trailer dropped); uvicorn 0.55 with wsproto 1.3 matched zlib 15:8 on the wire, byte "
        "for byte, capped windows and no takeover too (tests/stacks/test_verify_python_stacks.py)",
    ),
)
