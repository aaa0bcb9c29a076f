"""The CPU a broadcast costs a real server, against the model's figure (issue 25, item 4).

Run as ``python bench/broadcast.py [--corpus FILE] [--connections N] [--rate R] ...``. For each
server (python-websockets with its ``broadcast()``, Node's ws, gorilla/websocket with
``WriteMessage`` and with ``PreparedMessage``, coder/websocket), a real server on 127.0.0.1
broadcasts corpus server messages at R messages per second to N connections
held by clients in their own processes (``bench/broadcast_go``: raw connections that read and
discard, so that only the server does WebSocket work). The server's CPU seconds (user + system,
every thread: ``psutil``) over a window of ``--seconds`` are divided by the messages it wrote in
that window, compression on and compression off, two servers side by side over the same window
(each with its own clients), ``--repeats`` times. The difference, per 1,000 deliveries, is
what compression costs the server; it is set against the model's
``compress_seconds_per_delivery`` x 1,000 from ``wsztune run CORPUS --fanout N`` at the
server's own setting (and, for gorilla's PreparedMessage, its
``compress_once.compress_seconds_per_delivery``), restricted to that one cell.

``--fanout K`` sends each broadcast to K of the N connections instead of all of them: the
connections in the order they came, in groups of K, the groups in turn; the model is then run at
``--fanout K``. Without it, gorilla's PreparedMessage broadcasts to groups of
:data:`COMPRESS_ONCE_FANOUT` at :data:`COMPRESS_ONCE_RATE` per second (its one compression per
broadcast among all N is under the windows' noise), every other server to all N at R; the
``rate`` and ``K`` columns say which.

The model's figure is given for a message of the corpus's mean server size (each of its samples
is read per byte of its messages that reach the compressor), while a window covers the
hundred-odd messages the server broadcast in it, from the corpus's start: on the market corpus
those average 150 B against 118 B for the whole. Each server reports the payload bytes it
delivered beside the deliveries, and the model is read per byte for the windows' mean message
(``B/msg``), as it reads its own samples: for coder, whose threshold sends messages under 128 B
(with takeover; 512 B without) raw, per byte of the windows' messages at or over it (its server
counts those bytes apart). Before that, the threshold made the reading off: coder with takeover
compresses 32% of a market window's messages against 20% of the corpus's, and the model
run on a window's very messages cost 1.4 times the corpus's figure read per byte for them
(docs/broadcast.md, "Which messages a window holds"). Where the model read its samples per
compressed message (the Go models: the cell carries ``compress_seconds_per_byte``), the windows
are read so too: the Go server counts its compressed deliveries beside their bytes, and the
model's cost per compressed message, moved by its cost per byte to the windows' mean compressed
message, is given for the windows' share of compressed deliveries; where the model timed its raw
deliveries apart (the cell's ``compress_seconds_per_raw_delivery``: coder on a corpus with
messages on both sides of its threshold), the windows' raw deliveries are given that cost.
``--spread`` broadcasts the
corpus in another order (:func:`spread_order`: runs of ten from ten parts of it in turn, so that
a window holds messages from all over it) and runs the model on that order; it is not the
default, for it moved other rows out of the goal (the same page says which).

On and off run side by side because this machine's speed moves by half, and at times doubles,
from one minute to the next (a fixed zlib loop read 7, 11 and 19 us per call within ten
minutes): windows measured one after the other, 25 s apart, took that move into on - off
(gorilla's repeats read 0.58 to 1.29 times the model in one run), where side by side on and
off move together (over eight windows on read 21.5 to 30.2 us per delivery, on - off 11.4 to
14.7; docs/broadcast.md, "On and off side by side").

The model is measured in every repeat, just after that repeat's windows (and just before them
in odd repeats, so that drift between the two cancels out over a pair), so that it runs under
the same load as the server it is set against: on a shared machine whose load moves from 10 to
30 in minutes, a model measured once before the servers drifted 30% away from them. The ratio
is the median of the repeats' own ratios (a repeat's on - off over its own model run), not the
ratio of the two medians: the
medians may come from different repeats, a quiet one for the model and a loaded one for the
server, which brings the drift back; a repeat's two figures saw the same minute of load, and
the median over repeats keeps one spoiled repeat from moving the verdict.

Printed per server, in CPU ms per 1,000 deliveries: the model's median and range over the
repeats, the measured differences' median and range, the ratio (goal: within 25%) with its
range, the medians of on and off, the machine's CPU busy share in the windows, the server's own
load with compression on (``core``: its CPU seconds per second of the window) and the 1-minute
load average over the row's windows and model runs. A server that made fewer than
:data:`KEPT_RATE` of the broadcasts its rate asks for (its deliveries over its subscribers per
broadcast) is said so under the table.

A server that sleeps between broadcasts paid more per delivery on this machine than one that
never did, which the model, timing its sends back to back, does not pay (docs/broadcast.md, "A
server that idles"): a VM's CPU with nothing to run halts, and servers whose broadcasts woke
halted CPUs read up to 0.17 more against their model than with the CPUs kept busy.
``bench/idle_cost.py`` measures what a sleep costs the same zlib work on the machine at hand.
``--busy-cpus`` keeps every CPU from halting with a spinner of the lowest priority there is
(:func:`spin`, SCHED_IDLE: a thread that wakes preempts it), as a loaded host's CPUs
never halt; the busy share leaves the spinners out. It is not the default: with it ws's model
read faster and its server did not, so ws read further from its model (docs/broadcast.md,
"CPUs that never halt"). Without it, a row that misses high with its server under 0.9 of a
core says so. ``--load-to CORES`` gives each server the rate that keeps it about that busy
with compression on (one window at ``--rate`` first), printed in the ``rate`` column, instead
of one rate for all. Exit status 1 when a server misses
the goal or reads n/a (a repeat's model run gave no CPU per delivery); a row whose on - off
spans 0 over its repeats, or is no more than its off windows moved between them, reads
"unresolved" (its compression is under the server's noise: a compress-once server broadcasting
to 1,000 subscribers), neither met nor missed, and says so.
Not part of the test suite (minutes); its arithmetic is (tests/test_broadcast_bench.py).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsztune.fanout import (
    BYTE_COST_FIELD,
    RAW_COST_FIELD,
    CompressedMix,
    compressed_flags,
    compressed_mix,
    compressor_bytes,
    reading_for,
)

REPO = Path(__file__).resolve().parent.parent
GO_SOURCE = REPO / "bench" / "broadcast_go"
WS_SERVER = REPO / "bench" / "broadcast_ws.js"
DEBIAN_GOPATH = "/usr/share/gocode"
GOAL = 0.25  # |measured / model - 1|
CLIENT_PROCESSES = 2
# The clients read their sockets this often, as raw sockets no reader waits on (broadcast_go's
# -poll): a server's clients are on other machines, and its sends wake none of them, nor do
# the model's (its readers poll too). Clients waiting on their sockets are woken by every send,
# which on a VM costs the sender more with compression on than off (docs/broadcast.md,
# "Readers that wait on their sockets"); --waiting-clients brings them back.
CLIENT_POLL = "20ms"
# A server busy less than this share of a core with compression on sleeps between broadcasts:
# with the CPUs free to halt (without --busy-cpus), the report says what that did to its reading
# (docs/broadcast.md, "A server that idles")
LOADED_CORE = 0.9
# A server that makes fewer than this share of its rate's broadcasts is said to have fallen behind.
KEPT_RATE = 0.9
# --load-to raises a server's rate at most so many times over --rate: the clients (the other
# core) must keep up with what the server sends
MAX_RATE_FACTOR = 20
# A compress-once server pays one compression per broadcast: among 1,000 subscribers a
# thousandth of a delivery's writes, under the windows' noise (its row read "unresolved"). Without
# --fanout it broadcasts to groups of this many of its connections at this rate, which resolves
# it: on every bundled corpus at 1,000 connections, every repeat's on - off well above 0. At
# 500/s (a seventh of a core) it read 1.57 times its model, as a server that idles does
# (docs/broadcast.md, "PreparedMessage among 1,000 connections").
COMPRESS_ONCE_FANOUT = 10
COMPRESS_ONCE_RATE = 2000.0
SPREAD_PARTS = 10  # parts of the corpus a server's broadcasts go through in turn
SPREAD_RUN = 10  # consecutive messages of a part broadcast one after the other


# The corpus and the model ------------------------------------------------------------------------


def server_messages(corpus_path: Path) -> list[bytes]:
    """The corpus's server-to-client payloads, in corpus order."""
    from wsztune import corpus

    loaded = corpus.load(corpus_path)
    return [message.payload for message in loaded.messages if message.direction == "server"]


