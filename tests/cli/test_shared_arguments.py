"""What several commands share is said once and reads the same from each of them.

- ``--tolerance`` and ``--cliff`` (``cli.common.fraction_arg``): a bad value is one usage line
  naming the option, exit 2, from recommend and report alike.
- A client's window (``wsztune stacks``): the terminal table and ``--markdown`` say it in the
  same words.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from wsztune.cli import cli

EXAMPLE = str(Path(__file__).resolve().parents[2] / "results" / "example-demo.json")


@pytest.mark.parametrize(
    ("command", "option", "value", "said"),
    [
        (command, *case)
        for case in (
            ("--tolerance", "fast", "--tolerance takes a percentage or a fraction (1% or 0.01)"),
            ("--tolerance", "5", "--tolerance 5: write a percentage with % (e.g. 5%)"),
            ("--tolerance", "-1%", "--tolerance must not be negative"),
            ("--cliff", "steep", "--cliff takes a percentage or a fraction"),
        )
        for command in ("recommend", "report")
        if not (command == "report" and case[0] == "--cliff")  # report has no --cliff
    ],
)
def test_a_bad_fraction_is_one_usage_line(
    tmp_path: Path, command: str, option: str, value: str, said: str
) -> None:
    extra = ["-o", str(tmp_path / "page.html")] if command == "report" else []
    result = CliRunner().invoke(cli, [command, "--results", EXAMPLE, option, value, *extra])
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("wsztune: error: ") and said in line, line
    assert f"{command} --help')" in line
    assert result.stdout == ""


def test_a_clients_window_reads_the_same_in_both_stack_lists() -> None:
    table = CliRunner().invoke(cli, ["stacks"])
    markdown = CliRunner().invoke(cli, ["stacks", "--markdown"])
    assert table.exit_code == markdown.exit_code == 0
    for output in (table.stdout, markdown.stdout):
        assert output.count("15, cannot be capped") == 2  # Firefox, Safari
        assert "15: cannot be capped" not in output
    assert "the server's cap (at least 9)" in markdown.stdout  # Chrome (the table folds it)


@pytest.mark.parametrize(
    "command",
    [
        ["table", "--results", EXAMPLE],
        ["plot", "--results", EXAMPLE],
        ["recommend", "--results", EXAMPLE],
        ["report", "--results", EXAMPLE],
        ["compare", EXAMPLE, EXAMPLE],
    ],
    ids=lambda command: command[0],
)
def test_every_reading_command_takes_the_slice_options_alike(
    tmp_path: Path, command: list[str]
) -> None:
    # --level, --strategy, --context-takeover, --threshold and --server reach every command as
    # one Slicing, read by one select: the same slice, the same words when the run lacks it.
    extra = ["-o", str(tmp_path / "out")] if command[0] in ("plot", "report") else []
    asked = ["--level", "5", "--strategy", "default", "--context-takeover", "off"]
    result = CliRunner().invoke(cli, [*command, *asked, *extra])
    assert result.exit_code == 2, result.output
    [error] = [line for line in result.stderr.splitlines() if "error" in line]
    assert error == (
        "wsztune: error: the run has no cells with level 5, strategy default, context takeover "
        "off; it has: level -1, strategy default, context takeover on"
    )
