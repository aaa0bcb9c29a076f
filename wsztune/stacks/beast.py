"""Boost.Beast: ``permessage_deflate`` options, its own port of zlib, memLevel 4 by default."""

from __future__ import annotations

from wsztune.stacks.profile import (
    APPROXIMATE,
    Cell,
    Defaults,
    Knob,
    SnippetContext,
    Source,
    Stack,
    zlib_level,
)


def beast_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """``websocket::permessage_deflate`` set to ``cell``."""
    if cell.get("compression") is False:
        return "// leave permessage_deflate::server_enable at its default, false"
    level = zlib_level(cell)
    takeover = "false" if cell["context_takeover"] else "true"
    return (
        "websocket::permessage_deflate pmd;\n"
        "pmd.server_enable = true;\n"
        f"pmd.server_max_window_bits = {cell['window_bits']};\n"
        f"pmd.client_max_window_bits = {cell['client_window_bits']};\n"
        f"pmd.server_no_context_takeover = {takeover};\n"
        f"pmd.client_no_context_takeover = {takeover};\n"
        f"pmd.compLevel = {level};\n"
        f"pmd.memLevel = {cell['mem_level']};\n"
        "ws.set_option(pmd);"
    )


PROFILES = (
    Stack(
        name="beast",
        aliases=("boost-beast", "boost.beast"),
        title="Boost.Beast",
        codec="zlib",
        defaults=Defaults(window_bits=15, mem_level=4, level=8, enabled=False),
        knobs=(
            Knob("permessage_deflate::server_enable", "enabled", (True, False), False),
            Knob("server_max_window_bits", "window_bits", tuple(range(9, 16)), 15),
            Knob("client_max_window_bits", "client_window_bits", tuple(range(9, 16)), 15),
            Knob("memLevel", "mem_level", tuple(range(1, 10)), 4),
            Knob("compLevel", "level", tuple(range(0, 10)), 8),
            Knob("server_no_context_takeover / client_no_context_takeover", "context_takeover",
                 (True, False), True),
        ),
        status=APPROXIMATE,
        status_note="Beast compresses with its own C++ port of zlib (boost/beast/zlib); stock "
        "zlib stands for it, not checked byte for byte here",
        sources=(
            Source(
                "Boost.Beast",
                "1.83",
                "include/boost/beast/websocket/option.hpp",
                "permessage_deflate: server_enable false, server_max_window_bits 15, "
                "client_max_window_bits 15, compLevel 8, memLevel 4",
            ),
            Source(
                "Boost.Beast",
                "1.83",
                "include/boost/beast/zlib/deflate_stream.hpp",
                "a port of zlib's deflate to C++, not the zlib library",
            ),
        ),
        pitfalls=("window bits 8 is refused ('Due to a bug in ZLib, must be greater than 8')",),
        snippet=beast_snippet,
        snippet_title="Boost.Beast",
        lexer="cpp",
    ),
)
