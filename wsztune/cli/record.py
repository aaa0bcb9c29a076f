"""``wsztune record``: a proxy in front of a WebSocket server that records what passes."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from wsztune.record import RecordStatus, RecordSummary

_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str | None) -> float | None:
    """``90``, ``90s``, ``10m`` or ``1.5h`` to seconds."""
    if text is None:
        return None
    raw = text.strip().lower()
    scale = _DURATION_UNITS.get(raw[-1:])
    number = raw[:-1] if scale is not None else raw
    try:
        seconds = float(number) * (scale or 1.0)
    except ValueError:
        raise click.BadParameter(
            f"takes seconds or a number with s, m or h (90, 10m, 1h), not {text!r}",
            param_hint="'--duration'",
        ) from None
    return seconds


@click.command()
@click.option(
    "--upstream",
    required=True,
    metavar="URL",
    help="The server to forward to: ws://HOST:PORT[/PATH] or wss://...",
)
@click.option(
    "--listen",
    default="127.0.0.1:8765",
    show_default=True,
    metavar="[HOST:]PORT",
    help="Where clients connect instead (port 0: any free port).",
)
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(path_type=Path),
    help="Records file to create (0600); an existing path is refused, never overwritten.",
)
@click.option("--max-messages", type=int, help="Stop after recording this many messages.")
@click.option(
    "--max-bytes", metavar="SIZE", help="Stop before recording more payload than this (50MiB)."
)
@click.option("--duration", metavar="TIME", help="Stop after this long: 90, 10m, 1h.")
@click.option(
    "--connections",
    "fraction_text",
    default="100%",
    show_default=True,
    metavar="FRACTION",
    help="Record this seeded share of connections (10%, 0.1); all are forwarded.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --connections.")
@click.option(
    "--ca-file",
    type=click.Path(path_type=Path),
    help="Verify a wss:// upstream with this CA certificate (PEM).",
)
@click.option("--insecure", is_flag=True, help="Do not verify a wss:// upstream's certificate.")
@click.option(
    "--max-message-size",
    "max_message_text",
    default="16MiB",
    show_default=True,
    metavar="SIZE",
    help="Largest message taken from either side (up to 32MiB); a bigger one closes its "
    "connection with 1009 on both sides and is not recorded.",
)
@click.option(
    "--no-upstream-check",
    is_flag=True,
    help="Listen without first checking that the upstream answers a handshake.",
)
@click.option(
    "--certfile",
    type=click.Path(path_type=Path),
    help="Listen with TLS (wss://): this certificate chain (PEM), with --keyfile.",
)
@click.option(
    "--keyfile", type=click.Path(path_type=Path), help="The private key of --certfile (PEM)."
)
@click.option("--quiet", "-q", is_flag=True, help="No status line, no summary.")
def record(
    upstream: str,
    listen: str,
    output: Path,
    max_messages: int | None,
    max_bytes: str | None,
    duration: str | None,
    fraction_text: str,
    seed: int,
    ca_file: Path | None,
    insecure: bool,
    max_message_text: str,
    no_upstream_check: bool,
    certfile: Path | None,
    keyfile: Path | None,
    quiet: bool,
) -> None:
    """Record real traffic: a WebSocket proxy that writes every message it forwards to a
    records file (connection, direction, time, payload).

    \b
    Point clients at --listen instead of the server; every connection is forwarded to
    --upstream with its path, query, subprotocols, Origin, Cookie, Authorization and
    User-Agent, and every message both ways, unchanged. Ctrl-C stops it; the file loads.
    Then: wsztune corpus stats FILE, wsztune run FILE.
    """
    from wsztune import record as recorder
    from wsztune.console import stderr_console
    from wsztune.errors import WsztuneError
    from wsztune.sizes import parse_fraction, parse_size

    host, port = recorder.parse_listen(listen)

    def size(text: str, option: str) -> int:
        try:
            return parse_size(text)
        except WsztuneError as error:
            # One size parser for every option; its messages name --max-memory, its first user.
            raise WsztuneError(str(error).replace("--max-memory", option)) from None

    byte_limit = size(max_bytes, "--max-bytes") if max_bytes is not None else None
    options = recorder.RecordOptions(
        upstream=upstream,
        output=output,
        host=host,
        port=port,
        max_messages=max_messages,
        max_bytes=byte_limit,
        duration=parse_duration(duration),
        fraction=parse_fraction(fraction_text, "--connections"),
        seed=seed,
        ca_file=ca_file,
        insecure=insecure,
        max_message_size=size(max_message_text, "--max-message-size"),
        check_upstream=not no_upstream_check,
        certfile=certfile,
        keyfile=keyfile,
    )
    recorder.check_options(options)
    console = stderr_console()
    live = not quiet and sys.stderr.isatty()

    with ExitStack() as stack:
        status_line: Any = None

        def say(text: str) -> None:
            if status_line is not None:
                console.print(text, markup=False, highlight=False)
            else:
                click.echo(text, err=True)

        def on_listening(url: str) -> None:
            nonlocal status_line
            say(
                f"wsztune: recording {url} -> {recorder.without_query(upstream)} "
                f"into {output} (Ctrl-C to stop)"
            )
            if not recorder.is_loopback(host):
                say(
                    f"wsztune: warning: listening on {host}: anyone who can reach this machine "
                    "can use the proxy, and their traffic is recorded"
                )
            if live:
                status_line = stack.enter_context(console.status(""))

        def on_status(status: RecordStatus) -> None:
            if status_line is not None:
                status_line.update(status_text(status))

        callbacks = recorder.Callbacks(
            on_listening=on_listening,
            on_status=on_status,
            on_warning=lambda text: say(f"wsztune: warning: {text}"),
        )
        summary = recorder.record(options, callbacks)
    if not quiet:
        click.echo(summary_text(summary))


def plural(count: int, noun: str) -> str:
    """``1 message``, ``2 messages``."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def status_text(status: RecordStatus) -> str:
    """The live status line: connections, messages, bytes, time."""
    from wsztune.text import format_bytes

    minutes, seconds = divmod(int(status.elapsed), 60)
    failed = f" · {status.upstream_failures:,} refused" if status.upstream_failures else ""
    unanswered = sum(status.unanswered.values())
    failed += f" · {unanswered:,} unanswered" if unanswered else ""
    return (
        f"{status.connections_open:,} open, {plural(status.connections, 'connection')} "
        f"({status.recorded_connections:,} recorded){failed} · "
        f"{plural(status.messages, 'message')} · "
        f"{format_bytes(status.raw_bytes)} · {minutes:d}:{seconds:02d}"
    )


