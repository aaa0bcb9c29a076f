"""Node.js as a codec: find ``node``, ask it its versions, run the helpers shipped in this package.

Node bundles its own zlib (Chromium's fork), so a ws or Socket.IO server compresses with that zlib,
not with CPython's. Everything that needs Node goes through this package; the helpers are plain
JavaScript files shipped as package data and need no npm dependency (only ``wsztune live --server
ws`` and the tests need the ``ws`` package itself: see :mod:`wsztune.nodejs.install`).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from pathlib import Path

from wsztune.errors import NodeUnavailable

HERE = Path(__file__).resolve().parent
NODE_ENV = "WSZTUNE_NODE"  # a node binary to use instead of the one on PATH


def find_node() -> str:
    """Path of the ``node`` executable (``$WSZTUNE_NODE``, else PATH), or a one-line error."""
    override = os.environ.get(NODE_ENV)
    if override:
        if shutil.which(override) is None:
            raise NodeUnavailable(f"{NODE_ENV}={override} is not an executable node")
        return override
    node = shutil.which("node")
    if node is None:
        raise NodeUnavailable(
            "node is not installed or not on PATH: install Node.js 18 or newer "
            f"(https://nodejs.org) or set {NODE_ENV} to its path"
        )
    return node


def find_npm() -> str:
    """Path of the ``npm`` executable, or a one-line error."""
    npm = shutil.which("npm")
    if npm is None:
        raise NodeUnavailable(
            "npm is not installed or not on PATH: install Node.js with npm (https://nodejs.org)"
        )
    return npm


def helper(name: str) -> Path:
    """Path of a JavaScript helper shipped in this package (``codec.js``, ...)."""
    return HERE / name


@functools.lru_cache(maxsize=4)
def _versions(node: str) -> tuple[tuple[str, str], ...]:
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
    return tuple(sorted((str(key), str(value)) for key, value in versions.items()))


def node_versions(node: str | None = None) -> dict[str, str]:
    """``process.versions`` of ``node`` (node, zlib, v8, ...): what a results file records."""
    return dict(_versions(node or find_node()))
