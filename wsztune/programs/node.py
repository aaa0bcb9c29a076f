"""The ``node`` program: where it is (and ``npm``), which binary it is, the versions it reports,
and the seconds each phase of the node work took.

Node bundles its own zlib (Chromium's fork), so a ws or Socket.IO server compresses with that zlib,
not with CPython's. The codec that runs it is :mod:`wsztune.codecs.node`, whose helpers are plain
JavaScript files shipped beside it and need no npm dependency (only ``wsztune live --server ws``
and the tests need the ``ws`` package itself: see :mod:`wsztune.programs.npm`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from wsztune.errors import NodeUnavailable
from wsztune.programs import find_program
from wsztune.programs.cache import default_cache_dir

NODE_ENV = "WSZTUNE_NODE"  # a node binary to use instead of the one on PATH


def find_node() -> str:
    """Path of the ``node`` executable (``$WSZTUNE_NODE``, else PATH), or a one-line error."""
    return find_program(
        "node", NODE_ENV, NodeUnavailable, "install Node.js 18 or newer (https://nodejs.org)"
    )


def find_npm() -> str:
    """Path of the ``npm`` executable, or a one-line error."""
    npm = shutil.which("npm")
    if npm is None:
        raise NodeUnavailable(
            "npm is not installed or not on PATH: install Node.js with npm (https://nodejs.org)"
        )
    return npm


# Seconds spent per phase of the node work in this process (``--verbose`` prints them):
# "node versions", "memory probes", "timing passes", ...
PHASES: dict[str, float] = {}


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    """Add the time the block takes to :data:`PHASES` under ``name``."""
    started = time.perf_counter()
    try:
        yield
    finally:
        PHASES[name] = PHASES.get(name, 0.0) + time.perf_counter() - started


def node_identity(node: str) -> str | None:
    """This node binary as caches key it: its resolved path, size and mtime (another or an
    upgraded node is another key); None when it cannot be read."""
    try:
        real = Path(shutil.which(node) or node).resolve()
        stat = real.stat()
    except OSError:
        return None
    return f"{real}:{stat.st_size}:{stat.st_mtime_ns}"


def _versions_cache(node: str) -> tuple[Path, str] | None:
    """Where the versions of this node binary are cached, and the key that must match
    (:func:`node_identity`)."""
    identity = node_identity(node)
    if identity is None:
        return None
    return default_cache_dir() / "node-versions.json", identity


@functools.lru_cache(maxsize=4)
def _versions(node: str) -> tuple[tuple[str, str], ...]:
    # Start-up paid once: a node binary's versions are read from the cache when it is the same
    # binary (path, size, mtime) as last time, instead of starting node to ask.
    cache = _versions_cache(node)
    if cache is not None:
        with contextlib.suppress(OSError, ValueError, KeyError, AttributeError):
            data = json.loads(cache[0].read_text(encoding="utf-8"))
            if data["key"] == cache[1]:
                return tuple(sorted((str(k), str(v)) for k, v in data["versions"].items()))
    with phase("node versions"):
        versions = _ask_versions(node)
    if cache is not None:
        with contextlib.suppress(OSError):
            cache[0].parent.mkdir(parents=True, exist_ok=True)
            temporary = cache[0].with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps({"key": cache[1], "versions": versions}))
            os.replace(temporary, cache[0])  # whole or not at all, under concurrent runs
    return tuple(sorted((str(key), str(value)) for key, value in versions.items()))


def _ask_versions(node: str) -> dict[str, str]:
    try:
        completed = subprocess.run(
            [node, "-e", "process.stdout.write(JSON.stringify(process.versions))"],
            capture_output=True,
            timeout=60,
            check=True,
        )
        versions = json.loads(completed.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as error:
        raise NodeUnavailable(f"{node} does not run: {error}") from None
    return {str(key): str(value) for key, value in versions.items()}


def node_versions(node: str | None = None) -> dict[str, str]:
    """``process.versions`` of ``node`` (node, zlib, v8, ...): what a results file records."""
    return dict(_versions(node or find_node()))
