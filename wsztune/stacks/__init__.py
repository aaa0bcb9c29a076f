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
from collections.abc import Mapping
from typing import Any

from wsztune.stacks.profile import CANNOT_COMPRESS, Cell, Client, Preset, SnippetContext, Stack

# Modules of this package that hold no profile.
_NOT_STACKS = frozenset({"profile"})

CODEC_TITLES = {
    "zlib": "CPython's zlib",
    "zlib-ng": "zlib-ng",
    "node": "Node's zlib",
    "go-gorilla": "Go's compress/flate as gorilla calls it",
    "go-coder": "klauspost's StatelessDeflate as coder 1.8.7 calls it",
    "go-nats": "Go's compress/flate as nats-server calls it",
    "jzlib": "JZlib (Java) as Netty calls it",
    "netty": "Netty's encoder (the JDK's zlib at 15:8, JZlib elsewhere)",
    "bun": "Bun's zlib (Cloudflare's fork) as Bun.serve calls it",
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


def resolve(text: str, to_measure: bool = True) -> tuple[Stack, str | None]:
    """``uvicorn``, ``uvicorn@0.49`` or ``uvicorn==0.49.0`` -> the profile and the version.

    Names are case-insensitive and aliases count (``fastapi`` is uvicorn). An unknown name is a
    usage error that lists the known ones. With ``to_measure`` (``--server``), a stack that has
    no permessage-deflate is a usage error too: it says so, what teams do instead, and where
    that is written (``wsztune stacks NAME`` passes False to describe it).
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
    if to_measure and found.status == CANNOT_COMPRESS:
        source = found.sources[0].describe() if found.sources else ""
        raise WsztuneError(
            f"--server {text!r}: {found.title} cannot compress: it has no permessage-deflate "
            f"(source: {source}). Instead: {found.instead}. Nothing to sweep: drop --server, "
            "or name the stack that fronts it"
        )
    if version is not None:
        from wsztune.stacks.profile import version_tuple

        if not version or not version_tuple(version):
            raise WsztuneError(
                f"--server {text!r}: the version after {name} must look like 0.49 or 0.49.0"
            )
    return found, version


# How close a mix's shares must add up to 1 (they are typed by hand: 0.7 + 0.2 + 0.1).
_SHARE_SLACK = 0.001


def resolve_clients(text: str) -> list[tuple[Client, float]]:
    """``--client``: ``firefox`` -> [(firefox, 1.0)]; ``chrome=0.7,firefox=0.3`` (or
    ``mixed:chrome=0.7,firefox=0.3``) -> each client with its share of the connections.

    Unknown names, shares that are not numbers in (0, 1] or that do not add up to 1, and a
    bare ``mixed`` are usage errors naming what to write instead.
    """
    from wsztune.errors import WsztuneError

    known = ", ".join(sorted(CLIENTS))
    spec = text.strip()
    if spec.lower().startswith("mixed"):
        spec = spec[len("mixed") :].lstrip(":= ")
        if not spec:
            raise WsztuneError(
                "--client mixed needs the shares of each client, e.g. "
                "--client mixed:chrome=0.7,firefox=0.3"
            )
    parts = [part.strip() for part in spec.split(",") if part.strip()]
    if len(parts) == 1 and "=" not in parts[0]:
        parts = [f"{parts[0]}=1"]
    found: list[tuple[Client, float]] = []
    for part in parts:
        name, _, share_text = (piece.strip() for piece in part.partition("="))
        client = CLIENTS.get(name.lower())
        if client is None:
            raise WsztuneError(f"--client {text!r}: no client called {name!r}; known: {known}")
        try:
            share = float(share_text)
        except ValueError:
            raise WsztuneError(
                f"--client {text!r}: {part!r} needs a share, e.g. {name}=0.3"
            ) from None
        if not 0 < share <= 1:
            raise WsztuneError(f"--client {text!r}: a share is above 0 and at most 1, not {share}")
        if any(other.name == client.name for other, _ in found):
            raise WsztuneError(f"--client {text!r}: {client.name} is named twice")
        found.append((client, share))
    total = sum(share for _, share in found)
    if not found or abs(total - 1) > _SHARE_SLACK:
        raise WsztuneError(
            f"--client {text!r}: the shares add up to {total:g}, not 1 "
            "(e.g. chrome=0.7,firefox=0.3)"
        )
    # Exactly 1 once checked: the sweep's weights must add up.
    return [(client, share / total) for client, share in found]


def client_notes(clients: list[tuple[Client, float]], codec: str) -> list[str]:
    """What a run of ``codec`` for these clients should say: a client whose own codec is not the
    one its direction is measured with (at the client's memLevel and level), and a client whose
    model is not verified."""
    # A Go run makes every client's frames with CPython's zlib, whatever the client compresses
    # with (codecs/go.py, zlib_client_frames); the other runs with the run's own codec.
    go = codec.startswith("go-")
    measuring = "zlib" if go else codec
    server_side = f"; the server's side with {CODEC_TITLES.get(codec, codec)}" if go else ""
    notes = []
    for client, _ in clients:
        measured = (
            f"measured with {CODEC_TITLES.get(measuring, measuring)} at its memLevel "
            f"{client.mem_level}{server_side}"
        )
        if client.codec != measuring:
            own = CODEC_TITLES.get(client.codec, client.codec)
            notes.append(f"{client.title} compresses with {own}; its direction is {measured}")
        elif go:
            notes.append(f"{client.title}'s direction is {measured}")
        if client.status not in ("verified",):
            notes.append(f"{client.title}: {client.status} ({client.status_note})")
    return notes


def stack_caption(slice_: Any) -> str:
    """``measured with CPython's zlib for aiohttp (default 15:8)``: the codec and the stack."""
    from wsztune.text import label

    codec = CODEC_TITLES.get(slice_.codec, slice_.codec)
    stack = STACKS.get(slice_.server) if slice_.server else None
    if stack is None:
        return f"measured with {codec}"
    version = f" {slice_.server_version}" if slice_.server_version else ""
    return (
        f"measured with {codec} for {stack.title}{version} (default {label(slice_.default)})"
    )


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
    chosen: Cell,
    slice_: Any,
    presets: Mapping[str, Preset] | None = None,
    names: tuple[str, ...] = DEFAULT_SNIPPETS,
) -> dict[str, tuple[str, str]]:
    """Configuration to paste for ``chosen``: title -> (pygments lexer name, code).

    ``presets``: stack name -> the preset recommend chose for a stack with memory presets.
    A snippet for a stack whose codec this run did not measure says so on its first line.
    """
    out: dict[str, tuple[str, str]] = {}
    for name in names:
        profile = STACKS[name]
        if profile.snippet is None:
            continue
        context = SnippetContext(slice=slice_, preset=(presets or {}).get(name))
        code = profile.snippet(chosen, context)
        # uWebSockets' presets are approximate whatever the run measured: not marked, as before.
        if profile.name != "uwebsockets":
            note = mismatch_note(name, getattr(slice_, "codec", None))
            if note is not None:
                code = f"{_COMMENT.get(profile.lexer, '#')} {note}\n{code}"
        out[profile.snippet_title or profile.title] = (profile.lexer, code)
    return out
