"""Results files: the contract, atomic writes, validation of what is read back, newest lookup."""

from __future__ import annotations

import json
import os
from datetime import UTC
from pathlib import Path

import pytest

from wsztune import results
from wsztune.errors import ResultsError


def test_round_trip_and_dataframe(small_run_path: Path) -> None:
    run = results.load(small_run_path)
    assert run.meta["corpus"]["messages"] == 300
    assert run.meta["timing"]["repeat"] == 3
    for key in (
        "wsztune_version",
        "python_version",
        "zlib_runtime_version",
        "codec",
        "cpu",
        "command_line",
        "started_at",
        "finished_at",
    ):
        assert run.meta[key], key
    assert len(run.meta["corpus"]["sha256"]) == 64
    frame = run.frame()
    assert list(frame.columns) == list(results.CELL_FIELD_NAMES)
    assert len(frame) == 20
    assert run.find(12, 5)["window_bits"] == 12
    assert run.find(15, 9) is None


def test_save_is_atomic_and_leaves_no_temporary(tmp_path: Path, small_run_path: Path) -> None:
    run = results.load(small_run_path)
    target = tmp_path / "out" / "run.json"
    results.save(run, target)
    assert json.loads(target.read_text())["schema"] == results.SCHEMA
    assert sorted(p.name for p in target.parent.iterdir()) == ["run.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path: Path, small_run_path: Path) -> None:
    run = results.load(small_run_path)
    target = results.save(run, tmp_path / "run.json")
    before = target.read_bytes()
    run.meta["unserializable"] = object()
    with pytest.raises(TypeError):
        results.save(run, target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_newest_run(tmp_path: Path, small_run_path: Path) -> None:
    run = results.load(small_run_path)
    old = results.save(run, tmp_path / "a.json")
    new = results.save(run, tmp_path / "b.json")
    os.utime(old, (1, 1))
    assert results.newest(tmp_path) == new
    assert results.load_newest_or(None, str(tmp_path)).path == new


def test_no_results_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="wsztune run"):
        results.newest(tmp_path / "missing")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "not valid JSON"),
        ('{"schema": "wsztune.run/1", "meta": {', "not valid JSON"),
        ('{"hello": 1}', "not a wsztune results file"),
        # An array is what --format json reads: named as a corpus, with the way on.
        ("[1, 2]", "is a JSON array of messages .a corpus., not a results file"),
        ('{"schema": "wsztune.run/3", "meta": {}, "cells": []}', "newer wsztune"),
        ('{"schema": "wsztune.run/x"}', "unknown schema"),
        ('{"schema": "wsztune.run/1", "meta": {}, "cells": []}', "no cells"),
        (
            '{"schema": "wsztune.run/1", "meta": {}, "cells": [{"window_bits": 12}]}',
            "client_window_bits",
        ),
    ],
)
def test_bad_results_files(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ResultsError, match=reason):
        results.load(path)


def test_wrong_type_in_a_cell(tmp_path: Path, small_run_path: Path) -> None:
    document = json.loads(small_run_path.read_text())
    document["cells"][3]["context_takeover"] = 1
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ResultsError, match=r"cells\[3\]\.context_takeover"):
        results.load(path)


def test_unit_sizes_that_do_not_add_up_are_refused(tmp_path: Path, small_run_path: Path) -> None:
    document = json.loads(small_run_path.read_text())
    assert document["schema"] == results.SCHEMA == "wsztune.run/2"
    path = tmp_path / "bad.json"
    for damage, reason in (
        (lambda c, m: c["unit_compressed_bytes"].append(1), "does not match"),
        (lambda c, m: c.update(compressed_bytes=c["compressed_bytes"] + 1), "does not match"),
        (lambda c, m: c.update(unit_compressed_bytes="many"), "not a list of integers"),
        (lambda c, m: m["units"].update(raw_bytes=None), "meta.units.raw_bytes"),
    ):
        broken = json.loads(json.dumps(document))
        damage(broken["cells"][2], broken["meta"])
        path.write_text(json.dumps(broken))
        with pytest.raises(ResultsError, match=reason):
            results.load(path)


def test_a_version_1_file_still_loads(tmp_path: Path, small_run_path: Path) -> None:
    document = json.loads(small_run_path.read_text())
    document["schema"] = "wsztune.run/1"
    del document["meta"]["units"]
    for cell in document["cells"]:
        del cell["unit_compressed_bytes"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(document))
    run = results.load(path)
    assert run.schema == "wsztune.run/1" and len(run.cells) == len(document["cells"])
    assert list(run.frame().columns) == list(results.CELL_FIELD_NAMES)


def test_missing_results_file(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="no such results file"):
        results.load(tmp_path / "nope.json")


def test_read_only_directory_is_refused_before_work(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        with pytest.raises(ResultsError, match="cannot write results"):
            results.check_writable(folder / "run.json")
    finally:
        folder.chmod(0o700)


def test_unwritable_place_is_refused_before_work(tmp_path: Path) -> None:
    blocker = tmp_path / "results"
    blocker.write_text("a file where a directory should be")
    with pytest.raises(ResultsError, match="cannot write results there"):
        results.check_writable(blocker / "run.json")


def test_default_path_names_corpus_and_utc_time() -> None:
    from datetime import datetime

    started = datetime(2026, 11, 24, 5, 6, 7, tzinfo=UTC)
    assert results.default_path("results", "chat", started) == Path(
        "results/chat-20261124T050607Z.json"
    )


def test_docs_document_every_cell_field() -> None:
    page = Path(__file__).resolve().parent.parent / "docs" / "results.md"
    readme = page.read_text(encoding="utf-8")
    names = (*results.CELL_FIELD_NAMES, results.UNIT_SIZES, "meta.units")
    missing = [name for name in names if f"`{name}`" not in readme]
    assert missing == []


def test_saved_file_has_ordinary_permissions(tmp_path: Path, small_run_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        target = results.save(results.load(small_run_path), tmp_path / "run.json")
    finally:
        os.umask(previous)
    assert target.stat().st_mode & 0o777 == 0o644


def test_a_file_from_before_the_threshold_loads_with_defaults(
    tmp_path: Path, small_run_path: Path
) -> None:
    document = json.loads(small_run_path.read_text())
    for cell in document["cells"]:
        del cell["threshold"], cell["compressed_messages"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(document))
    loaded = results.load(old)
    assert {cell["threshold"] for cell in loaded.cells} == {0}
    assert all(cell["compressed_messages"] == cell["messages"] for cell in loaded.cells)
    assert "threshold" in loaded.frame().columns
    document["cells"][0]["threshold"] = "1024"
    old.write_text(json.dumps(document))
    with pytest.raises(ResultsError, match=r"cells\[0\].threshold"):
        results.load(old)
