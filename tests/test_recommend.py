"""recommend.py: the budget, the cliff rule, the verdict, sizes; on real sweeps made here."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from wsztune import corpus, recommend, report, results, sweep
from wsztune.errors import WsztuneError
from wsztune.recommend import Constraints, check, parse_fraction, parse_size
from wsztune.results import Run

FAST_PLAN = sweep.TimingPlan(repeat=1, warmup=1, min_sample_seconds=0.0)
CLIFF_GRID = sweep.Grid(window_bits=(10, 11, 12, 13), mem_levels=(1, 4, 8))


def cliff_corpus(path: Path) -> Path:
    """Random ~1.4 KB documents, each sent twice in a row.

    The second copy sits ~1.4 KB back: a 2 KiB window (11 bits) finds it, a 1 KiB window (10
    bits) cannot, so 11:x compresses about half as well one step down: a real cliff.
    """
    rng = random.Random(7)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    lines = []
    for index in range(40):
        message = json.dumps({"id": index, "blob": "".join(rng.choices(alphabet, k=1400))})
        lines += [message, message]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def cliff_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A real run of the cliff corpus: windowBits 10-13 x memLevel 1, 4, 8."""
    path = cliff_corpus(tmp_path_factory.mktemp("cliff") / "cliff.jsonl")
    return sweep.sweep(corpus.load(path), CLIFF_GRID, plan=FAST_PLAN)


def restricted(run: Run, mem_levels: tuple[int, ...]) -> Run:
    """The same measured cells, as if the run had swept only ``mem_levels``."""
    cells = [cell for cell in run.cells if cell["mem_level"] in mem_levels]
    meta = {**run.meta, "grid": {**run.meta["grid"], "mem_levels": list(mem_levels)}}
    return Run(meta, cells)


def key(cell: dict | None) -> tuple[int, int] | None:
    return None if cell is None else (cell["window_bits"], cell["mem_level"])


def test_the_constructed_cliff_is_real(cliff_run: Run) -> None:
    slice_ = report.select_slice(cliff_run)
    for ml in (1, 4, 8):
        assert (
            slice_.get((10, ml))["compressed_bytes"]
            > 1.5 * slice_.get((11, ml))["compressed_bytes"]
        )
    edges = recommend.cliff_edges(slice_, 0.10)
    assert {(11, 1), (11, 4), (11, 8)} <= set(edges)
    assert (12, 8) not in edges and (13, 8) not in edges


def test_recommend_avoids_the_cliff_edge(cliff_run: Run) -> None:
    run = restricted(cliff_run, (4, 8))
    decision = recommend.recommend(run, Constraints(max_memory=64 * 1024))
    # 11:4 is the smallest output within budget, but one window step down falls off a cliff.
    assert key(decision.best) == (11, 4)
    assert (11, 4) in [key(cliff.cell) for cliff in decision.avoided]
    assert key(decision.chosen) == (12, 4)
    assert decision.chosen["connection_memory"] <= 64 * 1024
    text = " ".join(decision.explanation)
    assert "Avoided 11:4" in text and "10:4" in text
    # 12:4 has no measured memLevel below it in this grid: the check was not possible there.
    assert any("memLevel 3" in warning for warning in decision.warnings)


def test_every_candidate_on_a_cliff_recommends_best_and_warns(cliff_run: Run) -> None:
    decision = recommend.recommend(cliff_run, Constraints(max_memory=50 * 1024))
    # 11:4 falls off in windowBits, 12:4 in memLevel (12:1 is 21% worse): nothing safe is left.
    assert key(decision.chosen) == key(decision.best) == (11, 4)
    assert any("cliff edge" in warning for warning in decision.warnings)


def test_recommend_respects_budget_and_picks_least_memory(small_run_path: Path) -> None:
    run = results.load(small_run_path)
    for budget in (30_000, 40_000, 64 * 1024, 10**9):
        decision = recommend.recommend(run, Constraints(max_memory=budget))
        if decision.chosen is None:
            assert all(c["connection_memory"] > budget for c in run.cells)
            continue
        assert decision.chosen["connection_memory"] <= budget
        best = min(c["compressed_bytes"] for c in run.cells if c["connection_memory"] <= budget)
        assert decision.best["compressed_bytes"] == best
        assert decision.chosen["compressed_bytes"] <= best * 1.01
        safe = [c for c in decision.candidates if key(c) not in decision.cliffs]
        if safe:
            assert decision.chosen["connection_memory"] == min(c["connection_memory"] for c in safe)


