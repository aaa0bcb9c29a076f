"""The keys of every machine-readable output, snapshotted: a refactor must not change them.

Each command that writes JSON (the results file of ``run``, ``--json`` of ``corpus stats``,
``recommend``, ``stacks``, ``live`` and ``probe``) is run for real on a small corpus, and the
*shape* of its output (keys, nested, with lists merged over their elements; values left out, as they
are measurements) is compared with ``tests/support/data/json_shapes.json``. A change that adds or
renames a key is a change of the results contract: regenerate the snapshot on purpose with
``WSZTUNE_UPDATE_SNAPSHOTS=1 pytest tests/cli/test_json_snapshots.py`` and say why in the commit.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import wsztune
from tests.support import SUPPORT
from tests.support.probe_servers import Loop, websockets_server
from tests.support.samples import chat_messages, write_jsonl
from wsztune.cli import cli

SNAPSHOT = SUPPORT / "data" / "json_shapes.json"
DEMO = Path(wsztune.__file__).parent / "data" / "demo.records.jsonl"


def shape(value: Any) -> Any:
    """The keys of ``value``, nested; every list is the union of its elements' shapes."""
    if isinstance(value, dict):
        return {str(key): shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        merged: Any = None
        for item in value:
            merged = merge(merged, shape(item))
        return [merged] if merged is not None else []
    return "*"


def merge(left: Any, right: Any) -> Any:
    """The union of two shapes (a key present in either element is in the list's shape)."""
    if left is None or left == "*":
        return right if right is not None else left
    if right == "*":
        return left
    if isinstance(left, dict) and isinstance(right, dict):
        keys = sorted(set(left) | set(right))
        return {key: merge(left.get(key), right.get(key)) for key in keys}
    if isinstance(left, list) and isinstance(right, list):
        inner = merge(left[0] if left else None, right[0] if right else None)
        return [inner] if inner is not None else []
    return left


def invoke(*args: str) -> Any:
    """Run ``wsztune ARGS`` and parse its stdout as JSON (exit codes 0 and 1 are verdicts)."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every command's JSON output on one small corpus."""
    folder = tmp_path_factory.mktemp("snapshots")
    corpus = write_jsonl(folder / "chat.jsonl", chat_messages(120))
    zlib_run = folder / "zlib.json"
    fast = ["--window-bits", "9,15", "--mem-level", "1,8", "--no-timing"]
    invoke_run = CliRunner().invoke(cli, ["run", str(corpus), *fast, "-o", str(zlib_run)])
    assert invoke_run.exit_code == 0, invoke_run.output
    got: dict[str, Any] = {
        "run": json.loads(zlib_run.read_text()),
        "corpus stats --json": invoke("corpus", "stats", str(corpus), "--json"),
        "corpus stats --json (records)": invoke("corpus", "stats", str(DEMO), "--json"),
        "recommend --json": invoke("recommend", "--results", str(zlib_run), "--json"),
        "recommend --json --check": invoke(
            "recommend", "--results", str(zlib_run), "--json", "--check", "15:8"
        ),
        "recommend --json --baseline": invoke(
            "recommend",
            *("--results", str(zlib_run), "--json", "--check", "15:8"),
            *("--baseline", str(zlib_run)),
        ),
        "stacks --json": invoke("stacks", "--json"),
        "stacks --json uvicorn": invoke("stacks", "uvicorn", "--json"),
        "live --json": invoke("live", str(corpus), "--setting", "12:5", "-n", "2", "--json"),
    }
    go_run = folder / "gorilla.json"
    go_args = ["run", str(corpus), "--server", "gorilla", "--no-timing", "-o", str(go_run)]
    invoke_go = CliRunner().invoke(cli, go_args)
    assert invoke_go.exit_code == 0, invoke_go.output
    got["run --server gorilla"] = json.loads(go_run.read_text())
    got["recommend --json (gorilla)"] = invoke("recommend", "--results", str(go_run), "--json")
    loop = Loop()
    try:
        port = loop.start(lambda: websockets_server(default=True))
        got["probe --json"] = invoke(
            "probe", f"ws://127.0.0.1:{port}/", "--client", "chrome", "--json"
        )
    finally:
        loop.close()
    return got


def test_json_keys_are_unchanged(outputs: dict[str, Any]) -> None:
    """The keys of every command's JSON equal the snapshot (regenerate on purpose only)."""
    shapes = {name: shape(value) for name, value in outputs.items()}
    if os.environ.get("WSZTUNE_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(shapes, indent=1, sort_keys=True) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    for name in sorted(set(expected) | set(shapes)):
        assert shapes.get(name) == expected.get(name), f"the keys of `{name}` changed"


def test_shape_merges_lists_and_drops_values() -> None:
    """Two list elements with different optional keys give one shape with both."""
    assert shape({"b": [{"x": 1}, {"y": None}], "a": 3}) == {"a": "*", "b": [{"x": "*", "y": "*"}]}
    assert shape([]) == []
