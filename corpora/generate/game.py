"""A 20 Hz multiplayer action game, with binary keyframes (``game.records.jsonl``)."""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass
from typing import Any

from corpora.generate.chat import _CHAT_USERS
from corpora.generate.common import DEFAULT_SEED, EPOCH_MS, Record, _hexid, _json

_GAME_TICK_MS = 50  # 20 Hz server tick, typical for action games
_ARENA = 100.0


@dataclass(slots=True)
class _Entity:
    """One simulated game entity (player or NPC)."""

    id: int
    x: float
    y: float
    vx: float
    vy: float
    hp: int


def game(seed: int = DEFAULT_SEED, connections: int = 8, messages: int = 5000) -> list[Record]:
    """Multiplayer game traffic: a join/welcome handshake, then per-tick JSON state
    deltas from the server (about one in ten replaced by a compact binary keyframe
    snapshot), high-rate client inputs and pings, and occasional hit/kill events.
    Returns ``messages`` records."""
    rng = random.Random(f"wsztune-game-{seed}")
    conns = [f"g{i + 1:02d}" for i in range(connections)]
    players = [
        _Entity(i + 1, rng.uniform(-80, 80), rng.uniform(-80, 80), 0.0, 0.0, 100)
        for i in range(connections)
    ]
    npcs = [
        _Entity(100 + i, rng.uniform(-90, 90), rng.uniform(-90, 90), 0.0, 0.0, rng.randint(40, 200))
        for i in range(24)
    ]
    ents = players + npcs
    input_seq = [0] * connections
    scores = [0] * connections
    out: list[Record] = []

    def send(conn: str, obj: Any) -> None:
        out.append(Record(conn, "server", _json(obj), True))

    def state(e: _Entity) -> dict[str, Any]:
        return {
            "id": e.id,
            "x": round(e.x, 2),
            "y": round(e.y, 2),
            "vx": round(e.vx, 1) + 0.0,  # + 0.0 turns -0.0 into 0.0
            "vy": round(e.vy, 1) + 0.0,
            "hp": e.hp,
        }

    for i, conn in enumerate(conns):
        out.append(
            Record(
                conn,
                "client",
                _json(
                    {
                        "t": "join",
                        "name": _CHAT_USERS[i][0],
                        "ver": "1.8.2",
                        "token": _hexid(rng, 8),
                    }
                ),
                True,
            )
        )
        send(
            conn, {"t": "welcome", "you": players[i].id, "tick": 0, "map": "dust_arena", "rate": 20}
        )

    tick = 0
    while len(out) < messages:
        tick += 1
        # Clients send inputs faster than the server ticks; most ticks carry one.
        for i, conn in enumerate(conns):
            p = players[i]
            if rng.random() < 0.75:
                input_seq[i] += 1
                keys = rng.choice(["", "w", "wa", "wd", "s", "a", "d", "w", "w", "sd"])
                p.vx = 6.0 * (("d" in keys) - ("a" in keys)) + rng.uniform(-0.3, 0.3)
                p.vy = 6.0 * (("w" in keys) - ("s" in keys)) + rng.uniform(-0.3, 0.3)
                inp = {
                    "t": "in",
                    "seq": input_seq[i],
                    "tick": tick,
                    "keys": keys,
                    "aim": [round(rng.uniform(-1, 1), 3), round(rng.uniform(-1, 1), 3)],
                    "fire": rng.random() < 0.15,
                }
                out.append(Record(conn, "client", _json(inp), True))
            if rng.random() < 0.02:
                out.append(
                    Record(
                        conn,
                        "client",
                        _json({"t": "ping", "c": EPOCH_MS + tick * _GAME_TICK_MS}),
                        True,
                    )
                )
                send(conn, {"t": "pong", "c": EPOCH_MS + tick * _GAME_TICK_MS, "tick": tick})
        # Integrate the world.
        for e in npcs:
            if rng.random() < 0.1:
                e.vx = rng.uniform(-4, 4)
                e.vy = rng.uniform(-4, 4)
        for e in ents:
            e.x += e.vx * _GAME_TICK_MS / 1000
            e.y += e.vy * _GAME_TICK_MS / 1000
            if abs(e.x) > _ARENA:
                e.vx = -e.vx
                e.x = max(-_ARENA, min(_ARENA, e.x))
            if abs(e.y) > _ARENA:
                e.vy = -e.vy
                e.y = max(-_ARENA, min(_ARENA, e.y))
        for i, conn in enumerate(conns):
            me = players[i]
            # Interest management: each client hears about what is near it.
            near = [e for e in ents if abs(e.x - me.x) < 45 and abs(e.y - me.y) < 45]
            if (tick + i) % 10 == 0:
                # Keyframe: a compact binary snapshot of everything visible.
                body = b"".join(
                    struct.pack(
                        "<HffhhB",
                        e.id,
                        e.x,
                        e.y,
                        int(e.vx * 100),
                        int(e.vy * 100),
                        max(0, min(255, e.hp)),
                    )
                    for e in near
                )
                out.append(
                    Record(conn, "server", struct.pack("<BIH", 0x01, tick, len(near)) + body, False)
                )
            else:
                moving = [e for e in near if e.vx or e.vy]
                picked = rng.sample(moving, min(len(moving), rng.choice([1, 1, 2, 2, 3])))
                picked.sort(key=lambda e: e.id)
                send(conn, {"t": "d", "tick": tick, "e": [state(e) for e in picked]})
        if rng.random() < 0.08:
            # Someone hits something; everyone gets the event.
            src = rng.randrange(connections)
            dst = rng.choice(ents)
            dmg = rng.randint(5, 35)
            dst.hp -= dmg
            ev: dict[str, Any] = {
                "t": "hit",
                "tick": tick,
                "src": players[src].id,
                "dst": dst.id,
                "dmg": dmg,
                "hp": max(dst.hp, 0),
            }
            if dst.hp <= 0:
                scores[src] += 1
                dst.hp = 100 if dst.id < 100 else rng.randint(40, 200)
                ev["kill"] = True
                ev["score"] = scores[src]
            for conn in conns:
                send(conn, ev)
    return out[:messages]
