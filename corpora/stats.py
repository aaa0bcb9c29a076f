"""Print the per-corpus table in corpora/README.md (run from the repo root).

Reads the files as written, not the generator, so the table describes what ships.
Sizes are payload bytes (UTF-8 text or decoded binary); p95 is nearest-rank.
"""

from __future__ import annotations

import base64
import json
import math
import statistics
import sys
from pathlib import Path


def _records(path: Path) -> list[tuple[str, str, int]]:
    """(connection, direction, size) per frame of a records/1 file."""
    lines = path.read_text("utf-8").splitlines()
    assert lines[0] == '{"wsztune":"records/1"}'
    out = []
    for line in lines[1:]:
        obj = json.loads(line)
        if "text" in obj:
            size = len(obj["text"].encode("utf-8"))
        else:
            size = len(base64.b64decode(obj["base64"]))
        out.append((obj["connection"], obj["direction"], size))
    return out


def _flat(path: Path) -> list[tuple[str, str, int]]:
    """Flat JSONL: one server payload per line, no connection information."""
    return [("-", "server", len(line)) for line in path.read_bytes().split(b"\n") if line]


def _har(path: Path) -> list[tuple[str, str, int]]:
    """WebSocket frames of a Chrome HAR; send = client, receive = server."""
    out = []
    for entry in json.loads(path.read_text("utf-8"))["log"]["entries"]:
        for m in entry.get("_webSocketMessages", []):
            data = m["data"]
            size = len(data.encode("utf-8")) if m["opcode"] == 1 else len(base64.b64decode(data))
            direction = "client" if m["type"] == "send" else "server"
            out.append((entry["request"]["url"], direction, size))
    return out


def main(root: Path) -> None:
    """Print the markdown table rows for every corpus file in ``root``."""
    files = [
        ("chat.records.jsonl", _records),
        ("market.records.jsonl", _records),
        ("game.records.jsonl", _records),
        ("api.jsonl", _flat),
        ("chat.har", _har),
        ("websockets-commits.jsonl", _flat),
    ]
    print(
        "| corpus | messages | connections | directions (server / client) | binary "
        "| median bytes | p95 bytes | savings at 12:5 | savings at recommended |"
    )
    print("|---|--:|--:|---|--:|--:|--:|---|---|")
    for name, read in files:
        frames = read(root / name)
        sizes = sorted(s for _, _, s in frames)
        conns = {c for c, _, _ in frames}
        server = sum(d == "server" for _, d, _ in frames)
        p95 = sizes[math.ceil(0.95 * len(sizes)) - 1]
        nconn = "n/a" if conns == {"-"} else str(len(conns))
        binary = "-"
        if read is _records:
            binary = str(
                sum('"base64":' in line for line in (root / name).read_text("utf-8").splitlines())
            )
        elif read is _har:
            har = json.loads((root / name).read_text("utf-8"))
            binary = str(
                sum(
                    m["opcode"] == 2
                    for e in har["log"]["entries"]
                    for m in e.get("_webSocketMessages", [])
                )
            )
        print(
            f"| `{name}` | {len(frames):,} | {nconn} | {server:,} / {len(frames) - server:,} "
            f"| {binary} | {statistics.median(sizes):g} | {p95:,} | TBD | TBD |"
        )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("corpora"))
