"""``wsztune live`` at fleet scale: thousands of connections, RSS over time, churn.

What every fleet runner shares, whatever the server (:mod:`wsztune.live.pyfleet` runs the
Python stacks with it): the server runs in a process of its own, so that its RSS is its own
(not the corpus and the model this process holds); clients run in other processes, one per
wave of connections (a wave's connections share one process's file descriptors and event loop,
and the waves' processes spread over the cores). One run, compression on or off:

* **waves**: wave ``w`` opens its connections (at most ``CONCURRENCY`` handshakes at a time),
  replays each one's corpus connection, holds them open and reports done; after each wave
  the server's RSS is read once it has settled;
* **over time**: a sampler thread reads the RSS of the server and of every client process
  every ``SAMPLE_SECONDS`` (bounded: ``MAX_SAMPLES``, decimated beyond), so a run shows how
  memory grew, and what the whole fleet held at its peak;
* **the slope**: RSS growth per connection is the least-squares slope of the server's RSS
  over the connections held, from the first wave's end to the last (the first wave pays the
  process's one-off growth, so the empty server is not a point), with its standard error
  from the residuals; compression on minus off, the same library, is what compression costs;
* **churn** (``--churn K``): once full, each wave's client process is killed (its connections
  close) and a new one opens the same connections, K times over; the server's RSS per held
  connection after each round is the plateau it reaches as freed chunks are reused.

Bounds: every wait has a timeout, every process this module starts is killed (its whole
process group) when the run ends or fails, and a run refuses to start when the memory the
model says it needs is more than the machine has free.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsztune.errors import SettingError
from wsztune.live.growth import Slope, least_squares
from wsztune.live.options import LiveOptions
from wsztune.live.result import LiveError, LiveResult, byte_fields, process_reply
from wsztune.programs.descriptors import raise_to_hard_limit

MAX_CONNECTIONS = 10_000
DEFAULT_WAVES = 10
CONCURRENCY = 64  # handshakes in flight per client process: a loopback backlog never overflows
SETTLE_SECONDS = 0.5  # after a wave, before RSS is read: the server's last frees and writes
SAMPLE_SECONDS = 0.25
MAX_SAMPLES = 2000


def rss(pid: int) -> int:
    """Resident set size of process ``pid`` in bytes (/proc/PID/status VmRSS); 0 once gone."""
    return status_bytes(pid, "VmRSS")


def status_bytes(pid: int, field_name: str) -> int:
    """A kB field of /proc/PID/status (VmRSS, VmHWM: the peak) in bytes; 0 once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1]) * 1024
    return 0


# Processes ------------------------------------------------------------------------------------


def spawn(command: Sequence[str], stderr: Path, env: dict[str, str] | None = None) -> Any:
    """A child speaking JSON lines on stdout, stdin kept open (it holds until EOF), in a
    process group of its own so that :func:`stop` takes its children too."""
    with stderr.open("ab") as errors:
        return subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )


def read_reply(process: Any, timeout: float, stderr: Path) -> dict[str, Any]:
    """The next JSON line ``process`` prints, within ``timeout`` seconds; its error as a
    :class:`LiveError`."""
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not selector.select(timeout=min(1.0, max(deadline - time.monotonic(), 0.01))):
                continue
            return process_reply(process.stdout.readline(), "a fleet process", stderr)
    finally:
        selector.close()
    raise LiveError(f"a fleet process said nothing for {timeout:g} s (--timeout); stopped")


def stop(processes: Sequence[Any]) -> None:
    """Kill the processes (and their groups) this run started, and reap them."""
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        for pipe in (process.stdin, process.stdout):
            with contextlib.suppress(OSError):
                pipe.close()


# What a run records ---------------------------------------------------------------------------


@dataclass
class Sample:
    """RSS at one moment: seconds since the run started, connections held, bytes."""

    seconds: float
    held: int
    server: int
    fleet: int  # server and every client process together