def write_messages(messages: list[bytes], path: Path) -> None:
    """The servers' message file: per message a u32 length (little-endian) and the payload."""
    with path.open("wb") as out:
        for payload in messages:
            out.write(len(payload).to_bytes(4, "little"))
            out.write(payload)


def write_corpus(messages: list[bytes], path: Path) -> None:
    """A records corpus of ``messages``, in order, as one connection's server messages (a
    payload that is not UTF-8 as a binary one): what the model is run on when the server
    broadcasts them."""
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps({"wsztune": "records/1"}) + "\n")
        for payload in messages:
            record: dict[str, str] = {"connection": "broadcast", "direction": "server"}
            try:
                record["text"] = payload.decode("utf-8")
            except UnicodeDecodeError:
                record["base64"] = base64.b64encode(payload).decode("ascii")
            out.write(json.dumps(record) + "\n")


def spread_order(messages: list[bytes]) -> list[bytes]:
    """The corpus's server messages in the order a server broadcasts them: the corpus cut into
    :data:`SPREAD_PARTS` parts, then a run of :data:`SPREAD_RUN` consecutive messages from each
    part in turn, the next run of each part after them, and so on, every message once. A window
    of a hundred broadcasts then holds runs from every part of the corpus, as the model's
    stretches do, where broadcast in corpus order it holds the corpus's hundred-odd first
    messages, whose mix need not be the corpus's (docs/broadcast.md, "Which messages a window
    holds"); and no message comes back within any window a compressor keeps."""
    bounds = [part * len(messages) // SPREAD_PARTS for part in range(SPREAD_PARTS + 1)]
    parts = [messages[start:stop] for start, stop in zip(bounds, bounds[1:], strict=False)]
    order = []
    for offset in range(0, max(len(part) for part in parts), SPREAD_RUN):
        for part in parts:
            order.extend(part[offset : offset + SPREAD_RUN])
    return order


def model_run(corpus_path: Path, args: list[str], fanout: int, output: Path) -> list[dict]:
    """The cells of ``wsztune run CORPUS ARGS --fanout N``, timed (the model's figures)."""
    command = [sys.executable, "-m", "wsztune", "run", str(corpus_path), *args,
               "--fanout", str(fanout), "-j", "1", "-q", "-o", str(output)]  # fmt: skip
    subprocess.run(command, check=True, cwd=REPO, stdout=subprocess.DEVNULL)  # its "results:" line
    return json.loads(output.read_text())["cells"]


# The servers -------------------------------------------------------------------------------------


@dataclass
class Repeat:
    """One repeat of one server: its two windows, side by side, and the model measured beside
    them, in CPU ms per 1,000 deliveries."""

    on: float
    off: float
    model: float  # read for the windows' mean message
    # The machine's CPU busy share over the windows (side by side: one interval for both)
    busy: float
    sizes: list[float]  # the mean payload bytes of the messages delivered in each window
    loads: list[float]  # the 1-minute load average after the windows and after the model run
    # Per delivery in each window, the payload bytes of messages at or over the threshold
    compressible: list[float] = field(default_factory=list)
    # The server's CPU seconds per second of its window with compression on: how busy it was
    core: float | None = None
    rate: float | None = None  # the broadcasts per second of both windows
    fanout: int | None = None  # the subscribers of a broadcast
    # The broadcasts per second the server with compression on made (its deliveries over its
    # subscribers per broadcast): under ``rate`` where it fell behind
    made: float | None = None

    @property
    def measured(self) -> float:
        """What compression cost the server in this repeat: on - off."""
        return self.on - self.off

    @property
    def ratio(self) -> float | None:
        """Measured over model, both from this repeat (None without a model figure)."""
        return self.measured / self.model if self.model else None


@dataclass
class Row:
    """A server's verdict over its repeats: medians, with (smallest, largest) beside each."""

    # Over the repeats with a model figure; None when none had one.
    model: tuple[float, float, float] | None
    measured: tuple[float, float, float]
    # The median of the repeats' ratios and their range; None when a repeat had no model figure.
    ratio: tuple[float, float, float] | None
    on: float
    off: float
    busy: float
    load: tuple[float, float]
    size: float  # the windows' mean message, bytes (median)
    why: str = ""  # why there is no ratio
    off_spread: float = 0.0  # the off windows' largest less smallest over the repeats
    core: float | None = None  # the server's load with compression on (median), in cores
    rate: float | None = None  # its broadcasts per second (median)
    fanout: int | None = None  # the subscribers of a broadcast
    made: float | None = None  # the broadcasts per second it made with compression on (median)

    @property
    def ok(self) -> bool:
        """Whether the median ratio is within the goal (never without a ratio)."""
        return self.ratio is not None and abs(self.ratio[0] - 1) <= GOAL

    @property
    def unresolved(self) -> bool:
        """Whether what compression cost the server is not told from nothing: its repeats' on
        - off span 0, or their median is no more than the server without compression moved
        between the repeats (``off_spread``). A compress-once server at 1,000 connections pays
        one compression per message, a thousandth of a delivery's writes, under their noise
        (market records: -0.50 to 1.00 ms per 1,000 deliveries against a model of 0.06): no
        ratio says anything there, and the row says so rather than miss or meet by chance."""
        return self.measured[1] <= 0 <= self.measured[2] or self.measured[0] <= self.off_spread


def spread(values: list[float]) -> tuple[float, float, float]:
    """Median, smallest and largest."""
    return statistics.median(values), min(values), max(values)


def summarize(repeats: list[Repeat]) -> Row:
    """The row of a server: each figure's median and range over the repeats, and the ratio as
    the median of the repeats' own ratios (the docstring above says why)."""
    loads = [load for repeat in repeats for load in repeat.loads]
    ratios = [repeat.ratio for repeat in repeats]
    missing = ratios.count(None)
    why = (f"no model figure in {missing} of {len(repeats)} repeats (the model run's cell gave "
           "no CPU per delivery, or the windows held no message at or over the threshold)"
           ) if missing else ""  # fmt: skip
    models = [repeat.model for repeat in repeats if repeat.model]  # 0.0: no figure, not zero
    cores = [repeat.core for repeat in repeats if repeat.core is not None]
    rates = [repeat.rate for repeat in repeats if repeat.rate is not None]
    made = [repeat.made for repeat in repeats if repeat.made is not None]
    fanouts = [repeat.fanout for repeat in repeats if repeat.fanout is not None]
    return Row(model=spread(models) if models else None,
               measured=spread([repeat.measured for repeat in repeats]),
               ratio=None if missing else spread(ratios),  # type: ignore[arg-type]
               why=why,
               on=statistics.median(repeat.on for repeat in repeats),
               off=statistics.median(repeat.off for repeat in repeats),
               off_spread=max(r.off for r in repeats) - min(r.off for r in repeats),
               busy=statistics.median(repeat.busy for repeat in repeats),
               load=(min(loads), max(loads)),
               size=statistics.median(s for repeat in repeats for s in repeat.sizes),
               core=statistics.median(cores) if cores else None,
               rate=statistics.median(rates) if rates else None,
               made=statistics.median(made) if made else None,
               fanout=max(fanouts) if fanouts else None)  # fmt: skip


def compress_per_delivery(cell: dict) -> float | None:
    """A per-connection server's figure: the cell's CPU per delivery."""
    return cell.get("compress_seconds_per_delivery")


@dataclass
class Server:
    """One server of the bench: how to start it with compression on or off, the model run that
    stands for it, and which figure of that run's cell is its CPU per delivery."""

    name: str
    # The command line of the server, with compression on or off, for the messages file, rate,
    # phase and fan-out (0: every connection) (:func:`measure`)
    command: Callable[[bool, Path, float, float, int], list[str]]
    model_args: list[str]
    pick: Callable[[dict], bool]  # the cell of the model run at the server's setting
    # (a compress-once server's is another; only this one's is read with its cost per byte)
    figure: Callable[[dict], float | None] = compress_per_delivery
    # The library's threshold: messages under it are sent raw, and the model's figure is read
    # per byte of the ones at or over it (wsztune.fanout.seconds_per_delivery).
    threshold: int = 0
    repeats: list[Repeat] = field(default_factory=list)
    rate: float | None = None  # broadcasts per second, when --load-to chose it (else --rate)
    # Without --fanout: the subscribers per broadcast and the broadcasts per second the server
    # is measured at, where not every connection at --rate (a compress-once server)
    resolved_at: tuple[int, float] | None = None


def go_binary(cache: Path) -> Path:
    """bench/broadcast_go built against Debian's gorilla and coder packages, named by its
    source's hash: worktrees run the bench side by side, and one's build must not replace the
    binary another is running (an older server would print no ``bytes``)."""
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in sorted(GO_SOURCE.glob("*.go"))))
    binary = cache / f"broadcast_go-{digest.hexdigest()[:16]}"
    environment = {**os.environ, "GOPATH": DEBIAN_GOPATH, "GO111MODULE": "off",
                   "GOCACHE": str(cache / "gocache")}  # fmt: skip
    subprocess.run(["go", "build", "-o", str(binary), "."], cwd=GO_SOURCE, check=True,
                   env=environment)  # fmt: skip
    return binary


