"""table, plot, recommend, compare through the CLI, on small real runs made in the tests."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pandas
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from wsztune import results
from wsztune.cli import cli
from wsztune.results import CELL_FIELD_NAMES


def stderr_lines(result: object) -> list[str]:
    """stderr without the line naming the run read (every reading command prints one)."""
    return [line for line in result.stderr.splitlines() if not line.startswith("wsztune: read ")]


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, [str(arg) for arg in args], env=env)


def markdown_tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Every markdown table in ``text``: header cells and body rows."""
    tables, current = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            current.append([cell.strip() for cell in line.strip("|").split("|")])
        elif current:
            header, align, *rows = current
            assert all(set(cell) <= set("-:") for cell in align)
            assert all(len(row) == len(header) for row in rows)
            tables.append((header, rows))
            current = []
    return tables


@pytest.fixture(scope="module")
def restricted_run(tmp_path_factory: pytest.TempPathFactory, chat_corpus_path: Path) -> Path:
    """A real run made through the CLI, restricted to windowBits 13-14 x memLevel 4, 6."""
    out = tmp_path_factory.mktemp("restricted") / "chat-13-14.json"
    result = invoke(
        "run", chat_corpus_path, "--window-bits", "13-14", "--mem-level", "4,6",
        "--repeat", "1", "--min-sample-time", "0", "-j", "1", "-q", "-o", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output + result.stderr
    return out


# table ------------------------------------------------------------------------------------------


def test_table_markdown_rows_and_columns(small_run_path: Path) -> None:
    result = invoke("table", "--results", small_run_path, "--markdown")
    assert result.exit_code == 0, result.stderr
    tables = markdown_tables(result.stdout)
    assert len(tables) == 3  # savings, time, memory
    for header, rows in tables:
        assert header == ["wb \\ ml", "1", "3", "5", "8"]
        assert [row[0].strip("*") for row in rows] == ["9", "10", "11", "12", "13"]
    assert "★" in result.stdout  # the recommended cell is marked
    run = results.load(small_run_path)
    header, rows = tables[0]
    assert rows[0][1] == f"{run.find(9, 1)['savings']:.1%}"


def test_table_relative_markdown(small_run_path: Path) -> None:
    result = invoke(
        "table", "--results", small_run_path, "--markdown", "--metric", "size", "--relative-to"
    )
    assert result.exit_code == 0, result.stderr
    [(header, rows)] = markdown_tables(result.stdout)
    assert rows[3][3] == "**=**"  # 12:5 against itself
    assert all(cell.strip("*★ ")[0] in "+-=" for row in rows for cell in row[1:])


def test_table_rich_default(small_run_path: Path) -> None:
    result = invoke("table", "--results", small_run_path)
    assert result.exit_code == 0, result.stderr
    assert "savings" in result.stdout and "memory per connection" in result.stdout
    assert "◆" in result.stdout and "websockets' default" in result.stdout


def test_table_csv(small_run_path: Path) -> None:
    result = invoke("table", "--results", small_run_path, "--csv")
    assert result.exit_code == 0, result.stderr
    frame = pandas.read_csv(io.StringIO(result.stdout))
    assert list(frame.columns) == list(CELL_FIELD_NAMES)
    assert len(frame) == 20


def test_table_on_a_restricted_grid(restricted_run: Path) -> None:
    result = invoke("table", "--results", restricted_run, "--markdown", "--relative-to", "12:5")
    assert result.exit_code == 0, result.stderr
    assert "12:5 is not in this run" in result.stdout
    for header, rows in markdown_tables(result.stdout):
        assert header == ["wb \\ ml", "4", "6"]
        assert [row[0].strip("*") for row in rows] == ["13", "14"]


def test_table_warns_about_a_partial_run(small_run_path: Path, tmp_path: Path) -> None:
    document = json.loads(small_run_path.read_text())
    document["meta"]["partial"] = True
    document["cells"] = document["cells"][:7]
    document["meta"]["cells"] = 7
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(document))
    result = invoke("table", "--results", partial, "--markdown", "--metric", "size")
    assert result.exit_code == 0, result.stderr
    assert "warning: partial run" in result.stderr
    [(_, rows)] = markdown_tables(result.stdout)
    assert rows[-1][-1] == "·"


