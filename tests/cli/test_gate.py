"""recommend as a CI gate and every reading command's account of what it read (issue 17):
partial runs never pass, the run read is named, example runs are never picked silently, and
--check against a --baseline fails only on a real regression."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from wsztune.cli import cli


def invoke(*args: object) -> object:
    return CliRunner().invoke(cli, [str(arg) for arg in args])


def read_lines(result: object) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("wsztune: read ")]


def edited(source: Path, target: Path, *, keep=None, partial: bool = False, scale=None) -> Path:
    """A copy of a results file: only the cells ``keep`` accepts, marked partial, or with
    ``scale[(wb, ml)]`` multiplying that cell's per-unit sizes (totals kept consistent)."""
    document = json.loads(source.read_text())
    cells = document["cells"]
    if keep is not None:
        cells = [c for c in cells if keep((c["window_bits"], c["mem_level"]))]
    for cell in cells:
        factor = (scale or {}).get((cell["window_bits"], cell["mem_level"]))
        if factor is not None:
            sizes = [int(round(size * factor)) for size in cell["unit_compressed_bytes"]]
            cell["unit_compressed_bytes"] = sizes
            cell["compressed_bytes"] = sum(sizes)
            # The directions' shares too: a results file's sums must add up (results.py).
            server = min(sum(sizes), int(round(cell["server_compressed_bytes"] * factor)))
            cell["server_compressed_bytes"] = server
            cell["client_compressed_bytes"] = sum(sizes) - server
            cell["savings"] = 1 - sum(sizes) / cell["raw_bytes"]
    document["cells"] = cells
    if partial:
        document["meta"]["partial"] = True
        document["meta"]["cells"] = len(cells)
    target.write_text(json.dumps(document))
    return target


@pytest.fixture()
def partial_path(tmp_path: Path, small_run_path: Path) -> Path:
    # Interrupted after the cells of windowBits 9-11: 12:x and 13:x were never measured.
    return edited(small_run_path, tmp_path / "partial.json", keep=lambda k: k[0] < 12,
                  partial=True)  # fmt: skip


@pytest.mark.parametrize(
    "extra",
    [[], ["--check", "11:5"], ["--check", "9:1", "--strict"], ["--json"], ["--max-memory", "1MiB"]],
)
def test_a_partial_run_never_decides(partial_path: Path, extra: list[str]) -> None:
    result = invoke("recommend", "--results", partial_path, *extra)
    assert result.exit_code == 4, result.output
    [error] = [line for line in result.stderr.splitlines() if "error" in line]
    assert "partial run" in error and "12:1, 12:3, 12:5" in error and "--allow-partial" in error
    assert result.stdout == ""  # no decision printed, not even as JSON
    assert "PARTIAL (12 of 20 cells)" in read_lines(result)[0]


def test_allow_partial_is_the_explicit_way_on(partial_path: Path) -> None:
    result = invoke("recommend", "--results", partial_path, "--allow-partial", "--json")
    assert result.exit_code == 0, result.output
    assert "partial run" in result.stderr  # still warned
    document = json.loads(result.stdout)
    assert document["partial"] is True and document["read"]["partial"] is True


def test_a_partial_baseline_never_decides(partial_path: Path, small_run_path: Path) -> None:
    args = ("recommend", "--results", small_run_path, "--check", "11:5", "--baseline")
    assert invoke(*args, partial_path).exit_code == 4
    assert invoke(*args, partial_path, "--allow-partial").exit_code in (0, 1)


def test_a_baseline_of_another_stack_is_refused_as_such_even_when_partial(
    partial_path: Path, small_run_path: Path
) -> None:
    # As on a Go run: another stack's baseline is the first thing to fix (exit 2, 'made with
    # --server'); saying it is partial (exit 4) would send the user to complete a baseline
    # that cannot serve.
    document = json.loads(partial_path.read_text())
    document["meta"]["server"] = "uvicorn"
    partial_path.write_text(json.dumps(document))
    args = ("recommend", "--results", small_run_path, "--check", "11:5", "--baseline")
    result = invoke(*args, partial_path)
    assert result.exit_code == 2, result.output
    [error] = [line for line in result.stderr.splitlines() if line.startswith("wsztune: error")]
    assert "was made with --server uvicorn" in error and "partial run" not in error
    assert invoke(*args, partial_path, "--allow-partial").exit_code == 2  # never past it