def ws_module() -> Path:
    """The ws package wsztune installs for its Node checks, under its cache
    (~/.cache/wsztune/ws-VERSION/node_modules/ws), installed there first with npm where it is
    missing: the ws server needs it, and ws's model times its deliveries through it only where
    it is there (wsztune.programs.npm.installed_ws), so a fresh machine's first round would
    otherwise leave ws out."""
    from wsztune.programs.npm import ensure_ws

    return ensure_ws()


def servers(go: Path, ws_dir: Path | None) -> list[Server]:
    """Every server of the bench, at its library's default compression setting."""

    def go_command(*flags: str) -> Callable[[bool, Path, float, float, int], list[str]]:
        def command(compress: bool, messages: Path, rate: float, phase: float,
                    fanout: int) -> list[str]:
            on = ["-compress"] if compress else []
            return [str(go), "serve", *flags, *on, "-rate", str(rate), "-phase", str(phase),
                    "-fanout", str(fanout), "-corpus", str(messages)]  # fmt: skip

        return command

    def websockets_command(compress: bool, messages: Path, rate: float, phase: float,
                           fanout: int) -> list[str]:
        return [sys.executable, str(Path(__file__).resolve()), "_serve-websockets",
                "--compress" if compress else "--no-compress", "--rate", str(rate),
                "--messages", str(messages), "--phase", str(phase),
                "--fanout", str(fanout)]  # fmt: skip

    from wsztune.codecs.go import GO_CODER_DEFAULT_THRESHOLD as coder

    def level_1(cell: dict) -> bool:
        return cell["level"] == 1 and cell["threshold"] == 0

    chosen = [
        Server("websockets broadcast()", websockets_command,
               ["--window-bits", "12", "--mem-level", "5"],
               lambda cell: (cell["window_bits"], cell["mem_level"]) == (12, 5)),
        Server("gorilla WriteMessage", go_command("-lib", "gorilla", "-level", "1"),
               ["--server", "gorilla", "--level", "1", "--threshold", "0"], level_1),
        Server("gorilla PreparedMessage", go_command("-lib", "gorilla", "-level", "1",
                                                     "-prepared"),
               ["--server", "gorilla", "--level", "1", "--threshold", "0"], level_1,
               figure=lambda cell: cell["compress_once"]["compress_seconds_per_delivery"],
               resolved_at=(COMPRESS_ONCE_FANOUT, COMPRESS_ONCE_RATE)),
        Server("coder (no takeover)", go_command("-lib", "coder", "-threshold", str(coder[False])),
               ["--server", "coder", "--context-takeover", "off"],
               lambda cell: not cell["context_takeover"], threshold=coder[False]),
        Server("coder (takeover)",
               go_command("-lib", "coder", "-takeover", "-threshold", str(coder[True])),
               ["--server", "coder", "--context-takeover", "on"],
               lambda cell: cell["context_takeover"], threshold=coder[True]),
    ]  # fmt: skip
    if ws_dir is not None:

        def ws_command(compress: bool, messages: Path, rate: float, phase: float,
                       fanout: int) -> list[str]:
            return ["node", str(WS_SERVER), str(ws_dir), "1" if compress else "0", str(rate),
                    str(messages), str(phase), str(fanout)]  # fmt: skip

        def at_15_8(cell: dict) -> bool:
            return (cell["window_bits"], cell["mem_level"]) == (15, 8)

        chosen.insert(1, Server("ws (threshold 0)", ws_command,
                                ["--server", "ws", "--threshold", "0", "--window-bits", "15",
                                 "--mem-level", "8", "--level", "-1"], at_15_8))  # fmt: skip
    return chosen


