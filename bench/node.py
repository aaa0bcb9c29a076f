"""Benchmark of ``wsztune run --server ws`` (the node codec) against one node process.

Run from anywhere as ``python bench/node.py [CORPUS] [--window-bits 9-15 --mem-level 1-9]``.
In one go, on one machine, side by side, it measures

1. ``wsztune run CORPUS --server ws`` (a subprocess, ``--quiet``; wall clock and CPU time of
   it and every node process it starts: interpreter start, memory probes, timing passes);
2. the reference: the same cells' passes (the run's own timing plan: warm-up, repeat, minimum
   sample time) measured one cell after another in ONE node process, as before issue 19, and
   the CPU time that process used (``getrusage`` of its children);

and prints, each against its goal:

- ``wall / reference CPU``: issue 19's goal, <= 0.60 on 2 cores (the sweep must keep the cores
  busy: one node process alone keeps one about half busy);
- ``sweep CPU / reference CPU``: what running the processes side by side costs in CPU (memory
  probes included), less sensitive to other load on the machine than wall time;
- the per-cell compress and decompress times of the sweep against the reference's (median
  over cells of the ratio of each cell's median sample): interleaving must not change them
  beyond their noise.

The load average before and after is printed: on a shared machine wall time says little, CPU
time more. The exit status is 1 when the wall-time goal is missed. Not part of the test suite
(it takes minutes: the reference alone is every cell's passes on one core).
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
        with node.corpus_file([stream.payloads for stream in streams]) as path:
            cpu, started = children_cpu(), time.perf_counter()
            reference = node.run_cells(
                path, [s.direction for s in streams], cells, timing=plan, jobs=1
            )
            reference_wall, reference_cpu = time.perf_counter() - started, children_cpu() - cpu

    ratios = {"compress": [], "decompress": []}
    for cell, alone in zip(run.cells, reference, strict=True):
        ratios["compress"].append(
            cell["compress_seconds"] / statistics.median(alone.compress_samples)
        )
        ratios["decompress"].append(
            cell["decompress_seconds"] / statistics.median(alone.decompress_samples)
        )
    print(f"load average after {os.getloadavg()}")
    print(f"{len(cells)} cells, {loaded.describe()['name']}, {len(loaded.messages)} messages")
    print(f"wsztune run --server ws: wall {sweep_wall:.1f} s, CPU {sweep_cpu:.1f} s")
    print(f"reference, one node process: CPU {reference_cpu:.1f} s (wall {reference_wall:.1f} s)")
    wall_ratio = sweep_wall / reference_cpu
    verdict = "met" if wall_ratio <= GOAL_WALL else "NOT met"
    print(f"wall / reference CPU: {wall_ratio:.3f} (goal <= {GOAL_WALL}: {verdict})")
    print(f"sweep CPU / reference CPU: {sweep_cpu / reference_cpu:.3f}")
    for name, values in ratios.items():
        print(
            f"{name} time per cell, sweep / one process: median {statistics.median(values):.3f}"
            f" (quartiles {statistics.quantiles(values, n=4)[0]:.3f} to "
            f"{statistics.quantiles(values, n=4)[2]:.3f})"
        )
    print(json.dumps({"wall_ratio": wall_ratio, "cpu_ratio": sweep_cpu / reference_cpu}))
    return 0 if wall_ratio <= GOAL_WALL else 1


if __name__ == "__main__":
    sys.exit(main())
