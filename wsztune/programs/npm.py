"""Install npm packages into a cache directory, once, safely under concurrent use: ``ws``, and
``bun`` (whose npm package ships the Bun runtime's binary).

``wsztune live --server ws`` and the byte-equality tests need ws itself; the codec does not.
``wsztune run --server bun`` needs Bun: its own zlib makes Bun's bytes (:mod:`wsztune.codecs.bun`).
A package is installed with npm from the npm registry into ``<cache>/<name>-<version>/`` and reused
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
from wsztune.programs.cache import CACHE_ENV, default_cache_dir
from wsztune.programs.node import find_node, find_npm

# Pinned so that a byte-equality check means the same thing everywhere; ws 8 frames as the issue's
# measurements did.
WS_VERSION = "8.23.0"
# Pinned for the same reason: Bun's wire bytes are its bundled zlib's, checked against this one.
BUN_VERSION = "1.4.5"
INSTALL_TIMEOUT_SECONDS = 300


def ws_package_dir(cache_dir: Path, version: str = WS_VERSION) -> Path:
    """Where :func:`ensure_ws` puts ws ``version`` under ``cache_dir`` (``require()`` this)."""
    return Path(cache_dir) / f"ws-{version}" / "node_modules" / "ws"


def installed_ws() -> str | None:
    """The directory of the ws package wsztune installed for its live checks (``wsztune live
    --server ws``), whose Sender and PerMessageDeflate time a broadcast's deliveries as ws sends
    them (the node codec); ``None`` when it is not there: never installed during a run, the
    deliveries are then ws's zlib calls alone, as ws makes them on libuv's pool."""
    package = ws_package_dir(default_cache_dir())
    return str(package) if (package / "package.json").is_file() else None


def ensure_ws(cache_dir: Path | None = None, version: str = WS_VERSION) -> Path:
    """Return the directory of the ``ws`` package (``require(dir)`` loads it), installing it first
    with npm if this cache does not hold it yet.

    Raises :class:`NodeUnavailable` (one line, exit code 2) when node or npm is missing or the
    install fails (no network, registry down), saying what to do.
    """
    find_node()
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = ws_package_dir(cache_dir, version)
    ensure_package(cache_dir, "ws", version, target / "package.json")
    return target


def bun_binary_path(cache_dir: Path, version: str = BUN_VERSION) -> Path:
    """Where :func:`ensure_bun` puts the ``bun`` executable of ``version`` under ``cache_dir``
    (the npm package's install script links the platform's binary there)."""
    return Path(cache_dir) / f"bun-{version}" / "node_modules" / "bun" / "bin" / "bun.exe"


def ensure_bun(cache_dir: Path | None = None, version: str = BUN_VERSION) -> Path:
    """Return the path of a ``bun`` executable of ``version``, installing the npm package ``bun``
    into the cache first if it is not there yet. Raises :class:`NodeUnavailable` (one line)
    when npm is missing or the install fails."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = bun_binary_path(cache_dir, version)
    ensure_package(cache_dir, "bun", version, target)
    return target


def ensure_package(cache_dir: Path, name: str, version: str, marker: Path) -> None:
    """Install npm package ``name@version`` under ``cache_dir/<name>-<version>`` unless
    ``marker`` (a file inside it) exists; concurrent callers wait for one install."""
    if marker.is_file():
        return
    npm = find_npm()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with open(cache_dir / ".install.lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if marker.is_file():  # another process installed it meanwhile
                return
            _npm_install(npm, cache_dir, name, version, marker)
    except OSError as error:
        raise NodeUnavailable(
            f"cannot install {name} {version} into {cache_dir}: {error.strerror or error}; "
            f"set {CACHE_ENV} to a writable directory"
        ) from None


def _npm_install(npm: str, cache_dir: Path, name: str, version: str, marker: Path) -> None:
    prefix = cache_dir / f"{name}-{version}"
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-{version}-", dir=cache_dir))
    try:
        command = [
            npm, "install", "--prefix", str(staging), "--no-audit", "--no-fund",
            "--no-save", "--loglevel=error", f"{name}@{version}",
        ]  # fmt: skip
        try:
            completed = subprocess.run(
                command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS
            )
        except subprocess.TimeoutExpired:
            raise NodeUnavailable(
                f"npm install {name}@{version} took over {INSTALL_TIMEOUT_SECONDS} s: "
                "check the network or the npm registry, then try again"
            ) from None
        staged_marker = staging / marker.relative_to(prefix)
        if completed.returncode != 0 or not staged_marker.is_file():
            lines = [line for line in (completed.stderr or "").splitlines() if line.strip()]
            last = lines[-1].strip() if lines else f"exit code {completed.returncode}"
            if completed.returncode == 0:
                last = f"no {marker.relative_to(prefix)} after the install"
            raise NodeUnavailable(
                f"npm install {name}@{version} failed ({last}): check the network or the npm "
                "registry, then try again"
            )
        if prefix.exists():  # a stale, incomplete directory from an interrupted older layout
            shutil.rmtree(prefix)
        os.rename(staging, prefix)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
