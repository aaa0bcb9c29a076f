"""The types a stack profile is made of: knobs, fixed values, defaults by version, sources.

A profile describes; it measures nothing. The sweep builds its grid from a profile's knobs
(:meth:`Stack.grid_axes`), ``recommend`` labels the profile's default and asks it for the snippet,
and ``wsztune stacks`` lists what every profile says, with where each fact comes from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# How exactly wsztune measures a stack.
VERIFIED = "verified"  # exact, and checked byte for byte against the real library
SAME_CODEC = "same codec"  # the codec it runs (same library, same calls), not checked here
APPROXIMATE = "approximate"  # a codec close to the stack's own (a port or a fork of zlib)
STATUSES = (VERIFIED, SAME_CODEC, APPROXIMATE)

# The wsztune axes a knob can move (the sweep's Grid axes, plus compression on/off).
AXES = (
    "enabled",
    "window_bits",
    "client_window_bits",
    "mem_level",
    "level",
    "strategy",
    "context_takeover",
    "threshold",
)

Cell = dict[str, Any]


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
    axis: str  # one of AXES
    values: tuple[Any, ...]  # what the stack accepts
    default: Any
    note: str = ""

    def describe_values(self) -> str:
        """``9-15``, ``on/off`` or ``1,3,5``."""
        values = list(self.values)
        if all(isinstance(v, bool) for v in values):
            return "/".join("on" if v else "off" for v in values)
        if all(isinstance(v, int) for v in values):
            from wsztune.grid import describe_values

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


@dataclass(frozen=True)
class SnippetContext:
    """What a snippet may need beyond the cell: the run's slice and the memory budget."""

    slice: Any = None  # a wsztune.grid.Slice, or None
    max_memory: int | None = None


Snippet = Callable[[Cell, SnippetContext], str]


@dataclass(frozen=True)
class Stack:
    """One server stack (or client) as wsztune models it.

    ``codec``: the backend whose bytes and memory are this stack's. ``threshold`` and
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
    versions: tuple[Version, ...] = ()
    snippet: Snippet | None = None
    snippet_title: str = ""
    lexer: str = "text"
    alternatives: tuple[str, ...] = ()  # names of the nearest other stacks or variants
    family: str = ""  # stacks that are variants of one product share it ("uvicorn")
    kind: str = "server"  # or "client"
    aliases: tuple[str, ...] = ()

    @property
    def threshold(self) -> int:
        """The default threshold in bytes (0: none)."""
        return self.defaults.threshold

    def knob(self, axis: str) -> Knob | None:
        """The knob moving ``axis``, or None when the stack fixes it."""
        return next((knob for knob in self.knobs if knob.axis == axis), None)

    def defaults_for(self, version: str | None) -> Defaults:
        """The defaults of ``version`` (None: the current one, this profile's ``defaults``)."""
        if version is None:
            return self.defaults
        for entry in self.versions:
            if version_matches(version, entry.spec):
                return entry.defaults
        return self.defaults

    def version_note(self, version: str | None) -> str:
        """What differs for ``version``, or an empty string."""
        if version is None:
            return ""
        for entry in self.versions:
            if version_matches(version, entry.spec):
                return entry.note
        return ""


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
