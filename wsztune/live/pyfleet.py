"""``wsztune live`` at fleet scale for the Python stacks (websockets, aiohttp, Tornado, uvicorn).

The runner :mod:`wsztune.live.fleet` drives: a server process (``python -m
wsztune.live.pyfleet server CONFIG``) running the real stack of :mod:`wsztune.live.servers`,
and one python-websockets client process per wave (``... clients CONFIG START COUNT``), asyncio
being the cheapest client per connection that speaks the same permessage-deflate (the client
compresses with the interpreter's zlib at the setting the server negotiates). Every live
connection replays its corpus connection as in the one-at-a-time check
(:mod:`wsztune.live.plan`), then stays open.

What is checked: the compressed bytes both ways, summed over every connection (and every churn
replacement), against the model, exactly; and the server's RSS growth per connection,
compression on minus off (:mod:`wsztune.live.fleet`), against the resident figure of the
model for the traffic each live connection carried (``connection_memory_resident``:
:func:`wsztune.memory.zlib_resident`), within ``--tolerance``, by the verdict rule every live
check uses (:func:`wsztune.live.result.judge`). The allocation (``connection_memory``) is
shown as the bound a churned server tends to.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wsztune.corpus import CLIENT, SERVER, Corpus, Stream
from wsztune.live.fleet import (
    CONCURRENCY,
    FleetCommands,
    FleetModel,
    FleetRun,
    check_memory_room,
    fleet_display,
    fleet_fields,
    fleet_plan,
    fleet_result,
    measure,
)
from wsztune.live.options import LiveOptions
from wsztune.live.plan import Plan, build_plan, replay_fields
from wsztune.live.python import (
    client_counts,
    client_factory,
    connect_client,
    model_memory,
    model_script,
    package_root,
    replay_client,
    replay_server,
    say,
    server_and_setting,
    versions,
)
from wsztune.live.result import Display, LiveResult, setting_fields
from wsztune.memory import Resident, connection_traffic, zlib_resident
from wsztune.permessage_deflate import Setting
from wsztune.programs.descriptors import raise_to_hard_limit

# The server process ---------------------------------------------------------------------------


class _Served:
    """What the server process counted over its connections, and what went wrong."""

    def __init__(self) -> None:
        self.sent = 0
        self.received = 0
        self.counted = True
        self.failures: list[str] = []


async def _server_main(config: dict[str, Any]) -> None:
    """Serve every connection its script, hold it until the client closes; print the port;
    answer ``counts`` on stdin; stop when stdin closes."""
    from wsztune.live.servers import SERVERS

    raise_to_hard_limit()
    plan = Plan.from_json(json.loads(Path(config["plan"]).read_text()))
    timeout = float(config["timeout"])
    model = Setting(**config["setting"]) if config["compression"] else None
    served = _Served()

    async def replay(index: int, connection: Any) -> None:
        try:
            async with asyncio.timeout(timeout):
                await replay_server(plan, index, connection)
        except Exception as error:
            served.failures.append(f"server connection {index}: {error!r}")
            return
        counts = connection.counts()
        if counts is None:
            served.counted = False
        else:
            served.sent, served.received = served.sent + counts[0], served.received + counts[1]
        with contextlib.suppress(Exception):  # held open until the client closes it
            await connection.recv()

    async with SERVERS[config["server"]].serve(replay, model, timeout) as port:
        say({"port": port})
        await _answer_counts(served)


async def _answer_counts(served: _Served) -> None:
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    while line := await commands.readline():
        if served.failures:
            say({"error": served.failures[0]})
        elif served.counted:
            say({"sent": served.sent, "received": served.received})
        else:
            say({"sent": None, "received": None})
        del line


# A wave's client process ----------------------------------------------------------------------


async def _clients_main(config: dict[str, Any], start: int, count: int) -> None:
    """Open connections ``start`` .. ``start + count - 1``, replay each, print done with the
    bytes counted, hold them until stdin closes."""
    raise_to_hard_limit()
    plan = Plan.from_json(json.loads(Path(config["plan"]).read_text()))
    timeout = float(config["timeout"])
    extensions = [client_factory(config["offer"])] if config["compression"] else []
    gate = asyncio.Semaphore(CONCURRENCY)
    held: list[Any] = []
    totals = [0, 0]

    async def one(index: int) -> None:
        async with gate, asyncio.timeout(timeout):
            ws = await connect_client(config["port"], index, extensions, timeout)
            held.append(ws)
            await replay_client(plan, index, ws)
        sent, received = client_counts(ws)
        totals[0], totals[1] = totals[0] + sent, totals[1] + received

    try:
        await asyncio.gather(*(one(index) for index in range(start, start + count)))
        say({"done": len(held), "sent": totals[0], "received": totals[1]})
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        for ws in held:
            ws.transport.abort()


def process_main(argv: Sequence[str]) -> int:
    """``python -m wsztune.live.pyfleet server CONFIG`` or ``clients CONFIG START COUNT``."""
    try:
        config = json.loads(Path(argv[1]).read_text())
        if argv[0] == "server":
            asyncio.run(_server_main(config))
        else:
            config = {**config, "port": int(argv[2])}
            asyncio.run(_clients_main(config, int(argv[3]), int(argv[4])))
    except Exception as error:  # the parent shows it as one line
        say({"error": f"{type(error).__name__}: {error}"})
        return 1
    return 0


# The model ------------------------------------------------------------------------------------


def fleet_model(
    corpus: Corpus, plan: Plan, setting: Setting, read_buffer: int = 0
) -> FleetModel:
    """Bytes from the codec model, per script times the live connections replaying it; the
    resident figure from each script's traffic (:func:`wsztune.memory.connection_traffic`),
    with the server stack's ``read_buffer`` (:attr:`LiveServer.read_buffer`)."""
    uses = Counter(plan.assignment)
    scripts = [model_script(script, setting) for script in plan.scripts]
    residents = [
        _script_resident(script, model.server_frame_sizes, setting, read_buffer)
        for script, model in zip(plan.scripts, scripts, strict=True)
    ]
    total = sum(uses.values())
    return FleetModel(
        server_bytes=sum(uses[i] * m.server_bytes for i, m in enumerate(scripts)),
        client_bytes=sum(uses[i] * m.client_bytes for i, m in enumerate(scripts)),
        raw_bytes=sum(uses[i] * (m.server_raw_bytes + m.client_raw_bytes)
                      for i, m in enumerate(scripts)),
        resident_compressor=sum(uses[i] * r.compressor for i, r in enumerate(residents)) / total,
        resident_decompressor=sum(uses[i] * r.decompressor for i, r in enumerate(residents))
        / total,
        allocation=model_memory(corpus, setting).held,
    )  # fmt: skip


