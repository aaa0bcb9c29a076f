"""wsztune's cache directory (``$WSZTUNE_CACHE``), and the node memory probes' results kept in it,
so that a run does not pay for them again.

A memory probe (``node_memory.js``) costs a node process about a second of CPU, and a default sweep
runs 70 of them: more than the timing passes. What a probe measures depends only on

- the probe itself (``node_memory.js``, the helper it shares with the codec, ``node_zlib_sync.js``,
  and the number of streams it holds),
- the node binary (its path, size and mtime) and the versions it reports (node, zlib, V8, uv),
- the machine's CPU features (Chromium's zlib picks its hash size by SIMD support) and libc
  (malloc),
- the setting of the stream probed (:func:`wsztune.codecs.node.compressor_key` /
  ``decompressor_key``),
- and the traffic it sends through each stream: the sizes of the messages (how far zlib's
  pending buffer and node's output buffers are touched).

Those are the key. One JSON file per probe under ``<cache>/node-memory/`` (``$WSZTUNE_CACHE``,
as the ws install), named by the key's hash and holding the key itself, which a read checks: a
collision or a damaged file reads as a miss. Files are written whole (temporary file, rename),
so runs side by side never read half an entry. ``wsztune run --no-cache`` measures afresh and
overwrites.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CACHE_ENV = "WSZTUNE_CACHE"
CACHE_FOLDER = "node-memory"
# Bumped when what a cached figure means changes without node_memory.js changing.
CACHE_FORMAT = 1


def default_cache_dir() -> Path:
    """Where wsztune caches npm packages: ``$WSZTUNE_CACHE``, else ``$XDG_CACHE_HOME/wsztune``."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "wsztune"


@dataclass(frozen=True)
class ProbeFigure:
    """What one probe measured: bytes one stream holds, and the slope's standard error."""

    held: int
    error: int


@functools.lru_cache(maxsize=1)
def machine_fingerprint() -> str:
    """The CPU's architecture and features (Chromium's zlib sizes its hash by SIMD support)
    and the C library (malloc's placement), hashed: a cache shared between machines keeps
    their figures apart."""
    flags = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith(("flags", "Features")):
                flags = line.split(":", 1)[1].strip()
                break
    text = "|".join((platform.machine(), " ".join(platform.libc_ver()), flags))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def probe_identity(scripts: Sequence[Path], connections: int) -> str:
    """The probe's own part of the key: its scripts' hash and its stream count."""
    hasher = hashlib.sha256()
    for script in scripts:
        hasher.update(script.read_bytes())
    digest = hasher.hexdigest()[:16]
    return f"{CACHE_FORMAT}:{digest}:{connections}"


def key_hash(key: dict[str, Any]) -> str:
    """The file name of ``key``'s entry."""
    text = json.dumps(key, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class MemoryCache:
    """The probes' figures under ``directory``; ``read=False`` (``--no-cache``) never reads
    but still writes what was measured."""

    def __init__(self, directory: Path, *, read: bool = True) -> None:
        self.directory = Path(directory)
        self.read = read

    def _path(self, key: dict[str, Any]) -> Path:
        return self.directory / f"{key_hash(key)}.json"

    def get(self, key: dict[str, Any]) -> ProbeFigure | None:
        """The figure stored under ``key``, or None (not there, unreadable, or another key)."""
        if not self.read:
            return None
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
            if data["key"] != key:
                return None
            held, error = data["held"], data["error"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not all(type(value) is int for value in (held, error)):
            return None
        return ProbeFigure(held, error)

    def put(self, key: dict[str, Any], figure: ProbeFigure) -> None:
        """Store ``figure`` under ``key``; a cache that cannot be written is skipped silently
        (the run has its figure: only the next one pays again)."""
        path = self._path(key)
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(
                json.dumps({"key": key, "held": figure.held, "error": figure.error}),
                encoding="utf-8",
            )
            os.replace(temporary, path)


def default_cache(*, read: bool = True) -> MemoryCache:
    """The cache under wsztune's cache directory (``$WSZTUNE_CACHE``, else the user's)."""
    return MemoryCache(default_cache_dir() / CACHE_FOLDER, read=read)