@dataclass
class FleetRun:
    """One run (compression on or off): RSS after each wave and each churn round, the samples
    over time, and the bytes the server and the clients counted."""

    compression: bool
    port: int = 0
    empty: int = 0  # the server's RSS before any connection
    held: list[int] = field(default_factory=list)  # connections held after wave i
    waves: list[int] = field(default_factory=list)  # the server's RSS after wave i
    churn: list[int] = field(default_factory=list)  # the server's RSS after churn round k
    samples: list[Sample] = field(default_factory=list)
    server_sent: int | None = None  # None: the server counts nothing (the clients' count is it)
    server_received: int | None = None
    client_sent: int = 0
    client_received: int = 0
    seconds: float = 0.0

    @property
    def peak_server(self) -> int:
        """The server's largest RSS sampled."""
        return max([sample.server for sample in self.samples] + self.waves + [self.empty])

    @property
    def peak_fleet(self) -> int:
        """The largest RSS of the server and its clients together, sampled."""
        return max([sample.fleet for sample in self.samples], default=0)

    def slope(self) -> Slope:
        """The server's RSS growth per connection over the waves."""
        return least_squares(self.held, self.waves)


def plateau(run: FleetRun, connections: int) -> list[float]:
    """The server's RSS over the empty server, per held connection, after the fill and after
    each churn round."""
    marks = [run.waves[-1], *run.churn] if run.waves else []
    return [(mark - run.empty) / connections for mark in marks]


def wave_sizes(connections: int, waves: int) -> list[tuple[int, int]]:
    """``(first index, count)`` of each wave: ``connections`` split as evenly as can be."""
    base, extra = divmod(connections, waves)
    sizes, start = [], 0
    for wave in range(waves):
        count = base + (wave < extra)
        sizes.append((start, count))
        start += count
    return sizes


# The sampler ----------------------------------------------------------------------------------


class Sampler:
    """A thread reading the RSS of the server and the clients every ``SAMPLE_SECONDS``.

    Bounded: beyond ``MAX_SAMPLES`` every other sample is dropped and the interval doubles."""

    def __init__(self, run: FleetRun, pids: Callable[[], tuple[int, list[int]]]) -> None:
        self.run, self.pids = run, pids
        self.held = 0
        self.started = time.monotonic()
        self.interval = SAMPLE_SECONDS
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="wsztune-rss", daemon=True)

    def __enter__(self) -> Sampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join(timeout=5)
        self.take()

    def take(self) -> None:
        """One sample now."""
        server, clients = self.pids()
        server_rss = rss(server)
        fleet = server_rss + sum(rss(pid) for pid in clients)
        seconds = round(time.monotonic() - self.started, 3)
        self.run.samples.append(Sample(seconds, self.held, server_rss, fleet))
        if len(self.run.samples) > MAX_SAMPLES:
            self.run.samples[:] = self.run.samples[::2]
            self.interval *= 2

    def _loop(self) -> None:
        while not self.done.wait(self.interval):
            self.take()


# One run --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FleetCommands:
    """How one stack starts its fleet processes (each speaks JSON lines, see the runners).

    ``server(compression)``: the server's command; it prints ``{"port": P}``, then answers a
    ``counts`` line on stdin with ``{"sent": S, "received": R}`` (or nulls: it counts nothing).
    ``clients(compression, port, start, count)``: a wave's command; it opens connections
    ``start`` to ``start + count - 1``, replays them, prints ``{"done": count, "sent": S,
    "received": R}`` (payload bytes it counted) and holds them open until stdin closes.
    ``settles`` (Go): the server also answers a ``gc`` line (``{"gc": N}``) after collecting,
    and RSS is read once settled (:func:`settled_rss`).
    """

    server: Callable[[bool], list[str]]
    clients: Callable[[bool, int, int, int], list[str]]
    env: dict[str, str] = field(default_factory=dict)
    settles: bool = False


