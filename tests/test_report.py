"""report.py: slices, grids (markdown, rich, CSV), relative values, compare; on a real run."""

from __future__ import annotations

import io
from pathlib import Path

import pandas
import pytest

from wsztune import report, results
from wsztune.console import stdout_console
from wsztune.errors import WsztuneError
from wsztune.results import CELL_FIELD_NAMES, Run
from wsztune.text import format_ms


def parse_markdown_table(text: str) -> tuple[list[str], list[list[str]]]:
    """Header cells and body rows of the first GitHub markdown table in ``text``."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    split = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    header, align, *rows = split
    assert all(set(cell) <= set("-:") and cell for cell in align)
    assert all(len(row) == len(header) for row in rows)
    return header, rows


def test_markdown_grid_is_a_table_of_the_run(small_run_path: Path) -> None:
    run = results.load(small_run_path)
    slice_ = report.select_slice(run)
    table = report.grid_table(run, slice_, report.METRICS["savings"])
    text = report.markdown_grid(table)
    header, rows = parse_markdown_table(text)
    assert header == ["wb \\ ml", "1", "3", "5", "8"]
    assert [row[0] for row in rows] == [f"**{wb}**" for wb in (9, 10, 11, 12, 13)]
    cell = run.find(12, 5)
    assert rows[3][3] == f"**{cell['savings']:.1%}**"  # the reference, in bold
    assert rows[0][1] == f"{run.find(9, 1)['savings']:.1%}"
    assert text.startswith("**savings") and "chat" in text.splitlines()[0]


def test_relative_values(small_run_path: Path) -> None:
    run = results.load(small_run_path)
    slice_ = report.select_slice(run)
    table = report.grid_table(run, slice_, report.METRICS["size"], relative_to=(12, 5))
    assert table.values[(12, 5)] == "="
    base = run.find(12, 5)["compressed_bytes"]
    small = run.find(9, 1)["compressed_bytes"]
    assert table.values[(9, 1)] == report.relative_text(report.METRICS["size"], small, base)
    assert table.values[(9, 1)].startswith("+")
    savings = report.grid_table(run, slice_, report.METRICS["savings"], relative_to=(12, 5))
    assert "percentage points" in savings.caption


def test_relative_text_format() -> None:
    size = report.METRICS["size"]
    assert report.relative_text(size, 110, 100) == "+10%"
    assert report.relative_text(size, 96, 100) == "-4.0%"
    assert report.relative_text(size, 100.01, 100) == "="
    assert report.relative_text(report.METRICS["savings"], 0.857, 0.85) == "+0.7"


def partial_of(run: Run, keep: set[tuple[int, int]]) -> Run:
    """The run as if interrupted after measuring only ``keep`` (meta says partial)."""
    cells = [c for c in run.cells if (c["window_bits"], c["mem_level"]) in keep]
    return Run({**run.meta, "partial": True, "cells": len(cells)}, cells)


def test_partial_grid_without_the_reference(small_run_path: Path) -> None:
    run = partial_of(results.load(small_run_path), {(13, 1), (13, 3), (11, 8)})
    slice_ = report.select_slice(run)
    assert slice_.window_bits == (9, 10, 11, 12, 13)  # planned axes stay, gaps show
    table = report.grid_table(run, slice_, report.METRICS["memory"], relative_to=(12, 5))
    assert table.text((12, 5)) == report.MISSING
    assert any("12:5 is not in this run" in note for note in table.notes)
    assert table.reference is None
    warnings = report.run_warnings(run, slice_)
    assert any("partial run" in warning for warning in warnings)
    header, rows = parse_markdown_table(report.markdown_grid(table))
    assert len(rows) == 5 and rows[0][1] == report.MISSING


def test_csv_long_form_has_every_field(small_run_path: Path) -> None:
    run = results.load(small_run_path)
    frame = pandas.read_csv(io.StringIO(report.csv_long(run)))
    assert list(frame.columns) == list(CELL_FIELD_NAMES)
    assert len(frame) == len(run.cells)
    assert frame["compressed_bytes"].tolist() == [c["compressed_bytes"] for c in run.cells]


def test_select_slice_refuses_an_absent_slice(small_run_path: Path) -> None:
    run = results.load(small_run_path)
    with pytest.raises(WsztuneError, match="no cells with level 9"):
        report.select_slice(run, level=9)


def test_several_slices_are_announced(small_run_path: Path) -> None:
    run = results.load(small_run_path)
    off = [{**cell, "context_takeover": False} for cell in run.cells]
    both = Run(run.meta, run.cells + off)
    slice_ = report.select_slice(both)
    assert slice_.context_takeover is True and slice_.other_slices == 1
    assert any("2 level/strategy" in w for w in report.run_warnings(both, slice_))
    assert report.select_slice(both, context_takeover=False).context_takeover is False


def test_step_down_uses_the_grid(small_run_path: Path) -> None:
    slice_ = report.select_slice(results.load(small_run_path))
    assert slice_.step_down((12, 5), 1) == (12, 3)  # memLevel 4 was not swept
    assert slice_.step_down((12, 5), 0) == (11, 5)
    assert slice_.step_down((9, 1), 0) is None


def test_compare_shows_changes_and_gaps(small_run_path: Path) -> None:
    old = results.load(small_run_path)
    new = Run(
        {**old.meta, "corpus": {**old.meta["corpus"], "sha256": "other"}},
        [
            {**cell, "compressed_bytes": cell["compressed_bytes"] * 2}
            for cell in old.cells
            if cell["window_bits"] != 9
        ],
    )
    table = report.compare_table(
        old, report.select_slice(old), new, report.select_slice(new), report.METRICS["size"]
    )
    assert table.values[(12, 5)] == "+100%"
    assert table.text((9, 1)) == report.MISSING
    assert "the corpora differ" in table.notes


def test_unstable_timings_are_marked_in_time_grids(small_run_path: Path) -> None:
    from wsztune import report, results

    run = results.load(small_run_path)
    run.cells[0]["timing_unstable"] = True
    for cell in run.cells[1:]:
        cell["timing_unstable"] = False
    slice_ = report.select_slice(run)
    first = (run.cells[0]["window_bits"], run.cells[0]["mem_level"])
    time_grid = report.grid_table(run, slice_, report.METRICS["time"])
    assert time_grid.text(first).endswith(report.UNSTABLE_MARK)
    assert sum(text.endswith(report.UNSTABLE_MARK) for text in time_grid.values.values()) == 1
    assert any("timing unstable in 1 cell (" in note for note in time_grid.notes)
    size_grid = report.grid_table(run, slice_, report.METRICS["size"])
    assert not any(text.endswith(report.UNSTABLE_MARK) for text in size_grid.values.values())


def test_memory_grids_warn_when_the_codec_is_not_zlib(small_run_path: Path) -> None:
    from wsztune import report, results

    run = results.load(small_run_path)
    slice_ = report.select_slice(run)
    assert not report.grid_table(run, slice_, report.METRICS["memory"]).notes
    run.meta["codec"], run.meta["codec_version"] = "zlib-ng", "2.3.3"
    notes = report.grid_table(run, slice_, report.METRICS["memory"]).notes
    assert any("zlib-ng 2.3.3" in note for note in notes)
    assert not report.grid_table(run, slice_, report.METRICS["savings"]).notes


def test_partial_run_warning_agrees_with_one_cell(small_run_path: Path) -> None:
    run = partial_of(results.load(small_run_path), {(13, 1)})
    run.meta["cells_planned"] = 20
    [warning] = report.run_warnings(run)
    assert "only 1 of 20 cells was measured" in warning


def test_run_summary_shows_only_the_default_slice(
    small_run_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = results.load(small_run_path)
    # A second level whose every cell is far smaller: it must not leak into the summary.
    other = [{**cell, "level": 9, "compressed_bytes": 7} for cell in run.cells]
    both = Run(run.meta, run.cells + other)
    stdout_console().print(report.run_summary(both))
    out = capsys.readouterr().out
    assert " 7 B" not in out
    assert "level -1, strategy default, context takeover on (1 of 2 slices)" in out
    smallest = min(run.cells, key=lambda c: (c["compressed_bytes"], c["connection_memory"]))
    assert f"{smallest['compressed_bytes']:,} B" in out
    assert format_ms(run.find(12, 5)["compress_seconds"]) + " ms" in out

    stdout_console().print(report.run_summary(run))
    assert "slices" not in capsys.readouterr().out
