"""The fleet's monthly cost of a cell: memory for every connection, egress, compress CPU.

Prices are EXAMPLES unless given. A Go run's memory is priced at the fleet's peak of concurrent
writes (:mod:`wsztune.writes`) when that peak is known, and its compress-once mode apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from wsztune.errors import WsztuneError
from wsztune.fanout import interleaving
from wsztune.grid import Cell
from wsztune.text import plural
from wsztune.writes import (
    Peak,
    WriteLoad,
    once_peak_memory,
    peak_memory,
    seconds_per_write,
    write_load,
)

if TYPE_CHECKING:
    from wsztune.recommend.constraints import Constraints


SECONDS_PER_MONTH = 365.25 / 12 * 86400


@dataclass(frozen=True)
class Prices:
    """Prices for the fleet's cost. The defaults are EXAMPLES, not anyone's real prices."""

    memory_gib_month: float = 3.65  # e.g. ~0.005 per GiB-hour of on-demand cloud RAM
    egress_gb: float = 0.09  # e.g. a public cloud's first internet-egress tier
    cpu_month: float = 29.2  # e.g. ~0.04 per vCPU-hour
    examples: bool = True  # True while any of the above is a default example


@dataclass(frozen=True)
class Cost:
    """One cell's monthly cost for the fleet. ``None`` parts need a message rate."""

    cell: Cell | None  # None: no compression at all
    memory: float
    egress: float | None
    cpu: float | None
    # Go runs: the fleet's memory steady and at the peak of concurrent writes (``memory`` then
    # prices the peak: RAM is provisioned for it), and how many writes that peak assumes.
    peak: Peak | None = None
    load: WriteLoad | None = None

    @property
    def total(self) -> float:
        """The sum of the parts that could be computed."""
        return self.memory + (self.egress or 0.0) + (self.cpu or 0.0)


@dataclass
class Fleet:
    """The fleet the costs are for: connections, message rate (and where it came from), prices."""

    connections: int
    rate: float | None
    rate_source: str
    prices: Prices
    costs: list[Cost] = field(default_factory=list)
    uncompressed: Cost | None = None


def message_rate(corpus: dict[str, Any], constraints: Constraints) -> tuple[float | None, str]:
    """Messages per second over the fleet, and where the figure came from.

    ``--messages-per-second`` (the whole fleet's) first. Else the rate the corpus's timestamps
    gave the run's metadata (``corpus.messages_per_second``, or ``messages`` over
    ``duration_seconds``): that is the rate of the corpus's own connections, so it is scaled
    to the fleet, per connection, by ``constraints.connections`` over the corpus's connections.
    """
    if constraints.messages_per_second is not None:
        return constraints.messages_per_second, "--messages-per-second"
    rate = corpus.get("messages_per_second")
    duration, messages = corpus.get("duration_seconds"), corpus.get("messages")
    if not (isinstance(rate, int | float) and rate > 0):
        if not (isinstance(duration, int | float) and duration > 0 and isinstance(messages, int)):
            return None, ""
        rate = messages / duration
    recorded = corpus.get("connections")
    if not isinstance(recorded, int) or recorded < 1:
        recorded = 1
    fleet = constraints.connections or recorded
    return (
        float(rate) / recorded * fleet,
        f"the corpus's timestamps: {rate:,.1f}/s on its {plural(recorded, 'connection')}, "
        f"scaled to {fleet:,}",
    )


