"""Two corpora shaped for fleet memory (bench/fleet.py, docs/memory.md): the chat corpus's own
messages dealt out to connections that carry few or many of them.

``light``: 16 connections of 6 messages each way (a short session: a client opens, says hello,
reads a little, leaves). ``heavy``: 4 connections of 300 messages each way (a long-lived one).
Resident memory depends on the bytes a connection has carried and on its largest message, so the
two shapes sit near both ends of what zlib's windows see; the messages are the same kind.
"""

from __future__ import annotations

from corpora.generate.chat import chat
from corpora.generate.common import Record

SHAPES = {"light": (16, 6), "heavy": (4, 300)}  # connections, messages each way


def fleet(seed: int, shape: str) -> list[Record]:
    """``shape``'s connections, each taking the chat corpus's next messages in each direction
   ."""
    connections, each = SHAPES[shape]
    source = chat(seed)
    by_direction = {
        side: [record for record in source if record.direction == side]
        for side in ("client", "server")
    }
    records = []
    for number in range(connections):
        name = f"{shape[0]}{number + 1:02d}"
        for index in range(each):
            for side in ("client", "server"):
                pool = by_direction[side]
                picked = pool[(number * each + index) % len(pool)]
                records.append(Record(name, side, picked.payload, picked.is_text))
    return records
