"""Tornado: ``get_compression_options()`` with level and memLevel; no window option."""

from __future__ import annotations

from wsztune.stacks.profile import (
    VERIFIED,
    Cell,
    Defaults,
    Knob,
    SnippetContext,
    Source,
    Stack,
    zlib_level,
)


def tornado_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """``get_compression_options`` returning ``cell``'s level and memLevel."""
    if cell.get("compression") is False:
        return (
            "class Handler(tornado.websocket.WebSocketHandler):\n"
            "    def get_compression_options(self):\n"
            "        return None  # the default: no compression"
        )
    level = zlib_level(cell)
    return (
        "class Handler(tornado.websocket.WebSocketHandler):\n"
        "    def get_compression_options(self):\n"
        f'        return {{"compression_level": {level}, "mem_level": {cell["mem_level"]}}}'
    )


PROFILES = (
    Stack(
        name="tornado",
        title="Tornado",
        codec="zlib",
        defaults=Defaults(window_bits=15, mem_level=8, level=6, enabled=False),
        knobs=(
            Knob("get_compression_options() -> dict | None", "enabled", (True, False), False),
            Knob('"mem_level"', "mem_level", tuple(range(1, 10)), 8),
            Knob('"compression_level"', "level", tuple(range(0, 10)), 6),
        ),
        fixed={
            "window_bits": "15, unless the client offers server_max_window_bits (8-15)",
            "client_window_bits": "15, unless the client offers a value",
            "context_takeover": "on, unless the client asks for no context takeover",
        },
        status=VERIFIED,
        status_note="a real Tornado 6.6.1 server's frames equal zlib 15:8 level 6 "
        "(ANCHORS.md section 6)",
        sources=(
            Source(
                "tornado",
                "6.6.1",
                "tornado/websocket.py",
                "_PerMessageDeflateCompressor: compression_level defaults to "
                "GZipContentEncoding.GZIP_LEVEL (6), mem_level to 8, max_wbits to the "
                "negotiated server_max_window_bits or 15",
            ),
            Source(
                "tornado",
                "6.6.1",
                "tornado/websocket.py",
                "get_compression_options() returns None by default: compression off; "
                "'TODO: Add wbits option'",
            ),
            Source(
                "tornado",
                "6.6.1",
                "tornado/iostream.py",
                "_read_to_buffer reads every time into a fresh bytearray(read_chunk_size), "
                "64 KiB by default (BaseIOStream.__init__), and frees it once the bytes are "
                "copied out: the read_buffer the resident model lays under the zlib objects",
            ),
        ),
        # bytearray(65536) zero-fills its 65,536 bytes and CPython's trailing NUL: all written.
        read_buffer=65536 + 1,
        pitfalls=(
            "compression is off until get_compression_options() returns a dict (even {})",
            "no window option: the window is 15 bits unless the client asks for less",
        ),
        snippet=tornado_snippet,
        snippet_title="Tornado",
        lexer="python",
        alternatives=("aiohttp", "websockets"),
    ),
)
