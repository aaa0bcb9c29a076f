"""Benchmark of ``wsztune run`` against the physical limit of a sweep: zlib itself.

Run from anywhere as ``python bench/sweep.py [CORPUS]``. In one go, on one machine, it measures

1. ``wsztune run --jobs 1``, twice in a row ``wsztune run --jobs <cores>``, and
   ``wsztune run --no-timing --jobs <cores>`` (subprocesses, ``--quiet``, wall clock around each:
   interpreter start, imports and corpus load included);
2. the limit: a minimal single-process loop that does, for every cell, exactly as many whole-corpus
   compress and decompress passes as the ``--jobs 1`` run timed (read from its results file:
   warm-up and ``timing_repeat`` x ``timing_loops_*``; the memory observation, a few messages
   per cell, is not counted), with the codec calls and the permessage-deflate framing and nothing
   else; and the same loop doing one compress and one decompress pass per cell, the limit of
   ``--no-timing``;
3. ``python -m wsztune --help`` against ``python -c pass`` (median of several runs each);

and prints ratios, not absolute times, each against its goal. The exit status is 1 when a goal
is missed, so the script can gate a release; it is not part of the test suite (it takes minutes).
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
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO / "corpora" / "websockets-commits.jsonl"
REFERENCE = (12, 5)  # websockets' serve() default: every cell's time is compared with this one

# The goals of issue 5, for a 2-core machine and the commits corpus.
GOAL_OVERHEAD = 1.25  # --jobs 1 wall / limit
GOAL_SCALING = 0.60  # --jobs N wall / --jobs 1 wall
GOAL_CONSISTENCY = 0.05  # median over cells of |r1 / r2 - 1|, r = compress time / 12:5's
GOAL_HELP_MS = 150.0  # wsztune --help - python -c pass, milliseconds
# The goals of issue 12, same machine and corpus, jobs = 2 cores.
GOAL_NO_TIMING = 0.60  # --no-timing --jobs N wall / one compress + one decompress pass per cell
GOAL_PARALLEL = 0.58  # --jobs N wall (slower of two) / the limit (warm-up + timed passes)

sys.path.insert(0, str(REPO))  # this checkout's wsztune, installed or not


def wsztune_env() -> dict[str, str]:
    """The environment for subprocesses: this checkout first on the import path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def children_cpu() -> float:
    """CPU seconds (user + system) of every finished child and grandchild so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(command: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one subprocess, which must succeed; CPU includes its workers."""
    cpu = children_cpu()
    started = time.perf_counter()
    completed = subprocess.run(command, env=wsztune_env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"bench: {' '.join(command)} failed:\n{completed.stderr}")
    return elapsed, children_cpu() - cpu


