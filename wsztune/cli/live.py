"""``wsztune live``: check the model against a real server on 127.0.0.1: websockets, the other
Python stacks (aiohttp, Tornado, uvicorn) or ws."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from wsztune.cli.common import client_window_bits_option, corpus_options, first_interrupt_only

# Per server: how many connections and how much tolerance. Without a setting, each checks its
# stack profile's defaults (wsztune.stacks). ws's memory is RSS (pages, malloc, V8), noisier than
# websockets' tracemalloc count, and its growth settles only after a warm-up: more connections,
# and the 30% goal as tolerance.
SERVER_DEFAULTS = {
    "websockets": {"connections": 10, "tolerance": "10%"},
    "ws": {"connections": 40, "tolerance": "30%"},
    # Python stacks run in this process like websockets, measured the same way (tracemalloc).
    "aiohttp": {"connections": 10, "tolerance": "10%"},
    "tornado": {"connections": 10, "tolerance": "10%"},
    "uvicorn": {"connections": 10, "tolerance": "10%"},
    "uvicorn-sansio": {"connections": 10, "tolerance": "10%"},
    "uvicorn-websockets": {"connections": 10, "tolerance": "10%"},
    "uvicorn-wsproto": {"connections": 10, "tolerance": "10%"},
    # Go: no windowBits/memLevel; the Go heap per connection, the 30% (or 2 KiB).
    "gorilla": {"connections": 60, "tolerance": "30%"},
    "coder": {"connections": 60, "tolerance": "30%"},
}


@click.command()
@corpus_options(required=False)
@click.option(
    "--server",
    type=click.Choice(list(SERVER_DEFAULTS)),
    default="websockets",
    show_default=True,
    help="The real server: python-websockets, aiohttp, tornado or uvicorn (uvicorn-websockets, "
    "uvicorn-wsproto: other --ws backends) in this process, Node's ws (needs node; npm the "
    "first time, to install ws into wsztune's cache), or Go's gorilla/websocket or "
    "coder/websocket (needs go and the libraries in GOPATH; built on first use). The Python "
    "stacks fix what they fix: aiohttp level 1 memLevel 8 (--window-bits is what the client "
    "asks), Tornado window 15, uvicorn its backend's setting.",
)
@click.option(
    "--level",
    type=click.IntRange(-2, 9),
    help="gorilla only: its compression level, -2 to 9 [default: 1, gorilla's].",
)
@click.option("--setting", "setting_text", metavar="WB:ML", help="Both at once, e.g. 12:5.")
@click.option(
    "--window-bits", type=int, help="Server window bits, 9-15 [default: websockets 12, ws 15]."
)
@click.option("--mem-level", type=int, help="memLevel, 1-9 [default: websockets 5, ws 8].")
@client_window_bits_option
@click.option(
    "--connections",
    "-n",
    type=int,
    help="Live connections, opened one at a time and held open [default: websockets 10 (the "
    "first is discarded), ws 40 (the first half warms the server up), more (up to 200) until "
    "10 measured connections build each kind of zlib stream set].",
)
@click.option(
    "--tolerance",
    help="How far live memory may be from the model: 10% or 0.1 [default: websockets 10%, ws 30%].",
)
@click.option(
    "--threshold",
    type=click.IntRange(min=0),
    help="ws only: messages shorter than this many bytes go uncompressed, as ws does without "
    "context takeover (ws ignores it with context takeover) [default: 1024, ws's].",
)
@click.option(
    "--context-takeover/--no-context-takeover",
    default=True,
    help="ws only: negotiate server_ and client_no_context_takeover with --no-context-takeover.",
)
@click.option(
    "--ws-dir",
    type=click.Path(path_type=Path),
    help="ws only: an existing ws install (a directory with node_modules/ws, or the package "
    "itself) instead of wsztune's cache.",
)
@click.option(
    "--timeout",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds any one step (a handshake plus one connection's replay) may take.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the result as one JSON object (the shared live result: docs/live.md).",
)
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Say where the time went: installing ws, starting the processes, measuring, the model.",
)
@first_interrupt_only()  # SIGTERM stops it as Ctrl-C does: children killed, temp files gone, 143
def live(
    corpus_path: Path | None,
    corpus_format: str | None,
    setting_text: str | None,
    window_bits: int | None,
    mem_level: int | None,
    client_window_bits: int | None,
    connections: int | None,
    tolerance: str | None,
    threshold: int | None,
    context_takeover: bool,
    ws_dir: Path | None,
    server: str,
    level: int | None,
    timeout: float,
    as_json: bool,
    verbose: bool,
) -> None:
    """Check the model against a real websockets, aiohttp, Tornado, uvicorn or ws server on
    127.0.0.1.

    A python-websockets server with the setting listens on a loopback port; a separate client
    process opens --connections connections and both replay CORPUS (server-direction messages
    from the server, client-direction ones from the client). Compared with the model: the
    compressed bytes sent and received (must be equal) and the server's memory per connection
    (tracemalloc, compression on minus off; must be within --tolerance). RSS per connection
    is shown but not checked. Exit code 0 when both agree, 1 when not, 3 (INCONCLUSIVE) when the
    memory measurement is too uncertain for the tolerance (more --connections, longer traffic).

    Without a setting, websockets' defaults: 12:5.

    With --server aiohttp, tornado, uvicorn (uvicorn-websockets, uvicorn-wsproto) that real server
    runs in this process instead, checked the same way; the model is the setting the stack really
    runs (aiohttp: level 1, memLevel 8, the client's window uncapped; Tornado: window 15;
    uvicorn: its backend's). docs/live.md says what each fixes.

    With --server ws, a Node ws server and ws clients (both directions Node's zlib and ws's
    framing) replay CORPUS the same way; the model is the node codec (run --codec node), bytes
    must be equal and the server's RSS per connection (compression on minus off, the second half
    of the connections) within --tolerance of the model's connection_memory. Without a setting,
    ws's defaults: 15:8, threshold 1024.
    """
    import importlib.util
    import json

    from wsztune import corpus as corpus_module
    from wsztune.codec import Setting, parse_setting
    from wsztune.errors import SettingError
    from wsztune.live import python as live_module
    from wsztune.sizes import parse_fraction
    from wsztune.stacks import STACKS

    # Validate every option before reading anything, so a typo costs nothing.
    defaults = SERVER_DEFAULTS[server]
    if server in ("gorilla", "coder"):
        _live_go(server, corpus_path, corpus_format, level, context_takeover, threshold,
                 connections or defaults["connections"],
                 parse_fraction(tolerance or defaults["tolerance"], "--tolerance"),
                 setting_text or window_bits or mem_level or client_window_bits or ws_dir,
                 timeout, as_json)  # fmt: skip
        return
    if level is not None:
        raise click.UsageError("--level needs --server gorilla")
    if setting_text is not None:
        if window_bits is not None or mem_level is not None:
            raise click.UsageError("give --setting or --window-bits/--mem-level, not both")
        window_bits, mem_level = parse_setting(setting_text)
    stack_defaults = STACKS[server].defaults
    setting = Setting(
        window_bits if window_bits is not None else stack_defaults.window_bits,
        mem_level if mem_level is not None else stack_defaults.mem_level,
        context_takeover=context_takeover,
        client_window_bits=client_window_bits,
    )
    fraction = parse_fraction(tolerance or defaults["tolerance"], "--tolerance")
    auto_connections = connections is None
    if connections is None:
        connections = defaults["connections"]
    if server == "ws":
        _live_ws(corpus_path, corpus_format, setting, connections, fraction, threshold, ws_dir,
                 timeout, as_json, auto_connections, verbose)  # fmt: skip
        return
    for option, given in (
        ("--threshold", threshold is not None),
        ("--no-context-takeover", not context_takeover),
        ("--ws-dir", ws_dir is not None),
    ):
        if given:
            raise click.UsageError(f"{option} needs --server ws")
    if connections < 2:
        raise SettingError(
            f"--connections must be at least 2, not {connections} (the first is discarded)"
        )
    try:
        import websockets  # noqa: F401
    except ImportError:
        raise SettingError(
            "wsztune live needs websockets: pip install 'wsztune[live]'  (or: pip install "
            "websockets)"
        ) from None
    framework = server.split("-")[0]
    if importlib.util.find_spec(framework) is None:
        raise SettingError(f"live --server {server} needs {framework}: pip install {framework}")

    if corpus_path is None:
        corpus_path = corpus_module.demo_corpus_path()
    corpus = corpus_module.load(corpus_path, corpus_format)
    result = live_module.run_live(
        corpus, setting, connections=connections, tolerance=fraction, timeout=timeout,
        server=server,
    )  # fmt: skip
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        _print_live(result)
        if verbose:
            _print_timings(result)
    _exit_for(result)


def _exit_for(result: Any) -> None:
    """Exit code 1 (failed) or 3 (inconclusive) with the reasons, 0 on a pass: every server."""
    from wsztune.errors import CheckFailed, CheckInconclusive

    if result.passed:
        return
    reasons = list(result.reasons)
    if not result.bytes_equal:
        reasons = [f"bytes differ by {result.live_bytes - result.model_bytes:+,}"] + [
            reason for reason in reasons if not reason.startswith("bytes")
        ]
    if result.inconclusive:
        raise CheckInconclusive(
            f"live check inconclusive at {result.label}: {'; '.join(reasons)}; to decide: "
            + "; ".join(result.advice)
        )
    raise CheckFailed(f"live check failed at {result.label}: {'; '.join(reasons)}")


def _verdict_line(result: Any, versions: str) -> str:
    """The last line both servers print: PASS, FAIL or INCONCLUSIVE, what was compared."""
    verdict = {
        "pass": "[green]PASS[/]",
        "fail": "[red]FAIL[/]",
        "inconclusive": "[yellow]INCONCLUSIVE[/]",
    }[result.verdict]
    return (
        f"{verdict}: bytes {'equal' if result.bytes_equal else 'differ'}, memory "
        f"{_memory_difference(result)} +- {result.memory_uncertainty / 1024:.1f} KiB "
        f"(tolerance {result.tolerance:.0%}: +-{result.memory_allowed / 1024:.1f} KiB); "
        f"{versions}, {result.duration_seconds:.1f} s"
    )


def _print_timings(result: Any) -> None:
    """``--verbose``: seconds per phase of the check, on stderr (stdout stays the result)."""
    total = result.duration_seconds + result.timings.get("install", 0.0)
    parts = [f"{name} {seconds:.2f} s" for name, seconds in result.timings.items()]
    click.echo(f"wsztune: time: {', '.join(parts)}; total {total:.2f} s", err=True)


def _memory_difference(result: Any) -> str:
    """Relative to the model; in KiB when the model expects less than RSS's grain (``live
    --server ws`` on connections that compress nothing: a ratio to nearly nothing means
    nothing)."""
    floor = getattr(result, "memory_floor", 0)
    if result.model_connection_memory < floor:
        return f"{result.memory_difference_bytes / 1024:+.1f} KiB"
    return f"{result.memory_difference:+.1%}"


def _bytes_table(title: str, result: Any) -> Any:
    """A model / live / difference table, its byte rows filled (the same for both servers)."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("")
    table.add_column("model", justify="right")
    table.add_column("live", justify="right")
    table.add_column("difference", justify="right")
    for label, model, measured in (
        ("bytes sent by server", result.model_server_bytes, result.live_server_bytes),
        ("bytes received by server", result.model_client_bytes, result.live_client_bytes),
        ("bytes, both ways", result.model_bytes, result.live_bytes),
    ):
        table.add_row(label, f"{model:,}", f"{measured:,}", f"{measured - model:+,}")
    return table


