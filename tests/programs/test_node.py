"""wsztune.programs.node and .npm: finding node, its versions, installing ws into a cache."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from wsztune.errors import EXIT_USAGE, NodeUnavailable
from wsztune.programs import node as node_program
from wsztune.programs import npm as install

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
needs_npm = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None, reason="node/npm not installed"
)


def test_missing_node_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(node_program.NODE_ENV, raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(NodeUnavailable) as caught:
        node_program.find_node()
    assert caught.value.exit_code == EXIT_USAGE
    assert "node is not installed" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_npm_fails_the_install_cleanly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    node = shutil.which("node") or "/bin/true"
    monkeypatch.setenv(node_program.NODE_ENV, node)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(NodeUnavailable, match="npm is not installed"):
        install.ensure_ws(tmp_path / "cache")
    assert not install.ws_package_dir(tmp_path / "cache").exists()


def test_missing_npm_fails_the_bun_install_cleanly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(NodeUnavailable, match="npm is not installed") as caught:
        install.ensure_bun(tmp_path / "cache")
    assert "\n" not in str(caught.value)
    assert not install.bun_binary_path(tmp_path / "cache").exists()


@needs_node
def test_node_versions_name_node_and_its_zlib() -> None:
    versions = node_program.node_versions()
    assert versions["node"].split(".")[0].isdigit()
    assert versions["zlib"]


@needs_npm
def test_ensure_ws_installs_once_and_concurrently(ws_dir: Path) -> None:
    # ws_dir (conftest) already installed it into the shared test cache; concurrent calls on the
    # same cache all get the same complete package back.
    cache = ws_dir.parents[2]
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda _: install.ensure_ws(cache), range(4)))
    assert set(found) == {ws_dir}
    assert (ws_dir / "lib" / "permessage-deflate.js").is_file()


def test_node_versions_are_asked_once_then_read_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Start-up paid once: the second process (here: the cache in memory cleared) reads the
    versions of the same node binary from the cache instead of starting node."""
    monkeypatch.setenv("WSZTUNE_CACHE", str(tmp_path))
    node_program._versions.cache_clear()
    first = node_program.node_versions()
    assert (tmp_path / "node-versions.json").is_file()
    node_program._versions.cache_clear()
    monkeypatch.setattr(node_program, "_ask_versions", lambda node: pytest.fail("node asked again"))
    assert node_program.node_versions() == first
    node_program._versions.cache_clear()


def test_run_verbose_says_where_the_time_went(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from wsztune.cli import cli

    corpus_path = Path(__file__).resolve().parents[2] / "corpora" / "chat.records.jsonl"
    outcome = CliRunner().invoke(
        cli,
        ["run", str(corpus_path), "--server", "ws", "--window-bits", "12", "--mem-level", "5"]
        + ["--no-timing", "--quiet", "--verbose", "-o", str(tmp_path / "run.json")],
    )
    assert outcome.exit_code == 0, outcome.output
    assert "wsztune: time: loading" in outcome.stderr
    assert "memory probes" in outcome.stderr and "sizes" in outcome.stderr
