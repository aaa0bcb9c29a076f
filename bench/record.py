"""What ``wsztune record`` costs the traffic it records, and what its worst messages cost it.

Run as ``python bench/record.py [--part all|throughput|big] [--clients 8] [--messages 2000]``.

Throughput: a websockets echo server runs in this process; a real ``wsztune record`` process (the
installed command, compression on both hops as always) sits in front of it, writing to a
temporary file. Each client sends chat-sized JSON messages one at a time and waits for each echo,
first straight to the server, then through the proxy. Printed: messages per second (both
directions counted) each way, the ratio, and whether the recording holds every message. The
clients and the server share this process, so the direct figure is itself limited by Python; the
ratio is what a user feels on top of that.

Big messages (issue 29): one message at ``--max-message-size`` (16 MiB) of control characters
(``\x01``, 6 bytes each once JSON-escaped) and one of ASCII JSON text, each pushed through its own
``wsztune record`` process while a second connection keeps sending small messages and timing
each echo. The upstream (a websockets server in its own process) echoes small messages and
answers a big one with its size; the big message is sent from another process too, so that
nothing but the proxy stands between the small connection and its echoes. Printed per message:
whether the recording reads back byte-exact (and how the line holds it), the proxy's peak RSS
against the documented bound (the interpreter's 32 MiB + 3 x the limit for the direction that
carries it), and the small connection's slowest round trip while the big message passed (goal:
under 1 s).

Timings on a machine shared with other work mean little: compare ratios from a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from wsztune import corpus  # noqa: E402


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


def chat(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    words = ["ship", "it", "merge", "later", "deploy", "rollback", "lunch", "thanks", "why"]
    return [
        json.dumps(
            {
                "type": "message",
                "seq": index,
                "user": rng.choice(["ana", "bo", "chen"]),
                "text": " ".join(rng.choice(words) for _ in range(rng.randint(3, 20))),
            }
        )
        for index in range(count)
    ]


async def traffic(url: str, clients: int, messages: int) -> float:
    """Seconds for every client to send its messages and get each echo."""

    async def one(index: int) -> None:
        async with connect(url, proxy=None) as ws:
            for message in chat(messages, index):
                await ws.send(message)
                await ws.recv()

    started = time.perf_counter()
    await asyncio.gather(*(one(index) for index in range(clients)))
    return time.perf_counter() - started


async def throughput(clients: int, messages: int) -> None:
    total = 2 * clients * messages  # each message is recorded twice: sent, then echoed
    async with serve(echo, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        direct = await traffic(f"ws://127.0.0.1:{port}", clients, messages)
        with tempfile.TemporaryDirectory(prefix="wsztune-bench-record-") as tmp:
            output = Path(tmp) / "bench.records.jsonl"
            process, url = await start_proxy(f"ws://127.0.0.1:{port}", output)
            proxied = await traffic(url, clients, messages)
            process.send_signal(signal.SIGINT)
            await process.wait()
            recorded = len(corpus.load(output).messages)
            size = output.stat().st_size
    print(f"{clients} clients x {messages} messages, each echoed: {total:,} messages")
    print(f"direct:        {total / direct:10,.0f} messages/s ({direct:.2f} s)")
    print(f"through proxy: {total / proxied:10,.0f} messages/s ({proxied:.2f} s)")
    print(f"ratio:         {direct / proxied:10.2f} x the direct throughput")
    print(f"recorded:      {recorded:,} of {total:,} messages, file {size / 1024:,.0f} KiB")
    if recorded != total:
        sys.exit("the recording lost messages")


async def start_proxy(
    upstream: str, output: Path, *extra: str
) -> tuple[asyncio.subprocess.Process, str]:
    """A real ``wsztune record`` process in front of ``upstream``; it and its URL."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wsztune", "record",
        "--upstream", upstream, "--listen", "127.0.0.1:0",
        "-o", str(output), "--quiet", *extra,
        stderr=asyncio.subprocess.PIPE,
        cwd=REPO,
    )  # fmt: skip
    assert process.stderr is not None
    line = (await process.stderr.readline()).decode()
    return process, line.split()[2]


# Big messages ------------------------------------------------------------------------------------

MiB = 1 << 20
BIG = 16 * MiB  # wsztune record's default --max-message-size: the biggest it takes
INTERPRETER = 32 * MiB  # what docs/capture.md counts for the interpreter (listening, idle)
HELD = 3  # times the limit a direction holds at most (docs/capture.md)
SMALL_LIMIT = 64 * 1024  # the upstream echoes messages up to this size, answers bigger ones