# One measurement ---------------------------------------------------------------------------------


class Status:
    """The server's last status line ({"connections", "deliveries", "bytes"}), read in a
    thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.port: int | None = None
        self.last: dict[str, int] = {"connections": 0, "deliveries": 0, "bytes": 0}
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self.thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("port "):
                self.port = int(line.split()[1])
                self.ready.set()
            elif line.startswith("{"):
                self.last = json.loads(line)


@dataclass
class Window:
    """What one window of one server measured."""

    per_thousand: float  # the server's CPU seconds per 1,000 deliveries
    busy: float  # the machine's CPU busy share over the window
    size: float  # the mean payload bytes of the messages the server delivered
    # Of those bytes, the ones of messages at or over its threshold (all of them from a server
    # that does not count them apart: one without a threshold)
    compressible: float
    # From a server that counts its compressed deliveries (the Go ones), what its compressor
    # saw of them; None from the others
    mix: CompressedMix | None
    core: float = 0.0  # the server's CPU seconds per second of the window: its load
    delivered: float = 0.0  # its deliveries per second of the window


def measure(server: Server, messages: Path, go: Path, connections: int, rate: float,
            warmup: float, seconds: float, poll: str | None = CLIENT_POLL,
            spinners: tuple[int, ...] = (), fanout: int = 0) -> dict[bool, Window]:
    """One window of ``server`` with compression on and one with it off, by key, measured over
    the same seconds: both servers run side by side, each broadcasting to its own
    ``connections`` clients (every broadcast to all of them, or with ``fanout`` to a group of
    that many, the groups in turn), which read their sockets every ``poll``
    (:data:`CLIENT_POLL`), or wait on them when it is None. Side by side, both windows see
    the same moment of the machine, whose speed moves by half from one minute to the next:
    measured one after the other, on - off took that move as compression's cost
    (docs/broadcast.md, "On and off side by side"). The machine's busy share leaves out
    ``spinners`` (:func:`spin`)."""
    import psutil

    processes: dict[bool, subprocess.Popen[str]] = {}
    clients: list[subprocess.Popen[str]] = []
    try:
        statuses: dict[bool, Status] = {}
        for compress in (True, False):
            # Half an interval apart: the two take turns, neither broadcasting while the other
            # does, as each server runs alone on its machine.
            phase = 0.0 if compress else 0.5
            command = server.command(compress, messages, rate, phase, fanout)
            processes[compress] = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
            statuses[compress] = Status(processes[compress])
        for compress, status in statuses.items():
            if not status.ready.wait(30):
                raise RuntimeError(f"{server.name}: no port")
            clients += start_clients(server, go, status.port, connections, compress, poll)
        deadline = time.monotonic() + 60
        while min(status.last["connections"] for status in statuses.values()) < connections:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{server.name}: {[s.last for s in statuses.values()]} of "
                                   f"{connections} connections")  # fmt: skip
            time.sleep(0.1)
        time.sleep(warmup)
        watched = {compress: psutil.Process(process.pid)
                   for compress, process in processes.items()}  # fmt: skip
        busy_before = machine_busy(spinners)
        before = {compress: (dict(statuses[compress].last), cpu_seconds(process))
                  for compress, process in watched.items()}  # fmt: skip
        time.sleep(seconds)
        after = {compress: (dict(statuses[compress].last), cpu_seconds(process))
                 for compress, process in watched.items()}  # fmt: skip
        busy_after = machine_busy(spinners)
        busy = (busy_after[0] - busy_before[0]) / max(1e-9, busy_after[1] - busy_before[1])
        return {compress: window_of(server, before[compress], after[compress], busy, seconds)
                for compress in watched}  # fmt: skip
    finally:
        for child in [*clients, *processes.values()]:
            child.kill()
            child.wait()


def start_clients(server: Server, go: Path, port: int | None, connections: int, compress: bool,
                  poll: str | None) -> list[subprocess.Popen[str]]:
    """The :data:`CLIENT_PROCESSES` processes holding ``connections`` to the server on
    ``port``, started and each past opening its connections."""
    share = -(-connections // CLIENT_PROCESSES)
    clients = []
    for index in range(CLIENT_PROCESSES):
        count = min(share, connections - index * share)
        flags = ["-compress"] if compress else []
        if poll:
            flags += ["-poll", poll]
        clients.append(subprocess.Popen(
            [str(go), "clients", "-port", str(port), "-n", str(count), *flags],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))  # fmt: skip
    for client in clients:
        assert client.stdout is not None
        line = client.stdout.readline()
        if not line.startswith("open"):
            for started in clients:
                started.kill()
            raise RuntimeError(f"{server.name}: clients failed ({line.strip()!r})")
    return clients


def machine_busy(spinners: tuple[int, ...]) -> tuple[float, float]:
    """The machine's busy CPU seconds so far, but the ``spinners``' (process IDs), and its CPU
    seconds in all: a window's busy share is the first's difference over the second's."""
    import psutil

    times = psutil.cpu_times()._asdict()
    # guest time is counted in user time already
    total = sum(value for name, value in times.items() if not name.startswith("guest"))
    busy = total - times["idle"] - times.get("iowait", 0.0)
    for pid in spinners:
        with contextlib.suppress(psutil.NoSuchProcess):  # a spinner that ended: none of its time
            busy -= cpu_seconds(psutil.Process(pid))
    return busy, total


