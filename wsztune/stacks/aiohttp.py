"""aiohttp: ``WebSocketResponse(compress=True)``, level 1, memLevel 8, the client's window."""

from __future__ import annotations

from wsztune.stacks.profile import VERIFIED, Cell, Defaults, Knob, SnippetContext, Source, Stack


def aiohttp_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """The handler line for ``cell``: aiohttp only turns compression on or off."""
    if cell.get("compression") is False:
        return "ws = web.WebSocketResponse(compress=False)"
    lines = ["ws = web.WebSocketResponse(compress=True)  # level 1, memLevel 8: fixed by aiohttp"]
    if cell["window_bits"] != 15:
        lines.append(
            f"# window {cell['window_bits']}: only a client can ask for it, e.g. aiohttp's "
            f"session.ws_connect(url, compress={cell['window_bits']})"
        )
    return "\n".join(lines)


PROFILES = (
    Stack(
        name="aiohttp",
        title="aiohttp",
        codec="zlib",
        defaults=Defaults(window_bits=15, mem_level=8, level=1, client_window_bits=15),
        knobs=(Knob("WebSocketResponse(compress=)", "enabled", (True, False), True),),
        fixed={
            "window_bits": "15, unless the client offers server_max_window_bits (9-15)",
            "mem_level": "8: aiohttp never passes memLevel to zlib",
            "level": "1 (Z_BEST_SPEED)",
            "client_window_bits": "15: aiohttp never caps the client's window",
            "context_takeover": "on, unless the client asks server_no_context_takeover "
            "(then Z_FULL_FLUSH after each message)",
        },
        status=VERIFIED,
        status_note="a real aiohttp 3.14.5 server's 400 frames equal zlib 15:8 level 1, and no "
        "other cell (ANCHORS.md section 6)",
        sources=(
            Source(
                "aiohttp",
                "3.14.5",
                "aiohttp/_websocket/writer.py",
                "ZLibCompressor(level=Z_BEST_SPEED, wbits=-compress): level 1, no memLevel "
                "(zlib's 8); Z_SYNC_FLUSH, or Z_FULL_FLUSH without context takeover",
            ),
            Source(
                "aiohttp",
                "3.14.5",
                "aiohttp/_websocket/helpers.py",
                "ws_ext_parse(isserver=True): window 15, or the client's server_max_window_bits "
                "(9-15); client_max_window_bits ignored",
            ),
            Source(
                "aiohttp",
                "3.14.5",
                "aiohttp/web_ws.py",
                "WebSocketResponse(compress: bool = True)",
            ),
            Source(
                "aiohttp",
                "3.14.5",
                "aiohttp/compression_utils.py",
                "set_zlib_backend() swaps zlib for another module (zlib-ng, isal): memory and "
                "bytes then follow that library",
            ),
        ),
        pitfalls=(
            "the server cannot lower its own window: only a client offering "
            "server_max_window_bits can; browsers never do",
            "the decompressor always opens a 15-bit window (ZLibDecompressor with "
            "suppress_deflate_header): 32 KiB per connection whatever the client uses",
            "send_str(data, compress=N) builds a fresh compressor for that one message",
        ),
        snippet=aiohttp_snippet,
        snippet_title="aiohttp",
        lexer="python",
        alternatives=("tornado", "websockets"),
    ),
)