def test_nothing_fits_names_the_closest(small_run_path: Path) -> None:
    run = results.load(small_run_path)
    decision = recommend.recommend(run, Constraints(max_memory=1024))
    assert decision.chosen is None
    cheapest = min(run.cells, key=lambda c: c["connection_memory"])
    assert key(decision.closest) == key(cheapest)
    assert "closest" in decision.reason


def test_time_ratio_needs_the_reference(small_run_path: Path) -> None:
    run = results.load(small_run_path)
    decision = recommend.recommend(run, Constraints(max_time_ratio=1e9))
    assert decision.chosen is not None
    with pytest.raises(WsztuneError, match="not in this run"):
        recommend.recommend(run, Constraints(max_time_ratio=2, reference=(15, 9)))


def test_check_verdicts(small_run_path: Path) -> None:
    run = results.load(small_run_path)
    decision = recommend.recommend(run, Constraints(max_memory=64 * 1024))
    chosen = key(decision.chosen)
    assert check(decision, *chosen, 0.01).ok
    over = min(
        (c for c in run.cells if c["connection_memory"] > 64 * 1024),
        key=lambda c: c["connection_memory"],
    )
    verdict = check(decision, *key(over), 0.01)
    assert not verdict.ok and "budget" in verdict.reason
    worst = max(run.cells, key=lambda c: c["compressed_bytes"])
    verdict = check(decision, *key(worst), 0.01)
    assert not verdict.ok and "larger than the recommended" in verdict.reason
    with pytest.raises(WsztuneError, match="outside this run's grid"):
        check(decision, 15, 5, 0.01)


def test_snippets_carry_the_setting(small_run_path: Path) -> None:
    decision = recommend.recommend(results.load(small_run_path), Constraints())
    wb, ml = key(decision.chosen)
    python = decision.snippets["python-websockets (serve)"][1]
    assert "ServerPerMessageDeflateFactory(" in python
    assert f"server_max_window_bits={wb}" in python and f'{{"memLevel": {ml}}}' in python
    assert "compression=None" not in python
    node = decision.snippets["Node ws"][1]
    assert f"serverMaxWindowBits: {wb}" in node and f"memLevel: {ml}" in node
    assert "DEDICATED_COMPRESSOR_" in decision.snippets["uWebSockets (presets only)"][1]


def test_uws_preset_is_at_or_below_the_budget(cliff_run: Run) -> None:
    slice_ = report.select_slice(cliff_run)
    chosen = slice_.get((13, 8))
    name, wb, ml, _ = recommend.uws_preset(slice_, chosen, 64 * 1024)
    assert (name, wb, ml) == ("DEDICATED_COMPRESSOR_32KB", 12, 5)  # 13/6 needs more than 64 KiB
    name, *_ = recommend.uws_preset(slice_, chosen, 1000)
    assert name == "DEDICATED_COMPRESSOR_3KB"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("65536", 65536),
        ("64KiB", 65536),
        ("64kib", 65536),
        ("64 KiB", 65536),
        ("64KB", 64000),
        ("64kb", 64000),
        ("1.5MiB", 1572864),
        ("1.5 mib", 1572864),
        ("64Ki", 65536),
        ("100B", 100),
        (" 2 MB ", 2_000_000),
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["64K", "1M", "", "abc", "64 KiBs", "-5", "0", "1..5MiB"])
def test_parse_size_refuses(text: str) -> None:
    with pytest.raises(WsztuneError):
        parse_size(text)


def test_parse_fraction() -> None:
    assert parse_fraction("1%", "--tolerance") == pytest.approx(0.01)
    assert parse_fraction("0.05", "--tolerance") == pytest.approx(0.05)
    for bad in ("5", "x", "-1%"):
        with pytest.raises(WsztuneError):
            parse_fraction(bad, "--tolerance")


