"""Node's ws: ``perMessageDeflate`` options, Node's bundled zlib, a threshold of 1024 B."""

from __future__ import annotations

from wsztune.stacks.profile import (
    VERIFIED,
    Cell,
    Defaults,
    Knob,
    SnippetContext,
    Source,
    Stack,
)

WINDOW_BITS = tuple(range(8, 16))
MEM_LEVELS = tuple(range(1, 10))


def ws_options(cell: Cell, indent: str) -> str:
    """ws's perMessageDeflate options for ``cell`` (Socket.IO passes the same object to ws)."""
    options = [f"memLevel: {cell['mem_level']}"]
    if cell["level"] != -1:
        options.append(f"level: {cell['level']}")
    if cell["strategy"] != "default":
        options.append(f"strategy: zlib.constants.Z_{cell['strategy'].upper()}")
    lines = [
        f"serverMaxWindowBits: {cell['window_bits']},",
        f"clientMaxWindowBits: {cell['client_window_bits']},",
    ]
    if not cell["context_takeover"]:
        lines += ["serverNoContextTakeover: true,", "clientNoContextTakeover: true,"]
        # ws only applies its threshold without context takeover (lib/sender.js).
        lines.append(f"threshold: {cell.get('threshold', 0)},")
    lines.append(f"zlibDeflateOptions: {{ {', '.join(options)} }},")
    return "".join(f"{indent}{line}\n" for line in lines)


def ws_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """A ``WebSocketServer`` with ``perMessageDeflate`` set to ``cell``."""
    return (
        "const wss = new WebSocketServer({\n"
        "  port: 8080,\n"
        "  perMessageDeflate: {\n"
        f"{ws_options(cell, '    ')}"
        "  },\n"
        "});"
    )


WS_KNOBS = (
    Knob("perMessageDeflate", "enabled", (True, False), False, "off on the server by default"),
    Knob("serverMaxWindowBits", "window_bits", WINDOW_BITS, 15),
    Knob("clientMaxWindowBits", "client_window_bits", WINDOW_BITS, 15),
    Knob("zlibDeflateOptions.memLevel", "mem_level", MEM_LEVELS, 8),
    Knob("zlibDeflateOptions.level", "level", tuple(range(-1, 10)), -1),
    Knob(
        "zlibDeflateOptions.strategy",
        "strategy",
        ("default", "filtered", "huffman", "rle", "fixed"),
        "default",
    ),
    Knob("serverNoContextTakeover / clientNoContextTakeover", "context_takeover", (True, False),
         True),
    Knob("threshold", "threshold", (0, 1024), 1024, "bytes; any value; only without takeover"),
)

WS_SOURCES = (
    Source(
        "ws",
        "8.18",
        "lib/permessage-deflate.js",
        "threshold defaults to 1024; zlibDeflateOptions are handed to zlib.createDeflateRaw "
        "(zlib's own defaults: windowBits 15, memLevel 8, level -1); concurrencyLimit 10",
    ),
    Source(
        "ws",
        "8.18",
        "lib/sender.js",
        "a message is compressed when perMessageDeflate is on and (context takeover is on, "
        "or its length is at least the threshold)",
    ),
    Source(
        "ws",
        "8.18",
        "lib/websocket-server.js",
        "perMessageDeflate defaults to false on the server",
    ),
)

WS_PITFALLS = (
    "the threshold only applies without context takeover: with takeover every message is "
    "compressed",
    "ws builds a connection's zlib streams on first use: connections that never send (or "
    "receive) a message over the threshold pay nothing for that direction",
    "concurrencyLimit (10) queues zlib work per process: many sockets compressing at once wait",
    "zlib runs on libuv's thread pool, so inflate windows land in glibc's per-thread arenas "
    "(ws issue 1202); MALLOC_ARENA_MAX=2 bounds them, but measured at 2,000 connections "
    "without churn it changed nothing (15:8: 245.8 vs 237.2 KiB RSS per connection, "
    "docs/memory.md)",
)

PROFILES = (
    Stack(
        name="ws",
        title="Node ws",
        codec="node",
        defaults=Defaults(window_bits=15, mem_level=8, threshold=1024, enabled=False),
        knobs=WS_KNOBS,
        threshold_rule="ws",
        status=VERIFIED,
        status_note="tests/codecs/test_node.py compares the node codec with ws itself "
        "(tests/support/ws_reference.js), byte for byte; live --server ws checks memory",
        sources=WS_SOURCES,
        pitfalls=WS_PITFALLS,
        broadcast=Source(
            "ws", "8.23.0", "README.md (Server broadcast)",
            "per connection: a broadcast is client.send() in a loop over wss.clients, and each "
            "connection compresses with its own PerMessageDeflate, K compressions for K "
            "subscribers (with or without context takeover)",
        ),
        snippet=ws_snippet,
        snippet_title="Node ws",
        lexer="javascript",
        family="node",
    ),
)
