"""notebooks/explore.ipynb runs top to bottom on a fresh run, not only on the committed ones.

Two tiny corpora are swept on small grids (one of them then loses a cell and is marked partial,
as an interrupted ``--keep-partial`` run would be), and the notebook is executed with nbclient in
a real kernel pointed at them through WSZTUNE_RUN / WSZTUNE_RUN_B.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.samples import FAST_PLAN, chat_messages, document_messages, write_jsonl
from wsztune import corpus, results, sweep

nbclient = pytest.importorskip(
    "nbclient", reason="nbclient is a test dependency: pip install .[test]"
)
nbformat = pytest.importorskip(
    "nbformat", reason="nbformat is a test dependency: pip install .[test]"
)
pytest.importorskip("ipykernel", reason="ipykernel is a test dependency: pip install .[test]")

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "explore.ipynb"

# 12:5 (websockets' default) with neighbours on both axes; B on another, smaller grid.
GRID_A = sweep.SweepPlan(window_bits=(10, 11, 12, 13), mem_levels=(4, 5, 8))
GRID_B = sweep.SweepPlan(window_bits=(11, 12, 15), mem_levels=(5, 8))


def make_run(
    directory: Path, name: str, payloads: list[bytes], grid: sweep.SweepPlan
) -> results.Run:
    path = write_jsonl(directory / f"{name}.jsonl", payloads)
    return sweep.sweep(corpus.load(path), grid, plan=FAST_PLAN)


def outputs_text(notebook: nbformat.NotebookNode) -> str:
    """Every text a code cell printed or displayed, as one string."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            data = output.get("data", {})
            parts += [data.get("text/plain", ""), data.get("text/markdown", "")]
    return "\n".join(parts)


def test_notebook_runs_top_to_bottom_on_a_fresh_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_a = make_run(tmp_path, "tinychat", chat_messages(150), GRID_A)
    run_b = make_run(tmp_path, "tinyapi", document_messages(20), GRID_B)
    # An interrupted run: 12:5, the reference cell, never measured.
    run_b.cells = [c for c in run_b.cells if (c["window_bits"], c["mem_level"]) != (12, 5)]
    run_b.meta.update(partial=True, cells=len(run_b.cells))
    path_a = results.save(run_a, tmp_path / "a.json")
    path_b = results.save(run_b, tmp_path / "b.json")
    # The kernel inherits this process's environment.
    monkeypatch.setenv("WSZTUNE_RUN", str(path_a))
    monkeypatch.setenv("WSZTUNE_RUN_B", str(path_b))

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, if a cell fails

    errors = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    text = outputs_text(notebook)
    assert "tinychat" in text and "tinyapi" in text
    assert "partial run" in text  # run B's warning is shown, not swallowed
    assert "windowBits 10-13 x memLevel 4,5,8" in text
    assert "observed minus theory" in text
    images = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert len(images) >= 3  # heatmap, Pareto chart, theory against observation
