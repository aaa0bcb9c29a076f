"""wsztune report: one self-contained HTML page, checked in a real headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.codecs.test_go import LIBRARIES_PRESENT
from tests.support import chromium
from wsztune import report_html, results
from wsztune.cli import cli
from wsztune.grid import select_slice
from wsztune.recommend import Constraints, recommend

pytestmark = pytest.mark.skipif(not chromium.available(), reason="chromium is not installed")

DEMO_RUN = Path(__file__).resolve().parent.parent / "results" / "example-demo.json"


def invoke(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(arg) for arg in args])


@pytest.fixture(scope="module")
def browser() -> Iterator[chromium.Browser]:
    """One Chromium for every page of this module (a start costs seconds)."""
    with chromium.Browser() as started:
        yield started


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed demo run's report, budget and fleet given: every section present."""
    out = tmp_path_factory.mktemp("report") / "demo.html"
    result = invoke(
        "report", "--results", DEMO_RUN, "-o", out, "--max-memory", "64KiB",
        "--connections", "50000", "--messages-per-second", "2000", "--check", "12:5",
        "--strict",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    assert "wsztune: read" in result.stderr  # the run it read, named
    return out


def test_page_holds_every_section_and_nothing_external(demo_report: Path) -> None:
    page = demo_report.read_text(encoding="utf-8")
    for anchor in (
        "decision", "recommended", "grids", "grid-savings", "grid-size", "grid-time",
        "grid-memory", "charts", "chart-pareto", "chart-memory", "cost", "configuration",
        "provenance",
    ):  # fmt: skip
        assert f'id="{anchor}"' in page, anchor
    assert "Recommended: change 12:5 (websockets&#x27; default) to 13:2: saves" in page
    assert "chosen in 100.0% of 1,000 resamples" in page
    assert "95% interval" in page
    assert "check failed" in page  # --strict: 12:5 is no longer the choice on the demo at 64 KiB
    assert "ServerPerMessageDeflateFactory" in page  # the stack's snippet
    assert "9b98bf7c4c2e65bcb2553d713aba59d80814dace616065bf97fa072367b40598" in page
    assert "complete: 63 of 63 cells" in page
    # Self-contained: no URL the browser could fetch; the CSP forbids it anyway.
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", page)
    assert "Content-Security-Policy" in page
    # The choice and the reference are marked in every grid.
    assert page.count('class="choice"') == 4 and page.count('class="ref"') == 4


def test_report_renders_in_chromium_without_errors_or_requests(
    demo_report: Path, browser: chromium.Browser
) -> None:
    page = browser.view(demo_report)
    assert page.problems(expect_text=("to 13:2: saves", "Provenance"), min_images=5) == []
    assert page.dom["images"] == 5  # the Pareto chart and four heatmaps


def test_report_reads_on_a_phone_in_dark_mode(
    demo_report: Path, browser: chromium.Browser, tmp_path: Path
) -> None:
    page = browser.view(demo_report, width=390, height=844, mobile=True, dark=True)
    assert page.problems(expect_text=("to 13:2: saves",), min_images=5) == []
    # Wide grids scroll inside their box: the page itself never scrolls sideways.
    assert page.dom["scroll_width"] <= page.dom["inner_width"]
    red, green, blue = (int(v) for v in re.findall(r"\d+", page.dom["background"])[:3])
    assert red + green + blue < 150, page.dom["background"]  # a dark background
    (tmp_path / "phone-dark.png").write_bytes(page.screenshot)


@pytest.mark.parametrize(
    "body",
    [
        "",  # blank
        '<p>Recommended: 13:2</p><img src="http://198.51.100.7/chart.png">',  # leaves the file
        "<p>Recommended: 13:2</p><script>throw new Error('broken')</script>",  # breaks
    ],
    ids=["blank", "external", "script-error"],
)
def test_the_browser_check_fails_a_blank_or_broken_page(
    tmp_path: Path, browser: chromium.Browser, body: str
) -> None:
    """The checks above are only worth something if they fail a bad page."""
    bad = tmp_path / "bad.html"
    bad.write_text(f"<!DOCTYPE html><html><body>{body}</body></html>", encoding="utf-8")
    assert browser.view(bad).problems(expect_text=("Recommended: 13:2",)) != []


def test_comparison_of_two_runs(
    tmp_path: Path, small_run_path: Path, browser: chromium.Browser
) -> None:
    out = tmp_path / "compare.html"
    result = invoke("report", DEMO_RUN, small_run_path, "-o", out, "--no-charts")
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert 'id="changes"' in page and 'id="change-size"' in page
    assert "the corpora differ" in page
    assert "<h3>Old run</h3>" in page and "<h3>New run</h3>" in page
    assert "<img" not in page
    view = browser.view(out)
    assert view.problems(expect_text=("What changed", "Decision (new run)")) == []


def test_render_from_a_run_without_timing_leaves_out_the_time_heatmap(
    small_run_path: Path,
) -> None:
    run = results.load(small_run_path)
    for cell in run.cells:
        for name in list(cell):
            if "seconds" in name or name.startswith("timing"):
                cell[name] = None
    run.meta["timing"] = {"measured": False}
    slice_ = select_slice(run)
    decision = recommend(slice_, Constraints())
    page = report_html.render(report_html.ReportRun(run, slice_, decision))
    assert 'id="chart-time"' not in page and 'id="chart-savings"' in page
    assert "no time heatmap" in page
    assert "not measured (--no-timing)" in page


def test_partial_run_is_said_in_the_page(tmp_path: Path, small_run_path: Path) -> None:
    document = results.load(small_run_path)
    document.meta["partial"] = True
    document.cells = document.cells[:-3]  # interrupted 3 cells before the end
    document.meta["cells"] = len(document.cells)
    partial = results.save(document, tmp_path / "partial.json")
    out = tmp_path / "partial.html"
    result = invoke("report", "--results", partial, "-o", out, "--no-charts")
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "partial run" in page and "partial: " in page


def test_default_output_is_next_to_the_run(tmp_path: Path, small_run_path: Path) -> None:
    copy = tmp_path / "run.json"
    copy.write_bytes(small_run_path.read_bytes())
    result = invoke("report", copy, "--no-charts")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run.html").is_file()


def test_usage_errors_are_one_line(tmp_path: Path, small_run_path: Path) -> None:
    result = invoke("report", small_run_path, small_run_path, small_run_path)
    assert result.exit_code == 2 and "give one run, or two" in result.output
    result = invoke("report", small_run_path, "--results", small_run_path)
    assert result.exit_code == 2
    result = invoke("report", tmp_path / "missing.json")
    assert result.exit_code == 2
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = invoke("report", small_run_path, "-o", blocker / "x.html", "--no-charts")
    assert result.exit_code == 2 and "cannot write the report" in result.output


@pytest.mark.parametrize(
    "run_path",
    sorted(p for p in DEMO_RUN.parent.glob("example-*.json") if p != DEMO_RUN),
    ids=lambda p: p.stem,
)
def test_every_committed_example_run_reports_cleanly(
    run_path: Path, tmp_path: Path, browser: chromium.Browser
) -> None:
    out = tmp_path / "report.html"
    result = invoke("report", run_path, "-o", out, "--max-memory", "64KiB")
    assert result.exit_code == 0, result.output
    page = browser.view(out)
    assert page.problems(expect_text=("Recommended:", "Provenance"), min_images=4) == []


def test_the_verdict_is_the_gates(tmp_path: Path) -> None:
    """Without --strict a better setting is advice, as in `recommend --check`; a baseline run
    is compared with as `recommend --baseline` does."""
    out = tmp_path / "advice.html"
    result = invoke(
        "report", "--results", DEMO_RUN, "-o", out, "--no-charts", "--max-memory", "64KiB",
        "--check", "12:5", "--baseline", DEMO_RUN,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "check passed" in page and "as good as at the baseline" in page
    assert '<span class="pill">advice</span>' in page
    result = invoke("report", "--results", DEMO_RUN, "--strict", "-o", out)
    assert result.exit_code == 2 and "add one" in result.output


@pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")
@pytest.mark.skipif(not LIBRARIES_PRESENT, reason="the Debian Go websocket libraries are missing")
def test_a_go_run_reports_on_its_own_axes(tmp_path: Path, browser: chromium.Browser) -> None:
    """A gorilla run has level x threshold cells, not windowBits x memLevel: the page shows the
    choice `recommend` makes on them, the table `table` prints and the chart `plot` draws."""
    run_path = tmp_path / "go.json"
    result = invoke(
        "run", DEMO_RUN.parent.parent / "corpora" / "chat.har", "--server", "gorilla",
        "--level", "1,9", "--no-timing", "-o", run_path, "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    advice = invoke("recommend", "--results", run_path, "--json")
    assert advice.exit_code == 0, advice.output
    chosen = json.loads(advice.stdout)["chosen"]
    out = tmp_path / "go.html"
    result = invoke("report", run_path, "-o", out)
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert f"Recommended: level {chosen['level']}" in page
    assert "windowBits" in page and "wb \\ ml" not in page  # said to be absent, not drawn
    assert f"level {chosen['level']} *" in page and "SetCompressionLevel" in page
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", page)
    view = browser.view(out)
    assert view.problems(expect_text=("Recommended: level", "Provenance"), min_images=1) == []
    assert view.dom["images"] == 1  # the bars `plot` draws for a Go run
    # What a Go run has no answer for is a one-line usage error, not a traceback.
    for args in (("--check", "12:5"), (DEMO_RUN,)):
        refused = invoke("report", run_path, *args, "-o", tmp_path / "no.html")
        assert refused.exit_code == 2, refused.output
        assert "Go run" in refused.output and "Traceback" not in refused.output
        assert not (tmp_path / "no.html").exists()


def test_a_one_cell_stack_page_reads_right(tmp_path: Path, browser: chromium.Browser) -> None:
    """Issue 26: the headline is the action, the legend names only what is drawn (the star's
    cell is also the default: one entry), the corpus of one connection is "1 connection"."""
    corpus = Path(__file__).resolve().parent.parent / "corpora" / "api.jsonl"
    run, out = tmp_path / "run.json", tmp_path / "page.html"
    assert invoke("run", corpus, "--server", "uvicorn", "--no-timing", "-q", "-o", run
                  ).exit_code == 0  # fmt: skip
    assert invoke("report", "--results", run, "--max-memory", "64KiB", "-o", out).exit_code == 0
    page = out.read_text(encoding="utf-8")
    headline = re.search(r'id="recommended">([^<]*)<', page).group(1)  # type: ignore[union-attr]
    assert headline.startswith("Recommended: keep 12:5, uvicorn --ws auto&#x27;s default: saves")
    assert "outlined blue" not in page
    assert "★ = 12:5, recommended and uvicorn --ws auto&#x27;s default" in page
    assert "1 connection (" in page and "1 connections" not in page
    assert browser.view(out).problems(expect_text=("Recommended: keep 12:5",), min_images=4) == []


@pytest.mark.parametrize("figure", ["resident", "allocation"])
def test_captions_name_the_memory_figure_the_budget_used(
    tmp_path: Path, small_run_path: Path, figure: str
) -> None:
    """The decision table's and the memory grid's captions say which memory the cells show:
    resident by default, the allocation with --memory allocation; never the old "observed"."""
    page = tmp_path / f"{figure}.html"
    args = ["report", small_run_path, "-o", page, "--no-charts", "--max-memory", "64KiB"]
    result = invoke(*args, *(["--memory", "allocation"] if figure == "allocation" else []))
    assert result.exit_code == 0, result.output
    captions = re.findall(r'<p class="caption">([^<]*)</p>', page.read_text())
    memory = [caption for caption in captions if caption.startswith("memory per connection")]
    assert memory[0].startswith(f"memory per connection: compressor + decompressor, {figure} (")
    assert f"(KiB, compressor + decompressor, {figure})" in memory[1]
    assert not any("observed" in caption for caption in memory)
