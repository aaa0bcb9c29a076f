"""Resampling units: the corpus cut into pieces whose exact compressed sizes every cell keeps.

``recommend`` asks whether its choice would hold on traffic a little different from this corpus.
It answers by bootstrap: draw the corpus's pieces again with replacement and see whether the
choice stays within tolerance. That needs, for every cell, the compressed size of each piece,
and pieces that are roughly independent of one another. The natural piece is a stream (one
connection, one direction: one compressor). A corpus of a few long streams (one API
subscription, one market feed) has too few of those, so long streams are cut into blocks of
consecutive messages.

The sizes are exact: each message is compressed inside its whole stream, as the server does
(context takeover included), and a block's size is the sum of its messages' frames. Only the
grouping is chosen here, and it is the same for every cell: it depends on message sizes, never
on a setting. Raw bytes and message counts per unit are therefore stored once, in the run's
metadata (:meth:`UnitLayout.describe`), and each cell stores only its compressed sizes.

Block sizing: aim for :data:`TARGET_UNITS` units of about equal raw size. A stream holding more
than one target's worth of raw bytes is cut into ``round(raw / target)`` blocks (never more
blocks than messages); smaller streams stay whole. A corpus with more streams than the target
keeps one unit per stream, and above :data:`MAX_UNITS` streams, neighbouring streams share a
unit, so that a results file stays small (at most :data:`MAX_UNITS` integers per cell).

This module knows nothing of codecs: any codec that yields per-message compressed sizes per
stream (:meth:`UnitLayout.sizes`) gets the same units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# 64 units give a bootstrap enough resampling units to mean something (tens, not a handful), and
# the blocks of a single long stream stay long enough (1/64 of the corpus) that most of what a
# window remembers lies inside its own block.
TARGET_UNITS = 64
MAX_UNITS = 256
METHOD = (
    f"streams (connection, direction); streams over 1/{TARGET_UNITS} of the raw bytes cut into "
    f"blocks of consecutive messages of about that size; at most {MAX_UNITS} units"
)


@dataclass(frozen=True)
class UnitLayout:
    """Which messages of which stream make each unit.

    ``blocks[s]`` lists ``(start, stop, unit)`` for stream ``s``: its messages ``start:stop``
    belong to ``unit``. The tuples per unit (``names``, ``raw_bytes``, ``messages``,
    ``directions``) describe the units themselves; ``directions`` is ``server``, ``client`` or
    ``mixed`` when neighbouring streams of both directions share a unit.
    """

    blocks: tuple[tuple[tuple[int, int, int], ...], ...]
    names: tuple[str, ...]
    raw_bytes: tuple[int, ...]
    messages: tuple[int, ...]
    directions: tuple[str, ...]

    @property
    def count(self) -> int:
        """Number of units."""
        return len(self.names)

    @classmethod
    def of(cls, streams: Sequence[Any]) -> UnitLayout:
        """The layout of ``streams`` (:class:`wsztune.corpus.Stream`: ``connection``,
        ``direction`` and ``sizes()``, each payload's size, read without copying payloads)."""
        return cls.of_sizes([(s.connection, s.direction, list(s.sizes())) for s in streams])

    @classmethod
    def of_sizes(
        cls,
        streams: Sequence[tuple[str, str, Sequence[int]]],
        target: int = TARGET_UNITS,
        cap: int = MAX_UNITS,
    ) -> UnitLayout:
        """The layout of streams given as ``(connection, direction, message sizes)``."""
        total = sum(sum(sizes) for _, _, sizes in streams)
        if len(streams) > cap:
            return cls._grouped(streams, cap)
        if len(streams) >= target or total == 0:
            pieces = [[(0, len(sizes))] for _, _, sizes in streams]
        else:
            per_unit = total / target
            pieces = [_split(sizes, per_unit) for _, _, sizes in streams]
        blocks: list[tuple[tuple[int, int, int], ...]] = []
        names: list[str] = []
        raw: list[int] = []
        messages: list[int] = []
        directions: list[str] = []
        for (connection, direction, sizes), cuts in zip(streams, pieces, strict=True):
            stream_blocks = []
            for number, (start, stop) in enumerate(cuts, start=1):
                stream_blocks.append((start, stop, len(names)))
                suffix = f"#{number}" if len(cuts) > 1 else ""
                names.append(f"{connection}/{direction}{suffix}")
                raw.append(sum(sizes[start:stop]))
                messages.append(stop - start)
                directions.append(direction)
            blocks.append(tuple(stream_blocks))
        return cls(tuple(blocks), tuple(names), tuple(raw), tuple(messages), tuple(directions))

    @classmethod
    def _grouped(cls, streams: Sequence[tuple[str, str, Sequence[int]]], cap: int) -> UnitLayout:
        # Too many streams for a small file: neighbouring streams (in order of appearance) share
        # a unit. Whole streams only, so a unit is still a set of whole connections' traffic.
        count = len(streams)
        unit_of = [index * cap // count for index in range(count)]
        raw = [0] * cap
        messages = [0] * cap
        members: list[list[int]] = [[] for _ in range(cap)]
        kinds: list[set[str]] = [set() for _ in range(cap)]
        blocks = []
        for index, ((_, direction, sizes), unit) in enumerate(zip(streams, unit_of, strict=True)):
            blocks.append(((0, len(sizes), unit),))
            raw[unit] += sum(sizes)
            messages[unit] += len(sizes)
            members[unit].append(index)
            kinds[unit].add(direction)
        names = tuple(
            f"streams {g[0] + 1}-{g[-1] + 1}" if len(g) > 1 else f"stream {g[0] + 1}"
            for g in members
        )
        directions = tuple(kind.pop() if len(kind) == 1 else "mixed" for kind in kinds)
        return cls(tuple(blocks), names, tuple(raw), tuple(messages), directions)

    def sizes(self, per_stream: Sequence[Sequence[int]]) -> list[int]:
        """Each unit's compressed bytes from each stream's per-message compressed sizes."""
        if len(per_stream) != len(self.blocks):
            raise ValueError(f"{len(per_stream)} streams of sizes for {len(self.blocks)} streams")
        out = [0] * self.count
        for sizes, blocks in zip(per_stream, self.blocks, strict=True):
            for start, stop, unit in blocks:
                out[unit] += sum(sizes[start:stop])
        return out

    def describe(self) -> dict[str, Any]:
        """Plain metadata for a results file (``meta.units``): what every cell's
        ``unit_compressed_bytes`` is aligned with."""
        return {
            "method": METHOD,
            "count": self.count,
            "names": list(self.names),
            "raw_bytes": list(self.raw_bytes),
            "messages": list(self.messages),
            "directions": list(self.directions),
        }


def _split(sizes: Sequence[int], per_unit: float) -> list[tuple[int, int]]:
    """Cut one stream's messages into consecutive blocks of about ``per_unit`` raw bytes."""
    raw = sum(sizes)
    count = min(len(sizes), max(1, round(raw / per_unit))) if sizes else 1
    if count <= 1:
        return [(0, len(sizes))]
    cuts: list[tuple[int, int]] = []
    start, running, block = 0, 0, 1
    for index, size in enumerate(sizes):
        running += size
        # Close the block once it reaches its share, leaving at least one message per block.
        left = len(sizes) - index - 1
        if block < count and running >= raw * block / count and left >= count - block:
            cuts.append((start, index + 1))
            start, block = index + 1, block + 1
    cuts.append((start, len(sizes)))
    return cuts
