"""``wsztune stacks``: the list, one stack, --json; the stacks that cannot compress refused by
``run`` and ``recommend`` with the fact, and ``run --server`` sweeping only a stack's knobs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from wsztune import results
from wsztune.cli import cli


def test_stacks_lists_servers_and_clients() -> None:
    result = CliRunner().invoke(cli, ["stacks"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name in ("aiohttp", "tomcat", "uvicorn", "uwebsockets", "dotnet", "beast", "firefox"):
        assert name in result.output
    assert "server stacks" in result.output and "clients" in result.output


def test_stacks_json_has_knobs_defaults_codec_status_sources() -> None:
    result = CliRunner().invoke(cli, ["stacks", "--json"])
    assert result.exit_code == 0
    document = json.loads(result.output)
    assert len(document["servers"]) >= 15 and len(document["clients"]) >= 4
    for server in document["servers"]:
        assert server["codec"] and server["status"] and server["sources"]
        assert server["default"]["setting"]
    ws = next(s for s in document["servers"] if s["name"] == "ws")
    assert ws["default"]["setting"] == "15:8" and ws["default"]["threshold"] == 1024


def test_one_stack_with_a_version() -> None:
    result = CliRunner().invoke(cli, ["stacks", "uvicorn@0.49", "--json"])
    assert result.exit_code == 0
    document = json.loads(result.output)
    assert document["version_default"] == "15:8" and document["settable"] == ["15:8"]
    text = CliRunner().invoke(cli, ["stacks", "tomcat"]).output
    assert "PerMessageDeflate.java" in text and "fixed:" in text


def test_unknown_stack_exits_2() -> None:
    result = CliRunner().invoke(cli, ["stacks", "nginx"])
    assert result.exit_code == 2 and "no such stack" in result.output


# run --server NAME: only the stack's knobs --------------------------------------------------------


def run_server(tmp_path: Path, corpus: Path, server: str, *extra: str) -> tuple[object, Path]:
    """``wsztune run --server SERVER --no-timing`` on ``corpus``; the result and its path."""
    out = tmp_path / f"{server.replace('@', '-')}.json"
    result = CliRunner().invoke(
        cli,
        ["run", str(corpus), "--server", server, "--no-timing", "-j", "1", "-o", str(out), *extra],
        env={"COLUMNS": "100"},
    )
    return result, out


@pytest.mark.parametrize(
    ("server", "window_bits", "mem_levels", "levels"),
    [
        ("aiohttp", [15], [8], [1]),
        ("tornado", [15], list(range(1, 10)), [6]),
        ("uvicorn", [12, 15], [5, 8], [-1]),  # auto's 12:5 and the websockets backend's 15:8
        ("tomcat", [15], [8], [-1]),
    ],
)
def test_run_server_sweeps_only_its_knobs(
    tmp_path: Path, chat_corpus_path: Path, server, window_bits, mem_levels, levels
) -> None:
    result, out = run_server(tmp_path, chat_corpus_path, server)
    assert result.exit_code == 0, result.output
    run = results.load(out)
    grid = run.meta["grid"]
    assert (grid["window_bits"], grid["mem_levels"], grid["levels"]) == (
        window_bits,
        mem_levels,
        levels,
    )
    assert run.meta["server"] == server and run.meta["stack"]["name"] == server
    # Compression off is always a row, and the stack's default is called its default.
    assert "no compression" in result.output and "default" in result.output
    assert "websockets default" not in result.output


def test_run_server_refuses_a_value_the_stack_fixes(tmp_path: Path, chat_corpus_path: Path) -> None:
    result, _ = run_server(tmp_path, chat_corpus_path, "aiohttp", "--mem-level", "5")
    assert result.exit_code == 2
    assert "aiohttp cannot set memLevel: it is fixed at 8" in result.output
    result, _ = run_server(tmp_path, chat_corpus_path, "tornado", "--mem-level", "3,5")
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def uvicorn_run(tmp_path_factory: pytest.TempPathFactory, chat_corpus_path: Path) -> Path:
    result, out = run_server(tmp_path_factory.mktemp("uvicorn"), chat_corpus_path, "uvicorn")
    assert result.exit_code == 0, result.output
    return out


def test_recommend_uvicorn_names_its_default_and_the_other_backend(uvicorn_run: Path) -> None:
    result = CliRunner().invoke(cli, ["recommend", "--results", str(uvicorn_run)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "uvicorn --ws auto's default is 12:5" in text
    assert "can only turn compression on or off (--ws-per-message-deflate)" in text
    match = re.search(
        r"Alternative: uvicorn --ws websockets runs 15:8: ([\d.]+) KiB per connection "
        r"\(\+[\d.]+ KiB\), ([\d,]+) B",
        text,
    )
    assert match is not None, text
    assert "Compression off (--ws-per-message-deflate): saves" in text
    assert "uvicorn app:app --ws websockets-sansio" in result.output


@pytest.mark.parametrize(
    ("server", "default"),
    [("uvicorn@0.49", "15:8"), ("uvicorn-websockets", "15:8"), ("uvicorn@0.55.0", "12:5")],
)
def test_recommend_uvicorn_default_by_version_and_backend(
    uvicorn_run: Path, server: str, default: str
) -> None:
    result = CliRunner().invoke(
        cli, ["recommend", "--results", str(uvicorn_run), "--server", server]
    )
    assert result.exit_code == 0, result.output
    assert f"'s default is {default}" in " ".join(result.output.split())


def test_recommend_tomcat_is_on_or_off_with_memory_bandwidth_and_fleet_cost(
    tmp_path: Path, chat_corpus_path: Path
) -> None:
    _, out = run_server(tmp_path, chat_corpus_path, "tomcat")
    result = CliRunner().invoke(
        cli,
        [
            "recommend",
            "--results",
            str(out),
            "--connections",
            "5000",
            "--messages-per-second",
            "1000",
        ],
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Apache Tomcat can only turn compression on or off" in text
    assert re.search(
        r"Compression off \(ServerEndpointConfig.Configurator[^)]*\): saves [\d.]+ KiB "
        r"per connection and sends \+[\d,]+ B",
        text,
    )
    assert "5,000 connections" in text and "getNegotiatedExtensions" in result.output
    # Compression off fits any budget: the decision for a tight one is off, not a failure.
    tight = CliRunner().invoke(cli, ["recommend", "--results", str(out), "--max-memory", "1KiB"])
    assert tight.exit_code == 0 and "Recommended: off" in tight.output


def test_table_and_compare_name_the_codec_and_the_stack(uvicorn_run: Path) -> None:
    result = CliRunner().invoke(
        cli, ["table", "--results", str(uvicorn_run), "--metric", "size"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "measured with CPython's zlib for uvicorn --ws auto (default 12:5)" in text
    result = CliRunner().invoke(
        cli,
        ["compare", str(uvicorn_run), str(uvicorn_run), "--metric", "size"],
        env={"COLUMNS": "300"},
    )
    assert result.exit_code == 0 and "for uvicorn --ws auto" in " ".join(result.output.split())


def test_run_server_ws_never_calls_12_5_the_default_and_its_hint_works(
    tmp_path: Path, chat_corpus_path: Path
) -> None:
    result, out = run_server(
        tmp_path, chat_corpus_path, "ws", "--window-bits", "10,12,15", "--mem-level", "1,5,8"
    )
    assert result.exit_code == 0, result.output
    assert "websockets default" not in result.output
    assert re.search(r"default\s+15:8", result.output), result.output
    hint = re.search(r"recommend --max-memory (\d+KiB)", result.output)
    assert hint is not None, result.output
    followed = CliRunner().invoke(
        cli, ["recommend", "--results", str(out), "--max-memory", hint[1]]
    )
    assert followed.exit_code == 0, followed.output
    text = " ".join(followed.output.split())
    assert "Node ws's default is 15:8, threshold 1024 B" in text
    assert "12:5, websockets' default" not in text and "(websockets' default)" not in text


def test_stacks_markdown_is_a_table_of_every_stack() -> None:
    result = CliRunner().invoke(cli, ["stacks", "--markdown"])
    assert result.exit_code == 0
    rows = [line for line in result.output.splitlines() if line.startswith("| `")]
    assert len(rows) >= 20
    daphne = next(row for row in rows if row.startswith("| `daphne` |"))
    assert "| never compresses (no option) | nothing |" in daphne


def test_charts_of_a_stack_show_only_cells_it_or_its_alternatives_can_run(
    uvicorn_run: Path,
) -> None:
    from wsztune.grid import relevant_cells, select_slice, settable_cells

    slice_ = select_slice(results.load(uvicorn_run))
    assert set(slice_.cells) == {(12, 5), (12, 8), (15, 5), (15, 8)}
    assert set(settable_cells(slice_)) == {(12, 5)}
    assert set(relevant_cells(slice_)) == {(12, 5), (15, 8)}
    assert slice_.off is not None and slice_.off["connection_memory"] == 0
    assert slice_.off["compressed_bytes"] == slice_.off["raw_bytes"]
    assert slice_.off["wire_compressed_bytes"] == slice_.off["wire_raw_bytes"]


def test_the_line_naming_the_run_read_names_its_stack(uvicorn_run: Path) -> None:
    result = CliRunner().invoke(cli, ["recommend", "--results", str(uvicorn_run)])
    assert "stack uvicorn," in " ".join(result.output.split())
    assert "{'name'" not in result.output


def test_uvicorn_before_035_is_never_told_to_use_websockets_sansio(tmp_path: Path) -> None:
    """Issue 26: version facts per version. uvicorn 0.30 has no websockets-sansio backend
    (it came in 0.35.0), so no row, alternative or snippet may name it."""
    from wsztune.stacks import STACKS
    from wsztune.stacks.uvicorn import uvicorn_snippet

    corpus = Path(__file__).resolve().parents[2] / "corpora" / "chat.records.jsonl"
    out = tmp_path / "u.json"
    result = CliRunner().invoke(cli, ["run", str(corpus), "--server", "uvicorn@0.30",
                                      "--no-timing", "-q", "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    advice = CliRunner().invoke(cli, ["recommend", "--results", str(out), "--max-memory", "64KiB"])
    assert advice.exit_code == 0, advice.output
    assert "--ws websockets-sansio" not in advice.stdout
    assert "no websockets-sansio backend (it came in 0.35.0)" in " ".join(advice.stdout.split())
    assert "uvicorn-sansio" not in STACKS["uvicorn"].alternatives_for("0.30")
    assert "uvicorn-sansio" in STACKS["uvicorn"].alternatives_for("0.35.0")

    class Old:
        server_version = "0.34.3"

    from wsztune.stacks.profile import SnippetContext

    cell = {"window_bits": 12, "mem_level": 5, "level": -1}
    assert "has no websockets-sansio backend" in uvicorn_snippet(cell, SnippetContext(Old()))
    assert "--ws websockets-sansio" in uvicorn_snippet(cell, SnippetContext(None))


# Stacks with few knobs, and stacks that cannot compress -------------------------------------------

STATUS_OF = {
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


def test_stacks_json_gives_each_stack_its_status() -> None:
    result = CliRunner().invoke(cli, ["stacks", "--json"])
    assert result.exit_code == 0
    servers = {item["name"]: item for item in json.loads(result.output)["servers"]}
    for name, status in STATUS_OF.items():
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
