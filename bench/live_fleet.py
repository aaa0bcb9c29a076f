"""How long ``wsztune live`` takes at fleet scale, and how much memory it uses in all.

    python bench/live_fleet.py                       # 10,000 connections, websockets, 12:5
    python bench/live_fleet.py --connections 2000 --setting 15:8 --churn 3
    python bench/live_fleet.py --server coder --setting none

Runs ``wsztune live --connections N --setting S --json`` on the bundled light fleet corpus
(corpora/fleet-light.records.jsonl: 6 messages each way per connection) as a user would, and
prints its wall time, the peak RSS of the fleet it ran (the server and every client process
together, sampled by the check itself every quarter second), the peak RSS of the ``wsztune``
process itself (VmHWM: the model and the driver), their sum, and the check's own figures: RSS
growth per connection against the resident figure. The goal (issue 24): 10,000 connections at
12:5 in under 5 minutes on 2 cores, under 8 GiB in all. A loaded machine slows the run but
does not change what pages are written; the load average at the start is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wsztune.live.fleet import status_bytes  # noqa: E402

CORPUS = ROOT / "corpora" / "fleet-light.records.jsonl"
GOAL_SECONDS = 300
GOAL_BYTES = 8 * 2**30


def main(argv: Sequence[str] | None = None) -> int:
    """Run the check once and print its time and memory against the goal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--setting", default="12:5", help="WB:ML, or none (Go servers)")
    parser.add_argument("--server", default="websockets")
    parser.add_argument("--churn", type=int, default=0)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args(argv)
    command = [
        sys.executable, "-m", "wsztune", "live", str(args.corpus), "--server", args.server,
        "--connections", str(args.connections), "--churn", str(args.churn), "--json",
    ]  # fmt: skip
    if args.setting != "none":  # Go's flate has no windowBits or memLevel
        command += ["--setting", args.setting]
    print(f"# load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=ROOT)  # fmt: skip
    driver = 0
    while process.poll() is None:  # the wsztune process's own peak (VmHWM), while it lives
        driver = max(driver, _peak(process.pid))
        time.sleep(0.5)
    stdout, stderr = process.communicate()
    seconds = time.monotonic() - started
    if process.returncode not in (0, 1, 3):
        print(stderr.strip() or stdout.strip(), file=sys.stderr)
        return process.returncode
    data = json.loads(stdout)
    fleet = data["fleet"]
    total = fleet["peak_fleet_rss"] + driver
    print(f"connections {data['connections']:,}, {args.server} {data['window_bits']}:"
          f"{data['mem_level']}, churn {fleet['churn']}: verdict {data['verdict']}")  # fmt: skip
    print(f"time {seconds:.0f} s (goal < {GOAL_SECONDS} s): {_met(seconds < GOAL_SECONDS)}")
    print(
        f"peak memory {total / 2**30:.2f} GiB in all (fleet {fleet['peak_fleet_rss'] / 2**30:.2f}"
        f", server {fleet['peak_server_rss'] / 2**30:.2f}, wsztune {driver / 2**30:.2f}) "
        f"(goal < {GOAL_BYTES / 2**30:.0f} GiB): {_met(total < GOAL_BYTES)}"
    )
    low, high = fleet["interval"]
    print(
        f"RSS/conn, compression {data['live_connection_memory'] / 1024:.1f} KiB "
        f"(95%: {low / 1024:.1f} to {high / 1024:.1f}), resident model "
        f"{data['model_connection_memory'] / 1024:.1f} KiB "
        f"({data['memory_difference']:+.1%}), allocation {fleet['model_allocation'] / 1024:.1f}"
        f" KiB, uncompressed {data['live_baseline_connection_memory'] / 1024:.1f} KiB"
    )
    for round_, value in enumerate(fleet["plateau"][1:], start=1):
        print(f"plateau after replacement {round_}: {value / 1024:.1f} KiB per connection")
    return 0


def _peak(pid: int) -> int:
    """VmHWM of ``pid``: its peak RSS so far, in bytes (0 once it is gone)."""
    return status_bytes(pid, "VmHWM")


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


if __name__ == "__main__":
    sys.exit(main())
