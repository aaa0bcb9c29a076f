"""Cowboy, and Phoenix and Bandit: Erlang's zlib with ``deflate_opts``."""

from __future__ import annotations

from wsztune.stacks.profile import SAME_CODEC, Cell, Defaults, Knob, SnippetContext, Source, Stack

WINDOWS = tuple(range(8, 16))
LEVELS = tuple(range(0, 10))
MEM_LEVELS = tuple(range(1, 10))


def _takeover(cell: Cell) -> str:
    return "takeover" if cell["context_takeover"] else "no_takeover"


def cowboy_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """Cowboy's websocket options for ``cell``."""
    if cell.get("compression") is False:
        return "{cowboy_websocket, Req, State, #{compress => false}}."
    level = "default" if cell["level"] == -1 else cell["level"]
    return (
        "{cowboy_websocket, Req, State, #{\n"
        "    compress => true,\n"
        "    deflate_opts => #{\n"
        f"        level => {level},\n"
        f"        mem_level => {cell['mem_level']},\n"
        f"        server_max_window_bits => {cell['window_bits']},\n"
        f"        client_max_window_bits => {cell['client_window_bits']},\n"
        f"        server_context_takeover => {_takeover(cell)},\n"
        f"        client_context_takeover => {_takeover(cell)}\n"
        "    }\n"
        "}}."
    )


def phoenix_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """Phoenix's socket option: on or off (the rest is the adapter's)."""
    compress = "false" if cell.get("compression") is False else "true"
    return f'socket "/socket", MyAppWeb.UserSocket, websocket: [compress: {compress}]'


BANDIT_STRATEGIES = ("default", "filtered", "huffman_only", "rle")


def bandit_snippet(cell: Cell, context: SnippetContext | None = None) -> str:
    """Bandit's websocket deflate options for ``cell`` (window_bits is not among them)."""
    if cell.get("compression") is False:
        return "WebSockAdapter.upgrade(conn, Handler, state, compress: false)"
    level = ":default" if cell["level"] == -1 else cell["level"]
    return (
        "# the endpoint's http: [websocket_options: ...] (Bandit with PR 540, issue 527)\n"
        "websocket_options: [\n"
        "  compress: true,\n"
        f"  deflate_options: [level: {level}, mem_level: {cell['mem_level']}, "
        f"strategy: :{cell['strategy']}]\n"
        "]\n"
        "# and per upgrade: WebSockAdapter.upgrade(conn, Handler, state, compress: true)"
    )


ERLANG_ZLIB = Source(
    "Erlang/OTP",
    "26",
    "erts/emulator/nifs/common/zlib_nif.c",
    "the zlib module is a NIF over the zlib OTP was built with (the system's on Debian)",
)

