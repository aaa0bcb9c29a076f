"""Small real corpora, and the grid and timing plan of small real runs, shared by every test
folder (``tests/conftest.py`` builds its session fixtures from them)."""

from __future__ import annotations

import json
import random
from pathlib import Path

from wsztune import sweep


def chat_messages(count: int = 300, seed: int = 1) -> list[bytes]:
    """Short chat-like JSON messages (40-200 bytes), compact, deterministic."""
    rng = random.Random(seed)
    users = ["ana", "bo", "chen", "dmitri", "eve", "farah", "gus"]
    words = [
        "hello",
        "ship",
        "it",
        "looks",
        "good",
        "merge",
        "later",
        "lunch",
        "deploy",
        "rollback",
        "why",
        "not",
        "sure",
        "thanks",
    ]
    out = []
    for index in range(count):
        kind = rng.choice(["message", "message", "message", "typing", "presence"])
        doc: dict[str, object] = {"type": kind, "seq": index, "user": rng.choice(users)}
        if kind == "message":
            doc["channel"] = rng.choice(["general", "random", "ops"])
            doc["text"] = " ".join(rng.choice(words) for _ in range(rng.randint(2, 14)))
        elif kind == "presence":
            doc["status"] = rng.choice(["online", "away", "offline"])
        out.append(json.dumps(doc, separators=(",", ":")).encode())
    return out


def document_messages(count: int = 60, seed: int = 2) -> list[bytes]:
    """Nested JSON documents of roughly 1-5 KB, like an API subscription stream."""
    rng = random.Random(seed)
    out = []
    for index in range(count):
        items = [
            {
                "id": f"item-{rng.randrange(10**6):06d}",
                "price": round(rng.uniform(1, 500), 2),
                "tags": rng.sample(["red", "blue", "sale", "new", "eco", "bulk"], 3),
                "url": f"https://api.example.test/items/{rng.randrange(10**6)}",
            }
            for _ in range(rng.randint(8, 40))
        ]
        doc = {"id": index, "kind": "order", "customer": {"name": "x" * 12}, "items": items}
        out.append(json.dumps(doc, separators=(",", ":")).encode())
    return out


def write_jsonl(path: Path, payloads: list[bytes]) -> Path:
    """Write payloads one per line."""
    path.write_bytes(b"".join(payload + b"\n" for payload in payloads))
    return path


SMALL_GRID = sweep.SweepPlan(window_bits=(9, 10, 11, 12, 13), mem_levels=(1, 3, 5, 8))
FAST_PLAN = sweep.TimingPlan(repeat=3, warmup=1, min_sample_seconds=0.0)