def cpu_seconds(process: Any) -> float:
    """A ``psutil.Process``'s CPU seconds so far, user + system, every thread."""
    times = process.cpu_times()
    return float(times.user + times.system)


def window_of(server: Server, before: tuple[dict[str, int], float],
              after: tuple[dict[str, int], float], busy: float, seconds: float) -> Window:
    """A :class:`Window` from the server's status line and CPU seconds at its start and end."""
    (status_before, cpu_before), (status_after, cpu_after) = before, after
    cpu = cpu_after - cpu_before
    deliveries = status_after["deliveries"] - status_before["deliveries"]
    if deliveries <= 0:
        raise RuntimeError(f"{server.name}: nothing delivered")
    size = (status_after["bytes"] - status_before["bytes"]) / deliveries
    key = "compressible_bytes" if "compressible_bytes" in status_after else "bytes"
    compressible = (status_after[key] - status_before.get(key, 0)) / deliveries
    mix = None
    if "compressible_deliveries" in status_after:
        counted = status_after["compressible_deliveries"] - status_before["compressible_deliveries"]
        mix = CompressedMix(counted / deliveries,
                            compressible * deliveries / counted if counted else 0.0)
    return Window(cpu / deliveries * 1000, busy, size, compressible, mix, cpu / seconds,
                  deliveries / seconds)


# The python-websockets server --------------------------------------------------------------------


def group(count: int, number: int, fanout: int) -> slice:
    """Which of ``count`` subscribers, in the order they came, broadcast ``number`` goes to:
    all of them, or with ``fanout`` the group of that many whose turn it is (subscribers past
    the last whole group get nothing), as the Go and ws servers pick them."""
    if not 0 < fanout <= count:
        return slice(0, count)
    first = number % (count // fanout) * fanout
    return slice(first, first + fanout)


async def serve_websockets(compress: bool, rate: float, messages_path: Path,
                           phase: float = 0.0, fanout: int = 0) -> None:
    """python-websockets' server, broadcasting with ``broadcast()`` at ``rate`` per second, the
    first at ``phase`` x the interval past a whole interval of the clock (:func:`measure`), to
    every connection or to a :func:`group` of ``fanout``; its default compression (12:5) or
    none; no keepalive pings (the clients answer nothing)."""
    from websockets.asyncio.server import broadcast, serve

    data = messages_path.read_bytes()
    messages: list[str | bytes] = []
    sizes: list[int] = []
    offset = 0
    while offset < len(data):
        size = int.from_bytes(data[offset:offset + 4], "little")
        payload = data[offset + 4:offset + 4 + size]
        try:
            messages.append(payload.decode())
        except UnicodeDecodeError:  # the game corpus's binary messages: sent as binary
            messages.append(payload)
        sizes.append(size)
        offset += 4 + size
    connections: dict[Any, None] = {}  # in the order they came, for the groups of a fan-out
    delivered = delivered_bytes = 0

    async def handler(connection: Any) -> None:
        connections[connection] = None
        try:
            await connection.wait_closed()
        finally:
            connections.pop(connection, None)

    async with serve(handler, "127.0.0.1", 0, compression="deflate" if compress else None,
                     ping_interval=None, max_size=None) as server:  # fmt: skip
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"port {port}", flush=True)
        loop = asyncio.get_running_loop()
        interval = 1 / rate
        await asyncio.sleep(interval - time.time() % interval + phase * interval)
        start, count, reported = loop.time(), 0, 0.0
        while True:
            # Without a fan-out, no copy of the connections per broadcast: it is the measured
            # server's own work, as it was before there were groups.
            subscribers: Any = connections
            if fanout:
                subscribers = list(connections)[group(len(connections), count, fanout)]
            broadcast(subscribers, messages[count % len(messages)])
            delivered += len(subscribers)
            delivered_bytes += len(subscribers) * sizes[count % len(messages)]
            count += 1
            now = loop.time()
            if now - reported >= 0.5:
                reported = now
                print(json.dumps({"connections": len(connections), "deliveries": delivered,
                                  "bytes": delivered_bytes}), flush=True)  # fmt: skip
            await asyncio.sleep(max(0.0, start + count / rate - loop.time()))


