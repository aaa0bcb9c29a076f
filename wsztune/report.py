"""Tables from a Run: terminal (rich), markdown and CSV. Never re-runs the codec."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wsztune.results import Run

if TYPE_CHECKING:
    from wsztune.stats import CorpusStats

REFERENCE = (12, 5)  # python-websockets' serve() default: 12 window bits, memLevel 5


def format_bytes(value: float) -> str:
    """Human-readable bytes with binary units: ``317.7 KiB``."""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _summary_rows(run: Run) -> list[tuple[str, dict[str, Any]]]:
    smallest = sorted(
        run.cells, key=lambda cell: (cell["compressed_bytes"], cell["connection_memory"])
    )
    rows = [("smallest", cell) for cell in smallest[:3]]
    reference = run.find(*REFERENCE)
    if reference is not None:
        rows.append(("websockets default", reference))
    return rows


def print_run_summary(run: Run) -> None:
    """A compact table after ``wsztune run``: the three smallest cells and 12:5."""
    from rich.table import Table

    from wsztune.console import stdout_console

    corpus = run.meta["corpus"]
    table = Table(
        title=(
            f"{corpus['messages']:,} messages, {format_bytes(corpus['raw_bytes'])} raw, "
            f"{len(run.cells)} cells"
        )
    )
    for header in ("", "wb:ml", "compressed", "savings", "compress", "per connection"):
        table.add_column(header, justify="left" if header in ("", "wb:ml") else "right")
    for label, cell in _summary_rows(run):
        table.add_row(
            label,
            f"{cell['window_bits']}:{cell['mem_level']}",
            f"{cell['compressed_bytes']:,} B",
            f"{cell['savings']:.1%}",
            f"{cell['compress_seconds'] * 1000:.1f} ms",
            format_bytes(cell["connection_memory"]),
        )
    stdout_console().print(table)


def render_corpus_stats(stats: CorpusStats) -> None:
    """Print ``wsztune corpus stats`` as a two-column rich table."""
    from rich.table import Table

    from wsztune.console import stdout_console

    def share(part: int, whole: int) -> str:
        return f"{part:,} ({part / whole:.0%})" if whole else "0"

    sizes = stats.sizes
    table = Table(title=f"{stats.path} ({stats.format})", show_header=False)
    table.add_column(justify="left")
    table.add_column(justify="right")
    rows = [
        ("messages", f"{stats.messages:,}"),
        ("connections", f"{stats.connections:,}"),
        ("server to client", share(stats.server_messages, stats.messages)),
        ("client to server", share(stats.client_messages, stats.messages)),
        ("raw bytes", f"{stats.raw_bytes:,} ({format_bytes(stats.raw_bytes)})"),
        ("JSON text", share(stats.json_messages, stats.messages)),
        ("other text", share(stats.text_messages, stats.messages)),
        ("binary", share(stats.binary_messages, stats.messages)),
        (
            "size min / median / mean",
            f"{sizes.minimum:,} / {sizes.median:,.0f} / {sizes.mean:,.0f} B",
        ),
        ("size p95 / p99 / max", f"{sizes.p95:,} / {sizes.p99:,} / {sizes.maximum:,} B"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    stdout_console().print(table)
