"""What ``wsztune record`` costs the traffic it records: throughput direct and through the proxy.

Run as ``python bench/record.py [--clients 8] [--messages 2000]``. A websockets echo server runs
in this process; a real ``wsztune record`` process (the installed command, compression on both
hops as always) sits in front of it, writing to a temporary file. Each client sends chat-sized
JSON messages one at a time and waits for each echo, first straight to the server, then through
the proxy. Printed: messages per second (both directions counted) each way, the ratio, and
whether the recording holds every message. The clients and the server share this process, so
the direct figure is itself limited by Python; the ratio is what a user feels on top of that.
Timings on a machine shared with other work mean little: compare ratios from a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
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


async def main(clients: int, messages: int) -> None:
    total = 2 * clients * messages  # each message is recorded twice: sent, then echoed
    async with serve(echo, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        direct = await traffic(f"ws://127.0.0.1:{port}", clients, messages)
        with tempfile.TemporaryDirectory(prefix="wsztune-bench-record-") as tmp:
            output = Path(tmp) / "bench.records.jsonl"
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "wsztune", "record",
                "--upstream", f"ws://127.0.0.1:{port}", "--listen", "127.0.0.1:0",
                "-o", str(output), "--quiet",
                stderr=asyncio.subprocess.PIPE,
                cwd=REPO,
            )  # fmt: skip
            assert process.stderr is not None
            line = (await process.stderr.readline()).decode()
            proxied = await traffic(line.split()[2], clients, messages)
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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--messages", type=int, default=2000)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.clients, arguments.messages))
