"""One self-contained HTML page from a saved run (or two: a comparison). Never re-runs the codec.

The page is what a team attaches to a pull request, a CI run or a design review: the decision
and how sure it is, the grids with the reference cell and the choice marked, the heatmaps and
the Pareto chart, the fleet's cost, the configuration to paste and where the numbers came from.

Everything is inline: the CSS, and the charts as SVG data URIs drawn by :mod:`wsztune.plots`
(the same charts ``wsztune plot`` writes). A Content-Security-Policy that allows nothing but
inline styles and ``data:`` images makes "no request leaves the file" something the browser
enforces, not a promise: a page that tried would fail its tests. The layout is one column that
reflows on a phone, with a dark palette under ``prefers-color-scheme: dark``.
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsztune.grid import METRICS, Cell, Key, Slice, cell_key
from wsztune.results import Run
from wsztune.text import corpus_caption, format_bytes, label, plural

if TYPE_CHECKING:
    from wsztune.recommend.decide import Decision
    from wsztune.recommend.gate import Verdict

# The grids a report shows, in this order (the four: savings, size, time, memory).
GRID_METRICS = ("savings", "size", "time", "memory")
HEATMAP_METRICS = ("savings", "size", "time", "memory")

# Nothing may be fetched: no script, no font, no stylesheet, no image but data: URIs.
CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'"
)

CSS = """
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1b1f24; --muted: #59636e;
  --line: #d1d9e0; --card: #f6f8fa; --ok: #1a7f37; --bad: #cf222e; --ref: #1f4e99;
  --choice: #1a9e3a; --choice-bg: #dafbe1; --ref-bg: #ddf4ff; --code: #f6f8fa; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #3d444d; --card: #151b23;
    --ok: #3fb950; --bad: #f85149; --ref: #79c0ff; --choice: #56d364; --choice-bg: #12361f;
    --ref-bg: #0c2d6b; --code: #151b23; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 16px; }
h1 { font-size: 1.5rem; margin: 0.2em 0; }
h2 { font-size: 1.2rem; margin: 1.6em 0 0.5em; border-bottom: 1px solid var(--line); }
h3 { font-size: 1rem; margin: 1.2em 0 0.4em; }
.muted, .caption, .legend { color: var(--muted); font-size: 0.9rem; }
.verdict { font-size: 1.25rem; font-weight: 600; padding: 12px 16px; border-radius: 8px;
  background: var(--card); border-left: 6px solid var(--choice); }
.verdict.bad { border-left-color: var(--bad); }
.pill { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 0.85rem;
  background: var(--card); border: 1px solid var(--line); }
.pill.ok { color: var(--ok); border-color: var(--ok); }
.pill.bad { color: var(--bad); border-color: var(--bad); }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; margin: 6px 0; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 8px; border: 1px solid var(--line); text-align: right; white-space: nowrap; }
th { background: var(--card); }
td.name, th.name { text-align: left; }
.caption { margin: 12px 0 2px; }
td.ref { background: var(--ref-bg); outline: 2px solid var(--ref); outline-offset: -2px; }
td.choice { background: var(--choice-bg); outline: 2px solid var(--choice); outline-offset: -2px;
  font-weight: 600; }
