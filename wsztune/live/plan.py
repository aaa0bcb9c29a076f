"""The replay plan every live check follows: which corpus connection each live connection
replays, whole and in order, and the probe a silent client sends.

Live connection ``i`` replays corpus connection ``i mod M`` (M connections in the corpus, in order
of first appearance). A flat corpus (JSONL, lines, a directory) is one connection, so every live
connection replays all of it. A corpus connection whose client sends nothing gets :data:`PROBE`
at its end: the server then inflates something and allocates its inflate window, as a real
client's first message makes it do, and as the models assume.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from wsztune.codecs.base import PROBE_PAYLOAD
from wsztune.corpus import CLIENT, Corpus
from wsztune.errors import SettingError

# What a live client sends when its corpus connection has no client-to-server message: the server
# then inflates something and allocates its inflate window, which the sweep's connection_memory
# includes. Any non-empty message does (zlib allocates the whole window on the first output).
PROBE = (CLIENT, True, PROBE_PAYLOAD)  # the node codec's model assumes the same message


@dataclass(frozen=True)
class Script:
    """One corpus connection's messages in order: ``(direction, is_text, payload)``.

    ``probed``: the corpus connection has no client message, and :data:`PROBE` was appended.
    """

    connection: str
    messages: tuple[tuple[str, bool, bytes], ...]
    probed: bool = False

    def payloads(self, direction: str) -> list[bytes]:
        """The payloads one side sends, in order: what its compressor sees."""
        return [payload for sender, _, payload in self.messages if sender == direction]


@dataclass(frozen=True)
class Plan:
    """What the live run replays: the scripts, and which one each live connection plays."""

    scripts: tuple[Script, ...]
    assignment: tuple[int, ...]  # live connection index -> script index

    @property
    def connections(self) -> int:
        """Number of live connections."""
        return len(self.assignment)

    def script_for(self, index: int) -> Script:
        """The script live connection ``index`` replays."""
        return self.scripts[self.assignment[index]]

    @property
    def probed(self) -> int:
        """How many live connections replay a script that ends with :data:`PROBE`."""
        return sum(self.script_for(i).probed for i in range(self.connections))

    def to_json(self) -> dict[str, Any]:
        """The plan as JSON for the client process (payloads in base64)."""
        return {
            "scripts": [
                [[d, t, base64.b64encode(p).decode("ascii")] for d, t, p in script.messages]
                for script in self.scripts
            ],
            "assignment": list(self.assignment),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        """Inverse of :meth:`to_json` (connection names are not needed by the client)."""
        scripts = tuple(
            Script(str(n), tuple((d, bool(t), base64.b64decode(p)) for d, t, p in messages))
            for n, messages in enumerate(data["scripts"])
        )
        return cls(scripts, tuple(int(i) for i in data["assignment"]))


def build_plan(corpus: Corpus, connections: int) -> Plan:
    """Live connection ``i`` replays corpus connection ``i mod M``, whole and in order.

    A corpus connection without client messages gets :data:`PROBE` at its end.
    """
    if connections < 2:
        raise SettingError(
            f"--connections must be at least 2, not {connections}: the first connection pays "
            "one-off costs and is discarded from the memory figure"
        )
    grouped: dict[str, list[tuple[str, bool, bytes]]] = {}
    for message in corpus.messages:
        grouped.setdefault(message.connection, []).append(
            (message.direction, message.is_text, message.payload)
        )
    names = list(grouped)
    used = names[:connections]  # scripts no live connection plays are not shipped
    scripts = tuple(_script(name, grouped[name]) for name in used)
    return Plan(scripts, tuple(index % len(scripts) for index in range(connections)))


def describe_replay(corpus: Corpus, plan: Plan) -> str:
    """Which corpus connection each live connection replayed, in words (every live check)."""
    corpus_connections = len(corpus.connections)
    if corpus_connections == 1:
        return "every live connection replays the whole corpus (one connection)"
    if plan.connections <= corpus_connections:
        return (
            f"live connection i replays corpus connection i: the first {plan.connections} "
            f"of {corpus_connections}"
        )
    return f"live connection i replays corpus connection i mod {corpus_connections}"


def replay_fields(corpus: Corpus, plan: Plan) -> dict[str, Any]:
    """A live result's fields for what was replayed (every check that replays a
    :class:`Plan`): the corpus and how many of its connections the plan ships, the replay in
    words, and how many live connections sent the probe."""
    return {
        "corpus": {**corpus.describe(), "replayed_connections": len(plan.scripts)},
        "replay": describe_replay(corpus, plan),
        "probed_connections": plan.probed,
    }


def _script(name: str, messages: list[tuple[str, bool, bytes]]) -> Script:
    if any(direction == CLIENT for direction, _, _ in messages):
        return Script(name, tuple(messages))
    return Script(name, (*messages, PROBE), probed=True)