def summary_text(summary: RecordSummary) -> str:
    """What was recorded, why it stopped, and what to do next."""
    from wsztune.record import REQUEST_TIMEOUT
    from wsztune.text import format_bytes

    stopped = {
        "max-messages": "--max-messages reached",
        "max-bytes": "--max-bytes reached",
        "duration": "--duration over",
        "SIGINT": "Ctrl-C",
        "SIGTERM": "SIGTERM",
    }.get(summary.stopped_by, summary.stopped_by)
    sampled = (
        f" of {summary.connections:,}"
        if summary.recorded_connections != summary.connections
        else ""
    )
    where = "no file written" if summary.removed else summary.path
    lines = [
        f"recorded {plural(summary.messages, 'message')} ({format_bytes(summary.raw_bytes)}) "
        f"on {summary.recorded_connections:,}{sampled} "
        f"{'connection' if summary.connections == 1 else 'connections'} "
        f"in {summary.seconds:,.1f} s ({stopped}): {where}"
    ]
    if summary.too_big:
        lines.append(
            f"{plural(summary.too_big, 'message')} over --max-message-size not recorded "
            "(their connections were closed with 1009)"
        )
    if summary.upstream_failures:
        lines.append(
            f"{plural(summary.upstream_failures, 'client')} turned away: the upstream refused "
            "them (they got its status) or could not be reached (502; the warnings say why)"
        )
    if summary.unanswered:
        reasons = ", ".join(
            f"{count:,} {reason}" for reason, count in sorted(summary.unanswered.items())
        )
        count = sum(summary.unanswered.values())
        lines.append(
            f"{plural(count, 'connection')} got no HTTP answer ({reasons}; "
            f"a client has {REQUEST_TIMEOUT:.0f} s to send its handshake request)"
        )
    if summary.messages:
        lines.append(f"next: wsztune corpus stats {summary.path} · wsztune run {summary.path}")
    else:
        lines.append(f"no client sent anything through {summary.listen}")
    return "\n".join(lines)