def _print_live(result: Any) -> None:

    from wsztune.console import stdout_console

    def kib(value: float) -> str:
        return f"{value / 1024:,.1f} KiB"

    table = _bytes_table(
        (
            "wsztune live "
            + ("" if result.server == "websockets" else f"--server {result.server} ")
            + f"{result.window_bits}:{result.mem_level}"
            + (f" level {result.level}" if result.level != -1 else "")
            + (
                f" (client bits {result.client_window_bits})"
                if result.client_window_bits != result.window_bits
                else ""
            )
            + f", {result.connections} connections, {result.corpus['name']}"
        ),
        result,
    )
    table.add_row(
        "memory/conn, compression",
        kib(result.model_connection_memory),
        kib(result.live_connection_memory),
        f"{result.memory_difference:+.1%}",
    )
    details = result.details
    table.add_row("  its standard error", "", kib(result.memory_uncertainty), "")
    whole = details["live_connection_memory_with_baseline"]
    table.add_row("memory/conn, whole", "", kib(whole), "")
    table.add_row("memory/conn, uncompressed", "", kib(result.live_baseline_connection_memory), "")
    table.add_row(
        "RSS/conn, compression (*)", "", kib(details["live_rss_compression_per_connection"]), ""
    )
    console = stdout_console()
    console.print(table)
    console.print("(*) psutil, noisy: shown, not checked")
    console.print(f"replay: {result.replay}; raw payload {result.raw_bytes:,} B")
    for note in result.notes:
        console.print(f"note: {note}")
    versions = result.versions
    console.print(
        _verdict_line(result, f"websockets {versions['websockets']}, zlib {versions['zlib']}")
    )


