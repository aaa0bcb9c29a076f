"""``wsztune corpus``: look at a corpus before sweeping it; scrub it before committing it."""

from __future__ import annotations

from pathlib import Path

import click

from wsztune.cli.common import corpus_options, refuse_overwriting_inputs, same_file


@click.group()
def corpus() -> None:
    """Look at a corpus before sweeping it; scrub it before committing it."""


@corpus.command("stats")
@corpus_options(required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--broadcast-window",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="The same payload sent to several connections within this many seconds of its first "
    "delivery counts as one broadcast (docs/broadcast.md).",
)
def corpus_stats(
    corpus_path: Path, corpus_format: str | None, as_json: bool, broadcast_window: float
) -> None:
    """Messages, connections, directions, sizes, kinds (JSON, text, binary), rates and
    broadcasts (fan-out) of CORPUS."""
    import json

    from wsztune import corpus as corpus_module
    from wsztune.stats import describe_corpus

    stats = describe_corpus(corpus_module.load(corpus_path, corpus_format), broadcast_window)
    if as_json:
        click.echo(json.dumps(stats.to_dict(), indent=2))
        return
    from wsztune.console import stdout_console
    from wsztune.report import corpus_stats_table

    stdout_console().print(corpus_stats_table(stats))


@corpus.command("scrub")
@corpus_options(required=True)
@click.option(
    "-o",
    "--output",
    "output_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Where to write the scrubbed corpus (a records file).",
)
@click.option(
    "--mode",
    type=click.Choice(["tokens", "permute"]),
    default="tokens",
    show_default=True,
    help="tokens: replace keys and values token by token; permute: a keyed letter and "
    "digit permutation of everything (only obscures).",
)
@click.option(
    "--key",
    metavar="TEXT",
    help="Secret key (8+ characters): the same key gives the same output. Random when omitted.",
)
@click.option(
    "--key-file",
    type=click.Path(path_type=Path),
    help="Read the key from this file, or create it (random key, mode 0600) if it does not "
    "exist: the same mapping on every run. Never commit it.",
)
@click.option(
    "--overwrite", is_flag=True, help="Replace -o if it exists (refused otherwise)."
)
@click.option(
    "--check",
    is_flag=True,
    help="Also sweep the 63-cell grid (sizes only) on both, print the worst cell's change, "
    "and exit 1 when it is over the mode's goal (2 points of savings; permute 0.5%).",
)
def corpus_scrub(
    corpus_path: Path,
    corpus_format: str | None,
    output_path: Path,
    mode: str,
    key: str | None,
    key_file: Path | None,
    overwrite: bool,
    check: bool,
) -> None:
    """Write a copy of CORPUS safe to commit: content out, compressibility kept.

    Connections, directions, times and every message's length stay; see docs/capture.md
    ("Scrubbing a capture") for what each mode protects.
    """
    from wsztune import corpus as corpus_module
    from wsztune import scrub

    if key is not None and key_file is not None:
        raise click.UsageError("choose one of --key and --key-file")
    refuse_overwriting_inputs(output_path, [("the input corpus", corpus_path)])
    if key_file is not None and any(
        same_file(key_file, other) for other in (output_path, corpus_path)
    ):
        raise click.UsageError("--key-file must be a file of its own, not the input or -o")
    scrub.check_output(output_path, overwrite)
    secret = scrub.parse_key(key)
    key_note = "" if key else ", random key (not kept)"
    if key_file is not None:
        secret, created = scrub.key_from_file(key_file)
        key_note = f", key {'created in' if created else 'read from'} {key_file}"
    original = corpus_module.load(corpus_path, corpus_format)
    scrubbed, report = scrub.scrub_corpus(original, mode, secret)
    scrub.write_records(scrubbed.messages, output_path)
    kinds = f"{report.json_messages:,} JSON, {report.text_messages:,} text, "
    kinds += f"{report.binary_messages:,} binary"
    click.echo(
        f"scrubbed {report.messages:,} messages ({kinds}), {report.raw_bytes:,} bytes, "
        f"mode {mode}{key_note}"
    )
    if mode == "tokens":
        click.echo(
            f"{report.distinct_tokens:,} distinct tokens replaced or kept; "
            f"{report.remapped_values:,} values mapped again so that no input value reappears"
        )
    else:
        click.echo(
            f"permutation {report.permutation + 1} of the key's {scrub.PERMUTE_CANDIDATES}: the "
            "one that moved compressed sizes least (measured at memLevel 1-3)"
        )
    missed = None
    if check:
        comparison = scrub.compare_sizes(original, scrubbed)
        worst = comparison.worst(mode)
        click.echo(
            f"check: worst cell {worst.label}: savings {worst.savings_points:+.2f} points, "
            f"compressed size {worst.size_percent:+.2f}% "
            f"({worst.original_bytes:,} B -> {worst.scrubbed_bytes:,} B)"
        )
        moved = worst.savings_points if mode == "tokens" else worst.size_percent
        if abs(moved) > scrub.GOALS[mode]:
            unit = "points of savings" if mode == "tokens" else "% of compressed size"
            missed = (
                f"the scrub moved compressibility by {abs(moved):.2f} {unit}, over its "
                f"{scrub.GOALS[mode]:g} goal: a sweep of {output_path} would not stand for "
                "the capture"
                + (
                    "; try --mode permute (it only obscures)"
                    if mode == "tokens"
                    else "; try another --key"
                )
            )
    click.echo(f"written: {output_path}")
    if missed is not None:
        from wsztune.errors import CheckFailed

        raise CheckFailed(f"check failed: {missed}")