@pytest.mark.parametrize("command", [["table"], ["table", "--markdown"], ["plot"]])
def test_table_and_plot_show_the_gap(partial_path: Path, tmp_path: Path, command: list) -> None:
    out = ["-o", tmp_path / "plots"] if command[0] == "plot" else []
    result = invoke(*command, "--results", partial_path, *out)
    assert result.exit_code == 0, result.output
    assert "partial run" in result.stderr
    if command[0] == "table":
        assert "·" in result.stdout


@pytest.mark.parametrize("command", ["table", "plot", "recommend"])
def test_every_reading_command_names_what_it_read(
    command: str, small_run_path: Path, chat_corpus_path: Path, tmp_path: Path
) -> None:
    out = ["-o", tmp_path] if command == "plot" else []
    result = invoke(command, "--results", small_run_path, *out)
    assert result.exit_code == 0, result.output
    [line] = read_lines(result)
    for part in (str(small_run_path), str(chat_corpus_path), "300 messages", "codec zlib",
                 "no stack named", " UTC", "complete (20 cells)"):  # fmt: skip
        assert part in line, (part, line)
    assert "newest" not in line


def test_compare_names_both_runs(small_run_path: Path, partial_path: Path) -> None:
    result = invoke("compare", small_run_path, partial_path)
    assert result.exit_code == 0, result.output
    old, new = read_lines(result)
    assert old.startswith(f"wsztune: read OLD {small_run_path}") and "complete" in old
    assert new.startswith(f"wsztune: read NEW {partial_path}") and "PARTIAL" in new


def test_recommend_json_carries_what_it_read(small_run_path: Path) -> None:
    result = invoke("recommend", "--results", small_run_path, "--json")
    read = json.loads(result.stdout)["read"]
    assert read["results"] == str(small_run_path) and read["chosen_by"] == "named"
    assert read["codec"] == "zlib" and read["partial"] is False and read["example"] is False
    assert read["cells"] == read["cells_planned"] == 20 and len(read["corpus_sha256"]) == 64
    assert read["started_at"] and read["corpus"].endswith("chat.jsonl")


def test_example_runs_are_read_only_when_named(tmp_path: Path, small_run_path: Path) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    example = shutil.copy(small_run_path, folder / "example-demo.json")
    result = invoke("recommend", "--results-dir", folder)
    assert result.exit_code == 2
    assert "example-demo.json" in result.stderr and "--results" in result.stderr
    # A run of one's own is read even when the example is newer; the line says how it was found.
    own = shutil.copy(small_run_path, folder / "chat-20260101T000000Z.json")
    os.utime(own, (1, 1))
    result = invoke("table", "--results-dir", folder)
    assert result.exit_code == 0
    [line] = read_lines(result)
    assert "chat-20260101T000000Z.json (the newest run there" in line
    named = invoke("table", "--results", example)
    assert named.exit_code == 0 and "(a committed example run)" in read_lines(named)[0]


def test_the_ci_job_reads_what_it_wrote_and_nothing_else(tmp_path: Path, monkeypatch) -> None:
    # The job in docs/ci.md: a fresh clone (examples committed under results/), a sweep to
    # results/ci.json, and every reading step naming it. A plain recommend afterwards (a
    # developer running the same steps locally) reads ci.json, and says so: never an example.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    repo_results = Path(__file__).resolve().parents[2] / "results"
    for example in repo_results.glob("example-*.json"):
        shutil.copy(example, tmp_path / "results" / example.name)
    corpus = tmp_path / "ws-corpus.jsonl"
    corpus.write_text("\n".join(json.dumps({"n": i, "text": "hi " * (i % 9)}) for i in
                                range(200)) + "\n")  # fmt: skip
    made = invoke("run", corpus, "--no-timing", "--quiet", "-o", "results/ci.json",
                  "--window-bits", "9,12,15", "--mem-level", "1,5,8")  # fmt: skip
    assert made.exit_code == 0, made.output
    for command in (["recommend", "--results", "results/ci.json", "--max-memory", "512KiB",
                     "--check", "12:5"], ["table", "--results", "results/ci.json",
                                          "--markdown"]):  # fmt: skip
        result = invoke(*command)
        assert result.exit_code == 0, result.output
        assert read_lines(result)[0].startswith("wsztune: read results/ci.json:")
    plain = invoke("recommend")
    assert "results/ci.json (the newest run there" in read_lines(plain)[0]


# The baseline gate on real runs --------------------------------------------------------------