def _live_ws(
    corpus_path: Path | None,
    corpus_format: str | None,
    setting: Any,
    connections: int,
    tolerance: float,
    threshold: int | None,
    ws_dir: Path | None,
    timeout: float,
    as_json: bool,
    auto_connections: bool = False,
    verbose: bool = False,
) -> None:
    """``live --server ws``: find node and ws (installing ws on first use), run, render.

    ``auto_connections`` (no --connections given): as many as each kind of connection needs
    (:func:`wsztune.live.ws.connections_for`)."""
    import json
    import time

    from wsztune import corpus as corpus_module
    from wsztune.errors import SettingError
    from wsztune.live import ws as live_ws
    from wsztune.programs import npm as install
    from wsztune.programs.cache import default_cache_dir
    from wsztune.programs.node import find_node

    if connections < 4:
        raise SettingError(
            f"--connections must be at least 4 with --server ws, not {connections} (the first "
            "half warms the server up, the growth over the second half is measured)"
        )
    started = time.perf_counter()
    node = find_node()
    if ws_dir is not None:
        ws_package = live_ws.resolve_ws_dir(ws_dir)
    else:
        cache = default_cache_dir()
        if not (install.ws_package_dir(cache) / "package.json").is_file():
            click.echo(
                f"wsztune: installing ws {install.WS_VERSION} into "
                f"{install.ws_package_dir(cache).parent.parent} with npm (first use only; "
                "--ws-dir DIR uses an existing install)",
                err=True,
            )
        ws_package = install.ensure_ws(cache)
    # Finding node and ws (installing ws the first time only: it stays in the cache).
    installing = time.perf_counter() - started
    if corpus_path is None:
        corpus_path = corpus_module.demo_corpus_path()
    corpus = corpus_module.load(corpus_path, corpus_format)
    threshold = live_ws.WS_THRESHOLD_DEFAULT if threshold is None else threshold
    if auto_connections:
        connections = live_ws.connections_for(corpus, setting, threshold, connections)
    result = live_ws.run_live_ws(
        corpus,
        setting,
        ws_package=ws_package,
        connections=connections,
        tolerance=tolerance,
        timeout=timeout,
        threshold=threshold,
        node=node,
    )
    result.timings = {"install": round(installing, 3), **result.timings}
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        _print_live_ws(result)
        if verbose:
            _print_timings(result)
    _exit_for(result)


