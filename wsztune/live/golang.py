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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from wsztune.codecs import go
from wsztune.codecs.base import CorpusSummary
from wsztune.corpus import SERVER, Corpus, Stream
from wsztune.errors import SettingError, WsztuneError
from wsztune.live.growth import GO_HEAP_FLOOR, half_slope, relative_difference
from wsztune.live.options import LiveOptions, OptionClash
from wsztune.live.result import Display, LiveResult, Row, byte_fields, judge, kib, memory_rows
from wsztune.permessage_deflate import Setting
from wsztune.stacks import STACKS

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
        "threshold": go.effective_threshold(go.framing_of(library), setting),
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


def prepare(options: LiveOptions) -> LiveOptions:
    """``live --server gorilla`` / ``coder``: refuse zlib's knobs (Go's flate has none) and what
    the library lacks, settle the setting: unasked, the stack's own level (gorilla's 1, coder's
    zlib default); 15:8 only fills the model's fields, Go has neither knob."""
    server = options.server
    zlib_knobs = (options.window_bits, options.mem_level, options.client_window_bits)
    if any(knob is not None for knob in zlib_knobs) or options.ws_dir is not None:
        raise OptionClash(
            f"--server {server} has no windowBits or memLevel (Go's flate): drop --setting, "
            "--window-bits, --mem-level, --client-window-bits and --ws-dir"
        )
    context_takeover = options.context_takeover
    if server == "gorilla":
        context_takeover = False  # gorilla never takes over context
    elif options.level is not None:
        raise OptionClash("coder 1.8.7 has no compression level: drop --level")
    if options.connections < 4:
        raise SettingError(
            f"--connections must be at least 4 with --server {server}, not "
            f"{options.connections} (the first half warms the server up, the growth over the "
            "second half is measured)"
        )
    level = STACKS[server].defaults.level if options.level is None else (options.level or -1)
    setting = Setting(
        15, 8, level, context_takeover=context_takeover, threshold=options.threshold or 0
    )
    return replace(options, setting=setting)


@dataclass(frozen=True)
class GoModel:
    """The go codec's figures for the live run: bytes and frames per corpus connection, memory
    per connection weighed by the streams each connection builds."""

    cell: Any  # the go codec's cell over the corpus
    memory: Any  # its memory figures (go.measure_memory)
    threshold: int
    per_connection: dict[str, list[int]]  # server bytes, client bytes, frames
    raw_by_connection: dict[str, int]
    order: list[str]  # corpus connections, in order: live connection i replays i mod len

    def total(self, connections: int, column: int) -> int:
        """One column of :attr:`per_connection` over ``connections`` live connections."""
        order = self.order
        return sum(self.per_connection[order[i % len(order)]][column] for i in range(connections))

    def raw(self, connections: int) -> int:
        """Raw payload bytes over ``connections`` live connections."""
        order = self.order
        return sum(self.raw_by_connection[order[i % len(order)]] for i in range(connections))


def run_live_go(corpus: Corpus, options: LiveOptions) -> LiveResult:
    """Replay ``corpus`` through a real ``options.server`` (gorilla, coder) server at
    ``options.setting``; compare with the model."""
    started = time.perf_counter()
    library, setting, connections = options.server, options.settled, options.connections
    binary = live_binary()
    streams = corpus.streams()
    with tempfile.TemporaryDirectory(prefix="wsztune-live-go-") as name:
        directory = Path(name)
        model = go_model(streams, setting, library, directory / "corpus.bin")
        spec = dict(
            job_spec(library, setting, directory / "corpus.bin", streams), live=connections
        )
        on, wire = _serve_and_replay(binary, spec, directory, True, options.timeout)
        off, _ = _serve_and_replay(binary, spec, directory, False, options.timeout)
    share = go.shares(model.cell, streams, connections)
    model_memory = share.memory(model.memory)
    cycle = len(model.order)
    on_slope, on_error = half_slope(on.heap, cycle)
    off_slope, off_error = half_slope(off.heap, cycle)
    live_memory = on_slope - off_slope
    difference = live_memory - model_memory
    fields = _result_fields(corpus, options, model, wire)
    verdict = judge(
        bytes_equal=fields["bytes_equal"],
        model_memory=model_memory,
        difference_bytes=difference,
        uncertainty=math.hypot(on_error, off_error),
        baseline=off_slope,
        tolerance=options.tolerance,
        floor=GO_HEAP_FLOOR,
        more="more --connections",
    )
    return LiveResult.build(
        verdict,
        **fields,
        model_connection_memory=model_memory,
        live_connection_memory=live_memory,
        live_baseline_connection_memory=off_slope,
        memory_uncertainty=math.hypot(on_error, off_error),
        memory_difference=relative_difference(difference, model_memory, GO_HEAP_FLOOR),
        memory_difference_bytes=difference,
        memory_within_tolerance=abs(difference)
        <= max(options.tolerance * model_memory, GO_HEAP_FLOOR),
        duration_seconds=time.perf_counter() - started,
        details=_details(model, wire, share, connections, half_slope(on.rss)[0]
                         - half_slope(off.rss)[0]),
    )  # fmt: skip


