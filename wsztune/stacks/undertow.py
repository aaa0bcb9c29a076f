"""Undertow: the JDK's Deflater, a level and the takeover flags; no window setting at all."""

from __future__ import annotations

from wsztune.stacks._jvm import JDK_DEFLATER
from wsztune.stacks.profile import SAME_CODEC, Cell, Defaults, Knob, SnippetContext, Source, Stack

HANDSHAKE = "core/src/main/java/io/undertow/websockets/extensions/PerMessageDeflateHandshake.java"


def undertow_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """The handshake added to the WebSocket protocol handshake handler for ``cell``."""
    if cell.get("compression") is False:
        return "// add no PerMessageDeflateHandshake: no compression (the default)"
    takeover = "true" if cell["context_takeover"] else "false"
    return (
        "WebSocketProtocolHandshakeHandler ws = Handlers.websocket(callback);\n"
        "ws.addExtension(new PerMessageDeflateHandshake(\n"
        f"    false, {cell['level']}, {takeover}, {takeover}));  "
        "// client?, level, compress/decompress context takeover"
    )


PROFILES = (
    Stack(
        name="undertow",
        aliases=("wildfly",),
        title="Undertow",
        codec="zlib",
        defaults=Defaults(window_bits=15, mem_level=8, level=-1, enabled=False),
        knobs=(
            Knob("addExtension(new PerMessageDeflateHandshake(...))", "enabled", (True, False),
                 False),
            Knob("PerMessageDeflateHandshake(client, deflaterLevel, ...)", "level",
                 tuple(range(-1, 10)), -1, "DEFAULT_DEFLATER = Deflater.DEFAULT_COMPRESSION"),
            Knob("compressContextTakeover", "context_takeover", (True, False), True),
        ),
        fixed={
            "window_bits": "15: server_max_window_bits and client_max_window_bits are 'Not "
            "supported' (dropped from the answer); the JDK's Deflater has no window setting",
            "mem_level": "8: the JDK's Deflater",
        },
        status=SAME_CODEC,
        status_note="the JDK's Deflater (the system zlib on Debian's OpenJDK) with SYNC_FLUSH, "
        "as Tomcat's (verified); Undertow itself is not checked on the wire here",
        sources=(
            Source("undertow", "2.3", HANDSHAKE,
                   "DEFAULT_DEFLATER = Deflater.DEFAULT_COMPRESSION; constructors take "
                   "deflaterLevel, compressContextTakeover, decompressContextTakeover; "
                   "server_/client_max_window_bits: 'Not supported'"),
            JDK_DEFLATER,
        ),
        pitfalls=(
            "a client asking for server_max_window_bits gets an answer without it and a 15-bit "
            "window anyway: memory cannot be cut by the offer",
        ),
        snippet=undertow_snippet,
        snippet_title="Undertow",
        lexer="java",
        alternatives=("tomcat", "jetty"),
        family="jvm",
    ),
)
