"""plots.py: real image files of a sensible size, written without a display."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

from PIL import Image

from wsztune import plots, recommend, report, results


def test_write_plots_png_and_svg(small_run_path: Path, tmp_path: Path) -> None:
    run = results.load(small_run_path)
    slice_ = report.select_slice(run)
    decision = recommend.recommend(slice_, recommend.Constraints(max_memory=64 * 1024))
    written = plots.write_plots(
        run,
        slice_,
        tmp_path,
        metrics=("savings", "memory"),
        formats=("png", "svg"),
        decision=decision,
    )
    names = sorted(path.name for path in written)
    assert names == sorted(
        f"chat-run-{what}.{fmt}"
        for what in ("savings", "memory", "pareto")
        for fmt in ("png", "svg")
    )
    for path in written:
        assert path.stat().st_size > 10_000
        if path.suffix == ".png":
            with Image.open(path) as image:
                assert image.format == "PNG"
                width, height = image.size
                assert 500 <= width <= 2500 and 300 <= height <= 1500
        else:
            root = ElementTree.parse(path).getroot()
            assert root.tag.endswith("svg")


def test_heatmap_of_a_partial_grid(small_run_path: Path, tmp_path: Path) -> None:
    run = results.load(small_run_path)
    run.cells = [c for c in run.cells if c["mem_level"] != 3]
    path = plots.heatmap(
        run, report.select_slice(run), report.METRICS["time"], tmp_path / "time.png"
    )
    with Image.open(path) as image:
        assert image.size[0] > 400


def test_pareto_frontier() -> None:
    def cell(memory: int, size: int) -> dict:
        return {"connection_memory": memory, "compressed_bytes": size}

    cells = [cell(10, 100), cell(20, 80), cell(30, 90), cell(40, 70), cell(50, 70)]
    frontier = plots.pareto_frontier(cells)
    assert [(c["connection_memory"], c["compressed_bytes"]) for c in frontier] == [
        (10, 100),
        (20, 80),
        (40, 70),
    ]


def test_heatmap_names_a_reference_other_than_12_5_plainly(
    small_run_path: Path, tmp_path: Path, monkeypatch
) -> None:
    from matplotlib.axes import Axes

    labels: list[str] = []
    original = Axes.set_xlabel

    def spy(self, text, *args, **kwargs):  # type: ignore[no-untyped-def]
        labels.append(text)
        return original(self, text, *args, **kwargs)

    monkeypatch.setattr(Axes, "set_xlabel", spy)
    run = results.load(small_run_path)
    slice_ = report.select_slice(run)
    plots.heatmap(run, slice_, report.METRICS["savings"], tmp_path / "a.png", reference=(13, 3))
    assert "13:3, the reference" in labels[-1] and "websockets" not in labels[-1]
    plots.heatmap(run, slice_, report.METRICS["savings"], tmp_path / "b.png")
    assert "12:5, websockets' default" in labels[-1]


def test_a_one_cell_run_plots_without_clipping_or_warnings(
    small_run_path: Path, tmp_path: Path
) -> None:
    import warnings

    run = results.load(small_run_path)
    run.cells = [c for c in run.cells if (c["window_bits"], c["mem_level"]) == (12, 5)]
    run.meta["grid"] = {**run.meta["grid"], "window_bits": [12], "mem_levels": [5]}
    slice_ = report.select_slice(run)
    decision = recommend.recommend(slice_, recommend.Constraints(max_memory=64 * 1024))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        written = plots.write_plots(
            run, slice_, tmp_path, metrics=tuple(report.METRICS), decision=decision
        )
    assert [str(warning.message) for warning in caught] == []
    for path in written:
        with Image.open(path) as image:
            # At least the minimum width: room for the title, the colour bar and the legend.
            assert image.size[0] >= plots.MIN_HEATMAP_SIZE[0] * plots.DPI - 1


def test_cells_of_zero_memory_plot_and_recommend(small_run_path: Path, tmp_path: Path) -> None:
    # A node cell without context takeover whose connections never reach ws's threshold holds
    # 0 B per connection (ws builds zlib streams on first use): no log axis, no ratio to zero.
    run = results.load(small_run_path)
    for cell in run.cells:
        if cell["window_bits"] <= 10:
            cell["connection_memory"] = 0
    slice_ = report.select_slice(run)
    decision = recommend.recommend(slice_, recommend.Constraints())
    assert decision.chosen is not None and decision.explanation
    path = plots.pareto(run, slice_, tmp_path / "pareto.png", decision=decision)
    with Image.open(path) as image:
        assert image.size[0] > 400
    for cell in run.cells:
        cell["connection_memory"] = 0
    decision = recommend.recommend(report.select_slice(run), recommend.Constraints())
    assert any("per connection," in line for line in decision.explanation)


def test_plot_to_a_place_it_cannot_write_is_one_line_exit_2(
    small_run_path: Path, tmp_path: Path
) -> None:
    """An --output below a file (root writes anywhere else): one line naming it, no traceback."""
    from click.testing import CliRunner

    from wsztune.cli import cli

    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    arguments = ["plot", "--results", str(small_run_path), "--metric", "savings"]
    outcome = CliRunner().invoke(cli, [*arguments, "--output", str(blocker / "images")])
    assert outcome.exit_code == 2, outcome.output
    assert f"{blocker / 'images'}: cannot write images there" in outcome.output
    assert "Traceback" not in outcome.output
