"""``wsztune compare`` on Go runs: setting by setting on the runs' own axes (level, takeover,
threshold), where it showed a one-cell windowBits x memLevel grid of the first level; runs of
other axes (gorilla against coder, a Go run against a zlib run) refused with one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.codecs.test_go import go_cache, gorilla_run, pytestmark, small_chat  # noqa: F401
from wsztune.cli import cli


def _compare(old: Path, new: Path, *options: str) -> tuple[int, list[list[str]], str, str]:
    """Exit code, the markdown table's rows (setting, then one change per metric), the line
    under it, and stderr."""
    result = CliRunner().invoke(cli, ["compare", str(old), str(new), "--markdown", *options])
    lines = result.stdout.splitlines()
    rows = [
        [part.strip() for part in line.strip("|").split("|")]
        for line in lines[4:]
        if line.startswith("| ")
    ]
    notes = next((line for line in lines if line.startswith("_")), "")
    return result.exit_code, rows, notes, result.stderr


def _edited(run: Path, target: Path, level: int | None, factor: float) -> Path:
    """A copy of ``run`` whose ``level`` cell compresses to ``factor`` of its size (every unit),
    or without that level at all when ``factor`` is 0."""
    document = json.loads(run.read_text())
    if factor == 0:
        document["cells"] = [c for c in document["cells"] if c["level"] != level]
        document["meta"]["grid"]["levels"].remove(level)
        for count in ("cells", "cells_planned"):
            document["meta"][count] -= 1
    for cell in document["cells"]:
        if cell["level"] == level and factor:
            units = [round(size * factor) for size in cell["unit_compressed_bytes"]]
            cell["unit_compressed_bytes"], cell["compressed_bytes"] = units, sum(units)
            client = cell["compressed_bytes"] - cell["server_compressed_bytes"]
            cell["client_compressed_bytes"] = client
            cell["savings"] = 1 - cell["compressed_bytes"] / cell["raw_bytes"]
    target.write_text(json.dumps(document))
    return target


@pytest.mark.parametrize(
    ("level", "factor", "expected"),
    [
        # The same run: every setting unchanged, compression off included.
        (None, 1.0, {"level -2": "=", "level -1": "=", "level 1": "=", "level 9": "=",
                     "off": "="}),
        # Level 1 compresses 5% smaller in NEW: its row says so, the others do not move.
        (1, 0.95, {"level -2": "=", "level 1": "-5.0%", "level 9": "=", "off": "="}),
        # Level 9 measured by OLD only: a row of '·', said under the table.
        (9, 0, {"level 1": "=", "level 9": "·"}),
    ],
)  # fmt: skip
def test_go_runs_compare_setting_by_setting(
    gorilla_run: Path, tmp_path: Path, level: int | None, factor: float, expected: dict  # noqa: F811
) -> None:
    new = _edited(gorilla_run, tmp_path / "new.json", level, factor)
    code, rows, notes, errors = _compare(gorilla_run, new, "--metric", "size")
    assert code == 0, errors
    changes = {row[0]: row[1] for row in rows}
    for setting, change in expected.items():
        assert changes[setting] == change, (setting, changes)
    assert ("'·' = a setting only one of the runs measured" in notes) == (factor == 0)
    assert "wb" not in " ".join(" ".join(row) for row in rows)  # no windowBits x memLevel grid


def test_go_runs_of_other_axes_are_refused(gorilla_run: Path, tmp_path: Path) -> None:  # noqa: F811
    small = small_chat(tmp_path / "small.records.jsonl")
    coder, zlib = tmp_path / "coder.json", tmp_path / "zlib.json"
    for output, options in ((coder, ["--server", "coder"]),
                            (zlib, ["--window-bits", "15", "--mem-level", "8"])):  # fmt: skip
        made = CliRunner().invoke(cli, ["run", str(small), "--no-timing", "-q", *options,
                                        "-o", str(output)])  # fmt: skip
        assert made.exit_code == 0, made.output
    for other, words in ((coder, "a go-coder run on takeover, threshold"),
                         (zlib, "a windowBits x memLevel run")):  # fmt: skip
        code, rows, _, errors = _compare(gorilla_run, other)
        assert code == 2 and rows == []
        [error] = [line for line in errors.splitlines() if "error" in line]
        assert "a go-gorilla run on level, threshold" in error and words in error, error
    # A slice option means nothing on a Go run: refused, as recommend and report refuse it.
    code, _, _, errors = _compare(gorilla_run, gorilla_run, "--level", "1")
    assert code == 2 and "--level picks a slice of a windowBits x memLevel run" in errors


def test_go_runs_of_two_stacks_are_refused_even_on_the_same_axes(
    gorilla_run: Path, tmp_path: Path  # noqa: F811
) -> None:
    # Centrifugo frames as gorilla does: its Go run has gorilla's axes, but each run holds its
    # own stack's bytes. Refused in both orders, with or without --server (which the error for
    # a --server of neither run would otherwise tell the user to drop, comparing silently).
    document = json.loads(gorilla_run.read_text())
    document["meta"]["server"] = "centrifugo"
    centrifugo = tmp_path / "centrifugo.json"
    centrifugo.write_text(json.dumps(document))
    for old, new in ((gorilla_run, centrifugo), (centrifugo, gorilla_run)):
        servers = {gorilla_run: "gorilla", centrifugo: "centrifugo"}
        for options in ((), ("--server", "centrifugo")):
            code, rows, _, errors = _compare(old, new, *options)
            assert code == 2 and rows == [], errors
            [error] = [line for line in errors.splitlines() if "error" in line]
            assert (f"OLD {old} was measured for {servers[old]}, NEW {new} for "
                    f"{servers[new]}") in error  # fmt: skip
            assert error.endswith("compare two runs of one stack")


def test_server_is_checked_against_the_runs_naming_the_file(
    gorilla_run: Path, tmp_path: Path  # noqa: F811
) -> None:
    # A --server other than the runs' own stack is refused, naming the run it was checked on.
    code, rows, _, errors = _compare(gorilla_run, gorilla_run, "--server", "centrifugo")
    assert code == 2 and rows == [], errors
    [error] = [line for line in errors.splitlines() if "error" in line]
    assert f"--server centrifugo: OLD {gorilla_run} was measured for gorilla" in error
    code, _, _, errors = _compare(gorilla_run, gorilla_run, "--server", "gorilla")
    assert code == 0, errors
