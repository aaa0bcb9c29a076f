"""The servers (stacks) wsztune configures: which codec measures them, their threshold default.

A configuration snippet for a stack is only worth pasting when the run measured that stack's own
codec: ws and Socket.IO compress with Node's bundled zlib (Chromium's fork), python-websockets
with CPython's zlib. ``wsztune run --server NAME`` picks the codec, the threshold default and the
threshold rule from here; ``recommend`` marks snippets whose stack the run did not measure.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Server:
    """One server stack as wsztune models it."""

    name: str
    title: str
    codec: str  # the codec backend whose bytes and memory are this stack's
    threshold: int  # its default threshold in bytes (0: none)
    threshold_rule: str  # "always", or "ws": only without context takeover


SERVERS: dict[str, Server] = {
    "websockets": Server("websockets", "python-websockets", "zlib", 0, "always"),
    # ws 8: PerMessageDeflate's threshold defaults to 1024 and its Sender only applies it when
    # the sending side has no context takeover (lib/sender.js).
    "ws": Server("ws", "Node ws", "node", 1024, "ws"),
    # Socket.IO (engine.io) hands its perMessageDeflate option to ws: same codec, same rule.
    "socketio": Server("socketio", "Socket.IO", "node", 1024, "ws"),
}

CODEC_TITLES = {
    "zlib": "CPython's zlib",
    "zlib-ng": "zlib-ng",
    "node": "Node's zlib",
}


def server(name: str) -> Server:
    """The stack called ``name`` (a key of :data:`SERVERS`)."""
    return SERVERS[name]


def measured_by(codec: str | None) -> list[str]:
    """Names of the stacks a run of ``codec`` measured with their own codec."""
    return [item.name for item in SERVERS.values() if item.codec == (codec or "zlib")]


def mismatch_note(stack: str, codec: str | None) -> str | None:
    """None when a run of ``codec`` measured ``stack``'s codec, else the line to print instead
    of trusting its snippet blindly."""
    wanted = SERVERS[stack]
    codec = codec or "zlib"
    if wanted.codec == codec:
        return None
    option = f"--server {wanted.name}"
    return (
        f"measured with {CODEC_TITLES.get(codec, codec)}; {wanted.title} compresses with "
        f"{CODEC_TITLES.get(wanted.codec, wanted.codec)}: run with {option} for it"
    )
