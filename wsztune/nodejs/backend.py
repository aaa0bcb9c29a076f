"""Run cells through Node's zlib (``codec.js``) and read back sizes, digests and timings.

The corpus goes to node once per sweep, as one temporary file of length-prefixed payloads (no JSON
per message); the cells go as one small JSON job per node process. ``jobs`` node processes share
the cells. Node answers one JSON line per cell: per stream the compressed bytes and every message's
frame payload size (a message under the threshold counts its raw size), the sha256 of all frames,
and, when timing is asked for, CPU-time samples of the calls as ws makes them.

This module knows nothing of the sweep's cell format: it hands back :class:`NodeCell`.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import subprocess
import sys
import tempfile
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from wsztune.errors import NodeUnavailable
from wsztune.nodejs import find_node, helper

CLOCK_NAME = (
    "node process CPU time (process.cpuUsage: main thread and libuv pool), "
    "async zlib stream calls as ws makes them"
)


@dataclass(frozen=True)
class NodeJob:
    """One cell for node: what ws would be configured with, bits already made effective."""

    id: int
    server_bits: int
    client_bits: int
    mem_level: int
    level: int
    strategy: int
    context_takeover: bool
    threshold: int


@dataclass
class NodeCell:
    """What node measured for one cell."""

    id: int
    sizes: list[list[int]]  # per stream, per message: frame payload bytes
    compressed_messages: list[int]  # per stream: messages that went through the compressor
    sha256: str
    compress_samples: list[float] = field(default_factory=list)
    decompress_samples: list[float] = field(default_factory=list)
    loops_compress: int = 0
    loops_decompress: int = 0


def write_corpus(streams: Sequence[Sequence[bytes]], path: Path) -> None:
    """Write payloads as node reads them: per stream a u32 count, per message u32 length + bytes."""
    pack = struct.Struct("<I").pack
    with open(path, "wb") as out:
        for payloads in streams:
            out.write(pack(len(payloads)))
            for payload in payloads:
                out.write(pack(len(payload)))
                out.write(payload)


@contextmanager
def corpus_file(streams: Sequence[Sequence[bytes]]) -> Iterator[Path]:
    """A temporary corpus file for node, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="wsztune-node-") as directory:
        path = Path(directory) / "corpus.bin"
        write_corpus(streams, path)
        yield path


def _decode(line: str) -> NodeCell:
    data = json.loads(line)
    sizes = []
    for stream in data["streams"]:
        values = array("I")
        values.frombytes(base64.b64decode(stream["sizes"]))
        if sys.byteorder != "little":  # pragma: no cover - node wrote little-endian
            values.byteswap()
        sizes.append(values.tolist())
    return NodeCell(
        id=data["id"],
        sizes=sizes,
        compressed_messages=[stream["compressed_messages"] for stream in data["streams"]],
        sha256=data["sha256"],
        compress_samples=data.get("compress_samples", []),
        decompress_samples=data.get("decompress_samples", []),
        loops_compress=data.get("loops_compress", 0),
        loops_decompress=data.get("loops_decompress", 0),
    )


def run_cells(
    corpus: Path,
    directions: Sequence[str],
    cells: Sequence[NodeJob],
    *,
    timing: dict[str, float] | None = None,
    jobs: int = 1,
    on_cell: Callable[[NodeCell], None] | None = None,
) -> list[NodeCell]:
    """Measure ``cells`` in ``jobs`` node processes over the corpus file; results in cell order.

    ``timing`` is ``{"repeat", "warmup", "min_sample_seconds"}``, or None for sizes only.
    A node that fails is a bug or a broken node install: its message is raised.
    """
    node = find_node()
    jobs = max(1, min(jobs, len(cells)))
    shares = [list(cells[index::jobs]) for index in range(jobs)]
    with tempfile.TemporaryDirectory(prefix="wsztune-node-job-") as directory:
        processes = []
        try:
            for index, share in enumerate(shares):
                job_path = Path(directory) / f"job-{index}.json"
                job = {
                    "corpus": str(corpus),
                    "directions": list(directions),
                    "cells": [vars(cell) for cell in share],
                    "timing": timing,
                }
                job_path.write_text(json.dumps(job), encoding="utf-8")
                processes.append(
                    subprocess.Popen(
                        [node, str(helper("codec.js")), str(job_path)],
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                )
            found: dict[int, NodeCell] = {}
            for process in processes:  # read each in turn: the others keep running meanwhile
                assert process.stdout is not None
                for line in process.stdout:
                    cell = _decode(line)
                    found[cell.id] = cell
                    if on_cell is not None:
                        on_cell(cell)
            for process in processes:
                _, stderr = process.communicate()
                if process.returncode != 0:
                    raise RuntimeError(f"node codec failed: {stderr.strip()}")
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()
    missing = [cell.id for cell in cells if cell.id not in found]
    if missing:
        raise RuntimeError(f"node codec returned no result for cells {missing}")
    return [found[cell.id] for cell in cells]


def check_node_runs() -> str:
    """Fail early, in one line, when node is missing; return its path."""
    node = find_node()
    if not os.access(node, os.X_OK) and not Path(node).is_file():  # pragma: no cover
        raise NodeUnavailable(f"{node} is not executable")
    return node
