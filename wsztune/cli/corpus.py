"""``wsztune corpus``: look at a corpus before sweeping it."""

from __future__ import annotations

from pathlib import Path

import click

from wsztune.cli.common import corpus_options


@click.group()
def corpus() -> None:
    """Look at a corpus before sweeping it."""


@corpus.command("stats")
@corpus_options(required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def corpus_stats(corpus_path: Path, corpus_format: str | None, as_json: bool) -> None:
    """Messages, connections, directions, sizes and kinds (JSON, text, binary) of CORPUS."""
    import json

    from wsztune import corpus as corpus_module
    from wsztune.stats import describe_corpus

    stats = describe_corpus(corpus_module.load(corpus_path, corpus_format))
    if as_json:
        click.echo(json.dumps(stats.to_dict(), indent=2))
        return
    from wsztune.report import render_corpus_stats

    render_corpus_stats(stats)


