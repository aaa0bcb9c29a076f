"""NATS server's WebSocket listener: one boolean, no context takeover, Go's flate at BestSpeed."""

from __future__ import annotations

from wsztune.stacks.profile import VERIFIED, Cell, Defaults, Knob, SnippetContext, Source, Stack

# nats-server compresses what is pending for a connection when it is more than 64 bytes
# (wsCompressThreshold): 65 bytes and up, in wsztune's "at or over" threshold.
NATS_THRESHOLD = 65


def nats_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """The server configuration block for ``cell``: compression on or off, nothing else."""
    compression = "false" if cell.get("compression") is False else "true"
    return (
        "websocket {\n"
        "  port: 8080\n"
        "  no_tls: true  # behind a TLS proxy\n"
        f"  compression: {compression}  # the only knob: level 1, no context takeover\n"
        "}"
    )


PROFILES = (
    Stack(
        name="nats",
        aliases=("nats-server",),
        title="NATS server (WebSocket)",
        codec="go-nats",
        defaults=Defaults(window_bits=15, mem_level=0, level=1, context_takeover=False,
                          threshold=NATS_THRESHOLD, enabled=False),
        knobs=(Knob("websocket { compression: true }", "enabled", (True, False), False),),
        fixed={
            "window_bits": "Go's compress/flate: always a 32 KiB window",
            "mem_level": "compress/flate has no memLevel",
            "level": "1: flate.NewWriter(buf, flate.BestSpeed)",
            "context_takeover": "always off: the answer is permessage-deflate; "
            "server_no_context_takeover; client_no_context_takeover, and the compressor is "
            "Reset before each write",
            "threshold": "64 bytes: what is pending is compressed only when it is larger",
        },
        takeover="off",
        status=VERIFIED,
        status_note="tests/stacks/test_verify_nats.py: Debian's nats-server 2.9.10 with websocket "
        "compression on relays the five bundled corpora as PUB payloads; every MSG frame's "
        "compressed payload equals the go-nats codec byte for byte",
        sources=(
            Source("nats-server", "2.9", "server/websocket.go",
                   "wsCollapsePtoNB: flate.NewWriter(buf, flate.BestSpeed) kept per connection "
                   "and Reset before each write; Flush, the last 4 bytes dropped; not "
                   "compressed when the pending bytes are <= wsCompressThreshold (64)"),
            Source("nats-server", "2.9", "server/websocket.go",
                   "wsPMCFullResponse: permessage-deflate; server_no_context_takeover; "
                   "client_no_context_takeover, whatever the client offered; compression "
                   "only with websocket { compression: true }"),
            Source("nats-server", "2.9", "server/websocket.go",
                   "a browser (User-Agent Mozilla/) gets frames of at most 4096 bytes "
                   "(wsFrameSizeForBrowsers); Safari none (nocompfrag)"),
        ),
        pitfalls=(
            "one frame carries whatever protocol lines are pending (MSG header, payload, "
            "PING...): a run measures the corpus messages alone, without the MSG header "
            "(about 20-40 bytes a message) that the server compresses with them",
            "no context takeover: each frame is compressed alone, so small messages save little",
            "the compressor (a flate.Writer, several hundred KB) stays with the connection "
            "once it compressed anything",
        ),
        snippet=nats_snippet,
        snippet_title="NATS server",
        lexer="text",
        family="go",
        alternatives=("gorilla",),
    ),
)
