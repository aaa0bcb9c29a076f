"""The types a stack profile is made of: knobs, fixed values, defaults by version, sources.

A profile describes; it measures nothing. The sweep builds its grid from a profile's knobs
(:meth:`Stack.grid_axes`), ``recommend`` labels the profile's default and asks it for the snippet,
and ``wsztune stacks`` lists what every profile says, with where each fact comes from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wsztune.axes import AXES as SWEPT_AXES

# How exactly wsztune measures a stack.
VERIFIED = "verified"  # exact, and checked byte for byte against the real library
SAME_CODEC = "same codec"  # the codec it runs (same library, same calls), not checked here
APPROXIMATE = "approximate"  # a codec close to the stack's own (a port or a fork of zlib)
CANNOT_COMPRESS = "cannot compress"  # no permessage-deflate at all: --server refuses it
STATUSES = (VERIFIED, SAME_CODEC, APPROXIMATE, CANNOT_COMPRESS)

# The wsztune axes a knob can move: the sweep's (wsztune.axes), compression on/off, and a
# choice of implementation that fixes the other axes (uvicorn's --ws).
KNOB_AXES = ("enabled", "backend", *SWEPT_AXES)

Cell = dict[str, Any]

# What ``wsztune run`` sweeps on an axis the stack can change (the sweep's usual ranges).
SWEPT_WINDOW_BITS = tuple(range(9, 16))
SWEPT_MEM_LEVELS = tuple(range(1, 10))


@dataclass(frozen=True)
class Source:
    """Where a fact comes from: the library, its version and the file (or page) that says so."""

    library: str
    version: str
    file: str
    fact: str

    def describe(self) -> str:
        """``uvicorn 0.38.0, uvicorn/config.py: --ws auto ...``."""
        return f"{self.library} {self.version}, {self.file}: {self.fact}"


@dataclass(frozen=True)
class Knob:
    """One setting a stack exposes, as the stack spells it, and the wsztune axis it moves."""

    name: str  # the stack's own spelling: "serverMaxWindowBits", "--ws-per-message-deflate"
    axis: str  # one of KNOB_AXES
    values: tuple[Any, ...]  # what the stack accepts
    default: Any
    note: str = ""

    def describe_values(self) -> str:
        """``9-15``, ``on/off`` or ``1,3,5``."""
        values = list(self.values)
        if all(isinstance(v, bool) for v in values):
            return "/".join("on" if v else "off" for v in values)
        if all(isinstance(v, int) for v in values):
            from wsztune.text import describe_values

            if values[0] < 0 and values == list(range(values[0], values[-1] + 1)):
                return f"{values[0]} to {values[-1]}"  # "-1-9" would read as a subtraction

            return describe_values(values)
        return ",".join(str(v) for v in values)


@dataclass(frozen=True)
class Defaults:
    """What a stack runs with when compression is on and nothing is configured."""

    window_bits: int = 15
    mem_level: int = 8
    level: int = -1
    strategy: str = "default"
    context_takeover: bool = True
    client_window_bits: int | None = None  # None: the same as window_bits
    threshold: int = 0
    enabled: bool = True  # is compression on out of the box?

    @property
    def label(self) -> str:
        """``15:8``, the cell label users type."""
        return f"{self.window_bits}:{self.mem_level}"

    def describe(self) -> str:
        """``15:8 level 1, context takeover, threshold 1024 B; off until enabled``."""
        parts = [self.label]
        if self.client_window_bits not in (None, self.window_bits):
            parts[0] += f" (client window {self.client_window_bits})"
        if self.level != -1:
            parts.append(f"level {self.level}")
        if self.strategy != "default":
            parts.append(f"strategy {self.strategy}")
        parts.append("context takeover" if self.context_takeover else "no context takeover")
        if self.threshold:
            parts.append(f"threshold {self.threshold} B")
        text = ", ".join(parts)
        return text if self.enabled else f"{text}; compression off until enabled"


@dataclass(frozen=True)
class Version:
    """A range of a stack's versions whose defaults differ from the profile's (newest first)."""

    spec: str  # "<0.35", ">=0.35": compared with :func:`version_matches`
    defaults: Defaults
    note: str
    codec: str = ""  # when the version runs another codec than the profile's
    # Alternatives (stack names) that do not exist in these versions: uvicorn's
    # websockets-sansio backend came in 0.35.0, so no advice may name it before.
    lacks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Preset:
    """One of a stack's fixed (windowBits, memLevel) presets, as recommend chose it for the
    budget, and a note of how it compares with the chosen cell."""

    window_bits: int
    mem_level: int
    note: str


@dataclass(frozen=True)
class SnippetContext:
    """What a snippet may need beyond the cell: the run's slice, and the preset recommend chose
    for a stack with :attr:`Stack.memory_presets` (None for the others)."""

    slice: Any = None  # a wsztune.grid.Slice, or None
    preset: Preset | None = None


Snippet = Callable[[Cell, SnippetContext], str]


@dataclass(frozen=True)
class Stack:
    """One server stack (or client) as wsztune models it.

    ``codec``: the codec whose bytes and memory are this stack's. ``threshold`` and
    ``threshold_rule``: its default threshold in bytes and when it applies ("always", or "ws":
    only without context takeover). ``knobs``: what a user can change; every axis without a knob
    is fixed at ``defaults`` (``fixed`` says why, per axis). ``status``: how exactly wsztune
    measures it (:data:`VERIFIED`, :data:`SAME_CODEC`, :data:`APPROXIMATE`).
    """

    name: str
    title: str
    codec: str
    defaults: Defaults = field(default_factory=Defaults)
    knobs: tuple[Knob, ...] = ()
    fixed: dict[str, str] = field(default_factory=dict)  # axis -> why the stack fixes it
    threshold_rule: str = "always"
    takeover: str = "both"  # context takeover: "both" (configurable), "on" or "off" only
    status: str = SAME_CODEC
    status_note: str = ""
    sources: tuple[Source, ...] = ()
    pitfalls: tuple[str, ...] = ()
    # How it sends one message to many connections (a broadcast), with where that is said:
    # compressed once for all (a compress-once mode) or once per connection (docs/broadcast.md).
    broadcast: Source | None = None
    # What it cannot do beyond its fixed axes, one sentence each: ``recommend`` says them.
    limits: tuple[str, ...] = ()
    versions: tuple[Version, ...] = ()
    snippet: Snippet | None = None
    snippet_title: str = ""
    lexer: str = "text"
    alternatives: tuple[str, ...] = ()  # names of the nearest other stacks or variants
    family: str = ""  # stacks that are variants of one product share it ("uvicorn")
    kind: str = "server"  # or "client"
    aliases: tuple[str, ...] = ()
    # The (windowBits, memLevel) pairs it can be set to, when it offers fixed pairs only
    # (uWebSockets' presets, uvicorn's backends); empty: every combination of its knobs.
    pairs: tuple[tuple[int, int], ...] = ()
    # Stacks without permessage-deflate (status CANNOT_COMPRESS): what teams do instead, said
    # when ``--server`` names one (nothing to sweep).
    instead: str = ""
    # The (windowBits, memLevel, context takeover) combinations it can be set to, when its modes
    # fix all three together (Bun: the shared compressor is 15:8 without takeover, the dedicated
    # presets keep it); empty: every combination of ``pairs`` (or of its knobs) and takeover.
    # A sweep of the stack measures these cells only.
    cells: tuple[tuple[int, int, bool], ...] = ()
    # Fixed (windowBits, memLevel) presets, smallest first, that its snippet names one of
    # (uWebSockets' CompressOptions): recommend picks the one for the budget and hands it over
    # as SnippetContext.preset.
    memory_presets: tuple[tuple[int, int], ...] = ()
    # Bytes of a buffer the stack writes whole and frees on every socket read (Tornado's
    # IOStream read chunk): the zlib objects built next are carved from its written pages, so
    # the resident model lays it under them (wsztune.memory.zlib_resident's ``read_buffer``),
    # in a sweep for the stack and in its live check alike; 0: it reads into fresh bytes.
    read_buffer: int = 0

    @property
    def threshold(self) -> int:
        """The default threshold in bytes (0: none)."""
        return self.defaults.threshold

    def knob(self, axis: str) -> Knob | None:
        """The knob moving ``axis``, or None when the stack fixes it."""
        return next((knob for knob in self.knobs if knob.axis == axis), None)

    @property
    def on_off_only(self) -> bool:
        """True when the only decision is compression on or off (one settable cell, and no
        knob but the switch: coder also sets context takeover and a threshold)."""
        return len(self.settable_pairs()) == 1 and all(
            knob.axis in ("enabled", "backend") for knob in self.knobs
        )

    def default_pair(self, version: str | None = None) -> tuple[int, int]:
        """The (windowBits, memLevel) the stack runs by default (at ``version``)."""
        defaults = self.defaults_for(version)
        return (defaults.window_bits, defaults.mem_level)

    def settable_pairs(self, version: str | None = None) -> tuple[tuple[int, int], ...]:
        """Every (windowBits, memLevel) pair the stack can be set to."""
        if self.pairs:
            return self.pairs
        if self.cells:
            return tuple(dict.fromkeys((wb, ml) for wb, ml, _ in self.cells))
        if self.knob("window_bits") is None and self.knob("mem_level") is None:
            return (self.default_pair(version),)
        windows = self.axis_values("window_bits", SWEPT_WINDOW_BITS, version)
        levels = self.axis_values("mem_level", SWEPT_MEM_LEVELS, version)
        return tuple((wb, ml) for wb in windows for ml in levels)

    def axis_values(self, axis: str, swept: tuple[Any, ...], version: str | None = None) -> tuple:
        """The values of ``axis`` a sweep of this stack covers: ``swept`` (the sweep's usual
        range) cut to what the knob accepts, or the default alone when the stack fixes it."""
        knob = self.knob(axis)
        if knob is None:
            return (getattr(self.defaults_for(version), axis),)
        return tuple(value for value in swept if value in knob.values) or tuple(knob.values)

    def settable(self, cell: Cell, version: str | None = None) -> bool:
        """Can the stack be set to ``cell``'s setting (level, memLevel, window, takeover...)?"""
        if cell.get("compression") is False:
            return self.knob("enabled") is not None or not self.defaults.enabled
        if self.knob("enabled") is None and not self.defaults.enabled:
            return False  # it never compresses (daphne)
        if (cell["window_bits"], cell["mem_level"]) not in self.settable_pairs(version):
            return False
        if self.cells and (
            (cell["window_bits"], cell["mem_level"], cell["context_takeover"]) not in self.cells
        ):
            return False
        defaults = self.defaults_for(version)
        for axis in ("level", "strategy", "context_takeover"):
            knob = self.knob(axis)
            value = cell[axis]
            if knob is None and value != getattr(defaults, axis):
                return False
            if knob is not None and value not in knob.values:
                return False
        return True

    def defaults_for(self, version: str | None) -> Defaults:
        """The defaults of ``version`` (None: the current one, this profile's ``defaults``)."""
        if version is None:
            return self.defaults
        for entry in self.versions:
            if version_matches(version, entry.spec):
                return entry.defaults
        return self.defaults

    def codec_for(self, version: str | None) -> str:
        """The codec that measures ``version`` (None: the current one)."""
        if version is not None:
            for entry in self.versions:
                if version_matches(version, entry.spec) and entry.codec:
                    return entry.codec
        return self.codec

    def alternatives_for(self, version: str | None) -> tuple[str, ...]:
        """The alternatives that exist in ``version`` (None: the current one)."""
        if version is not None:
            for entry in self.versions:
                if version_matches(version, entry.spec):
                    return tuple(a for a in self.alternatives if a not in entry.lacks)
        return self.alternatives

    def version_note(self, version: str | None) -> str:
        """What differs for ``version``, or an empty string."""
        if version is None:
            return ""
        for entry in self.versions:
            if version_matches(version, entry.spec):
                return entry.note
        return ""


