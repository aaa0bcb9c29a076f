"""How long reading commands take on a large valid results file (issue 29: 100k cells).

A results file of about 100k cells is what the widest grid ``run`` takes gives (every window and
memLevel, 12 levels, 5 strategies, context takeover on and off, a dozen thresholds). This builds
one from the committed example run (its 63 cells repeated over those axes: sizes as measured,
consistent with its grid, so it validates), then times, in one run each, loading it and the
commands that read it: ``table``, ``table --markdown``, ``report`` (HTML) and ``recommend``.

    python bench/results_scale.py                # 100k cells
    python bench/results_scale.py --thresholds 2 # about 15k cells: seconds

The machine's load moves the seconds; the goal is a few seconds per command, not a ratio.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "results" / "example-demo.json"
LEVELS = list(range(-1, 10)) + [-2]
STRATEGIES = ["default", "filtered", "huffman", "rle", "fixed"]


def wide_run(source: Path, thresholds: int) -> dict[str, Any]:
    """``source``'s cells over every level, strategy, takeover and ``thresholds`` thresholds."""
    document = json.loads(source.read_text())
    base = document["cells"]
    cells = []
    threshold_values = [0, *range(64, 64 * thresholds, 64)][:thresholds]
    for takeover in (True, False):
        for threshold in threshold_values:
            for strategy in STRATEGIES:
                for level in LEVELS:
                    for cell in base:
                        cells.append(
                            dict(
                                cell,
                                level=level,
                                strategy=strategy,
                                context_takeover=takeover,
                                threshold=threshold,
                            )
                        )
    grid = document["meta"]["grid"]
    grid.update(
        levels=LEVELS,
        strategies=STRATEGIES,
        context_takeover=[True, False],
        thresholds=threshold_values,
    )
    document["meta"].update(cells=len(cells), cells_planned=len(cells), partial=False)
    document["cells"] = cells
    return document


def timed(command: list[str]) -> float:
    """Seconds ``wsztune COMMAND`` takes (it must succeed)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "wsztune", *command], capture_output=True, text=True, cwd=ROOT
    )
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"wsztune {' '.join(command)} failed: {done.stderr.strip()}")
    return took


def main() -> None:
    """Build the wide run, then time each reading command on it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thresholds", type=int, default=14, help="thresholds (14: 105,840 cells)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "wide.json"
        document = wide_run(EXAMPLE, args.thresholds)
        path.write_text(json.dumps(document))
        size = path.stat().st_size
        print(f"{len(document['cells']):,} cells, {size / 2**20:.0f} MiB")
        sys.path.insert(0, str(ROOT))
        from wsztune import results

        start = time.perf_counter()
        results.load(path)
        print(f"load + validate            {time.perf_counter() - start:6.2f} s")
        for name, command in (
            ("table", ["table", "--results", str(path)]),
            ("table --markdown", ["table", "--markdown", "--results", str(path)]),
            ("report (HTML)", ["report", "--results", str(path), "-o", f"{scratch}/r.html"]),
            ("recommend", ["recommend", "--results", str(path)]),
        ):
            print(f"{name:26} {timed(command):6.2f} s")


if __name__ == "__main__":
    main()
