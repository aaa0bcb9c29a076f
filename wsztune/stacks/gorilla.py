"""gorilla/websocket (Go): compress/flate per message, no context takeover, a level knob."""

from __future__ import annotations

from wsztune.stacks.profile import VERIFIED, Cell, Defaults, Knob, SnippetContext, Source, Stack

GO_LEVELS = tuple(range(-2, 10))  # compress/flate: -2 Huffman only, -1 default (6), 0-9


def gorilla_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """An ``Upgrader`` with compression on and the connection's level set to ``cell``'s."""
    if cell.get("compression") is False:
        return "upgrader := websocket.Upgrader{EnableCompression: false} // the default"
    return (
        "upgrader := websocket.Upgrader{EnableCompression: true}\n"
        "conn, err := upgrader.Upgrade(w, r, nil)\n"
        "if err != nil {\n"
        "\treturn\n"
        "}\n"
        f"conn.SetCompressionLevel({cell['level']})"
    )


GORILLA_SOURCES = (
    Source("gorilla/websocket", "1.5.0", "compression.go",
           "compressNoContextTakeover: a flate.Writer per message from a sync.Pool per level, "
           "Write then Flush, the last 4 bytes dropped; levels -2 to 9, default 1"),
    Source("gorilla/websocket", "1.5.0", "server.go",
           "Upgrade answers permessage-deflate with server_no_context_takeover and "
           "client_no_context_takeover; the hijacked 4 KiB write buffer becomes the frame buffer"),
    Source("gorilla/websocket", "1.5.0", "conn.go",
           "a message's bytes fill the write buffer and go out as a frame each time it is full; "
           "EnableWriteCompression toggles compression per message"),
)

# What gorilla's Dialer{EnableCompression: true} offers (client.go), exactly: ``wsztune probe``
# sends it as the gorilla client.
CLIENT_OFFER = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
CLIENT_OFFER_SOURCE = Source(
    "gorilla/websocket", "1.5.0", "client.go",
    f'DialContext with EnableCompression sets Sec-WebSocket-Extensions: "{CLIENT_OFFER}"',
)  # fmt: skip

# What that Dialer accepts back (client.go): a permessage-deflate response without both
# no-context-takeover parameters fails the dial with errInvalidCompression.
CLIENT_REQUIRES = ("server_no_context_takeover", "client_no_context_takeover")

PROFILES = (
    Stack(
        name="gorilla",
        title="gorilla/websocket",
        codec="go-gorilla",
        defaults=Defaults(window_bits=15, mem_level=0, level=1, context_takeover=False,
                          enabled=False),
        knobs=(
            Knob("Upgrader.EnableCompression", "enabled", (True, False), False),
            Knob("Conn.SetCompressionLevel", "level", GO_LEVELS, 1,
                 "-2 Huffman only, -1 flate's default (6)"),
        ),
        fixed={
            "window_bits": "Go's compress/flate always uses a 32 KiB window",
            "mem_level": "compress/flate has no memLevel",
            "context_takeover": "always off: a fresh (pooled) flate.Writer per message",
            "threshold": "none: every data message is compressed",
        },
        takeover="off",
        status=VERIFIED,
        status_note="tests/codecs/test_go.py compares the go codec with real gorilla servers and "
        "clients on 127.0.0.1, frame by frame, byte for byte",
        sources=GORILLA_SOURCES,
        pitfalls=(
            "no context takeover: each message is compressed alone, so small messages save "
            "little (the same JSON saves about 20% here where zlib with takeover saves 70%)",
            "flate writers are pooled: memory is paid per concurrent write, not per connection",
            "while it compresses, the pooled flate writers (over 600 KiB each) are garbage that "
            "keeps the heap at its goal, live x (1 + GOGC/100): measured at 2,000 connections "
            "(docs/memory.md), 10.1 KiB RSS per connection more with compression at GOGC=100 "
            "and 15.3 at GOGC=400; settled (idle across collections, pools emptied, pages "
            "scavenged) 3.4 KiB, against the model's 0.2 (3.2 KiB it does not explain)",
        ),
        broadcast=Source(
            "gorilla/websocket", "1.5.0", "prepared.go",
            "compress once: PreparedMessage compresses a message once per (level) on a fake "
            "connection (a 4110-byte write buffer: frames of 4096 payload bytes) and "
            "WritePreparedMessage sends the same frame bytes to every subscriber; WriteMessage "
            "in a loop compresses once per connection. A Go run's cells carry the "
            "compress-once mode as compress_once",
        ),
        snippet=gorilla_snippet,
        snippet_title="gorilla/websocket",
        lexer="go",
        alternatives=("coder", "centrifugo"),
        family="go",
    ),
)