def test_table_reads_the_newest_run(small_run_path: Path, tmp_path: Path) -> None:
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "x.json").write_bytes(small_run_path.read_bytes())
    result = invoke("table", "--results-dir", tmp_path / "results", "--markdown")
    assert result.exit_code == 0, result.stderr
    assert len(markdown_tables(result.stdout)) == 3


def test_table_usage_errors(small_run_path: Path, tmp_path: Path) -> None:
    result = invoke("table", "--results-dir", tmp_path)
    assert result.exit_code == 2 and "no results" in result.stderr
    result = invoke("table", "--results", small_run_path, "--csv", "--markdown")
    assert result.exit_code == 2
    assert len(stderr_lines(result)) == 1


# plot -------------------------------------------------------------------------------------------


def test_plot_writes_real_images(small_run_path: Path, tmp_path: Path) -> None:
    result = invoke(
        "plot", "--results", small_run_path, "-o", tmp_path, "--metric", "savings",
        "--metric", "memory", "--max-memory", "64KiB",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    paths = [Path(line) for line in result.stdout.split()]
    assert [p.name for p in paths] == [
        "chat-run-savings.png",
        "chat-run-memory.png",
        "chat-run-pareto.png",
    ]
    for path in paths:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size[0] >= 500 and image.size[1] >= 300


def test_plot_svg_next_to_the_run(restricted_run: Path) -> None:
    result = invoke("plot", "--results", restricted_run, "--format", "svg", "--metric", "time")
    assert result.exit_code == 0, result.stderr
    paths = [Path(line) for line in result.stdout.split()]
    assert all(p.parent == restricted_run.parent and p.suffix == ".svg" for p in paths)
    assert all(p.read_text().lstrip().startswith("<?xml") for p in paths)


# recommend --------------------------------------------------------------------------------------


def test_recommend_text(small_run_path: Path) -> None:
    result = invoke("recommend", "--results", small_run_path, "--max-memory", "64KiB")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Recommended:" in out and "ServerPerMessageDeflateFactory(" in out
    assert "perMessageDeflate" in out and "DEDICATED_COMPRESSOR_" in out


def test_recommend_json_and_fleet(small_run_path: Path) -> None:
    result = invoke(
        "recommend", "--results", small_run_path, "--max-memory", "65536B", "--json",
        "--connections", "1000",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["connection_memory"] <= 65536
    assert {"window_bits", "mem_level", "compressed_bytes", "savings", "reason"} <= set(document)
    assert document["fleet"] and "check" not in document


def test_recommend_check_exit_codes(small_run_path: Path) -> None:
    base = ("recommend", "--results", small_run_path, "--max-memory", "64KiB", "--json")
    chosen = json.loads(invoke(*base).stdout)
    setting = f"{chosen['window_bits']}:{chosen['mem_level']}"

    passed = invoke(*base, "--check", setting)
    assert passed.exit_code == 0
    assert json.loads(passed.stdout)["check"]["ok"] is True

    run = results.load(small_run_path)
    over = next(c for c in run.cells if c["connection_memory"] > 65536)
    failed = invoke(*base, "--check", f"{over['window_bits']}:{over['mem_level']}")
    assert failed.exit_code == 1
    assert json.loads(failed.stdout)["check"]["ok"] is False
    assert len(stderr_lines(failed)) == 1 and "budget" in failed.stderr

    # A better setting is advice by default, a failure with --strict (the original gate).
    worst = invoke(*base, "--check", "9:1")
    assert worst.exit_code == 0
    check = json.loads(worst.stdout)["check"]
    assert check["ok"] is True and check["mode"] == "advice"
    assert "resamples (needs 95%" in check["advice"]
    strict = invoke(*base, "--check", "9:1", "--strict")
    assert strict.exit_code == 1 and "resamples (needs 95%" in strict.stderr
    assert json.loads(strict.stdout)["check"]["kind"] == "better"


@pytest.mark.parametrize(
    "args",
    [
        ("--max-memory", "64K"),  # ambiguous unit
        ("--max-memory", "lots"),
        ("--check", "15:5"),  # outside the run's grid (9-13)
        ("--check", "12"),
        ("--tolerance", "5"),
    ],
)
def test_recommend_usage_errors_exit_2(small_run_path: Path, args: tuple[str, ...]) -> None:
    result = invoke("recommend", "--results", small_run_path, *args)
    assert result.exit_code == 2, result.output
    assert len(stderr_lines(result)) == 1
    assert stderr_lines(result)[0].startswith("wsztune: error:")


def test_recommend_grid_error_names_the_range(small_run_path: Path) -> None:
    result = invoke("recommend", "--results", small_run_path, "--check", "15:5")
    assert "windowBits 9-13" in result.stderr and "memLevel 1,3,5,8" in result.stderr


def test_recommend_without_a_run_exits_2(tmp_path: Path) -> None:
    result = invoke("recommend", "--results-dir", tmp_path, "--max-memory", "64KiB")
    assert result.exit_code == 2 and "no results" in result.stderr


def test_recommend_nothing_fits_exits_1(small_run_path: Path) -> None:
    result = invoke("recommend", "--results", small_run_path, "--max-memory", "1KiB")
    assert result.exit_code == 1
    assert "closest" in result.stdout and "closest" in result.stderr


def test_recommend_appends_a_job_summary(small_run_path: Path, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    result = invoke(
        "recommend", "--results", small_run_path, "--max-memory", "64KiB", "--check", "9:1",
        "--strict", env={"GITHUB_STEP_SUMMARY": str(summary)},
    )  # fmt: skip
    assert result.exit_code == 1
    text = summary.read_text()
    assert text.startswith("earlier step\n") and "### wsztune recommend" in text
    assert "❌" in text
    assert "memory is per connection (compressor + decompressor, resident)" in text
    [(header, rows)] = markdown_tables(text)
    assert header[1:] == ["wb:ml", "memory", "compressed", "savings", "compress"]
    assert any(row[0].startswith("checked") and row[1] == "9:1" for row in rows)


def test_recommend_explains_a_constructed_cliff_without_paying_for_it(tmp_path: Path) -> None:
    from tests.recommend.test_recommend import cliff_corpus

    corpus = cliff_corpus(tmp_path / "cliff.jsonl")
    out = tmp_path / "cliff.json"
    made = invoke(
        "run", corpus, "--window-bits", "10-13", "--mem-level", "4,8", "--repeat", "1",
        "--min-sample-time", "0", "-j", "1", "-q", "-o", out,
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    result = invoke("recommend", "--results", out, "--max-memory", "64KiB", "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    # 11:4 stays the smallest in every resample: chosen, its cliff edge only explained.
    assert (document["window_bits"], document["mem_level"]) == (11, 4)
    cliffs = {entry["setting"]: entry["neighbour"] for entry in document["cliffs"]}
    assert cliffs["11:4"] == "10:4"
    assert document["robustness"]["chosen_share"] == 1.0
    check = invoke("recommend", "--results", out, "--max-memory", "64KiB", "--check", "11:4")
    assert check.exit_code == 0  # shipping it passes, with a note
    assert "cliff edge" in check.stdout


# compare ----------------------------------------------------------------------------------------


def test_compare_markdown(small_run_path: Path, restricted_run: Path) -> None:
    result = invoke("compare", small_run_path, restricted_run, "--markdown", "--metric", "size")
    assert result.exit_code == 0, result.stderr
    [(header, rows)] = markdown_tables(result.stdout)
    assert header == ["wb \\ ml", "1", "3", "4", "5", "6", "8"]
    assert [row[0].strip("*") for row in rows] == ["9", "10", "11", "12", "13", "14"]
    by_wb = {row[0].strip("*"): row[1:] for row in rows}
    assert by_wb["9"] == ["·"] * 6  # only in OLD
    assert by_wb["13"][2] == "·" and by_wb["13"][0] == "·"  # 13:4 only in NEW, 13:1 only in OLD


def test_compare_two_corpora(small_run_path: Path, tmp_path: Path) -> None:
    from tests.support.samples import document_messages, write_jsonl

    corpus = write_jsonl(tmp_path / "docs.jsonl", document_messages(20))
    out = tmp_path / "docs.json"
    made = invoke(
        "run", corpus, "--window-bits", "12-13", "--mem-level", "5,8", "--repeat", "1",
        "--min-sample-time", "0", "-j", "1", "-q", "-o", out,
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    result = invoke("compare", small_run_path, out, "--markdown", "--metric", "savings")
    assert result.exit_code == 0, result.stderr
    [(_, rows)] = markdown_tables(result.stdout)
    row12 = next(row for row in rows if row[0].strip("*") == "12")
    assert row12[3] not in ("·", "=")  # 12:5 measured in both, on different corpora
    assert "corpora differ" in result.stdout


def test_recommend_nothing_fits_by_time_says_so_in_the_error(small_run_path: Path) -> None:
    result = invoke("recommend", "--results", small_run_path, "--max-time-ratio", "0.000001")
    assert result.exit_code == 1
    [line] = stderr_lines(result)
    assert "time limit" in line and "memory" not in line.split("closest")[1]


# 80 columns (a CI log: not a TTY) -----------------------------------------------------------------


@pytest.fixture(scope="module")
def full_grid_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run of the full 7 x 9 grid (63 cells) on a tiny corpus, timed once per cell."""
    from tests.support.samples import chat_messages
    from wsztune import corpus, sweep

    directory = tmp_path_factory.mktemp("full")
    path = directory / "tiny.jsonl"
    path.write_bytes(b"".join(payload + b"\n" for payload in chat_messages(40)))
    grid = sweep.SweepPlan(window_bits=tuple(range(9, 16)), mem_levels=tuple(range(1, 10)))
    plan = sweep.TimingPlan(repeat=1, warmup=1, min_sample_seconds=0.0)
    run = sweep.sweep(corpus.load(path), grid, plan=plan)
    assert len(run.cells) == 63
    return results.save(run, directory / "tiny-full.json")


def assert_fits_80_columns(output: str) -> None:
    assert "…" not in output, output
    table_lines = [line for line in output.splitlines() if not line.startswith(("•", "warning"))]
    assert max(len(line.rstrip()) for line in table_lines) <= 80, output


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--metric", "size", "--metric", "decompress-time", "--metric", "memory-theory"),
        ("--metric", "size", "--metric", "savings", "--relative-to", "--max-memory", "40KiB"),
        ("--metric", "time", "--relative-to", "9:1", "--max-memory", "20KiB"),
    ],
)
def test_full_grids_fit_80_columns(full_grid_run: Path, args: tuple[str, ...]) -> None:
    result = invoke("table", "--results", full_grid_run, *args)
    assert result.exit_code == 0, result.stderr
    assert "◆" in result.stdout and "★" in result.stdout
    assert_fits_80_columns(result.stdout)


def test_sizes_too_wide_for_80_columns_are_shown_in_kib(
    full_grid_run: Path, tmp_path: Path
) -> None:
    document = json.loads(full_grid_run.read_text())
    for cell in document["cells"]:
        cell["compressed_bytes"] *= 1000  # millions of bytes: "5,123,000" x 9 columns
        cell["unit_compressed_bytes"] = [size * 1000 for size in cell["unit_compressed_bytes"]]
        # What goes with it, or the file is refused as edited: the directions' sums, savings.
        cell["server_compressed_bytes"] *= 1000
        cell["client_compressed_bytes"] *= 1000
        cell["savings"] = 1 - cell["compressed_bytes"] / cell["raw_bytes"]
    big = tmp_path / "big.json"
    big.write_text(json.dumps(document))
    result = invoke("table", "--results", big, "--metric", "size")
    assert result.exit_code == 0, result.stderr
    assert_fits_80_columns(result.stdout)
    assert "KiB: bytes would not fit 80 columns" in result.stdout
    cell = document["cells"][0]
    assert f"{cell['compressed_bytes'] / 1024:.1f}" in result.stdout
    # Markdown has no width: bytes, as measured.
    markdown = invoke("table", "--results", big, "--metric", "size", "--markdown")
    assert f"{cell['compressed_bytes']:,}" in markdown.stdout
    assert "would not fit" not in markdown.stdout


@pytest.fixture
def one_cell_run(small_run_path: Path, tmp_path: Path) -> Path:
    document = json.loads(small_run_path.read_text())
    document["cells"] = [
        c for c in document["cells"] if (c["window_bits"], c["mem_level"]) == (12, 5)
    ]
    document["meta"]["grid"] = {**document["meta"]["grid"], "window_bits": [12], "mem_levels": [5]}
    document["meta"]["cells"] = document["meta"]["cells_planned"] = 1  # a complete run of one
    path = tmp_path / "one.json"
    path.write_text(json.dumps(document))
    return path


def test_recommend_fits_80_columns(full_grid_run: Path, one_cell_run: Path) -> None:
    for args in (
        ("--results", full_grid_run, "--max-memory", "64KiB"),
        ("--results", full_grid_run, "--max-memory", "64KiB", "--check", "9:1"),
        ("--results", one_cell_run),
        ("--results", one_cell_run, "--check", "12:5"),
    ):
        result = invoke("recommend", *args)
        assert result.exit_code in (0, 1), result.stderr
        assert_fits_80_columns(result.stdout.split("python-websockets")[0])
    assert "recommended &" in result.stdout and "default" in result.stdout


def test_table_says_why_there_is_no_star(small_run_path: Path) -> None:
    for args in ((), ("--markdown",)):
        result = invoke("table", "--results", small_run_path, "--max-memory", "1KiB", *args)
        assert result.exit_code == 0, result.stderr
        assert "★" not in result.stdout
        assert "no cell fits 1.0 KiB per connection" in " ".join(result.stdout.split())


def test_check_is_parsed_like_every_other_setting(small_run_path: Path) -> None:
    # Shape and ranges come from codec.parse_setting, as for --relative-to: one rule, one message.
    result = invoke("recommend", "--results", small_run_path, "--check", "16:5")
    assert result.exit_code == 2
    [line] = stderr_lines(result)
    assert "'--check'" in line and "window bits must be between 8 and 15" in line


def test_metric_choices_are_the_reports_metrics() -> None:
    from wsztune import report

    for command in ("table", "plot", "compare"):
        option = next(p for p in cli.commands[command].params if p.name == "metrics")
        assert list(option.type.choices) == list(report.METRICS)


def test_recommend_prints_robustness_and_the_fleets_monthly_cost(small_run_path: Path) -> None:
    base = ("recommend", "--results", small_run_path, "--max-memory", "64KiB")
    result = invoke(*base, "--connections", "50000", "--messages-per-second", "2000")
    assert result.exit_code == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "chosen in" in text and "of resamples" in text and "95% interval" in text
    assert "Monthly cost, 50,000 connections, 2,000 messages/s" in text
    assert "EXAMPLE prices" in text and "no compression" in text
    priced = invoke(
        *base, "--connections", "50000", "--messages-per-second", "2000", "--price-memory", "4",
        "--price-egress", "0.1", "--price-cpu", "30", "--objective", "cost", "--json",
    )  # fmt: skip
    assert priced.exit_code == 0, priced.stderr
    document = json.loads(priced.stdout)
    costs = document["costs"]
    assert costs["prices"]["examples"] is False and costs["messages_per_second"] == 2000
    fitting = [c for c in costs["per_month"] if c["setting"] in document["candidates"]]
    chosen = f"{document['window_bits']}:{document['mem_level']}"
    budget = {f"{c['window_bits']}:{c['mem_level']}" for c in results.load(small_run_path).cells
              if c["connection_memory"] <= 65536}  # fmt: skip
    cheapest = min((c for c in costs["per_month"] if c["setting"] in budget),
                   key=lambda c: c["total"])  # fmt: skip
    assert chosen == cheapest["setting"] and fitting
    missing = invoke(*base, "--objective", "cost", "--connections", "10")
    assert missing.exit_code == 2 and "--messages-per-second" in missing.stderr


def test_recommend_on_a_version_1_results_file(small_run_path: Path, tmp_path: Path) -> None:
    document = json.loads(small_run_path.read_text())
    document["schema"] = "wsztune.run/1"
    del document["meta"]["units"]
    for cell in document["cells"]:
        del cell["unit_compressed_bytes"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(document))
    result = invoke("recommend", "--results", old, "--max-memory", "64KiB")
    assert result.exit_code == 0, result.stderr
    assert "no resampling data" in " ".join(result.stdout.split())
    assert invoke("table", "--results", old).exit_code == 0


def test_recommend_prices_the_rate_of_a_timestamped_corpus(tmp_path: Path) -> None:
    lines = ['{"wsztune":"records/1"}']
    for index in range(60):
        text = json.dumps({"seq": index, "note": "hello " * (index % 7)})
        record = {"connection": f"c{index % 3}", "direction": "server", "text": text}
        lines.append(json.dumps({**record, "t": index * 0.5}))
    corpus = tmp_path / "timed.records.jsonl"
    corpus.write_text("\n".join(lines) + "\n")
    out = tmp_path / "timed.json"
    made = invoke(
        "run", corpus, "--window-bits", "12,13", "--mem-level", "2,5", "--no-timing", "-q",
        "-j", "1", "-o", out,
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    result = invoke("recommend", "--results", out, "--connections", "300", "--json")
    assert result.exit_code == 0, result.stderr
    costs = json.loads(result.stdout)["costs"]
    # 60 messages over 29.5 s on 3 connections, scaled per connection to 300.
    assert costs["messages_per_second"] == pytest.approx(60 / 29.5 / 3 * 300, rel=0.02)
    assert "the corpus's timestamps" in costs["rate_source"]
    assert all(entry["egress"] is not None for entry in costs["per_month"])


@pytest.fixture(scope="module")
def aiohttp_run(tmp_path_factory: pytest.TempPathFactory, chat_corpus_path: Path) -> Path:
    """A real run for aiohttp, which can only turn compression on (15:8) or off."""
    out = tmp_path_factory.mktemp("aiohttp") / "chat-aiohttp.json"
    made = invoke(
        "run", chat_corpus_path, "--server", "aiohttp", "--no-timing", "-q", "-j", "1", "-o", out
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    return out


@pytest.mark.parametrize("rate", [(), ("--messages-per-second", "2000")])
def test_fleet_cost_when_compression_off_is_recommended(
    aiohttp_run: Path, rate: tuple[str, ...], tmp_path: Path
) -> None:
    # aiohttp's one compressed cell (15:8) is over 8 KiB: the decision is compression off, which
    # has no cell of its own in the fleet's costs; it is the "no compression" row, named.
    fleet = ("--connections", "50000", "--max-memory", "8KiB", *rate)
    result = invoke("recommend", "--results", aiohttp_run, *fleet)
    assert result.exit_code == 0, result.output + result.stderr
    rows = result.stdout.split("wb:ml  fleet memory", 1)[1].splitlines()
    [off] = [" ".join(row.split()) for row in rows if " off " in row]
    assert off.startswith("recommended & off 0 B 0.00")
    assert ("- - 0.00" in off) == (not rate)  # no rate: no egress or CPU to price
    assert not any(row.split()[:1] == ["no", "compression"] for row in rows)
    page = tmp_path / "report.html"
    reported = invoke("report", aiohttp_run, *fleet, "-o", page)
    assert reported.exit_code == 0, reported.output + reported.stderr
    assert re.search(r'>recommended[^<]*</td><td class="name">off</td><td>0 B<', page.read_text())
