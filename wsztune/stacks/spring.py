"""Spring (WebSocket, STOMP, WebFlux): compression is its container's (Tomcat by default)."""

from __future__ import annotations

from wsztune.stacks._jvm import CONFIGURATOR_OFF
from wsztune.stacks.profile import SAME_CODEC, Cell, Defaults, Knob, SnippetContext, Source, Stack
from wsztune.stacks.tomcat import TOMCAT_SOURCES


def spring_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """Spring on its default container (Tomcat): on at 15:8, off through a Configurator."""
    if cell.get("compression") is False:
        return (
            "// Spring Boot on Tomcat: register the endpoint with a Configurator that "
            "negotiates no extension\n" + CONFIGURATOR_OFF
        )
    return (
        "// Spring Boot on Tomcat compresses at 15:8 whenever the client offers it; Spring has "
        "no\n// setting of its own. On WebFlux (Reactor Netty) see --server netty."
    )


PROFILES = (
    Stack(
        name="spring",
        aliases=("spring-boot",),
        title="Spring (on Tomcat)",
        codec="zlib",
        defaults=Defaults(window_bits=15, mem_level=8),
        knobs=(
            Knob("the container's (a Configurator on Tomcat)", "enabled", (True, False), True),
        ),
        fixed={
            "window_bits": "the container's: 15 on Tomcat and Jetty",
            "mem_level": "the container's: 8",
        },
        status=SAME_CODEC,
        status_note="Spring MVC's WebSocket support runs on the servlet container: on Tomcat "
        "(Spring Boot's default), exactly Tomcat's compressor",
        sources=(
            Source(
                "Spring Framework",
                "6",
                "spring-websocket: StandardWebSocketUpgradeStrategy",
                "the upgrade and its extensions are the container's (Tomcat, Jetty, Undertow)",
            ),
            *TOMCAT_SOURCES,
        ),
        pitfalls=(
            "WebFlux runs on Reactor Netty, where compression is off unless "
            "WebsocketServerSpec.compress(true): then Netty's level 6",
        ),
        snippet=spring_snippet,
        snippet_title="Spring (Tomcat)",
        lexer="java",
        alternatives=("tomcat", "jetty", "netty"),
        family="jvm",
    ),
)