def zlib_level(cell: Cell) -> int:
    """``cell``'s level as a number to write in a snippet: zlib's default (-1) is level 6,
    for the stacks whose option takes a number and has no "default" spelling."""
    return 6 if cell["level"] == -1 else cell["level"]


def version_tuple(text: str) -> tuple[int, ...]:
    """``0.30.1`` -> (0, 30, 1); stops at the first part that is not a number."""
    parts = []
    for part in text.strip().split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        if not digits or digits != part:
            if digits and part.startswith(digits):
                parts.append(int(digits))
            break
        parts.append(int(digits))
    return tuple(parts)


def version_matches(version: str, spec: str) -> bool:
    """Does ``version`` satisfy ``spec`` (``<0.35``, ``>=0.35``, ``<=1``, ``>2``, ``==0.30``)?

    Several conditions are separated by commas and must all hold.
    """
    given = version_tuple(version)
    for condition in spec.split(","):
        condition = condition.strip()
        for operator in ("<=", ">=", "==", "<", ">"):
            if condition.startswith(operator):
                bound = version_tuple(condition[len(operator) :])
                break
        else:
            raise ValueError(f"not a version condition: {condition!r}")
        width = max(len(given), len(bound))
        left = given + (0,) * (width - len(given))
        right = bound + (0,) * (width - len(bound))
        ok = {
            "<=": left <= right,
            ">=": left >= right,
            "==": left == right,
            "<": left < right,
            ">": left > right,
        }[operator]
        if not ok:
            return False
    return True


