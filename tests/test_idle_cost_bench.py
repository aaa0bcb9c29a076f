"""bench/idle_cost.py: what a sleep before a burst of work does to its CPU time, on a tiny corpus
and without sleeping long (the bench's own rounds take a minute or more)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.bench import load_bench


def _corpus(path: Path, texts: list[str]) -> Path:
    lines = [{"wsztune": "records/1"}]
    lines += [{"connection": "a", "direction": "server", "text": text} for text in texts]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def test_rounds_print_both_kinds_and_the_spread_against_the_goal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    idle = load_bench("idle_cost")
    texts = [f'{{"n": {n}, "text": "hello {n}"}}' for n in range(50)]
    corpus = _corpus(tmp_path / "c.jsonl", texts)
    code = idle.main(["--corpus", str(corpus), "--compressors", "4", "--rounds", "2",
                      "--units", "2", "--sleep", "0.001"])  # fmt: skip
    out = capsys.readouterr().out
    assert code in (0, 1)  # the machine's verdict, whichever it is
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in (["1"], ["2"])]
    assert len(rows) == 2
    for _, back_to_back, after_sleep, ratio in rows:
        assert float(back_to_back) > 0 and float(after_sleep) > 0
        assert float(ratio) == pytest.approx(float(after_sleep) / float(back_to_back), abs=0.01)
    assert "after a sleep / back to back, over the rounds:" in out
    assert "rounds off by more than 25%:" in out
    assert ("rounds off by more than 25%: 0 of 2 after a sleep, 0 of 2 back" in out) == (code == 0)


def test_a_unit_is_the_same_messages_every_time() -> None:
    idle = load_bench("idle_cost")
    unit = idle.Unit([b"abc" * 100, b"xyz" * 50], compressors=3)
    assert unit.run() >= 0 and len(unit.compressors) == 3
    assert idle.calibrated([b"m" * 200] * 5, 2).messages  # at least one message, at most all


def test_a_corpus_without_server_messages_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    idle = load_bench("idle_cost")
    corpus = tmp_path / "empty.jsonl"
    corpus.write_text(json.dumps({"wsztune": "records/1"}) + "\n" + json.dumps(
        {"connection": "a", "direction": "client", "text": "hi"}) + "\n", encoding="utf-8")
    assert idle.main(["--corpus", str(corpus), "--rounds", "1"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"bench/idle_cost.py: {corpus}: no server message to compress")


def test_a_corpus_that_cannot_be_read_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    idle = load_bench("idle_cost")
    corpus = tmp_path / "bad.jsonl"
    corpus.write_text('{"wsztune": "records/1"}\nnot json\n', encoding="utf-8")
    assert idle.main(["--corpus", str(corpus), "--rounds", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bench/idle_cost.py: ") and len(err.strip().splitlines()) == 1
    assert "bad.jsonl" in err


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [("--rounds", "0", "--rounds takes a whole number of at least 1, not 0"),
     ("--units", "-1", "--units takes a whole number of at least 1, not -1"),
     ("--compressors", "0", "--compressors takes a whole number of at least 1, not 0"),
     ("--sleep", "-0.5", "--sleep takes seconds, 0 or more, not -0.5")],
)
def test_a_bad_count_is_one_line_and_exit_2(
    flag: str, value: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    idle = load_bench("idle_cost")
    with pytest.raises(SystemExit) as stopped:
        idle.main([flag, value])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(says)
