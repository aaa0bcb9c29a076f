"""Issue 27's stacks through the CLI: listed with their status, the ones that cannot compress
refused with the fact, and ``run --server`` sweeping only libwebsockets' and NATS's knobs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from wsztune import results
from wsztune.cli import cli

NEW_STACKS = {
    "libwebsockets": "verified",
    "nats": "verified",
    "ktor": "same codec",
    "vertx": "same codec",
    "quarkus": "same codec",
    "undertow": "same codec",
    "bandit": "same codec",
    "swoole": "same codec",
    "permessage-deflate-ruby": "same codec",
    "cloudflare-workers": "approximate",
}
CANNOT = ("deno", "fastwebsockets", "signalr", "actix-web", "axum", "tungstenite", "ratchet")


def test_stacks_json_lists_every_new_stack_with_its_status() -> None:
    result = CliRunner().invoke(cli, ["stacks", "--json"])
    assert result.exit_code == 0
    servers = {item["name"]: item for item in json.loads(result.output)["servers"]}
    for name, status in NEW_STACKS.items():
        assert servers[name]["status"] == status, name
        assert servers[name]["sources"] and servers[name]["knobs"], name
    for name in CANNOT:
        assert servers[name]["status"] == "cannot compress", name
        assert servers[name]["instead"] and servers[name]["sources"], name
        assert servers[name]["default"]["description"] == "no permessage-deflate: cannot compress"
    # Vert.x is its own stack now, on Netty's codec; Bandit ignores window_bits.
    assert "netty" in servers["vertx"]["alternatives"]
    assert "window_bits" in servers["bandit"]["fixed"]
    assert {k["axis"] for k in servers["bandit"]["knobs"]} >= {"level", "mem_level", "strategy"}


@pytest.mark.parametrize("name", CANNOT)
def test_a_stack_that_cannot_compress_is_refused_with_the_fact(
    tmp_path: Path, chat_corpus_path: Path, name: str
) -> None:
    result = CliRunner().invoke(
        cli, ["run", str(chat_corpus_path), "--server", name, "-o", str(tmp_path / "r.json")]
    )
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "cannot compress: it has no permessage-deflate (source: " in text
    assert "Instead: compress in the application" in text
    assert "Traceback" not in result.output and not (tmp_path / "r.json").exists()
    # Described, not refused, when asked about.
    described = CliRunner().invoke(cli, ["stacks", name])
    assert described.exit_code == 0 and "instead:" in described.output


def test_recommend_refuses_deno_too(small_run_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["recommend", "--results", str(small_run_path), "--server", "deno"]
    )
    assert result.exit_code == 2 and "Deno" in result.output and "cannot compress" in result.output


def test_run_server_libwebsockets_sweeps_only_its_knobs(
    tmp_path: Path, chat_corpus_path: Path
) -> None:
    out = tmp_path / "lws.json"
    result = CliRunner().invoke(
        cli,
        ["run", str(chat_corpus_path), "--server", "lws", "--no-timing", "-j", "1", "-o",
         str(out), "--mem-level", "4,8"],
    )
    assert result.exit_code == 0, result.output
    grid = results.load(out).meta["grid"]
    assert grid["window_bits"] == list(range(9, 16)) and grid["mem_levels"] == [4, 8]
    assert grid["levels"] == [1] and grid["context_takeover"] == [True]
    assert results.load(out).meta["stack"]["status"] == "verified"
    strategy = CliRunner().invoke(
        cli, ["run", str(chat_corpus_path), "--server", "lws", "--strategy", "filtered"]
    )
    assert strategy.exit_code == 2 and "libwebsockets cannot set strategy" in strategy.output
    advice = CliRunner().invoke(cli, ["recommend", "--results", str(out)])
    assert advice.exit_code == 0, advice.output
    assert "libwebsockets cannot set the client's window" in " ".join(advice.output.split())
    assert 'lws_set_extension_option(wsi, "permessage-deflate", "mem_level"' in advice.output


@pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed (the go-nats codec)")
def test_run_server_nats_sweeps_its_one_cell_and_recommend_says_what_it_cannot_do(
    tmp_path: Path, chat_corpus_path: Path
) -> None:
    out = tmp_path / "nats.json"
    result = CliRunner().invoke(
        cli, ["run", str(chat_corpus_path), "--server", "nats", "--no-timing", "-j", "1", "-o",
              str(out)],
    )
    assert result.exit_code == 0, result.output
    run = results.load(out)
    assert run.meta["codec"] == "go-nats"
    assert [(c["level"], c["threshold"], c["context_takeover"]) for c in run.cells] == [
        (1, 65, False)
    ]
    level = CliRunner().invoke(
        cli, ["run", str(chat_corpus_path), "--server", "nats", "--level", "5"]
    )
    assert level.exit_code == 2 and "nats-server has no level" in level.output
    advice = CliRunner().invoke(cli, ["recommend", "--results", str(out)])
    assert advice.exit_code == 0, advice.output
    text = " ".join(advice.output.split())
    assert "NATS server (WebSocket) can only turn compression on or off" in text
    assert "context takeover" in text and "compression: true" in advice.output
