"""The CPU a broadcast costs a real server, against the model's figure (issue 25, item 4).

Run as ``python bench/broadcast.py [--corpus FILE] [--connections N] [--rate R] ...``. For each
server (python-websockets with its ``broadcast()``, Node's ws, gorilla/websocket with
``WriteMessage`` and with ``PreparedMessage``, coder/websocket), a real server on 127.0.0.1
broadcasts the corpus's server messages, in order, at R messages per second to N connections
held by clients in their own processes (``bench/broadcast_go``: raw connections that read and
discard, so that only the server does WebSocket work). The server's CPU seconds (user + system,
every thread: ``psutil``) over a window of ``--seconds`` are divided by the messages it wrote in
that window, compression on and compression off, started one after the other, in alternating
order, ``--repeats`` times. The difference, per 1,000 deliveries, is what compression costs the
server; it is set against the model's ``compress_seconds_per_delivery`` x 1,000 from ``wsztune
run CORPUS --fanout N`` at the server's own setting (and, for gorilla's PreparedMessage, its
``compress_once.compress_seconds_per_delivery``).

Printed per server: the model's figure, the median of the measured differences with their range
over the repeats, and the ratio (goal: within 25%). The machine's load average and its CPU
busy share during each window are printed too: on a shared machine the absolute figures move,
which is why on and off are measured back to back, interleaved, several times. Exit status 1
when a server misses the goal. Not part of the test suite (minutes).
"""

from __future__ import annotations

import argparse
import asyncio
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

REPO = Path(__file__).resolve().parent.parent
GO_SOURCE = REPO / "bench" / "broadcast_go"
WS_SERVER = REPO / "bench" / "broadcast_ws.js"
DEBIAN_GOPATH = "/usr/share/gocode"
GOAL = 0.25  # |measured / model - 1|
CLIENT_PROCESSES = 2


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


def model_run(corpus_path: Path, args: list[str], fanout: int, output: Path) -> list[dict]:
    """The cells of ``wsztune run CORPUS ARGS --fanout N``, timed (the model's figures)."""
    command = [sys.executable, "-m", "wsztune", "run", str(corpus_path), *args,
               "--fanout", str(fanout), "-j", "1", "-q", "-o", str(output)]  # fmt: skip
    subprocess.run(command, check=True, cwd=REPO)
    return json.loads(output.read_text())["cells"]


# The servers -------------------------------------------------------------------------------------


@dataclass
class Server:
    """One server of the bench: how to start it with compression on or off, the model run that
    stands for it, and which figure of that run's cell is its CPU per delivery."""

    name: str
    command: Callable[[bool, Path, float], list[str]]
    model_args: list[str]
    pick: Callable[[dict], bool]  # the cell of the model run at the server's setting
    figure: Callable[[dict], float | None] = lambda cell: cell.get("compress_seconds_per_delivery")
    model: float | None = None
    on: list[float] = field(default_factory=list)  # CPU seconds per 1,000 deliveries
    off: list[float] = field(default_factory=list)
    busy: list[float] = field(default_factory=list)  # machine CPU busy share in the windows


def go_binary(cache: Path) -> Path:
    """bench/broadcast_go built against Debian's gorilla and coder packages."""
    binary = cache / "broadcast_go"
    environment = {**os.environ, "GOPATH": DEBIAN_GOPATH, "GO111MODULE": "off",
                   "GOCACHE": str(cache / "gocache")}  # fmt: skip
    subprocess.run(["go", "build", "-o", str(binary), "."], cwd=GO_SOURCE, check=True,
                   env=environment)  # fmt: skip
    return binary


def ws_module() -> Path:
    """The ws package wsztune installs for its Node checks (``wsztune live --server ws`` puts
    it under ~/.cache/wsztune/ws-VERSION/node_modules/ws)."""
    cache = Path(os.environ.get("WSZTUNE_CACHE", Path.home() / ".cache" / "wsztune"))
    found = sorted(cache.glob("ws-*/node_modules/ws"))
    if not found:
        raise FileNotFoundError(f"no ws under {cache}: run `wsztune live --server ws` once")
    return found[-1]