def _script_resident(
    script: Any, frame_sizes: Sequence[int], setting: Setting, read_buffer: int
) -> Resident:
    """Resident bytes of the server's zlib objects after one script (probe included), whose
    server messages the model compressed to ``frame_sizes`` (``ScriptModel.server_frame_sizes``:
    compressed once, for the bytes and for this)."""
    server = script.payloads(SERVER)
    client = script.payloads(CLIENT)
    streams = [Stream("c", SERVER, server), Stream("c", CLIENT, client)]
    sizes = [list(frame_sizes), [0] * len(client)]
    (traffic,) = connection_traffic(streams, sizes, setting.threshold, setting.context_takeover)
    bits = setting.server_bits, setting.client_bits, setting.mem_level
    return zlib_resident(*bits, traffic, read_buffer)


# The check ------------------------------------------------------------------------------------


def check(corpus: Corpus, options: LiveOptions) -> LiveResult:
    """Replay ``corpus`` over a fleet of connections, twice (compression off, then on); the
    bytes exact, the server's RSS growth per connection against the resident figure."""
    server, setting = server_and_setting(options)
    plan = build_plan(corpus, options.connections)
    started = time.perf_counter()
    model = fleet_model(corpus, plan, setting, server.read_buffer)
    fleet = fleet_plan(options)
    # Server and clients each hold about the allocation per connection, and Python's own.
    check_memory_room(fleet.connections * 2 * (model.allocation + 32 * 1024), "this fleet")
    modelled = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="wsztune-fleet-") as tmp:
        work = Path(tmp)
        on, off = measure(_commands(work, plan, setting, server, options.timeout), fleet, work)
    fields = _result_fields(corpus, plan, setting, server, model, on, off, options)
    return fleet_result(fields, on, off, options.tolerance, started, modelled)


def _commands(
    work: Path, plan: Plan, setting: Setting, server: Any, timeout: float
) -> FleetCommands:
    """The fleet's processes: config and plan written once to ``work``."""
    plan_path = work / "plan.json"
    plan_path.write_text(json.dumps(plan.to_json()))
    config = {
        "plan": str(plan_path),
        "server": server.name,
        "setting": dataclasses.asdict(setting),
        "offer": server.offer(setting).to_json(),
        "timeout": timeout,
    }
    paths = {}
    for compression in (False, True):
        paths[compression] = work / f"config-{'on' if compression else 'off'}.json"
        paths[compression].write_text(json.dumps({**config, "compression": compression}))
    me = [sys.executable, "-m", "wsztune.live.pyfleet"]
    return FleetCommands(
        server=lambda on: [*me, "server", str(paths[on])],
        clients=lambda on, port, start, count: [
            *me, "clients", str(paths[on]), str(port), str(start), str(count)
        ],
        env={"PYTHONPATH": package_root()},
    )  # fmt: skip


def _result_fields(
    corpus: Corpus,
    plan: Plan,
    setting: Setting,
    server: Any,
    model: FleetModel,
    on: FleetRun,
    off: FleetRun,
    options: LiveOptions,
) -> dict[str, Any]:
    """Every field of the result but the verdict's and the time's."""
    return {
        "server": server.name,
        "codec": "zlib",
        **setting_fields(setting),
        **replay_fields(corpus, plan),
        **fleet_fields(model, on, off, plan.connections, options),
        "versions": versions(server),
    }


def display(result: LiveResult) -> Display:
    """The rows of a fleet result (:func:`wsztune.live.fleet.fleet_display`)."""
    return fleet_display(
        result, f"websockets {result.versions['websockets']}, zlib {result.versions['zlib']}"
    )


if __name__ == "__main__":
    sys.exit(process_main(sys.argv[1:]))
