"""``wsztune probe URL``: what a running server negotiates with each real client's offer.

Thin: validates the options, hands plain data to :mod:`wsztune.live.probe` and renders what it
returns. Imports nothing heavy at start-up.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


@click.command()
@click.argument("url")
@click.option(
    "--header",
    "headers",
    multiple=True,
    metavar="'NAME: VALUE'",
    help="An extra request header (authentication, cookies); repeat for several.",
)
@click.option("--origin", help="The Origin header to send (servers often check it).")
@click.option(
    "--cafile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Trust this CA bundle (PEM) for wss:// (a private CA).",
)
@click.option("--insecure", is_flag=True, help="wss:// without checking the certificate.")
@click.option(
    "--client",
    "client_names",
    multiple=True,
    metavar="NAME",
    help="Probe only this client profile; repeat for several [default: all of them].",
)
@click.option(
    "--offer",
    "offers",
    multiple=True,
    metavar="HEADER",
    help="A custom Sec-WebSocket-Extensions offer to probe as well (client 'custom').",
)
@click.option(
    "--send",
    metavar="MESSAGE",
    help="Send this text message after the handshake (an echo path answers it), to see "
    "whether the server's frames arrive compressed when it sends nothing by itself.",
)
@click.option(
    "--expect",
    metavar="WINDOW:MEMLEVEL",
    help="A gate: fail (exit 1) unless every client gets this server window (13:2, 13) "
    "or, with 'off', no compression.",
)
@click.option(
    "--server",
    "server_text",
    metavar="NAME[@VERSION]",
    help="The stack it runs (wsztune stacks): its memory per connection, and fixes named in its "
    "own knobs.",
)
@click.option(
    "--results",
    "results_path",
    type=click.Path(path_type=Path),
    help="A run (results/*.json) whose measured memory to use for the negotiated windows.",
)
@click.option(
    "--max-memory",
    metavar="SIZE",
    help="A gate: fail (exit 1) when a client's connection costs the server more (64KiB).",
)
@click.option("--timeout", type=click.FloatRange(0.1, 60), default=3.0, show_default=True,
              help="Seconds for each connection's handshake.")  # fmt: skip
@click.option("--wait", type=click.FloatRange(0, 60), default=1.0, show_default=True,
              help="Seconds to wait for the server's first message.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="A JSON list, one object per client.")
def probe(
    url: str,
    headers: tuple[str, ...],
    origin: str | None,
    cafile: Path | None,
    insecure: bool,
    client_names: tuple[str, ...],
    offers: tuple[str, ...],
    send: str | None,
    expect: str | None,
    server_text: str | None,
    results_path: Path | None,
    max_memory: str | None,
    timeout: float,
    wait: float,
    as_json: bool,
) -> None:
    """Connect once per client profile (Chrome, Firefox, Safari, python-websockets, ws,
    gorilla, coder, --offer) with its exact offer, and report what the server negotiates.

    \b
    Polite: one connection per profile, one after another, short timeouts, no load.
    Exit codes: 0 ok, 1 a gate (--expect, --max-memory) failed, 2 bad input or unreachable.
    """
    from wsztune.errors import WsztuneError
    from wsztune.live import probe as probing

    target = probing.parse_url(url)
    parsed_headers = []
    for header in headers:
        name, colon, value = header.partition(":")
        if not colon or not name.strip() or any(c in header for c in "\r\n"):
            raise WsztuneError(f"--header {header!r}: write it as 'Name: value'")
        parsed_headers.append((name.strip(), value.strip()))
    clients = probing.client_profiles(offers)
    if client_names:
        known = {client.name: client for client in clients}
        unknown = [name for name in client_names if name not in known]
        if unknown:
            raise WsztuneError(
                f"--client {unknown[0]!r}: no such profile; known: {', '.join(known)}"
            )
        clients = [
            client
            for client in clients
            if client.name in client_names or (client.name.startswith("custom") and offers)
        ]
    expectation = probing.parse_expect(expect) if expect is not None else None
    stack, version = None, None
    if server_text is not None:
        from wsztune.stacks import resolve

        stack, version = resolve(server_text)
    budget = None
    if max_memory is not None:
        from wsztune.sizes import parse_size

        budget = parse_size(max_memory)
        if results_path is None and stack is None:
            raise WsztuneError(
                "--max-memory needs the memory per connection: give --results run.json "
                "(measured) or --server NAME (its profile's formula)"
            )
    run = None
    if results_path is not None:
        from wsztune import results

        run = results.load(results_path)
    options = probing.Options(
        headers=tuple(parsed_headers),
        origin=origin,
        cafile=str(cafile) if cafile else None,
        insecure=insecure,
        send=send,
        timeout=timeout,
        wait=wait,
    )
    probes = probing.probe_all(target, clients, options)
    # The wire cannot show memLevel: the expected one, else the stack's (at its version).
    mem_level = expectation.mem_level if expectation else None
    if mem_level is None and stack is not None and stack.defaults_for(version).mem_level:
        mem_level = stack.defaults_for(version).mem_level
    for item in probes:
        if item.negotiated is not None:
            item.memory, item.memory_how = probing.connection_memory(
                item.negotiated, stack, mem_level, run
            )
    findings = probing.judge(probes, expectation, stack, budget)
    if as_json:
        click.echo(json.dumps([item.to_json(findings) for item in probes], indent=2))
    else:
        render(target.url, probes, findings)
    probing.gate(findings, expectation is not None or budget is not None)


def _message_line(item: Any) -> str:
    from wsztune.text import format_bytes

    message = item.message
    if item.status == 101 and item.negotiated is None:
        text = "not compressed (nothing negotiated)"
        if message is not None:
            text += f"; first message {format_bytes(message.wire_bytes)}"
        return text
    if message is None:
        return f"unknown: {item.error or 'no message'} (try --send MESSAGE on an echo path)"
    frames = f", {message.frames} frames" if message.frames > 1 else ""
    if message.seen > 1:
        frames += f"; {message.seen} messages read"
    if not message.rsv1:
        return f"no: a {format_bytes(message.wire_bytes)} message arrived with RSV1 clear{frames}"
    if message.raw_bytes is None:
        return f"RSV1 set, but {message.error}"
    return (
        f"yes: {format_bytes(message.raw_bytes)} arrived as {format_bytes(message.wire_bytes)} "
        f"(RSV1){frames}"
    )


def render(url: str, probes: list[Any], findings: list[Any]) -> None:
    """The per-client blocks, then the findings with their fixes."""
    from wsztune.text import format_bytes, plural

    click.echo(f"probe {url}: {plural(len(probes), 'client')}, one connection each")
    for item in probes:
        click.echo("")
        click.echo(f"{item.client.name} ({item.client.title})")
        click.echo(f"  offer       {item.client.offer or '(none)'}")
        if item.status != 101:
            click.echo(f"  refused     {item.error}")
            continue
        click.echo(f"  response    {item.response if item.response is not None else '(none)'}")
        if item.negotiated is not None:
            click.echo(f"  windows     {item.negotiated.describe()}")
        click.echo(f"  compressed  {_message_line(item)}")
        if item.negotiated is not None and (item.memory is not None or item.memory_how):
            memory = format_bytes(item.memory) if item.memory is not None else "unknown"
            click.echo(f"  memory      {memory} per connection")
            click.echo(f"              ({item.memory_how})")
    click.echo("")
    if not findings:
        click.echo("ok: nothing wrong found")
        return
    for finding in findings:
        mark = "problem" if finding.failing else "note"
        click.echo(f"{mark}: {finding.problem}")
        click.echo(f"  clients: {', '.join(finding.clients)}")
        click.echo(f"  fix: {finding.fix}")