PROFILES = (
    Stack(
        name="cowboy",
        title="Cowboy",
        codec="zlib",
        defaults=Defaults(window_bits=15, mem_level=8, level=9, enabled=False),
        knobs=(
            Knob("compress", "enabled", (True, False), False),
            Knob("deflate_opts.server_max_window_bits", "window_bits", WINDOWS, 15),
            Knob("deflate_opts.client_max_window_bits", "client_window_bits", WINDOWS, 15),
            Knob("deflate_opts.mem_level", "mem_level", MEM_LEVELS, 8),
            Knob("deflate_opts.level", "level", LEVELS, 9),
            Knob("deflate_opts.server_context_takeover", "context_takeover", (True, False), True),
        ),
        status=SAME_CODEC,
        status_note="Erlang's zlib is the system zlib called with deflateInit2 and "
        "Z_SYNC_FLUSH as CPython does; not checked on the wire here",
        sources=(
            Source(
                "cowlib",
                "2.13",
                "src/cow_ws.erl",
                "negotiate_permessage_deflate: level best_compression, mem_level 8, strategy "
                "default unless deflate_opts say otherwise; windows 15; 8 is deflated as 9",
            ),
            Source("cowboy", "2.12", "src/cowboy_websocket.erl",
                   "compress => false by default; deflate_opts passed to cow_ws"),
            ERLANG_ZLIB,
        ),
        pitfalls=("level best_compression (9) by default: more CPU than most stacks",),
        snippet=cowboy_snippet,
        snippet_title="Cowboy",
        lexer="erlang",
        alternatives=("bandit", "phoenix"),
        family="beam",
    ),
    Stack(
        name="bandit",
        title="Bandit",
        codec="zlib",
        defaults=Defaults(window_bits=15, mem_level=8, enabled=False),
        knobs=(
            Knob("WebSockAdapter.upgrade(..., compress: true)", "enabled", (True, False), False),
            Knob("websocket_options: [deflate_options: [mem_level:]]", "mem_level", MEM_LEVELS,
                 8, "spelled mem_level: memory_level (the old typedoc) is silently ignored"),
            Knob("websocket_options: [deflate_options: [level:]]", "level", (-1, *LEVELS), -1),
            Knob("websocket_options: [deflate_options: [strategy:]]", "strategy",
                 BANDIT_STRATEGIES, "default"),
        ),
        fixed={
            "window_bits": "15 unless the client offers server_max_window_bits: "
            "deflate_options' window_bits is ignored (the window is negotiated)",
        },
        status=SAME_CODEC,
        status_note="Erlang's zlib (the system zlib); not checked on the wire here",
        sources=(
            Source(
                "bandit",
                "1.10",
                "lib/bandit/websocket/permessage_deflate.ex",
                ":zlib.deflateInit(level, :deflated, -server_max_window_bits, mem_level, "
                "strategy) from websocket_options' deflate_options (level :default, mem_level "
                "8, strategy :default); the window comes from the negotiation only",
            ),
            Source("bandit", "1.10", "mtrudel/bandit issue 527, PR 540",
                   "deflate_options for WebSocket per-message deflate (before: not "
                   "configurable, http_options' deflate_options are HTTP-only)"),
            Source("bandit", "1.11", "mtrudel/bandit PR 659 (issue 644), PR 678",
                   "max_inflate_ratio defaults to 25 (a frame inflating more is closed with "
                   "1009); the typedoc's memory_level is corrected to mem_level"),
            ERLANG_ZLIB,
        ),
        pitfalls=(
            "releases before PR 540 take no deflate_options: level :default, mem_level 8",
            "max_inflate_ratio 25: a client message that inflates more than 25 times is "
            "refused with close code 1009 (highly repetitive JSON can)",
            "compression needs both the listener's websocket_options compress (default true) "
            "and the upgrade's compress: true",
        ),
        snippet=bandit_snippet,
        snippet_title="Bandit",
        lexer="elixir",
        alternatives=("cowboy", "phoenix"),
        family="beam",
    ),
    Stack(
        name="phoenix",
        title="Phoenix (socket)",
        codec="zlib",
        defaults=Defaults(window_bits=15, mem_level=8, enabled=False),
        knobs=(Knob('socket ..., websocket: [compress:]', "enabled", (True, False), False),),
        fixed={
            "window_bits": "the adapter's (Bandit or Cowboy): 15 by default",
            "mem_level": "the adapter's: 8",
            "level": "the adapter's: Bandit's default (-1); Cowboy's 9 is not this profile",
        },
        status=SAME_CODEC,
        status_note="Phoenix passes compress to its adapter (Bandit since Phoenix 1.7.11's "
        "generators); Erlang's zlib, not checked on the wire here",
        sources=(
            Source("phoenix", "1.7", "lib/phoenix/transports/websocket.ex",
                   "websocket: [compress: false] by default, handed to the adapter's upgrade"),
            ERLANG_ZLIB,
        ),
        pitfalls=(
            "Phoenix exposes on/off only; window and memLevel are the adapter's options "
            "(--server bandit or --server cowboy)",
        ),
        snippet=phoenix_snippet,
        snippet_title="Phoenix",
        lexer="elixir",
        alternatives=("bandit", "cowboy"),
        family="beam",
    ),
)
