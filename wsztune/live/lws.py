"""libwebsockets' own permessage-deflate, run for real: a small C server shipped as source
(``lwsserver/wsztune_lws.c``) and compiled on first use with the system's C compiler against
the installed libwebsockets (Debian: ``libwebsockets-dev``) into wsztune's cache, once per
source and library version.

The server sends a corpus to every client that connects, with the deflate options given on its
command line (level, memLevel, window, takeover, output buffer), so that what it puts on the
wire can be held to wsztune's zlib model frame by frame.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from wsztune.errors import ToolUnavailable

SOURCE = Path(__file__).resolve().parent / "lwsserver" / "wsztune_lws.c"
NAME = "wsztune-lws"


class LwsUnavailable(ToolUnavailable):
    """No C compiler, no libwebsockets, or the server does not build: one line, exit 2."""


def library_version() -> str:
    """The installed libwebsockets' version (pkg-config), or raise :class:`LwsUnavailable`."""
    if shutil.which("pkg-config") is None:
        raise LwsUnavailable("pkg-config is needed to find libwebsockets (Debian: pkg-config)")
    done = subprocess.run(
        ["pkg-config", "--modversion", "libwebsockets"], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise LwsUnavailable(
            "libwebsockets is not installed (Debian: apt install libwebsockets-dev)"
        )
    return done.stdout.strip()


def server_binary(notice: object = None) -> Path:
    """The compiled server, building it first (once per source and libwebsockets version)."""
    from wsztune.programs.cache import default_cache_dir

    compiler = shutil.which(os.environ.get("CC", "cc"))
    if compiler is None:
        raise LwsUnavailable("a C compiler is needed (Debian: apt install build-essential)")
    version = library_version()
    digest = hashlib.sha256(SOURCE.read_bytes() + version.encode()).hexdigest()[:16]
    target = default_cache_dir() / f"{NAME}-{digest}" / NAME
    if target.is_file():
        return target
    if callable(notice):
        notice(f"note: building wsztune's libwebsockets server (once) into {target.parent}")
    flags = subprocess.run(
        ["pkg-config", "--cflags", "--libs", "libwebsockets"], capture_output=True, text=True
    ).stdout.split()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{NAME}-{os.getpid()}")
    done = subprocess.run(
        [compiler, "-O2", "-o", str(partial), str(SOURCE), *flags],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        first = next((line for line in done.stderr.splitlines() if line.strip()), "")
        raise LwsUnavailable(f"building the libwebsockets server failed: {first.strip()}")
    os.replace(partial, target)  # atomic: a concurrent build never leaves half a binary
    return target
