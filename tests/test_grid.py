"""grid.py: the shared model, and the boundary it draws between report, plots and recommend."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from wsztune import grid, text
from wsztune.errors import WsztuneError
from wsztune.results import Run

PACKAGE = Path(grid.__file__).parent


def runtime_imports(module: str) -> set[str]:
    """wsztune modules ``module`` imports when it runs (imports under TYPE_CHECKING excluded);
    for a package (recommend/), what any of its modules imports from outside it."""
    folder = PACKAGE / module
    if folder.is_dir():
        inside = f"wsztune.{module}"
        found = set().union(
            *(runtime_imports(f"{module}/{path.stem}") for path in folder.glob("*.py"))
        )
        return {name for name in found if name != inside and not name.startswith(inside + ".")}
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            type_only |= {id(child) for child in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and id(node) not in type_only and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import) and id(node) not in type_only:
            found |= {alias.name for alias in node.names}
    return {name for name in found if name.startswith("wsztune")}


@pytest.mark.parametrize("module", ["report", "plots", "recommend"])
def test_report_plots_and_recommend_do_not_import_each_other(module: str) -> None:
    others = {f"wsztune.{name}" for name in ("report", "plots", "recommend")} - {
        f"wsztune.{module}"
    }
    assert "wsztune.grid" in runtime_imports(module)
    assert not runtime_imports(module) & others


def cell(wb: int, ml: int, *, level: int = -1, takeover: bool = True) -> dict:
    return {
        "window_bits": wb,
        "mem_level": ml,
        "level": level,
        "strategy": "default",
        "context_takeover": takeover,
    }


def test_select_slice_keeps_planned_axes_and_counts_other_slices() -> None:
    cells = [cell(9, 1), cell(10, 1), cell(9, 1, level=9), cell(9, 1, takeover=False)]
    run = Run({"grid": {"window_bits": [9, 10, 11], "mem_levels": [1, 2]}}, cells)
    slice_ = grid.select_slice(run)
    assert set(slice_.cells) == {(9, 1), (10, 1)}
    # A planned but missing cell (11:x, x:2) is still on the axes: it shows as a gap.
    assert slice_.window_bits == (9, 10, 11) and slice_.mem_levels == (1, 2)
    assert slice_.other_slices == 2
    assert slice_.step_down((11, 2), 0) == (10, 2) and slice_.step_down((9, 1), 1) is None
    assert set(grid.select_slice(run, level=9).cells) == {(9, 1)}
    with pytest.raises(WsztuneError, match="no cells with level 5"):
        grid.select_slice(run, level=5)


def test_labels_and_sizes() -> None:
    assert text.label((12, 5)) == "12:5" and text.label(cell(13, 4)) == "13:4"
    assert text.format_bytes(317.7 * 1024) == "317.7 KiB"
    assert grid.reference_name((12, 5)) == "websockets' default"