def test_the_gate_is_green_on_day_one(small_run_path: Path) -> None:
    base = ("recommend", "--results", small_run_path, "--max-memory", "64KiB")
    for setting in ("9:1", "11:5", "12/5", "13:1"):
        result = invoke(*base, "--check", setting, "--baseline", small_run_path, "--json")
        assert result.exit_code == 0, (setting, result.output)
        check = json.loads(result.stdout)["check"]
        assert check["ok"] and check["mode"] == "baseline"
        assert check["baseline"]["change"] == 0 and check["baseline"]["paired"] is True
        assert any(line.startswith("wsztune: read --baseline ") for line in read_lines(result))


def test_the_gate_is_red_on_a_real_regression(small_run_path: Path, tmp_path: Path) -> None:
    # At the baseline, 12:5 was 5% smaller than it is in the run now: it has lost ground.
    baseline = edited(small_run_path, tmp_path / "base.json", scale={(12, 5): 0.95})
    result = invoke("recommend", "--results", small_run_path, "--max-memory", "64KiB",
                    "--check", "12:5", "--baseline", baseline, "--json")  # fmt: skip
    assert result.exit_code == 1, result.output
    check = json.loads(result.stdout)["check"]
    assert check["kind"] == "regression" and check["baseline"]["regressed"] is True
    [error] = [line for line in result.stderr.splitlines() if "error" in line]
    assert "12:5 became worse" in error and str(baseline) in error
    # The tolerance decides: 10 points is more than the change.
    loose = invoke("recommend", "--results", small_run_path, "--max-memory", "64KiB",
                   "--check", "12:5", "--baseline", baseline, "--tolerance", "10%")  # fmt: skip
    assert loose.exit_code == 0, loose.output


def test_a_corpus_that_compresses_worse_everywhere_fails_on_its_savings(
    small_run_path: Path, tmp_path: Path
) -> None:
    # Every cell was 20% smaller at the baseline: no cell lost ground against the others, but
    # the traffic got less compressible, which is what a team wants to hear (issue 26).
    every = {(c["window_bits"], c["mem_level"]): 0.8 for c in json.loads(
        small_run_path.read_text())["cells"]}  # fmt: skip
    baseline = edited(small_run_path, tmp_path / "base.json", scale=every)
    args = ("recommend", "--results", small_run_path, "--check", "12:5", "--baseline", baseline)
    result = invoke(*args, "--json")
    assert result.exit_code == 1, result.output
    check = json.loads(result.stdout)["check"]["baseline"]
    assert check["savings_dropped"] and not check["gap_regressed"]
    assert check["drop_share"] >= 0.95 and check["max_savings_drop"] == 0.02
    assert "12:5's savings fell since the baseline" in result.stderr
    # --max-savings-drop decides: 10 points is more than the 4-point fall.
    assert invoke(*args, "--max-savings-drop", "10").exit_code == 0


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--baseline", "{run}"], "--check"),
        (["--strict"], "--check"),
        (["--check", "12:5", "--baseline", "{corpus}"], "is a JSONL corpus"),
        (["--check", "12:5", "--baseline", "{missing}"], "no such results file"),
    ],
)
def test_baseline_usage_errors(
    args: list[str], fragment: str, small_run_path: Path, chat_corpus_path: Path, tmp_path: Path
) -> None:
    values = {"run": small_run_path, "corpus": chat_corpus_path, "missing": tmp_path / "no.json"}
    args = [a.format(**values) for a in args]
    result = invoke("recommend", "--results", small_run_path, *args)
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr


def test_a_baseline_without_the_shipped_cell(small_run_path: Path, tmp_path: Path) -> None:
    # A run that misses a cell of its grid says it is partial, or it is refused as damaged.
    baseline = edited(small_run_path, tmp_path / "b.json", keep=lambda k: k != (12, 5),
                      partial=True)  # fmt: skip
    result = invoke("recommend", "--results", small_run_path, "--check", "12:5",
                    "--baseline", baseline, "--allow-partial")  # fmt: skip
    assert result.exit_code == 2 and "did not measure 12:5" in result.stderr


def test_help_documents_the_exit_codes() -> None:
    text = invoke("recommend", "--help").stdout
    for code in ("0", "1", "2", "4"):
        assert f"\n    {code} " in text, code
    assert "--baseline" in text and "--strict" in text and "--allow-partial" in text


