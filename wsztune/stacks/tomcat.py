"""Tomcat: the JDK's Deflater at 15:8, no knob; off only through a Configurator."""

from __future__ import annotations

from wsztune.stacks._jvm import CONFIGURATOR_OFF, JDK_DEFLATER
from wsztune.stacks.profile import VERIFIED, Cell, Defaults, Knob, SnippetContext, Source, Stack


def tomcat_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """Tomcat compresses at 15:8 whatever is configured; turning it off needs code."""
    if cell.get("compression") is False:
        return CONFIGURATOR_OFF
    return (
        "// Nothing to configure: Tomcat negotiates permessage-deflate at 15:8 (the JDK's\n"
        "// Deflater) whenever the client offers it. To turn it off, see the Configurator below.\n"
        + CONFIGURATOR_OFF
    )


TOMCAT_SOURCES = (
    Source(
        "Tomcat",
        "10.1.60",
        "java/org/apache/tomcat/websocket/PerMessageDeflate.java",
        "negotiate(): an offer with server_max_window_bits other than 15 is declined ('Java SE "
        "API does not expose the API to control the Window size'); Deflater "
        "(DEFAULT_COMPRESSION, nowrap) with SYNC_FLUSH; no_context_takeover granted",
    ),
    JDK_DEFLATER,
    Source(
        "ANCHORS.md section 6",
        "Tomcat 10.1.60 (Debian libtomcat10-java), OpenJDK 17",
        "its PerMessageDeflate class as a server",
        "400 of 400 frames equal zlib 15:8 level -1",
    ),
)

PROFILES = (
    Stack(
        name="tomcat",
        title="Apache Tomcat",
        codec="zlib",
        defaults=Defaults(window_bits=15, mem_level=8),
        knobs=(
            Knob(
                "ServerEndpointConfig.Configurator.getNegotiatedExtensions",
                "enabled",
                (True, False),
                True,
                "code, not configuration: a Configurator returning no extensions",
            ),
        ),
        fixed={
            "window_bits": "15: the JDK's Deflater has no window setting",
            "mem_level": "8: the JDK's Deflater has no memLevel setting",
            "level": "-1 (Deflater.DEFAULT_COMPRESSION)",
            "client_window_bits": "15: a client's smaller window is accepted, the Inflater "
            "keeps 15",
            "context_takeover": "on, unless the client asks for no context takeover",
        },
        status=VERIFIED,
        status_note="Tomcat 10.1.60's own PerMessageDeflate class reproduces zlib 15:8 "
        "level -1, 400 of 400 frames (ANCHORS.md section 6)",
        sources=TOMCAT_SOURCES,
        pitfalls=(
            "on for every endpoint whose client offers it; about 1 GB of native memory for "
            "5,000 connections was reported",
            "the Deflater's memory is native (outside the Java heap): -Xmx does not bound it",
            "a client asking for a smaller server window gets no compression at all",
        ),
        snippet=tomcat_snippet,
        snippet_title="Tomcat",
        lexer="java",
        alternatives=("jetty", "netty"),
        family="jvm",
    ),
)
