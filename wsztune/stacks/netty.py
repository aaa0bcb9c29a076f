"""Netty: ``PerMessageDeflateServerExtensionHandshaker``: level, client window, takeover."""

from __future__ import annotations

from wsztune.stacks.profile import (
    APPROXIMATE,
    Cell,
    Defaults,
    Knob,
    SnippetContext,
    Source,
    Stack,
    zlib_level,
)


def netty_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """The handshaker for ``cell``'s level and client window."""
    if cell.get("compression") is False:
        return "// leave WebSocketServerCompressionHandler out of the pipeline"
    level = zlib_level(cell)
    takeover = "false" if cell["context_takeover"] else "true"
    return (
        "pipeline.addLast(new WebSocketServerExtensionHandler(\n"
        "    new PerMessageDeflateServerExtensionHandshaker(\n"
        f"        {level},      // compressionLevel (memLevel is fixed at 8)\n"
        "        false,  // allowServerWindowSize: keep the server's window at 15\n"
        f"        {cell['client_window_bits']},     // preferredClientWindowSize\n"
        f"        {takeover},  // allowServerNoContext\n"
        f"        {takeover},  // preferredClientNoContext\n"
        "        0)));   // maxAllocation"
    )


PROFILES = (
    Stack(
        name="netty",
        aliases=("reactor-netty",),
        title="Netty",
        codec="zlib",
        defaults=Defaults(window_bits=15, mem_level=8, level=6),
        knobs=(
            Knob("WebSocketServerCompressionHandler in the pipeline", "enabled", (True, False),
                 True),
            Knob("compressionLevel", "level", tuple(range(0, 10)), 6),
            Knob("preferredClientWindowSize", "client_window_bits", tuple(range(8, 16)), 15,
                 "applies when the client offers client_max_window_bits without a value"),
            Knob("allowServerNoContext / preferredClientNoContext", "context_takeover",
                 (True, False), True),
        ),
        fixed={
            "window_bits": "15 unless allowServerWindowSize and the client asks for less",
            "mem_level": "8: ZlibCodecFactory.newZlibEncoder(..., windowBits, 8)",
        },
        status=APPROXIMATE,
        status_note="15:8 runs the JDK's Deflater (stock zlib); any other window runs JZlib, "
        "a Java port of zlib, whose bytes are not checked here",
        sources=(
            Source(
                "netty",
                "4.1",
                "codec-http/src/main/java/io/netty/handler/codec/http/websocketx/extensions/"
                "compression/PerMessageDeflateServerExtensionHandshaker.java",
                "default compressionLevel 6, allowServerWindowSize false, "
                "preferredClientWindowSize 15, allowServerNoContext false, "
                "preferredClientNoContext false",
            ),
            Source(
                "netty",
                "4.1",
                "codec/src/main/java/io/netty/handler/codec/compression/ZlibCodecFactory.java",
                "the JDK's Deflater at window 15 and memLevel 8, JZlib for any other window",
            ),
        ),
        pitfalls=(
            "netty#13083: hundreds of KB per connection at 15:8",
            "a client offering server_max_window_bits is refused compression unless "
            "allowServerWindowSize is on",
        ),
        snippet=netty_snippet,
        snippet_title="Netty",
        lexer="java",
        alternatives=("tomcat", "jetty"),
        family="jvm",
    ),
)
