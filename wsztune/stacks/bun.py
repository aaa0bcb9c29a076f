"""Bun (``Bun.serve``): a uWebSockets fork whose modes fix window, memLevel and takeover together.

``perMessageDeflate: true`` is the *shared* compressor and decompressor: one zlib stream per event
loop at 15:8, reset after every message (no context takeover), so it costs no memory per
connection. ``perMessageDeflate: { compress: "dedicated" | "3KB" ... "256KB" }`` gives every
connection its own compressor, with context takeover, at uWebSockets' (windowBits, memLevel)
presets. Those nine modes are the cells a sweep of Bun measures, all in one run.
"""

from __future__ import annotations

from wsztune.stacks.profile import (
    VERIFIED,
    Cell,
    Defaults,
    Knob,
    SnippetContext,
    Source,
    Stack,
)
from wsztune.stacks.uwebsockets import UWS_COMPRESSORS

# Bun's ``compress`` strings for uWebSockets' presets (WebSocketServerContext.zig CompressTable):
# "3KB" is DEDICATED_COMPRESSOR_3KB, ... "256KB" (= "dedicated") is 15:8.
BUN_PRESETS: tuple[tuple[str, int, int], ...] = tuple(
    (name.rsplit("_", 1)[1], wb, ml) for name, wb, ml in UWS_COMPRESSORS
)
# The shared compressor: SHARED_COMPRESSOR deflates with the loop's one 15:8 stream and resets it.
SHARED_CELL = (15, 8, False)
BUN_CELLS: tuple[tuple[int, int, bool], ...] = (
    SHARED_CELL,
    *((wb, ml, True) for _, wb, ml in BUN_PRESETS),
)


def bun_mode(cell: Cell) -> str:
    """The ``perMessageDeflate`` mode a cell stands for: ``shared``, or a preset (``16KB``)."""
    if not cell["context_takeover"]:
        return "shared"
    return preset_mode(cell["window_bits"], cell["mem_level"])


def preset_mode(window_bits: int, mem_level: int) -> str:
    """Bun's ``compress`` string for a dedicated compressor at ``window_bits:mem_level``."""
    for name, wb, ml in BUN_PRESETS:
        if (wb, ml) == (window_bits, mem_level):
            return name
    return "dedicated"


def bun_snippet(cell: Cell, context: SnippetContext) -> str:
    """``Bun.serve``'s websocket options for ``cell``: the shared mode, or the dedicated preset
    recommend chose within the budget."""
    if cell.get("compression") is False:
        return "websocket: {\n  perMessageDeflate: false, // the default\n}"
    if not cell["context_takeover"]:
        return (
            "websocket: {\n"
            "  // shared compressor and decompressor: 15:8, no context takeover, no memory per\n"
            "  // connection\n"
            "  perMessageDeflate: true,\n"
            "  message(ws, message) {\n"
            "    ws.send(reply, true); // without true, send() never compresses\n"
            "  },\n"
            "}"
        )
    preset = context.preset
    if preset is None:
        raise ValueError("Bun's snippet needs the preset recommend chose (context.preset)")
    mode = preset_mode(preset.window_bits, preset.mem_level)
    return (
        "websocket: {\n"
        f"  // nearest preset within budget: {preset.note}\n"
        f'  perMessageDeflate: {{ compress: "{mode}", decompress: "dedicated" }},\n'
        "  message(ws, message) {\n"
        "    ws.send(reply, true); // without true, send() never compresses\n"
        "  },\n"
        "}"
    )