def go_model(
    streams: Sequence[Stream], setting: Setting, library: str, corpus_file: Path
) -> GoModel:
    """The go codec's cell and memory for ``streams`` (written to ``corpus_file`` for the live
    program too), summed per corpus connection."""
    summary = CorpusSummary.of(streams)
    job = go.GoJob.of(0, setting, go.framing_of(library))
    go.write_corpus([stream.payloads for stream in streams], corpus_file)
    (cell,) = go.run_cells(corpus_file, [s.direction for s in streams], [job])
    memory = go.measure_memory(
        corpus_file, summary.compressor_stream, summary.decompressor_stream, [job]
    )[go.memory_key(job)]
    per_connection: dict[str, list[int]] = {}
    raw_by_connection: dict[str, int] = {}
    for stream, sizes, frames in zip(streams, cell.sizes, cell.frames, strict=True):
        totals = per_connection.setdefault(stream.connection, [0, 0, 0])
        totals[0 if stream.direction == SERVER else 1] += sum(sizes)
        totals[2] += len(frames)
        raw_by_connection[stream.connection] = (
            raw_by_connection.get(stream.connection, 0) + stream.raw_bytes
        )
    return GoModel(
        cell, memory, job.threshold, per_connection, raw_by_connection, list(per_connection)
    )


def go_setting_fields(options: LiveOptions, threshold: int) -> dict[str, Any]:
    """The server, codec and setting fields of a Go server's result (Go's flate has no
    windowBits or memLevel: zlib's 15 and Go's fixed memory stand in for them)."""
    library, setting = options.server, options.settled
    return {
        "server": library,
        "codec": f"go-{library}",
        "window_bits": go.WINDOW_BITS,
        "client_window_bits": go.WINDOW_BITS,
        "mem_level": go.MEM_LEVEL,
        "level": setting.level if go.framing_of(library) == go.GO_GORILLA else -1,
        "context_takeover": setting.context_takeover,
        "threshold": threshold,
    }


def _result_fields(
    corpus: Corpus, options: LiveOptions, model: GoModel, wire: dict[str, int]
) -> dict[str, Any]:
    """The result's fields that are not the memory figures, the verdict's or the time."""
    library, connections = options.server, options.connections
    model_server, model_client = model.total(connections, 0), model.total(connections, 1)
    return {
        **go_setting_fields(options, model.threshold),
        "connections": connections,
        "measured_connections": connections - connections // 2,
        "corpus": corpus.describe(),
        "replay": (
            f"{connections} connections, corpus connection i modulo {len(model.order)}: the "
            "client's messages, then the server's; server and clients in separate Go processes"
        ),
        **byte_fields(model_server, model_client, wire["server_bytes"], wire["client_bytes"]),
        "raw_bytes": model.raw(connections),
        "memory_figure": "Go heap (runtime.MemStats.HeapAlloc after GC)",
        "model_compressor_memory": model.memory.compressor_idle,
        "model_decompressor_memory": model.memory.decompressor_idle,
        "memory_floor": GO_HEAP_FLOOR,
        "tolerance": options.tolerance,
        "versions": {"go": cell_go_version(), library: go.LIBRARY_VERSIONS[go.framing_of(library)]},
    }


def _details(
    model: GoModel, wire: dict[str, int], share: Any, connections: int, rss: float
) -> dict[str, Any]:
    return {
        "live_frames_server": wire["server_frames"],
        "live_frames_client": wire["client_frames"],
        "model_frames_live": model.total(connections, 2),
        "live_rss_compression_per_connection": rss,
        "model_compressor_share": share.compressor,
        "model_decompressor_share": share.decompressor,
        "model_reader_share": share.reader,
        "model_reader_memory": model.memory.decompressor_reader,
        "model_write_memory": model.memory.compressor_writing,
    }


def display(result: LiveResult) -> Display:
    """The rows a Go result adds: frames, the Go heap per connection, RSS (shown, not checked)
    and what one concurrent write costs in the model."""
    details = result.details
    setting = (
        f"level {result.level}"
        if result.server == "gorilla"
        else f"context takeover {'on' if result.context_takeover else 'off'}"
    )
    frames = details["live_frames_server"] + details["live_frames_client"]
    return Display(
        setting=f", {setting}, threshold {result.threshold} B",
        rows=(
            Row("frames, both ways", f"{details['model_frames_live']:,}", f"{frames:,}"),
            *memory_rows(result, "Go heap"),
            Row("Go heap/conn, uncompressed", "", kib(result.live_baseline_connection_memory)),
            Row("RSS/conn, compression (*)", "",
                kib(details["live_rss_compression_per_connection"])),
            Row("per concurrent write (model)", kib(details["model_write_memory"])),
        ),  # fmt: skip
        footnote="(*) /proc/self/statm, noisy: shown, not checked",
        versions=f"{result.server} {result.versions[result.server]}, {result.versions['go']}",
    )


def cell_go_version() -> str:
    """Go's version as the codec helper reports it."""
    return go.helper_versions()["go"]
