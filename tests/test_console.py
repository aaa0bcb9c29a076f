"""Terminal output helpers: names from a corpus or a results file printed as inert text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from wsztune.cli import cli
from wsztune.console import terminal_text


def test_terminal_text_shows_controls_and_bidi_as_escapes() -> None:
    assert terminal_text("a\x1b[2Jb\nc\u202ed\x07\x9b\x7f") == r"a\x1b[2Jb\nc\u202ed\x07\x9b\x7f"
    # Printable text, including non-ASCII and brackets, is left as it is.
    assert terminal_text("café 😀 [/] | <x>") == "café 😀 [/] | <x>"


@pytest.mark.parametrize(
    "name",
    [
        "[/]",  # rich markup: raised MarkupError (a traceback, exit 1) before issue 29's pass
        "[link=http://evil.example]click[/link]",  # was rendered as a terminal hyperlink
        "\x1b[2J\x1b[31mPWNED\x07",  # cleared the screen
        "x\nwsztune: check passed\n::error::forged",  # forged log lines (and CI commands)
    ],
)
def test_a_hostile_corpus_name_is_printed_as_text(
    tmp_path: Path, small_run_path: Path, name: str
) -> None:
    document = json.loads(small_run_path.read_text())
    document["meta"]["corpus"]["name"] = document["meta"]["corpus"]["path"] = name
    run_file = tmp_path / "run.json"
    run_file.write_text(json.dumps(document))
    reading = (
        ["table", "--results", run_file],
        ["recommend", "--results", run_file],
        ["compare", run_file, run_file],
    )
    for args in reading:
        result = CliRunner().invoke(cli, [str(arg) for arg in args])
        assert result.exit_code == 0, (args, result.output)
        assert terminal_text(name) in result.stderr  # the "wsztune: read ..." line
        for text in (result.stdout, result.stderr):
            assert "\x1b" not in text and "\x07" not in text
            assert not any(line.startswith(("wsztune: check", "::")) for line in text.splitlines())
