"""Install the ``ws`` npm package into a cache directory, once, safely under concurrent use.

``wsztune live --server ws`` and the byte-equality tests need ws itself; the codec does not.
The package is installed with npm from the npm registry into ``<cache>/ws-<version>/`` and reused
afterwards. Two processes installing at once (pytest-xdist, two shells) are serialised by a lock
file, and an install only becomes visible once complete (npm installs into a temporary directory
that is then renamed), so a half-installed package is never used.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from wsztune.errors import NodeUnavailable
from wsztune.nodejs import find_node, find_npm

# Pinned so that a byte-equality check means the same thing everywhere; ws 8 frames as the issue's
# measurements did.
WS_VERSION = "8.23.0"
CACHE_ENV = "WSZTUNE_CACHE"
INSTALL_TIMEOUT_SECONDS = 300


def default_cache_dir() -> Path:
    """Where wsztune caches npm packages: ``$WSZTUNE_CACHE``, else ``$XDG_CACHE_HOME/wsztune``."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "wsztune"


def ws_package_dir(cache_dir: Path, version: str = WS_VERSION) -> Path:
    """Where :func:`ensure_ws` puts ws ``version`` under ``cache_dir`` (``require()`` this)."""
    return Path(cache_dir) / f"ws-{version}" / "node_modules" / "ws"


def ensure_ws(cache_dir: Path | None = None, version: str = WS_VERSION) -> Path:
    """Return the directory of the ``ws`` package (``require(dir)`` loads it), installing it first
    with npm if this cache does not hold it yet.

    Raises :class:`NodeUnavailable` (one line, exit code 2) when node or npm is missing or the
    install fails (no network, registry down), saying what to do.
    """
    find_node()
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = ws_package_dir(cache_dir, version)
    if (target / "package.json").is_file():
        return target
    npm = find_npm()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with open(cache_dir / ".install.lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if (target / "package.json").is_file():  # another process installed it meanwhile
                return target
            _npm_install(npm, cache_dir, version, target)
    except OSError as error:
        raise NodeUnavailable(
            f"cannot install ws {version} into {cache_dir}: {error.strerror or error}; "
            f"set {CACHE_ENV} to a writable directory"
        ) from None
    return target


def _npm_install(npm: str, cache_dir: Path, version: str, target: Path) -> None:
    prefix = target.parent.parent
    staging = Path(tempfile.mkdtemp(prefix=f".ws-{version}-", dir=cache_dir))
    try:
        command = [
            npm, "install", "--prefix", str(staging), "--no-audit", "--no-fund",
            "--no-save", "--loglevel=error", f"ws@{version}",
        ]  # fmt: skip
        try:
            completed = subprocess.run(
                command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS
            )
        except subprocess.TimeoutExpired:
            raise NodeUnavailable(
                f"npm install ws@{version} took over {INSTALL_TIMEOUT_SECONDS} s: "
                "check the network or the npm registry, then try again"
            ) from None
        if completed.returncode != 0 or not (staging / "node_modules/ws/package.json").is_file():
            lines = [line for line in (completed.stderr or "").splitlines() if line.strip()]
            last = lines[-1].strip() if lines else f"exit code {completed.returncode}"
            raise NodeUnavailable(
                f"npm install ws@{version} failed ({last}): check the network or the npm "
                "registry, then try again"
            )
        if prefix.exists():  # a stale, incomplete directory from an interrupted older layout
            shutil.rmtree(prefix)
        os.rename(staging, prefix)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