# Main --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Measure every server, print the table, exit 1 when a server misses the goal."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_spin"]:
        spin(int(argv[1]), int(argv[2]))
        return 0
    if argv[:1] == ["_serve-websockets"]:
        parser = argparse.ArgumentParser()
        parser.add_argument("--compress", action=argparse.BooleanOptionalAction)
        parser.add_argument("--rate", type=float)
        parser.add_argument("--messages", type=Path)
        parser.add_argument("--phase", type=float, default=0.0)
        parser.add_argument("--fanout", type=int, default=0)
        options = parser.parse_args(argv[1:])
        asyncio.run(serve_websockets(options.compress, options.rate, options.messages,
                                     options.phase, options.fanout))  # fmt: skip
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=REPO / "corpora" / "api.jsonl")
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10.0, help="broadcasts per second")
    parser.add_argument("--fanout", type=int, default=None, metavar="K",
                        help="send each broadcast of every server to K of its connections, the "
                        "connections in groups of K taking turns, and run the model at "
                        "--fanout K. By default a per-connection server broadcasts to every "
                        "connection at --rate, and gorilla's PreparedMessage to groups of "
                        f"{COMPRESS_ONCE_FANOUT} at {COMPRESS_ONCE_RATE:g}/s: its one "
                        "compression per broadcast among 1,000 subscribers is below the "
                        "windows' noise")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--spread", action="store_true",
                        help="broadcast runs of ten from ten parts of the corpus in turn, and run "
                             "the model on that order (by default: the corpus in its order)")
    parser.add_argument("--load-to", type=float, default=None, metavar="CORES",
                        help="give each server the rate that keeps it about this busy with "
                        "compression on (e.g. 0.8 of a core), from one window at --rate: a "
                        "server that idles between broadcasts pays more per delivery on some "
                        "machines (docs/broadcast.md, \"A server that idles\"), and a fleet "
                        "is sized by servers at load")
    parser.add_argument("--waiting-clients", action="store_true",
                        help="clients that wait on their sockets, woken by every send (by "
                        f"default they read them every {CLIENT_POLL}, as clients on other "
                        "machines cost a server no wake-up, and as the model's readers do)")
    parser.add_argument("--busy-cpus", action="store_true",
                        help="keep each CPU from halting between broadcasts with a "
                        "lowest-priority spinner, as a loaded host's CPUs do not halt: on this "
                        "VM python-websockets and gorilla then read closer to their model, ws "
                        "further from it (docs/broadcast.md, \"CPUs that never halt\"); by "
                        "default the CPUs are free to halt")
    parser.add_argument("--only", default="",
                        help="comma-separated: servers whose name contains one of these")
    options = parser.parse_args(argv)
    if options.fanout is not None and not 0 < options.fanout <= options.connections:
        parser.error(f"--fanout takes a number of subscribers from 1 to --connections "
                     f"({options.connections}), not {options.fanout}")
    if options.load_to is not None and not 0 < options.load_to <= 1:
        parser.error(f"--load-to takes a share of one core, over 0 and at most 1, not "
                     f"{options.load_to:g}")

    from wsztune.errors import CorpusError

    try:
        payloads = server_messages(options.corpus)
    except CorpusError as error:  # one line, as wsztune says it, not a traceback
        print(f"bench/broadcast.py: {error}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="wsztune-broadcast-") as directory:
        work = Path(directory)
        go = go_binary(Path.home() / ".cache" / "wsztune-bench")
        messages = work / "messages.bin"
        options.model_corpus = options.corpus
        if options.spread:
            payloads = spread_order(payloads)
            options.model_corpus = work / options.corpus.name
            write_corpus(payloads, options.model_corpus)
        write_messages(payloads, messages)
        corpus_sizes = [len(payload) for payload in payloads]
        try:
            ws_dir: Path | None = ws_module()
        except Exception as error:  # noqa: BLE001 - reported, the others still run
            print(f"ws left out: {error}")
            ws_dir = None
        wanted = options.only.split(",")
        chosen = [s for s in servers(go, ws_dir) if any(w in s.name for w in wanted)]
        for server in [s for s in chosen if not compresses_any(corpus_sizes, s.threshold)]:
            # Its on - off and the model's are both noise about nothing: no ratio to take.
            print(f"{server.name}: left out, no message of the corpus reaches its threshold "
                  f"({server.threshold} B): nothing compressed")
            chosen.remove(server)
        spinners = start_spinners() if options.busy_cpus else []
        options.spinners = tuple(spinner.pid for spinner in spinners)
        try:
            load_before, load_after = measure_rows(chosen, options, messages, go, work,
                                                   corpus_sizes)  # fmt: skip
        finally:
            for spinner in spinners:
                spinner.kill()
                spinner.wait()
    return report(chosen, options, load_before, load_after, statistics.fmean(corpus_sizes))


def measure_rows(chosen: list[Server], options: argparse.Namespace, messages: Path, go: Path,
                 work: Path, corpus_sizes: list[int]) -> tuple[tuple[float, ...], ...]:
    """Every repeat of every chosen server, each server's repeats spread over the run (after
    --load-to's rate, where asked); the load averages before and after."""
    load_before = os.getloadavg()
    if options.load_to:
        for server in chosen:
            server.rate = loaded_rate(server, options, messages, go)
    for repeat in range(options.repeats):
        for server in chosen:
            server.repeats.append(one_repeat(server, repeat, options, messages, go, work,
                                             corpus_sizes))  # fmt: skip
    return load_before, os.getloadavg()


def start_spinners() -> list[subprocess.Popen[bytes]]:
    """A :func:`spin` process on every CPU this process may run on."""
    return [subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "_spin", str(cpu),
                              str(os.getpid())])
            for cpu in sorted(os.sched_getaffinity(0))]  # fmt: skip


