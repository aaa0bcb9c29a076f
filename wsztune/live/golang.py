"""``wsztune live --server gorilla`` (and ``coder``): a real Go server on 127.0.0.1.

A Go program (``golive/wsztune_live_go.go``, shipped as source and built on first use against
the libraries in GOPATH, Debian's packages included) runs the server in one process and the
clients in another. The clients replay the corpus (connection i replays corpus connection i
modulo their number: the client's messages, then the server's) and count every data frame's
payload on the TCP connection; the server holds every connection open and samples its own Go
heap (``runtime.MemStats.HeapAlloc`` after two collections) and RSS after each replay.

Compared with the model (the go codec, :mod:`wsztune.codecs.go`): the payload bytes each way
must be equal, and the server's heap per connection with compression, on minus off (the growth
over the second half of the connections; the first half warms the server up), must be within the
tolerance of the model's ``connection_memory``, or within a 2 KiB floor where the model expects
almost nothing (gorilla pools its flate writers: an idle connection holds no compressor).
"""

from __future__ import annotations

import json
import math
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wsztune.codec import Setting
from wsztune.codecs import go
from wsztune.codecs.base import CorpusSummary
from wsztune.corpus import CLIENT, SERVER, Corpus, Stream
from wsztune.errors import WsztuneError
from wsztune.live.growth import GO_HEAP_FLOOR, half_slope, relative_difference
from wsztune.live.result import LiveResult, judge

LIVE_SOURCE = Path(__file__).resolve().parent / "golive" / "wsztune_live_go.go"
STEP_TIMEOUT = 300


def live_binary() -> Path:
    """The live program, built on first use against the Go WebSocket libraries."""
    return go.build_go(LIVE_SOURCE, "wsztune-live-go", "wsztune's Go live servers")


@dataclass(frozen=True)
class ServerRun:
    """What one server process sampled: (heap, RSS) after each connection's replay."""

    heap: list[int]
    rss: list[int]


def job_spec(
    library: str, setting: Setting, corpus_file: Path, streams: Sequence[Stream]
) -> dict[str, Any]:
    """The program's job for ``setting`` over ``streams`` (written to ``corpus_file``)."""
    numbers: dict[str, int] = {}
    return {
        "library": library,
        "level": setting.level,
        "context_takeover": setting.context_takeover,
        "threshold": go.effective_threshold(library, setting),
        "corpus": str(corpus_file),
        "directions": [stream.direction for stream in streams],
        "connections": [numbers.setdefault(s.connection, len(numbers)) for s in streams],
    }


