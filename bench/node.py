"""Benchmark of ``wsztune run --server ws`` (the node codec) against the zlib sweep and one node
process.

Run from anywhere as ``python bench/node.py [CORPUS ...] [--window-bits 9-15 --mem-level 1-9]``
(default: the commits corpus, ``corpora/api.jsonl`` and ``corpora/chat.records.jsonl``, the
corpora issue 30's goals name, then the held-out ``corpora/game.records.jsonl``,
``corpora/market.records.jsonl`` and ``corpora/chat.har``, which no figure of the node codec was
tuned on). In one go, on one machine, side by side, for each corpus and the same grid, it
measures (each a subprocess, ``--quiet``; wall clock, and CPU time of it and every process it
starts):

1. ``wsztune run CORPUS`` (CPython's zlib);
2. ``wsztune run CORPUS --server ws`` with an empty cache (``$WSZTUNE_CACHE`` a fresh
   directory): cold, every memory probe runs;
3. the same again with that cache: warm, the memory probes' figures read back;
4. ``wsztune run CORPUS`` again: of 1 and 4, the quicker is the zlib wall Node is held against
   (a burst of other work on a shared machine stretches one sweep, not both);

and prints Node's wall against zlib's, cold (goal <= 2.0) and warm (goal <= 1.3), their CPU
time against zlib's (what the wall ratios tend to on an idle machine), and checks that
the warm run's cells hold the cold run's sizes and memory figures. It prints where the zlib
sweep's and the warm sweep's CPU went, read from their cells: one pass of every cell (the sum of
the cells' medians: each codec's own work, node / zlib), the timed samples (``repeat`` x
``loops`` x median: ``loops`` is the same rule in both, the fewest passes that make a sample last
``min_sample_seconds`` judging by the cell's first pass, so a codec whose passes fall just under
it times twice as many), and the rest (the first pass, start-up, Python). For the first corpus
it then runs the sweep's timing passes one cell after another in one node process, pinned to one
core (the way each of the sweep's processes runs them); again with ws's own asynchronous zlib calls
(the sweep makes the same calls synchronously: the difference, per message, is what ws's
hand-off of each call to libuv's pool costs, printed as its own figure, and the bytes must be
the same); and, unless ``--no-unpinned``, with ws's calls free to run on any core (issue 19's
reference, the way the sweep ran before), and prints

- ``timed passes alone``: the pinned process's CPU divided by the cores, against zlib's wall:
  the least a Node sweep's timing can take here, whatever its overheads;
- ``warm sweep CPU / pinned reference CPU``: what the sweep spends beyond the passes themselves;
- ``ws's asynchronous calls add``: microseconds per message, compress and decompress;
- issue 19's ratios, for continuity: ``wall / reference CPU`` (goal <= 0.60 then), ``wall /
  pinned reference CPU``, ``sweep CPU / reference CPU``, and the per-cell compress and decompress
  times of the sweep against each reference (median over cells of the ratio of medians).

``--connections-of N`` benches each corpus regrouped instead: its messages, in order, in
connections of N messages each (a records corpus written to a temporary file, named
``<stem>-by-N.records.jsonl``). Each connection is two streams (one per direction), and each
stream in each timing pass is a new zlib stream, as ws builds one per connection: a corpus of
many short connections is where a Node sweep pays most beyond the zlib work (a held-out shape:
many clients that say hello and little else).

The load average is printed before and after: on a shared machine wall time says little on its
own, and only ratios measured in the same run mean anything. At the end, one table: every
corpus's cold and warm ratios, wall and CPU, named or held-out, and whether the goals are met
(wall, the goal a user feels; the CPU ratios beside them). The exit status is 1 when a goal is
missed on any corpus, held-out ones included. Not part of the test suite (minutes).
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
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CORPORA = REPO / "corpora"
# The corpora issue 30's goals name; the others are held out (nothing was tuned on them).
NAMED_CORPORA = [
    CORPORA / "websockets-commits.jsonl",
    CORPORA / "api.jsonl",
    CORPORA / "chat.records.jsonl",
]
HELD_OUT_CORPORA = [
    CORPORA / "game.records.jsonl",
    CORPORA / "market.records.jsonl",
    CORPORA / "chat.har",
]
DEFAULT_CORPORA = NAMED_CORPORA + HELD_OUT_CORPORA
GOAL_COLD = 2.0  # Node sweep, empty cache / zlib sweep, wall
GOAL_WARM = 1.3  # Node sweep, cache filled / zlib sweep, wall
GOAL_WALL_ISSUE19 = 0.60  # wall / the same passes' CPU in one unpinned node process (issue 19)

sys.path.insert(0, str(REPO))  # this checkout's wsztune, installed or not


def children_cpu() -> float:
    """CPU seconds (user + system) of every finished child and grandchild so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Timed:
    """One ``wsztune run``: its wall and CPU seconds and the results file it wrote."""

    wall: float
    cpu: float
    run: Any


