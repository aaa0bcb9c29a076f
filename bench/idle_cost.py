"""What a sleep between bursts of work does to the CPU time of the work, on this machine.

A broadcasting server at 10 messages a second compresses for a few milliseconds and sleeps for
the rest of each 100 ms; wsztune's model (``compress_seconds_per_delivery``) times the same
compressions back to back. ``bench/broadcast.py`` holds the two to 25% of each other, so the
machine itself must charge the same work the same CPU time whether or not the process slept
before it, and from one minute to the next, by well under that.

This script measures exactly that, with nothing but zlib and a sleep. Each round times one
fixed unit of work (every message of a slice of the corpus through ``--compressors``
compressors at 12:5 in turn, as a server loops over its subscribers) ``--units`` times back
to back, then as many times each after a sleep of ``--sleep`` seconds, in one process, and
prints per round:

- the unit's median CPU time back to back, and after a sleep;
- their ratio: what the sleep alone costs the next burst of work.

Under the rounds, the spread over them: how far the sleep's cost moves, and how far the
back-to-back time itself drifts from round to round (against its median), and how many rounds
either is off by more than the 25% goal::

    python bench/idle_cost.py --corpus corpora/chat.records.jsonl --rounds 20

It is a property of the machine, not of wsztune: run it where the broadcast check is run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import zlib
from pathlib import Path

GOAL = 0.25  # bench/broadcast.py's: the model within 25% of the real server
UNIT_SECONDS = 0.005  # a burst of work about as long as a broadcast's at 10/s to 1,000


def server_messages(corpus_path: Path) -> list[bytes]:
    """The corpus's server-to-client payloads, in corpus order."""
    from wsztune import corpus

    loaded = corpus.load(corpus_path)
    return [message.payload for message in loaded.messages if message.direction == "server"]


class Unit:
    """A fixed burst of compression: ``messages``, each through every one of ``compressors``
    zlib compressors (each with its own state, as a server's subscribers') in turn."""

    def __init__(self, messages: list[bytes], compressors: int) -> None:
        self.messages = messages
        self.compressors = [zlib.compressobj(6, zlib.DEFLATED, -12, 5) for _ in range(compressors)]

    def run(self) -> float:
        """One burst; its CPU seconds (this process's, as the bench reads a server's)."""
        start = time.process_time()
        for message in self.messages:
            for compressor in self.compressors:
                compressor.compress(message)
                compressor.flush(zlib.Z_SYNC_FLUSH)
        return time.process_time() - start


def calibrated(messages: list[bytes], compressors: int) -> Unit:
    """A unit of as many of the corpus's first messages as take about :data:`UNIT_SECONDS` of
    CPU back to back (at least one)."""
    count = 1
    while True:
        unit = Unit(messages[:count], compressors)
        unit.run()  # warm
        took = min(unit.run() for _ in range(3))
        if took >= UNIT_SECONDS or count >= len(messages):
            return unit
        count = min(len(messages), max(count + 1, int(count * UNIT_SECONDS / max(took, 1e-6))))


def one_round(unit: Unit, units: int, sleep: float) -> tuple[float, float]:
    """The unit's median CPU seconds back to back, then after a sleep of ``sleep`` each."""
    back_to_back = statistics.median(unit.run() for _ in range(units))
    after_sleep = []
    for _ in range(units):
        time.sleep(sleep)
        after_sleep.append(unit.run())
    return back_to_back, statistics.median(after_sleep)


def described(values: list[float], digits: int = 2) -> str:
    """Median (smallest..largest)."""
    return (f"{statistics.median(values):.{digits}f} "
            f"({min(values):.{digits}f}..{max(values):.{digits}f})")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and print them; 0 when in every round the sleep's cost and the drift
    both stay within the goal, 1 when a round's do not (where the broadcast check's windows
    fall on such a round, the machine moves its reading by more than the goal)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("corpora/chat.records.jsonl"))
    parser.add_argument("--compressors", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--units", type=int, default=15, help="bursts of each kind per round")
    parser.add_argument("--sleep", type=float, default=0.1,
                        help="seconds before each burst of the second kind (0.1: 10/s)")
    options = parser.parse_args(argv)
    for name in ("compressors", "rounds", "units"):
        if getattr(options, name) < 1:
            parser.error(f"--{name} takes a whole number of at least 1, not "
                         f"{getattr(options, name)}")  # fmt: skip
    if options.sleep < 0:
        parser.error(f"--sleep takes seconds, 0 or more, not {options.sleep:g}")
    from wsztune.errors import CorpusError

    try:
        messages = [m for m in server_messages(options.corpus) if m]
    except CorpusError as error:  # one line, as wsztune says it, not a traceback
        print(f"bench/idle_cost.py: {error}", file=sys.stderr)
        return 2
    if not messages:
        print(f"bench/idle_cost.py: {options.corpus}: no server message to compress",
              file=sys.stderr)
        return 2
    unit = calibrated(messages, options.compressors)
    print(f"corpus {options.corpus.name}: a unit is {len(unit.messages)} messages through "
          f"{options.compressors} compressors at 12:5 in turn; {options.units} units back to "
          f"back, then {options.units} each after a {options.sleep:g} s sleep, per round; "
          "CPU ms per unit, medians")  # fmt: skip
    print(f"{'round':>5} {'back to back':>13} {'after sleep':>12} {'ratio':>6}")
    rows = []
    for number in range(options.rounds):
        back_to_back, after_sleep = one_round(unit, options.units, options.sleep)
        rows.append((back_to_back, after_sleep))
        print(f"{number + 1:5d} {back_to_back * 1e3:13.3f} {after_sleep * 1e3:12.3f} "
              f"{after_sleep / back_to_back:6.2f}", flush=True)  # fmt: skip
    ratios = [after / before for before, after in rows]
    typical = statistics.median(before for before, _ in rows)
    drift = [before / typical for before, _ in rows]
    print(f"after a sleep / back to back, over the rounds: {described(ratios)}")
    print(f"back to back / its median over the rounds: {described(drift)}")
    slept = sum(abs(ratio - 1) > GOAL for ratio in ratios)
    drifted = sum(abs(value - 1) > GOAL for value in drift)
    print(f"rounds off by more than {GOAL:.0%}: {slept} of {len(rows)} after a sleep, "
          f"{drifted} of {len(rows)} back to back")  # fmt: skip
    return 0 if slept == drifted == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
