"""python-websockets: ``serve()``'s permessage-deflate, CPython's zlib (the reference stack)."""

from __future__ import annotations

from wsztune.stacks.profile import (
    VERIFIED,
    Cell,
    Defaults,
    Knob,
    Snippet,
    SnippetContext,
    Source,
    Stack,
)

WINDOW_BITS = tuple(range(8, 16))
MEM_LEVELS = tuple(range(1, 10))


def python_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """``serve()`` with a ``ServerPerMessageDeflateFactory`` set to ``cell``."""
    settings = {"memLevel": cell["mem_level"]}
    if cell["level"] != -1:
        settings["level"] = cell["level"]
    compress = ", ".join(f'"{k}": {v}' for k, v in settings.items())
    strategy = ""
    if cell["strategy"] != "default":
        strategy = f'  # also add "strategy": zlib.Z_{cell["strategy"].upper()}\n'
    takeover = ""
    if not cell["context_takeover"]:
        takeover = (
            "            server_no_context_takeover=True,\n"
            "            client_no_context_takeover=True,\n"
        )
    return (
        "from websockets.asyncio.server import serve\n"
        "from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory\n"
        "\n"
        "# Keep compression= at its default: websockets uses this factory and adds no other.\n"
        "serve(\n"
        "    handler, host, port,\n"
        "    extensions=[\n"
        "        ServerPerMessageDeflateFactory(\n"
        f"            server_max_window_bits={cell['window_bits']},\n"
        f"            client_max_window_bits={cell['client_window_bits']},\n"
        f"{takeover}"
        f"            compress_settings={{{compress}}},\n"
        f"{strategy}"
        "        ),\n"
        "    ],\n"
        ")"
    )


_snippet: Snippet = python_snippet

PROFILES = (
    Stack(
        name="websockets",
        aliases=("python-websockets",),
        title="python-websockets",
        codec="zlib",
        defaults=Defaults(window_bits=12, mem_level=5, client_window_bits=12),
        knobs=(
            Knob("server_max_window_bits", "window_bits", WINDOW_BITS, 12),
            Knob("client_max_window_bits", "client_window_bits", WINDOW_BITS, 12),
            Knob('compress_settings["memLevel"]', "mem_level", MEM_LEVELS, 5),
            Knob('compress_settings["level"]', "level", tuple(range(-1, 10)), -1),
            Knob('compress_settings["strategy"]', "strategy", ("default", "filtered",
                 "huffman", "rle", "fixed"), "default"),
            Knob(
                "server_no_context_takeover / client_no_context_takeover",
                "context_takeover",
                (True, False),
                True,
            ),
            Knob("compression=None", "enabled", (True, False), True),
        ),
        status=VERIFIED,
        status_note="tests/test_permessage_deflate.py compares every cell with websockets' own "
        "PerMessageDeflate.encode, byte for byte",
        sources=(
            Source(
                "websockets",
                "17.4",
                "src/websockets/extensions/permessage_deflate.py",
                "enable_server_permessage_deflate: server_max_window_bits=12, "
                "client_max_window_bits=12, compress_settings={'memLevel': 5}",
            ),
            Source(
                "websockets",
                "17.4",
                "docs/topics/compression.rst",
                "serve() and connect() enable compression by default",
            ),
        ),
        broadcast=Source(
            "websockets", "17.4", "src/websockets/asyncio/connection.py (broadcast)",
            "per connection: broadcast() calls each connection's protocol.send_text / "
            "send_binary, which runs that connection's PerMessageDeflate encoder: one "
            "compression per subscriber",
        ),
        pitfalls=(
            "compression= must stay at its default ('deflate') for extensions= to be the only "
            "deflate offer; compression=None turns it off",
            "a client that offers bare permessage-deflate (Firefox) cannot be capped: the "
            "server's decompressor then needs the client's 15-bit window",
        ),
        snippet=_snippet,
        snippet_title="python-websockets (serve)",
        lexer="python",
        family="websockets",
    ),
)