@dataclass(frozen=True)
class Client:
    """A WebSocket client as wsztune models it: how it compresses what it sends, and what it
    lets the server negotiate (``--client``; the verify helper wires the codec behaviour).

    ``caps_window``: whether it offers ``client_max_window_bits``, so that the server can cap
    the client's window (and the server's decompressor). ``window``: the window it compresses
    with when the server cannot cap it, or the smallest it uses (``min_window``) when it can.
    """

    name: str
    title: str
    codec: str
    mem_level: int
    level: int = -1
    caps_window: bool = True
    window: int = 15
    min_window: int = 9
    chunk: int = 0  # output chunk size in bytes, 0: one piece per message
    # Messages shorter than ``threshold`` bytes go out uncompressed; ``threshold_rule`` says when
    # it applies, as a stack's does ("ws": only without context takeover).
    threshold: int = 0
    threshold_rule: str = "always"
    # The Sec-WebSocket-Extensions header it sends, exactly (``wsztune probe`` sends it);
    # empty: derived from ``caps_window``.
    offer: str = ""
    status: str = SAME_CODEC
    status_note: str = ""
    sources: tuple[Source, ...] = ()
    pitfalls: tuple[str, ...] = ()
    kind: str = "client"

    @property
    def offer_header(self) -> str:
        """The ``Sec-WebSocket-Extensions`` header it offers, as it writes it."""
        if self.offer:
            return self.offer
        if self.caps_window:
            return "permessage-deflate; client_max_window_bits"
        return "permessage-deflate"

    def window_for(self, server_cap: int | None) -> int:
        """The window it compresses with when the server grants ``server_cap`` (None: no cap)."""
        if not self.caps_window or server_cap is None:
            return self.window
        return max(min(server_cap, self.window), self.min_window)


