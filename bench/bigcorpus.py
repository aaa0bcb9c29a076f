"""Memory of ``wsztune run`` on a big generated JSONL corpus (200 MiB by default), 1, 2, 4 jobs.

Run as ``python bench/bigcorpus.py [--size-mb 200]``. It writes the corpus to a temporary
directory (removed afterwards unless ``--keep``), then runs
``wsztune run --window-bits 12 --mem-level 2-5 --repeat 1`` (four cells, so that four workers
all get one) with ``--jobs`` 1, 2 and 4, and samples, every 50 ms while it runs, the
proportional set size (PSS, psutil's ``memory_full_info().pss``) of every wsztune process: the
main process and its workers. PSS splits each page shared between processes among them, so the
sum over processes is what the whole run really takes from the machine (RSS would count the
corpus pages that forked workers share with the main process once per process).

Goal (issue 12): the peak of that sum stays within 1.3 x corpus size + 250 MiB, and flat as jobs
grow: one copy of the corpus, shared by every worker. With ``--jobs 1`` the cells are measured in
the main process itself. The kernel's peak RSS of each process (``VmHWM``) is printed too.

``--messages N`` makes the corpus N very big messages instead (issue 17: one 2 GiB line peaked
at 3.9 x the input): the same documents, joined into N lines of about size / N bytes each, each
line one JSON array, in a ``.txt`` file (``lines`` format: wsztune parses JSON lines only up to
64 MiB, and a text message is swept the same whether it is JSON or not). Same goal, same
figures: ``python bench/bigcorpus.py --size-mb 1024 --messages 1 --jobs 1 2``.
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
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
MB = 1 << 20


def generate(path: Path, size: int, seed: int = 5, lines: int | None = None) -> tuple[int, int]:
    """Write a JSONL corpus of about ``size`` bytes; return (bytes, messages). With ``lines``,
    that many lines instead, each a JSON array of the documents (few, very big messages).

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
            line = json.dumps(doc, separators=(",", ":")).encode()
            if lines is None:
                line += b"\n"
            else:
                # Documents of one big message: "[" before the first, "," or "]\n" after each.
                first = written == 0 or written >= (messages + 1) * size // lines
                if first and written:
                    batch.append(b"]\n")
                    messages += 1
                line = (b"[" if first else b",") + line
            batch.append(line)
            written += len(line)
            messages += lines is None
            if len(batch) >= 10_000:
                out.write(b"".join(batch))
                batch.clear()
        if lines is not None:
            batch.append(b"]\n")
            messages += 1
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


@dataclass
class Usage:
    """What one run took: wall time, peak of the PSS sum, and each process's peak RSS."""

    wall: float
    pss_peak: int
    processes: int
    rss_peaks: dict[int, int]
    main_pid: int


def measure(command: list[str]) -> Usage:
    """Run ``command`` and sample the PSS of it and its children every 50 ms until it exits."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    main = psutil.Process(process.pid)
    rss_peaks: dict[int, int] = {}
    pss_peak = 0
    most = 0
    done = threading.Event()

    def poll() -> None:
        nonlocal pss_peak, most
        while not done.is_set():
            try:
                members = [main, *main.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            total = 0
            for member in members:
                mark = high_water_mark(member.pid)
                if mark is not None:
                    rss_peaks[member.pid] = max(rss_peaks.get(member.pid, 0), mark)
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    total += member.memory_full_info().pss
            pss_peak = max(pss_peak, total)
            most = max(most, len(members))
            time.sleep(0.05)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    _, stderr = process.communicate()
    wall = time.perf_counter() - started
    done.set()
    poller.join()
    if process.returncode != 0:
        sys.exit(f"bigcorpus: {' '.join(command)} failed:\n{stderr.decode(errors='replace')}")
    return Usage(wall, pss_peak, most, rss_peaks, process.pid)


def main() -> int:
    """Generate the corpus, measure a run per --jobs value, print the peaks against the goal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=200, help="Corpus size in MiB.")
    parser.add_argument(
        "--messages", type=int, help="Few very big messages: this many lines of size / N each."
    )
    parser.add_argument("--keep", type=Path, help="Write the corpus here and keep it.")
    parser.add_argument(
        "--jobs", type=int, nargs="+", default=[1, 2, 4], help="--jobs values to measure."
    )
    parser.add_argument(
        "extra", nargs="*", help="More wsztune run options, after --, e.g. -- --no-timing."
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wsztune-big-") as scratch:
        name = "big.jsonl" if args.messages is None else "big.txt"
        corpus = args.keep or Path(scratch) / name
        if not corpus.exists():
            size, messages = generate(corpus, int(args.size_mb * MB), lines=args.messages)
        else:
            size, messages = corpus.stat().st_size, sum(1 for _ in corpus.open("rb"))
        goal = 1.3 * size + 250 * MB
        print(f"corpus: {corpus}, {size / MB:.1f} MiB, {messages:,} messages")
        print(
            f"goal: sum of PSS over wsztune's processes <= 1.3 x {size / MB:.1f} + 250 "
            f"= {goal / MB:.0f} MiB, at every --jobs"
        )
        base = [sys.executable, "-m", "wsztune", "run", str(corpus), "--quiet"]
        base += ["--window-bits", "12", "--mem-level", "2-5", "--repeat", "1"]
        base += ["--output", str(Path(scratch) / "r.json"), *args.extra]
        ok = True
        peaks = []
        for jobs in args.jobs:
            usage = measure([*base, "--jobs", str(jobs)])
            peaks.append(usage.pss_peak)
            ok &= usage.pss_peak <= goal
            workers = sorted(peak for pid, peak in usage.rss_peaks.items() if pid != usage.main_pid)
            print(
                f"\n--jobs {jobs}: {usage.wall:.1f} s wall, {usage.processes} process(es)\n"
                f"  peak sum of PSS {usage.pss_peak / MB:7.1f} MiB "
                f"({usage.pss_peak / size:.2f} x corpus)  "
                f"{'PASS' if usage.pss_peak <= goal else 'FAIL'}"
            )
            main_rss = usage.rss_peaks.get(usage.main_pid, 0)
            print(f"  peak RSS: main {main_rss / MB:.1f}", end="")
            print("".join(f", worker {peak / MB:.1f}" for peak in workers) + " MiB")
        growth = (max(peaks) - min(peaks)) / MB
        print(
            f"\n{'PASS' if ok else 'FAIL'}  sum of PSS <= {goal / MB:.0f} MiB at --jobs "
            f"{', '.join(map(str, args.jobs))}; from the least to the most: +{growth:.1f} MiB"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
