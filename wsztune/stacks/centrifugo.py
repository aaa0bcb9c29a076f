"""Centrifugo: gorilla/websocket's framing and compress/flate, with a level and a minimum size."""

from __future__ import annotations

from wsztune.stacks.gorilla import GO_LEVELS
from wsztune.stacks.profile import SAME_CODEC, Cell, Defaults, Knob, SnippetContext, Source, Stack


def centrifugo_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """Centrifugo's config.json keys for ``cell`` (v5 spelling)."""
    if cell.get("compression") is False:
        return '{\n  "websocket_compression": false\n}'
    return (
        "{\n"
        '  "websocket_compression": true,\n'
        f'  "websocket_compression_level": {cell["level"]},\n'
        f'  "websocket_compression_min_size": {cell.get("threshold", 0)}\n'
        "}"
    )


PROFILES = (
    Stack(
        name="centrifugo",
        title="Centrifugo",
        codec="go-gorilla",
        defaults=Defaults(window_bits=15, mem_level=0, level=1, context_takeover=False,
                          enabled=False),
        knobs=(
            Knob("websocket_compression", "enabled", (True, False), False),
            Knob("websocket_compression_level", "level", GO_LEVELS, 1),
            Knob("websocket_compression_min_size", "threshold", (0, 128, 512, 1024), 0,
                 "bytes: shorter messages go out uncompressed"),
        ),
        fixed={
            "window_bits": "Go's compress/flate: 32 KiB",
            "mem_level": "no such knob",
            "context_takeover": "always off (gorilla's per-message flate writer)",
        },
        takeover="off",
        status=SAME_CODEC,
        status_note="Centrifugo's WebSocket is a fork of gorilla/websocket: the go codec "
        "models gorilla 1.5.0, checked against it; Centrifugo itself is not run here, and its "
        "min size is modelled as gorilla's per-message toggle at len >= min size (not checked)",
        sources=(
            Source("centrifugo", "5", "docs/transports/websocket",
                   "websocket_compression (off by default), websocket_compression_level "
                   "(default 1), websocket_compression_min_size (default 0); read/write "
                   "buffers reuse the HTTP server's 4 KiB ones by default"),
        ),
        pitfalls=(
            "compression is per message without context takeover, as in gorilla",
        ),
        broadcast=Source(
            "centrifuge", "PR 376 (2024-05)", "PreparedMessageCacheMaxSize",
            "per connection by default; compress once only with the EXPERIMENTAL prepared "
            "message cache (PreparedMessageCacheMaxSize > 0): publications to connections with "
            "compression go out as cached gorilla PreparedMessages (modelled as gorilla's "
            "compress-once mode, Centrifugo itself not run here)",
        ),
        snippet=centrifugo_snippet,
        snippet_title="Centrifugo config.json",
        lexer="json",
        alternatives=("gorilla",),
        family="go",
    ),
)
