"""Shared fixtures: small real corpora and small real runs, made fresh for the test session
(from :mod:`tests.support.samples`, which tests import directly)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.samples import FAST_PLAN, SMALL_GRID, chat_messages, write_jsonl
from wsztune import corpus, results, sweep


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
