"""``wsztune live``: check the model against a real server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from wsztune.cli.common import client_window_bits_option, corpus_options


@click.command()
@corpus_options(required=False)
@click.option("--setting", "setting_text", metavar="WB:ML", help="Both at once, e.g. 12:5.")
@click.option("--window-bits", type=int, help="Server window bits, 9-15 [default: 12].")
@click.option("--mem-level", type=int, help="memLevel, 1-9 [default: 5].")
@client_window_bits_option
@click.option(
    "--connections",
    "-n",
    type=int,
    default=10,
    show_default=True,
    help="Live connections, opened one at a time and held open (the first is discarded).",
)
@click.option(
    "--tolerance",
    default="10%",
    show_default=True,
    help="How far live memory may be from the model: 10% or 0.1.",
)
@click.option(
    "--timeout",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds any one step (a handshake plus one connection's replay) may take.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def live(
    corpus_path: Path | None,
    corpus_format: str | None,
    setting_text: str | None,
    window_bits: int | None,
    mem_level: int | None,
    client_window_bits: int | None,
    connections: int,
    tolerance: str,
    timeout: float,
    as_json: bool,
) -> None:
    """Check the model against a real websockets server on 127.0.0.1.

    A python-websockets server with the setting listens on a loopback port; a separate client
    process opens --connections connections and both replay CORPUS (server-direction messages
    from the server, client-direction ones from the client). Compared with the model: the
    compressed bytes sent and received (must be equal) and the server's memory per connection
    (tracemalloc, compression on minus off; must be within --tolerance). RSS per connection
    is shown but not checked. Exit code 0 when both agree, 1 when not.

    Without a setting, websockets' defaults: 12:5.
    """
    import json

    from wsztune import corpus as corpus_module
    from wsztune import live as live_module
    from wsztune.codec import Setting, parse_setting
    from wsztune.errors import CheckFailed, SettingError
    from wsztune.recommend import parse_fraction

    # Validate every option before reading anything, so a typo costs nothing.
    if setting_text is not None:
        if window_bits is not None or mem_level is not None:
            raise click.UsageError("give --setting or --window-bits/--mem-level, not both")
        window_bits, mem_level = parse_setting(setting_text)
    setting = Setting(
        window_bits if window_bits is not None else 12,
        mem_level if mem_level is not None else 5,
        client_window_bits=client_window_bits,
    )
    fraction = parse_fraction(tolerance, "--tolerance")
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

    if corpus_path is None:
        corpus_path = corpus_module.demo_corpus_path()
    corpus = corpus_module.load(corpus_path, corpus_format)
    result = live_module.run_live(
        corpus, setting, connections=connections, tolerance=fraction, timeout=timeout
    )
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        _print_live(result)
    if not result.passed:
        reasons = []
        if not result.bytes_equal:
            reasons.append(f"bytes differ by {result.live_bytes - result.model_bytes:+,}")
        if not result.memory_within_tolerance:
            reasons.append(
                f"memory per connection differs by {result.memory_difference:+.1%} "
                f"(tolerance {result.tolerance:.0%})"
            )
        raise CheckFailed(f"live check failed at {setting.label}: {'; '.join(reasons)}")


def _print_live(result: Any) -> None:
    from rich.table import Table

    from wsztune.console import stdout_console

    def kib(value: float) -> str:
        return f"{value / 1024:,.1f} KiB"

    table = Table(
        title=(
            f"wsztune live {result.window_bits}:{result.mem_level}"
            + (
                f" (client bits {result.client_window_bits})"
                if result.client_window_bits != result.window_bits
                else ""
            )
            + f", {result.connections} connections, {result.corpus['name']}"
        ),
        title_justify="left",
    )
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
    table.add_row(
        "memory/conn, compression",
        kib(result.model_connection_memory),
        kib(result.live_connection_memory),
        f"{result.memory_difference:+.1%}",
    )
    table.add_row("memory/conn, whole", "", kib(result.live_connection_memory_with_baseline), "")
    table.add_row("memory/conn, uncompressed", "", kib(result.live_baseline_connection_memory), "")
    table.add_row(
        "RSS/conn, compression (*)", "", kib(result.live_rss_compression_per_connection), ""
    )
    console = stdout_console()
    console.print(table)
    console.print("(*) psutil, noisy: shown, not checked")
    console.print(f"replay: {result.replay}; raw payload {result.raw_bytes:,} B")
    for note in result.notes:
        console.print(f"note: {note}")
    verdict = "[green]PASS[/]" if result.passed else "[red]FAIL[/]"
    console.print(
        f"{verdict}: bytes {'equal' if result.bytes_equal else 'differ'}, memory "
        f"{result.memory_difference:+.1%} (tolerance {result.tolerance:.0%}); websockets "
        f"{result.websockets_version}, zlib {result.zlib_version}, {result.duration_seconds:.1f} s"
    )


