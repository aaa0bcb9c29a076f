"""The stacks wsztune configures: one module per server stack (or client), and this registry.

A stack is what a user names (``--server uvicorn``); a codec is how its bytes are made. Each
module of this package defines ``PROFILES``, a tuple of :class:`~wsztune.stacks.profile.Stack`:
adding a stack means adding one module. Nothing here measures anything, and nothing here is
imported by the codecs: the sweep gets a grid and a codec name, never a stack.

A configuration snippet for a stack is only worth pasting when the run measured that stack's own
codec: ws and Socket.IO compress with Node's bundled zlib (Chromium's fork), python-websockets
with CPython's zlib. ``recommend`` marks snippets whose stack the run did not measure.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from wsztune.stacks.profile import Cell, Client, SnippetContext, Stack

# Modules of this package that hold no profile.
_NOT_STACKS = frozenset({"profile"})

CODEC_TITLES = {
    "zlib": "CPython's zlib",
    "zlib-ng": "zlib-ng",
    "node": "Node's zlib",
    "go-gorilla": "Go's compress/flate as gorilla calls it",
    "go-coder": "klauspost's StatelessDeflate as coder 1.8.7 calls it",
}

# The snippets a run made without --server shows, in this order (the stacks wsztune measured
# exactly first).
DEFAULT_SNIPPETS = ("websockets", "ws", "socketio", "uwebsockets")


def _discover(attribute: str) -> dict[str, Any]:
    """Every profile in ``attribute`` (PROFILES or CLIENTS) of this package's modules."""
    found: dict[str, Any] = {}
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("_") or module.name in _NOT_STACKS:
            continue
        loaded = importlib.import_module(f"{__name__}.{module.name}")
        for profile in getattr(loaded, attribute, ()):
            if profile.name in found:
                raise RuntimeError(f"two {attribute.lower()} are called {profile.name!r}")
            found[profile.name] = profile
    return found


# Every profile by name. The modules are small and import nothing heavy: loading them all is
# cheap, and only commands that name a stack import this package.
STACKS: dict[str, Stack] = _discover("PROFILES")
# The clients (``--client``): a module defines CLIENTS to add one.
CLIENTS: dict[str, Client] = _discover("CLIENTS")


def stack(name: str) -> Stack:
    """The stack called ``name`` (a key of :data:`STACKS`)."""
    return STACKS[name]


def resolve(text: str) -> tuple[Stack, str | None]:
    """``uvicorn``, ``uvicorn@0.49`` or ``uvicorn==0.49.0`` -> the profile and the version.

    Names are case-insensitive and aliases count (``fastapi`` is uvicorn). An unknown name is a
    usage error that lists the known ones.
    """
    from wsztune.errors import WsztuneError

    name, version = text.strip(), None
    for separator in ("==", "@"):
        if separator in name:
            name, version = (part.strip() for part in name.split(separator, 1))
            break
    key = name.lower()
    found = STACKS.get(key) or next(
        (profile for profile in STACKS.values() if key in profile.aliases), None
    )
    if found is None:
        raise WsztuneError(
            f"--server {text!r}: no such stack; known: {', '.join(sorted(STACKS))} "
            "(wsztune stacks lists them)"
        )
    if version is not None:
        from wsztune.stacks.profile import version_tuple

        if not version or not version_tuple(version):
            raise WsztuneError(
                f"--server {text!r}: the version after {name} must look like 0.49 or 0.49.0"
            )
    return found, version



def measured_by(codec: str | None) -> list[str]:
    """Names of the stacks a run of ``codec`` measured with their own codec."""
    return [item.name for item in STACKS.values() if item.codec == (codec or "zlib")]


def mismatch_note(name: str, codec: str | None) -> str | None:
    """None when a run of ``codec`` measured ``name``'s codec, else the line to print instead
    of trusting its snippet blindly."""
    wanted = STACKS[name]
    codec = codec or "zlib"
    if wanted.codec == codec:
        return None
    option = f"--server {wanted.name}"
    return (
        f"measured with {CODEC_TITLES.get(codec, codec)}; {wanted.title} compresses with "
        f"{CODEC_TITLES.get(wanted.codec, wanted.codec)}: run with {option} for it"
    )


_COMMENT = {"python": "#", "javascript": "//", "cpp": "//", "java": "//", "csharp": "//"}


def snippets(
    chosen: Cell, slice_: Any, max_memory: int | None, names: tuple[str, ...] = DEFAULT_SNIPPETS
) -> dict[str, tuple[str, str]]:
    """Configuration to paste for ``chosen``: title -> (pygments lexer name, code).

    A snippet for a stack whose codec this run did not measure says so on its first line.
    """
    context = SnippetContext(slice=slice_, max_memory=max_memory)
    out: dict[str, tuple[str, str]] = {}
    for name in names:
        profile = STACKS[name]
        if profile.snippet is None:
            continue
        code = profile.snippet(chosen, context)
        # uWebSockets' presets are approximate whatever the run measured: not marked, as before.
        if profile.name != "uwebsockets":
            note = mismatch_note(name, getattr(slice_, "codec", None))
            if note is not None:
                code = f"{_COMMENT.get(profile.lexer, '#')} {note}\n{code}"
        out[profile.snippet_title or profile.title] = (profile.lexer, code)
    return out
