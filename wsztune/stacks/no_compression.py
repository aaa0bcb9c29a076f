"""Stacks without permessage-deflate: Deno, fastwebsockets, ASP.NET Core SignalR, actix-web, axum,
upstream tungstenite and Ratchet.

They are listed (``wsztune stacks``) so that naming one gets the fact instead of "no such stack":
``--server deno`` is refused with what the stack lacks, what teams do instead and the source.
Nothing here is measured: there is no compressor to measure.
"""

from __future__ import annotations

from wsztune.stacks.profile import (
    CANNOT_COMPRESS,
    Cell,
    Defaults,
    Snippet,
    SnippetContext,
    Source,
    Stack,
)

# What teams do instead, in every stack below: compress in the application, as a binary message.
APP_LEVEL = (
    "compress in the application: deflate/gzip (or a compact format such as MessagePack) each "
    "message yourself and send it as a binary message, or put a proxy that speaks "
    "permessage-deflate in front"
)

_OFF = Defaults(window_bits=15, mem_level=8, enabled=False)
_FIXED = {"enabled": "off: the library has no permessage-deflate implementation"}


def _snippet_for(comment: str, code: str) -> Snippet:
    def snippet(cell: Cell, context: SnippetContext | None = None) -> str:
        """No option to set: what to write instead."""
        return f"{comment} no permessage-deflate here; compress in the application instead:\n{code}"

    return snippet


_JS = _snippet_for(
    "//",
    "const packed = new Uint8Array(await new Response(\n"
    "  new Blob([JSON.stringify(message)]).stream()\n"
    "    .pipeThrough(new CompressionStream('deflate-raw'))\n"
    ").arrayBuffer());\n"
    "socket.send(packed);  // binary; the client inflates with DecompressionStream",
)
_RUST = _snippet_for(
    "//",
    "let mut encoder =\n"
    "    flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());\n"
    "encoder.write_all(&payload)?;\n"
    "socket.send(Message::Binary(encoder.finish()?.into())).await?;",
)
_CSHARP = _snippet_for(
    "//",
    "services.AddSignalR().AddMessagePackProtocol();  // smaller frames; or compress large "
    "payloads yourself",
)
_PHP = _snippet_for(
    "//",
    "$conn->send(new \\Ratchet\\RFC6455\\Messaging\\Frame(gzdeflate($json, 1), true, "
    "\\Ratchet\\RFC6455\\Messaging\\Frame::OP_BINARY));",
)


def _refused(
    name: str,
    title: str,
    sources: tuple[Source, ...],
    snippet: Snippet,
    lexer: str,
    pitfalls: tuple[str, ...] = (),
    aliases: tuple[str, ...] = (),
    family: str = "",
) -> Stack:
    return Stack(
        name=name,
        title=title,
        codec="none",
        defaults=_OFF,
        fixed=dict(_FIXED),
        status=CANNOT_COMPRESS,
        status_note="no permessage-deflate: every message goes out as it is; --server refuses it",
        sources=sources,
        pitfalls=pitfalls,
        snippet=snippet,
        snippet_title=title,
        lexer=lexer,
        aliases=aliases,
        family=family or "no-compression",
        instead=APP_LEVEL,
    )


PROFILES = (
    _refused(
        "deno",
        "Deno (Deno.upgradeWebSocket)",
        (
            Source("deno", "2", "denoland/deno issue 7681",
                   "asked whether Deno's WebSocket compresses messages: 'It currently does not'; "
                   "Deno.upgradeWebSocket answers no Sec-WebSocket-Extensions"),
            Source("deno", "2", "ext/websocket (built on fastwebsockets)",
                   "the server side is fastwebsockets, which has no permessage-deflate"),
        ),
        _JS,
        "javascript",
        pitfalls=("a client offering permessage-deflate is answered without it: messages go "
                  "uncompressed, silently",),
        family="deno",
    ),
    _refused(
        "fastwebsockets",
        "fastwebsockets (Rust)",
        (
            Source("fastwebsockets", "0.8", "README.md",
                   "a minimal RFC 6455 implementation; no extensions, permessage-deflate not "
                   "implemented"),
        ),
        _RUST,
        "rust",
        family="deno",
    ),
    _refused(
        "signalr",
        "ASP.NET Core SignalR",
        (
            Source("aspnetcore", "8", "dotnet/aspnetcore issue 38230",
                   "SignalR does not use the WebSocket compression added in ASP.NET Core 6 "
                   "(open); issue 35212: WebSocketOptions has no compression option for hubs"),
            Source("runtime", "8", "dotnet/corefx issue 15430",
                   "'In the meantime though you'll need to do the app level compression', or "
                   "SignalR's MessagePack protocol"),
        ),
        _CSHARP,
        "csharp",
        aliases=("aspnet-signalr",),
        pitfalls=("plain ASP.NET Core WebSockets can compress (--server dotnet); SignalR hubs "
                  "on top of them cannot",),
    ),
    _refused(
        "actix-web",
        "actix-web (actix-ws)",
        (
            Source("actix-web", "4", "actix/actix-web issue 1635",
                   "'support permessage-deflate compression extension': open; PR 3496 "
                   "(compress-ws-deflate feature) not merged"),
        ),
        _RUST,
        "rust",
        aliases=("actix",),
        family="rust",
    ),
    _refused(
        "axum",
        "axum (WebSocketUpgrade)",
        (
            Source("tokio-tungstenite", "0.24", "snapview/tokio-tungstenite PR 251",
                   "permessage-deflate for crates like warp and axum: open, never merged; axum's "
                   "WebSocketUpgrade is tokio-tungstenite's"),
        ),
        _RUST,
        "rust",
        family="rust",
    ),
    _refused(
        "tungstenite",
        "tungstenite / tokio-tungstenite (upstream)",
        (
            Source("tungstenite-rs", "0.24", "snapview/tungstenite-rs PR 426",
                   "'Add permessage-deflate support, again': open; PRs 144, 235 and 328 closed "
                   "unmerged; companies fork tungstenite only for this feature"),
        ),
        _RUST,
        "rust",
        aliases=("tokio-tungstenite",),
        pitfalls=("forks with permessage-deflate exist; they are not upstream and not "
                  "profiled here",),
        family="rust",
    ),
    _refused(
        "ratchet",
        "Ratchet (PHP)",
        (
            Source("Ratchet", "0.4", "ratchetphp/Ratchet issue 382",
                   "'Handling permessage-deflate requests': open; PR 851 exposing RFC6455's "
                   "permessage-deflate closed unmerged in 2025"),
        ),
        _PHP,
        "php",
    ),
)
