"""Does ``wsztune recommend`` choose well for traffic it has not seen? A half-split check.

Run from anywhere as ``python bench/recommend.py [CORPUS ...]``. For every corpus (by default:
every bundled corpus in ``corpora/``, the demo, and three held-out corpora generated here, of
shapes the recommender was not tuned on), it

1. splits the corpus in two halves in time order: by connection when it has at least
   :data:`CONNECTION_SPLIT` connections (the first half of the connections, in order of first
   appearance, against the second), otherwise by message (each stream's first half of its
   messages against its second half);
2. sweeps windowBits 9-15 x memLevel 1-9 over each half with wsztune's own cell measurement,
   sizes and memory only (as ``wsztune run --no-timing``): exact permessage-deflate sizes, the
   per-unit sizes the results file keeps, and the observed connection memory of the first half
   (used for both halves, so that a budget means the same cells);
3. recommends on the first half at each budget of :data:`BUDGETS`, exactly as
   ``wsztune recommend --max-memory B`` does (default tolerance 1%, 1,000 resamples);
4. judges the choice on the second half: its *size regret* (its output against the smallest
   output that fits on the unseen half) and whether it was *wasteful*: some cell that fits needs
   at least 15% less memory per connection and compresses the unseen half within 0.25% of the
   chosen cell.

Goals (issue 11): mean regret <= 1%, worst regret <= 3%, no wasteful choice, on the bundled and
on the held-out corpora alike. It prints every choice and exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import struct
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # this checkout's wsztune, installed or not

from wsztune import corpus as corpus_module  # noqa: E402
from wsztune import recommend  # noqa: E402
from wsztune.codecs.base import CorpusSummary, TimingPlan  # noqa: E402
from wsztune.codecs.zlib import measure_cell  # noqa: E402
from wsztune.corpus import CLIENT, SERVER, Corpus, Message, Stream  # noqa: E402
from wsztune.permessage_deflate import Setting, get_zlib_module  # noqa: E402
from wsztune.results import Run  # noqa: E402

KIB = 1024
BUDGETS: tuple[int | None, ...] = (None, 24 * KIB, 32 * KIB, 48 * KIB, 64 * KIB, 96 * KIB,
                                   128 * KIB, 192 * KIB)  # fmt: skip
CONNECTION_SPLIT = 8
WASTE_MEMORY = 0.15  # a cell needing this much less memory per connection ...
WASTE_SIZE = 0.0025  # ... and compressing the unseen half within this of the chosen: waste
GOAL_MEAN_REGRET = 0.01
GOAL_WORST_REGRET = 0.03
FULL_GRID = [(wb, ml) for wb in range(9, 16) for ml in range(1, 10)]


# Halves and sweeps --------------------------------------------------------------------------------


def halves(corpus: Corpus) -> tuple[list[Message], list[Message], str]:
    """The first and second half of ``corpus`` in time order, and how it was split."""
    connections = corpus.connections
    if len(connections) >= CONNECTION_SPLIT:
        first = set(connections[: len(connections) // 2])
        a = [m for m in corpus.messages if m.connection in first]
        b = [m for m in corpus.messages if m.connection not in first]
        return a, b, f"by connection ({len(connections)} connections)"
    counts: dict[tuple[str, str], int] = {}
    for message in corpus.messages:
        key = (message.connection, message.direction)
        counts[key] = counts.get(key, 0) + 1
    seen: dict[tuple[str, str], int] = {}
    a, b = [], []
    for message in corpus.messages:
        key = (message.connection, message.direction)
        seen[key] = seen.get(key, 0) + 1
        (a if seen[key] <= counts[key] // 2 else b).append(message)
    return a, b, "by message (each stream's first half / second half)"


def streams_of(messages: Sequence[Message]) -> list[Stream]:
    """The streams of a list of messages, as :meth:`Corpus.streams` groups them."""
    return Corpus("half", "records", "", list(messages)).streams()


def sweep_sizes(
    streams: Sequence[Stream],
    grid: Sequence[tuple[int, int]],
    memory: dict[tuple[int, int], int] | None = None,
) -> tuple[Run, dict[tuple[int, int], int]]:
    """A Run of ``grid`` over ``streams`` made by wsztune's own cell measurement, sizes and
    memory only (``wsztune run --no-timing``): exact sizes per unit, observed memory.

    ``memory`` replaces each cell's memory with the one measured before (the first half's), so
    that a budget means the same cells on both halves.
    """
    zlib_module = get_zlib_module("zlib")
    summary = CorpusSummary.of(streams)
    assert summary.units is not None
    plan = TimingPlan(measure_time=False)
    cells = []
    for wb, ml in grid:
        cell = measure_cell(streams, Setting(wb, ml), zlib_module, plan, summary)
        if memory is not None:
            cell["connection_memory"] = memory[(wb, ml)]
        cells.append(cell)
    meta = {
        "grid": {
            "window_bits": sorted({wb for wb, _ in grid}),
            "mem_levels": sorted({ml for _, ml in grid}),
        },
        "units": summary.units.describe(),
        "corpus": {"messages": summary.messages},
        "timing": {"measured": False},
    }
    measured = {(c["window_bits"], c["mem_level"]): c["connection_memory"] for c in cells}
    return Run(meta, cells), measured


# Judging ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """One recommendation made on the first half and judged on the second."""

    corpus: str
    budget: int | None
    chosen: str
    memory: int
    best_unseen: str
    regret: float
    waste: str  # the cheaper cell that made the choice wasteful, or ""


def judge(name: str, first: Run, second: Run, budgets: Iterable[int | None]) -> list[Choice]:
    """Recommend on ``first`` at each budget; judge on ``second``."""
    unseen = {(c["window_bits"], c["mem_level"]): c for c in second.cells}
    choices = []
    for budget in budgets:
        decision = recommend.recommend(first, recommend.Constraints(max_memory=budget))
        if decision.chosen is None:
            continue  # nothing fits this budget: nothing chosen, nothing to judge
        key = (decision.chosen["window_bits"], decision.chosen["mem_level"])
        memory = decision.chosen["connection_memory"]
        fitting = [c for c in second.cells if budget is None or c["connection_memory"] <= budget]
        best = min(fitting, key=lambda c: c["compressed_bytes"])
        size = unseen[key]["compressed_bytes"]
        waste = [
            c
            for c in fitting
            if c["connection_memory"] <= (1 - WASTE_MEMORY) * memory
            and c["compressed_bytes"] <= size * (1 + WASTE_SIZE)
        ]
        choices.append(
            Choice(
                corpus=name,
                budget=budget,
                chosen=f"{key[0]}:{key[1]}",
                memory=memory,
                best_unseen=f"{best['window_bits']}:{best['mem_level']}",
                regret=size / best["compressed_bytes"] - 1,
                waste=", ".join(f"{c['window_bits']}:{c['mem_level']}" for c in waste[:3]),
            )
        )
    return choices


def evaluate(
    corpus: Corpus,
    name: str,
    grid: Sequence[tuple[int, int]] = FULL_GRID,
    budgets: Iterable[int | None] = BUDGETS,
) -> tuple[list[Choice], str]:
    """Split, sweep both halves, recommend on the first and judge on the second."""
    first, second, how = halves(corpus)
    run_a, memory = sweep_sizes(streams_of(first), grid)
    run_b, _ = sweep_sizes(streams_of(second), grid, memory)
    return judge(name, run_a, run_b, budgets), how


# Held-out corpora: shapes the recommender was not tuned on ---------------------------------------


def _records(messages: Iterable[tuple[str, str, bytes, bool]]) -> Corpus:
    return Corpus(
        "generated",
        "records",
        "",
        [Message(data, is_text, conn, direction) for conn, direction, data, is_text in messages],
    )


def rotating_snapshots(seed: int = 1, messages: int = 1200) -> Corpus:
    """One feed of ~1.7 KB JSON snapshots of 10 dashboards in rotation: each repeats, a few
    fields changed, about 17 KB after its previous version (the case issue 11 describes)."""
    rng = random.Random(seed)
    words = ["cpu", "mem", "disk", "net", "queue", "lag", "errors", "p99", "rps", "hits"]
    boards = []
    for board in range(10):
        panels = [
            {
                "id": f"panel-{board}-{index}",
                "title": " ".join(rng.choices(words, k=3)),
                "series": [round(rng.uniform(0, 1000), 2) for _ in range(8)],
                "threshold": rng.randint(10, 900),
                "host": f"node-{rng.randint(1, 400):03d}.eu-west.internal",
            }
            for index in range(7)
        ]
        boards.append({"dashboard": f"board-{board}", "panels": panels})
    out = []
    for index in range(messages):
        board = boards[index % 10]
        for panel in rng.sample(board["panels"], 2):
            panel["series"] = panel["series"][1:] + [round(rng.uniform(0, 1000), 2)]
        document = {"seq": index, "ts": 1_700_000_000 + index, **board}
        payload = json.dumps(document, separators=(",", ":")).encode()
        out.append(("feed", SERVER, payload, True))
    return _records(out)


def binary_telemetry(seed: int = 2, messages: int = 2400) -> Corpus:
    """Four connections of binary frames: a fixed header, then float32 samples of slowly
    drifting sensors with noise and a few constant channels (binary-ish, half compressible)."""
    rng = random.Random(seed)
    out = []
    levels = [[rng.uniform(-50, 50) for _ in range(64)] for _ in range(4)]
    for index in range(messages):
        conn = index % 4
        count = rng.choice((16, 32, 64, 64, 128, 256))
        channels = levels[conn]
        for channel in range(64):
            channels[channel] += rng.gauss(0, 0.05)
        samples = [
            channels[i % 64] + (rng.gauss(0, 0.01) if i % 64 < 40 else 0.0) for i in range(count)
        ]
        payload = struct.pack("<4sIHH", b"TLM1", index, conn, count) + struct.pack(
            f"<{count}f", *samples
        )
        out.append((f"t{conn}", SERVER, payload, False))
        if index % 16 == 0:
            out.append((f"t{conn}", CLIENT, struct.pack("<4sI", b"ACK1", index), False))
    return _records(out)


def short_messages(seed: int = 3, connections: int = 160, per_connection: int = 40) -> Corpus:
    """Many connections of short JSON events (20-120 B) both ways: presence, typing, acks."""
    rng = random.Random(seed)
    kinds = ["typing", "presence", "ack", "read", "ping", "react"]
    states = ["online", "away", "busy", "offline"]
    out = []
    for step in range(per_connection):
        for conn in range(connections):
            kind = rng.choice(kinds)
            event = {"t": kind, "u": f"user{rng.randint(1, 5000)}", "n": step}
            if kind == "presence":
                event["s"] = rng.choice(states)
            if kind == "react":
                event["e"] = rng.choice(["+1", "tada", "eyes", "heart"])
            direction = SERVER if rng.random() < 0.6 else CLIENT
            payload = json.dumps(event, separators=(",", ":")).encode()
            out.append((f"s{conn:03d}", direction, payload, True))
    return _records(out)


HELD_OUT = {
    "held-out: rotating snapshots": rotating_snapshots,
    "held-out: binary telemetry": binary_telemetry,
    "held-out: short messages": short_messages,
}


# Bundled corpora that are load shapes for bench/fleet.py, not traffic to recommend on: each
# replays a few connections of one synthetic shape (fleet-light: 16 connections of 6 messages each
# way, 96 messages a half), so a half-split judges sampling noise, not the recommender.
LOAD_SHAPES = ("fleet-light.records.jsonl", "fleet-heavy.records.jsonl")


def bundled() -> list[tuple[str, Path]]:
    """Every bundled corpus but the fleet bench's load shapes (:data:`LOAD_SHAPES`), the demo
    included unless it is a byte copy of one of them."""
    paths = sorted(
        p
        for p in (REPO / "corpora").iterdir()
        if p.suffix in (".jsonl", ".har") and p.is_file() and p.name not in LOAD_SHAPES
    )
    demo = REPO / "wsztune" / "data" / "demo.records.jsonl"
    if not any(p.read_bytes() == demo.read_bytes() for p in paths):
        paths.append(demo)
    return [(p.name, p) for p in paths]


# Report -------------------------------------------------------------------------------------------


def _budget(budget: int | None) -> str:
    return "none" if budget is None else f"{budget // KIB} KiB"


def summarize(choices: Sequence[Choice]) -> tuple[float, float, int]:
    """Mean regret, worst regret and the number of wasteful choices."""
    regrets = [c.regret for c in choices]
    return statistics.fmean(regrets), max(regrets), sum(1 for c in choices if c.waste)


def main(argv: Sequence[str] | None = None) -> int:
    """Evaluate and print; exit 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "corpora", nargs="*", type=Path, help="corpora (default: bundled + held-out)"
    )
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    args = parser.parse_args(argv)
    sources: list[tuple[str, object]] = []
    if args.corpora:
        sources = [(p.name, p) for p in args.corpora]
    else:
        sources = [*bundled(), *HELD_OUT.items()]
        print(f"not judged (load shapes for bench/fleet.py): {', '.join(LOAD_SHAPES)}")
    groups: dict[str, list[Choice]] = {"bundled": [], "held-out": []}
    started = time.perf_counter()
    for name, source in sources:
        corpus = corpus_module.load(source) if isinstance(source, Path) else source()  # type: ignore[operator]
        choices, how = evaluate(corpus, name)
        group = "held-out" if name.startswith("held-out") else "bundled"
        groups[group] += choices
        if not args.quiet:
            print(f"\n{name}: {len(corpus.messages):,} messages, split {how}")
            print(f"  {'budget':>8}  {'chosen':>6}  {'memory':>10}  {'best unseen':>11}  "
                  f"{'regret':>7}  wasteful")  # fmt: skip
            for c in choices:
                print(
                    f"  {_budget(c.budget):>8}  {c.chosen:>6}  {c.memory / KIB:>6.1f} KiB  "
                    f"{c.best_unseen:>11}  {c.regret:>6.2%}  {c.waste or '-'}"
                )
    print(f"\n{time.perf_counter() - started:.0f} s; goals: mean regret <= 1%, worst <= 3%, "
          "no wasteful choice")  # fmt: skip
    ok = True
    for group, choices in groups.items():
        if not choices:
            continue
        mean, worst, wasteful = summarize(choices)
        passed = mean <= GOAL_MEAN_REGRET and worst <= GOAL_WORST_REGRET and wasteful == 0
        ok &= passed
        print(
            f"{'PASS' if passed else 'FAIL'}  {group:<9} {len(choices):>3} choices: mean regret "
            f"{mean:.2%}, worst {worst:.2%}, wasteful {wasteful}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
