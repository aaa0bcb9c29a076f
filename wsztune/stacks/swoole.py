"""Swoole (PHP): one boolean, and always no context takeover both ways."""

from __future__ import annotations

from wsztune.stacks.profile import SAME_CODEC, Cell, Defaults, Knob, SnippetContext, Source, Stack


def swoole_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """The server setting and the per-push flag."""
    if cell.get("compression") is False:
        return "$server->set(['websocket_compression' => false]);  // the default"
    return (
        "$server->set(['websocket_compression' => true]);\n"
        "// and per message:\n"
        "$server->push($fd, $data, SWOOLE_WEBSOCKET_OPCODE_TEXT, SWOOLE_WEBSOCKET_FLAG_FIN | "
        "SWOOLE_WEBSOCKET_FLAG_COMPRESS);"
    )


PROFILES = (
    Stack(
        name="swoole",
        aliases=("openswoole",),
        title="Swoole / OpenSwoole",
        codec="zlib",
        defaults=Defaults(window_bits=15, mem_level=8, context_takeover=False, enabled=False),
        knobs=(Knob("websocket_compression (+ SWOOLE_WEBSOCKET_FLAG_COMPRESS per push)",
                    "enabled", (True, False), False),),
        fixed={
            "context_takeover": "off both ways: the answer is always permessage-deflate; "
            "client_no_context_takeover; server_no_context_takeover",
            "window_bits": "15 (zlib's raw deflate default)",
            "mem_level": "8",
            "level": "-1 (zlib's default), as wsztune reads websocket_message_compress; not "
            "checked on the wire",
        },
        takeover="off",
        status=SAME_CODEC,
        status_note="the system zlib, a fresh stream per message; Swoole is not run here",
        sources=(
            Source("swoole-src", "5", "include/swoole_config.h",
                   "SW_WEBSOCKET_EXTENSION_DEFLATE \"permessage-deflate; "
                   "client_no_context_takeover; server_no_context_takeover\""),
            Source("swoole-src", "5", "ext-src/swoole_websocket_server.cc",
                   "the extension is answered when websocket_compression is on and the client "
                   "offers permessage-deflate; push() compresses (websocket_message_compress) "
                   "only with SWOOLE_WEBSOCKET_FLAG_COMPRESS"),
        ),
        pitfalls=(
            "compression needs the setting and the flag on every push: the setting alone "
            "compresses nothing",
            "no context takeover: small messages save little",
        ),
        snippet=swoole_snippet,
        snippet_title="Swoole",
        lexer="php",
        family="php",
    ),
)
