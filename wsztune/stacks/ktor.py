"""Ktor (Kotlin): the JDK's Deflater, window fixed at 15, level and a size threshold."""

from __future__ import annotations

from wsztune.stacks._jvm import JDK_DEFLATER
from wsztune.stacks.profile import (
    SAME_CODEC,
    Cell,
    Defaults,
    Knob,
    SnippetContext,
    Source,
    Stack,
)

DOC = "ktor docs, server-websocket-deflate.md"


def ktor_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """``install(WebSocketDeflateExtension)`` for ``cell``."""
    if cell.get("compression") is False:
        return "install(WebSockets) { /* no WebSocketDeflateExtension: no compression */ }"
    level = "Deflater.DEFAULT_COMPRESSION" if cell["level"] == -1 else str(cell["level"])
    no_takeover = "false" if cell["context_takeover"] else "true"
    lines = [
        "install(WebSockets) {",
        "    extensions {",
        "        install(WebSocketDeflateExtension) {",
        f"            compressionLevel = {level}",
        f"            serverNoContextTakeOver = {no_takeover}",
    ]
    if cell.get("threshold"):
        lines.append(f"            compressIfBiggerThan(bytes = {cell['threshold'] - 1})")
    lines += ["        }", "    }", "}"]
    return "\n".join(lines)


PROFILES = (
    Stack(
        name="ktor",
        title="Ktor (WebSocketDeflateExtension)",
        codec="zlib",
        defaults=Defaults(window_bits=15, mem_level=8, level=-1, enabled=False),
        knobs=(
            Knob("install(WebSocketDeflateExtension)", "enabled", (True, False), False),
            Knob("compressionLevel", "level", tuple(range(-1, 10)), -1,
                 "Deflater.DEFAULT_COMPRESSION (-1) by default"),
            Knob("serverNoContextTakeOver", "context_takeover", (True, False), True),
            Knob("compressIfBiggerThan(bytes)", "threshold", (0,), 0,
                 "compresses frames bigger than the given size: threshold = bytes + 1; "
                 "compressIf { frame -> ... } adds any other condition"),
        ),
        fixed={
            "window_bits": "15: java.util.zip.Deflater has no window setting",
            "mem_level": "8: the JDK's Deflater",
        },
        status=SAME_CODEC,
        status_note="the JDK's Deflater is the system zlib (Debian's OpenJDK) called with "
        "SYNC_FLUSH, as Tomcat's (verified); Ktor itself is not checked on the wire here",
        sources=(
            Source("ktor", "2", DOC,
                   "compressionLevel = Deflater.DEFAULT_COMPRESSION, compressIfBiggerThan(bytes), "
                   "compressIf { frame -> ... }; 'the window size cannot be configured ... "
                   "fixed at 15' (java.util.zip.Deflater API)"),
            Source("ktor", "2", DOC,
                   "clientNoContextTakeOver / serverNoContextTakeOver = false by default"),
            JDK_DEFLATER,
        ),
        pitfalls=(
            "the extension must be installed on both client and server blocks that need it",
            "compressIfBiggerThan is per frame, not per message",
        ),
        snippet=ktor_snippet,
        snippet_title="Ktor",
        lexer="kotlin",
        alternatives=("tomcat", "netty"),
        family="jvm",
    ),
)
