"""Go's permessage-deflate: gorilla/websocket 1.5.0 and coder/websocket (nhooyr) 1.8.7.

Neither library uses zlib. gorilla compresses every message with a fresh (pooled) Go
``compress/flate`` writer at the connection's level, without context takeover, and frames the
output through its 4 KiB write buffer; coder 1.8.7 compresses with klauspost/compress's
``StatelessDeflate`` over an 8 KiB window of the connection's previous messages (context takeover)
or none, only messages at or over its threshold (128 B with takeover, 512 B without, by default),
and sends every write of the compressor as a frame of its own, then an empty final frame.

The measuring is done by a Go helper shipped as source in this package (``gohelper/``), built on
first use with the user's ``go`` into wsztune's cache directory (GOPATH mode: the Debian packages
under ``/usr/share/gocode`` are found there). Its axes are the libraries' real ones: the level
(gorilla: -2 Huffman only, -1 default, 0-9), the takeover mode (coder) and the threshold; a Go
cell has no windowBits and no memLevel (Go's window is always 32 KiB: ``window_bits`` 15,
``mem_level`` 0), which the run's metadata says (``grid.axes``).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from wsztune.codecs.base import (
    CellDone,
    CellMemory,
    CodecInfo,
    CorpusSummary,
    TimingPlan,
    cell_fields,
    frame_header_size,
    timing_of,
)
from wsztune.corpus import CLIENT, SERVER, Stream
from wsztune.errors import ToolUnavailable, WsztuneError
from wsztune.fanout import (
    DeliverySchedule,
    SplitSamples,
    SplitSeries,
    delivery_fields,
    delivery_schedule,
    seconds_per_delivery,
    split_series,
    stretch_starts,
)
from wsztune.memory import Resident
from wsztune.permessage_deflate import Setting
from wsztune.programs import (
    Helper,
    HelperCell,
    find_program,
    helper_cell_fields,
    helper_failed,
    run_job_files,
    unpack_u32,
    write_corpus,
)
from wsztune.programs.descriptors import SPARE_DESCRIPTORS, most_open_files

NAME = "go"
# The framings this codec reproduces, each called by its codec's name: the library whose bytes
# it makes (gorilla/websocket, coder/websocket, nats-server's listener in server/websocket.go).
GO_GORILLA = "go-gorilla"
GO_CODER = "go-coder"
GO_NATS = "go-nats"
LIBRARIES = (GO_GORILLA, GO_CODER)  # the Go WebSocket libraries (wsztune live runs them)
MODELLED = (*LIBRARIES, GO_NATS)  # everything the helper can measure
LIBRARY_VERSIONS = {GO_GORILLA: "1.5.0", GO_CODER: "1.8.7", GO_NATS: "2.9.10"}
GO_ENV = "WSZTUNE_GO"  # a go binary to use instead of the one on PATH
DEBIAN_GOPATH = "/usr/share/gocode"
HELPER_SOURCE = Path(__file__).resolve().parent / "gohelper" / "wsztune_go.go"
# gorilla/websocket's import path: the helper times a PreparedMessage broadcast through it where
# it is found (gohelper/gorilla_prepared.go), and is built with the tag below where it is not.
GO_GORILLA_PACKAGE = "github.com/gorilla/websocket"
GO_GORILLA_MISSING_TAG = "nogorilla"
LEVELS = tuple(range(-2, 10))  # Go's compress/flate: -2 Huffman only, -1 default (6), 0-9
# coder's threshold when none is configured (conn_notjs.go newConn): by takeover mode.
GO_CODER_DEFAULT_THRESHOLD = {True: 128, False: 512}
# The axes a cell of each library has (the results' grid.axes): what table, plot and recommend
# lay Go runs out on instead of windowBits x memLevel.
AXES = {
    GO_GORILLA: ("level", "threshold"),
    GO_CODER: ("context_takeover", "threshold"),
    GO_NATS: ("level", "threshold"),  # both fixed by nats-server: one cell beside "off"
}
# Go's flate window is always 32 KiB; cells say so rather than leave the field out.
WINDOW_BITS = 15
MEM_LEVEL = 0  # no such knob in Go
MEMORY_CONNECTIONS = 200
CLOCK_NAME = (
    "Go thread CPU time (clock_gettime CLOCK_THREAD_CPUTIME_ID, goroutine locked to its thread)"
)
MEMORY_METHOD = (
    "Go runtime heap (runtime.MemStats.HeapAlloc after two collections) of a fresh helper "
    "process per setting, over {n} connections, beside RSS: idle = what a connection keeps "
    "between messages after sending the largest server stream's first compressed message and "
    "inflating the largest client stream's (gorilla keeps nothing: its flate writers and readers "
    "go back to sync.Pools; coder keeps its 8 KiB write window and 32 KiB read window with "
    "context takeover); writing = one message in the middle of compression (gorilla: a "
    "flate.Writer per concurrent write, taken from the pool); reading = one inflater in the "
    "middle of a message. connection_memory = compressor_share x compressor idle + "
    "decompressor_share x decompressor idle, the shares being the corpus connections whose "
    "server sends, resp. receives, a compressed message (coder builds its windows on first "
    "use), plus coder's flate reader on connections whose last message received was compressed "
    "(coder 1.8.7 still points at it after putting it back in its pool); "
    "compress/decompress_memory_peak are per concurrent write/read."
)


@dataclass(frozen=True)
class GoJob:
    """One cell for the helper."""

    id: int
    framing: str  # one of MODELLED
    level: int
    context_takeover: bool
    threshold: int
    # gorilla: the server broadcasts with PreparedMessage (compress once, the same frames to
    # every subscriber); its frames are cut at 4096 payload bytes, not the connection's 4082.
    prepared: bool = False
    # A named client (``--client``): the file of the frames it sends (:func:`write_client_frames`)
    client_frames: str = ""
    # Its threshold: its messages under it are sent (and in that file) uncompressed.
    client_threshold: int = 0

    @classmethod
    def of(cls, index: int, setting: Setting, framing: str, prepared: bool = False) -> GoJob:
        """The job for ``setting`` (threshold 0 on coder: the library's default)."""
        if prepared and framing != GO_GORILLA:
            raise ValueError("only gorilla has PreparedMessage")
        return cls(index, framing, setting.level, setting.context_takeover,
                   effective_threshold(framing, setting), prepared,
                   client_threshold=setting.client_threshold or 0)

    def helper_fields(self) -> dict[str, Any]:
        """The job as the helper reads it: the library by its own name."""
        fields = {**vars(self), "library": library_name(self.framing)}
        del fields["framing"]
        return fields


def effective_threshold(framing: str, setting: Setting) -> int:
    """The threshold the library applies: coder replaces 0 with its default by takeover mode."""
    if framing == GO_CODER and setting.threshold == 0:
        return GO_CODER_DEFAULT_THRESHOLD[setting.context_takeover]
    return setting.threshold


def library_name(framing: str) -> str:
    """The library a framing is named after, as the helper and a run's metadata call it."""
    return framing.removeprefix(f"{NAME}-")


def framing_of(name: str | None) -> str:
    """The framing a Go run models: ``name`` (a framing, or its library's name), else gorilla's."""
    for framing in MODELLED:
        if name in (framing, library_name(framing)):
            return framing
    return GO_GORILLA


# Finding go and building the helper ---------------------------------------------------------


class GoUnavailable(ToolUnavailable):
    """go is missing or the helper does not build: one line, exit 2."""


def find_go() -> str:
    """Path of the ``go`` executable (``$WSZTUNE_GO``, else PATH), or a one-line error."""
    return find_program(
        "go",
        GO_ENV,
        GoUnavailable,
        "install Go 1.19 or newer (Debian: apt install golang-go "
        "golang-github-klauspost-compress-dev)",
    )


def go_environment(go: str) -> dict[str, str]:
    """The environment the helper builds in: GOPATH mode, the Debian Go packages included."""
    env = dict(os.environ)
    paths = [path for path in env.get("GOPATH", "").split(os.pathsep) if path]
    if not paths:
        paths = [str(Path.home() / "go")]
    if DEBIAN_GOPATH not in paths:
        paths.append(DEBIAN_GOPATH)
    env.update(GOPATH=os.pathsep.join(paths), GO111MODULE="off", GOFLAGS="")
    return env


def _go_version(go: str) -> str:
    try:
        completed = subprocess.run(
            [go, "env", "GOVERSION"], capture_output=True, text=True, timeout=60, check=True
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise GoUnavailable(f"{go} does not run: {error}") from None
    return completed.stdout.strip() or "unknown"


def cache_dir() -> Path:
    """Where the built helper is kept (wsztune's cache: ``$WSZTUNE_CACHE`` or XDG)."""
    from wsztune.programs.cache import default_cache_dir

    return default_cache_dir()


def helper_binary(notice: Callable[[str], None] | None = None) -> Path:
    """The built codec helper (every file of ``gohelper/``), building it first (once per source,
    Go version and whether gorilla/websocket is found: without it, gorilla's PreparedMessage
    broadcast is not timed through gorilla, and the cells say so)."""
    tags = () if go_gorilla_found() else (GO_GORILLA_MISSING_TAG,)
    return build_go(HELPER_SOURCE.parent, "wsztune-go", "wsztune's Go helper", notice, tags)


def go_gorilla_found() -> bool:
    """Whether GOPATH (the Debian packages' included: :func:`go_environment`) holds
    gorilla/websocket's source, for the helper to build against."""
    paths = go_environment("go")["GOPATH"].split(os.pathsep)
    return any((Path(path) / "src" / GO_GORILLA_PACKAGE).is_dir() for path in paths)


def build_go(
    source: Path,
    name: str,
    what: str,
    notice: Callable[[str], None] | None = None,
    tags: Sequence[str] = (),
) -> Path:
    """``source`` (a file, or a directory's package) built with the user's go into wsztune's
    cache, with build ``tags``, once per source, tags and Go version, with a notice the first
    time; a missing go or a failed build is one line (exit 2)."""
    go = find_go()
    version = _go_version(go)
    if source.is_dir():
        files = sorted(source.glob("*.go"))
        content = b"".join(path.name.encode() + path.read_bytes() for path in files)
    else:
        content = source.read_bytes()
    digest = hashlib.sha256(content + ",".join(tags).encode() + version.encode()).hexdigest()
    digest = digest[:16]
    target = cache_dir() / f"{name}-{digest}" / name
    if target.is_file():
        return target
    say = notice or (lambda text: print(text, file=sys.stderr))
    say(f"note: building {what} with {version} (once) into {target.parent}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{name}-{os.getpid()}")
    try:
        completed = subprocess.run(
            # A directory is built as its package ("."): go applies build tags only there.
            [go, "build", "-tags", ",".join(tags), "-o", str(partial),
             "." if source.is_dir() else str(source)],
            capture_output=True,
            text=True,
            timeout=600,
            env=go_environment(go),
            cwd=source if source.is_dir() else target.parent,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as error:
        raise GoUnavailable(f"building {what} failed: {error}") from None
    if completed.returncode != 0:
        first = next((line for line in completed.stderr.splitlines() if line.strip()), "")
        hint = ""
        if "cannot find package" in completed.stderr:
            hint = (
                " (Debian: apt install golang-github-klauspost-compress-dev "
                "golang-github-gorilla-websocket-dev golang-nhooyr-websocket-dev, or put the "
                "package in GOPATH)"
            )
        raise GoUnavailable(f"building {what} failed: {first.strip()}{hint}")
    os.replace(partial, target)  # atomic: a concurrent build never leaves half a binary
    return target


def helper_versions() -> dict[str, str]:
    """The helper's ``version`` answer: Go's version and the library versions modelled."""
    completed = subprocess.run(
        [str(helper_binary()), "version"], capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(completed.stdout)


# Running cells ----------------------------------------------------------------------------


@dataclass
class GoCell(HelperCell):
    """What the Go helper measured for one cell: a helper's cell, and each frame on its own
    (a message may go out as several frames)."""

    frames: list[list[int]] = field(default_factory=list)  # per stream, in order
    last_compressed: list[bool] = field(default_factory=list)  # per stream: its last message?
    # A broadcast's timing (wsztune.fanout): seconds per stretch, "compress", "decompress", "hot";
    # "sent_bytes", what the library's own connection sent one subscriber (coderDeliveries,
    # gorillaDeliveries), absent where gorilla/websocket was not found (delivery_timing).
    delivery: dict[str, Any] | None = None


def _decode(line: str) -> GoCell:
    data = json.loads(line)
    streams = data["streams"]
    return GoCell(
        **helper_cell_fields(data),
        frames=[unpack_u32(stream["frames"]) for stream in streams],
        last_compressed=[stream.get("last_compressed", False) for stream in streams],
        delivery=data.get("delivery"),
    )


def run_cells(
    corpus: Path,
    directions: Sequence[str],
    jobs_for: Sequence[GoJob],
    *,
    timing: dict[str, object] | None = None,
    jobs: int = 1,
    on_cell: Callable[[GoCell], None] | None = None,
) -> list[GoCell]:
    """Measure ``jobs_for`` in ``jobs`` helper processes; results in job order."""
    binary = helper_binary()

    def write_job(path: Path, share: Sequence[GoJob]) -> None:
        document = {
            "corpus": str(corpus),
            "directions": list(directions),
            "cells": [job.helper_fields() for job in share],
            "timing": timing,
        }
        path.write_text(json.dumps(document), encoding="utf-8")

    return run_job_files(
        jobs_for,
        jobs,
        write_job,
        lambda path, _: Helper([str(binary), "cells", str(path)]),
        _decode,
        name="Go codec",
        on_result=on_cell,
    )


@dataclass(frozen=True)
class GoMemory:
    """Per connection, in bytes, as the helper measured it (Go heap; RSS beside it)."""

    compressor_idle: int
    decompressor_idle: int
    decompressor_reader: int  # coder: the flate reader a connection keeps after a compressed one
    compressor_writing: int
    decompressor_reading: int
    rss_idle: int
    rss_writing: int


def memory_key(job: GoJob) -> tuple:
    """Cells that cost the same memory share one probe."""
    return (job.framing, job.level, job.context_takeover, job.threshold)


def measure_memory(
    corpus: Path,
    compressor_stream: int,
    decompressor_stream: int,
    jobs_for: Sequence[GoJob],
    *,
    connections: int = MEMORY_CONNECTIONS,
    jobs: int = 1,
) -> dict[tuple, GoMemory]:
    """One fresh helper process per distinct :func:`memory_key`, ``jobs`` at a time."""
    from concurrent.futures import ThreadPoolExecutor

    binary = helper_binary()
    distinct: dict[tuple, GoJob] = {}
    for job in jobs_for:
        distinct.setdefault(memory_key(job), job)

    def probe(item: tuple[tuple, GoJob]) -> tuple[tuple, GoMemory]:
        key, job = item
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as job_file:
            json.dump(
                {
                    "corpus": str(corpus),
                    "compressor_stream": compressor_stream,
                    "decompressor_stream": decompressor_stream,
                    "cell": job.helper_fields(),
                    "connections": connections,
                },
                job_file,
            )
        try:
            completed = subprocess.run(
                [str(binary), "memory", job_file.name],
                capture_output=True,
                text=True,
                timeout=600,
            )
        finally:
            os.unlink(job_file.name)
        if completed.returncode != 0:
            raise helper_failed("Go memory probe", completed.returncode, completed.stderr)
        return key, GoMemory(**json.loads(completed.stdout))

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        return dict(pool.map(probe, distinct.items()))


# The codec --------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoCodec:
    """Go's WebSocket libraries as the sweep's codec; ``framing`` says which one's bytes."""

    name: str = NAME
    framing: str = GO_GORILLA

    def check(self) -> None:
        """go missing, or the helper not building: one line, exit 2, before any work."""
        helper_binary()

    def describe(self) -> CodecInfo:
        """Go's version, the library modelled, the timing clock and the memory method."""
        versions = helper_versions()
        return CodecInfo(
            self.name,
            versions["go"],
            clock=CLOCK_NAME,
            meta={
                "go": {
                    "go_version": versions["go"],
                    "library": library_name(self.framing),
                    "library_version": LIBRARY_VERSIONS[self.framing],
                    "compressor": "compress/flate (Go standard library)"
                    if self.framing in (GO_GORILLA, GO_NATS)
                    else "github.com/klauspost/compress/flate StatelessDeflate",
                },
                # The axes this run's cells vary on: table, plot and recommend lay it out on
                # them (a run without "axes" is a windowBits x memLevel grid).
                "axes": list(AXES[self.framing]),
                "memory_method": MEMORY_METHOD.format(n=MEMORY_CONNECTIONS),
            },
        )

    def filed_fields(self, setting: Setting) -> dict[str, Any]:
        """The fields its cells record other than ``setting`` says them (:func:`recorded_fields`):
        how a sweep finds the cells of a client mix."""
        return recorded_fields(self.framing, setting)

    def measure(
        self,
        streams: Sequence[Stream],
        order: Sequence[Setting],
        plan: TimingPlan,
        jobs: int,
        finished: CellDone,
    ) -> None:
        """Sizes (round trip checked in Go), timing, then memory in fresh processes."""
        summary = CorpusSummary.of(streams)
        directions = [stream.direction for stream in streams]
        jobs_for = [GoJob.of(index, setting, self.framing) for index, setting in enumerate(order)]
        timing: dict[str, object] | None = plan.helper_job()  # type: ignore[assignment]
        server_sizes = [size for s in streams if s.direction == SERVER for size in s.sizes()]
        state = max(delivery_state(GoJob.of(0, setting, self.framing)) for setting in order)
        most = None if self.framing == GO_NATS else SOCKET_CONNECTIONS
        schedule = delivery_schedule(len(server_sizes), plan.fanout, plan.repeat, plan.warmup,
                                     state, most_compressors=most)  # fmt: skip
        if timing is not None and schedule is not None and most is not None:
            check_open_files(2 * schedule.compressors)
        prepared_schedule = None
        splits: dict[int, SplitSeries] = {}
        if timing is not None and schedule is not None:
            deliveries = schedule.helper_job()
            if self.framing == GO_GORILLA:
                prepared_schedule = prepared_plan(schedule, len(server_sizes))
                deliveries["prepared"] = {
                    "connections": schedule.compressors,
                    "stretches": [list(stretch) for stretch in prepared_schedule.stretches],
                }
            splits = threshold_splits(schedule, server_sizes, jobs_for)
            deliveries["split"] = {str(threshold): split.helper_job()
                                   for threshold, split in splits.items()}  # fmt: skip
            timing = {**timing, "deliveries": deliveries}
        with tempfile.TemporaryDirectory(prefix="wsztune-go-") as directory:
            path = Path(directory) / "corpus.bin"
            write_corpus([stream.payloads for stream in streams], path)
            named = write_client_frames(streams, order, Path(directory))
            jobs_for = [replace(job, client_frames=named.get(job.id, "")) for job in jobs_for]
            # Memory first, in its own processes, never while timing.
            memory = measure_memory(
                path, summary.compressor_stream, summary.decompressor_stream, jobs_for, jobs=jobs
            )
            # gorilla's compress-once mode beside each cell: the same compression, framed as a
            # PreparedMessage frames it (sizes only: its CPU is the cell's, once per message).
            prepared: dict[int, GoCell] = {}
            if self.framing == GO_GORILLA:
                once = [replace(job, prepared=True) for job in jobs_for]
                prepared = {cell.id: cell for cell in run_cells(path, directions, once, jobs=jobs)}

            def done(result: GoCell) -> None:
                job = jobs_for[result.id]
                cell = go_cell(streams, order[result.id], job, result,
                               memory[memory_key(job)], plan, summary)
                delivery = result.delivery or {}
                cell.update(delivery_fields(schedule, server_sizes, delivery.get("compress"),
                                            delivery.get("decompress"), delivery.get("hot"),
                                            threshold=job.threshold,
                                            longer_samples=delivery.get("longer"),
                                            split=split_samples(splits.get(job.threshold),
                                                                delivery)))  # fmt: skip
                if schedule is not None:
                    cell["delivery_timing"] = delivery_timing(self.framing, delivery)
                if result.id in prepared:
                    cell["compress_once"] = compress_once(streams, cell, result,
                                                          prepared[result.id], plan.fanout)
                    cell["compress_once"].update(prepared_timing(
                        cell, prepared_schedule, server_sizes, delivery.get("prepared"),
                        job.threshold))  # fmt: skip
                finished(cell)

            run_cells(path, directions, jobs_for, timing=timing, jobs=jobs, on_cell=done)


def write_client_frames(
    streams: Sequence[Stream], order: Sequence[Setting], directory: Path
) -> dict[int, str]:
    """For the settings with a named client (``--client``), a file of the frames it sends (the
    client streams as :func:`zlib_client_frames` compresses them, the server's empty), one per
    distinct client compressor: job id -> path. The Go helper has the server inflate them (the
    round trip checked, the time measured) and compresses none of them itself."""
    paths: dict[tuple, str] = {}
    named: dict[int, str] = {}
    for index, setting in enumerate(order):
        if not setting.client_named:
            continue
        client = setting.sender(CLIENT)
        key = (client.mem_level, client.level, client.client_bits, client.context_takeover,
               client.threshold)  # fmt: skip
        if key not in paths:
            path = directory / f"client-{len(paths)}.bin"
            write_corpus(
                [zlib_client_frames(s.payloads, setting) if s.direction == CLIENT else []
                 for s in streams],
                path,
            )  # fmt: skip
            paths[key] = str(path)
        named[index] = paths[key]
    return named


def zlib_client_frames(payloads: Sequence[bytes], setting: Setting) -> list[bytes]:
    """The frame payloads a named client (a browser) sends a Go server, one per message:
    compressed with zlib at the client's memLevel and level, its window (Go servers never limit
    ``client_max_window_bits``: 15 bits), context takeover as the Go server negotiates it
    (gorilla answers ``client_no_context_takeover``, coder does with takeover off), a message
    under the client's own threshold (Node ws's client) as it is, the others compressed.
    ``tests/codecs/test_go_clients.py`` sends them to the real libraries."""
    from wsztune.permessage_deflate import compress_stream, get_zlib_module

    client = replace(setting.sender(CLIENT), threshold=setting.client_threshold or 0)
    return compress_stream(payloads, client, client.client_bits, get_zlib_module("zlib"))


def codec(name: str = NAME) -> GoCodec:
    """The registry's constructor (:data:`wsztune.codecs.CODECS`): ``go`` (gorilla's bytes),
    ``go-gorilla``, ``go-coder`` or ``go-nats``."""
    framing = name if name in MODELLED else GO_GORILLA
    return GoCodec(framing, framing)


def go_cell(
    streams: Sequence[Stream],
    setting: Setting,
    job: GoJob,
    result: GoCell,
    memory: GoMemory,
    plan: TimingPlan,
    summary: CorpusSummary,
) -> dict[str, Any]:
    """A results cell from what the helper measured: the fields every codec gives, with Go's
    axes (window and memLevel fixed, the threshold the library applied) and its frames."""
    timing = timing_of(result, plan)
    setting = replace(setting, threshold=job.threshold)
    # coder builds its windows on first use: a connection pays for the ones it uses.
    share = shares(result, streams)
    cell = cell_fields(
        streams,
        setting,
        summary,
        result.sizes,
        timing,
        CellMemory(
            compressor=memory.compressor_idle,
            compressor_peak=memory.compressor_writing,
            decompressor=memory.decompressor_idle,
            decompressor_peak=memory.decompressor_reading,
            connection=round(share.memory(memory)),
            compressor_share=share.compressor,
            decompressor_share=share.decompressor,
            resident=go_resident(share, memory, job.framing),
        ),
        compressed_messages=sum(result.compressed_messages),
        frames=result.frames,
    )
    theory = go_theory(job)
    cell.update(
        recorded_fields(job.framing, setting),
        compress_memory_theoretical=theory[0],
        decompress_memory_theoretical=theory[1],
        connection_memory_theoretical=theory[0] + theory[1],
    )
    return cell


def recorded_fields(framing: str, setting: Setting) -> dict[str, Any]:
    """The fields a Go cell records other than ``setting`` says them: Go's window (32 KiB both
    ways), no memLevel, the threshold the library applies (coder: its default by mode), and
    coder's one way to compress (1.8.7 has no level: ``level`` -1)."""
    fields = {
        "window_bits": WINDOW_BITS,
        "mem_level": MEM_LEVEL,
        "threshold": effective_threshold(framing, setting),
        "client_window_bits": WINDOW_BITS,
    }
    if framing == GO_CODER:
        fields["level"] = -1
    return fields


PREPARED_MODE = "gorilla PreparedMessage"


def compress_once(
    streams: Sequence[Stream], cell: dict[str, Any], own: GoCell, prepared: GoCell,
    fanout: int = 1,
) -> dict[str, Any]:
    """gorilla's compress-once mode for a broadcast, beside the per-connection ``cell``.

    Bytes: the server's messages as ``PreparedMessage`` frames them (the same compressed
    payload, cut at 4096 bytes instead of the connection's 4082), the clients' as in the cell.
    Memory: per connection as the cell (gorilla keeps no compressor between messages), plus
    what is shared: one flate.Writer while a message is prepared and the largest prepared
    message (its plain frame and its compressed frames). CPU: one compression per unique
    message, whatever the fan-out, where per-connection compression pays one per delivery:
    per delivery, one hot compression (``compress_seconds_per_message``) over the fan-out.
    """
    wire = server_wire = frames = 0
    own_server_wire = 0
    largest = 0
    for index, stream in enumerate(streams):
        masked = stream.direction != SERVER
        own_wire = sum(n + frame_header_size(n, masked) for n in own.frames[index])
        if stream.direction != SERVER:
            wire += own_wire
            frames += len(own.frames[index])
            continue
        own_server_wire += own_wire
        frame_bytes = sum(n + frame_header_size(n, False) for n in prepared.frames[index])
        server_wire += frame_bytes
        frames += len(prepared.frames[index])
        for raw, sent in zip(stream.sizes(), prepared.sizes[index], strict=True):
            # The plain server frame a PreparedMessage always makes, and the compressed one.
            held = raw + frame_header_size(raw, False) + sent + frame_header_size(sent, False)
            largest = max(largest, held)
    wire += server_wire
    return {
        "mode": PREPARED_MODE,
        "wire_compressed_bytes": wire,
        "server_wire_compressed_bytes": server_wire,
        "server_wire_compressed_bytes_per_connection_mode": own_server_wire,
        "frames": frames,
        "connection_memory": cell["connection_memory"],
        "shared_memory": cell["compress_memory_peak"] + largest,
        "compressions": "per unique message",
        "compress_seconds": cell["compress_seconds"],
        **_once_per_delivery(cell, fanout),
    }


def _once_per_delivery(cell: dict[str, Any], fanout: int) -> dict[str, Any]:
    """A compress-once mode's compress time per delivery from one hot compressor: one
    compression over K deliveries; absent from a run without a fan-out, null without timing.
    :func:`prepared_timing` replaces it with gorilla's own path's where the helper timed it."""
    if "compress_seconds_per_message" not in cell:
        return {}
    hot = cell["compress_seconds_per_message"]
    if hot is None:
        return {"compress_seconds_per_delivery": None}
    return {"compress_seconds_per_delivery": hot / fanout, "delivery_timing": HOT_TIMING}


# How a Go cell's broadcast is timed (delivery_timing, beside compress_seconds_per_delivery):
# through the library's own server connections, a writer goroutine per subscriber, over
# loopback TCP sockets that a separate process drains (the client's reading, recv, is that
# process's CPU, as a real server's clients' is theirs; loopback's receive processing may still
# be charged to the sender, in its softirq), with compression on minus off; or, for gorilla
# from a helper built where gorilla/websocket was not found, its pooled flate.Writer and frame
# writer back to back on one goroutine (NATS's too: its server is not in the helper). Over
# sockets that cost nothing to write, the model read real servers low (docs/broadcast.md).
GO_CONNECTIONS_TIMING = "{library} connections over loopback sockets, on - off"
GO_WRITER_TIMING = "flate.Writer and frame writer, back to back"
# Through at most this many subscribers' connections (delivery_compressors says how many), and
# as many with compression off: each is a loopback socket in the helper and another in its
# drain process, so a fan-out of 12,000 ran out of open files and one past about 28,000 would
# run out of local ports. The time is read per delivery either way (on - off over the
# deliveries made). 1,000 is the fan-out bench/broadcast.py checks the models against
# (docs/broadcast.md), so those runs time every subscriber.
SOCKET_CONNECTIONS = 1000


def check_open_files(sockets: int) -> None:
    """One line (exit 2) before any helper starts where the open-file limit cannot hold a
    broadcast's ``sockets`` (on and off) in one helper: the helper raises its soft limit to the
    hard one (Go does at start), so the hard limit is what counts; the helper checks again,
    with what it has open (its spareDescriptors)."""
    need = sockets + SPARE_DESCRIPTORS
    most = most_open_files()
    if most is not None and most < need:
        raise WsztuneError(
            f"timing the Go broadcast needs {need} open files ({sockets} loopback sockets) "
            f"where this process may open {most}: raise the limit (ulimit -n {need}) or lower "
            "--fanout"
        )


# How a gorilla PreparedMessage broadcast is timed (compress_once.delivery_timing): through
# gorilla/websocket 1.5.0's own connections, over sockets whose writes cost nothing, or, from
# a helper built where gorilla/websocket was not found, one hot flate.Writer's compression
# over K. (Runs made while each message came after a pause say "gorilla connections, on - off":
# the label tells their figures apart from these.)
GO_GORILLA_TIMING = "gorilla connections back to back, on - off"
HOT_TIMING = "hot compressor over K"


def delivery_timing(framing: str, delivery: dict[str, Any]) -> str:
    """How the helper timed a cell's ``compress_seconds_per_delivery``: through the library's
    connections where it reports the bytes one subscriber's connection was sent (``sent_bytes``,
    checked against the model's frames), else the compressor and frame writer alone (gorilla
    without gorilla/websocket, NATS)."""
    if "sent_bytes" in delivery:
        return GO_CONNECTIONS_TIMING.format(library=library_name(framing))
    return GO_WRITER_TIMING
# A PreparedMessage broadcast is timed through as many subscribers' connections as the schedule
# interleaves (delivery_compressors: K, at most SOCKET_CONNECTIONS), and as many with compression
# off: what is paid per message is one compression and the writers' waits on it, and those waits
# grow with the subscribers that pile up behind it (through 256 of 1,000 subscribers, the game
# records' model read 0.05 ms per 1,000 deliveries; through all 1,000, 0.16). A stretch holds
# PREPARED_MESSAGES messages, sent back to back as by a server at load, as every other model
# times them. (A pause before each message, which fitted a loaded machine shared with other
# work, read a quiet machine's server 1.5 to 2.4 times high: docs/broadcast.md.)
PREPARED_MESSAGES = 256
# A sample's on - off is one compression per message against K writes of it: at small K a
# sliver of the stretch, so a few samples read it loosely (K = 10, market records: 1.2 to 3.5 us
# per delivery over four runs of 5 samples; 1.1 to 1.7 with 26). At least this many deliveries
# are timed per series, in more stretches where K is small (the median of more samples), but
# never more than PREPARED_MOST_SAMPLES times the run's --repeat stretches.
PREPARED_SAMPLE_DELIVERIES = 1 << 16
PREPARED_MOST_SAMPLES = 8


def threshold_splits(
    schedule: DeliverySchedule, sizes: Sequence[int], jobs: Sequence[GoJob]
) -> dict[int, SplitSeries]:
    """By threshold, the split series (wsztune.fanout.split_series) of the jobs whose library
    sends messages under a threshold raw and times its deliveries through its own connections
    (coder, gorilla; not NATS), where the corpus has messages of both kinds."""
    splits = {}
    for threshold in {job.threshold for job in jobs if job.framing != GO_NATS and job.threshold}:
        split = split_series(schedule, sizes, threshold)
        if split is not None:
            splits[threshold] = split
    return splits


def split_samples(series: SplitSeries | None, delivery: dict) -> SplitSamples | None:
    """The helper's samples of ``series`` (None where it was not split, or timed nothing)."""
    compressed, raw = delivery.get("split_compressed"), delivery.get("split_raw")
    longer = delivery.get("longer")
    if series is None or not compressed or not raw or not longer:
        return None
    return SplitSamples(series, compressed, longer, raw)


def prepared_plan(schedule: DeliverySchedule, messages: int) -> DeliverySchedule:
    """The schedule a PreparedMessage broadcast of ``messages`` server messages is timed and
    read with: stretches of :data:`PREPARED_MESSAGES` spread over the corpus as the schedule's
    are, as many timed as the schedule's or enough for :data:`PREPARED_SAMPLE_DELIVERIES`
    deliveries of K, whichever is more, up to :data:`PREPARED_MOST_SAMPLES` times the
    schedule's; still read per delivery of K."""
    repeat = len(schedule.stretches) - schedule.warmup
    needed = -(-PREPARED_SAMPLE_DELIVERIES // (PREPARED_MESSAGES * schedule.fanout))
    timed = max(repeat, min(needed, PREPARED_MOST_SAMPLES * repeat))
    stretches = tuple((start, start + PREPARED_MESSAGES)
                      for start in stretch_starts(messages, schedule.warmup + timed))
    return replace(schedule, stretches=stretches)


def prepared_timing(
    cell: dict[str, Any],
    schedule: DeliverySchedule | None,
    server_sizes: Sequence[int],
    samples: Sequence[float] | None,
    threshold: int = 0,
) -> dict[str, Any]:
    """compress_once's time per delivery from gorilla's own PreparedMessage broadcast (the
    helper's on - off seconds per stretch of :func:`prepared_plan`, read per delivery of a
    mean-sized message to K subscribers, messages under ``threshold`` sent raw), and which way
    it was timed; nothing to change where the helper did not time it (no fan-out, no timing, or
    built without gorilla/websocket)."""
    if schedule is None or not samples or cell.get("compress_seconds_per_message") is None:
        return {}
    # On - off, at least 0 (seconds_per_delivery): no negative CPU.
    per_delivery = seconds_per_delivery(schedule, server_sizes, samples, None, threshold)
    return {"compress_seconds_per_delivery": per_delivery, "delivery_timing": GO_GORILLA_TIMING}


@dataclass(frozen=True)
class Shares:
    """Share of connections whose server holds each piece of coder's state between messages."""

    compressor: float  # it sent a compressed message: the write window
    decompressor: float  # it received one: the read window and buffer
    reader: float  # the last message it received was compressed: a flate reader too

    def memory(self, memory: GoMemory) -> float:
        """Bytes per connection: each piece weighed by its share."""
        return (
            self.compressor * memory.compressor_idle
            + self.decompressor * memory.decompressor_idle
            + self.reader * memory.decompressor_reader
        )


def shares(cell: GoCell, streams: Sequence[Stream], live: int | None = None) -> Shares:
    """:class:`Shares` over the corpus's connections or, with ``live``, over that many
    connections replaying the corpus's in turn (``wsztune live``)."""
    built: dict[str, list[bool]] = {}
    for index, stream in enumerate(streams):
        flags = built.setdefault(stream.connection, [False, False, False])
        if stream.direction == SERVER:
            flags[0] |= cell.compressed_messages[index] > 0
        else:
            flags[1] |= cell.compressed_messages[index] > 0
            flags[2] = cell.last_compressed[index]
    order = list(built)
    if not order:
        return Shares(1.0, 1.0, 1.0)
    count = live or len(order)
    picked = [built[order[i % len(order)]] for i in range(count)]
    return Shares(*(sum(flags[k] for flags in picked) / count for k in range(3)))


# What an idle Go server's heap settles to over its live bytes: the background scavenger returns
# free pages until the heap retains at most 10% over what was in use at the last collection
# (retainExtraPercent and gcPaceScavenger, runtime/mgcscavenge.go, Go 1.19). After idle
# collections that is the live heap, whatever GOGC (GOGC sets how far the heap grows between
# collections while the server allocates, not what an idle one keeps).
SCAVENGER_RETAIN = 1.10
# The stack of the goroutine that writes a coder connection, parked in coder's Read between
# messages, when it never compressed: 8 KiB. Measured in bench/fleet.py's uncompressed coder
# server (runtime.MemStats.StackInuse, 12 KiB per connection: net/http's connection goroutine,
# which runs the handler, 8 KiB, and coder's timeoutLoop goroutine 4 KiB).
HANDLER_STACK = 8192


def writer_stack(framing: str) -> int:
    """Stack bytes a connection's writing goroutine keeps, once settled, for having compressed.

    coder 1.8.7 compresses with klauspost's ``StatelessDeflate``, whose ``var dst tokens`` is a
    256 KiB array on the stack (flate/stateless.go, flate/token.go): the writing goroutine's
    stack doubles to 512 KiB (``newstack``, runtime/stack.go). Collections then halve it while
    the goroutine uses under a quarter of it (``shrinkstack``), so it settles at the largest
    power of two at most four times its use, where a goroutine that never grew has the
    smallest power of two over it: twice the stack, one more :data:`HANDLER_STACK`. gorilla
    compresses with compress/flate's heap-allocated compressor: nothing on the stack."""
    return HANDLER_STACK if framing == GO_CODER else 0


def go_resident(share: Shares, memory: GoMemory, framing: str = GO_GORILLA) -> Resident:
    """Resident bytes per connection in the settled state (held connections idle across the
    runtime's periodic collections, free pages scavenged): the live heap a connection keeps,
    weighed by the shares, times :data:`SCAVENGER_RETAIN` (Go zeroes what it allocates, so a
    live byte is a resident byte), and for a connection that compressed, the stack its writing
    goroutine keeps for it (:func:`writer_stack`)."""
    reading = share.decompressor * memory.decompressor_idle
    reading += share.reader * memory.decompressor_reader
    compressor = share.compressor * (
        SCAVENGER_RETAIN * memory.compressor_idle + writer_stack(framing)
    )
    return Resident(compressor, SCAVENGER_RETAIN * reading)


# A coder subscriber's writer goroutine, while it writes: its stack, grown to 512 KiB for the
# 256 KiB token array StatelessDeflate declares on it (klauspost/compress 1.15.12,
# flate/stateless.go `var dst tokens`; token.go: 65,536 tokens of 4 bytes). The helper times a
# coder broadcast through coder's own connections, a goroutine each (coderDeliveries), whose
# stacks are touched once per delivery as a compressor's state is.
GO_CODER_WRITER_STACK = 512 << 10


def delivery_state(job: GoJob) -> int:
    """The bytes one subscriber's sender touches per delivery, for fanout's cap on how many are
    interleaved: what it keeps between messages (go_theory: coder's 8 KiB window with takeover,
    gorilla nothing, its flate writers are pooled) and, for coder, its writer's stack."""
    stack = GO_CODER_WRITER_STACK if job.framing == GO_CODER else 0
    return go_theory(job)[0] + stack


def go_theory(job: GoJob) -> tuple[int, int]:
    """What the library's source says a connection keeps between messages: coder's windows
    with context takeover (8 KiB to write, 32 KiB to read), nothing otherwise (pooled)."""
    if job.framing == GO_CODER and job.context_takeover:
        return 8192, 32768
    return 0, 0
