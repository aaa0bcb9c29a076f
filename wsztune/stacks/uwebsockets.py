"""uWebSockets and uWS.js: fixed (windowBits, memLevel) presets, no other knob."""

from __future__ import annotations

from wsztune.stacks.profile import (
    APPROXIMATE,
    Cell,
    Defaults,
    Knob,
    SnippetContext,
    Source,
    Stack,
)

# uWebSockets' CompressOptions presets (ANCHORS section 4): name -> (windowBits, memLevel).
UWS_COMPRESSORS: tuple[tuple[str, int, int], ...] = (
    ("DEDICATED_COMPRESSOR_3KB", 9, 1),
    ("DEDICATED_COMPRESSOR_4KB", 9, 2),
    ("DEDICATED_COMPRESSOR_8KB", 10, 3),
    ("DEDICATED_COMPRESSOR_16KB", 11, 4),
    ("DEDICATED_COMPRESSOR_32KB", 12, 5),
    ("DEDICATED_COMPRESSOR_64KB", 13, 6),
    ("DEDICATED_COMPRESSOR_128KB", 14, 7),
    ("DEDICATED_COMPRESSOR_256KB", 15, 8),
)
UWS_DECOMPRESSORS = {
    9: "DEDICATED_DECOMPRESSOR_512B",
    10: "DEDICATED_DECOMPRESSOR_1KB",
    11: "DEDICATED_DECOMPRESSOR_2KB",
    12: "DEDICATED_DECOMPRESSOR_4KB",
    13: "DEDICATED_DECOMPRESSOR_8KB",
    14: "DEDICATED_DECOMPRESSOR_16KB",
    15: "DEDICATED_DECOMPRESSOR_32KB",
}


def uws_preset_name(window_bits: int, mem_level: int) -> str:
    """The ``DEDICATED_COMPRESSOR_*`` name of the preset at (windowBits, memLevel)."""
    return next(
        name for name, wb, ml in UWS_COMPRESSORS if (wb, ml) == (window_bits, mem_level)
    )


def uws_snippet(cell: Cell, context: SnippetContext) -> str:
    """The preset recommend chose for ``cell`` within the budget, for uWebSockets and uWS.js."""
    if cell.get("compression") is False:
        return (
            ".compression = uWS::DISABLED,  // the default\n"
            "// uWebSockets.js: compression: uWS.DISABLED"
        )
    preset = context.preset
    if preset is None:
        raise ValueError("uWebSockets' snippet needs the preset recommend chose (context.preset)")
    name = uws_preset_name(preset.window_bits, preset.mem_level)
    decompressor = UWS_DECOMPRESSORS[preset.window_bits]
    return (
        f"// nearest preset within budget: {preset.note}\n"
        f".compression = uWS::CompressOptions(uWS::{name} | uWS::{decompressor}),\n"
        f"// uWebSockets.js: compression: uWS.{name} | uWS.{decompressor}"
    )


PROFILES = (
    Stack(
        name="uwebsockets",
        aliases=("uws", "uws.js", "uwebsockets.js"),
        title="uWebSockets / uWS.js",
        codec="zlib",
        defaults=Defaults(window_bits=15, mem_level=8, enabled=False),
        knobs=(
            Knob(
                "compression (CompressOptions preset)",
                "window_bits",
                tuple(sorted({wb for _, wb, _ in UWS_COMPRESSORS})),
                None,
                "a DEDICATED_COMPRESSOR_* preset fixes windowBits and memLevel together",
            ),
            Knob(
                "compression (CompressOptions preset)",
                "mem_level",
                tuple(ml for _, _, ml in UWS_COMPRESSORS),
                None,
                "paired with windowBits by the preset",
            ),
            Knob("compression: DISABLED", "enabled", (True, False), False),
        ),
        status=APPROXIMATE,
        status_note="uWebSockets links the system zlib (or zlib-ng with its WITH_ZLIBNG "
        "option); its framing is not checked here",
        sources=(
            Source(
                "uWebSockets",
                "20",
                "src/PerMessageDeflate.h",
                "CompressOptions: DEDICATED_COMPRESSOR_3KB = 9/1 ... 256KB = 15/8; "
                "DEDICATED_DECOMPRESSOR_512B..32KB = window 9..15; SHARED_COMPRESSOR; "
                "DISABLED by default",
            ),
        ),
        pitfalls=(
            "only the presets: the grid's other (windowBits, memLevel) pairs cannot be set",
            "SHARED_COMPRESSOR shares one compressor per thread and never keeps context: "
            "little memory, much worse compression on small messages",
        ),
        broadcast=Source(
            "uWebSockets", "20", "issue 1212; src/PerMessageDeflate.h",
            "compress once with SHARED_COMPRESSOR (no context takeover, one compressor per "
            "thread): measured there at 50k msg/s against 150k msg/s with dedicated "
            "compressors; a DEDICATED_COMPRESSOR publish compresses once per subscriber, in "
            "its own context (not modelled as a cell here)",
        ),
        snippet=uws_snippet,
        snippet_title="uWebSockets (presets only)",
        lexer="cpp",
        family="uwebsockets",
        pairs=tuple((wb, ml) for _, wb, ml in UWS_COMPRESSORS),
        memory_presets=tuple((wb, ml) for _, wb, ml in UWS_COMPRESSORS),
    ),
)