def wsztune_run(corpus: Path, jobs: int, output: Path, extra: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of ``wsztune run`` on ``corpus`` with ``jobs`` workers."""
    command = [sys.executable, "-m", "wsztune", "run", str(corpus), "--quiet"]
    command += ["--jobs", str(jobs), "--output", str(output), *extra]
    return timed_run(command)


# The limit ----------------------------------------------------------------------------------------


def limit_seconds(
    corpus: Path, results_file: Path, one_pass: bool = False
) -> tuple[float, float, int, int]:
    """Seconds the bare codec loop takes for the passes the run in ``results_file`` timed.

    With ``one_pass``, one compress and one decompress pass per cell instead (what a
    ``--no-timing`` run cannot do with less). Returns (wall seconds, CPU seconds, compress
    passes, decompress passes), passes summed over cells.
    """
    from wsztune.corpus import load  # the same messages and streams, loaded outside the timing

    document = json.loads(results_file.read_text())
    warmup = document["meta"]["timing"]["warmup"]
    # Plain lists of bytes: the fastest a Python loop can hand payloads to zlib.
    streams = [(list(s.payloads), s.direction) for s in load(corpus, None).streams()]
    compressobj, decompressobj = zlib.compressobj, zlib.decompressobj
    deflated, sync, tail = zlib.DEFLATED, zlib.Z_SYNC_FLUSH, b"\x00\x00\xff\xff"
    total_compress = total_decompress = 0
    started, started_cpu = time.perf_counter(), time.process_time()
    for cell in document["cells"]:
        if not cell["context_takeover"]:
            sys.exit("bench: the limit loop models context takeover only; sweep with it on")
        level, mem_level = cell["level"], cell["mem_level"]
        strategy = {"default": 0, "filtered": 1, "huffman": 2, "rle": 3, "fixed": 4}[
            cell["strategy"]
        ]
        bits = {"server": cell["window_bits"], "client": cell["client_window_bits"]}
        # warm-up + timed samples, as wsztune does them (its memory observation works on a few
        # messages: it is not a pass).
        compress_passes = warmup + cell["timing_repeat"] * cell["timing_loops_compress"]
        decompress_passes = warmup + cell["timing_repeat"] * cell["timing_loops_decompress"]
        if one_pass:
            compress_passes = decompress_passes = 1
        total_compress += compress_passes
        total_decompress += decompress_passes
        frames_by_stream: list[tuple[list[bytes], int]] = []
        for index in range(compress_passes):
            for payloads, direction in streams:
                wbits = -max(9, bits[direction])
                encoder = compressobj(level, deflated, wbits, mem_level, strategy)
                frames = [(encoder.compress(p) + encoder.flush(sync))[:-4] for p in payloads]
                if index == 0:  # the first pass's frames are what the decompress passes inflate
                    frames_by_stream.append((frames, wbits))
        for _ in range(decompress_passes):
            for frames, wbits in frames_by_stream:
                decompress = decompressobj(wbits).decompress
                for frame in frames:
                    decompress(frame + tail)
    wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    return wall, cpu, total_compress, total_decompress


# Consistency --------------------------------------------------------------------------------------


def relative_times(results_file: Path) -> dict[tuple, float]:
    """Each cell's compress time divided by the 12:5 cell's, keyed by the cell's setting."""
    from wsztune.results import cell_setting_key

    cells = json.loads(results_file.read_text())["cells"]

    reference = [c for c in cells if (c["window_bits"], c["mem_level"]) == REFERENCE]
    if not reference:
        sys.exit("bench: the sweep must include the 12:5 cell (the reference)")
    base = reference[0]["compress_seconds"]
    return {cell_setting_key(cell): cell["compress_seconds"] / base for cell in cells}


def consistency(first: Path, second: Path) -> tuple[float, float]:
    """(median, maximum) over cells of |r1 / r2 - 1| between two runs."""
    r1, r2 = relative_times(first), relative_times(second)
    deviations = [abs(r1[key] / r2[key] - 1) for key in r1 if key in r2]
    return statistics.median(deviations), max(deviations)


# Start-up -----------------------------------------------------------------------------------------


def median_wall(command: list[str], runs: int) -> float:
    """Median wall seconds of ``runs`` runs of ``command`` (after one untimed run for the cache)."""
    timed_run(command)
    return statistics.median(timed_run(command)[0] for _ in range(runs))


# Main ---------------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    """PASS or FAIL, for a goal line."""
    return "PASS" if ok else "FAIL"


def main() -> int:
    """Run the benchmark; exit status 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "corpus",
        nargs="?",
        type=Path,
        default=DEFAULT_CORPUS,
        help="Corpus to sweep (default: corpora/websockets-commits.jsonl in the repository).",
    )
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="Workers of the parallel runs."
    )
    parser.add_argument("--help-runs", type=int, default=15, help="Runs of each start-up command.")
    parser.add_argument("--keep", type=Path, help="Keep the results files in this directory.")
    parser.epilog = "Options after -- go to every wsztune run, e.g. -- --repeat 10."
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:cut])
    extra = argv[cut + 1 :]
    if not args.corpus.exists():
        print(f"bench: no corpus at {args.corpus}; pass CORPUS", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="wsztune-bench-") as scratch:
        out = args.keep or Path(scratch)
        out.mkdir(parents=True, exist_ok=True)
        one, first, second = out / "jobs1.json", out / "jobsN-a.json", out / "jobsN-b.json"
        untimed = out / "jobsN-no-timing.json"
        print(f"corpus: {args.corpus}  cores: {os.cpu_count()}  python: {sys.version.split()[0]}")
        load_before = os.getloadavg()[0]
        print(f"wsztune run options: --jobs 1 / --jobs {args.jobs} {' '.join(extra)}".rstrip())

        wall_one, cpu_one = wsztune_run(args.corpus, 1, one, extra)
        wall_first, cpu_first = wsztune_run(args.corpus, args.jobs, first, extra)
        wall_second, cpu_second = wsztune_run(args.corpus, args.jobs, second, extra)
        wall_untimed, cpu_untimed = wsztune_run(
            args.corpus, args.jobs, untimed, [*extra, "--no-timing"]
        )
        limit, limit_cpu, compress_passes, decompress_passes = limit_seconds(args.corpus, one)
        one_pass, one_pass_cpu, _, _ = limit_seconds(args.corpus, one, one_pass=True)
        median_dev, max_dev = consistency(first, second)
        cells = len(json.loads(one.read_text())["cells"])
        python_pass = median_wall([sys.executable, "-c", "pass"], args.help_runs)
        wsztune_help = median_wall([sys.executable, "-m", "wsztune", "--help"], args.help_runs)

    load_after = os.getloadavg()[0]
    overhead = wall_one / limit
    scaling = max(wall_first, wall_second) / wall_one
    parallel = max(wall_first, wall_second) / limit
    no_timing = wall_untimed / one_pass
    help_ms = (wsztune_help - python_pass) * 1000
    print()
    print(
        f"limit: {compress_passes} compress + {decompress_passes} decompress whole-corpus "
        f"passes over {cells} cells, one process"
    )
    print(f"wall seconds: limit {limit:.2f}, --jobs 1 {wall_one:.2f}, ", end="")
    print(f"--jobs {args.jobs} {wall_first:.2f} then {wall_second:.2f}; ", end="")
    print(f"one pass per cell {one_pass:.2f}, --no-timing --jobs {args.jobs} {wall_untimed:.2f}")
    # CPU seconds (workers included) do not count time spent waiting for a core another program
    # holds: when the machine is busy they tell what the wall figures can no longer.
    print(f"CPU seconds:  limit {limit_cpu:.2f}, --jobs 1 {cpu_one:.2f}, ", end="")
    print(f"--jobs {args.jobs} {cpu_first:.2f} then {cpu_second:.2f}; ", end="")
    print(f"one pass {one_pass_cpu:.2f}, --no-timing {cpu_untimed:.2f}", end="")
    print(f"  (--jobs 1 / limit in CPU time: {cpu_one / limit_cpu:.3f})")
    # Other work on the machine slows wall times (not CPU-time samples): rerun if this is high.
    print(f"load average (1 min): {load_before:.2f} before, {load_after:.2f} after")
    print()
    goals = [
        (
            f"--jobs 1 / limit                     {overhead:6.3f}  (goal <= {GOAL_OVERHEAD})",
            overhead <= GOAL_OVERHEAD,
        ),
        (
            f"--jobs {args.jobs} / --jobs 1 (slower of two)  {scaling:6.3f}  "
            f"(goal <= {GOAL_SCALING})",
            scaling <= GOAL_SCALING,
        ),
        (
            f"compress time / 12:5, run a vs run b (--jobs {args.jobs}): median |r1/r2 - 1| "
            f"{median_dev:.1%} (max {max_dev:.1%})  (goal <= {GOAL_CONSISTENCY:.0%})",
            median_dev <= GOAL_CONSISTENCY,
        ),
        (
            f"--jobs {args.jobs} (slower of two) / limit       {parallel:6.3f}  "
            f"(goal <= {GOAL_PARALLEL})",
            parallel <= GOAL_PARALLEL,
        ),
        (
            f"--no-timing --jobs {args.jobs} / one pass per cell  {no_timing:6.3f}  "
            f"(goal <= {GOAL_NO_TIMING})",
            no_timing <= GOAL_NO_TIMING,
        ),
        (
            f"wsztune --help - python -c pass      {help_ms:6.0f} ms  "
            f"(goal <= {GOAL_HELP_MS:.0f} ms; {wsztune_help * 1000:.0f} vs "
            f"{python_pass * 1000:.0f} ms, median of {args.help_runs})",
            help_ms <= GOAL_HELP_MS,
        ),
    ]
    for text, ok in goals:
        print(f"{verdict(ok)}  {text}")
    return 0 if all(ok for _, ok in goals) else 1


if __name__ == "__main__":
    sys.exit(main())
