"""Cloudflare Workers (workerd): permessage-deflate since compatibility date 2023-08-15."""

from __future__ import annotations

from wsztune.stacks.profile import (
    APPROXIMATE,
    Cell,
    Defaults,
    Knob,
    SnippetContext,
    Source,
    Stack,
    Version,
)


def cloudflare_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """wrangler.toml: the compatibility date or flag that turns compression on or off."""
    if cell.get("compression") is False:
        return (
            "# wrangler.toml\n"
            'compatibility_flags = ["no_web_socket_compression"]'
        )
    return (
        "# wrangler.toml: compression is on for this date and later (nothing else to set)\n"
        'compatibility_date = "2023-08-15"'
    )


PROFILES = (
    Stack(
        name="cloudflare-workers",
        aliases=("cloudflare", "workerd", "durable-objects"),
        title="Cloudflare Workers (workerd)",
        codec="zlib",
        defaults=Defaults(window_bits=15, mem_level=8),
        knobs=(
            Knob("compatibility_date >= 2023-08-15 (web_socket_compression)", "enabled",
                 (True, False), True, "no_web_socket_compression turns it off"),
        ),
        fixed={
            "window_bits": "what the client's offer allows, else 15 (not settable)",
            "mem_level": "zlib's default, 8 (not settable)",
            "level": "zlib's default (not settable)",
        },
        status=APPROXIMATE,
        status_note="workerd compresses with zlib; its exact deflate parameters and framing are "
        "not checked here: modelled as zlib 15:8 at the default level",
        sources=(
            Source("workerd", "2023-08-15", "src/workerd/io/compatibility-date.capnp",
                   "webSocketCompression: flag web_socket_compression, enabled by default from "
                   "compatibility date 2023-08-15; no_web_socket_compression disables it"),
            Source("workerd", "1", "src/workerd/api/web-socket.c++",
                   "the extension is negotiated with the client's offer and compressed with "
                   "kj's zlib-based compression"),
        ),
        versions=(
            Version("<2023.8.15", Defaults(window_bits=15, mem_level=8, enabled=False),
                    "a compatibility date before 2023-08-15 (typed 2023.08.14): compression "
                    "off unless the web_socket_compression flag is set"),
        ),
        pitfalls=(
            "a Worker with an older compatibility date never compresses, even when the "
            "client offers it",
            "no knob but on/off: window, memLevel and level are workerd's",
        ),
        snippet=cloudflare_snippet,
        snippet_title="Cloudflare Workers",
        lexer="toml",
        family="cloudflare",
    ),
)
