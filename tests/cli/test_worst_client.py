"""``recommend`` on a client mix names the worst client, and every one of them on a tie.

Firefox and Safari both make the server inflate with 15 bits whatever it asks: in a mix with
both, they need the same memory per connection, and naming the first alone would clear the
other (a fleet of Safari connections is as far over the budget as one of Firefox).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from wsztune.cli import cli


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, chat_corpus_path: Path) -> dict[str, Path]:
    """A small zlib run (12:5 and 12:8, sizes only) for each client mix the tests read."""
    directory = tmp_path_factory.mktemp("worst-client")
    made = {}
    for mix in ("chrome=0.5,firefox=0.5", "chrome=0.5,firefox=0.25,safari=0.25",
                "firefox=0.5,safari=0.5"):  # fmt: skip
        out = directory / f"{len(made)}.json"
        result = CliRunner().invoke(
            cli, ["run", str(chat_corpus_path), "--window-bits", "12", "--mem-level", "5,8",
                  "--no-timing", "--quiet", "--client", mix, "-o", str(out)],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        made[mix] = out
    return made


@pytest.mark.parametrize(
    ("mix", "options", "said"),
    [
        ("chrome=0.5,firefox=0.5", [], "The worst client, firefox, needs "),
        ("chrome=0.5,firefox=0.25,safari=0.25", [],
         "The worst clients, firefox and safari (a tie), each need "),
        ("firefox=0.5,safari=0.5", [], "The worst clients, firefox and safari (a tie), each need "),
        # Over the budget the mix's mean fits: the warning names the fleet of each of them.
        ("chrome=0.5,firefox=0.5", ["--memory", "allocation", "--max-memory", "70KiB"],
         "fits: a fleet of firefox connections would not fit"),
        ("chrome=0.5,firefox=0.25,safari=0.25", ["--memory", "allocation", "--max-memory",
                                                 "70KiB"],
         "the worst clients, firefox and safari (a tie), each need 77.2 KiB per connection, over "
         "the 70.0 KiB budget the mix's mean (63.2 KiB) fits: a fleet of firefox or safari "
         "connections would not fit"),
    ],
)  # fmt: skip
def test_the_worst_client_and_every_client_tied_with_it(
    runs: dict[str, Path], mix: str, options: list[str], said: str
) -> None:
    result = CliRunner().invoke(cli, ["recommend", "--results", str(runs[mix]), *options])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert said in text, text
    if "safari" not in mix:
        assert "(a tie)" not in text
