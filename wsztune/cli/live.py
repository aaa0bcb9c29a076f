"""``wsztune live``: check the model against a real server on 127.0.0.1: websockets, the other
Python stacks (aiohttp, Tornado, uvicorn) or ws."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from wsztune.cli.common import client_window_bits_option, corpus_options, first_interrupt_only
from wsztune.live import RUNNERS

if TYPE_CHECKING:
    from collections.abc import Callable

    from wsztune.live.result import Display, LiveResult

LIVE_HELP = """Check the model against a real websockets, aiohttp, Tornado, uvicorn or ws server on
127.0.0.1.

A python-websockets server with the setting listens on a loopback port; a separate client
process opens --connections connections and both replay CORPUS (server-direction messages
from the server, client-direction ones from the client). Compared with the model: the
compressed bytes sent and received (must be equal) and the server's memory per connection
(tracemalloc, compression on minus off; must be within --tolerance). RSS per connection
is shown but not checked. Exit code 0 when both agree, 1 when not, 3 (INCONCLUSIVE) when the
memory measurement is too uncertain for the tolerance (more --connections, longer traffic).

Without a setting, websockets' defaults: 12:5.

From 1,000 --connections (up to 10,000), or with --waves or --churn, every server runs a
fleet instead: the server in a process of its own, clients in waves of processes, the
server's RSS sampled over time; RSS growth per connection (the least-squares slope over the
waves, compression on minus off) is checked against the model's resident figure
(connection_memory_resident) within --tolerance, the allocation shown beside it.

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


@click.command(help=LIVE_HELP)
@corpus_options(required=False)
@click.option(
    "--server",
    type=click.Choice(list(RUNNERS)),
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
    help="Live connections, opened one at a time and held open (from 1000, up to 10,000: a "
    "fleet, opened in waves) [default: websockets 10 (the "
    "first is discarded), ws 40 (the first half warms the server up), more (up to 200) until "
    "10 measured connections build each kind of zlib stream set].",
)
@click.option(
    "--waves",
    type=click.IntRange(min=3),
    help="A fleet: open --connections in this many waves of client "
    "processes, the server's RSS read after each [default: 10; a fleet from 1000 connections].",
)
@click.option(
    "--churn",
    type=click.IntRange(0, 10),
    default=0,
    help="A fleet: once all are open, close and reopen every connection this many times; "
    "the RSS plateau is shown against the allocation.",
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
    waves: int | None,
    churn: int,
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
    """``wsztune live``: the help text is :data:`LIVE_HELP`."""
    from wsztune import corpus as corpus_module
    from wsztune.live import LiveOptions, OptionClash
    from wsztune.permessage_deflate import parse_setting
    from wsztune.sizes import parse_fraction

    # Validate every option before reading anything, so a typo costs nothing.
    runner = RUNNERS[server]
    if setting_text is not None:
        if window_bits is not None or mem_level is not None:
            raise click.UsageError("give --setting or --window-bits/--mem-level, not both")
        window_bits, mem_level = parse_setting(setting_text)
    asked = LiveOptions(
        server=server,
        window_bits=window_bits,
        mem_level=mem_level,
        client_window_bits=client_window_bits,
        level=level,
        context_takeover=context_takeover,
        threshold=threshold,
        connections=runner.connections if connections is None else connections,
        auto_connections=connections is None,
        tolerance=parse_fraction(tolerance or runner.tolerance, "--tolerance"),
        timeout=timeout,
        ws_dir=ws_dir,
        waves=waves,
        churn=churn,
    )
    try:
        options = runner.prepare(asked)
    except OptionClash as clash:
        raise click.UsageError(str(clash)) from None
    corpus = corpus_module.load(corpus_path or corpus_module.demo_corpus_path(), corpus_format)
    _show(runner.run(corpus, options), runner.display, as_json, verbose)


def _show(
    result: LiveResult, display: Callable[[LiveResult], Display], as_json: bool, verbose: bool
) -> None:
    """The result on stdout (``--json``: one object; else the table and the verdict), where the
    time went on stderr with ``--verbose``, and the exit code: every server alike."""
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        _print_result(result, display(result))
        if verbose and result.timings:
            _print_timings(result)
    _exit_for(result)


def _exit_for(result: LiveResult) -> None:
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


def _verdict_line(result: LiveResult, versions: str) -> str:
    """The last line every server prints: PASS, FAIL or INCONCLUSIVE, what was compared."""
    from wsztune.live.result import memory_difference

    verdict = {
        "pass": "[green]PASS[/]",
        "fail": "[red]FAIL[/]",
        "inconclusive": "[yellow]INCONCLUSIVE[/]",
    }[result.verdict]
    return (
        f"{verdict}: bytes {'equal' if result.bytes_equal else 'differ'}, memory "
        f"{memory_difference(result)} +- {result.memory_uncertainty / 1024:.1f} KiB "
        f"(tolerance {result.tolerance:.0%}: +-{result.memory_allowed / 1024:.1f} KiB); "
        f"{versions}, {result.duration_seconds:.1f} s"
    )


def _print_timings(result: LiveResult) -> None:
    """``--verbose``: seconds per phase of the check, on stderr (stdout stays the result)."""
    total = result.duration_seconds + result.timings.get("install", 0.0)
    parts = [f"{name} {seconds:.2f} s" for name, seconds in result.timings.items()]
    click.echo(f"wsztune: time: {', '.join(parts)}; total {total:.2f} s", err=True)


def _bytes_table(title: str, result: LiveResult) -> Any:
    """A model / live / difference table, its byte rows filled (the same for every server)."""
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


def _print_result(result: LiveResult, display: Display) -> None:
    """The result as every server's reads: the table (bytes, then the server's rows), what
    ``(*)`` means, the replay, the notes and the verdict."""
    from wsztune.console import stdout_console

    server = "" if result.server == "websockets" else f" --server {result.server}"
    table = _bytes_table(
        f"wsztune live{server}{display.setting}, {result.connections} connections, "
        f"{result.corpus['name']}",
        result,
    )
    for row in display.rows:
        table.add_row(row.label, row.model, row.live, row.difference)
    console = stdout_console()
    console.print(table)
    console.print(display.footnote)
    for line in display.lines:
        console.print(line)
    console.print(
        f"replay: {result.replay}; raw payload {result.raw_bytes:,} B{display.replay}"
    )
    for note in result.notes:
        console.print(f"note: {note}")
    console.print(_verdict_line(result, display.versions))