def spin(cpu: int, parent: int) -> None:
    """Keep ``cpu`` from halting, taking next to none of its time from anything else: a loop
    pinned to it at the lowest priority there is (SCHED_IDLE: a thread that wakes preempts it,
    and where both could run the scheduler weighs it 3 against a normal thread's 1,024). A
    halted CPU of a VM woke more slowly into a server's broadcast than a busy one, and
    made the server pay more per delivery than the model, which times a server at load
    (docs/broadcast.md, "CPUs that never halt"). Ends once its parent (the process ID
    ``parent``, given: one that ended before the spinner started is not its parent) has."""
    os.sched_setaffinity(0, {cpu})
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    while os.getppid() == parent:
        for _ in range(100_000):
            pass


def measure_at(server: Server, options: argparse.Namespace, messages: Path, go: Path,
               rate: float) -> dict[bool, Window]:
    """:func:`measure` at ``rate``, everything else as the options and the server ask."""
    return measure(server, messages, go, options.connections, rate, options.warmup,
                   options.seconds, client_poll(options), getattr(options, "spinners", ()),
                   fanout_of(server, options))  # fmt: skip


def fanout_of(server: Server, options: argparse.Namespace) -> int:
    """The subscribers of each of ``server``'s broadcasts, 0 for every connection: --fanout,
    else the server's own (:attr:`Server.resolved_at`), else 0."""
    given = getattr(options, "fanout", None)
    if given is not None:
        return given
    return server.resolved_at[0] if server.resolved_at else 0


def rate_of(server: Server, options: argparse.Namespace) -> float:
    """``server``'s broadcasts per second: what --load-to chose, else its own rate where
    --fanout is not given (:attr:`Server.resolved_at`), else --rate."""
    if server.rate:
        return server.rate
    if getattr(options, "fanout", None) is None and server.resolved_at:
        return server.resolved_at[1]
    return options.rate


def model_fanout(server: Server, options: argparse.Namespace) -> int:
    """The fan-out the model is run at: the server's (:func:`fanout_of`), or every
    connection."""
    return fanout_of(server, options) or options.connections


def client_poll(options: argparse.Namespace) -> str | None:
    """How often the clients read: :data:`CLIENT_POLL`, or None with --waiting-clients (they
    wait on their sockets)."""
    return None if getattr(options, "waiting_clients", False) else CLIENT_POLL


def rate_for_load(rate: float, core: float, target: float) -> float:
    """The rate that would keep a server ``target`` cores busy, from its ``core`` at ``rate``:
    in proportion, never below ``rate``, at most :data:`MAX_RATE_FACTOR` times it. (A server
    that idled pays more per delivery than at load, so the proportion undershoots: it errs
    towards a server less busy than asked, never saturated by the estimate alone.)"""
    if core <= 0:
        return rate * MAX_RATE_FACTOR
    return min(max(rate, rate * target / core), rate * MAX_RATE_FACTOR)


def loaded_rate(server: Server, options: argparse.Namespace, messages: Path, go: Path) -> float:
    """The rate --load-to gives ``server``: one window at --rate with compression on, its
    load read, the rate scaled (:func:`rate_for_load`) and rounded to a whole number."""
    start = rate_of(server, options)
    window = measure_at(server, options, messages, go, start)[True]
    rate = max(start, round(rate_for_load(start, window.core, options.load_to)))
    print(f"{server.name}: {window.core:.2f} of a core at {start:g}/s; measured at "
          f"{rate:g}/s", flush=True)
    return float(rate)


def compresses_any(sizes: list[int], threshold: int) -> bool:
    """Whether the server compresses a message of ``sizes`` (wsztune.fanout's rule: one at or
    over ``threshold``, not empty)."""
    return any(compressed_flags(sizes, threshold))


def compressible_mean(sizes: list[int], threshold: int) -> float:
    """Per message of ``sizes``, the mean bytes of those at or over ``threshold``: what the
    model's figure is given for (wsztune.fanout.seconds_per_delivery); every byte where none
    reaches it, as the model then reads its samples."""
    through = compressor_bytes(sizes, threshold) if compresses_any(sizes, threshold) else sizes
    return sum(through) / len(sizes)


def one_repeat(server: Server, number: int, options: argparse.Namespace, messages: Path,
               go: Path, work: Path, corpus_sizes: list[int]) -> Repeat:
    """A server's two windows, on and off side by side (:func:`measure`), and the model run
    just after them in even repeats, just before them in odd ones (drift between the two
    cancels out over a pair of repeats). The model, given for the corpus's mean server message
    (``corpus_sizes``: its server messages' sizes), is read per byte for the windows' mean
    message, only the bytes of messages at or over the server's threshold counting, as the
    model reads its own samples."""
    loads: list[float] = []
    rate = rate_of(server, options)
    fanout = model_fanout(server, options)
    windows: dict[bool, Window] = {}

    def window() -> None:
        windows.update(measure_at(server, options, messages, go, rate))
        loads.append(os.getloadavg()[0])

    def model() -> dict:
        cells = model_run(options.model_corpus, server.model_args, fanout,
                          work / "model.json")  # fmt: skip
        loads.append(os.getloadavg()[0])
        return next(cell for cell in cells if server.pick(cell))

    if number % 2 == 0:
        window()
        cell = model()
    else:
        cell = model()
        window()
    figure = server.figure(cell)
    measured = list(windows.values())
    mixes = [w.mix for w in measured]
    compressible = [w.compressible for w in measured]
    per_byte = cell.get(BYTE_COST_FIELD) if server.figure is compress_per_delivery else None
    if figure is not None and per_byte is not None and None not in mixes:
        # The model read its samples per compressed message: the windows are read so too.
        corpus = compressed_mix(corpus_sizes, server.threshold)
        raw = cell.get(RAW_COST_FIELD) or 0.0  # where the model timed raw deliveries apart
        model = 1e6 * statistics.fmean(reading_for(figure, per_byte, corpus, mix, raw)
                                       for mix in mixes if mix is not None)  # fmt: skip
    else:
        per_delivery = (figure or 0.0) * 1000 * 1000  # seconds per delivery -> ms per 1,000
        # Windows that held no message at or over the threshold compressed nothing: a model of
        # 0 for them (no ratio), however the corpus's other messages cost.
        model = per_delivery * statistics.fmean(compressible) / compressible_mean(
            corpus_sizes, server.threshold)
    # CPU seconds -> ms per 1,000 deliveries; the server's load: its window with compression on
    return Repeat(on=windows[True].per_thousand * 1000, off=windows[False].per_thousand * 1000,
                  model=model, busy=windows[True].busy, sizes=[w.size for w in measured],
                  loads=loads, compressible=compressible, core=windows[True].core,
                  rate=rate, fanout=fanout, made=windows[True].delivered / fanout)  # fmt: skip


