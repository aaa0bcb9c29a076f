"""What a fleet really pays per connection: the resident model against real servers' RSS.

    python bench/fleet.py                      # every row below (about 30 minutes, 2 cores)
    python bench/fleet.py --only websockets    # one server's rows
    python bench/fleet.py --quick              # a tenth of the connections
    python bench/fleet.py --churn              # the churn run only

Each row runs a real server on 127.0.0.1 in a process of its own, twice: compression off, then
on, same library. Clients run in other processes (python-websockets clients for the Python
server, ws clients in node for ws and coder), one process per wave of connections; each wave
opens its connections, replays its corpus connections (live connection i replays corpus
connection i mod their number: the client's messages to the server, the server's to the client,
both at once), holds them open and reports done. After each wave the server's RSS
(/proc/PID/status VmRSS) is sampled. RSS growth per connection is the least-squares slope of
RSS over the connections held, from the first wave to the last (the first wave pays the
process's one-off growth, so the baseline before it is not a point), compression on minus off:
what the OS charges for compression alone, in the steady state. For the Go server (coder:
wsztune live's own Go program, ``fleet-serve``, the server ``wsztune live --server coder`` runs
at fleet scale) that is the settled state: after each wave the server runs collections until
its goroutine stacks stop shrinking, then waits for the scavenger
(wsztune.live.fleet.settled_rss); its row is checked on that, and the slope of the RSS read
before the collections is printed beside it, not checked. It is printed beside
wsztune's figures for the same corpus and setting: the resident prediction
(``connection_memory_resident``) and the allocation (``connection_memory``).

The churn run holds N connections, then replaces them K times (a wave's client process is
killed, its connections close, a new wave opens), sampling RSS after each replacement: the
plateau it reaches, per connection, against the allocation (the bound when freed chunks are
reused) and the resident figure.

Bounds: every wait has a timeout, every process is killed at the end, clients run at most
``CONCURRENCY`` handshakes at a time; the largest row holds 4,000 connections (about 1.5 GiB over
server and clients at 15:8). RSS is robust to CPU load (a loaded machine slows a run, it does
not change what pages are written), but a run says the load it ran under (os.getloadavg).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wsztune.codecs.base import TimingPlan  # noqa: E402
from wsztune.corpus import SERVER, load  # noqa: E402
from wsztune.live import fleet, growth  # noqa: E402
from wsztune.permessage_deflate import Setting  # noqa: E402

CORPORA = {
    "light": ROOT / "corpora" / "fleet-light.records.jsonl",
    "heavy": ROOT / "corpora" / "fleet-heavy.records.jsonl",
}
WAVES = 8
CONCURRENCY = 64
STEP_TIMEOUT = 900.0  # seconds one wave may take (the heavy corpus at 4,000 on a loaded machine)
SETTLE = 1.0  # seconds after a wave before RSS is read: the server's last frees and writes


# The corpus as the processes replay it ---------------------------------------------------------


@dataclass(frozen=True)
class Script:
    """One corpus connection: what the server sends and what the client sends."""

    server: list[bytes]
    client: list[bytes]


def scripts(corpus: Path, push_only: bool = False) -> list[Script]:
    """The corpus's connections in order; ``push_only``: the clients send nothing."""
    by_connection: dict[str, Script] = {}
    for stream in load(corpus).streams():
        script = by_connection.setdefault(stream.connection, Script([], []))
        payloads = [bytes(payload) for payload in stream.payloads]
        if stream.direction == SERVER:
            script.server.extend(payloads)
        elif not push_only:
            script.client.extend(payloads)
    return list(by_connection.values())


@functools.cache  # one file per corpus for the whole bench, not one per row
def as_records(corpus: Path) -> Path:
    """``corpus`` as a records JSONL file (itself if it is one already): one record per
    message, its connection, direction and payload, in each stream's order."""
    import base64

    if corpus.name.endswith(".records.jsonl"):
        return corpus
    name = f"wsztune-fleet-{os.getpid()}-{corpus.stem}.records.jsonl"
    target = Path(os.environ.get("TMPDIR", "/tmp")) / name
    with target.open("w") as out:
        out.write(json.dumps({"wsztune": "records/1"}) + "\n")
        for stream in load(corpus).streams():
            for payload in stream.payloads:
                record = {
                    "connection": stream.connection,
                    "direction": stream.direction,
                    "base64": base64.b64encode(bytes(payload)).decode(),
                }
                out.write(json.dumps(record) + "\n")
    return target