@dataclass(frozen=True)
class FleetPlan:
    """How many connections, in how many waves, replaced how many times, within what time."""

    connections: int
    waves: int
    churn: int
    timeout: float  # one step: a handshake and a replay

    def wave_timeout(self, count: int) -> float:
        """How long a wave of ``count`` connections may take: a step per handshake slot."""
        return self.timeout * max(1, math.ceil(count / CONCURRENCY))


def fleet_plan(options: LiveOptions) -> FleetPlan:
    """The fleet ``options`` ask for, checked (before any corpus is read)."""
    waves = DEFAULT_WAVES if options.waves is None else options.waves
    if not 2 <= options.connections <= MAX_CONNECTIONS:
        raise SettingError(
            f"a fleet takes 2 to {MAX_CONNECTIONS:,} --connections, not {options.connections:,}"
        )
    if not 3 <= waves <= options.connections:
        raise SettingError(
            f"--waves must be from 3 (a slope and its error) to --connections "
            f"({options.connections}), not {waves}"
        )
    if not 0 <= options.churn <= 10:
        raise SettingError(f"--churn must be from 0 to 10 replacements, not {options.churn}")
    return FleetPlan(options.connections, waves, options.churn, options.timeout)


def run_fleet(commands: FleetCommands, plan: FleetPlan, compression: bool, work: Path) -> FleetRun:
    """One run: the server, then the waves, then the churn rounds; every process killed after."""
    stderr = work / f"fleet-{'on' if compression else 'off'}.stderr"
    raise_to_hard_limit()  # inherited by every process started here (node does not raise its own)
    run = FleetRun(compression)
    started = time.monotonic()
    server = spawn(commands.server(compression), stderr, commands.env)
    clients: list[Any] = []
    try:
        run.port = int(read_reply(server, plan.timeout, stderr)["port"])
        time.sleep(SETTLE_SECONDS)
        run.empty = rss(server.pid)
        with Sampler(run, lambda: (server.pid, [c.pid for c in clients])) as sampler:
            driver = _Driver(commands, plan, run, clients, sampler, stderr, server)
            driver.fill()
            driver.churn()
        server.stdin.write(b'{"counts": true}\n')
        server.stdin.flush()
        counts = read_reply(server, plan.timeout, stderr)
        run.server_sent, run.server_received = counts["sent"], counts["received"]
    finally:
        stop([*clients, server])
    run.seconds = round(time.monotonic() - started, 3)
    return run


@dataclass
class _Driver:
    """One run's waves and churn rounds: the client processes it holds, what it records."""

    commands: FleetCommands
    plan: FleetPlan
    run: FleetRun
    clients: list[Any]  # one process per wave, in wave order
    sampler: Sampler
    stderr: Path
    server: Any

    def wave(self, start: int, count: int) -> Any:
        """Start one wave's client process and wait until it is done; its counts recorded."""
        command = self.commands.clients(self.run.compression, self.run.port, start, count)
        process = spawn(command, self.stderr, self.commands.env)
        try:
            reply = read_reply(process, self.plan.wave_timeout(count), self.stderr)
            if int(reply["done"]) != count:
                raise LiveError(f"a wave opened {reply['done']} of its {count} connections")
        except BaseException:
            stop([process])
            raise
        self.run.client_sent += int(reply["sent"])
        self.run.client_received += int(reply["received"])
        self.sampler.held += count
        return process

    def server_rss(self) -> int:
        """The server's RSS once it has settled (a Go server: :func:`settled_rss`)."""
        if self.commands.settles:
            return settled_rss(self.server, self.plan.timeout, self.stderr)
        time.sleep(SETTLE_SECONDS)
        return rss(self.server.pid)

    def fill(self) -> None:
        """The waves, RSS read after each."""
        for start, count in wave_sizes(self.plan.connections, self.plan.waves):
            self.clients.append(self.wave(start, count))
            self.run.held.append(self.sampler.held)
            self.run.waves.append(self.server_rss())

    def churn(self) -> None:
        """``plan.churn`` rounds: each wave's process killed (its connections close) and the
        same connections opened again by a new one; RSS read after each round."""
        for _ in range(self.plan.churn):
            for index, (start, count) in enumerate(wave_sizes(self.plan.connections,
                                                              self.plan.waves)):  # fmt: skip
                stop([self.clients[index]])
                self.sampler.held -= count
                self.clients[index] = self.wave(start, count)
            self.run.churn.append(self.server_rss())


