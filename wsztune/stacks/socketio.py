"""Socket.IO: engine.io hands its ``perMessageDeflate`` option to ws (same codec, same rule)."""

from __future__ import annotations

from wsztune.stacks.node_ws import WS_KNOBS, WS_PITFALLS, ws_options
from wsztune.stacks.profile import SAME_CODEC, Cell, Defaults, SnippetContext, Source, Stack


def socketio_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """A Socket.IO ``Server`` whose ``perMessageDeflate`` is set to ``cell``."""
    return (
        "const io = new Server(httpServer, {\n"
        "  perMessageDeflate: {\n"
        f"{ws_options(cell, '    ')}"
        "  },\n"
        "});"
    )


PROFILES = (
    Stack(
        name="socketio",
        aliases=("socket.io",),
        title="Socket.IO",
        codec="node",
        defaults=Defaults(window_bits=15, mem_level=8, threshold=1024, enabled=False),
        knobs=WS_KNOBS,
        threshold_rule="ws",
        status=SAME_CODEC,
        status_note="ws underneath (measured exactly for ws); Socket.IO's own framing "
        "(packet prefixes) is part of the messages a recording captures",
        sources=(
            Source(
                "engine.io",
                "6.6",
                "lib/server.ts",
                "perMessageDeflate defaults to false and is passed to ws's WebSocketServer; "
                "its threshold defaults to 1024",
            ),
        ),
        pitfalls=WS_PITFALLS,
        broadcast=Source(
            "engine.io", "6.6.13", "build/transports/websocket.js; socket.io-adapter 2.5.9 "
            "dist/in-memory-adapter.js",
            "per connection: a room broadcast encodes the packet once, but the pre-built frame "
            "(wsPreEncodedFrame) is used only when perMessageDeflate is off; with compression "
            "each socket's ws compresses it again",
        ),
        snippet=socketio_snippet,
        snippet_title="Socket.IO",
        lexer="javascript",
        family="node",
    ),
)
