"""coder/websocket (formerly nhooyr.io/websocket) 1.8.7: StatelessDeflate, mode, threshold."""

from __future__ import annotations

from wsztune.stacks.profile import VERIFIED, Cell, Defaults, Knob, SnippetContext, Source, Stack


def coder_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """``AcceptOptions`` with the mode and threshold of ``cell``."""
    if cell.get("compression") is False:
        return (
            "conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{\n"
            "\tCompressionMode: websocket.CompressionDisabled,\n"
            "})"
        )
    mode = (
        "websocket.CompressionContextTakeover"
        if cell["context_takeover"]
        else "websocket.CompressionNoContextTakeover"
    )
    return (
        "conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{\n"
        f"\tCompressionMode:      {mode},\n"
        f"\tCompressionThreshold: {cell.get('threshold', 0)},\n"
        "})"
    )


CODER_SOURCES = (
    Source("nhooyr.io/websocket", "1.8.7", "write.go",
           "a message at or over the threshold is compressed with klauspost/compress "
           "StatelessDeflate over an 8 KiB window of previous messages (context takeover); "
           "every write of the compressor is a frame, then an empty final frame"),
    Source("nhooyr.io/websocket", "1.8.7", "conn_notjs.go",
           "CompressionThreshold 0 means 128 B with context takeover, 512 B without"),
    Source("nhooyr.io/websocket", "1.8.7", "read.go",
           "the reader keeps a 32 KiB window with context takeover and a 4 KiB bufio.Reader"),
    Source("nhooyr.io/websocket", "1.8.7", "compress.go",
           "CompressionNoContextTakeover is the default mode; there is no level"),
)

# What coder's Dial offers in its default mode, CompressionNoContextTakeover (compress_notjs.go
# setHeader), exactly: ``wsztune probe`` sends it as the coder client.
CLIENT_OFFER = "permessage-deflate; client_no_context_takeover; server_no_context_takeover"
CLIENT_OFFER_SOURCE = Source(
    "nhooyr.io/websocket", "1.8.7", "compress_notjs.go",
    "setHeader: permessage-deflate, then client_no_context_takeover and "
    "server_no_context_takeover in CompressionNoContextTakeover (Dial's default mode)",
)  # fmt: skip

# What that Dial accepts back (dial.go verifyServerExtensions): any other parameter, such as
# server_max_window_bits, fails the dial ("unsupported permessage-deflate parameter").
CLIENT_ALLOWS = ("client_no_context_takeover", "server_no_context_takeover")

PROFILES = (
    Stack(
        name="coder",
        title="coder/websocket 1.8.7",
        codec="go-coder",
        defaults=Defaults(window_bits=15, mem_level=0, level=-1, context_takeover=False,
                          threshold=0),
        knobs=(
            Knob("AcceptOptions.CompressionMode", "context_takeover", (True, False), False,
                 "CompressionContextTakeover / CompressionNoContextTakeover / Disabled"),
            Knob("AcceptOptions.CompressionThreshold", "threshold", (0, 128, 512, 1024), 0,
                 "bytes; 0 means 128 with takeover, 512 without"),
            Knob("CompressionDisabled", "enabled", (True, False), True),
        ),
        fixed={
            "window_bits": "32 KiB on the wire; the compressor looks back 8 KiB only",
            "mem_level": "no such knob",
            "level": "StatelessDeflate has one level",
        },
        status=VERIFIED,
        status_note="tests/codecs/test_go.py compares the go codec with real coder servers and "
        "clients on 127.0.0.1, frame by frame, byte for byte",
        sources=CODER_SOURCES,
        pitfalls=(
            "every compressed message goes out in several frames (the compressor's writes, "
            "then an empty final frame): count their headers",
            "without context takeover the default threshold is 512 B: short messages are "
            "never compressed",
            "later versions (1.8.8+) changed the compressor: these figures are 1.8.7's",
            "RSS depends on when a connection last wrote: StatelessDeflate keeps a 256 KiB "
            "token array on the writing goroutine's stack (klauspost flate/stateless.go), "
            "which grows to 512 KiB until collections (at least one every 2 minutes) halve it "
            "and the scavenger returns the pages. connection_memory_resident is the settled "
            "state (live heap x 1.1, plus 8 KiB of stack per connection that compressed); "
            "before the collections a connection costs more, by timing not traffic "
            "(docs/memory.md, push fleets at GOGC=100: 22.2 +- 13.6 KiB per connection on the "
            "light corpus at 4,000, 59.4 and 81.8 on game and market at 1,600, against 11.7, "
            "17.1 and 18.6 settled; 75-154 KiB at GOGC 50-400 in an earlier run)",
            "GOGC does not change the settled figure (the scavenger keeps 10% over the live "
            "heap whatever GOGC is); it changes how long garbage and grown stacks stay "
            "before a collection: budget the burst, not GOGC",
        ),
        limits=(
            "coder grows the writing goroutine's stack to 512 KiB for every compressed message "
            "(StatelessDeflate's 256 KiB token array, klauspost flate/stateless.go) and keeps "
            "it until collections shrink it: the resident figure is the settled state of "
            "idle connections; a broadcast that makes every connection write at once costs up "
            "to 512 KiB more per connection (about 256 KiB written) until the next collections.",
        ),
        snippet=coder_snippet,
        snippet_title="coder/websocket",
        lexer="go",
        alternatives=("gorilla",),
        family="go",
        aliases=("nhooyr",),
    ),
)