# A Go server's settled state: what a held connection costs once it is idle.
SETTLED_POLL = 0.25  # seconds between RSS reads while the scavenger returns pages
SETTLED_QUIET = 1.0  # RSS that fell less than SETTLED_FLOOR over this long has settled
SETTLED_FLOOR = 0.002  # a fraction of RSS
SETTLED_LIMIT = 120.0  # seconds at most
SCAVENGER_WAIT = 60.0  # seconds the Go server waits at most for the scavenger (golive)


def settled_rss(server: Any, timeout: float, stderr: Path) -> int:
    """A Go server's RSS in the settled state: after collections and the scavenger.

    An idle Go server collects at least every two minutes (``forcegcperiod``,
    runtime/proc.go); the server's ``gc`` command runs them now, in their place:
    two to twelve, until goroutine stacks stop shrinking.
    Each halves the stack of a goroutine using under a quarter of it (``shrinkstack``,
    runtime/stack.go): coder's writers, grown to 512 KiB by StatelessDeflate, are copied to
    stacks where only the frames in use are written, and their old stacks become free heap
    pages. The second empties ``sync.Pool``s (objects survive one collection in the victim
    cache, sync/pool.go): gorilla's pooled flate writers become free pages too. Free pages stay
    resident until the background scavenger returns them, down to 10% over the heap the pacer
    plans for (``retainExtraPercent``, runtime/mgcscavenge.go), at about 1% of a CPU: RSS is
    read once it stopped falling (bounded by ``SETTLED_LIMIT``)."""
    server.stdin.write(b'{"gc": true}\n')
    server.stdin.flush()
    read_reply(server, timeout + SCAVENGER_WAIT, stderr)
    readings = [(time.monotonic(), rss(server.pid))]
    while readings[-1][0] - readings[0][0] < SETTLED_LIMIT:
        time.sleep(SETTLED_POLL)
        now = time.monotonic()
        readings.append((now, rss(server.pid)))
        quiet = [value for at, value in readings if at >= now - SETTLED_QUIET]
        fell = quiet[0] - quiet[-1]
        if now - readings[0][0] >= SETTLED_QUIET and fell <= SETTLED_FLOOR * quiet[0]:
            break
    return readings[-1][1]


def check_memory_room(needed: float, what: str) -> None:
    """Refuse a run whose model says it needs more memory than the machine has available."""
    import psutil

    available = psutil.virtual_memory().available
    if needed > 0.8 * available:
        raise LiveError(
            f"{what} needs about {needed / 2**30:.1f} GiB by the model, more than 80% of the "
            f"{available / 2**30:.1f} GiB available: fewer --connections"
        )


def measure(commands: FleetCommands, plan: FleetPlan, work: Path) -> tuple[FleetRun, FleetRun]:
    """The fleet with compression off (the baseline), then on: ``(on, off)``."""
    off = run_fleet(commands, plan, False, work)
    on = run_fleet(commands, plan, True, work)
    return on, off


# What the model says, and the result's fields ---------------------------------------------------


@dataclass(frozen=True)
class FleetModel:
    """What the model says of the whole fleet: bytes each way over every live connection (one
    fill), resident bytes per connection (the figure checked), the allocation (the bound)."""

    server_bytes: int
    client_bytes: int
    raw_bytes: int
    resident_compressor: float
    resident_decompressor: float
    allocation: float

    @property
    def resident(self) -> float:
        """Compressor plus decompressor, resident."""
        return self.resident_compressor + self.resident_decompressor


