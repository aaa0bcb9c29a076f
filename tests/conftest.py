"""Shared fixtures: small real corpora and small real runs, made fresh for the test session."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from wsztune import corpus, results, sweep


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


SMALL_GRID = sweep.Grid(window_bits=(9, 10, 11, 12, 13), mem_levels=(1, 3, 5, 8))
FAST_PLAN = sweep.TimingPlan(repeat=3, warmup=1, min_sample_seconds=0.0)


@pytest.fixture(scope="session")
def chat_corpus_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300-message chat JSONL corpus on disk."""
    return write_jsonl(tmp_path_factory.mktemp("corpora") / "chat.jsonl", chat_messages())


@pytest.fixture(scope="session")
def small_run_path(tmp_path_factory: pytest.TempPathFactory, chat_corpus_path: Path) -> Path:
    """A real (small-grid, fast-timing) run of the chat corpus, saved as a results file."""
    loaded = corpus.load(chat_corpus_path)
    run = sweep.sweep(loaded, SMALL_GRID, plan=FAST_PLAN)
    return results.save(run, tmp_path_factory.mktemp("results") / "chat-run.json")


@pytest.fixture(scope="session")
def ws_dir() -> Path:
    """The real ``ws`` npm package, installed once into a cache reused across test runs.

    Skips only when node or npm is missing; an install that fails on a machine that has them
    is a failure, not a skip.
    """
    import shutil

    from wsztune.programs import npm as install

    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to install the ws package")
    return install.ensure_ws(Path.home() / ".cache" / "wsztune-test")
