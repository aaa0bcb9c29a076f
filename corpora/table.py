"""Make the corpus table of corpora/README.md with wsztune itself.

For each bundled corpus: ``wsztune corpus stats --json`` for counts and sizes, ``wsztune run`` for
the sweep, and ``wsztune recommend --max-memory 64KiB --json`` for the savings at 12:5 and at the
recommended setting. Prints a markdown table. Takes a couple of minutes (six full sweeps).

    python corpora/table.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

CORPORA = (
    "chat.records.jsonl",
    "market.records.jsonl",
    "game.records.jsonl",
    "api.jsonl",
    "chat.har",
    "websockets-commits.jsonl",
)
BUDGET = "64KiB"


def wsztune(*args: str) -> str:
    """Run the wsztune command line (this interpreter's) and return its stdout."""
    command = [sys.executable, "-m", "wsztune", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def main() -> None:
    """Print the table."""
    here = Path(__file__).resolve().parent
    print(
        "| corpus | messages | connections | server / client messages | binary | median bytes "
        f"| p95 bytes | savings at 12:5 | recommended under {BUDGET} | savings there |"
    )
    print("|---|--:|--:|---|--:|--:|--:|--:|---|--:|")
    with tempfile.TemporaryDirectory() as scratch:
        for name in CORPORA:
            path = str(here / name)
            stats = json.loads(wsztune("corpus", "stats", path, "--json"))
            run = str(Path(scratch) / f"{name}.json")
            wsztune("run", path, "--quiet", "-o", run)
            decision = json.loads(
                wsztune("recommend", "--results", run, "--max-memory", BUDGET, "--json")
            )
            sizes = stats["sizes"]
            print(
                f"| `{name}` | {stats['messages']:,} | {stats['connections']} "
                f"| {stats['server_messages']:,} / {stats['client_messages']:,} "
                f"| {stats['binary_messages']:,} | {sizes['median']:,.0f} | {sizes['p95']:,} "
                f"| {decision['reference']['savings']:.1%} "
                f"| {decision['window_bits']}:{decision['mem_level']} "
                f"| {decision['savings']:.1%} |"
            )


if __name__ == "__main__":
    main()
