"""Write ``baseline.json``: sizes and memory of every bundled corpus, as the sweep measured them
before the corpus was packed into one buffer and memory was observed on the first messages only.

Made once with the code of commit 3cef673 (main before issue 12), with
``python tests/support/data/make_baseline.py``; ``tests/test_sweep_baseline.py``
checks today's code against it,
field by field. Rerunning it with later code would only compare that code with itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from wsztune import corpus, sweep  # noqa: E402
from wsztune.codecs import zlib as zlib_codec  # noqa: E402
from wsztune.permessage_deflate import get_zlib_module  # noqa: E402

CORPORA = [
    "wsztune/data/demo.records.jsonl",
    "corpora/api.jsonl",
    "corpora/chat.har",
    "corpora/chat.records.jsonl",
    "corpora/game.records.jsonl",
    "corpora/market.records.jsonl",
    "corpora/websockets-commits.jsonl",
]
GRID = sweep.SweepPlan(
    window_bits=(9, 12, 15), mem_levels=(1, 5, 9), context_takeover=(True, False)
)
FIELDS = [
    "messages",
    "raw_bytes",
    "compressed_bytes",
    "savings",
    "server_raw_bytes",
    "server_compressed_bytes",
    "client_raw_bytes",
    "client_compressed_bytes",
    "wire_raw_bytes",
    "wire_compressed_bytes",
    "compress_memory_theoretical",
    "compress_memory_observed",
    "decompress_memory_theoretical",
    "decompress_memory_observed",
    "connection_memory_theoretical",
    "connection_memory",
]
KEYS = ["window_bits", "client_window_bits", "mem_level", "level", "strategy", "context_takeover"]


def main() -> None:
    """Measure every corpus on GRID with the zlib codec and write baseline.json."""
    zlib_module = get_zlib_module("zlib")
    plan = sweep.TimingPlan(repeat=1, warmup=1, min_sample_seconds=0.0)
    out: dict[str, object] = {"zlib": zlib_module.version, "grid": GRID.describe(), "corpora": {}}
    for name in CORPORA:
        streams = corpus.load(REPO / name).streams()
        summary = sweep.CorpusSummary.of(streams)
        cells = [
            zlib_codec.measure_cell(streams, setting, zlib_module, plan, summary)
            for setting in GRID.settings()
        ]
        out["corpora"][name] = [{k: cell[k] for k in KEYS + FIELDS} for cell in cells]
        print(name, len(cells))
    path = Path(__file__).with_name("baseline.json")
    # One cell per line: small, and a diff shows which cell changed.
    lines = [
        f"{json.dumps(name)}: [\n" + ",\n".join(json.dumps(c) for c in cells) + "\n]"
        for name, cells in out["corpora"].items()
    ]
    head = json.dumps({k: v for k, v in out.items() if k != "corpora"})[:-1]
    path.write_text(head + ', "corpora": {\n' + ",\n".join(lines) + "\n}}\n")


if __name__ == "__main__":
    main()
