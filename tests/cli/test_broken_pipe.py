"""A reader that stops reading (``wsztune table | head -1``) ends a command quietly, exit 141.

Each command that prints much is run with stdout on a pipe whose reading end is already closed
(what ``head -1`` leaves once it has its line, without the race of when it closes): no
traceback, no "Broken pipe" and exit code 141 (128 + SIGPIPE), as a shell reports for cat or
git. click's CliRunner writes into memory and never sees a broken pipe, so these tests give the
command line a real pipe in this process; one runs the installed entry point in a process of its
own, where Python's flush at exit would complain if the output were left broken.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from wsztune.cli import cli
from wsztune.cli.common import OUTPUT_CLOSED_EXIT

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = str(REPO / "results" / "example-demo.json")
HAR = str(REPO / "corpora" / "chat.har")


def run_into_closed_pipe(args: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[object, str]:
    """Run ``wsztune args`` with stdout on a pipe nobody reads any more: its exit code and
    what it wrote on stderr. (Set inside the test: pytest's capture takes sys.stdout back
    between the fixtures and the test's call.)"""
    reading, writing = os.pipe()
    os.close(reading)
    stream = open(writing, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    errors = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stream)
    monkeypatch.setattr(sys, "stderr", errors)
    try:
        with pytest.raises(SystemExit) as ended:
            cli.main(args)
    finally:
        monkeypatch.undo()
        with contextlib.suppress(BrokenPipeError):  # a buffer a failing command left behind
            stream.close()
    return ended.value.code, errors.getvalue()


@pytest.mark.parametrize(
    "args",
    [
        ["table", "--results", EXAMPLE],
        ["table", "--results", EXAMPLE, "--markdown"],
        ["compare", EXAMPLE, EXAMPLE],
        ["corpus", "stats", HAR],
        ["corpus", "stats", HAR, "--json"],
        ["recommend", "--results", EXAMPLE],
        ["recommend", "--results", EXAMPLE, "--json"],
        ["stacks"],
        # Printed while click parses the arguments, before any command runs.
        ["--help"],
        ["--version"],
        ["table", "--help"],
    ],
    ids=" ".join,
)
def test_a_closed_output_ends_the_command_quietly(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, errors = run_into_closed_pipe(args, monkeypatch)
    assert code == OUTPUT_CLOSED_EXIT, errors
    assert "Traceback" not in errors and "Broken pipe" not in errors, errors
    assert "error" not in errors, errors


def test_a_broken_pipe_that_is_not_the_output_is_not_taken_for_a_reader_gone(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A helper process's pipe breaking is a failure, not `| head`: never the quiet 141, nor
    # click's silent exit 1 (which reads as a failed check), but one line and exit code 2.
    def helper_died() -> None:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setitem(cli.commands, "helper", click.Command("helper", callback=helper_died))
    with pytest.raises(SystemExit) as ended:
        cli.main(["helper"])
    assert ended.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("wsztune: error: a helper process ")
    assert "run the command again" in error


def test_the_entry_point_exits_141_without_a_word_at_interpreter_exit() -> None:
    reading, writing = os.pipe()
    os.close(reading)
    command = [sys.executable, "-c", "from wsztune.cli import main; main()"]
    done = subprocess.run(
        [*command, "table", "--results", EXAMPLE],
        stdout=writing,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        check=False,
    )
    os.close(writing)
    assert done.returncode == OUTPUT_CLOSED_EXIT, done.stderr
    # The one line naming the run read, and nothing else: no "Exception ignored", no traceback.
    assert [line.split(" ")[1] for line in done.stderr.splitlines()] == ["read"], done.stderr
