"""Ruby's ``permessage_deflate`` gem (faye-websocket, websocket-driver): Ruby's Zlib."""

from __future__ import annotations

from wsztune.stacks.profile import SAME_CODEC, Cell, Defaults, Knob, SnippetContext, Source, Stack

STRATEGIES = ("default", "filtered", "huffman_only", "rle", "fixed")
_ZLIB_STRATEGY = {
    "default": "Zlib::DEFAULT_STRATEGY",
    "filtered": "Zlib::FILTERED",
    "huffman_only": "Zlib::HUFFMAN_ONLY",
    "rle": "Zlib::RLE",
    "fixed": "Zlib::FIXED",
}


def ruby_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """``PermessageDeflate.configure`` for ``cell``."""
    if cell.get("compression") is False:
        return "# do not call driver.add_extension(PermessageDeflate): no compression"
    level = "Zlib::DEFAULT_COMPRESSION" if cell["level"] == -1 else cell["level"]
    options = [
        f"level: {level}",
        f"mem_level: {cell['mem_level']}",
        f"strategy: {_ZLIB_STRATEGY.get(cell['strategy'], 'Zlib::DEFAULT_STRATEGY')}",
        f"max_window_bits: {cell['window_bits']}",
        f"no_context_takeover: {'false' if cell['context_takeover'] else 'true'}",
    ]
    return (
        "deflate = PermessageDeflate.configure(\n  "
        + ",\n  ".join(options)
        + "\n)\n"
        "ws = Faye::WebSocket.new(env, nil, extensions: [deflate])"
    )


PROFILES = (
    Stack(
        name="permessage-deflate-ruby",
        aliases=("faye-websocket", "websocket-driver", "ruby"),
        title="Ruby permessage_deflate gem (faye-websocket)",
        codec="zlib",
        defaults=Defaults(window_bits=15, mem_level=8, level=-1, enabled=False),
        knobs=(
            Knob("extensions: [PermessageDeflate]", "enabled", (True, False), False),
            Knob("max_window_bits", "window_bits", tuple(range(8, 16)), 15,
                 "the window the server compresses with, capped by the client's offer"),
            Knob("mem_level", "mem_level", tuple(range(1, 10)), 8),
            Knob("level", "level", tuple(range(-1, 10)), -1),
            Knob("strategy", "strategy", STRATEGIES, "default"),
            Knob("no_context_takeover", "context_takeover", (True, False), True),
        ),
        status=SAME_CODEC,
        status_note="Ruby's Zlib is the system zlib (Zlib::Deflate with SYNC_FLUSH); the gem is "
        "not run here",
        sources=(
            Source("permessage_deflate", "0.1", "lib/permessage_deflate/session.rb",
                   "Zlib::Deflate.new(level, -window_bits, mem_level, strategy), "
                   "deflate(data, Zlib::SYNC_FLUSH), the last 4 bytes dropped; reset per "
                   "message without context takeover"),
            Source("permessage_deflate", "0.1", "README.md",
                   "options :level, :mem_level, :strategy, :max_window_bits, "
                   ":no_context_takeover, :request_max_window_bits, "
                   ":request_no_context_takeover; zlib's defaults otherwise"),
        ),
        pitfalls=("faye-websocket and websocket-driver compress only with the extension "
                  "added: nothing is on by default",),
        snippet=ruby_snippet,
        snippet_title="Ruby (permessage_deflate)",
        lexer="ruby",
        family="ruby",
    ),
)
