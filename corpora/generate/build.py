"""Write every bundled corpus file, and the command line."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from corpora.generate.api import api
from corpora.generate.chat import chat
from corpora.generate.common import DEFAULT_SEED, DEMO_MESSAGES, payload_lines_bytes, records_bytes
from corpora.generate.fleet import fleet
from corpora.generate.game import game
from corpora.generate.har import har_bytes
from corpora.generate.market import market


def generate_all(outdir: Path, seed: int = DEFAULT_SEED) -> list[Path]:
    """Write every corpus file for ``seed`` into ``outdir``; return the paths written."""
    outdir.mkdir(parents=True, exist_ok=True)
    files = {
        "chat.records.jsonl": records_bytes(chat(seed)),
        "game.records.jsonl": records_bytes(game(seed)),
        "market.records.jsonl": records_bytes(market(seed)),
        "api.jsonl": payload_lines_bytes(api(seed)),
        "chat.har": har_bytes(seed),
        "fleet-light.records.jsonl": records_bytes(fleet(seed, "light")),
        "fleet-heavy.records.jsonl": records_bytes(fleet(seed, "heavy")),
    }
    paths = []
    for name, data in files.items():
        path = outdir / name
        path.write_bytes(data)
        paths.append(path)
    return paths


def package_data_path() -> Path:
    """Where the packaged default corpus lives in the checkout (it travels in the wheel)."""
    return Path(__file__).resolve().parents[2] / "wsztune" / "data" / "demo.records.jsonl"


def write_package_data(seed: int = DEFAULT_SEED, path: Path | None = None) -> Path:
    """Write the demo corpus (the chat corpus, ``DEMO_MESSAGES`` messages)."""
    path = path or package_data_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(records_bytes(chat(seed, messages=DEMO_MESSAGES)))
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``python -m corpora.generate [OUTDIR] [--seed N] [--package-data]``."""
    parser = argparse.ArgumentParser(
        prog="python -m corpora.generate",
        description="Write wsztune's synthetic WebSocket corpora (deterministic per seed).",
    )
    parser.add_argument("outdir", nargs="?", type=Path, help="directory for the corpus files")
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"RNG seed (default {DEFAULT_SEED})"
    )
    parser.add_argument(
        "--package-data",
        action="store_true",
        help="also write the demo corpus to wsztune/data/demo.records.jsonl",
    )
    args = parser.parse_args(argv)
    if args.outdir is None and not args.package_data:
        parser.error("give OUTDIR, --package-data, or both")
    written = []
    if args.outdir is not None:
        written += generate_all(args.outdir, args.seed)
    if args.package_data:
        written.append(write_package_data(args.seed))
    for path in written:
        print(f"{path}\t{path.stat().st_size} bytes")
    return 0
