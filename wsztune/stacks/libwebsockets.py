"""libwebsockets (C): zlib with every deflate parameter settable, 1 KiB output buffers."""

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

EXTENSION_SOURCE = "lib/roles/ws/ext/extension-permessage-deflate.c"


def lws_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """The extension table and the per-connection options for ``cell``."""
    if cell.get("compression") is False:
        return "info.extensions = NULL;  /* the default: no permessage-deflate */"
    lines = [
        "static const struct lws_extension extensions[] = {",
        '    { "permessage-deflate", lws_extension_callback_pm_deflate,',
        '      "permessage-deflate; client_max_window_bits" },',
        "    { NULL, NULL, NULL }",
        "};",
        "info.extensions = extensions;",
        "",
        "/* in LWS_CALLBACK_ESTABLISHED, before the first lws_write() */",
    ]
    options = [
        ("compression_level", zlib_level(cell)),
        ("mem_level", cell["mem_level"]),
        ("server_max_window_bits", cell["window_bits"]),
    ]
    for name, value in options:
        lines.append(f'lws_set_extension_option(wsi, "permessage-deflate", "{name}", "{value}");')
    if not cell["context_takeover"]:
        lines.append("/* lws resets its own deflater per message when this option is set */")
        lines.append(
            'lws_set_extension_option(wsi, "permessage-deflate", '
            '"client_no_context_takeover", NULL);'
        )
    return "\n".join(lines)


PROFILES = (
    Stack(
        name="libwebsockets",
        aliases=("lws",),
        title="libwebsockets",
        codec="zlib",
        defaults=Defaults(window_bits=15, mem_level=8, level=1, enabled=False),
        knobs=(
            Knob("info.extensions (lws_extension_callback_pm_deflate)", "enabled",
                 (True, False), False, "off unless the extension table is given"),
            Knob("server_max_window_bits", "window_bits", tuple(range(8, 16)), 15,
                 "the client's offer, or lws_set_extension_option before the first write"),
            Knob("mem_level", "mem_level", tuple(range(1, 10)), 8,
                 "lws_set_extension_option(wsi, \"permessage-deflate\", \"mem_level\", ...)"),
            Knob("compression_level", "level", tuple(range(1, 10)), 1,
                 "0 (stored) is accepted too, but its blocks follow lws's 1 KiB buffer: not "
                 "modelled"),
            Knob("client_no_context_takeover (resets the server's own deflater)",
                 "context_takeover", (True, False), True,
                 "lws resets its deflater after each message when this argument is set"),
        ),
        fixed={
            "strategy": "Z_DEFAULT_STRATEGY",
            "threshold": "none: every data message is compressed",
        },
        status=VERIFIED,
        status_note="tests/stacks/test_verify_lws.py: a C server on Debian's libwebsockets 4.1.6, "
        "compiled on first use, sends the five bundled corpora; every frame's payload equals "
        "CPython's zlib byte for byte (levels 1-9, memLevels, windows, takeover); wsztune counts "
        "one frame header a message, lws sends one per 1 KiB of output (see pitfalls)",
        sources=(
            Source("libwebsockets", "4.1", EXTENSION_SOURCE,
                   "LWS_EXT_CB_OPTION_DEFAULT: server/client_max_window_bits 15, rx/tx_buf_size "
                   "2^10, compression_level 1, mem_level 8; deflateInit2(level, Z_DEFLATED, "
                   "-server_max_window_bits, mem_level, Z_DEFAULT_STRATEGY)"),
            Source("libwebsockets", "4.1", EXTENSION_SOURCE,
                   "LWS_EXT_CB_PAYLOAD_TX: deflate into a tx_buf_size buffer with Z_SYNC_FLUSH, "
                   "each full buffer sent as a fragment, the trailing 00 00 ff ff trimmed; "
                   "deflateEnd after a FIN when client_no_context_takeover is set"),
            Source("libwebsockets", "4.1", "include/libwebsockets/lws-ws-ext.h",
                   "lws_set_extension_option() sets an option of the extension by name on "
                   "one connection"),
        ),
        pitfalls=(
            "compression is off unless the extension table is passed to the context",
            "every 1 KiB of compressed output is its own frame (tx_buf_size): a 10 KiB "
            "message is ten frames, each with its own header; raise tx_buf_size for fewer",
            "it answers server_no_context_takeover but keeps its deflater's context (checked on "
            "the wire): a client that resets its inflater as agreed fails on back-references; "
            "the deflater is reset on client_no_context_takeover instead",
            "when its output buffer fills inside a message's last 4-5 bytes, the message carries "
            "the sync trailer and one more byte (zlib flushes twice): 5 bytes, rarely",
            "level 0 (stored) blocks are cut by the 1 KiB buffer, not as zlib alone cuts them",
        ),
        snippet=lws_snippet,
        snippet_title="libwebsockets",
        lexer="c",
        family="c",
    ),
)