ul { padding-left: 1.2em; }
li { margin: 0.2em 0; }
figure { margin: 12px 0; }
figure img { display: block; width: 100%; height: auto; max-width: 100%;
  background: #ffffff; border-radius: 6px; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 0.85rem; }
.charts { display: grid; gap: 12px;
  grid-template-columns: repeat(auto-fit, minmax(min(520px, 100%), 1fr)); }
pre { background: var(--code); border: 1px solid var(--line); border-radius: 6px; padding: 10px;
  overflow-x: auto; font-size: 0.85rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
@media (max-width: 600px) {
  body { font-size: 14px; }
  main { padding: 10px; }
  .verdict { font-size: 1.05rem; }
  dl { grid-template-columns: 1fr; }
  dd { margin-bottom: 6px; }
}
"""


@dataclass(frozen=True)
class ReportRun:
    """One run as the report shows it: the run, the slice shown, the decision made on it."""

    run: Run
    slice: Slice
    decision: Decision
    verdict: Verdict | None = None


def render(
    main: ReportRun,
    old: ReportRun | None = None,
    *,
    charts: bool = True,
    warnings: Sequence[str] = (),
) -> str:
    """The whole page as one string. With ``old``, a comparison: what changed from ``old``.

    ``charts=False`` leaves the images out (a smaller page; the grids stay).
    """
    run = main.run
    title = f"wsztune report: {corpus_caption(run)}"
    if old is not None:
        title = f"wsztune comparison: {old.run.meta.get('corpus', {}).get('name', 'old')} → " + (
            f"{run.meta.get('corpus', {}).get('name', 'new')}"
        )
    parts = _head(title, main.slice.description, run, warnings)
    if old is not None:
        parts += _comparison(old, main)
    parts += _decision(main, heading="Decision" if old is None else "Decision (new run)")
    parts += _grids(main)
    if charts:
        parts += _charts(main)
    if main.decision.costs is not None:
        parts += _costs(main.decision)
    parts += _snippets(main.decision)
    parts.append('<h2 id="provenance">Provenance</h2>')
    if old is not None:
        parts.append("<h3>Old run</h3>")
        parts += _provenance(old.run)
        parts.append("<h3>New run</h3>")
    parts += _provenance(run)
    return _foot(parts)


def render_axes(
    run: Run,
    chosen: Cell | None,
    reason: str,
    snippet: str = "",
    *,
    charts: bool = True,
    warnings: Sequence[str] = (),
    explanation: Sequence[str] = (),
) -> str:
    """The page of a Go run, on the library's own axes (level, takeover mode, threshold), not
    windowBits x memLevel: the choice ``recommend`` makes on them (``chosen``, None when none
    fits, ``reason`` and its ``explanation``: the clients, what it trades against the default),
    the table ``wsztune table`` prints, the chart ``wsztune plot`` draws, the stack's
    ``snippet`` and the provenance."""
    from wsztune.grid import run_axes
    from wsztune.report import AXES_HEADERS, AXES_LEGEND, axes_rows, axes_title
    from wsztune.text import axes_label

    title = f"wsztune report: {corpus_caption(run)}"
    axes = ", ".join(run_axes(run))
    parts = _head(title, f"{run.meta.get('codec', 'go')} on its own axes: {axes}", run, warnings)
    parts.append('<h2 id="decision">Decision</h2>')
    if chosen is not None:
        text = f"Recommended: {axes_label(chosen, run_axes(run))} · {reason}"
        parts.append(f'<p class="verdict" id="recommended">{escape(text)}</p>')
    else:
        parts.append(f'<p class="verdict bad" id="recommended">{escape(reason)}</p>')
    parts += [f"<p>{escape(line)}</p>" for line in explanation]
    parts.append(
        '<p class="muted">This codec is swept on its own axes, not windowBits x memLevel: '
        "its fleet cost and a --check verdict are wsztune recommend's (--connections N, "
        "--check level=N,takeover=on|off,threshold=N).</p>"
    )
    parts.append('<h2 id="grids">Cells</h2>')
    parts.append(f'<p class="caption">{escape(axes_title(run))}</p>')
    parts.append('<div class="scroll" id="grid-axes"><table>')
    parts += _table_rows(
        AXES_HEADERS, axes_rows(run, chosen), names=1,
        css=lambda row: "choice" if row[0].endswith(" *") else "",
    )  # fmt: skip
    parts.append("</table></div>")
    parts.append(
        '<p class="legend">'
        + ("* recommended. " if chosen is not None else "")
        + escape(AXES_LEGEND)
        + "</p>"
    )
    if charts:
        from wsztune import plots

        parts.append('<h2 id="charts">Charts</h2>')
        with tempfile.TemporaryDirectory(prefix="wsztune-report-") as scratch:
            for path in plots.axes_chart(run, Path(scratch), ("svg",)):
                parts.append(
                    f'<figure id="chart-axes"><img alt="Bytes on the wire, memory per '
                    f'connection and per write, per cell" src="{_data_uri(path)}"><figcaption>'
                    "Bytes on the wire (frame headers counted), memory a connection keeps and "
                    "memory per concurrent write, per cell.</figcaption></figure>"
                )
    if snippet:
        parts.append('<h2 id="configuration">Configuration</h2>')
        parts.append(f"<pre><code>{escape(snippet)}</code></pre>")
    parts.append('<h2 id="provenance">Provenance</h2>')
    parts += _provenance(run)
    return _foot(parts)


def _head(title: str, description: str, run: Run, warnings: Sequence[str]) -> list[str]:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="color-scheme" content="light dark">',
        f"<title>{escape(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body><main>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="muted">{escape(description)} · {escape(_source(run))}</p>',
    ]
    for line in warnings:
        parts.append(f'<p class="verdict bad">warning: {escape(line)}</p>')
    return parts


def _foot(parts: list[str]) -> str:
    parts.append(
        '<p class="muted">Made by wsztune from a saved run: nothing was re-measured. '
        "Sizes are exact; times are medians of CPU time on the machine named above.</p>"
    )
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _source(run: Run) -> str:
    return f"results: {run.path.name}" if run.path is not None else "results: (not saved)"


# The decision -------------------------------------------------------------------------------------


def _decision(item: ReportRun, heading: str) -> list[str]:
    from wsztune.report import comparison_rows

    decision, verdict = item.decision, item.verdict
    out = [f'<h2 id="decision">{escape(heading)}</h2>']
    if decision.chosen is not None:
        from wsztune.recommend.explain import action_words

        # The headline is the action; how sure the resampling is comes under it.
        chosen = decision.chosen
        action = action_words(decision) or f"use {label(chosen)}"
        memory = format_bytes(chosen["connection_memory"])
        text = (
            f"Recommended: {action[0].lower()}{action[1:]}: saves {chosen['savings']:.1%} of the "
            f"payload, {memory} per connection"
        )
        out.append(f'<p class="verdict" id="recommended">{escape(text)}</p>')
        robustness = decision.robustness
        share = robustness.of(chosen) if robustness is not None else None
        sure = []
        if share is not None:
            sure.append(f"{label(chosen)} chosen in {share:.1%} of {robustness.resamples:,} "  # type: ignore[union-attr]
                        "resamples of the corpus")  # fmt: skip
        if robustness is not None and robustness.savings_interval is not None:
            low, high = robustness.savings_interval
            sure.append(f"savings 95% interval {low:.1%} to {high:.1%}")
        if sure:
            out.append(f'<p class="muted">{escape(" · ".join(sure))}</p>')
    else:
        out.append(f'<p class="verdict bad" id="recommended">{escape(decision.reason)}</p>')
    if verdict is not None:
        kind = "ok" if verdict.ok else "bad"
        word = "check passed" if verdict.ok else "check failed"
        out.append(f'<p><span class="pill {kind}">{word}</span> {escape(verdict.reason)}</p>')
        if verdict.advice:
            out.append(f'<p><span class="pill">advice</span> {escape(verdict.advice)}</p>')
    headers, rows = comparison_rows(decision, verdict)
    from wsztune.recommend.constraints import MEMORY_FIGURE_WORDS

    figure = MEMORY_FIGURE_WORDS[_figure(item)]
    caption = f"memory per connection: compressor + decompressor, {figure}"
    out.append(f'<p class="caption">{escape(caption)}</p>')
    out.append('<div class="scroll"><table>')
    out += _table_rows(headers, rows, names=2)
    out.append("</table></div>")
    out.append("<ul>")
    out += [f"<li>{escape(line)}</li>" for line in decision.explanation]
    out += [f"<li><strong>warning:</strong> {escape(line)}</li>" for line in decision.warnings]
    out.append("</ul>")
    return out


def _figure(item: ReportRun) -> str:
    """``resident`` or ``allocation``: the memory the run's cells were budgeted with."""
    from wsztune.recommend.constraints import memory_figure

    return memory_figure(item.run.cells)


def _table_rows(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    names: int,
    css: Callable[[Sequence[str]], str] = lambda row: "",
) -> list[str]:
    """A table's header row and its rows, the first ``names`` columns styled as names, each
    row's cells with the class ``css(row)`` gives (the recommended row stands out)."""
    out = ["<tr>" + "".join(_th(h, i < names) for i, h in enumerate(headers)) + "</tr>"]
    for row in rows:
        out.append(
            "<tr>" + "".join(_td(v, i < names, css(row)) for i, v in enumerate(row)) + "</tr>"
        )
    return out


def _th(text: str, name: bool = False) -> str:
    return f'<th class="name">{escape(text)}</th>' if name else f"<th>{escape(text)}</th>"


def _td(text: str, name: bool = False, css: str = "") -> str:
    classes = " ".join(c for c in ("name" if name else "", css) if c)
    attribute = f' class="{classes}"' if classes else ""
    return f"<td{attribute}>{escape(text)}</td>"


# Grids --------------------------------------------------------------------------------------------


def _recommended(item: ReportRun) -> Key | None:
    chosen = item.decision.chosen
    return cell_key(chosen) if chosen is not None else None


def _grids(item: ReportRun) -> list[str]:
    from wsztune.report import grid_table, legend

    out = ['<h2 id="grids">Grids</h2>']
    recommended = _recommended(item)
    for name in GRID_METRICS:
        metric = METRICS[name]
        if name == "memory":  # the figure the run was budgeted with, not the metric's default
            metric = replace(metric, unit=f"KiB, compressor + decompressor, {_figure(item)}")
        table = grid_table(
            item.run,
            item.slice,
            metric,
            reference=item.decision.constraints.reference,
            recommended=recommended,
        )
        notes = [legend(table, reference_mark="outlined blue = "), *table.notes]
        out += _grid_html(
            f"grid-{name}",
            table.caption,
            table.window_bits,
            table.mem_levels,
            table.text,
            table.reference,
            table.recommended,
            notes,
        )
    return out


def _grid_html(
    anchor: str,
    caption: str,
    window_bits: Sequence[int],
    mem_levels: Sequence[int],
    text: Any,
    reference: Key | None,
    recommended: Key | None,
    notes: Sequence[str],
) -> list[str]:
    # The caption sits outside the scrolling box, so that a phone shows all of it.
    out = [
        f'<p class="caption">{escape(caption)}</p>',
        f'<div class="scroll" id="{anchor}"><table>',
    ]
    out.append("<tr><th>wb \\ ml</th>" + "".join(f"<th>{ml}</th>" for ml in mem_levels) + "</tr>")
    for wb in window_bits:
        cells = []
        for ml in mem_levels:
            key = (wb, ml)
            value = text(key)
            css = ""
            if key == recommended:
                css, value = "choice", f"★ {value}"
            elif key == reference:
                css = "ref"
            cells.append(_td(value, css=css))
        out.append(f"<tr><th>{wb}</th>{''.join(cells)}</tr>")
    out.append("</table></div>")
    notes = [note for note in notes if note]
    if notes:
        out.append(f'<p class="legend">{escape(" · ".join(notes))}</p>')
    return out


# Charts -------------------------------------------------------------------------------------------


def _data_uri(path: Path) -> str:
    kind = "image/svg+xml" if path.suffix == ".svg" else "image/png"
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _charts(item: ReportRun) -> list[str]:
    from wsztune import plots

    out = ['<h2 id="charts">Charts</h2>']
    recommended = _recommended(item)
    reference = item.decision.constraints.reference
    with tempfile.TemporaryDirectory(prefix="wsztune-report-") as scratch:
        directory = Path(scratch)
        path = plots.pareto(
            item.run, item.slice, directory / "pareto.svg", reference=reference,
            decision=item.decision,
        )  # fmt: skip
        out.append(
            f'<figure id="chart-pareto"><img alt="Memory per connection against compressed '
            f'size, Pareto frontier" src="{_data_uri(path)}"><figcaption>Memory per connection '
            "against compressed size: every cell, the frontier (cells nothing beats on both), "
            "the reference, the recommendation and the budget.</figcaption></figure>"
        )
        out.append('<div class="charts">')
        for name in HEATMAP_METRICS:
            metric = METRICS[name]
            if metric.is_timing and not item.run.timing_measured:
                continue
            path = plots.heatmap(
                item.run, item.slice, metric, directory / f"{name}.svg", reference=reference,
                recommended=recommended,
            )  # fmt: skip
            out.append(
                f'<figure class="heatmap" id="chart-{name}"><img alt="{escape(metric.title)} '
                f'heatmap" src="{_data_uri(path)}"></figure>'
            )
        out.append("</div>")
    if not item.run.timing_measured:
        out.append('<p class="legend">time was not measured (--no-timing): no time heatmap</p>')
    return out


# Fleet cost, snippets -----------------------------------------------------------------------------


def _costs(decision: Decision) -> list[str]:
    from wsztune.report import cost_table

    caption, headers, rows = cost_table(decision)
    out = ['<h2 id="cost">The fleet\'s cost</h2>', "<ul>"]
    out += [f"<li>{escape(line)}</li>" for line in decision.fleet]
    out.append("</ul>")
    out.append(f'<p class="caption">{escape(caption)}</p><div class="scroll"><table>')
    out += _table_rows(headers, rows, names=2)
    out.append("</table></div>")
    return out


def _snippets(decision: Decision) -> list[str]:
    if not decision.snippets:
        return []
    out = ['<h2 id="configuration">Configuration</h2>']
    for title, (_, code) in decision.snippets.items():
        out.append(f"<h3>{escape(title)}</h3><pre><code>{escape(code)}</code></pre>")
    return out


# Comparison ---------------------------------------------------------------------------------------


def _comparison(old: ReportRun, new: ReportRun) -> list[str]:
    from wsztune.report import compare_notes, compare_table

    out = ['<h2 id="changes">What changed</h2>']
    notes = compare_notes(old.run, new.run)
    rows = []
    for role, item in (("old", old), ("new", new)):
        chosen = item.decision.chosen
        rows.append(
            [
                role,
                corpus_caption(item.run),
                label(chosen) if chosen is not None else "none fits",
                f"{chosen['savings']:.1%}" if chosen is not None else "-",
                item.run.path.name if item.run.path is not None else "-",
            ]
        )
    out.append('<div class="scroll"><table>')
    headers = ["", "corpus", "recommended", "savings", "results"]
    out += _table_rows(headers, rows, names=len(headers))
    out.append("</table></div>")
    if notes:
        out.append(f'<p class="legend">{escape(" · ".join(notes))}</p>')
    for name in GRID_METRICS:
        table = compare_table(old.run, old.slice, new.run, new.slice, METRICS[name])
        out += _grid_html(
            f"change-{name}",
            table.caption,
            table.window_bits,
            table.mem_levels,
            table.text,
            None,
            _recommended(new),
            table.notes,
        )
    return out


# Provenance ---------------------------------------------------------------------------------------


def provenance(run: Run) -> list[tuple[str, str]]:
    """(what, value) pairs saying where a run's numbers came from: what every reading command
    names (:func:`wsztune.results.provenance`), plus the versions, machine and command."""
    from wsztune.results import provenance as read_provenance

    source = read_provenance(run)
    meta = run.meta
    corpus = meta.get("corpus") if isinstance(meta.get("corpus"), dict) else {}
    timing = meta.get("timing") if isinstance(meta.get("timing"), dict) else {}
    state = (
        f"partial: {source['cells']} of {source['cells_planned']} cells (interrupted)"
        if source["partial"]
        else f"complete: {source['cells']} of {source['cells_planned']} cells"
    )
    codec = " ".join(str(p) for p in (source["codec"] or "zlib", source["codec_version"]) if p)
    timed = timing.get("measured", True)
    return [
        ("run", state),
        ("results file", source["results"] or "-"),
        ("corpus", str(source["corpus"] or source["corpus_name"] or "-")),
        ("corpus sha256", str(source["corpus_sha256"] or "-")),
        (
            "corpus size",
            f"{corpus.get('messages', 0):,} messages, {corpus.get('raw_bytes', 0):,} bytes, "
            f"{_connections(corpus.get('connections'))} ({corpus.get('format', '?')})",
        ),
        ("codec", codec),
        ("stack", str(source["stack"] or "-")),
        ("timing", f"measured: {timing.get('clock', '?')}" if timed
         else "not measured (--no-timing): sizes and memory only"),  # fmt: skip
        ("wsztune", str(meta.get("wsztune_version", "?"))),
        (
            "Python, zlib",
            f"{meta.get('python_version', '?')}, zlib {meta.get('zlib_runtime_version', '?')}",
        ),
        ("machine", f"{meta.get('cpu', '?')}, {meta.get('cpu_count', '?')} cores"),
        ("command", str(meta.get("command_line", "-"))),
        ("started", str(source["started_at"] or "-")),
        ("schema", str(source["schema"])),
    ]


def _provenance(run: Run) -> list[str]:
    out = ["<dl>"]
    for what, value in provenance(run):
        out.append(f"<dt>{escape(what)}</dt><dd>{escape(value)}</dd>")
    out.append("</dl>")
    return out


def _connections(count: object) -> str:
    """``1 connection``, ``24 connections``, ``? connections`` when the run does not say."""
    return plural(count, "connection") if isinstance(count, int) else "? connections"