def test_the_star_of_a_partial_grid_says_it_is_among_the_measured_cells(partial_path: Path) -> None:
    result = invoke("table", "--results", partial_path, "--markdown")
    assert result.exit_code == 0
    assert "among the measured cells only (8 missing)" in " ".join(result.stdout.split())


# The gate sees the traffic change (issue 26) -------------------------------------------------

API_CORPUS = Path(__file__).resolve().parents[2] / "corpora" / "api.jsonl"


def sampled(lines: list[str], seed: int, target: Path, *, field: str | None = None) -> Path:
    """Half of ``lines`` drawn at random (in their order), each JSON message given ``field``
    as an extra "blob" value when asked: a fresh sample of the same traffic, or a changed one."""
    import random

    chosen = sorted(random.Random(seed).sample(range(len(lines)), len(lines) // 2))
    out = []
    for index in chosen:
        line = lines[index]
        if field is not None:
            line = json.dumps({**json.loads(line), "blob": field}, separators=(",", ":"))
        out.append(line)
    target.write_text("\n".join(out) + "\n")
    return target


def gate_exit(corpus: Path, baseline: Path, tmp_path: Path) -> tuple[int, dict]:
    """Sweep ``corpus`` for uvicorn (one cell in a 64 KiB budget: 12:5) and gate 12:5 on it."""
    run = tmp_path / f"{corpus.stem}.json"
    swept = invoke("run", corpus, "--server", "uvicorn", "--no-timing", "--quiet", "-o", run)
    assert swept.exit_code == 0, swept.output
    result = invoke("recommend", "--results", run, "--max-memory", "64KiB", "--check", "12:5",
                    "--baseline", baseline, "--json")  # fmt: skip
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)["check"]["baseline"]


def test_the_gate_fails_on_a_repeated_field_and_passes_fresh_samples(tmp_path: Path) -> None:
    import base64
    import random

    lines = API_CORPUS.read_text().splitlines()
    base_corpus = sampled(lines, 0, tmp_path / "base.jsonl")
    baseline = tmp_path / "baseline.json"
    swept = invoke("run", base_corpus, "--server", "uvicorn", "--no-timing", "--quiet",
                   "-o", baseline)  # fmt: skip
    assert swept.exit_code == 0, swept.output
    # A 6 KB field repeated in every message: beyond 12:5's 4 KiB window, so 12:5 (the only
    # cell in budget, its own best) loses most of its savings while 15:8 gains.
    blob = base64.b64encode(random.Random(7).randbytes(4500)).decode()
    changed = sampled(lines, 0, tmp_path / "changed.jsonl", field=blob)
    code, check = gate_exit(changed, baseline, tmp_path)
    assert code == 1 and check["savings_dropped"] and not check["gap_regressed"]
    assert check["savings_baseline"] - check["savings_now"] > 0.2
    assert check["moved"] and "uvicorn --ws websockets" in check["moved"]
    # Fresh samples of the unchanged traffic: 20 of 20 pass.
    passed = 0
    for seed in range(1, 21):
        code, check = gate_exit(sampled(lines, seed, tmp_path / f"s{seed}.jsonl"), baseline,
                                tmp_path)  # fmt: skip
        passed += code == 0 and not check["savings_dropped"]
    assert passed == 20


def test_the_budget_is_checked_against_resident_memory_unless_allocation_is_asked(
    tmp_path: Path, chat_corpus_path: Path
) -> None:
    """15:8 allocates about 301 KiB per connection, but a connection of this corpus writes only
    part of its window and prev: resident, it fits 200 KiB; budgeted by the allocation (the
    bound under churn) it does not."""
    run = tmp_path / "run.json"
    made = invoke(
        "run", chat_corpus_path, "--window-bits", "15", "--mem-level", "8", "--no-timing",
        "-q", "-o", run,
    )
    assert made.exit_code == 0, made.output
    cell = json.loads(run.read_text())["cells"][0]
    assert cell["connection_memory_resident"] < 200 * 1024 < cell["connection_memory"]
    resident = invoke("recommend", "--results", run, "--max-memory", "200KiB", "--check", "15:8")
    assert resident.exit_code == 0, resident.output
    assert "the bound under churn" in resident.stdout
    allocation = invoke(
        "recommend", "--results", run, "--max-memory", "200KiB", "--check", "15:8",
        "--memory", "allocation",
    )
    assert allocation.exit_code == 1, allocation.output
    document = json.loads(
        invoke("recommend", "--results", run, "--max-memory", "200KiB", "--json").stdout
    )
    assert document["memory_figure"] == "resident"
