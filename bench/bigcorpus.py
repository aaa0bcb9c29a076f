"""Peak memory of ``wsztune run`` on a big generated JSONL corpus (200 MB by default).

Run as ``python bench/bigcorpus.py [--size-mb 200]``. It writes the corpus to a temporary
directory (removed afterwards unless ``--keep``), then measures, with the kernel's own high-water
mark (``VmHWM`` in ``/proc/<pid>/status``, Linux), the peak resident memory of

1. ``wsztune run --window-bits 12 --mem-level 5 --repeat 1``: one cell, so wsztune measures it in
   its main process (no workers): corpus, codec and results all in one process;
2. the same with ``--mem-level 4-5 --jobs 2``: two cells, two worker processes; the main process
   then only holds the corpus, and each worker its own view of it (forked) plus one cell's work.

Goal (issue 5): every wsztune process stays under 1.5 x corpus size + 150 MB. It applies to each
process, main and workers alike, because each is what a user must have free per process; the sum
over processes is printed too (RSS counts pages that forked workers still share with the main
process, so the sum overstates what the machine really gives up).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
MB = 1 << 20


def generate(path: Path, size: int, seed: int = 5) -> tuple[int, int]:
    """Write a JSONL corpus of about ``size`` bytes; return (bytes, messages).

    Three kinds of messages, as a busy server sends them: short chat events (~100-200 B), presence
    updates (~80 B) and API documents (1-6 KB), all compact JSON with realistic repetition.
    """
    rng = random.Random(seed)
    words = [
        *("deploy", "merge", "review", "ship", "rollback", "build", "test", "cache", "queue"),
        *("shard", "replica", "index", "latency", "error", "retry", "timeout", "socket"),
        *("frame", "window", "memory", "level", "stream", "server", "client"),
    ]
    users = [f"user-{n:05d}" for n in range(2000)]
    written = messages = 0
    with path.open("wb") as out:
        batch: list[bytes] = []
        while written < size:
            kind = rng.random()
            seq = messages
            if kind < 0.55:
                doc: dict[str, object] = {
                    "type": "message",
                    "seq": seq,
                    "user": rng.choice(users),
                    "channel": f"ch-{rng.randrange(300)}",
                    "text": " ".join(rng.choices(words, k=rng.randint(3, 25))),
                    "ts": 1_700_000_000 + seq,
                }
            elif kind < 0.8:
                doc = {
                    "type": "presence",
                    "seq": seq,
                    "user": rng.choice(users),
                    "status": rng.choice(["online", "away", "offline"]),
                }
            else:
                doc = {
                    "type": "order",
                    "seq": seq,
                    "items": [
                        {
                            "id": f"item-{rng.randrange(10**6):06d}",
                            "price": round(rng.uniform(1, 500), 2),
                            "tags": rng.sample(words, 3),
                            "url": f"https://api.example.test/items/{rng.randrange(10**6)}",
                        }
                        for _ in range(rng.randint(8, 40))
                    ],
                }
            line = json.dumps(doc, separators=(",", ":")).encode() + b"\n"
            batch.append(line)
            written += len(line)
            messages += 1
            if len(batch) >= 10_000:
                out.write(b"".join(batch))
                batch.clear()
        out.write(b"".join(batch))
    return written, messages


def high_water_mark(pid: int) -> int | None:
    """Peak RSS of a live process in bytes (``VmHWM``), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def measure(command: list[str]) -> tuple[float, int, dict[int, int], int]:
    """Run ``command``; return (wall seconds, main peak, {worker pid: peak}, peak of the sum).

    Peaks of single processes are the kernel's high-water marks, read every 20 ms while the
    processes live (they only grow, so the last reading is the peak up to ~20 ms before exit);
    the sum is of RSS samples and may miss a short spike.
    """
    env = dict(os.environ, PYTHONPATH=str(REPO))
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    main = psutil.Process(process.pid)
    peaks: dict[int, int] = {}
    tree_peak = 0
    done = threading.Event()

    def poll() -> None:
        nonlocal tree_peak
        while not done.is_set():
            try:
                members = [main, *main.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            total = 0
            for member in members:
                mark = high_water_mark(member.pid)
                if mark is not None:
                    peaks[member.pid] = max(peaks.get(member.pid, 0), mark)
                with contextlib.suppress(psutil.NoSuchProcess):
                    total += member.memory_info().rss
            tree_peak = max(tree_peak, total)
            time.sleep(0.02)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    _, stderr = process.communicate()
    wall = time.perf_counter() - started
    done.set()
    poller.join()
    if process.returncode != 0:
        sys.exit(f"bigcorpus: {' '.join(command)} failed:\n{stderr.decode(errors='replace')}")
    main_peak = peaks.pop(process.pid, 0)
    return wall, main_peak, peaks, tree_peak


def main() -> int:
    """Generate the corpus, measure both runs, print peaks against the goal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=200, help="Corpus size in MiB.")
    parser.add_argument("--keep", type=Path, help="Write the corpus here and keep it.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wsztune-big-") as scratch:
        corpus = args.keep or Path(scratch) / "big.jsonl"
        if not corpus.exists():
            size, messages = generate(corpus, int(args.size_mb * MB))
        else:
            size, messages = corpus.stat().st_size, sum(1 for _ in corpus.open("rb"))
        goal = 1.5 * size + 150 * MB
        print(f"corpus: {corpus}, {size / MB:.1f} MiB, {messages:,} messages")
        print(f"goal per process: 1.5 x {size / MB:.1f} + 150 = {goal / MB:.0f} MiB")
        base = [sys.executable, "-m", "wsztune", "run", str(corpus), "--quiet"]
        base += ["--window-bits", "12", "--repeat", "1", "--output", str(Path(scratch) / "r.json")]
        ok = True
        for label, extra in (
            ("1 cell (in the main process)", ["--mem-level", "5"]),
            ("2 cells, --jobs 2", ["--mem-level", "4-5", "--jobs", "2"]),
        ):
            wall, main_peak, workers, tree = measure(base + extra)
            print(f"\n{label}: {wall:.1f} s wall")
            rows = [("main process", main_peak)]
            rows += [(f"worker {n}", peak) for n, peak in enumerate(sorted(workers.values()), 1)]
            for name, peak in rows:
                print(f"  {name:14} peak RSS {peak / MB:7.1f} MiB  ({peak / size:.2f} x corpus)")
                ok &= peak <= goal
            if workers:
                print(f"  sum over processes {tree / MB:7.1f} MiB (sampled; shared pages twice)")
        print(f"\n{'PASS' if ok else 'FAIL'}  every process <= {goal / MB:.0f} MiB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
