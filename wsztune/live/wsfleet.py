"""``wsztune live --server ws`` at fleet scale: a Node ws server, waves of ws client processes.

The runner :mod:`wsztune.live.fleet` drives: ``node wsztune/live/ws.js fleet-server CONFIG``
(a ws WebSocketServer at the setting, every connection replaying its script and held open)
and one ``node ws.js fleet-clients CONFIG`` per wave (Node is the cheapest client per
connection here, and both directions are then Node's zlib and ws's framing, as in the
one-at-a-time check of :mod:`wsztune.live.ws`). Both count the payload bytes of data frames on
their own sockets (ws.js's frame parser, not ws's code).

What is checked: the compressed bytes both ways over every connection opened against the
node codec's model, exactly (:func:`wsztune.live.ws.model_figures`); the server's RSS growth
per connection, compression on minus off, against the node codec's
``connection_memory_resident`` for the corpus, within ``--tolerance``
(:func:`wsztune.live.fleet.fleet_result`).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

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
from wsztune.live.options import LiveOptions
from wsztune.live.plan import replay_fields
from wsztune.live.result import Display, LiveResult, setting_fields
from wsztune.live.ws import (
    SCRIPT,
    compression_options,
    model_figures,
    node_and_ws,
    node_model,
    ws_plan,
)


def check(corpus: Corpus, options: LiveOptions) -> LiveResult:
    """Replay ``corpus`` over a fleet of ws connections, compression off then on: the bytes
    exact, the server's RSS growth per connection against the resident figure."""
    node, ws_package, installing = node_and_ws(options.ws_dir)
    setting = options.settled
    plan = ws_plan(corpus, options.connections, setting.threshold)
    started = time.perf_counter()
    figures = model_figures(corpus, plan, setting, setting.threshold, node_model)
    cell = figures.cell
    model = FleetModel(
        figures.server_bytes, figures.client_bytes, figures.raw_bytes,
        float(cell["compress_memory_resident"]), float(cell["decompress_memory_resident"]),
        float(cell["connection_memory"]),
    )  # fmt: skip
    fleet = fleet_plan(options)
    # Server and clients each hold about the allocation per connection, and ws's own objects.
    check_memory_room(fleet.connections * 2 * (model.allocation + 16 * 1024), "this fleet")
    modelled = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="wsztune-fleet-ws-") as tmp:
        work = Path(tmp)
        config = _config(work, plan, setting, ws_package, options.timeout)
        on, off = measure(_commands(node, config), fleet, work)
    fields = {
        "server": "ws",
        "codec": "node",
        **setting_fields(setting),
        "threshold": setting.threshold,
        **replay_fields(corpus, plan),
        **fleet_fields(model, on, off, plan.connections, options),
        "versions": _versions(node, ws_package),
    }
    return fleet_result(
        fields, on, off, options.tolerance, started, modelled, {"install": round(installing, 3)}
    )


def _config(
    work: Path, plan: Any, setting: Any, ws_package: Path, timeout: float
) -> dict[bool, dict[str, Any]]:
    """ws.js's config with compression off and on (the plan written once to ``work``)."""
    plan_path = work / "plan.json"
    plan_path.write_text(json.dumps(plan.to_json()))
    base = {"ws": str(ws_package), "plan": str(plan_path), "timeout": timeout,
            "deadline": timeout * 3}  # fmt: skip
    options = compression_options(setting, setting.threshold)
    return {on: {**base, "compression": options if on else None} for on in (False, True)}


def _commands(node: str, config: dict[bool, dict[str, Any]]) -> FleetCommands:
    def server(on: bool) -> list[str]:
        return [node, str(SCRIPT), "fleet-server", json.dumps(config[on])]

    def clients(on: bool, port: int, start: int, count: int) -> list[str]:
        wave = {**config[on], "port": port, "start": start, "count": count}
        return [node, str(SCRIPT), "fleet-clients", json.dumps(wave)]

    # Node reads no options from the user's environment (NODE_OPTIONS could add a preload or
    # a heap flag that changes what RSS measures).
    return FleetCommands(server=server, clients=clients, env={"NODE_OPTIONS": ""})


def _versions(node: str, ws_package: Path) -> dict[str, str]:
    from wsztune.programs.node import node_versions

    versions = node_versions(node)
    package = json.loads((ws_package / "package.json").read_text())
    return {"node": versions.get("node", ""), "zlib": versions.get("zlib", ""),
            "ws": str(package.get("version", ""))}  # fmt: skip


def display(result: LiveResult) -> Display:
    """The rows of a fleet result (:func:`wsztune.live.fleet.fleet_display`)."""
    versions = result.versions
    return fleet_display(
        result, f"ws {versions['ws']}, Node {versions['node']}, zlib {versions['zlib']}"
    )
