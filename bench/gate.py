"""Does the CI gate (``recommend --check --baseline``) see the traffic change, and only that?

Run from anywhere as ``python bench/gate.py [CORPUS ...]`` (default: every bundled corpus). For
each corpus, as a team on uvicorn would run the gate (``--server uvicorn``, a 64 KiB budget in
which 12:5 is the only cell, so the setting is always its own best):

1. the baseline: a random half of the corpus's messages (seed 0), swept;
2. the changed traffic: the same half with a 6 KB repeated field added to every JSON message
   (beyond 12:5's 4 KiB window): the gate must fail (exit 1), on the savings;
3. unchanged traffic: ``--samples`` fresh random halves (seeds 1..N): the gate must pass each.

It prints, per corpus, the changed run's savings against the baseline's, the passes among the
fresh samples, and the largest share of resamples in which a fresh sample's savings looked
fallen by more than --max-savings-drop (the gate fails at 95%). Exits 1 when a goal is missed
(issue 26: fails on the field, passes 20 of 20 fresh samples).
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # this checkout's wsztune, installed or not

from click.testing import CliRunner  # noqa: E402

from wsztune.cli import cli  # noqa: E402

CORPORA = ("api.jsonl", "websockets-commits.jsonl", "chat.records.jsonl",
           "market.records.jsonl", "game.records.jsonl")  # fmt: skip
FIELD = base64.b64encode(random.Random(7).randbytes(4500)).decode()  # about 6 KB of text


def _with_field(line: str) -> str:
    """One corpus line with the blob field added to its JSON message (records: to the text)."""
    document = json.loads(line)
    if "connection" in document and "text" in document:
        try:
            message = json.loads(document["text"])
        except ValueError:
            return line
        if isinstance(message, dict):
            document["text"] = json.dumps({**message, "blob": FIELD}, separators=(",", ":"))
        return json.dumps(document, separators=(",", ":"))
    if isinstance(document, dict) and "wsztune" not in document:
        document["blob"] = FIELD
    return json.dumps(document, separators=(",", ":"))


def _sample(lines: list[str], seed: int, target: Path, changed: bool = False) -> Path:
    """A random half of the messages, in order (a records header line is kept)."""
    header = [line for line in lines[:1] if line.startswith('{"wsztune"')]
    body = lines[len(header):]
    chosen = sorted(random.Random(seed).sample(range(len(body)), len(body) // 2))
    out = header + [_with_field(body[i]) if changed else body[i] for i in chosen]
    target.write_text("\n".join(out) + "\n")
    return target


def _invoke(*args: object) -> object:
    return CliRunner().invoke(cli, [str(arg) for arg in args])


def _gate(corpus: Path, baseline: Path | None, work: Path) -> tuple[int, dict | None]:
    run = work / f"{corpus.stem}.json"
    swept = _invoke("run", corpus, "--server", "uvicorn", "--no-timing", "--quiet", "-o", run)
    if swept.exit_code != 0:
        raise SystemExit(f"{corpus}: run failed: {swept.output}")
    if baseline is None:
        return 0, None
    result = _invoke("recommend", "--results", run, "--max-memory", "64KiB", "--check", "12:5",
                     "--baseline", baseline, "--json")  # fmt: skip
    if result.exit_code not in (0, 1):
        raise SystemExit(f"{corpus}: recommend failed: {result.output}")
    return result.exit_code, json.loads(result.stdout)["check"]["baseline"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpora", nargs="*", type=Path)
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    paths = args.corpora or [REPO / "corpora" / name for name in CORPORA]
    missed = False
    print(f"{'corpus':28} {'changed: savings then -> now':32} {'exit':>4} "
          f"{'fresh passed':>12} {'worst drop share':>16}")  # fmt: skip
    for path in paths:
        lines = path.read_text().splitlines()
        with tempfile.TemporaryDirectory() as folder:
            work = Path(folder)
            baseline = work / "baseline.json"
            _gate(_sample(lines, 0, work / "base.jsonl"), None, work)
            (work / "base.json").rename(baseline)
            code, changed = _gate(_sample(lines, 0, work / "changed.jsonl", True), baseline, work)
            passes, worst = 0, 0.0
            for seed in range(1, args.samples + 1):
                fresh, check = _gate(_sample(lines, seed, work / f"s{seed}.jsonl"), baseline, work)
                passes += fresh == 0
                worst = max(worst, check["drop_share"] or 0.0)
        then, now = changed["savings_baseline"], changed["savings_now"]
        ok = code == 1 and passes == args.samples
        missed |= not ok
        print(f"{path.name:28} {f'{then:.1%} -> {now:.1%}':32} {code:>4} "
              f"{f'{passes}/{args.samples}':>12} {worst:>16.1%}{'' if ok else '  MISSED'}")
    print("goal: exit 1 on the changed traffic, every fresh sample passes: "
          + ("met" if not missed else "NOT met"))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
