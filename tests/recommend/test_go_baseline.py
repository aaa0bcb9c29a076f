"""``recommend --check ... --baseline`` on Go runs: the zlib gate's regression rule on Go's axes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.codecs.test_go import go_cache, gorilla_run, pytestmark, small_chat  # noqa: F401
from wsztune.cli import cli


@pytest.fixture(scope="module")
def gorilla_runs(
    gorilla_run: Path, tmp_path_factory: pytest.TempPathFactory  # noqa: F811 (the fixture)
) -> tuple[Path, Path]:
    """test_go's gorilla run (levels -2, -1, 1 and 9), and a baseline copy of it in which
    level 1 was 5% smaller (every unit), so that today it lost ground since the baseline."""
    directory = tmp_path_factory.mktemp("go-baseline")
    now = gorilla_run
    document = json.loads(now.read_text())
    for cell in document["cells"]:
        if cell["level"] == 1:
            cell["unit_compressed_bytes"] = [
                round(size * 0.95) for size in cell["unit_compressed_bytes"]
            ]
            cell["compressed_bytes"] = sum(cell["unit_compressed_bytes"])
            cell["client_compressed_bytes"] = (
                cell["compressed_bytes"] - cell["server_compressed_bytes"]
            )
            cell["savings"] = 1 - cell["compressed_bytes"] / cell["raw_bytes"]
    baseline = directory / "baseline.json"
    baseline.write_text(json.dumps(document))
    return now, baseline


def _check(now: Path, *options: str) -> tuple[int, dict, str]:
    result = CliRunner().invoke(cli, ["recommend", "--results", str(now), *options, "--json"])
    document = json.loads(result.stdout) if result.exit_code in (0, 1) else {}
    return result.exit_code, document, result.output


def test_go_check_against_itself_passes(gorilla_runs: tuple[Path, Path]) -> None:
    now, _ = gorilla_runs
    code, document, output = _check(now, "--check", "level=9", "--baseline", str(now))
    assert code == 0, output
    verdict = document["check"]
    assert (verdict["ok"], verdict["kind"], verdict["mode"]) == (True, "fits", "baseline")
    assert verdict["baseline"]["change"] == 0 and verdict["baseline"]["paired"] is True
    assert verdict["baseline"]["best_now"].startswith("level ")
    # The baseline is budgeted with the run's memory figure (resident by default), not its own
    # allocation: the same run reads the same memory at both ends.
    assert verdict["baseline"]["memory_now"] == verdict["baseline"]["memory_baseline"]


def test_go_check_fails_when_the_setting_lost_ground(gorilla_runs: tuple[Path, Path]) -> None:
    now, baseline = gorilla_runs
    code, document, output = _check(now, "--check", "level=1", "--baseline", str(baseline))
    assert code == 1, output
    verdict = document["check"]
    assert (verdict["ok"], verdict["kind"]) == (False, "regression")
    assert verdict["baseline"]["share"] == 1.0  # in every resample
    # The savings fell by 5% of the output too, but not by 30 points: only the gap fails.
    code, document, _ = _check(now, "--check", "level=1", "--baseline", str(baseline),
                               "--max-savings-drop", "30", "--tolerance", "50%")  # fmt: skip
    assert code == 0 and document["check"]["kind"] == "fits"


def test_go_baseline_of_another_kind_is_refused(
    gorilla_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    now, _ = gorilla_runs
    zlib = tmp_path / "zlib.json"
    result = CliRunner().invoke(cli, ["run", str(small_chat(tmp_path / "s.records.jsonl")),
                                      "--window-bits", "15", "--mem-level", "8", "--no-timing",
                                      "-q", "-o", str(zlib)])  # fmt: skip
    assert result.exit_code == 0, result.output
    code, _, output = _check(now, "--check", "level=1", "--baseline", str(zlib))
    assert code == 2 and "windowBits x memLevel run" in output
    code, _, output = _check(now, "--check", "level=5", "--baseline", str(now))
    assert code == 2 and "was not measured" in output


@pytest.mark.parametrize("trimmed", ["baseline", "now"])
def test_go_check_compares_only_the_settings_both_runs_measured(
    gorilla_runs: tuple[Path, Path], tmp_path: Path, trimmed: str
) -> None:
    # The smallest setting measured in one run only (the grid grew or shrank since the
    # baseline) must not move the bar: the shipped setting is judged among the settings both
    # runs hold, as on a zlib grid (test_recommend's grid-grew, grid-shrank).
    now, _ = gorilla_runs
    document = json.loads(now.read_text())
    measured = [cell for cell in document["cells"] if cell.get("compression") is not False]
    smallest = min(measured, key=lambda cell: cell["compressed_bytes"])
    document["cells"] = [cell for cell in document["cells"] if cell is not smallest]
    # A run that planned one level fewer.
    document["meta"]["grid"]["levels"].remove(smallest["level"])
    for count in ("cells", "cells_planned"):
        document["meta"][count] -= 1
    other = tmp_path / "trimmed.json"
    other.write_text(json.dumps(document))
    runs = (now, other) if trimmed == "baseline" else (other, now)
    shipped = next(c for c in measured if c is not smallest and c["level"] != -2)
    code, result, output = _check(
        runs[0], "--check", f"level={shipped['level']}", "--baseline", str(runs[1])
    )
    assert code == 0, output
    regression = result["check"]["baseline"]
    assert regression["change"] == 0 and regression["best_now"] == regression["best_baseline"]
    assert regression["best_now"] != f"level {smallest['level']}"


def test_go_baseline_of_the_same_client_mix_in_another_order_is_accepted(
    gorilla_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    # A mix is a mapping of client to share: "chrome=0.6,websockets=0.4" saved by one run and
    # "websockets=0.4,chrome=0.6" by another are one mix, as the grid's --baseline reads them;
    # a mix with other shares is another question and stays refused.
    now, _ = gorilla_runs
    paths = {}
    for name, client in (("now", "chrome=0.6,websockets=0.4"),
                         ("reordered", "websockets=0.4, chrome=0.60"),
                         ("other", "chrome=0.5,websockets=0.5")):  # fmt: skip
        document = json.loads(now.read_text())
        document["meta"]["client"] = client
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(document))
    code, document, output = _check(
        paths["now"], "--check", "level=9", "--baseline", str(paths["reordered"])
    )
    assert code == 0, output
    assert document["check"]["mode"] == "baseline"
    code, _, output = _check(paths["now"], "--check", "level=9", "--baseline", str(paths["other"]))
    assert code == 2 and "--client chrome=0.5,websockets=0.5" in output, output


def test_go_baseline_of_another_stack_is_refused_as_such_even_when_partial(
    gorilla_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    # Another stack's baseline is the first thing to fix (exit 2, 'wrong --server'): saying it
    # is partial (exit 4) would send the user to complete a baseline that cannot serve.
    now, _ = gorilla_runs
    document = json.loads(now.read_text())
    document["meta"]["server"] = "coder"
    document["meta"]["partial"] = True
    document["cells"] = document["cells"][:-1]
    document["meta"]["cells"] -= 1
    other = tmp_path / "coder-partial.json"
    other.write_text(json.dumps(document))
    code, _, output = _check(now, "--check", "level=9", "--baseline", str(other))
    assert code == 2 and "was made with --server coder" in output, output
    assert "re-make the baseline with the same --server" in output
    document["meta"]["server"] = json.loads(now.read_text())["meta"]["server"]
    other.write_text(json.dumps(document))
    code, _, output = _check(now, "--check", "level=9", "--baseline", str(other))
    assert code == 4 and "--baseline " in output, output  # the same stack's: partial
