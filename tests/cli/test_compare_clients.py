"""Two runs made for different clients (``run --client``) are not compared: one line, exit 2.

Their cells measured other frames (each client's own compressor) and other memory (the server's
inflater for each client's window), so every difference would read as a change of traffic or
library. ``compare``, ``report OLD NEW`` and ``recommend --baseline`` refuse them alike; one
mix written in another order is the same mix.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from wsztune.cli import cli

MIXES = {
    "none": [],
    "chrome": ["--client", "chrome"],
    "firefox": ["--client", "firefox"],
    "mix": ["--client", "chrome=0.7,firefox=0.3"],
    "mix-reordered": ["--client", "firefox=0.3,chrome=0.7"],
    "mix-other-shares": ["--client", "chrome=0.5,firefox=0.5"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, chat_corpus_path: Path) -> dict[str, Path]:
    """One small zlib run (12:5, sizes only) per client mix."""
    directory = tmp_path_factory.mktemp("compare-clients")
    made = {}
    for name, options in MIXES.items():
        out = directory / f"{name}.json"
        result = CliRunner().invoke(
            cli, ["run", str(chat_corpus_path), "--window-bits", "12", "--mem-level", "5",
                  "--no-timing", "--quiet", *options, "-o", str(out)],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        made[name] = out
    return made


def _commands(old: Path, new: Path, page: Path) -> dict[str, list[str]]:
    return {
        "compare": ["compare", str(old), str(new)],
        "report": ["report", str(old), str(new), "-o", str(page)],
        "recommend": ["recommend", "--results", str(new), "--check", "12:5", "--baseline",
                      str(old)],
    }  # fmt: skip


@pytest.mark.parametrize("command", ["compare", "report", "recommend"])
@pytest.mark.parametrize(
    ("old", "new", "refused"),
    [
        ("none", "none", False),
        ("chrome", "chrome", False),
        ("mix", "mix-reordered", False),
        ("chrome", "none", True),
        ("none", "firefox", True),
        ("chrome", "firefox", True),
        ("mix", "mix-other-shares", True),
    ],
)
def test_runs_for_other_clients_are_refused(
    runs: dict[str, Path], tmp_path: Path, command: str, old: str, new: str, refused: bool
) -> None:
    args = _commands(runs[old], runs[new], tmp_path / "page.html")[command]
    result = CliRunner().invoke(cli, args)
    if not refused:
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "Traceback" not in result.output, result.stderr
    for name in (old, new):
        said = f"--client {MIXES[name][1]}" if MIXES[name] else "no --client"
        assert said in errors[0], errors[0]
    assert "--client" in errors[0].rsplit(";", 1)[1]  # what to do: the same --client
    assert result.stdout == ""  # no table, no page path
    assert not (tmp_path / "page.html").exists()