def _serve_and_replay(
    binary: Path, spec: dict[str, Any], directory: Path, compression: bool, timeout: float
) -> tuple[ServerRun, dict[str, int]]:
    """One server process and one clients process: what the server sampled, what the clients
    counted on the wire."""
    job = dict(spec, compression=compression)
    server_job = directory / f"serve-{compression}.json"
    server_job.write_text(json.dumps(job), encoding="utf-8")
    server = subprocess.Popen(
        [str(binary), "serve", str(server_job)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    clients = None
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        if not first.startswith("PORT "):
            raise WsztuneError(f"the Go live server did not start: {server.stderr.read().strip()}")
        job["port"] = int(first.split()[1])
        clients_job = directory / f"clients-{compression}.json"
        clients_job.write_text(json.dumps(job), encoding="utf-8")
        clients = subprocess.Popen(
            [str(binary), "clients", str(clients_job)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert clients.stdin is not None and clients.stdout is not None
        samples = []
        # Lockstep: the server samples, then the clients open the next connection.
        for _ in range(job["live"] + 1):
            line = server.stdout.readline()
            if not line:
                raise WsztuneError(
                    f"the Go live server failed: {server.stderr.read().strip()} "
                    f"{clients.stderr.read().strip() if clients.poll() is not None else ''}"
                )
            samples.append(json.loads(line))
            clients.stdin.write("\n")
            clients.stdin.flush()
        counted = clients.stdout.readline()
        if not counted:
            raise WsztuneError(f"the Go live clients failed: {clients.stderr.read().strip()}")
        wire = json.loads(counted)
        clients.stdin.close()
        clients.wait(timeout=timeout)
        return ServerRun([s["heap"] for s in samples], [s["rss"] for s in samples]), wire
    finally:
        for process in (clients, server):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()


def run_live_go(
    corpus: Corpus,
    library: str,
    setting: Setting,
    *,
    connections: int = 60,
    tolerance: float = 0.3,
    timeout: float = STEP_TIMEOUT,
) -> LiveResult:
    """Replay ``corpus`` through a real ``library`` server at ``setting``; compare with the
    model."""
    started = time.perf_counter()
    binary = live_binary()
    streams = corpus.streams()
    summary = CorpusSummary.of(streams)
    job = go.GoJob.of(0, setting, library)
    with tempfile.TemporaryDirectory(prefix="wsztune-live-go-") as name:
        directory = Path(name)
        corpus_file = directory / "corpus.bin"
        go.write_corpus([stream.payloads for stream in streams], corpus_file)
        (cell,) = go.run_cells(corpus_file, [s.direction for s in streams], [job])
        memory = go.measure_memory(
            corpus_file, summary.compressor_stream, summary.decompressor_stream, [job]
        )[go.memory_key(job)]
        spec = dict(job_spec(library, setting, corpus_file, streams), live=connections)
        on, wire = _serve_and_replay(binary, spec, directory, True, timeout)
        off, _ = _serve_and_replay(binary, spec, directory, False, timeout)

    # The model's bytes for the live connections: corpus connection i modulo their number.
    per_connection: dict[str, list[int]] = {}
    for stream, sizes, frames in zip(streams, cell.sizes, cell.frames, strict=True):
        totals = per_connection.setdefault(stream.connection, [0, 0, 0])
        totals[0 if stream.direction == SERVER else 1] += sum(sizes)
        totals[2] += len(frames)
    order = list(per_connection)
    model_server = sum(per_connection[order[i % len(order)]][0] for i in range(connections))
    model_client = sum(per_connection[order[i % len(order)]][1] for i in range(connections))
    raw = {SERVER: 0, CLIENT: 0}
    raw_by_connection: dict[str, int] = {}
    for stream in streams:
        raw_by_connection[stream.connection] = (
            raw_by_connection.get(stream.connection, 0) + stream.raw_bytes
        )
        raw[stream.direction] += stream.raw_bytes
    raw_live = sum(raw_by_connection[order[i % len(order)]] for i in range(connections))

    share = go.shares(cell, streams, connections)
    model_memory = share.memory(memory)
    cycle = len(order)
    on_slope, on_error = half_slope(on.heap, cycle)
    off_slope, off_error = half_slope(off.heap, cycle)
    live_memory = on_slope - off_slope
    uncertainty = math.hypot(on_error, off_error)
    rss_on, _ = half_slope(on.rss)
    rss_off, _ = half_slope(off.rss)
    bytes_equal = (wire["server_bytes"], wire["client_bytes"]) == (model_server, model_client)
    difference = live_memory - model_memory
    verdict = judge(
        bytes_equal=bytes_equal,
        model_memory=model_memory,
        difference_bytes=difference,
        uncertainty=uncertainty,
        baseline=off_slope,
        tolerance=tolerance,
        floor=GO_HEAP_FLOOR,
        more="more --connections",
    )
    return LiveResult.build(
        verdict,
        server=library,
        codec=f"go-{library}",
        window_bits=go.WINDOW_BITS,
        client_window_bits=go.WINDOW_BITS,
        mem_level=go.MEM_LEVEL,
        level=setting.level if library == go.GORILLA else -1,
        context_takeover=setting.context_takeover,
        threshold=job.threshold,
        connections=connections,
        measured_connections=connections - connections // 2,
        corpus=corpus.describe(),
        replay=(
            f"{connections} connections, corpus connection i modulo {len(order)}: the client's "
            "messages, then the server's; server and clients in separate Go processes"
        ),
        model_bytes=model_server + model_client,
        live_bytes=wire["server_bytes"] + wire["client_bytes"],
        model_server_bytes=model_server,
        live_server_bytes=wire["server_bytes"],
        model_client_bytes=model_client,
        live_client_bytes=wire["client_bytes"],
        raw_bytes=raw_live,
        bytes_equal=bytes_equal,
        memory_figure="Go heap (runtime.MemStats.HeapAlloc after GC)",
        model_connection_memory=model_memory,
        model_compressor_memory=memory.compressor_idle,
        model_decompressor_memory=memory.decompressor_idle,
        live_connection_memory=live_memory,
        live_baseline_connection_memory=off_slope,
        memory_uncertainty=uncertainty,
        memory_difference=relative_difference(difference, model_memory, GO_HEAP_FLOOR),
        memory_difference_bytes=difference,
        memory_floor=GO_HEAP_FLOOR,
        tolerance=tolerance,
        memory_within_tolerance=abs(difference) <= max(tolerance * model_memory, GO_HEAP_FLOOR),
        versions={"go": cell_go_version(), library: go.LIBRARY_VERSIONS[library]},
        duration_seconds=time.perf_counter() - started,
        details={
            "live_frames_server": wire["server_frames"],
            "live_frames_client": wire["client_frames"],
            "model_frames_live": sum(
                per_connection[order[i % len(order)]][2] for i in range(connections)
            ),
            "live_rss_compression_per_connection": rss_on - rss_off,
            "model_compressor_share": share.compressor,
            "model_decompressor_share": share.decompressor,
            "model_reader_share": share.reader,
            "model_reader_memory": memory.decompressor_reader,
            "model_write_memory": memory.compressor_writing,
        },
    )


def cell_go_version() -> str:
    """Go's version as the codec helper reports it."""
    return go.helper_versions()["go"]