def test_decision_json_has_the_promised_keys(small_run_path: Path) -> None:
    decision = recommend.recommend(results.load(small_run_path), Constraints(max_memory=65536))
    verdict = check(decision, 12, 5, 0.01)
    document = recommend.decision_json(decision, verdict)
    for name in (
        "window_bits",
        "mem_level",
        "connection_memory",
        "compressed_bytes",
        "savings",
        "reason",
    ):
        assert name in document
    assert document["check"]["setting"] == "12:5"
    json.dumps(document)  # plain data all the way down


def test_the_reference_is_websockets_default_only_when_it_is_12_5(small_run_path: Path) -> None:
    run = results.load(small_run_path)
    other = recommend.recommend(run, Constraints(max_memory=64 * 1024, reference=(13, 3)))
    text = " ".join(other.explanation)
    assert "websockets' default" not in text
    assert "13:3 (the reference)" in text or "That is 13:3, the reference" in text
    default = recommend.recommend(run, Constraints(max_memory=64 * 1024))
    assert "websockets' default" in " ".join(default.explanation)
    assert report.reference_name((12, 5)) == "websockets' default"
    assert report.reference_name((13, 4)) == "the reference"


def test_the_fallback_explains_itself_without_contradiction(cliff_run: Run) -> None:
    # Within 50 KiB every candidate is on a cliff edge: 11:4 (the smallest) and 11:1.
    decision = recommend.recommend(cliff_run, Constraints(max_memory=50 * 1024))
    chosen = key(decision.chosen)
    assert chosen not in [key(cliff.cell) for cliff in decision.avoided]
    document = recommend.decision_json(decision)
    assert "11:4" not in [entry["setting"] for entry in document["avoided"]]
    text = "\n".join(decision.explanation)
    assert "all on a cliff edge" in text or "sits on a cliff edge" in text
    assert "Avoided 11:4" not in text and "none off a cliff edge" not in text
    assert "is recommended" in text
    cheapest = min(decision.candidates, key=lambda c: c["connection_memory"])
    if key(cheapest) != chosen:
        assert f"{report.label(cheapest)} would save" in text
    [warning] = [w for w in decision.warnings if "cliff edge" in w]
    assert "raise --max-memory" in warning


def test_the_fallback_warning_does_not_ask_to_raise_a_budget_never_given(cliff_run: Run) -> None:
    # Only 11:x kept: every cell's window step down (10:x) falls off the cliff.
    run = Run(cliff_run.meta, [c for c in cliff_run.cells if c["window_bits"] in (10, 11)])
    decision = recommend.recommend(run, Constraints())
    assert key(decision.chosen) in decision.cliffs
    [warning] = [w for w in decision.warnings if "cliff edge" in w]
    assert "budget" not in warning and "--max-memory" not in warning


def test_a_neighbour_missing_from_a_partial_run_is_not_a_silent_no_cliff(cliff_run: Run) -> None:
    run = restricted(cliff_run, (4, 8))
    full = recommend.recommend(run, Constraints(max_memory=64 * 1024))
    assert key(full.chosen) == (12, 4)
    assert not any("missing from this run" in w for w in full.warnings)
    # Interrupted before 11:4 was measured: 12:4's window step down is in the grid, not the run.
    partial = Run(
        {**run.meta, "partial": True}, [c for c in run.cells if key(c) not in {(11, 4), (11, 8)}]
    )
    decision = recommend.recommend(partial, Constraints(max_memory=64 * 1024))
    assert key(decision.chosen) == (12, 4)
    [warning] = [w for w in decision.warnings if "missing from this run" in w]
    assert "11:4" in warning and "not checked" in warning
    # The lower-edge warning is still there, with its verb agreeing with one setting.
    assert any("memLevel 3 was not measured" in w for w in decision.warnings)


def test_nothing_fits_names_the_constraint_it_breaks(small_run_path: Path) -> None:
    run = results.load(small_run_path)
    by_time = recommend.recommend(run, Constraints(max_time_ratio=1e-6))
    assert by_time.chosen is None
    line = by_time.explanation[1]
    assert "time limit" in line and "memory budget" not in line
    assert "time limit" in by_time.reason
    assert by_time.explanation[-1] == "Raise --max-time-ratio."
    by_memory = recommend.recommend(run, Constraints(max_memory=1024))
    assert "over the 1.0 KiB memory budget" in by_memory.explanation[1]
    assert "memory budget" in by_memory.reason and "time limit" not in by_memory.reason