def _print_live_ws(result: Any) -> None:

    from wsztune.console import stdout_console

    def kib(value: float) -> str:
        return f"{value / 1024:,.1f} KiB"

    details = []
    if result.client_window_bits != result.window_bits:
        details.append(f"client bits {result.client_window_bits}")
    if not result.context_takeover:
        details.append(f"no context takeover, threshold {result.threshold}")
    table = _bytes_table(
        (
            f"wsztune live --server ws {result.window_bits}:{result.mem_level}"
            + (f" ({', '.join(details)})" if details else "")
            + f", {result.connections} connections, {result.corpus['name']}"
        ),
        result,
    )
    table.add_row(
        "memory/conn, compression",
        kib(result.model_connection_memory),
        kib(result.live_connection_memory),
        _memory_difference(result),
    )
    table.add_row("  its standard error", "", kib(result.memory_uncertainty), "")
    # ws builds a zlib stream on first use: how many of the measured connections did.
    details = result.details
    for label, model_share, live_share in (
        (
            "conns with a compressor",
            details["model_measured_compressor_share"],
            details["live_compressor_share"],
        ),
        (
            "conns with a decompressor",
            details["model_measured_decompressor_share"],
            details["live_decompressor_share"],
        ),
    ):
        table.add_row(label, f"{model_share:.0%}", f"{live_share:.0%}", "")
    table.add_row(
        f"{result.memory_figure}/conn, compression off", "",
        kib(result.live_baseline_connection_memory), "",
    )  # fmt: skip
    table.add_row("RSS/conn, compression on (*)", "", kib(details["live_rss_per_connection"]), "")
    table.add_row(
        "RSS/conn, compression off (*)", "", kib(details["live_rss_baseline_per_connection"]), ""
    )
    table.add_row(
        "V8 external/conn, on - off", "", kib(details["live_external_per_connection"]), ""
    )
    console = stdout_console()
    console.print(table)
    console.print("(*) the process's whole RSS, first and last measured marks: shown, not checked")
    console.print(
        f"model: one compressor {kib(result.model_compressor_memory)}, one decompressor "
        f"{kib(result.model_decompressor_memory)}; over the whole corpus (run --codec node's "
        f"cell) {kib(details['model_corpus_connection_memory'])} per connection, "
        f"{details['model_compressor_share']:.0%} of connections building a compressor, "
        f"{details['model_decompressor_share']:.0%} a decompressor"
    )
    console.print(
        f"replay: {result.replay}; raw payload {result.raw_bytes:,} B; "
        f"{details['compressed_frames']:,} of {details['data_frames']:,} messages compressed"
    )
    for note in result.notes:
        console.print(f"note: {note}")
    versions = result.versions
    console.print(
        _verdict_line(
            result, f"ws {versions['ws']}, Node {versions['node']}, zlib {versions['zlib']}"
        )
    )


