"""Benchmark of ``wsztune run --server ws`` (the node codec) against one node process.

Run from anywhere as ``python bench/node.py [CORPUS] [--window-bits 9-15 --mem-level 1-9]``.
In one go, on one machine, side by side, it measures

1. ``wsztune run CORPUS --server ws`` (a subprocess, ``--quiet``; wall clock and CPU time of
   it and every node process it starts: interpreter start, memory probes, timing passes);
2. the reference issue 19 set: the same cells' passes (the run's own timing plan: warm-up,
   repeat, minimum sample time) one cell after another in ONE node process, free to run on any
   core, as the sweep ran them before issue 19, and the CPU time it used (``getrusage`` of its
   children);
3. the same passes in one node process pinned to one core, as the sweep now runs each of its
   processes: the same work at the cost the sweep pays for it.

and prints, each against its goal:

- ``wall / reference CPU``: issue 19's goal, <= 0.60 on 2 cores, against 2.;
- ``wall / pinned reference CPU``: the same against 3. (no goal: the passes got cheaper by
  pinning, and what is left above half of it is the memory probes' share);
- ``sweep CPU / reference CPU``: what the sweep costs in CPU (memory probes included), less
  sensitive to other load on the machine than wall time;
- the per-cell compress and decompress times of the sweep against the pinned reference's
  (median over cells of the ratio of each cell's median sample): running a process per core
  must not change them beyond their noise (the unpinned reference's are shown for scale: a
  hand-off between cores costs more CPU than one on a core).

The load average before and after is printed: on a shared machine wall time says little, CPU
time more. The exit status is 1 when the wall-time goal is missed. Not part of the test suite
(it takes minutes: the unpinned reference alone is every cell's passes on one core).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO / "corpora" / "websockets-commits.jsonl"
GOAL_WALL = 0.60  # wsztune run --server ws wall / the same passes' CPU in one node process

sys.path.insert(0, str(REPO))  # this checkout's wsztune, installed or not


def children_cpu() -> float:
    """CPU seconds (user + system) of every finished child and grandchild so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    """Measure, print the ratios, exit 1 when the wall-time goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--window-bits", default="9-15")
    parser.add_argument("--mem-level", default="1-9")
    args = parser.parse_args()

    from wsztune import corpus
    from wsztune.codec import Setting
    from wsztune.nodejs import backend as node
    from wsztune.results import load

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    print(f"cores {len(os.sched_getaffinity(0))}, load average before {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="wsztune-bench-node-") as tmp:
        output = Path(tmp) / "run.json"
        command = [
            sys.executable, "-m", "wsztune", "run", str(args.corpus), "--server", "ws",
            "--window-bits", args.window_bits, "--mem-level", args.mem_level,
            "--quiet", "-o", str(output),
        ]  # fmt: skip
        cpu, started = children_cpu(), time.perf_counter()
        subprocess.run(command, check=True, env=env)
        sweep_wall, sweep_cpu = time.perf_counter() - started, children_cpu() - cpu
        run = load(output)

        timing = run.meta["timing"]
        plan = {
            "repeat": timing["repeat"],
            "warmup": timing["warmup"],
            "min_sample_seconds": timing["min_sample_seconds"],
        }
        loaded = corpus.load(args.corpus)
        streams = loaded.streams()
        cells = [
            node.NodeJob.of(
                index,
                Setting(
                    cell["window_bits"],
                    cell["mem_level"],
                    level=cell["level"],
                    strategy=cell["strategy"],
                    context_takeover=cell["context_takeover"],
                    threshold=cell.get("threshold", 0),
                ),
            )
            for index, cell in enumerate(run.cells)
        ]
        directions = [s.direction for s in streams]
        with node.corpus_file([stream.payloads for stream in streams]) as path:
            references = {}
            for name, pin in (("reference", False), ("pinned reference", True)):
                cpu, started = children_cpu(), time.perf_counter()
                cells_alone = node.run_cells(path, directions, cells, timing=plan, jobs=1, pin=pin)
                references[name] = (
                    cells_alone,
                    time.perf_counter() - started,
                    children_cpu() - cpu,
                )

    ratios: dict[tuple[str, str], list[float]] = {}
    for name, (alone_cells, _, _) in references.items():
        for cell, alone in zip(run.cells, alone_cells, strict=True):
            for kind in ("compress", "decompress"):
                ratios.setdefault((name, kind), []).append(
                    cell[f"{kind}_seconds"] / statistics.median(getattr(alone, f"{kind}_samples"))
                )
    print(f"load average after {os.getloadavg()}")
    print(f"{len(cells)} cells, {loaded.describe()['name']}, {len(loaded.messages)} messages")
    print(f"wsztune run --server ws: wall {sweep_wall:.1f} s, CPU {sweep_cpu:.1f} s")
    for name, (_, wall, cpu) in references.items():
        print(f"{name}, one node process: CPU {cpu:.1f} s (wall {wall:.1f} s)")
    reference_cpu = references["reference"][2]
    pinned_cpu = references["pinned reference"][2]
    wall_ratio = sweep_wall / reference_cpu
    verdict = "met" if wall_ratio <= GOAL_WALL else "NOT met"
    print(f"wall / reference CPU: {wall_ratio:.3f} (goal <= {GOAL_WALL}: {verdict})")
    print(f"wall / pinned reference CPU: {sweep_wall / pinned_cpu:.3f}")
    print(f"sweep CPU / reference CPU: {sweep_cpu / reference_cpu:.3f}")
    print(f"sweep CPU / pinned reference CPU: {sweep_cpu / pinned_cpu:.3f}")
    for (name, kind), values in ratios.items():
        quartiles = statistics.quantiles(values, n=4)
        print(
            f"{kind} time per cell, sweep / {name}: median {statistics.median(values):.3f}"
            f" (quartiles {quartiles[0]:.3f} to {quartiles[2]:.3f})"
        )
    print(
        json.dumps(
            {
                "wall_ratio": wall_ratio,
                "wall_ratio_pinned": sweep_wall / pinned_cpu,
                "cpu_ratio": sweep_cpu / reference_cpu,
            }
        )
    )
    return 0 if wall_ratio <= GOAL_WALL else 1


if __name__ == "__main__":
    sys.exit(main())
