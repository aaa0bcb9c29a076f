"""``wsztune stacks``: every server stack and client wsztune knows, what it can set, and how
exactly wsztune measures it."""

from __future__ import annotations

import click


@click.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.option("--markdown", is_flag=True, help="The list as markdown tables (for docs, PRs).")
def stacks(name: str | None, as_json: bool, markdown: bool) -> None:
    """List the server stacks and clients: knobs, defaults, codec, verification, sources.

    With NAME (a stack, e.g. uvicorn or uvicorn@0.49, or a client), everything its profile says.
    Status: "verified" (exact, checked byte for byte against the real library), "same codec"
    (the codec it runs, not checked here), "approximate" (a codec close to its own).
    """
    import json

    from wsztune.stacks import CLIENTS, STACKS, resolve
    from wsztune.stacks.profile import client_json, stack_json

    if name is not None:
        client = CLIENTS.get(name.lower())
        if client is not None and name.lower() not in STACKS:
            document = client_json(client)
        else:
            profile, version = resolve(name, to_measure=False)
            document = stack_json(profile)
            if version is not None:
                document["version"] = version
                document["version_default"] = profile.defaults_for(version).label
                document["version_note"] = profile.version_note(version)
                document["version_codec"] = profile.codec_for(version)
                document["settable"] = [f"{wb}:{ml}" for wb, ml in profile.settable_pairs(version)]
        if as_json:
            click.echo(json.dumps(document, indent=2))
        else:
            _print_one(document)
        return
    servers = [stack_json(profile) for profile in _ordered(STACKS.values())]
    clients = [client_json(client) for client in CLIENTS.values()]
    if as_json:
        click.echo(json.dumps({"servers": servers, "clients": clients}, indent=2))
        return
    if markdown:
        click.echo(_markdown(servers, clients))
        return
    _print_all(servers, clients)


def _can_set(item: dict) -> str:
    """``on/off; window_bits 9-15, mem_level 1-9``: what a user can change."""
    knobs = ", ".join(f"{k['axis']} {k['range']}" for k in item["knobs"] if k["axis"] != "enabled")
    on_off = any(k["axis"] == "enabled" for k in item["knobs"])
    return "; ".join(part for part in ("on/off" if on_off else "", knobs) if part) or "nothing"


def _markdown(servers: list[dict], clients: list[dict]) -> str:
    lines = [
        "| `--server` | stack | codec | status | default | can set | fixed |",
        "|---|---|---|---|---|---|---|",
    ]
    for item in servers:
        lines.append(
            f"| `{item['name']}` | {item['title']} | {item['codec']} | {item['status']} | "
            f"{item['default']['description']} | {_can_set(item)} | {_fixed_short(item)} |"
        )
    lines += [
        "",
        "| client | codec | status | memLevel | window |",
        "|---|---|---|---|---|",
    ]
    for item in clients:
        lines.append(
            f"| `{item['name']}` ({item['title']}) | {item['codec']} | {item['status']} | "
            f"{item['mem_level']} | {_client_window(item)} |"
        )
    return "\n".join(lines)


def _client_window(item: dict) -> str:
    """The window a client compresses with: the server's cap, or its own when it cannot be
    capped (Firefox offers bare permessage-deflate)."""
    if item["caps_window"]:
        return f"the server's cap (at least {item['min_window']})"
    return f"{item['window']}, cannot be capped"


def _ordered(profiles: object) -> list:
    # Families together (uvicorn's backends, the JVM, the BEAM), then by name.
    return sorted(profiles, key=lambda p: (p.family or p.name, p.name))  # type: ignore[attr-defined]


def _print_all(servers: list[dict], clients: list[dict]) -> None:
    from rich.table import Table

    from wsztune.console import stdout_console

    table = Table(title=f"{len(servers)} server stacks", title_justify="left")
    for header in ("stack", "codec", "status", "default", "can set", "fixed"):
        table.add_column(header, overflow="fold")
    for item in servers:
        can_set = _can_set(item)
        table.add_row(
            f"{item['name']}\n[dim]{item['title']}[/]",
            item["codec"],
            item["status"],
            item["default"]["description"],
            can_set,
            _fixed_short(item),
        )
    console = stdout_console()
    console.print(table)
    clients_table = Table(title=f"{len(clients)} clients", title_justify="left")
    for header in ("client", "codec", "status", "memLevel", "window"):
        clients_table.add_column(header, overflow="fold")
    for item in clients:
        clients_table.add_row(
            f"{item['name']}\n[dim]{item['title']}[/]",
            item["codec"],
            item["status"],
            str(item["mem_level"]),
            _client_window(item),
        )
    console.print(clients_table)
    console.print(
        "details and sources: wsztune stacks NAME · all as JSON: wsztune stacks --json",
        style="dim",
    )


_SHORT = {"window_bits": "window", "mem_level": "memLevel", "level": "level"}


def _fixed_short(item: dict) -> str:
    """``window 15, memLevel 8, level 1``: the axes without a knob, at the stack's values."""
    knobs = {k["axis"] for k in item["knobs"]}
    parts = [
        f"{short} {item['default'][axis]}" for axis, short in _SHORT.items() if axis not in knobs
    ]
    return ", ".join(parts) or "-"


def _print_one(item: dict) -> None:
    lines = [f"{item['name']}: {item['title']} ({item['kind']})"]
    lines.append(f"codec: {item['codec']} · status: {item['status']}")
    if item.get("status_note"):
        lines.append(f"  {item['status_note']}")
    if "default" in item:
        lines.append(f"default: {item['default']['description']}")
    if item.get("version"):
        lines.append(
            f"version {item['version']}: default {item['version_default']}, codec "
            f"{item['version_codec']}"
            + (f" ({item['version_note']})" if item["version_note"] else "")
        )
    if item.get("knobs"):
        lines.append("knobs:")
        lines += [
            f"  {k['name']}: {k['axis']} {k['range']} (default {k['default']})"
            + (f"; {k['note']}" if k["note"] else "")
            for k in item["knobs"]
        ]
    elif "knobs" in item:
        lines.append("knobs: none")
    if item.get("fixed"):
        lines.append("fixed:")
        lines += [f"  {axis}: {why}" for axis, why in item["fixed"].items()]
    if item.get("settable"):
        lines.append(
            f"settable cells: {', '.join(item['settable'][:12])}"
            + (f" and {len(item['settable']) - 12} more" if len(item["settable"]) > 12 else "")
        )
    if item.get("versions"):
        lines.append("versions:")
        lines += [
            f"  {v['versions']}: {v['default']} ({v['codec']}): {v['note']}"
            for v in item["versions"]
        ]
    if "caps_window" in item:
        lines.append(
            f"compresses: memLevel {item['mem_level']}, level {item['level']}, window "
            + (
                "the server's cap"
                if item["caps_window"]
                else f"{item['window']} (cannot be capped)"
            )
        )
    if item.get("pitfalls"):
        lines.append("pitfalls:")
        lines += [f"  - {p}" for p in item["pitfalls"]]
    if item.get("broadcast"):
        fact = item["broadcast"]
        lines.append(
            f"broadcast: {fact['fact']} ({fact['library']} {fact['version']}, {fact['file']})"
        )
    if item.get("instead"):
        lines.append(f"instead: {item['instead']}")
    if item.get("alternatives"):
        lines.append(f"alternatives: {', '.join(item['alternatives'])}")
    lines.append("sources:")
    lines += [
        f"  - {s['library']} {s['version']}, {s['file']}: {s['fact']}" for s in item["sources"]
    ]
    click.echo("\n".join(lines))