def _live_go(
    server: str,
    corpus_path: Path | None,
    corpus_format: str | None,
    level: int | None,
    context_takeover: bool,
    threshold: int | None,
    connections: int,
    tolerance: float,
    zlib_option: Any,
    timeout: float,
    as_json: bool,
) -> None:
    """``live --server gorilla`` / ``coder``: a real Go server, Go clients, the go codec's model."""
    import json

    from wsztune import corpus as corpus_module
    from wsztune.codec import Setting
    from wsztune.errors import SettingError
    from wsztune.live import golang
    from wsztune.stacks import STACKS

    if zlib_option:
        raise click.UsageError(
            f"--server {server} has no windowBits or memLevel (Go's flate): drop --setting, "
            "--window-bits, --mem-level, --client-window-bits and --ws-dir"
        )
    if server == "gorilla":
        context_takeover = False  # gorilla never takes over context
    elif level is not None:
        raise click.UsageError("coder 1.8.7 has no compression level: drop --level")
    if connections < 4:
        raise SettingError(
            f"--connections must be at least 4 with --server {server}, not {connections} (the "
            "first half warms the server up, the growth over the second half is measured)"
        )
    # Unasked, the stack's own level (gorilla's 1, coder's zlib default); 15:8 only fills the
    # model's fields, Go has neither knob.
    setting = Setting(
        15, 8, STACKS[server].defaults.level if level is None else (level or -1),
        context_takeover=context_takeover, threshold=threshold or 0,
    )  # fmt: skip
    if corpus_path is None:
        corpus_path = corpus_module.demo_corpus_path()
    corpus = corpus_module.load(corpus_path, corpus_format)
    result = golang.run_live_go(
        corpus, server, setting, connections=connections, tolerance=tolerance, timeout=timeout
    )
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        _print_live_go(result)
    _exit_for(result)


def _print_live_go(result: Any) -> None:
    """The byte rows every live check shows, then the Go heap per connection."""
    from wsztune.console import stdout_console

    def kib(value: float) -> str:
        return f"{value / 1024:,.1f} KiB"

    setting = (
        f"level {result.level}"
        if result.server == "gorilla"
        else f"context takeover {'on' if result.context_takeover else 'off'}"
    )
    table = _bytes_table(
        f"wsztune live --server {result.server}, {setting}, threshold {result.threshold} B, "
        f"{result.connections} connections, {result.corpus['name']}",
        result,
    )
    details = result.details
    table.add_row(
        "frames, both ways",
        f"{details['model_frames_live']:,}",
        f"{details['live_frames_server'] + details['live_frames_client']:,}",
        "",
    )
    table.add_row(
        "Go heap/conn, compression",
        kib(result.model_connection_memory),
        kib(result.live_connection_memory),
        _memory_difference(result),
    )
    table.add_row("  its standard error", "", kib(result.memory_uncertainty), "")
    table.add_row("Go heap/conn, uncompressed", "", kib(result.live_baseline_connection_memory), "")
    table.add_row(
        "RSS/conn, compression (*)", "", kib(details["live_rss_compression_per_connection"]), ""
    )
    table.add_row("per concurrent write (model)", kib(details["model_write_memory"]), "", "")
    console = stdout_console()
    console.print(table)
    console.print("(*) /proc/self/statm, noisy: shown, not checked")
    console.print(f"replay: {result.replay}; raw payload {result.raw_bytes:,} B")
    versions = result.versions
    console.print(
        _verdict_line(
            result, f"{result.server} {versions[result.server]}, {versions['go']}"
        )
    )