def bytes_fields(model: FleetModel, on: FleetRun, churn: int) -> dict[str, Any]:
    """The byte fields: the model's for every connection opened (the fill and each churn
    round), the server's count (the clients' when the server counts nothing), which must agree."""
    rounds = 1 + churn
    model_server, model_client = model.server_bytes * rounds, model.client_bytes * rounds
    live_server = on.client_received if on.server_sent is None else on.server_sent
    live_client = on.client_sent if on.server_received is None else on.server_received
    if (live_server, live_client) != (on.client_received, on.client_sent):
        raise LiveError(
            f"the server counted {live_server} B sent and {live_client} B received, the "
            f"clients {on.client_received} B received and {on.client_sent} B sent"
        )
    return {
        **byte_fields(model_server, model_client, live_server, live_client),
        "raw_bytes": model.raw_bytes * rounds,
    }


def fleet_fields(
    model: FleetModel, on: FleetRun, off: FleetRun, connections: int, options: LiveOptions
) -> dict[str, Any]:
    """The result's byte and memory fields, its notes and its ``fleet`` details: RSS growth per
    connection (on minus off) against the resident figure."""
    from wsztune.live.growth import RSS_FLOOR, relative_difference

    live = on.slope().minus(off.slope())
    difference = live.value - model.resident
    relative = relative_difference(difference, model.resident, RSS_FLOOR)
    return {
        "connections": connections,
        "measured_connections": connections - (on.held[0] if on.held else 0),
        **bytes_fields(model, on, options.churn),
        "memory_figure": "rss",
        "model_connection_memory": model.resident,
        "model_compressor_memory": model.resident_compressor,
        "model_decompressor_memory": model.resident_decompressor,
        "live_connection_memory": live.value,
        "live_baseline_connection_memory": off.slope().value,
        "memory_uncertainty": live.error,
        "memory_difference": relative,
        "memory_difference_bytes": difference,
        "memory_floor": RSS_FLOOR,
        "tolerance": options.tolerance,
        "memory_within_tolerance": abs(relative) <= options.tolerance,
        "ports": [on.port, off.port],
        "notes": fleet_notes(options.churn),
        "details": {"fleet": _details(model, on, off, live, connections)},
    }


def fleet_verdict(fields: dict[str, Any], tolerance: float) -> Any:
    """The verdict every live check gives (:func:`wsztune.live.result.judge`), on the RSS slope
    against the resident figure, RSS's page its floor."""
    from wsztune.live.result import judge

    return judge(
        bytes_equal=fields["bytes_equal"],
        model_memory=fields["model_connection_memory"],
        difference_bytes=fields["memory_difference_bytes"],
        uncertainty=fields["memory_uncertainty"],
        baseline=fields["live_baseline_connection_memory"],
        tolerance=tolerance,
        floor=fields["memory_floor"],
        more="more --connections or --waves, or a corpus with more traffic per connection",
    )


def fleet_result(
    fields: dict[str, Any],
    on: FleetRun,
    off: FleetRun,
    tolerance: float,
    started: float,
    modelled: float,
    earlier: dict[str, float] | None = None,
) -> LiveResult:
    """A fleet check's result (the one every live check gives): ``fields`` judged by
    :func:`fleet_verdict`, the seconds since ``started`` (``time.perf_counter``), and the
    timings: ``earlier`` steps (an install), the model (``started`` to ``modelled``), then the
    runs off and on."""
    timings = {
        **(earlier or {}),
        "model": round(modelled - started, 3),
        "fleet, compression off": off.seconds,
        "fleet, compression on": on.seconds,
    }
    return LiveResult.build(
        fleet_verdict(fields, tolerance), **fields,
        duration_seconds=round(time.perf_counter() - started, 3), timings=timings,
    )  # fmt: skip


