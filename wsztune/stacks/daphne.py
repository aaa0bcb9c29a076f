"""Django Channels on daphne: autobahn's permessage-deflate, never accepted by daphne."""

from __future__ import annotations

from wsztune.stacks.profile import VERIFIED, Cell, Defaults, SnippetContext, Source, Stack


def daphne_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """daphne has no compression option: what to do instead."""
    return (
        "# daphne never negotiates permessage-deflate (no option). To compress, serve the same\n"
        "# Channels application with uvicorn (its ASGI server) instead:\n"
        "uvicorn project.asgi:application --ws websockets-sansio  # 12:5"
    )


PROFILES = (
    Stack(
        name="daphne",
        aliases=("channels", "django-channels"),
        title="Django Channels on daphne",
        codec="zlib",
        defaults=Defaults(window_bits=15, mem_level=8, enabled=False),
        knobs=(),
        fixed={
            "enabled": "off: daphne sets no perMessageCompressionAccept, and autobahn's default "
            "accepts no offer",
        },
        status=VERIFIED,
        status_note="daphne 4.2 refused every permessage-deflate offer on the wire, frames "
        "uncompressed (tests/stacks/test_verify_python_stacks.py): compression off is the only "
        "row; "
        "autobahn's "
        "PerMessageDeflate (if a subclass enabled it) calls CPython's zlib at level -1, "
        "memLevel 8",
        sources=(
            Source(
                "daphne",
                "4.2.3",
                "daphne/server.py",
                "ws_factory.setProtocolOptions(autoPingTimeout, allowNullOrigin, "
                "openHandshakeTimeout, maxMessagePayloadSize, maxFramePayloadSize): no "
                "perMessageCompressionAccept",
            ),
            Source(
                "autobahn",
                "26.11.1",
                "autobahn/websocket/protocol.py",
                "perMessageCompressionAccept = lambda _: None: no offer accepted",
            ),
            Source(
                "autobahn",
                "26.11.1",
                "autobahn/websocket/compress_deflate.py",
                "PerMessageDeflate: DEFAULT_WINDOW_BITS 15, DEFAULT_MEM_LEVEL 8, "
                "zlib.compressobj(Z_DEFAULT_COMPRESSION, DEFLATED, -bits, mem_level)",
            ),
        ),
        pitfalls=(
            "Channels itself has no compression setting: it is the ASGI server's (daphne: none; "
            "uvicorn: see --server uvicorn)",
        ),
        snippet=daphne_snippet,
        snippet_title="Django Channels (daphne)",
        lexer="bash",
        alternatives=("uvicorn",),
        family="channels",
    ),
)
