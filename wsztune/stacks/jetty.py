"""Jetty: the JDK's Deflater at 15:8; the deflater pool's level; off per extension list."""

from __future__ import annotations

from wsztune.stacks._jvm import CONFIGURATOR_OFF, JDK_DEFLATER
from wsztune.stacks.profile import SAME_CODEC, Cell, Defaults, Knob, SnippetContext, Source, Stack


def jetty_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """Jetty: compression on at 15:8, or the extension removed."""
    if cell.get("compression") is False:
        return (
            "// Jetty's native API: drop the extension in the upgrade\n"
            'container.addMapping("/ws", (request, response, callback) -> {\n'
            "    response.setExtensions(List.of());\n"
            "    return new MyEndpoint();\n"
            "});\n"
            "// Jakarta WebSocket on Jetty: the same Configurator as on Tomcat\n" + CONFIGURATOR_OFF
        )
    return (
        "// Jetty negotiates permessage-deflate at 15:8 (the JDK's Deflater) whenever the client\n"
        "// offers it: nothing to set for the window or memLevel."
    )


PROFILES = (
    Stack(
        name="jetty",
        title="Eclipse Jetty",
        codec="zlib",
        defaults=Defaults(window_bits=15, mem_level=8),
        knobs=(
            Knob(
                "upgrade response extensions (or a Jakarta Configurator)",
                "enabled",
                (True, False),
                True,
                "code: remove permessage-deflate from the negotiated extensions",
            ),
        ),
        fixed={
            "window_bits": "15: the JDK's Deflater has no window setting",
            "mem_level": "8: the JDK's Deflater has no memLevel setting",
            "level": "-1 (Deflater.DEFAULT_COMPRESSION) from Jetty's DeflaterPool",
        },
        status=SAME_CODEC,
        status_note="the JDK's Deflater is stock zlib at 15:8 (verified for Tomcat); Jetty's "
        "own framing is not checked here",
        sources=(
            Source(
                "Jetty",
                "12.0",
                "jetty-websocket/jetty-websocket-core-common/src/main/java/org/eclipse/jetty/"
                "websocket/core/internal/PerMessageDeflateExtension.java",
                "Deflater from the component's DeflaterPool (DEFAULT_COMPRESSION, nowrap); "
                "server_max_window_bits below 15 cannot be honoured by the JDK",
            ),
            JDK_DEFLATER,
        ),
        pitfalls=(
            "the Deflater's memory is native (outside the Java heap): -Xmx does not bound it",
        ),
        snippet=jetty_snippet,
        snippet_title="Jetty",
        lexer="java",
        alternatives=("tomcat", "netty"),
        family="jvm",
    ),
)