def report(chosen: list[Server], options: argparse.Namespace, load_before: tuple[float, ...],
           load_after: tuple[float, ...], corpus_mean: float) -> int:
    """Print the table; 1 when a server misses the goal or reads n/a."""
    rates = (f"{options.rate:g} broadcasts/s" if not getattr(options, "load_to", None) else
             f"each server at the rate that keeps it about {options.load_to:g} of a core busy")
    rates += (", each to every connection" if getattr(options, "fanout", None) is None else
              f", each to {options.fanout} of them in turn")
    rates += " (each server's in columns rate and K; a compress-once server's own unless --fanout)"

    print(f"corpus {options.corpus.name}, {options.connections:,} connections, "
          f"{rates}, {options.repeats} repeats of {options.seconds:g} s on and off side by "
          f"side, the model beside them; load average {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after; {os.cpu_count()} CPUs")  # fmt: skip
    poll = client_poll(options)
    print(f"the clients read their sockets every {poll}, as clients on other machines: no send "
          "wakes them, nor the model's" if poll else "the clients wait on their sockets, woken "
          "by every send (the model's readers do not)")
    if getattr(options, "busy_cpus", False):
        print("a lowest-priority spinner kept each CPU from halting, as a loaded host's CPUs do "
              "not (--busy-cpus; busy leaves the spinners out, the load average counts them: "
              "one per CPU)")
    if getattr(options, "spread", False):
        print(f"the servers broadcast the corpus's server messages in runs of {SPREAD_RUN} from "
              f"{SPREAD_PARTS} parts of it in turn; the model run on them in that order")
    print("CPU ms per 1,000 deliveries: medians over the repeats (smallest..largest); ratio: "
          "the median of each repeat's measured / model; the model read per byte for the "
          f"windows' mean message (B/msg; the corpus's {corpus_mean:.0f} B), counting only "
          "the bytes of messages at or over the server's threshold (coder's); the Go "
          "WriteMessage and coder rows per compressed message, moved by the model's cost per "
          "byte to the windows' mean compressed message")  # fmt: skip
    print(f"{'server':24} {'model':>20} {'measured':>22} {'ratio':>18} {'on':>7} {'off':>7} "
          f"{'B/msg':>6} {'busy':>5} {'core':>4} {'rate':>5} {'K':>5} {'load':>9}")  # fmt: skip
    rows = [(server.name, summarize(server.repeats)) for server in chosen]
    for name, row in rows:
        print(format_row(name, row))
    for name, row in rows:
        for note in row_notes(name, row, not getattr(options, "busy_cpus", False)):
            print(note)
    return 0 if all(row.ok or row.unresolved for _, row in rows) else 1


def row_notes(name: str, row: Row, cpus_idle: bool = True) -> list[str]:
    """What a row's figures need said under the table: why it is unresolved, or, with the
    CPUs free to halt (``cpus_idle``, without --busy-cpus), that its server idled most of its
    window where it missed high."""
    notes = []
    if row.unresolved and not row.ok:
        notes.append(f"{name}: unresolved, its on - off spans 0 over the repeats or is no "
                     f"more than its off windows moved between them ({row.off_spread:.2f}): "
                     "what compression costs it is under its noise here; longer windows and "
                     f"more repeats (--only \"{name}\" --seconds 60 --repeats 9) narrow "
                     "that")  # fmt: skip
    if (cpus_idle and row.core is not None and row.core < LOADED_CORE and row.ratio is not None
            and row.ratio[0] > 1 + GOAL):  # the server paid more, as idling makes it
        notes.append(f"{name}: its server was busy {row.core:.0%} of a core with compression "
                     "on and idle the rest; a server that sleeps between broadcasts paid more "
                     "per delivery here than one that never did, which the model, timing its "
                     "sends back to back, does not pay "
                     "(docs/broadcast.md, \"A server that idles\"); --busy-cpus keeps the "
                     "CPUs from halting between broadcasts, and --load-to 0.8 (or a higher "
                     "--rate) measures it at load")  # fmt: skip
    if row.made is not None and row.rate and row.made < KEPT_RATE * row.rate:
        notes.append(f"{name}: its server with compression on made {row.made:,.0f} broadcasts "
                     f"a second, not the {row.rate:g} of its rate: it, or its clients, fell "
                     "behind (its CPU is read per delivery it made)")  # fmt: skip
    return notes


def format_row(name: str, row: Row) -> str:
    """One line of the table."""

    def figure(values: tuple[float, float, float], width: int, digits: int) -> str:
        median, low, high = values
        text = f"{median:.{digits}f} ({low:.{digits}f}..{high:.{digits}f})"
        return f"{text:>{width}}"

    ratio = f"{'n/a':>18}" if row.ratio is None else figure(row.ratio, 18, 2)
    model = f"{'n/a':>20}" if row.model is None else figure(row.model, 20, 2)
    verdict = ("ok" if row.ok else "unresolved" if row.unresolved
               else "MISSED" if row.ratio is not None else f"n/a: {row.why}")  # fmt: skip
    return (f"{name:24} {model} {figure(row.measured, 22, 2)} "
            f"{ratio} {row.on:7.2f} {row.off:7.2f} {row.size:6.0f} {row.busy:5.0%} "
            f"{'-' if row.core is None else f'{row.core:.2f}':>4} "
            f"{'-' if row.rate is None else f'{row.rate:g}':>5} "
            f"{'-' if row.fanout is None else row.fanout:>5} "
            f"{row.load[0]:4.1f}-{row.load[1]:<4.1f}  {verdict}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