def _details(
    model: FleetModel, on: FleetRun, off: FleetRun, live: Slope, connections: int
) -> dict[str, Any]:
    """The fleet's own figures (``--json``: under ``fleet``)."""
    on_plateau, off_plateau = plateau(on, connections), plateau(off, connections)

    def samples(run: FleetRun) -> list[list[float]]:
        return [[s.seconds, s.held, s.server, s.fleet] for s in run.samples]

    return {
        "waves": len(on.waves),
        "churn": len(on.churn),
        "held": on.held,
        "rss_on": [on.empty, *on.waves],
        "rss_off": [off.empty, *off.waves],
        "slope_on": dataclasses.asdict(on.slope()),
        "slope_off": dataclasses.asdict(off.slope()),
        "interval": list(live.interval),
        "model_allocation": model.allocation,
        "plateau": [a - b for a, b in zip(on_plateau, off_plateau, strict=True)],
        "peak_server_rss": max(on.peak_server, off.peak_server),
        "peak_fleet_rss": max(on.peak_fleet, off.peak_fleet),
        "seconds": {"on": on.seconds, "off": off.seconds},
        "samples": {"fields": ["seconds", "held", "server", "fleet"], "on": samples(on),
                    "off": samples(off)},
    }  # fmt: skip


def fleet_notes(churn: int) -> list[str]:
    """What a fleet result's figures are."""
    notes = [
        "bytes: compressed payloads over every connection opened, counted on the wire by the "
        "clients, and by the server where it counts them",
        "memory: the server's RSS (its own process), least-squares slope over the waves, "
        "compression on minus off; the model is connection_memory_resident for the traffic "
        "the live connections carried (pages written, not bytes allocated)",
    ]
    if churn:
        notes.append(
            f"churn: every connection closed and opened again {_times(churn)}; the plateau is "
            "RSS over the empty server per held connection, on minus off: new connections "
            "reuse chunks whose pages closed ones wrote, so it climbs from the resident "
            "figure toward the allocation (connection_memory), and past it where freed "
            "memory is fragmented"
        )
    return notes


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def fleet_display(result: Any, versions: str, setting: str | None = None) -> Any:
    """The rows of a fleet result: RSS against the resident figure (checked), its interval,
    the baseline, the allocation, the plateau under churn, and the peaks. ``setting``: the
    title's words for the setting (a zlib server's ``WB:ML`` unless given)."""
    from wsztune.live.result import Display, Row, kib, zlib_setting_title

    fleet = result.details["fleet"]
    low, high = fleet["interval"]
    rows = [
        Row("RSS/conn, compression", kib(result.model_connection_memory),
            kib(result.live_connection_memory), f"{result.memory_difference:+.1%}"),
        Row("  95% interval", "", f"{low / 1024:,.1f} to {high / 1024:,.1f} KiB"),
        Row("RSS/conn, uncompressed", "", kib(result.live_baseline_connection_memory)),
        Row("allocation/conn", kib(fleet["model_allocation"])),
    ]  # fmt: skip
    if fleet["churn"]:
        rows.append(Row(f"plateau after churn x{fleet['churn']}",
                        kib(fleet["model_allocation"]), kib(fleet["plateau"][-1])))  # fmt: skip
    rows.append(Row("peak RSS, server / all", "",
                    f"{fleet['peak_server_rss'] / 2**20:,.0f} / "
                    f"{fleet['peak_fleet_rss'] / 2**20:,.0f} MiB"))  # fmt: skip
    return Display(
        setting=(
            zlib_setting_title(result, [f"{fleet['waves']} waves"])
            if setting is None
            else f"{setting} ({fleet['waves']} waves)"
        ),
        rows=tuple(rows),
        footnote="RSS: /proc VmRSS of the server process; model: connection_memory_resident",
        versions=versions,
    )
