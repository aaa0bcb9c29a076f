"""Bun's zlib, as Bun.serve's WebSocket server compresses, run by the real Bun.

Bun's server is a fork of uWebSockets (``packages/bun-uws``) linked against the zlib Bun builds
(Cloudflare's fork), which does not give stock zlib's bytes: at 15:8, 100 of the first 250 chat
messages come out different from CPython's zlib. Bun's ``node:zlib`` is that same zlib, so the node
codec's helpers (``node.js``, ``node_memory.js``) run by ``bun`` instead of ``node`` make Bun's own
bytes; ``tests/codecs/test_verify_bun.py`` checks them against a real ``Bun.serve``
byte for byte.

How uWebSockets calls it (``packages/bun-uws/src/PerMessageDeflate.h``, ``WebSocket.h``):
``deflateInit2(Z_DEFAULT_COMPRESSION, windowBits, memLevel)``, ``deflate(Z_SYNC_FLUSH)``, the last
4 bytes dropped; the shared compressor is reset after every message (no context takeover), a
dedicated one never is. That is ws's call sequence, which ``node.js`` makes, with one difference
that matters: uWebSockets deflates every message into a fresh 16 KiB output buffer, and Cloudflare's
zlib makes other bytes (for the small presets, a few messages in a thousand) when its output is cut
elsewhere, as a node stream's leftover buffer cuts it; so the job asks for a fresh buffer per
message (``fresh_output``).

Memory: a dedicated compressor and decompressor are built with the connection
(``WebSocketData.h``), so every connection pays for both; the shared ones are one per event loop,
whatever the number of connections, so a shared cell's ``connection_memory`` is 0 (its
``*_observed`` fields still say what the one shared stream holds).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from wsztune.codecs.base import (
    PROBE_PAYLOAD,
    CellDone,
    CodecInfo,
    CorpusSummary,
    TimingPlan,
)
from wsztune.codecs.node import ZlibShares, measure_with_runtime, node_cell
from wsztune.corpus import Stream
from wsztune.permessage_deflate import Setting

NAME = "bun"
BUN_ENV = "WSZTUNE_BUN"  # a bun binary to use instead of the pinned one in wsztune's cache

# uWebSockets deflates on its event loop's thread, in the call that sends (PerMessageDeflate.h):
# synchronous calls, as the codec makes them.
CLOCK_NAME = (
    "bun process CPU time (process.cpuUsage), Bun.serve's zlib calls made synchronously on the "
    "streams it builds, as uWebSockets makes them"
)
# Bun without context takeover is its SHARED_COMPRESSOR (and SHARED_DECOMPRESSOR): one per loop.
SHARED = ZlibShares(0.0, 0.0)
# A dedicated compressor and decompressor are built with every connection.
DEDICATED = ZlibShares(1.0, 1.0)


def find_bun() -> str:
    """The bun executable: ``$WSZTUNE_BUN`` when set, else the pinned Bun installed with npm into
    wsztune's cache (installed on first use). Raises a one-line error (exit 2) otherwise."""
    from wsztune.errors import NodeUnavailable
    from wsztune.programs import find_program
    from wsztune.programs.npm import ensure_bun

    if os.environ.get(BUN_ENV):
        return find_program("bun", BUN_ENV, NodeUnavailable, "install Bun (npm install bun)")
    from wsztune.programs.cache import default_cache_dir
    from wsztune.programs.npm import BUN_VERSION, bun_binary_path

    cache = default_cache_dir()
    if not bun_binary_path(cache).is_file():
        from wsztune.programs.node import find_npm

        find_npm()  # no npm: its one-line error, not a promise to install
        # About 100 MB from the npm registry, once: say so before the wait.
        sys.stderr.write(
            f"wsztune: installing Bun {BUN_VERSION} into {cache} with npm (first use only; "
            f"{BUN_ENV}=/path/to/bun uses an existing one)\n"
        )
    return str(ensure_bun(cache))


def bun_shares(setting: Setting) -> ZlibShares:
    """Which connections build their own streams at ``setting``: none in shared mode (no
    context takeover), all in dedicated mode."""
    return DEDICATED if setting.context_takeover else SHARED


def bun_cell(
    streams: Sequence[Stream],
    setting: Setting,
    result: Any,
    memory: Any,
    plan: TimingPlan,
    summary: CorpusSummary,
) -> dict[str, object]:
    """A results cell from what Bun measured, with Bun's shares of per-connection streams."""
    return node_cell(streams, setting, result, memory, plan, summary, shares=bun_shares(setting))


@dataclass(frozen=True)
class BunCodec:
    """Bun's bundled zlib as the sweep's codec."""

    name: str = NAME

    def check(self) -> None:
        """Bun missing and not installable, or broken: one line, exit 2, before any work."""
        from wsztune.programs.node import node_versions

        node_versions(find_bun())

    def describe(self) -> CodecInfo:
        """Bun's version and its zlib's (a commit of Cloudflare's fork), and the methods."""
        from wsztune.codecs import node
        from wsztune.programs.node import node_versions

        versions = node_versions(find_bun())
        return CodecInfo(
            NAME,
            versions.get("zlib", "unknown"),
            clock=CLOCK_NAME,
            meta={
                "bun": {
                    "bun_version": versions.get("bun"),
                    "zlib_version": versions.get("zlib"),
                    "uwebsockets_version": versions.get("uwebsockets"),
                    "framing": "Bun.serve (uWebSockets): deflate(Z_SYNC_FLUSH), drop 4 bytes; "
                    "shared compressor reset per message, dedicated never",
                },
                "memory_method": node.MEMORY_METHOD.format(
                    n=node.MEMORY_CONNECTIONS, probe=len(PROBE_PAYLOAD)
                ).replace("node process", "bun process")
                + " Bun builds a dedicated compressor and decompressor with every connection "
                "(connection_memory = both); the shared ones are one per event loop, so a "
                "shared cell's connection_memory is 0.",
            },
        )

    def measure(
        self,
        streams: Sequence[Stream],
        order: Sequence[Setting],
        plan: TimingPlan,
        jobs: int,
        finished: CellDone,
    ) -> None:
        """Measure every setting with Bun's zlib as Bun.serve calls it, in bun processes."""
        measure_with_runtime(
            streams,
            order,
            plan,
            jobs,
            finished,
            runtime=find_bun(),
            make_cell=bun_cell,
            fresh_output=True,
        )


def codec(name: str = NAME) -> BunCodec:
    """The registry's constructor (:data:`wsztune.codecs.CODECS`)."""
    return BunCodec(name)
