"""Netty: ``PerMessageDeflateServerExtensionHandshaker``: level, window, client window, takeover.

Netty picks its codec per connection: the JDK's Deflater (zlib) at window 15 and memLevel 8, and
JZlib, a pure-Java port of zlib, at any other window (``ZlibCodecFactory.newZlibEncoder``). A
run of ``--server netty`` is measured with the ``netty`` codec, which does the same per cell and
says which in each cell's ``codec`` field.
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
    zlib_level,
)

HANDSHAKER = (
    "codec-http/src/main/java/io/netty/handler/codec/http/websocketx/extensions/compression/"
    "PerMessageDeflateServerExtensionHandshaker.java"
)
ENCODER = (
    "codec-http/src/main/java/io/netty/handler/codec/http/websocketx/extensions/compression/"
    "DeflateEncoder.java"
)
FACTORY = "codec/src/main/java/io/netty/handler/codec/compression/ZlibCodecFactory.java"


def netty_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """The handshaker for ``cell``'s level, window and client window."""
    if cell.get("compression") is False:
        return "// leave WebSocketServerCompressionHandler out of the pipeline"
    level = zlib_level(cell)
    takeover = "false" if cell["context_takeover"] else "true"
    window = cell["window_bits"]
    if window == 15:
        window_lines = (
            "        false,  // allowServerWindowSize: stay at 15:8, the JDK's zlib (a client\n"
            "                //   offering server_max_window_bits then gets no compression)\n"
        )
        codec_line = ""
    else:
        window_lines = (
            "        true,   // allowServerWindowSize: the window is the client's\n"
            f"                //   server_max_window_bits={window} offer; Netty 4.1 cannot\n"
            "                //   pick it (netty#13083), 4.2.16+ takes a serverWindowSize\n"
            "                //   (netty#16809)\n"
        )
        codec_line = f"// {window}:8 runs JZlib, not the JDK's zlib (ZlibCodecFactory)\n"
    return (
        codec_line
        + "pipeline.addLast(new WebSocketServerExtensionHandler(\n"
        "    new PerMessageDeflateServerExtensionHandshaker(\n"
        f"        {level},      // compressionLevel (memLevel is fixed at 8)\n"
        + window_lines
        + f"        {cell['client_window_bits']},     // preferredClientWindowSize\n"
        f"        {takeover},  // allowServerNoContext\n"
        f"        {takeover}))); // preferredClientNoContext"
    )


PROFILES = (
    Stack(
        name="netty",
        aliases=("reactor-netty",),
        title="Netty",
        codec="netty",
        defaults=Defaults(window_bits=15, mem_level=8, level=6),
        knobs=(
            Knob("WebSocketServerCompressionHandler in the pipeline", "enabled", (True, False),
                 True),
            Knob("compressionLevel", "level", tuple(range(0, 10)), 6),
            Knob(
                "allowServerWindowSize + the client's server_max_window_bits",
                "window_bits",
                tuple(range(9, 16)),
                15,
                "Netty 4.1 takes the window the client offers (allowed by default); any window "
                "but 15 runs JZlib; 8 fails (JZlibEncoder takes 9-15, netty#8702); Netty 4.2.16 "
                "adds a serverWindowSize (netty#16809)",
            ),
            Knob("preferredClientWindowSize", "client_window_bits", tuple(range(8, 16)), 15,
                 "applies when the client offers client_max_window_bits without a value"),
            Knob("allowServerNoContext / preferredClientNoContext", "context_takeover",
                 (True, False), True),
        ),
        fixed={
            "mem_level": "8: DeflateEncoder calls ZlibCodecFactory.newZlibEncoder(..., "
            "windowBits, 8); Netty 4.2.16 adds memLevel (netty#16809), where any memLevel but 8 "
            "runs JZlib",
        },
        status=VERIFIED,
        status_note="15:8 runs the JDK's Deflater (zlib), any other window JZlib 1.1.3, a Java "
        "port of zlib; each cell's codec field says which; both checked byte for byte against "
        "Netty 4.1.48 from Debian (tests/codecs/test_verify_netty.py)",
        sources=(
            Source(
                "netty",
                "4.1.48",
                HANDSHAKER,
                "the no-argument constructor: compressionLevel 6, allowServerWindowSize = "
                "ZlibCodecFactory.isSupportingWindowSizeAndMemLevel() (true on Java 7+, "
                "netty#4813), preferredClientWindowSize 15, allowServerNoContext false, "
                "preferredClientNoContext false; a server_max_window_bits offer sets the "
                "server's window when allowed and disables compression otherwise",
            ),
            Source(
                "netty",
                "4.1.48",
                ENCODER,
                "one compressor per connection, ZlibCodecFactory.newZlibEncoder(ZlibWrapper.NONE, "
                "compressionLevel, windowSize, 8); 00 00 ff ff stripped from the final fragment; "
                "an empty message is the single byte 00; without context takeover the encoder "
                "is dropped after each message",
            ),
            Source(
                "netty",
                "4.1.48",
                FACTORY,
                "the JDK's Deflater only when windowBits == 15 and memLevel == 8, JZlibEncoder "
                "for anything else",
            ),
            Source(
                "netty",
                "#16809",
                "https://github.com/netty/netty/pull/16809",
                "2026: constructor overloads with serverWindowSize (8-15) and memLevel (1-9); "
                "the negotiated window is min(client offer, serverWindowSize); fixes #13083",
            ),
            Source(
                "JZlib",
                "1.1.3",
                "src/main/java/com/jcraft/jzlib/Deflate.java",
                "deflateInit allocates window 2*2^w bytes, prev 2^w and head 2^(memLevel+7) "
                "shorts, pending_buf 3*2^(memLevel+6) and l_buf 2^(memLevel+6) bytes",
            ),
        ),
        pitfalls=(
            "any window but 15 silently swaps the JDK's zlib for JZlib (ZlibCodecFactory): a "
            "pure-Java codec, slower per byte; on the bundled corpora its bytes equal zlib's at "
            "levels 1-9 and differ at level 0 (its stored blocks)",
            "by default Netty 4.1 accepts a client's server_max_window_bits, so the client picks "
            "the server's window and with it the codec",
            "server_max_window_bits=8 is accepted in the handshake, then every compressed write "
            "fails: JZlibEncoder takes 9-15 (netty#8702)",
            "a client offering server_no_context_takeover gets no compression unless "
            "allowServerNoContext is on",
            "netty#13083: hundreds of KB per connection at 15:8",
        ),
        limits=(
            "Netty 4.1 cannot pick its own window: it compresses at the server_max_window_bits a "
            "client offers (allowServerWindowSize, on by default) and at 15 otherwise; "
            "Netty 4.2.16 adds a serverWindowSize (netty#16809).",
            "Netty cannot compress at window 8: it accepts server_max_window_bits=8 in the "
            "handshake, then every compressed write fails (JZlibEncoder takes 9-15, netty#8702).",
        ),
        snippet=netty_snippet,
        snippet_title="Netty",
        lexer="java",
        alternatives=("tomcat", "jetty"),
        family="jvm",
    ),
)
