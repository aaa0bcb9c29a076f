"""ASP.NET Core / .NET: ``WebSocketDeflateOptions``; memLevel fixed at 8; zlib-ng since .NET 9."""

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


def dotnet_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """``AcceptWebSocketAsync`` with ``WebSocketDeflateOptions`` set to ``cell``."""
    if cell.get("compression") is False:
        return (
            "var ws = await context.WebSockets.AcceptWebSocketAsync();"
            "  // no DangerousDeflateOptions"
        )
    takeover = "true" if cell["context_takeover"] else "false"
    return (
        "var ws = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext\n"
        "{\n"
        "    DangerousDeflateOptions = new WebSocketDeflateOptions\n"
        "    {\n"
        f"        ServerMaxWindowBits = {cell['window_bits']},\n"
        f"        ClientMaxWindowBits = {cell['client_window_bits']},\n"
        f"        ServerContextTakeover = {takeover},\n"
        f"        ClientContextTakeover = {takeover},\n"
        "    },  // memLevel is fixed at 8\n"
        "});"
    )


WINDOWS = tuple(range(9, 16))

PROFILES = (
    Stack(
        name="dotnet",
        aliases=("aspnetcore", ".net"),
        title=".NET (System.Net.WebSockets)",
        codec="zlib-ng",
        defaults=Defaults(window_bits=15, mem_level=8, enabled=False),
        knobs=(
            Knob("WebSocketAcceptContext.DangerousDeflateOptions", "enabled", (True, False), False),
            Knob("ServerMaxWindowBits", "window_bits", WINDOWS, 15),
            Knob("ClientMaxWindowBits", "client_window_bits", WINDOWS, 15),
            Knob("ServerContextTakeover / ClientContextTakeover", "context_takeover",
                 (True, False), True),
        ),
        fixed={
            "mem_level": "8 (Deflate_DefaultMemLevel)",
            "level": "-1 (CompressionLevel.DefaultCompression)",
        },
        versions=(
            Version(
                "<9",
                Defaults(window_bits=15, mem_level=8, enabled=False),
                ".NET 6-8 link the platform's zlib (stock zlib on Linux)",
                codec="zlib",
            ),
            Version(
                ">=9",
                Defaults(window_bits=15, mem_level=8, enabled=False),
                ".NET 9 and later ship zlib-ng: memory is nearly flat in memLevel",
                codec="zlib-ng",
            ),
        ),
        status=APPROXIMATE,
        status_note="zlib-ng (the PyPI zlib-ng package) stands for .NET 9's bundled zlib-ng; "
        "its version and build flags may differ, and the framing is not checked here",
        sources=(
            Source(
                "dotnet/runtime",
                "9.0",
                "src/libraries/System.Net.WebSockets/src/System/Net/WebSockets/Compression/"
                "WebSocketDeflater.cs",
                "CreateZLibStreamForDeflate(CompressionLevel.DefaultCompression, windowBits, "
                "Deflate_DefaultMemLevel, DefaultStrategy)",
            ),
            Source(
                "dotnet/runtime",
                "9.0",
                "src/libraries/System.Net.WebSockets/src/System/Net/WebSockets/"
                "WebSocketDeflateOptions.cs",
                "ClientMaxWindowBits and ServerMaxWindowBits 9-15 (default 15), "
                "ClientContextTakeover and ServerContextTakeover (default true)",
            ),
            Source(
                "dotnet/runtime",
                "9.0",
                "src/native/external/zlib-ng",
                ".NET 9 replaced its zlib with zlib-ng",
            ),
        ),
        pitfalls=(
            "off unless DangerousDeflateOptions is set per accepted socket",
            "on .NET 9+ (zlib-ng) a lower memLevel saves almost nothing, and memLevel is fixed "
            "anyway: the window is the only memory knob",
        ),
        snippet=dotnet_snippet,
        snippet_title=".NET",
        lexer="csharp",
    ),
)