def servers(go: Path, ws_dir: Path | None) -> list[Server]:
    """Every server of the bench, at its library's default compression setting."""

    def go_command(*flags: str) -> Callable[[bool, Path, float], list[str]]:
        def command(compress: bool, messages: Path, rate: float) -> list[str]:
            on = ["-compress"] if compress else []
            return [str(go), "serve", *flags, *on, "-rate", str(rate), "-corpus", str(messages)]

        return command

    def websockets_command(compress: bool, messages: Path, rate: float) -> list[str]:
        return [sys.executable, str(Path(__file__).resolve()), "_serve-websockets",
                "--compress" if compress else "--no-compress", "--rate", str(rate),
                "--messages", str(messages)]  # fmt: skip

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
               figure=lambda cell: cell["compress_once"]["compress_seconds_per_delivery"]),
        Server("coder (no takeover)", go_command("-lib", "coder"), ["--server", "coder"],
               lambda cell: not cell["context_takeover"]),
        Server("coder (takeover)", go_command("-lib", "coder", "-takeover"),
               ["--server", "coder"], lambda cell: cell["context_takeover"]),
    ]  # fmt: skip
    if ws_dir is not None:

        def ws_command(compress: bool, messages: Path, rate: float) -> list[str]:
            return ["node", str(WS_SERVER), str(ws_dir), "1" if compress else "0", str(rate),
                    str(messages)]  # fmt: skip

        def at_15_8(cell: dict) -> bool:
            return (cell["window_bits"], cell["mem_level"]) == (15, 8)

        chosen.insert(1, Server("ws (threshold 0)", ws_command,
                                ["--server", "ws", "--threshold", "0", "--window-bits", "15",
                                 "--mem-level", "8", "--level", "-1"], at_15_8))  # fmt: skip
    return chosen


# One measurement ---------------------------------------------------------------------------------


