"""Benchmark: do the node codec's memory figures rank cells the same way twice?

Run from anywhere as ``python bench/node_memory.py [CORPUS ...]`` (default: every bundled
corpus and the demo). For each corpus it sweeps twice, ``wsztune run --server ws
--no-timing`` (the default grid), and prints

- the largest difference of a cell's ``connection_memory`` between the two sweeps (goal: every
  cell within 3%), and how many cells differ by more than their ``memory_resolution``;
- ``recommend``'s choice on each sweep at budgets none, 128, 192, 256, 384 and 512 KiB (goal:
  the same choice on both sweeps, every corpus, every budget).

The exit status is 1 when a goal is missed. Not part of the test suite (it takes minutes:
tests/test_nodejs_backend.py checks the 3% on a few cells of one corpus).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPORA = sorted((REPO / "corpora").glob("*.jsonl")) + [REPO / "corpora" / "chat.har"]
BUDGETS = (None, 128, 192, 256, 384, 512)  # KiB
GOAL_SPREAD = 0.03

sys.path.insert(0, str(REPO))  # this checkout's wsztune, installed or not


def sweep(corpus: Path, output: Path) -> None:
    """One ``wsztune run --server ws --no-timing`` of ``corpus`` into ``output``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "wsztune", "run", str(corpus), "--server", "ws"]
    command += ["--no-timing", "--quiet", "-o", str(output)]
    subprocess.run(command, check=True, env=env)


def main() -> int:
    """Sweep each corpus twice, compare, exit 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpora", nargs="*", type=Path, default=[*CORPORA, *_demo()])
    args = parser.parse_args()

    from wsztune.recommend import Constraints, recommend
    from wsztune.results import cell_setting_key, load

    ok = True
    print(f"load average {os.getloadavg()}")
    for corpus in args.corpora:
        with tempfile.TemporaryDirectory(prefix="wsztune-bench-nodemem-") as tmp:
            runs = []
            for index in range(2):
                output = Path(tmp) / f"run-{index}.json"
                sweep(corpus, output)
                runs.append(load(output))
        first, second = ({cell_setting_key(c): c for c in run.cells} for run in runs)
        worst, worst_key, beyond = 0.0, None, 0
        for key, cell in first.items():
            other = second[key]
            a, b = cell["connection_memory"], other["connection_memory"]
            spread = abs(a - b) / max(min(a, b), 1)
            if spread > worst:
                worst, worst_key = spread, key
            beyond += abs(a - b) > max(cell["memory_resolution"], other["memory_resolution"])
        choices = []
        for budget in BUDGETS:
            constraints = Constraints(max_memory=None if budget is None else budget * 1024)
            picked = [recommend(run, constraints).chosen for run in runs]
            labels = [
                "none" if cell is None else f"{cell['window_bits']}:{cell['mem_level']}"
                for cell in picked
            ]
            choices.append((budget, labels))
        same = all(a == b for _, (a, b) in choices)
        ok = ok and same and worst <= GOAL_SPREAD
        where = f"{worst_key[0]}:{worst_key[1]}" if worst_key else "-"
        print(
            f"{corpus.name}: {len(first)} cells, largest difference {worst:.2%} ({where}; goal "
            f"<= {GOAL_SPREAD:.0%}), {beyond} beyond their resolution; recommend "
            + ", ".join(
                f"{'none' if b is None else f'{b} KiB'}: {x}"
                + ("" if x == y else f" / {y} CHANGED")
                for b, (x, y) in choices
            )
        )
    print("all goals met" if ok else "a goal is NOT met")
    return 0 if ok else 1


def _demo() -> list[Path]:
    """The demo corpus bundled as package data (what ``wsztune run`` sweeps without a corpus)."""
    from wsztune.corpus import demo_corpus_path

    return [demo_corpus_path()]


if __name__ == "__main__":
    sys.exit(main())