def big_message(kind: str) -> str:
    """16 MiB of text: control characters, or ASCII JSON (chat messages, one per line)."""
    if kind == "control":
        return "\x01" * BIG
    if kind == "random":  # printable ASCII that deflate barely shrinks: the most a hop holds
        rng = random.Random(29)
        return "".join(rng.choices([chr(code) for code in range(32, 127)], k=BIG))
    lines = "\n".join(chat(20_000, seed=29))
    text = (lines * (BIG // len(lines) + 1))[:BIG]
    return text


async def upstream_main(port_file: str) -> None:
    """The upstream, run in its own process: echo small messages, answer big ones' size."""

    async def handler(ws: ServerConnection) -> None:
        async for message in ws:
            size = len(message.encode() if isinstance(message, str) else message)
            await ws.send(message if size <= SMALL_LIMIT else f"got {size}")

    async with serve(handler, "127.0.0.1", 0, max_size=None) as server:
        Path(port_file).write_text(str(server.sockets[0].getsockname()[1]))
        await asyncio.Future()


async def sender_main(url: str, kind: str) -> None:
    """Send one big message, run in its own process, and print the upstream's answer."""
    message = big_message(kind)
    async with connect(url, proxy=None, max_size=None) as ws:
        await ws.send(message)
        print(await ws.recv(), flush=True)


def status_kib(pid: int, field_name: str) -> int:
    """A field of /proc/PID/status in KiB (VmHWM: the peak resident set)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field_name} in /proc/{pid}/status")


async def one_big(upstream: str, kind: str, tmp: Path) -> bool:
    """Push one big message through its own proxy beside a small connection; print the figures."""
    output = tmp / f"{kind}.records.jsonl"
    proxy, url = await start_proxy(upstream, output)
    idle = status_kib(proxy.pid, "VmRSS") * 1024  # the interpreter, listening, no traffic yet
    trips: list[float] = []
    done = asyncio.Event()

    async def small() -> None:
        async with connect(url, proxy=None) as ws:
            index = 0
            while not done.is_set():
                started = time.perf_counter()
                await ws.send(f"ping {index}")
                await ws.recv()
                trips.append(time.perf_counter() - started)
                index += 1
                await asyncio.sleep(0.01)

    pinger = asyncio.create_task(small())
    await asyncio.sleep(0.5)  # the small connection's round trip before: its baseline
    before = len(trips)
    started = time.perf_counter()
    sender = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--sender", url, kind,
        stdout=asyncio.subprocess.PIPE, cwd=REPO,
    )  # fmt: skip
    answer, _ = await sender.communicate()
    seconds = time.perf_counter() - started
    await asyncio.sleep(0.3)
    done.set()
    await pinger
    peak = status_kib(proxy.pid, "VmHWM") * 1024
    proxy.send_signal(signal.SIGINT)
    await proxy.wait()

    expected = big_message(kind).encode()
    loaded = corpus.load(output)
    bigs = [message for message in loaded.messages if len(message.payload) > SMALL_LIMIT]
    exact = (
        len(bigs) == 1
        and bigs[0].is_text
        and hashlib.sha256(bigs[0].payload).digest() == hashlib.sha256(expected).digest()
    )
    pings = sum(1 for message in loaded.messages if message.payload.startswith(b"ping "))
    longest = max(len(line) for line in output.read_bytes().splitlines())
    key = "text_base64" if b'"text_base64":"' in output.read_bytes() else "text"
    bound = INTERPRETER + HELD * BIG
    held = peak - idle
    during = trips[before:]
    print(f"{kind}: 16 MiB text message ({answer.decode().strip()}, {seconds:.2f} s to send)")
    print(
        f"  recording:  {'reads back byte-exact' if exact else 'NOT byte-exact'} "
        f"({len(loaded.messages):,} messages, {pings:,} pings both ways); its line "
        f"{longest / MiB:.1f} MiB as {key!r} ({longest / BIG:.2f} x the message)"
    )
    print(
        f"  peak RSS:   {peak / MiB:.0f} MiB (documented bound {bound / MiB:.0f} MiB: "
        f"{INTERPRETER // MiB} + {HELD} x {BIG // MiB}) -> {peak / bound:.2f} of it; "
        f"{idle / MiB:.0f} MiB listening idle, so the message took {held / MiB:.0f} MiB, "
        f"{held / BIG:.2f} x its size"
    )
    print(
        f"  other connection: slowest round trip {max(during):.3f} s while it passed "
        f"(median {statistics.median(during) * 1000:.1f} ms, {len(during)} trips; before it: "
        f"median {statistics.median(trips[:before]) * 1000:.1f} ms); goal < 1 s"
    )
    return exact and peak <= bound and max(during) < 1.0


async def big_messages(kinds: tuple[str, ...] = ("control", "ascii")) -> None:
    with tempfile.TemporaryDirectory(prefix="wsztune-bench-record-") as name:
        tmp = Path(name)
        port_file = tmp / "port"
        server = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--upstream-server", str(port_file), cwd=REPO
        )
        try:
            while not port_file.exists() or not port_file.read_text():
                await asyncio.sleep(0.05)
            upstream = f"ws://127.0.0.1:{port_file.read_text()}"
            held = [await one_big(upstream, kind, tmp) for kind in kinds]
        finally:
            server.kill()
            await server.wait()
    if not all(held):
        sys.exit("a big message broke a goal (byte-exact, RSS bound, round trip < 1 s)")


async def main(part: str, clients: int, messages: int) -> None:
    if part in ("all", "throughput"):
        await throughput(clients, messages)
    if part in ("all", "big"):
        await big_messages()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--upstream-server"]:
        asyncio.run(upstream_main(sys.argv[2]))
    elif sys.argv[1:2] == ["--sender"]:
        asyncio.run(sender_main(sys.argv[2], sys.argv[3]))
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--part", choices=("all", "throughput", "big"), default="all")
        parser.add_argument("--clients", type=int, default=8)
        parser.add_argument("--messages", type=int, default=2000)
        arguments = parser.parse_args()
        asyncio.run(main(arguments.part, arguments.clients, arguments.messages))
