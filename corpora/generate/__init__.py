"""Seeded generators for wsztune's bundled, synthetic WebSocket corpora.

The corpora stand in for "a team's real messages" in tests, demos and docs. Each
generator simulates one kind of application and returns the frames as :class:`Record`
objects: ``chat`` (chat.py), ``market`` (market.py), ``game`` (game.py), ``api`` (api.py),
and ``har_bytes`` (har.py), a DevTools-shaped capture of the first chat connections. Output
is deterministic byte for byte for a given seed: every generator owns a private
``random.Random`` (never the global one), time comes from a fixed epoch (never the
clock), JSON is dumped compactly with a fixed key order, and nothing iterates over a set.

This is tooling, not part of the ``wsztune`` package: the runtime never imports it, and the
wheel does not ship it. From the repository root::

    python -m corpora.generate OUTDIR [--seed N] [--package-data]

(``python corpora/generate OUTDIR ...`` works too); see ``corpora/README.md`` for the formats.
"""

from __future__ import annotations

from corpora.generate.api import api
from corpora.generate.build import generate_all, main, package_data_path, write_package_data
from corpora.generate.chat import chat
from corpora.generate.common import (
    DEFAULT_SEED,
    DEMO_MESSAGES,
    HAR_CONNECTIONS,
    HAR_FRAMES,
    Record,
    payload_lines_bytes,
    records_bytes,
)
from corpora.generate.game import game
from corpora.generate.har import har_bytes
from corpora.generate.market import market

__all__ = [
    "DEFAULT_SEED",
    "DEMO_MESSAGES",
    "HAR_CONNECTIONS",
    "HAR_FRAMES",
    "Record",
    "api",
    "chat",
    "game",
    "generate_all",
    "har_bytes",
    "main",
    "market",
    "package_data_path",
    "payload_lines_bytes",
    "records_bytes",
    "write_package_data",
]
