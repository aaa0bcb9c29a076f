"""Benchmark: are the node codec's memory figures steady from run to run, do the derived cells
hold against cells probed one by one, and does a cached run give a cold run's figures?

Run from anywhere as ``python bench/node_memory.py [CORPUS ...]`` (default: every bundled
corpus and the demo). For each corpus, with a fresh cache directory (``$WSZTUNE_CACHE``), it
sweeps ``wsztune run --server ws --no-timing`` (the default grid) four times:

1. and 2. ``--no-cache``, twice: two cold runs as a user gets them (compressors of the
   windowBits x memLevel grid derived from one row and one column of probes);
3. ``--no-cache --probe-every-cell``: every cell its own probe;
4. with the cache the others filled: warm, nothing probed.

and prints

- run to run: the largest difference of a cell's ``connection_memory`` between 1 and 2 (goal:
  every cell within 3%), how many cells differ by more than their ``memory_resolution``, and
  ``recommend``'s choice on each at budgets none, 128, 192, 256, 384 and 512 KiB (goal: the same);
- derived against probed: the largest difference between 1 and 3 over the derived cells, in %
  and against the derived cell's resolution (goal: none beyond it);
- warm against cold: the largest difference between 4 and 1 (goal: none beyond the resolution).

The exit status is 1 when a goal is missed. Not part of the test suite (minutes:
tests/codecs/test_node.py checks the 3% on a few cells of one corpus, and the cache).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CORPORA = sorted((REPO / "corpora").glob("*.jsonl")) + [REPO / "corpora" / "chat.har"]
BUDGETS = (None, 128, 192, 256, 384, 512)  # KiB
GOAL_SPREAD = 0.03

sys.path.insert(0, str(REPO))  # this checkout's wsztune, installed or not


def sweep(corpus: Path, output: Path, cache: Path, *options: str) -> dict[tuple, dict[str, Any]]:
    """One ``wsztune run --server ws --no-timing`` of ``corpus``; its cells by setting."""
    from wsztune.results import cell_setting_key, load

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["WSZTUNE_CACHE"] = str(cache)
    command = [sys.executable, "-m", "wsztune", "run", str(corpus), "--server", "ws"]
    command += ["--no-timing", "--quiet", "-o", str(output), *options]
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return {cell_setting_key(cell): cell for cell in load(output).cells}


def differences(
    first: dict[tuple, dict[str, Any]], second: dict[tuple, dict[str, Any]], only: str = ""
) -> tuple[float, str, int]:
    """The largest relative difference of ``connection_memory`` (and where), and how many cells
    differ by more than their resolution; ``only``: cells of ``first`` whose memory_source
    mentions it."""
    worst, where, beyond = 0.0, "-", 0
    for key, cell in first.items():
        if only and only not in cell["memory_source"]:
            continue
        other = second[key]
        a, b = cell["connection_memory"], other["connection_memory"]
        spread = abs(a - b) / max(min(a, b), 1)
        if spread > worst:
            worst, where = spread, f"{key[0]}:{key[1]}"
        beyond += abs(a - b) > max(cell["memory_resolution"], other["memory_resolution"])
    return worst, where, beyond


def choices(cells: dict[tuple, dict[str, Any]], meta_run: Any) -> list[str]:
    """``recommend``'s choice at each budget of :data:`BUDGETS`."""
    from wsztune.recommend import Constraints, recommend
    from wsztune.results import Run

    run = Run(meta_run.meta, list(cells.values()))
    labels = []
    for budget in BUDGETS:
        constraints = Constraints(max_memory=None if budget is None else budget * 1024)
        cell = recommend(run, constraints).chosen
        labels.append("none" if cell is None else f"{cell['window_bits']}:{cell['mem_level']}")
    return labels


def main() -> int:
    """Sweep each corpus four times, compare, exit 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpora", nargs="*", type=Path, default=[*CORPORA, *_demo()])
    args = parser.parse_args()

    from wsztune.results import load

    ok = True
    print(f"load average {os.getloadavg()}")
    for corpus in args.corpora:
        with tempfile.TemporaryDirectory(prefix="wsztune-bench-nodemem-") as directory:
            tmp = Path(directory)
            cache = tmp / "cache"
            cold = [
                sweep(corpus, tmp / f"cold-{index}.json", cache, "--no-cache") for index in (0, 1)
            ]
            probed = sweep(corpus, tmp / "probed.json", cache, "--no-cache", "--probe-every-cell")
            warm = sweep(corpus, tmp / "warm.json", cache)
            meta = load(tmp / "cold-0.json")
        spread, where, beyond = differences(cold[0], cold[1])
        picked = [choices(run, meta) for run in cold]
        derived = sum("derived" in cell["memory_source"] for cell in cold[0].values())
        derived_spread, derived_where, derived_beyond = differences(cold[0], probed, "derived")
        warm_spread, warm_where, warm_beyond = differences(warm, cold[0])
        warm_sources = sorted({cell["memory_source"] for cell in warm.values()})
        same = picked[0] == picked[1]
        met = same and spread <= GOAL_SPREAD and derived_beyond == 0 and warm_beyond == 0
        ok = ok and met
        print(
            f"{corpus.name}: {len(cold[0])} cells, {derived} derived; run to run: largest "
            f"difference {spread:.2%} ({where}; goal <= {GOAL_SPREAD:.0%}), {beyond} beyond "
            "their resolution; recommend "
            + ", ".join(
                f"{'none' if b is None else f'{b} KiB'}: {x}"
                + ("" if x == y else f" / {y} CHANGED")
                for b, x, y in zip(BUDGETS, *picked, strict=True)
            )
        )
        print(
            f"  derived vs every cell probed: largest difference {derived_spread:.2%} "
            f"({derived_where}), {derived_beyond} beyond the derived cell's resolution (goal 0); "
            f"warm ({', '.join(warm_sources)}) vs cold: largest {warm_spread:.2%} "
            f"({warm_where}), {warm_beyond} beyond their resolution (goal 0)"
        )
    print("all goals met" if ok else "a goal is NOT met")
    return 0 if ok else 1


def _demo() -> list[Path]:
    """The demo corpus bundled as package data (what ``wsztune run`` sweeps without a corpus)."""
    from wsztune.corpus import demo_corpus_path

    return [demo_corpus_path()]


if __name__ == "__main__":
    sys.exit(main())