def cell_cost(
    cell: Cell | None, like: Cell, connections: int, rate: float | None, prices: Prices
) -> Cost:
    """Monthly cost of one cell (``None``: no compression, priced from ``like``'s raw bytes).

    Memory: ``connections`` x ``connection_memory``. Egress: what the server sends (its
    compressed payloads) for ``rate`` messages per second mixed like the corpus. Compress CPU:
    the measured compress time, the server's share of it by raw bytes, at that rate, in vCPUs
    (in a run for a broadcast, as K subscribers' compressors interleaved cost it:
    :func:`wsztune.fanout.interleaving`); None in a ``--no-timing`` run (not measured, not free).
    """
    cpu_per_message: float | None
    if cell is None:
        memory, sent, cpu_per_message = 0.0, like["server_raw_bytes"], 0.0
    else:
        memory = connections * cell["connection_memory"] / 1024**3 * prices.memory_gib_month
        sent = cell["server_compressed_bytes"]
        share = cell["server_raw_bytes"] / cell["raw_bytes"] if cell["raw_bytes"] else 0.0
        seconds = cell["compress_seconds"]
        cpu_per_message = None if seconds is None else seconds * share / cell["messages"]
        # A broadcast: every subscriber's compressor in turn costs what the run measured
        # interleaved, not one hot compressor's time (wsztune.fanout).
        factor = interleaving(cell)
        if cpu_per_message is not None and factor is not None:
            cpu_per_message *= factor
    if rate is None:
        return Cost(cell, memory, None, None)
    per_month = rate * SECONDS_PER_MONTH
    egress = per_month * sent / like["messages"] / 1e9 * prices.egress_gb
    cpu = None if cpu_per_message is None else rate * cpu_per_message * prices.cpu_month
    return Cost(cell, memory, egress, cpu)


def fleet_costs(corpus: dict[str, Any], cells: list[Cell], constraints: Constraints) -> Fleet:
    """Every cell's monthly cost for ``constraints.connections`` connections (``corpus``: the
    run's corpus metadata, for the message rate its timestamps give)."""
    assert constraints.connections
    rate, source = message_rate(corpus, constraints)
    fleet = Fleet(constraints.connections, rate, source, constraints.prices)
    fleet.costs = [cell_cost(cell, cell, fleet.connections, rate, fleet.prices) for cell in cells]
    if cells:
        fleet.uncompressed = cell_cost(None, cells[0], fleet.connections, rate, fleet.prices)
    return fleet


def _peak_load(cell: Cell, fleet: Fleet, constraints: Constraints) -> WriteLoad | None:
    return write_load(
        fleet.connections,
        constraints.fanout,
        fleet.rate,
        seconds_per_write(cell),
        constraints.concurrent_writes,
    )


def _gib_month(memory: int, prices: Prices) -> float:
    return memory / 1024**3 * prices.memory_gib_month


def with_peaks(fleet: Fleet, constraints: Constraints) -> None:
    """Give every cost of a Go run's fleet its peak memory (:mod:`wsztune.writes`) when the
    writes in flight are stated or can be estimated, and price its memory at that peak."""
    for index, cost in enumerate(fleet.costs):
        if cost.cell is None:
            continue
        load = _peak_load(cost.cell, fleet, constraints)
        peak = None if load is None else peak_memory(cost.cell, fleet.connections, load)
        if peak is not None:
            memory = _gib_month(peak.peak, fleet.prices)
            fleet.costs[index] = replace(cost, memory=memory, peak=peak, load=load)


def once_cost(fleet: Fleet, chosen: Cell, constraints: Constraints) -> Cost | None:
    """The chosen cell's compress-once mode for the fleet: memory at its peak (connections
    plus the broadcasts in flight), the same payload egress, compress CPU once per unique
    message (the per-connection CPU over the fan-out). ``None`` without such a mode or a
    fan-out of 2 or more."""
    fanout = constraints.fanout
    if not isinstance(chosen.get("compress_once"), dict) or fanout is None or fanout < 2:
        return None
    per_connection = next((cost for cost in fleet.costs if cost.cell is chosen), None)
    load = _peak_load(chosen, fleet, constraints)
    if per_connection is None or load is None:
        return None
    peak = once_peak_memory(chosen, fleet.connections, load)
    assert peak is not None
    # One hot compression per unique message: the per-connection CPU without its interleaving.
    cpu = None
    if per_connection.cpu is not None:
        cpu = per_connection.cpu / (interleaving(chosen) or 1.0) / fanout
    return Cost(chosen, _gib_month(peak.peak, fleet.prices), per_connection.egress, cpu, peak,
                load)  # fmt: skip


def require_priced(fleet: Fleet | None, objective: str) -> None:
    """Refuse ``--objective cost`` without a fleet to price: connections and a message rate."""
    if objective != "cost":
        return
    if fleet is None:
        raise WsztuneError("--objective cost needs --connections N (the fleet to price)")
    if fleet.rate is None:
        raise WsztuneError(
            "--objective cost needs a message rate: pass --messages-per-second, or sweep a "
            "records corpus with timestamps"
        )