def run_wsztune(arguments: list[str], output: Path, cache: Path) -> Timed:
    """``wsztune run`` with ``arguments`` into ``output``, ``$WSZTUNE_CACHE`` = ``cache``."""
    from wsztune.results import load

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["WSZTUNE_CACHE"] = str(cache)
    command = [sys.executable, "-m", "wsztune", "run", *arguments, "--quiet", "-o", str(output)]
    cpu, started = children_cpu(), time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return Timed(time.perf_counter() - started, children_cpu() - cpu, load(output))


def memory_figures(cells: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """Each cell's compressor and decompressor figure, in cell order."""
    return [(c["compress_memory_observed"], c["decompress_memory_observed"]) for c in cells]


@dataclass
class Ratios:
    """One corpus's Node sweeps against its zlib sweep."""

    corpus: str
    held_out: bool
    cold_wall: float
    warm_wall: float
    cold_cpu: float
    warm_cpu: float
    same_figures: bool

    @property
    def met(self) -> bool:
        """The goals a user feels (wall), and the warm run's cells equal to the cold run's."""
        return self._meets(self.cold_wall, self.warm_wall)

    @property
    def met_by_cpu(self) -> bool:
        """The same goals on CPU time (what the wall ratios tend to on an idle machine)."""
        return self._meets(self.cold_cpu, self.warm_cpu)

    def _meets(self, cold: float, warm: float) -> bool:
        return cold <= GOAL_COLD and warm <= GOAL_WARM and self.same_figures


def compare_corpus(corpus: Path, grid: list[str], tmp: Path) -> tuple[Ratios, Timed, Timed]:
    """zlib, Node cold, Node warm on ``corpus``: print the ratios; return them."""
    cache = tmp / f"cache-{corpus.stem}"
    before = run_wsztune([str(corpus), *grid], tmp / "zlib.json", cache)
    cold = run_wsztune([str(corpus), "--server", "ws", *grid], tmp / "cold.json", cache)
    warm = run_wsztune([str(corpus), "--server", "ws", *grid], tmp / "warm.json", cache)
    after = run_wsztune([str(corpus), *grid], tmp / "zlib.json", cache)
    # zlib before and after Node: on a shared machine a burst of other work can stretch one
    # sweep's wall; the quicker of the two is the one Node is held against (the harder goal).
    zlib = min(before, after, key=lambda timed: timed.wall)
    sources = Counter(cell["memory_source"] for cell in cold.run.cells)
    warm_sources = Counter(cell["memory_source"] for cell in warm.run.cells)
    same_sizes = [c["compressed_bytes"] for c in cold.run.cells] == [
        c["compressed_bytes"] for c in warm.run.cells
    ]
    same_memory = memory_figures(cold.run.cells) == memory_figures(warm.run.cells)
    cold_ratio, warm_ratio = cold.wall / zlib.wall, warm.wall / zlib.wall
    print(
        f"{corpus.name}: {len(cold.run.cells)} cells; zlib sweep wall {before.wall:.1f} s "
        f"before and {after.wall:.1f} s after (CPU {before.cpu:.1f} and {after.cpu:.1f} s); "
        f"node cold {cold.wall:.1f} s (CPU {cold.cpu:.1f} s), warm {warm.wall:.1f} s (CPU "
        f"{warm.cpu:.1f} s)"
    )
    print(
        f"  node / zlib wall: cold {cold_ratio:.2f} (goal <= {GOAL_COLD}: "
        f"{'met' if cold_ratio <= GOAL_COLD else 'NOT met'}), warm {warm_ratio:.2f} (goal <= "
        f"{GOAL_WARM}: {'met' if warm_ratio <= GOAL_WARM else 'NOT met'})"
    )
    print(
        f"  node / zlib CPU: cold {cold.cpu / zlib.cpu:.2f}, warm {warm.cpu / zlib.cpu:.2f} "
        "(what the wall ratios tend to on an idle machine, both sweeps using every core)"
    )
    cores = len(os.sched_getaffinity(0))
    busy = {
        name: timed.cpu / timed.wall / cores for name, timed in (("zlib", zlib), ("cold", cold))
    }
    if min(busy.values()) < 0.8:
        # A loaded machine does not share itself out evenly: node's processes, which sleep and
        # wake at every call, get more of it than zlib's workers, which compute without pause.
        print(
            "  note: the machine was loaded (cores kept busy: "
            + ", ".join(f"{name} {share:.0%}" for name, share in busy.items())
            + "): the wall ratios say little, the CPU ratios more"
        )
    where_cpu_went(zlib, warm)
    print(
        f"  memory sources (cells): cold {dict(sorted(sources.items()))}, warm "
        f"{dict(sorted(warm_sources.items()))}; warm cells hold the cold sizes: {same_sizes}, "
        f"the cold memory figures: {same_memory}"
    )
    ratios = Ratios(
        corpus.name,
        corpus.resolve() not in {path.resolve() for path in NAMED_CORPORA},
        cold_ratio,
        warm_ratio,
        cold.cpu / zlib.cpu,
        warm.cpu / zlib.cpu,
        same_sizes and same_memory,
    )
    return ratios, zlib, warm


@dataclass
class PassCost:
    """One sweep's timing passes, read from its cells: one pass of every cell (the sum of the
    cells' median seconds per pass) and the timed samples (repeat x loops x median)."""

    compress: float
    decompress: float
    sampled: float
    loops_compress: float
    loops_decompress: float

    @classmethod
    def of(cls, cells: list[dict[str, Any]]) -> PassCost:
        """The sums over ``cells`` (a timed run's); loops are the mean over cells."""
        compress = sum(cell["compress_seconds"] for cell in cells)
        decompress = sum(cell["decompress_seconds"] for cell in cells)
        sampled = sum(
            cell["timing_repeat"]
            * (
                cell["timing_loops_compress"] * cell["compress_seconds"]
                + cell["timing_loops_decompress"] * cell["decompress_seconds"]
            )
            for cell in cells
        )
        loops_compress = statistics.mean(cell["timing_loops_compress"] for cell in cells)
        loops_decompress = statistics.mean(cell["timing_loops_decompress"] for cell in cells)
        return cls(compress, decompress, sampled, loops_compress, loops_decompress)


def where_cpu_went(zlib: Timed, warm: Timed) -> None:
    """Where each sweep's CPU went, read from its cells (both sweeps time with the same plan:
    the first pass, the sizes and round-trip check, is the warm-up; then ``repeat`` samples of
    ``loops`` passes, ``loops`` the fewest that make a sample last ``min_sample_seconds``
    according to the first pass): the codec's work per pass, the timed samples, and the rest
    (the first pass, start-up, Python's and node's bookkeeping)."""
    costs = {"zlib": PassCost.of(zlib.run.cells), "node": PassCost.of(warm.run.cells)}
    work = {name: cost.compress + cost.decompress for name, cost in costs.items()}
    print(
        "  one pass of every cell (sum of the cells' medians): zlib "
        f"{costs['zlib'].compress:.2f} + {costs['zlib'].decompress:.2f} s, node "
        f"{costs['node'].compress:.2f} + {costs['node'].decompress:.2f} s (compress + "
        f"decompress; node / zlib {work['node'] / work['zlib']:.2f})"
    )
    for name, timed in (("zlib", zlib), ("node warm", warm)):
        cost = costs[name.split()[0]]
        print(
            f"  {name}: timed samples about {cost.sampled:.1f} s of its {timed.cpu:.1f} s CPU "
            f"({cost.sampled / work[name.split()[0]]:.1f} passes' worth; loops per sample, mean "
            f"over cells: compress {cost.loops_compress:.2f}, decompress "
            f"{cost.loops_decompress:.2f}); the rest {timed.cpu - cost.sampled:.1f} s"
        )


def regrouped(corpus: Path, per_connection: int, tmp: Path) -> Path:
    """``corpus``'s messages in order, in connections of ``per_connection`` messages each (same
    payloads and directions), written as a records corpus under ``tmp``."""
    from dataclasses import replace

    from wsztune import corpus as corpora
    from wsztune.scrub import write_records

    messages = (
        replace(message, connection=f"r{index // per_connection:06d}")
        for index, message in enumerate(corpora.load(corpus).messages)
    )
    path = tmp / f"{corpus.name.split('.')[0]}-by-{per_connection}.records.jsonl"
    return write_records(messages, path)


def summary(rows: list[Ratios]) -> None:
    """Every corpus's ratios side by side, and the goals' verdicts."""
    print(
        f"node sweep / zlib sweep (goals: cold <= {GOAL_COLD}, warm <= {GOAL_WARM}; by wall, "
        "and by CPU: what the wall ratios tend to on an idle machine)"
    )
    width = max([26, *(len(row.corpus) for row in rows)])
    print(f"  {'corpus':<{width}} {'':<9} {'cold wall':>9} {'warm wall':>9} {'cold CPU':>9} "
          f"{'warm CPU':>9}  {'by wall':<8} by CPU")  # fmt: skip
    for row in rows:
        print(
            f"  {row.corpus:<{width}} {'held-out' if row.held_out else 'named':<9} "
            f"{row.cold_wall:>9.2f} {row.warm_wall:>9.2f} {row.cold_cpu:>9.2f} "
            f"{row.warm_cpu:>9.2f}  {'met' if row.met else 'NOT met':<8} "
            f"{'met' if row.met_by_cpu else 'NOT met'}"
        )


def references(corpus: Path, sweep: Timed, zlib_wall: float, unpinned: bool) -> None:
    """The sweep's timing passes in one node process, one cell after another: pinned, as the
    sweep makes them (ws's zlib calls made synchronously); pinned with ws's own asynchronous
    calls (what ws's hand-off to libuv's pool costs beyond them: its own figure); and unless
    told not to, unpinned with ws's calls (issue 19's reference). The ratios against them."""
    from wsztune import corpus as corpus_module
    from wsztune.codecs import node
    from wsztune.permessage_deflate import Setting

    run = sweep.run
    timing = run.meta["timing"]
    plan = {key: timing[key] for key in ("repeat", "warmup", "min_sample_seconds")}
    streams = corpus_module.load(corpus).streams()
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
    measured: dict[str, tuple[list[Any], float, float]] = {}
    kinds = [("pinned reference", True, "sync"), ("pinned ws calls", True, "ws")]
    if unpinned:
        kinds.append(("issue 19 reference (unpinned, ws calls)", False, "ws"))
    with node.corpus_file([stream.payloads for stream in streams]) as path:
        for name, pin, calls in kinds:
            cpu, started = children_cpu(), time.perf_counter()
            alone = node.run_cells(
                path, directions, cells, timing=plan, jobs=1, pin=pin, calls=calls
            )
            measured[name] = (alone, time.perf_counter() - started, children_cpu() - cpu)
    cores = len(os.sched_getaffinity(0))
    pinned_cpu = measured["pinned reference"][2]
    print(f"{corpus.name}: the warm sweep's timing passes, one cell after another in one process")
    for name, (_, wall, cpu) in measured.items():
        print(f"  {name}, one node process: CPU {cpu:.1f} s (wall {wall:.1f} s)")
    print(
        f"  timed passes alone (pinned reference CPU / {cores} cores) / zlib sweep wall: "
        f"{pinned_cpu / cores / zlib_wall:.2f}"
    )
    print(f"  warm sweep CPU / pinned reference CPU: {sweep.cpu / pinned_cpu:.3f}")
    print(f"  warm sweep wall / pinned reference CPU: {sweep.wall / pinned_cpu:.3f}")
    ws_overhead(measured["pinned reference"][0], measured["pinned ws calls"][0])
    issue19 = "issue 19 reference (unpinned, ws calls)"
    if issue19 in measured:
        reference_cpu = measured[issue19][2]
        ratio = sweep.wall / reference_cpu
        verdict = "met" if ratio <= GOAL_WALL_ISSUE19 else "NOT met"
        print(
            f"  issue 19: warm sweep wall / reference CPU: {ratio:.3f} (goal <= "
            f"{GOAL_WALL_ISSUE19}: {verdict}); sweep CPU / reference CPU: "
            f"{sweep.cpu / reference_cpu:.3f}"
        )
    for name, (alone_cells, _, _) in measured.items():
        for kind in ("compress", "decompress"):
            values = [
                cell[f"{kind}_seconds"] / statistics.median(getattr(alone, f"{kind}_samples"))
                for cell, alone in zip(run.cells, alone_cells, strict=True)
            ]
            quartiles = statistics.quantiles(values, n=4)
            print(
                f"  {kind} time per cell, sweep / {name}: median {statistics.median(values):.3f}"
                f" (quartiles {quartiles[0]:.3f} to {quartiles[2]:.3f})"
            )


def ws_overhead(sync_cells: list[Any], ws_cells: list[Any]) -> None:
    """What ws's hand-off of each zlib call to libuv's pool adds, per message through the
    compressor (resp. decompressor): the same cells' passes timed with ws's asynchronous calls
    less the sweep's synchronous ones, in one pinned process; median over cells and quartiles.
    Sizes must agree: the same calls give the same bytes."""
    assert [c.sha256 for c in sync_cells] == [c.sha256 for c in ws_cells], "other bytes"
    for kind in ("compress", "decompress"):
        per_message = []
        for sync, ws in zip(sync_cells, ws_cells, strict=True):
            messages = sum(sync.compressed_messages)
            extra = statistics.median(getattr(ws, f"{kind}_samples")) - statistics.median(
                getattr(sync, f"{kind}_samples")
            )
            per_message.append(extra / max(1, messages) * 1e6)
        quartiles = statistics.quantiles(per_message, n=4)
        print(
            f"  ws's asynchronous calls add to {kind}: median {statistics.median(per_message):.1f}"
            f" us per message (quartiles {quartiles[0]:.1f} to {quartiles[2]:.1f}); same bytes"
        )


def main() -> int:
    """Measure, print the ratios, exit 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpora", nargs="*", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--window-bits", default="9-15")
    parser.add_argument("--mem-level", default="1-9")
    parser.add_argument(
        "--no-unpinned",
        action="store_true",
        help="skip issue 19's unpinned one-process reference (the slowest part)",
    )
    parser.add_argument(
        "--no-reference", action="store_true", help="skip the one-process references"
    )
    parser.add_argument(
        "--connections-of",
        type=int,
        metavar="N",
        help="bench each corpus regrouped in connections of N messages (many short streams)",
    )
    args = parser.parse_args()
    if args.connections_of is not None and args.connections_of < 1:
        parser.error(f"--connections-of must be at least 1, not {args.connections_of}")
    grid = ["--window-bits", args.window_bits, "--mem-level", args.mem_level]

    print(f"cores {len(os.sched_getaffinity(0))}, load average before {os.getloadavg()}")
    rows: list[Ratios] = []
    with tempfile.TemporaryDirectory(prefix="wsztune-bench-node-") as directory:
        tmp = Path(directory)
        for index, corpus in enumerate(args.corpora):
            if args.connections_of:
                corpus = regrouped(corpus, args.connections_of, tmp)
            ratios, zlib, warm = compare_corpus(corpus, grid, tmp)
            rows.append(ratios)
            if index == 0 and not args.no_reference:
                references(corpus, warm, zlib.wall, not args.no_unpinned)
            print(f"  load average {os.getloadavg()}")
    summary(rows)
    ok = all(row.met for row in rows)
    print(json.dumps({"goals_met": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
