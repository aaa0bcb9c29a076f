"""Vert.x and Quarkus: per-message and per-frame deflate on by default, level 6, Netty's codec.

Both hand their options to Netty's ``PerMessageDeflateServerExtensionHandshaker``: what Netty's
profile (``--server netty``) says of its compressor holds here, at Vert.x's defaults.
"""

from __future__ import annotations

from wsztune.stacks.profile import (
    SAME_CODEC,
    Cell,
    Defaults,
    Knob,
    SnippetContext,
    Source,
    Stack,
    zlib_level,
)

OPTIONS_FILE = "vertx-core/src/main/java/io/vertx/core/http/HttpServerOptions.java"
NETTY_HANDSHAKER = Source(
    "netty",
    "4.1",
    "codec-http/.../compression/PerMessageDeflateServerExtensionHandshaker.java",
    "the handshaker Vert.x builds from its options: Netty's PerMessageDeflateEncoder (the JDK's "
    "Deflater at window 15 and memLevel 8, JZlib at any other window: the netty codec)",
)
CODEC_NOTE = (
    "runs Netty's permessage-deflate codec (see --server netty); Vert.x itself is not checked "
    "on the wire here"
)
LEVELS = tuple(range(0, 10))


def vertx_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """``HttpServerOptions`` for ``cell``."""
    if cell.get("compression") is False:
        return (
            "new HttpServerOptions()\n"
            "    .setPerMessageWebSocketCompressionSupported(false)\n"
            "    .setPerFrameWebSocketCompressionSupported(false);"
        )
    no_context = "false" if cell["context_takeover"] else "true"
    return (
        "new HttpServerOptions()\n"
        "    .setPerMessageWebSocketCompressionSupported(true)  // the default\n"
        "    .setPerFrameWebSocketCompressionSupported(false)   // on by default: see pitfalls\n"
        f"    .setWebSocketCompressionLevel({zlib_level(cell)})\n"
        f"    .setWebSocketAllowServerNoContext({no_context})\n"
        f"    .setWebSocketPreferredClientNoContext({no_context});"
    )


def quarkus_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """``application.properties`` for Quarkus WebSockets Next."""
    if cell.get("compression") is False:
        return "quarkus.websockets-next.server.per-message-compression-supported=false"
    return (
        "quarkus.websockets-next.server.per-message-compression-supported=true\n"
        f"quarkus.websockets-next.server.compression-level={zlib_level(cell)}"
    )


_KNOBS = (
    Knob("setPerMessageWebSocketCompressionSupported", "enabled", (True, False), True),
    Knob("setWebSocketCompressionLevel", "level", LEVELS, 6),
    Knob("setWebSocketAllowServerNoContext / setWebSocketPreferredClientNoContext",
         "context_takeover", (True, False), True),
)
_FIXED = {
    "window_bits": "15: Netty's default; a client's server_max_window_bits is only honoured "
    "where Netty may use JZlib",
    "mem_level": "8: Netty's ZlibCodecFactory",
}
_PITFALLS = (
    "on by default: every connection whose client offers permessage-deflate pays for a "
    "Deflater and an Inflater (Netty 13083: hundreds of KB at 15:8)",
    "per-frame deflate (deflate-frame / x-webkit-deflate-frame) is on by default too: turn "
    "it off unless an old client needs it",
)

PROFILES = (
    Stack(
        name="vertx",
        aliases=("vert.x",),
        title="Vert.x (HttpServerOptions)",
        codec="netty",
        defaults=Defaults(window_bits=15, mem_level=8, level=6),
        knobs=_KNOBS,
        fixed=dict(_FIXED),
        status=SAME_CODEC,
        status_note=CODEC_NOTE,
        sources=(
            Source("vert.x", "4.5", OPTIONS_FILE,
                   "DEFAULT_PER_MESSAGE_WEBSOCKET_COMPRESSION_SUPPORTED = true, "
                   "DEFAULT_PER_FRAME_WEBSOCKET_COMPRESSION_SUPPORTED = true, "
                   "DEFAULT_WEBSOCKET_COMPRESSION_LEVEL = 6, DEFAULT_WEBSOCKET_ALLOW_SERVER_"
                   "NO_CONTEXT = false, DEFAULT_WEBSOCKET_PREFERRED_CLIENT_NO_CONTEXT = false"),
            NETTY_HANDSHAKER,
        ),
        pitfalls=_PITFALLS,
        snippet=vertx_snippet,
        snippet_title="Vert.x",
        lexer="java",
        alternatives=("netty", "quarkus"),
        family="jvm",
    ),
    Stack(
        name="quarkus",
        aliases=("quarkus-websockets-next",),
        title="Quarkus (WebSockets Next on Vert.x)",
        codec="netty",
        defaults=Defaults(window_bits=15, mem_level=8, level=6),
        knobs=(
            Knob("quarkus.websockets-next.server.per-message-compression-supported",
                 "enabled", (True, False), True),
            Knob("quarkus.websockets-next.server.compression-level", "level", LEVELS, 6,
                 "unset: Vert.x's default, 6"),
        ),
        fixed={
            **_FIXED,
            "context_takeover": "on: Quarkus exposes no takeover option (Vert.x's defaults)",
        },
        status=SAME_CODEC,
        status_note=CODEC_NOTE,
        sources=(
            Source("quarkus", "3", "extensions/websockets-next/runtime/.../"
                   "WebSocketsServerRuntimeConfig.java",
                   "per-message-compression-supported (default true) and compression-level "
                   "(default: Vert.x's) set HttpServerOptions"),
            Source("vert.x", "4.5", OPTIONS_FILE,
                   "DEFAULT_WEBSOCKET_COMPRESSION_LEVEL = 6; per-message and per-frame "
                   "compression supported by default"),
            NETTY_HANDSHAKER,
        ),
        pitfalls=_PITFALLS,
        snippet=quarkus_snippet,
        snippet_title="Quarkus",
        lexer="properties",
        alternatives=("vertx", "netty"),
        family="jvm",
    ),
)