class Status:
    """The server's last status line ({"connections", "deliveries"}), read in a thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.port: int | None = None
        self.last: dict[str, int] = {"connections": 0, "deliveries": 0}
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


def measure(server: Server, compress: bool, messages: Path, go: Path, connections: int,
            rate: float, warmup: float, seconds: float) -> tuple[float, float]:
    """One window: the server's CPU seconds per 1,000 deliveries, and the machine's busy share
    over it."""
    import psutil

    process = subprocess.Popen(server.command(compress, messages, rate), stdout=subprocess.PIPE,
                               text=True)  # fmt: skip
    clients: list[subprocess.Popen[str]] = []
    try:
        status = Status(process)
        if not status.ready.wait(30):
            raise RuntimeError(f"{server.name}: no port")
        share = -(-connections // CLIENT_PROCESSES)
        for index in range(CLIENT_PROCESSES):
            count = min(share, connections - index * share)
            flags = ["-compress"] if compress else []
            clients.append(subprocess.Popen(
                [str(go), "clients", "-port", str(status.port), "-n", str(count), *flags],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))  # fmt: skip
        for client in clients:
            assert client.stdout is not None
            line = client.stdout.readline()
            if not line.startswith("open"):
                raise RuntimeError(f"{server.name}: clients failed ({line.strip()!r})")
        deadline = time.monotonic() + 60
        while status.last["connections"] < connections:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{server.name}: {status.last} of {connections} connections")
            time.sleep(0.1)
        time.sleep(warmup)
        watched = psutil.Process(process.pid)
        psutil.cpu_percent()
        before, cpu_before = dict(status.last), watched.cpu_times()
        time.sleep(seconds)
        after, cpu_after = dict(status.last), watched.cpu_times()
        busy = psutil.cpu_percent() / 100
        cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
        deliveries = after["deliveries"] - before["deliveries"]
        if deliveries <= 0:
            raise RuntimeError(f"{server.name}: nothing delivered")
        return cpu / deliveries * 1000, busy
    finally:
        for child in [*clients, process]:
            child.kill()
            child.wait()


# The python-websockets server --------------------------------------------------------------------


async def serve_websockets(compress: bool, rate: float, messages_path: Path) -> None:
    """python-websockets' server, broadcasting with ``broadcast()`` at ``rate`` per second; its
    default compression (12:5) or none; no keepalive pings (the clients answer nothing)."""
    from websockets.asyncio.server import broadcast, serve

    data = messages_path.read_bytes()
    messages, offset = [], 0
    while offset < len(data):
        size = int.from_bytes(data[offset:offset + 4], "little")
        messages.append(data[offset + 4:offset + 4 + size].decode())
        offset += 4 + size
    connections: set[Any] = set()
    delivered = 0

    async def handler(connection: Any) -> None:
        connections.add(connection)
        try:
            await connection.wait_closed()
        finally:
            connections.discard(connection)

    async with serve(handler, "127.0.0.1", 0, compression="deflate" if compress else None,
                     ping_interval=None, max_size=None) as server:  # fmt: skip
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"port {port}", flush=True)
        loop = asyncio.get_running_loop()
        start, count, reported = loop.time(), 0, 0.0
        while True:
            broadcast(connections, messages[count % len(messages)])
            delivered += len(connections)
            count += 1
            now = loop.time()
            if now - reported >= 0.5:
                reported = now
                print(json.dumps({"connections": len(connections), "deliveries": delivered}),
                      flush=True)  # fmt: skip
            await asyncio.sleep(max(0.0, start + count / rate - loop.time()))


# Main --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Measure every server, print the table, exit 1 when a server misses the goal."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_serve-websockets"]:
        parser = argparse.ArgumentParser()
        parser.add_argument("--compress", action=argparse.BooleanOptionalAction)
        parser.add_argument("--rate", type=float)
        parser.add_argument("--messages", type=Path)
        options = parser.parse_args(argv[1:])
        asyncio.run(serve_websockets(options.compress, options.rate, options.messages))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=REPO / "corpora" / "api.jsonl")
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10.0, help="broadcasts per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="",
                        help="comma-separated: servers whose name contains one of these")
    options = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="wsztune-broadcast-") as directory:
        work = Path(directory)
        go = go_binary(Path.home() / ".cache" / "wsztune-bench")
        messages = work / "messages.bin"
        write_messages(server_messages(options.corpus), messages)
        try:
            ws_dir: Path | None = ws_module()
        except Exception as error:  # noqa: BLE001 - reported, the others still run
            print(f"ws left out: {error}")
            ws_dir = None
        wanted = options.only.split(",")
        chosen = [s for s in servers(go, ws_dir) if any(w in s.name for w in wanted)]
        load_before = os.getloadavg()
        for number, server in enumerate(chosen):
            cells = model_run(options.corpus, server.model_args, options.connections,
                              work / f"model{number}.json")  # fmt: skip
            server.model = server.figure(next(cell for cell in cells if server.pick(cell)))
        for repeat in range(options.repeats):
            for server in chosen:
                # On then off, then off then on: drift over a pair cancels out over two.
                for compress in (True, False) if repeat % 2 == 0 else (False, True):
                    per_thousand, busy = measure(server, compress, messages, go,
                                                 options.connections, options.rate,
                                                 options.warmup, options.seconds)  # fmt: skip
                    (server.on if compress else server.off).append(per_thousand)
                    server.busy.append(busy)
        load_after = os.getloadavg()
    return report(chosen, options, load_before, load_after)


def report(chosen: list[Server], options: argparse.Namespace, load_before: tuple[float, ...],
           load_after: tuple[float, ...]) -> int:
    """Print the table; 1 when a server misses the goal."""
    print(f"corpus {options.corpus.name}, {options.connections:,} connections, "
          f"{options.rate:g} broadcasts/s, {options.repeats} repeats of {options.seconds:g} s "
          f"on and off; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    print(f"{'server':26} {'model':>8} {'measured':>9} {'range over repeats':>22} "
          f"{'ratio':>6} {'on':>7} {'off':>7} {'busy':>5}  (CPU ms per 1,000 deliveries)")
    missed = 0
    for server in chosen:
        differences = [on - off for on, off in zip(server.on, server.off, strict=True)]
        measured = statistics.median(differences)
        model = (server.model or 0.0) * 1000 * 1000  # seconds per delivery -> ms per 1,000
        ratio = measured * 1000 / model if model else float("nan")  # nan: no model figure
        ok = abs(ratio - 1) <= GOAL
        missed += not ok
        print(f"{server.name:26} {model:8.3f} {measured * 1000:9.3f} "
              f"{min(differences) * 1000:10.3f} to {max(differences) * 1000:8.3f} "
              f"{ratio:6.2f} {statistics.median(server.on) * 1000:7.2f} "
              f"{statistics.median(server.off) * 1000:7.2f} "
              f"{statistics.median(server.busy):5.0%}  {'ok' if ok else 'MISSED'}")  # fmt: skip
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