def parse_setting(text: str) -> tuple[int, int] | None:
    """``12:5`` -> (12, 5); ``off`` -> None."""
    if text == "off":
        return None
    bits, level = text.split(":")
    return int(bits), int(level)


# python-websockets: server and clients -----------------------------------------------------------


def deflate_extensions(factory: type, setting: str) -> list[Any]:
    """The permessage-deflate offer or answer for ``setting`` (both windows, the memLevel),
    none for ``off``."""
    compression = parse_setting(setting)
    if compression is None:
        return []
    bits, level = compression
    return [
        factory(
            server_max_window_bits=bits,
            client_max_window_bits=bits,
            compress_settings={"memLevel": level},
        )
    ]


async def python_server(corpus: Path, setting: str) -> None:
    """Serve the corpus to every connection; print the port; run until killed."""
    from websockets.asyncio.server import serve
    from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

    plan = scripts(corpus)
    extensions = deflate_extensions(ServerPerMessageDeflateFactory, setting)

    async def handler(connection: Any) -> None:
        script = plan[int(connection.request.path.strip("/")) % len(plan)]

        async def send() -> None:
            for payload in script.server:
                await connection.send(payload)

        async def receive() -> None:
            for _ in script.client:
                await connection.recv()

        await asyncio.gather(send(), receive())
        await connection.wait_closed()

    async with serve(
        handler,
        "127.0.0.1",
        0,
        compression=None,
        extensions=extensions,
        ping_interval=None,
        max_size=None,
        backlog=4096,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        print(json.dumps({"port": port}), flush=True)
        await asyncio.Event().wait()


async def python_clients(corpus: Path, setting: str, port: int, start: int, count: int) -> None:
    """Open ``count`` connections from index ``start``, replay, print done, hold until EOF."""
    from websockets.asyncio.client import connect
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

    plan = scripts(corpus)
    extensions = deflate_extensions(ClientPerMessageDeflateFactory, setting)
    gate = asyncio.Semaphore(CONCURRENCY)
    held = []

    async def one(index: int) -> None:
        script = plan[index % len(plan)]
        async with gate:
            connection = await connect(
                f"ws://127.0.0.1:{port}/{index}",
                compression=None,
                extensions=extensions,
                ping_interval=None,
                max_size=None,
                open_timeout=STEP_TIMEOUT,
            )
        held.append(connection)

        async def send() -> None:
            for payload in script.client:
                await connection.send(payload)

        async def receive() -> None:
            for _ in script.server:
                await connection.recv()

        await asyncio.gather(send(), receive())

    await asyncio.gather(*(one(index) for index in range(start, start + count)))
    print(json.dumps({"done": len(held)}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


# The driver --------------------------------------------------------------------------------------


# The processes' plumbing is wsztune live's own (wsztune.live.fleet); each child's stderr goes to
# one file per run.
ERRORS = Path(os.environ.get("TMPDIR", "/tmp")) / "wsztune-fleet-bench.stderr"


def spawn(command: Sequence[str], env: dict[str, str] | None = None) -> Any:
    """A child speaking JSON lines (wsztune.live.fleet.spawn), its stderr in :data:`ERRORS`."""
    return fleet.spawn(command, ERRORS, env)


def read_reply(process: Any, timeout: float) -> dict[str, Any]:
    """The next JSON line ``process`` prints, within ``timeout`` seconds."""
    return fleet.read_reply(process, timeout, ERRORS)


ServerCommand = Callable[[Path, str], list[str]]  # (corpus, setting) -> the command line


def with_arguments(*prefix: str) -> ServerCommand:
    """A server command: ``prefix`` followed by the corpus and the setting."""
    return lambda corpus, setting: [*prefix, str(corpus), setting]


@dataclass(frozen=True)
class Stack:
    """How to start a server and a wave of clients for one library."""

    name: str
    server: ServerCommand
    clients: list[str]  # + [corpus, setting, port, start, count]
    env: dict[str, str] | None = None
    settles: bool = False  # Go: a collection, then the scavenger's plateau, after each wave


HERE = Path(__file__).resolve()
PYTHON = Stack(
    "python-websockets",
    with_arguments(sys.executable, str(HERE), "_py-server"),
    [sys.executable, str(HERE), "_py-clients"],
)


def node_stack() -> Stack:
    """ws in node: server and clients from bench/fleet_ws.js."""
    script = str(HERE.with_name("fleet_ws.js"))
    return Stack("node ws", with_arguments("node", script, "server"), ["node", script, "clients"])


# coder's one knob: context takeover at the library's default threshold (128 B, conn.go).
CODER_TAKEOVER = Setting(15, 8, context_takeover=True)


def coder_stack() -> Stack:
    """coder/websocket (takeover) in Go: wsztune live's Go program as the server
    (:func:`coder_server`), ws clients in node that send nothing (fleet_ws.js's ``push``)."""
    script = str(HERE.with_name("fleet_ws.js"))
    return Stack("coder", coder_server, ["node", script, "clients"], settles=True)


def coder_server(corpus: Path, setting: str) -> list[str]:
    """``wsztune-live-go fleet-serve JOB`` (wsztune/live/golive, the program ``wsztune live
    --server coder`` runs): live connection i gets corpus connection i mod their number's
    server messages, then is held; it prints its port and answers ``gc`` (collections until
    stacks stop shrinking). ``setting``: ``takeover`` (:data:`CODER_TAKEOVER`) or ``off``."""
    from wsztune.live.golang import live_binary

    return [str(live_binary()), "fleet-serve", str(coder_job(corpus, setting == "takeover"))]


@functools.cache  # one corpus file per corpus for the whole bench
def coder_corpus(corpus: Path) -> tuple[Path, list[Any]]:
    """The Go program's corpus file for ``corpus`` and its streams: one server stream per
    corpus connection (empty for a connection whose server sends nothing), in
    :func:`scripts`'s order, which is fleet_ws.js's, so that server and clients agree on what
    connection i replays."""
    from wsztune.corpus import Stream
    from wsztune.programs import write_corpus

    streams = [
        Stream(str(number), SERVER, script.server)
        for number, script in enumerate(scripts(corpus, push_only=True))
    ]
    corpus_file = _coder_base(corpus).with_name(_coder_base(corpus).name + ".corpus.bin")
    write_corpus([stream.payloads for stream in streams], corpus_file)
    return corpus_file, streams


@functools.cache  # one job per corpus and setting for the whole bench
def coder_job(corpus: Path, compression: bool) -> Path:
    """The Go program's job for ``corpus`` (:func:`coder_corpus`), compression on or off."""
    from wsztune.live.golang import job_spec

    corpus_file, streams = coder_corpus(corpus)
    job = {**job_spec("coder", CODER_TAKEOVER, corpus_file, streams), "compression": compression}
    base = _coder_base(corpus)
    path = base.with_name(f"{base.name}-coder-{'on' if compression else 'off'}.json")
    path.write_text(json.dumps(job), encoding="utf-8")
    return path


def _coder_base(corpus: Path) -> Path:
    """Where this bench process writes ``corpus``'s Go files (their names' common start)."""
    return Path(os.environ.get("TMPDIR", "/tmp")) / f"wsztune-fleet-{os.getpid()}-{corpus.stem}"


@dataclass
class Curve:
    """RSS after each wave: connections held and bytes; for a Go server also the RSS it
    settled to after a collection (:func:`settle`), the figure its row is checked on."""

    connections: list[int]
    rss: list[int]
    settled: list[int] = field(default_factory=list)

    def slope(self, settled: bool = False) -> growth.Slope:
        """Least-squares bytes per connection over the waves, with its standard error."""
        return growth.least_squares(self.connections, self.settled if settled else self.rss)


def settle(server: Any) -> int:
    """A Go server's settled RSS (:func:`wsztune.live.fleet.settled_rss`: collections until
    goroutine stacks stop shrinking, then the scavenger's plateau)."""
    return fleet.settled_rss(server, 60, ERRORS)


def run_fleet(
    stack: Stack,
    corpus: Path,
    setting: str,
    connections: int,
    waves: int = WAVES,
    client_setting: str | None = None,
) -> Curve:
    """Hold ``connections`` in ``waves``, RSS after each; kill everything after.
    ``client_setting``: what the clients are told instead of ``setting`` (coder's push)."""
    server = spawn(stack.server(corpus, setting), stack.env)
    processes = [server]
    try:
        port = read_reply(server, 60)["port"]
        per_wave = connections // waves
        curve = Curve([], [])
        for wave in range(waves):
            clients = spawn(
                [*stack.clients, str(corpus), client_setting or setting, str(port),
                 str(wave * per_wave), str(per_wave)]
            )
            processes.append(clients)
            read_reply(clients, STEP_TIMEOUT)
            time.sleep(SETTLE)
            curve.connections.append((wave + 1) * per_wave)
            curve.rss.append(fleet.rss(server.pid))
            if stack.settles:
                curve.settled.append(settle(server))
        return curve
    finally:
        fleet.stop(processes)


def run_churn(
    stack: Stack, corpus: Path, setting: str, connections: int, rounds: int, waves: int = 4
) -> list[float]:
    """Hold ``connections``, then replace them ``rounds`` times, wave by wave; RSS per
    connection held after the first fill and after each replacement round."""
    server = spawn(stack.server(corpus, setting), stack.env)
    processes = [server]
    try:
        port = read_reply(server, 60)["port"]
        baseline = fleet.rss(server.pid)
        per_wave = connections // waves
        live: list[subprocess.Popen] = []
        plateau = []
        index = 0
        for round_ in range(rounds + 1):
            for _ in range(waves):
                if round_:
                    fleet.stop([live.pop(0)])
                clients = spawn(
                    [*stack.clients, str(corpus), setting, str(port), str(index), str(per_wave)]
                )
                index += per_wave
                processes.append(clients)
                live.append(clients)
                read_reply(clients, STEP_TIMEOUT)
            time.sleep(SETTLE)
            plateau.append((fleet.rss(server.pid) - baseline) / connections)
        return plateau
    finally:
        fleet.stop(processes)


def predict(
    corpus: Path, setting: str, codec: str = "zlib", push_only: bool = False
) -> tuple[float, float]:
    """wsztune's (resident, allocation) per connection: ``codec``'s cell for ``setting`` on
    the corpus (``push_only``: its server streams alone, as a push fleet carries)."""
    from wsztune.codecs import get_codec
    from wsztune.corpus import Stream

    if setting == "takeover":
        model = CODER_TAKEOVER
    else:
        bits, level = parse_setting(setting) or (15, 8)
        model = Setting(bits, level)
    streams = load(corpus).streams()
    if push_only:
        streams = [
            Stream(stream.connection, stream.direction, stream.payloads)
            for stream in streams
            if stream.direction == SERVER
        ]
    cells: list[dict[str, Any]] = []
    get_codec(codec).measure(streams, [model], TimingPlan(measure_time=False), 1, cells.append)
    return cells[0]["connection_memory_resident"], cells[0]["connection_memory"]


@dataclass
class Row:
    """One line of the table."""

    server: str
    corpus: str
    setting: str
    connections: int
    measured: float
    error: float
    resident: float
    allocation: float
    goal: float | None  # None: shown, not checked
    seconds: float

    def cells(self) -> list[str]:
        """The row as text cells."""
        off = self.resident / self.measured - 1 if self.measured else float("nan")
        return [
            self.server,
            self.corpus,
            self.setting,
            f"{self.connections:,}",
            f"{self.measured / 1024:.1f} ± {2 * self.error / 1024:.1f}",
            f"{self.resident / 1024:.1f}",
            f"{off:+.0%}",
            "-" if self.goal is None else "yes" if abs(off) <= self.goal else "NO",
            f"{self.allocation / 1024:.1f}",
            f"{self.seconds:.0f}",
        ]


HEADER = [
    "server", "corpus", "setting", "connections", "RSS/conn KiB (on-off, ±2se)",
    "resident KiB", "resident vs RSS", "within goal", "allocation KiB", "seconds",
]


def print_table(rows: Sequence[Row]) -> None:
    """Markdown table of the rows."""
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "---|" * len(HEADER))
    print_rows(rows)


def print_rows(rows: Sequence[Row]) -> None:
    """The rows as Markdown table lines, flushed (a long run shows them as they come)."""
    for row in rows:
        print("| " + " | ".join(row.cells()) + " |", flush=True)


def measure_row(
    stack: Stack,
    corpus_name: str,
    setting: str,
    connections: int,
    goal: float,
    prediction: tuple[float, float],
    off_cache: dict[tuple[str, str, int], Curve],
    client_setting: str | None = None,
    records: bool = False,
) -> list[Row]:
    """One row: off (cached per server, corpus, connections) and on, slopes subtracted. A
    stack that settles (Go) gives two: the settled slope, checked, and the slope before the
    collections (its writers' stacks still grown), shown. ``records``: the stack's processes
    read records JSONL only (fleet_ws.js): another corpus format is handed to them rewritten
    as records (:func:`as_records`)."""
    started = time.monotonic()
    corpus = as_records(CORPORA[corpus_name]) if records else CORPORA[corpus_name]
    key = (stack.name, corpus_name, connections)
    if key not in off_cache:
        off_cache[key] = run_fleet(
            stack, corpus, "off", connections, client_setting=client_setting and "off"
        )
    on = run_fleet(stack, corpus, setting, connections, client_setting=client_setting)
    seconds = time.monotonic() - started

    def row(name: str, settled: bool, checked: float | None) -> Row:
        growth_per_connection = on.slope(settled).minus(off_cache[key].slope(settled))
        return Row(
            name, corpus_name, setting, connections, growth_per_connection.value,
            growth_per_connection.error, prediction[0], prediction[1], checked, seconds,
        )  # fmt: skip

    if not stack.settles:
        return [row(stack.name, False, goal)]
    return [row(f"{stack.name}, settled", True, goal), row(f"{stack.name}, before GC", False, None)]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the rows (or one helper process, for the internal commands)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "_py-server":
        asyncio.run(python_server(Path(argv[1]), argv[2]))
        return 0
    if argv and argv[0] == "_py-clients":
        corpus, setting, port, start, count = argv[1:6]
        asyncio.run(python_clients(Path(corpus), setting, int(port), int(start), int(count)))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["websockets", "ws", "coder"], action="append")
    parser.add_argument("--quick", action="store_true", help="a tenth of the connections")
    parser.add_argument("--churn", action="store_true", help="the churn run only")
    parser.add_argument("--setting", action="append", help="only these settings (e.g. 12:5)")
    parser.add_argument(
        "--malloc-arena-max", type=int, help="ws rows: MALLOC_ARENA_MAX for the node server"
    )
    parser.add_argument(
        "--gogc", type=int, help="coder rows: GOGC for the Go server (the model has no GOGC term)"
    )
    parser.add_argument(
        "--corpus", type=Path, action="append",
        help="websockets, ws and coder rows on this corpus (records or HAR) instead of the "
        "bundled light and heavy ones (a held-out check of the model)",
    )  # fmt: skip
    parser.add_argument(
        "--connections", type=int,
        help="websockets, ws and coder rows: connections (4,000; ws 2,000)",
    )
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    print(f"# load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.churn:
        churn(scale)
        return 0
    only = set(args.only or ["websockets", "ws", "coder"])
    settings = args.setting or ["12:5", "15:8"]
    off_cache: dict[tuple[str, str, int], Curve] = {}
    print_table([])
    for path in args.corpus or []:
        CORPORA[path.name.split(".")[0]] = path.resolve()
    names = [path.name.split(".")[0] for path in args.corpus or []] or ["light", "heavy"]
    if "websockets" in only:
        for corpus_name in names:
            for setting in settings:
                prediction = predict(CORPORA[corpus_name], setting)
                print_rows(measure_row(
                    PYTHON, corpus_name, setting, (args.connections or 4000) // scale, 0.10,
                    prediction, off_cache,
                ))  # fmt: skip
    if "ws" in only:
        node = node_stack()
        if args.malloc_arena_max:
            arenas = str(args.malloc_arena_max)
            node = replace(node, name=f"{node.name} MALLOC_ARENA_MAX={arenas}",
                           env={"MALLOC_ARENA_MAX": arenas})
        for corpus_name in names if args.corpus else ["light"]:
            for setting in settings:
                prediction = predict(CORPORA[corpus_name], setting, "node")
                print_rows(measure_row(
                    node, corpus_name, setting, (args.connections or 2000) // scale, 0.20,
                    prediction, off_cache, records=True,
                ))  # fmt: skip
    if "coder" in only:
        coder = coder_stack()
        if args.gogc is not None:
            os.environ["GOGC"] = str(args.gogc)  # the server's processes inherit it
            coder = replace(coder, name=f"coder GOGC={args.gogc}")
        for corpus_name in names if args.corpus else ["light"]:
            prediction = predict(CORPORA[corpus_name], "takeover", "go-coder", push_only=True)
            print_rows(measure_row(
                coder, corpus_name, "takeover", (args.connections or 4000) // scale, 0.20,
                prediction, off_cache, client_setting="push", records=True,
            ))  # fmt: skip
    return 0


def churn(scale: int) -> None:
    """2,000 python-websockets connections at 15:8 (light corpus) replaced three times."""
    corpus, setting = CORPORA["light"], "15:8"
    resident, allocation = predict(corpus, setting)
    off = run_churn(PYTHON, corpus, "off", 2000 // scale, 3)
    on = run_churn(PYTHON, corpus, setting, 2000 // scale, 3)
    print("| after | RSS/conn on-off KiB | resident KiB | allocation KiB |")
    print("|---|---|---|---|")
    for round_, (with_, without) in enumerate(zip(on, off, strict=True)):
        label = "first fill" if not round_ else f"replacement {round_}"
        print(
            f"| {label} | {(with_ - without) / 1024:.1f} | {resident / 1024:.1f} "
            f"| {allocation / 1024:.1f} |"
        )


if __name__ == "__main__":
    sys.exit(main())