def test_wording_of_one_cell_and_of_a_non_setting(small_run_path: Path) -> None:
    run = results.load(small_run_path)
    one = Run(run.meta, [c for c in run.cells if key(c) == (12, 5)])
    decision = recommend.recommend(one, Constraints())
    assert "all 1 cells" not in decision.explanation[0]
    assert "only cell" in decision.explanation[0]
    budget = recommend.recommend(one, Constraints(max_memory=10**9))
    assert budget.explanation[0].endswith(": 1 of 1 cell.")
    with pytest.raises(WsztuneError) as error:
        check(decision, 16, 5, 0.01)
    message = str(error.value)
    assert message.startswith("--check 16:5 is not a setting: windowBits goes from 8 to 15")
    assert ";" not in message
    assert report.plural(1, "cell") == "1 cell" and report.plural(2, "cell") == "2 cells"
    assert report.plural(1, "was", "were", show=False) == "was"


# Threshold and stacks --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def threshold_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A real zlib run of short chat messages and a few long documents at thresholds 0,
    120 and 4096 (context takeover off, where ws applies its threshold)."""
    from tests.conftest import chat_messages, document_messages, write_jsonl

    path = write_jsonl(
        tmp_path_factory.mktemp("threshold") / "mixed.jsonl",
        chat_messages(120) + document_messages(8),
    )
    grid = sweep.Grid(
        window_bits=(11, 12), mem_levels=(4, 8), context_takeover=(False,),
        thresholds=(0, 120, 4096),
    )  # fmt: skip
    return sweep.sweep(corpus.load(path), grid, plan=FAST_PLAN)


def test_slices_by_threshold(threshold_run: Run) -> None:
    smallest = report.select_slice(threshold_run)
    assert smallest.threshold == 0 and set(smallest.by_threshold) == {0, 120, 4096}
    assert "threshold 0 B" in smallest.description
    other = report.select_slice(threshold_run, threshold=4096)
    assert {cell["threshold"] for cell in other.cells.values()} == {4096}
    with pytest.raises(WsztuneError, match="threshold 77"):
        report.select_slice(threshold_run, threshold=77)


def test_recommend_says_which_threshold_and_what_it_trades(threshold_run: Run) -> None:
    decision = recommend.recommend(threshold_run, Constraints(tolerance=0.05))
    advice = decision.threshold
    assert advice is not None
    chosen = {t: cells[key(decision.chosen)] for t, cells in decision.slice.by_threshold.items()}
    best = min(cell["compressed_bytes"] for cell in chosen.values())
    fitting = [t for t, c in chosen.items() if c["compressed_bytes"] <= best * 1.05]
    assert advice.threshold == max(fitting)
    assert any("compress calls" in line for line in decision.explanation)
    skipped = chosen[4096]["messages"] - chosen[4096]["compressed_messages"]
    assert any(f"{skipped:,} messages" in line or f"{skipped} messages" in line
               for line in advice.lines)  # fmt: skip
    # ws's snippet carries the advised threshold (takeover off: ws applies it).
    assert f"threshold: {advice.threshold}," in decision.snippets["Node ws"][1]
    assert recommend.decision_json(decision)["threshold"] == advice.threshold


def test_snippets_are_marked_unless_the_run_measured_that_stack(threshold_run: Run) -> None:
    decision = recommend.recommend(threshold_run, Constraints())
    assert decision.snippets["Node ws"][1].startswith("// measured with CPython's zlib")
    assert "--server ws" in decision.snippets["Node ws"][1].splitlines()[0]
    assert "--server socketio" in decision.snippets["Socket.IO"][1].splitlines()[0]
    assert decision.snippets["python-websockets (serve)"][1].startswith("from websockets")
    as_node = Run({**threshold_run.meta, "codec": "node"}, threshold_run.cells)
    decision = recommend.recommend(as_node, Constraints())
    assert decision.snippets["Node ws"][1].startswith("const wss")
    assert decision.snippets["python-websockets (serve)"][1].startswith(
        "# measured with Node's zlib"
    )
