"""``wsztune stacks``: the list, one stack, --json."""

from __future__ import annotations

import json

from click.testing import CliRunner

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