def stack_json(stack: Stack) -> dict[str, Any]:
    """Everything a profile says, as plain data (``wsztune stacks --json``)."""
    defaults = stack.defaults
    return {
        "name": stack.name,
        "kind": stack.kind,
        "title": stack.title,
        "aliases": list(stack.aliases),
        "family": stack.family,
        "codec": stack.codec,
        "status": stack.status,
        "status_note": stack.status_note,
        "default": {
            "setting": defaults.label,
            "description": (
                "no permessage-deflate: cannot compress"
                if stack.status == CANNOT_COMPRESS
                else "never compresses (no option)"
                if stack.knob("enabled") is None and not defaults.enabled
                else defaults.describe()
            ),
            "window_bits": defaults.window_bits,
            "client_window_bits": defaults.client_window_bits or defaults.window_bits,
            "mem_level": defaults.mem_level,
            "level": defaults.level,
            "context_takeover": defaults.context_takeover,
            "threshold": defaults.threshold,
            "enabled": defaults.enabled,
        },
        "threshold_rule": stack.threshold_rule,
        "knobs": [
            {
                "name": knob.name,
                "axis": knob.axis,
                "values": list(knob.values),
                "range": knob.describe_values(),
                "default": knob.default,
                "note": knob.note,
            }
            for knob in stack.knobs
        ],
        "fixed": dict(stack.fixed),
        "settable": [f"{wb}:{ml}" for wb, ml in stack.settable_pairs()],
        **(
            {
                "cells": [
                    {"setting": f"{wb}:{ml}", "context_takeover": takeover}
                    for wb, ml, takeover in stack.cells
                ]
            }
            if stack.cells
            else {}
        ),
        "on_off_only": stack.on_off_only,
        "versions": [
            {
                "versions": entry.spec,
                "default": entry.defaults.label,
                "codec": entry.codec or stack.codec,
                "note": entry.note,
            }
            for entry in stack.versions
        ],
        "pitfalls": list(stack.pitfalls),
        "alternatives": list(stack.alternatives),
        "sources": [source.__dict__.copy() for source in stack.sources],
        "broadcast": stack.broadcast.__dict__.copy() if stack.broadcast else None,
        **({"instead": stack.instead} if stack.instead else {}),
    }


def client_json(client: Client) -> dict[str, Any]:
    """Everything a client profile says, as plain data."""
    return {
        "name": client.name,
        "kind": client.kind,
        "title": client.title,
        "codec": client.codec,
        "mem_level": client.mem_level,
        "level": client.level,
        "caps_window": client.caps_window,
        "window": client.window,
        "min_window": client.min_window,
        "chunk": client.chunk,
        "threshold": client.threshold,
        "threshold_rule": client.threshold_rule,
        "offer": client.offer_header,
        "status": client.status,
        "status_note": client.status_note,
        "pitfalls": list(client.pitfalls),
        "sources": [source.__dict__.copy() for source in client.sources],
    }