PROFILES = (
    Stack(
        name="bun",
        aliases=("bun.serve",),
        title="Bun (Bun.serve)",
        codec="bun",
        defaults=Defaults(
            window_bits=15, mem_level=8, context_takeover=False, client_window_bits=15,
            enabled=False,
        ),  # fmt: skip
        knobs=(
            Knob(
                "perMessageDeflate.compress (preset)",
                "window_bits",
                tuple(sorted({wb for _, wb, _ in BUN_PRESETS})),
                15,
                '"3KB".."256KB" fix windowBits and memLevel together (uWebSockets\' presets); '
                '"shared" and "dedicated" are 15:8',
            ),
            Knob(
                "perMessageDeflate.compress (preset)",
                "mem_level",
                tuple(ml for _, _, ml in BUN_PRESETS),
                8,
                "paired with windowBits by the preset",
            ),
            Knob(
                'perMessageDeflate.compress: "shared" | "dedicated" (or a preset)',
                "context_takeover",
                (True, False),
                False,
                "shared (perMessageDeflate: true) resets its one stream per message; "
                "a dedicated compressor keeps its window",
            ),
            Knob("perMessageDeflate", "enabled", (True, False), False, "off by default"),
        ),
        fixed={
            "level": "Z_DEFAULT_COMPRESSION (6): uWebSockets' deflateInit2 call, no option",
            "strategy": "Z_DEFAULT_STRATEGY, no option",
            "client_window_bits": "Bun never sends client_max_window_bits: the client keeps "
            'window 15 (decompress "3KB".."256KB" set compressor bits, not the decompressor\'s)',
            "threshold": "none: every ws.send(data, true) is compressed, ws.send(data) never",
        },
        cells=BUN_CELLS,
        status=VERIFIED,
        status_note="measured by the real bun (its node:zlib is the zlib Bun.serve links, fed "
        "as uWebSockets feeds it); tests/codecs/test_verify_bun.py compares Bun.serve's frames "
        "on the "
        "wire byte for byte in every mode (shared, dedicated, 3KB..128KB), 400 messages of each "
        "of five bundled corpora",
        sources=(
            Source(
                "Bun",
                "1.4.5",
                "src/bun.js/api/server/WebSocketServerContext.zig",
                "perMessageDeflate: true = SHARED_COMPRESSOR | SHARED_DECOMPRESSOR; compress/"
                'decompress take "disable", "shared", "dedicated", "3KB".."256KB"; compression '
                "0 (off) by default",
            ),
            Source(
                "Bun",
                "1.4.5",
                "packages/bun-uws/src/PerMessageDeflate.h",
                "DeflationStream: deflateInit2(Z_DEFAULT_COMPRESSION, -windowBits, memLevel), "
                "deflate(Z_SYNC_FLUSH), 4 bytes dropped, deflateReset when shared; presets "
                "DEDICATED_COMPRESSOR_3KB = 9/1 ... 256KB = 15/8",
            ),
            Source(
                "Bun",
                "1.4.5",
                "packages/bun-uws/src/WebSocket.h, WebSocketData.h",
                "a dedicated deflate/inflate stream is built with each connection; without one "
                "the loop's shared stream deflates with reset",
            ),
            Source(
                "Bun",
                "1.4.5",
                "src/bun.js/api/server/ServerWebSocket.zig",
                "send(data, compress): compress is false unless the second argument is true",
            ),
            Source(
                "Bun",
                "1.4.5 (process.versions)",
                "cmake BuildZlib",
                "zlib is Cloudflare's fork (process.versions.zlib is its commit), with "
                "libdeflate linked beside it",
            ),
            Source(
                "Bun",
                "open PR",
                "github.com/oven-sh/bun/pull/33592",
                "a client message ending in a BFINAL=1 block closes the connection (1006): "
                'decompress "dedicated" at any size, shared above 4 KiB inflated',
            ),
            Source(
                "Bun",
                "merged PR",
                "github.com/oven-sh/bun/pull/33003",
                'decompress "dedicated" closed context-takeover clients on their second '
                "compressed message (seen on 1.4.0)",
            ),
        ),
        pitfalls=(
            "compression is off by default, and ws.send(data) never compresses even with "
            "perMessageDeflate on: send with ws.send(data, true)",
            "perMessageDeflate: true is the SHARED mode: one 15:8 compressor per event loop, "
            "reset after every message: no memory per connection, but small messages compress "
            "far worse than with a dedicated compressor (context takeover)",
            'only the presets: "3KB" (9:1) .. "256KB" (15:8); no level, strategy or threshold',
            'decompress "3KB".."256KB" do not size the decompressor (they set compressor bits): '
            'only "shared" and "dedicated" (32 KB window) mean what they say',
            "bun 33592 (open): a client message ending in a BFINAL=1 block is dropped with close "
            '1006, with decompress "dedicated" at any size and shared above 4 KiB; browsers and '
            "ws sync-flush and are not affected, clients using deflateRawSync-style output are",
            "Bun's source has a libdeflate fast path for the shared compressor "
            "(PerMessageDeflate.h); Bun 1.4.5's frames show none (each equals its zlib's, "
            "tests/codecs/test_verify_bun.py): re-run that test before trusting another version",
        ),
        snippet=bun_snippet,
        snippet_title="Bun (Bun.serve)",
        lexer="javascript",
        family="uwebsockets",
        memory_presets=tuple((wb, ml) for _, wb, ml in BUN_PRESETS),
    ),
)
