"""``wsztune live --server gorilla`` (or ``coder``) at fleet scale: a Go server, Go clients.

The runner :mod:`wsztune.live.fleet` drives the live Go program (``golive/``, built on first
use): ``wsztune-live-go fleet-serve JOB`` (every connection replays its corpus connection,
then is held until its client goes) and one ``fleet-clients JOB`` per wave (goroutines: Go is
the cheapest client per connection here, and speaks the same library). The clients count the
payload bytes of data frames on the TCP connection, below the library.

What is checked: the bytes both ways over every connection opened against the go codec's
model, exactly (:func:`wsztune.live.golang.go_model`); the server's RSS growth per
connection, compression on minus off, in the settled state (after each wave, collections
until stacks stop shrinking, then the scavenger: :func:`wsztune.live.fleet.settled_rss`),
against the go codec's resident figure for the live connections' mix
(:func:`wsztune.codecs.go.go_resident`), within ``--tolerance``.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from wsztune.codecs import go
from wsztune.corpus import Corpus
from wsztune.live.fleet import (
    FleetCommands,
    FleetModel,
    check_memory_room,
    fleet_display,
    fleet_fields,
    fleet_plan,
    fleet_result,
    measure,
)
from wsztune.live.golang import (
    cell_go_version,
    go_model,
    go_setting_fields,
    job_spec,
    live_binary,
)
from wsztune.live.options import LiveOptions
from wsztune.live.result import Display, LiveResult


def check(corpus: Corpus, options: LiveOptions) -> LiveResult:
    """Replay ``corpus`` over a fleet of Go connections, compression off then on: the bytes
    exact, the server's RSS growth per connection against the resident figure."""
    started = time.perf_counter()
    library, setting, connections = options.server, options.settled, options.connections
    binary = live_binary()
    streams = corpus.streams()
    fleet = fleet_plan(options)
    with tempfile.TemporaryDirectory(prefix="wsztune-fleet-go-") as name:
        work = Path(name)
        model = go_model(streams, setting, library, work / "corpus.bin")
        share = go.shares(model.cell, streams, connections)
        resident = go.go_resident(share, model.memory, go.framing_of(library))
        figures = FleetModel(
            model.total(connections, 0), model.total(connections, 1), model.raw(connections),
            resident.compressor, resident.decompressor, share.memory(model.memory),
        )  # fmt: skip
        # Server and clients each hold about the allocation per connection, and Go's own.
        check_memory_room(connections * 2 * (figures.allocation + 32 * 1024), "this fleet")
        modelled = time.perf_counter()
        spec = job_spec(library, setting, work / "corpus.bin", streams)
        on, off = measure(_commands(binary, spec, work), fleet, work)
    fields = {
        **go_setting_fields(options, model.threshold),
        "corpus": corpus.describe(),
        "replay": f"live connection i replays corpus connection i mod {len(model.order)}",
        **fleet_fields(figures, on, off, connections, options),
        "versions": {"go": cell_go_version(), library: go.LIBRARY_VERSIONS[go.framing_of(library)]},
    }  # fmt: skip
    return fleet_result(fields, on, off, options.tolerance, started, modelled)


def _commands(binary: Path, spec: dict[str, Any], work: Path) -> FleetCommands:
    """The program's jobs, one file per process (its command line names the file)."""

    def job(name: str, **fields: Any) -> str:
        path = work / f"{name}.json"
        path.write_text(json.dumps({**spec, **fields}), encoding="utf-8")
        return str(path)

    def server(on: bool) -> list[str]:
        return [str(binary), "fleet-serve", job(f"serve-{on}", compression=on)]

    def clients(on: bool, port: int, start: int, count: int) -> list[str]:
        wave = job(f"clients-{on}-{start}", compression=on, port=port, start=start, count=count)
        return [str(binary), "fleet-clients", wave]

    return FleetCommands(server=server, clients=clients, settles=True)


def display(result: LiveResult) -> Display:
    """The rows of a fleet result (:func:`wsztune.live.fleet.fleet_display`)."""
    words = (
        f"level {result.level}"
        if result.server == "gorilla"
        else f"context takeover {'on' if result.context_takeover else 'off'}"
    )
    return fleet_display(
        result,
        f"{result.server} {result.versions[result.server]}, {result.versions['go']}",
        f", {words}, threshold {result.threshold} B",
    )
