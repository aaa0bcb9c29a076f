"""The codecs: one module per codec behind one interface (:class:`wsztune.codecs.base.Codec`).

A codec measures cells exactly as a stack's library makes its bytes: CPython's zlib and zlib-ng
(:mod:`wsztune.codecs.zlib`), Node's zlib as ws calls it (:mod:`wsztune.codecs.node`), Go's
compress/flate and klauspost's StatelessDeflate as gorilla and coder call them
(:mod:`wsztune.codecs.go`), JZlib as Netty calls it (:mod:`wsztune.codecs.jzlib`), Netty's
choice between the JDK's zlib and JZlib per cell (:mod:`wsztune.codecs.netty`) and Bun's zlib
as Bun.serve calls it (:mod:`wsztune.codecs.bun`). The sweep
asks :func:`get_codec` for one by name and never names one itself: adding a codec is a new module
with a ``codec(name)`` constructor and one entry in :data:`CODECS`.

Light on purpose: the CLI reads :data:`CODECS` for its choices, so nothing is imported here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from wsztune.errors import SettingError

if TYPE_CHECKING:
    from wsztune.codecs.base import Codec

# name -> the module whose ``codec(name)`` builds it.
CODECS: dict[str, str] = {
    "zlib": "wsztune.codecs.zlib",
    "zlib-ng": "wsztune.codecs.zlib",
    "node": "wsztune.codecs.node",
    # Go's WebSocket libraries, measured by a Go helper: "go" is gorilla's bytes.
    "go": "wsztune.codecs.go",
    "go-gorilla": "wsztune.codecs.go",
    "go-coder": "wsztune.codecs.go",
    "go-nats": "wsztune.codecs.go",
    # JZlib (the pure-Java zlib port) as Netty calls it, measured by a Java helper.
    "jzlib": "wsztune.codecs.jzlib",
    # Netty's encoder: zlib at 15:8, JZlib elsewhere; each cell says which.
    "netty": "wsztune.codecs.netty",
    # Bun.serve's zlib (Cloudflare's fork), measured by the real bun.
    "bun": "wsztune.codecs.bun",
}


# Names that stand for several codecs: ``--codec go`` is any Go library's, so a stack of one of
# these keeps its own, and a run without a stack measures the first.
FAMILIES: dict[str, tuple[str, ...]] = {"go": ("go-gorilla", "go-coder", "go-nats")}
# Codecs a stack's codec may be replaced with on request (dotnet's zlib-ng by CPython's zlib).
SUBSTITUTES: dict[str, tuple[str, ...]] = {"zlib": ("zlib-ng",)}


def choose(requested: str | None, stack_codec: str | None) -> str | None:
    """The codec a run measures with: the stack's (``requested`` may name its family or a
    substitute), else ``requested`` (a family's first member), else CPython's zlib. None when
    ``requested`` is neither the stack's codec, nor its family, nor a substitute for it."""
    if stack_codec is None:
        return FAMILIES.get(requested or "zlib", (requested or "zlib",))[0]
    if requested in (None, stack_codec) or stack_codec in FAMILIES.get(requested, ()):
        return stack_codec
    return requested if stack_codec in SUBSTITUTES.get(requested, ()) else None


def get_codec(name: str) -> Codec:
    """The codec called ``name`` (not yet checked: :meth:`Codec.check` says if it can run)."""
    if name not in CODECS:
        raise SettingError(f"codec must be one of {', '.join(CODECS)}, not {name!r}")
    return importlib.import_module(CODECS[name]).codec(name)  # type: ignore[no-any-return]
