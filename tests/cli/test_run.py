"""``wsztune run`` end to end: through click's CliRunner and as the installed command."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from wsztune.cli import cli
from wsztune.errors import EXIT_HELPER_FAILED

FAST = ["--repeat", "1", "--min-sample-time", "0", "--jobs", "1", "--quiet"]


def invoke(*args: str | Path) -> object:
    return CliRunner().invoke(cli, [str(arg) for arg in args])


def assert_one_line_error(result: object, *fragments: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output)
    # The line naming the run a reading command read is not part of the error.
    lines = [line for line in result.stderr.splitlines() if not line.startswith("wsztune: read ")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("wsztune: error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


def test_run_writes_a_results_file(tmp_path: Path, chat_corpus_path: Path) -> None:
    out = tmp_path / "run.json"
    result = invoke(
        "run", chat_corpus_path, "--window-bits", "11-12", "--mem-level", "4,5", *FAST, "-o", out
    )
    assert result.exit_code == 0, result.output
    assert f"results: {out}" in result.stdout
    document = json.loads(out.read_text())
    assert document["schema"] == "wsztune.run/2"
    assert [(c["window_bits"], c["mem_level"]) for c in document["cells"]] == [
        (11, 4),
        (11, 5),
        (12, 4),
        (12, 5),
    ]
    assert document["meta"]["corpus"]["path"] == str(chat_corpus_path)
    assert document["meta"]["timing"]["jobs"] == 1


def test_run_summary_shows_smallest_and_reference(tmp_path: Path, chat_corpus_path: Path) -> None:
    result = invoke(
        "run",
        chat_corpus_path,
        "--window-bits",
        "9,12,15",
        "--mem-level",
        "5,8",
        "--repeat",
        "1",
        "--min-sample-time",
        "0",
        "--jobs",
        "1",
        "-o",
        tmp_path / "r.json",
    )
    assert result.exit_code == 0, result.output
    assert "12:5" in result.stdout
    assert "smallest" in result.stdout


def test_run_without_corpus_uses_the_bundled_demo(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "--window-bits",
            "12",
            "--mem-level",
            "5",
            "--repeat",
            "1",
            "--min-sample-time",
            "0",
            "--results-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "bundled demo corpus" in result.stderr
    (written,) = tmp_path.glob("demo-*.json")
    meta = json.loads(written.read_text())["meta"]
    assert meta["corpus"]["format"] == "records"
    assert meta["corpus"]["connections"] > 1


def test_no_context_takeover_and_levels(tmp_path: Path, chat_corpus_path: Path) -> None:
    out = tmp_path / "r.json"
    result = invoke(
        "run",
        chat_corpus_path,
        "--window-bits",
        "12",
        "--mem-level",
        "5",
        "--level",
        "1,9",
        "--context-takeover",
        "both",
        *FAST,
        "-o",
        out,
    )
    assert result.exit_code == 0, result.output
    cells = json.loads(out.read_text())["cells"]
    assert {(c["level"], c["context_takeover"]) for c in cells} == {
        (1, True),
        (9, True),
        (1, False),
        (9, False),
    }
    on = {c["level"]: c["compressed_bytes"] for c in cells if c["context_takeover"]}
    off = {c["level"]: c["compressed_bytes"] for c in cells if not c["context_takeover"]}
    assert all(on[level] < off[level] for level in on)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--window-bits", "16"], "--window-bits must be within 8 to 15"),
        (["--window-bits", "nine"], "--window-bits takes numbers"),
        (["--mem-level", "0"], "--mem-level must be within 1 to 9"),
        (["--level", "10"], "--level must be within -1 to 9"),
        (["--strategy", "fast"], "--strategy takes"),
        (["--repeat", "0"], "--repeat must be at least 1"),
        (["--repeat", "many"], "'many' is not a valid integer"),
        (["--jobs", "0"], "must be at least 1"),
        (["--min-sample-time", "-1"], "--min-sample-time"),
        (["--client-window-bits", "7"], "client window bits"),
        (["--codec", "brotli"], "'brotli' is not one of"),
        (["--sample", "0"], "must be at least 1"),
        (["--bogus"], "No such option"),
    ],
)
def test_bad_options_are_one_line(
    tmp_path: Path, chat_corpus_path: Path, options: list[str], fragment: str
) -> None:
    result = invoke("run", chat_corpus_path, *options, "--results-dir", tmp_path)
    assert_one_line_error(result, fragment)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "data", "fragment"),
    [
        ("empty.jsonl", b"", "empty.jsonl: no messages"),
        ("bad.jsonl", b'{"a":1}\n{oops}\n', "bad.jsonl:2: not valid JSON"),
        ("utf.jsonl", b'"\xff"\n', "utf.jsonl:1: not valid UTF-8"),
    ],
)
def test_bad_corpus_is_one_line_and_writes_nothing(
    tmp_path: Path, name: str, data: bytes, fragment: str
) -> None:
    corpus_path = tmp_path / name
    corpus_path.write_bytes(data)
    results_dir = tmp_path / "results"
    result = invoke("run", corpus_path, "--results-dir", results_dir)
    assert_one_line_error(result, fragment)
    assert not results_dir.exists() or list(results_dir.iterdir()) == []


def test_missing_corpus(tmp_path: Path) -> None:
    assert_one_line_error(invoke("run", tmp_path / "nope.jsonl"), "no such file")


def test_unwritable_output_fails_before_the_sweep(tmp_path: Path, chat_corpus_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = invoke("run", chat_corpus_path, "-o", blocker / "run.json")
    assert_one_line_error(result, "cannot write results there")


def test_help_lists_the_commands() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    assert "run" in result.stdout


def installed_command() -> str:
    candidate = Path(sys.executable).parent / "wsztune"
    found = str(candidate) if candidate.exists() else shutil.which("wsztune")
    if not found:
        pytest.skip("wsztune is not installed in this environment (pip install -e .)")
    return found


def test_installed_command_end_to_end(tmp_path: Path, chat_corpus_path: Path) -> None:
    out = tmp_path / "run.json"
    completed = subprocess.run(
        [
            installed_command(),
            "run",
            str(chat_corpus_path),
            "--window-bits",
            "12",
            "--mem-level",
            "5",
            *FAST,
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(out.read_text())["cells"][0]["window_bits"] == 12


def test_installed_command_bad_input_has_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"{\n")
    completed = subprocess.run(
        [installed_command(), "run", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stderr.strip() == (
        f"wsztune: error: {bad}:1: not valid JSON (Expecting property name enclosed in double "
        "quotes at column 2); each line of a JSONL corpus is one JSON message (use --format "
        "lines for text)"
    )


def test_python_dash_m(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "wsztune", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0
    assert "wsztune" in completed.stdout


def test_output_that_is_a_directory_fails_before_the_sweep(
    tmp_path: Path, chat_corpus_path: Path
) -> None:
    result = invoke("run", chat_corpus_path, "-o", tmp_path)
    assert_one_line_error(result, "is a directory", "--output takes a file name")


def test_same_stem_same_second_does_not_overwrite(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from wsztune import results

    started = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    first = results.default_path(tmp_path, "chat", started)
    first.write_text("{}")
    second = results.default_path(tmp_path, "chat", started)
    assert second != first
    assert second.name == "chat-20260102T030405Z-2.json"


def test_sample_larger_than_the_corpus_warns(tmp_path: Path) -> None:
    records = tmp_path / "r.jsonl"
    lines = ['{"wsztune":"records/1"}'] + [
        json.dumps({"connection": f"c{i % 3}", "direction": "server", "text": f"m{i}"})
        for i in range(30)
    ]
    records.write_text("\n".join(lines) + "\n")
    result = invoke(
        "run",
        records,
        "--sample",
        "10",
        "--window-bits",
        "12",
        "--mem-level",
        "5",
        "--repeat",
        "1",
        "--min-sample-time",
        "0",
        "-o",
        tmp_path / "o.json",
    )
    assert result.exit_code == 0, result.output
    assert "the corpus has 3 connections; all are kept" in result.stderr


def test_metadata_records_the_workers_really_used(tmp_path: Path, chat_corpus_path: Path) -> None:
    out = tmp_path / "r.json"
    result = invoke(
        "run",
        chat_corpus_path,
        "--window-bits",
        "12",
        "--mem-level",
        "5",
        "--jobs",
        "2",
        "--repeat",
        "1",
        "--min-sample-time",
        "0",
        "-q",
        "-o",
        out,
    )
    assert result.exit_code == 0, result.output
    timing = json.loads(out.read_text())["meta"]["timing"]
    assert timing["jobs"] == 1
    assert "one at a time" in timing["note"]


# --no-timing --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def untimed_run(tmp_path_factory: pytest.TempPathFactory, chat_corpus_path: Path) -> Path:
    """A --no-timing run of the chat corpus, with the 12:5 reference cell."""
    out = tmp_path_factory.mktemp("untimed") / "untimed.json"
    result = invoke(
        "run", chat_corpus_path, "--window-bits", "11-13", "--mem-level", "4-6", "--no-timing",
        "--jobs", "1", "-o", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "not measured" in result.stdout  # the summary's compress column
    return out


def test_no_timing_records_sizes_and_memory_and_null_times(
    untimed_run: Path, tmp_path: Path, chat_corpus_path: Path
) -> None:
    from wsztune import results
    from wsztune.results import TIME_FIELD_NAMES

    run = results.load(untimed_run)  # null times load
    assert run.timing_measured is False
    assert run.meta["timing"]["measured"] is False
    assert "not measured" in run.meta["timing"]["note"]
    for cell in run.cells:
        assert all(cell[name] is None for name in TIME_FIELD_NAMES), cell
        assert cell["compressed_bytes"] > 0 and cell["connection_memory"] > 0
    # Sizes and memory are those of a timed run, cell for cell.
    timed = tmp_path / "timed.json"
    args = ["--window-bits", "11-13", "--mem-level", "4-6", *FAST, "-o", timed]
    assert invoke("run", chat_corpus_path, *args).exit_code == 0
    for untimed_cell, timed_cell in zip(run.cells, results.load(timed).cells, strict=True):
        for name in ("compressed_bytes", "wire_compressed_bytes", "connection_memory"):
            assert untimed_cell[name] == timed_cell[name]


def test_no_timing_grids_say_not_measured(untimed_run: Path) -> None:
    result = invoke(
        "table", "--results", untimed_run, "--metric", "time", "--metric", "size", "--markdown"
    )
    assert result.exit_code == 0, result.output
    assert "n/m" in result.stdout
    assert "n/m = not measured: the run was made with --no-timing" in result.stdout
    assert " 0.00" not in result.stdout


def test_recommend_works_on_an_untimed_run(untimed_run: Path) -> None:
    result = invoke("recommend", "--results", untimed_run, "--max-memory", "64KiB", "--json")
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    assert decision["compress_seconds"] is None
    text = invoke("recommend", "--results", untimed_run, "--max-memory", "64KiB")
    assert text.exit_code == 0, text.output
    assert "compress time not measured" in text.stdout


def test_max_time_ratio_on_an_untimed_run_is_a_usage_error(untimed_run: Path) -> None:
    result = invoke("recommend", "--results", untimed_run, "--max-time-ratio", "1.5")
    assert_one_line_error(result, "--max-time-ratio", "--no-timing")


def test_compare_with_an_untimed_run_says_not_measured(
    untimed_run: Path, small_run_path: Path
) -> None:
    result = invoke("compare", small_run_path, untimed_run, "--metric", "time", "--markdown")
    assert result.exit_code == 0, result.output
    assert "n/m = not measured: a run was made with --no-timing" in result.stdout


# Node.js servers: --server, --codec node, --threshold ------------------------------------------


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_run_server_ws_measures_with_node_at_ws_threshold(
    tmp_path: Path, chat_corpus_path: Path
) -> None:
    out = tmp_path / "ws.json"
    result = invoke(
        "run", chat_corpus_path, "--server", "ws", "--window-bits", "9,12", "--mem-level", "1",
        "--context-takeover", "both", "-o", out, *FAST, "--jobs", "2",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    run = json.loads(out.read_text())
    assert run["meta"]["codec"] == "node" and run["meta"]["server"] == "ws"
    assert run["meta"]["node"]["zlib_version"] == run["meta"]["codec_version"]
    # ws's default threshold, applied only without context takeover (ws's Sender).
    thresholds = {(c["context_takeover"], c["threshold"]) for c in run["cells"]}
    assert thresholds == {(True, 0), (False, 1024)}
    assert "only without context takeover" in result.stderr
    # Without --threshold the slice is ws's default, 1024, where ws applies it.
    table = invoke("table", "--results", out, "--context-takeover", "off")
    assert table.exit_code == 0, table.output
    assert "threshold 1024 B" in table.output


def test_run_codec_must_match_server(tmp_path: Path, chat_corpus_path: Path) -> None:
    result = invoke("run", chat_corpus_path, "--server", "ws", "--codec", "zlib", *FAST)
    assert result.exit_code == 2
    assert "--server ws is measured with --codec node" in result.stderr


def test_run_threshold_applies_to_zlib_too(tmp_path: Path, chat_corpus_path: Path) -> None:
    out = tmp_path / "t.json"
    result = invoke(
        "run", chat_corpus_path, "--window-bits", "12", "--mem-level", "5",
        "--threshold", "0,100", "-o", out, *FAST,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    cells = {c["threshold"]: c for c in json.loads(out.read_text())["cells"]}
    assert set(cells) == {0, 100}
    assert cells[100]["compressed_messages"] < cells[0]["compressed_messages"]
    bad = invoke("run", chat_corpus_path, "--threshold", "big", *FAST)
    assert_one_line_error(bad, "--threshold")


def test_run_codec_node_without_node_is_one_line(
    tmp_path: Path, chat_corpus_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WSZTUNE_NODE", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    result = invoke("run", chat_corpus_path, "--codec", "node", "-o", tmp_path / "x.json", *FAST)
    assert_one_line_error(result, "node is not installed")
    assert not (tmp_path / "x.json").exists()


def test_a_helper_that_crashes_is_one_line_exit_5_with_what_it_said(
    tmp_path: Path, chat_corpus_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A node that fails (as a helper crashes: an uncaught error and its stack): one line
    naming the helper, its exit code and its error, exit 5 (not 2, not a traceback), its whole
    error output kept in a file for a report, and no results file."""
    import stat

    fake_node = tmp_path / "node"
    fake_node.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        "if sys.argv[1] == '-e':\n"
        "    print(json.dumps({'node': '18.19.0', 'zlib': '1.2.13', 'v8': '10', 'uv': '1'}))\n"
        "    sys.exit(0)\n"
        "sys.stderr.write('wsztune node codec: Error: boom from a fake node\\n'\n"
        "                 '    at main (node.js:1:1)\\n')\n"
        "sys.exit(1)\n"
    )
    fake_node.chmod(fake_node.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("WSZTUNE_NODE", str(fake_node))
    monkeypatch.setenv("WSZTUNE_CACHE", str(tmp_path / "cache"))
    result = invoke("run", chat_corpus_path, "--codec", "node", "-o", tmp_path / "x.json", *FAST)
    assert result.exit_code == EXIT_HELPER_FAILED, (result.exit_code, result.output)
    [line] = result.stderr.splitlines()
    assert line.startswith("wsztune: error: node ") and "failed (exit code 1): " in line
    assert "wsztune node codec: Error: boom from a fake node (its whole error output: " in line
    assert line.endswith("please report it with that file")
    assert "Traceback" not in result.output and not (tmp_path / "x.json").exists()
    Path(line.split("its whole error output: ")[1].split(")")[0]).unlink()


# What a person reads at 80 columns (issue 26) ------------------------------------------------

API = Path(__file__).resolve().parents[2] / "corpora" / "api.jsonl"


@pytest.mark.parametrize(
    "extra",
    [
        ["--server", "uvicorn", "--no-timing"],
        ["--window-bits", "9,12,15", "--mem-level", "1,5,8", *FAST[:4]],
        ["--window-bits", "12-15", "--mem-level", "4-6", "--no-timing", "--client",
         "chrome=0.7,firefox=0.3"],
    ],
)  # fmt: skip
def test_the_run_summary_at_80_columns_cuts_no_value_and_labels_are_true(
    tmp_path: Path, extra: list[str]
) -> None:
    out = tmp_path / "run.json"
    result = CliRunner(env={"COLUMNS": "80"}).invoke(
        cli, ["run", str(API), *extra, "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "…" not in result.stdout, result.stdout
    assert "0:0" not in result.stdout
    # The results file's path is printed whole (cut, it could not be copied): its length is the
    # temporary folder's, which grows with pytest's run counter (pytest-of-root/pytest-100/...).
    widths = [len(line) for line in result.stdout.splitlines() if not line.startswith("results: ")]
    assert max(widths) <= 80
    rows = [line.split() for line in result.stdout.splitlines() if " B " in line]
    sizes = {tuple(row[:2]): int(row[row.index("B") - 1].replace(",", "")) for row in rows}
    smallest = min(sizes.values())
    for row in rows:
        size = sizes[tuple(row[:2])]
        if row[:2] == ["smallest", "settable"]:  # another stack's default is smaller (uvicorn)
            assert size > smallest
        elif row[0] == "smallest":  # "smallest" is the smallest of every row the table shows
            assert size == smallest
        if row[0] == "no":
            assert row[2] == "off"
    # The commands that read it, at 80 columns, cut nothing either.
    results = ["--results", str(out)]
    for command in (["table", *results], ["recommend", "--max-memory", "64KiB", *results],
                    ["compare", str(out), str(out)],
                    ["recommend", "--max-memory", "64KiB", "--connections", "40000", *results]
                    ):  # fmt: skip
        read = CliRunner(env={"COLUMNS": "80"}).invoke(cli, command)
        assert read.exit_code in (0, 1), read.output
        assert "…" not in read.stdout, (command, read.stdout)
        assert "0:0" not in read.stdout, (command, read.stdout)


def test_output_into_a_pipe_keeps_stdout_json_only(tmp_path: Path, chat_corpus_path: Path) -> None:
    # `-o /dev/stdout` (issue 29's adversarial pass): the results are written into what the link
    # names, never renamed over it, and nothing else goes to stdout, so `| jq` gets pure JSON.
    import os
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "stdout"
    link.symlink_to(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    result = invoke(
        "run", chat_corpus_path, "--window-bits", "11", "--mem-level", "4", "--no-timing",
        "--jobs", "1", "-o", link,
    )
    reader.join(timeout=30)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"results: {link}" in result.stderr
    assert json.loads(received[0])["schema"] == "wsztune.run/2"
    assert link.is_symlink() and fifo.is_fifo()


def test_messages_per_connection_cuts_a_jsonl_corpus_into_connections(
    tmp_path: Path, chat_corpus_path: Path
) -> None:
    """A JSONL corpus is one connection; --messages-per-connection N makes it connections of N
    messages, each with its own compressor: fewer bytes carried per connection, so less
    resident memory, while the allocation (the bound) stays what it was."""
    whole, cut = tmp_path / "whole.json", tmp_path / "cut.json"
    grid = ("--window-bits", "15", "--mem-level", "8", *FAST)
    assert invoke("run", chat_corpus_path, *grid, "-o", whole).exit_code == 0
    result = invoke("run", chat_corpus_path, *grid, "--messages-per-connection", "5", "-o", cut)
    assert result.exit_code == 0, result.output
    one, many = (json.loads(path.read_text()) for path in (whole, cut))
    assert one["meta"]["corpus"]["connections"] == 1
    assert many["meta"]["corpus"]["connections"] > 1
    assert many["cells"][0]["connection_memory"] == one["cells"][0]["connection_memory"]
    assert (
        many["cells"][0]["connection_memory_resident"]
        < one["cells"][0]["connection_memory_resident"]
    )


def test_messages_per_connection_is_refused_for_a_corpus_with_connections(
    tmp_path: Path,
) -> None:
    records = tmp_path / "c.records.jsonl"
    records.write_text(
        '{"wsztune":"records/1"}\n{"connection":"a","direction":"server","text":"hello"}\n'
    )
    result = invoke("run", records, "--messages-per-connection", "5", "-o", tmp_path / "r.json")
    assert_one_line_error(result, "--messages-per-connection", "drop the option")
    assert not (tmp_path / "r.json").exists()


LIGHT_FLEET = Path(__file__).resolve().parents[2] / "corpora" / "fleet-light.records.jsonl"


def test_a_tornado_sweep_carries_its_read_buffer_as_the_live_check_does(tmp_path: Path) -> None:
    """``run --server tornado``'s resident figure lays Tornado's freed 64 KiB read buffer under
    its zlib objects, the same figure ``wsztune live --server tornado`` checks RSS against (one
    model: memory.zlib_resident's read_buffer, from the stack profile); the metadata says so; a
    plain zlib run of the same cell has no read buffer, and reading it as Tornado's warns."""
    from wsztune.corpus import load
    from wsztune.live.plan import build_plan
    from wsztune.live.pyfleet import fleet_model
    from wsztune.live.servers import SERVERS
    from wsztune.permessage_deflate import Setting
    from wsztune.stacks import STACKS

    tornado, plain = tmp_path / "tornado.json", tmp_path / "plain.json"
    cell = ["--mem-level", "8", "--no-timing", "--quiet"]
    assert invoke("run", LIGHT_FLEET, "--server", "tornado", *cell, "-o", tornado).exit_code == 0
    assert invoke(
        "run", LIGHT_FLEET, "--window-bits", "15", "--level", "6", *cell, "-o", plain
    ).exit_code == 0
    swept = json.loads(tornado.read_text())
    (tornado_cell,) = swept["cells"]
    (plain_cell,) = json.loads(plain.read_text())["cells"]
    assert swept["meta"]["read_buffer"] == STACKS["tornado"].read_buffer == 65537

    corpus = load(LIGHT_FLEET)
    live = fleet_model(
        corpus, build_plan(corpus, 16), Setting(15, 8, 6), SERVERS["tornado"].read_buffer
    )
    assert tornado_cell["connection_memory_resident"] == round(
        live.resident_compressor
    ) + round(live.resident_decompressor)
    # Light connections: nearly all of the 64 KiB deflate window and the 32 KiB inflate window.
    extra = tornado_cell["connection_memory_resident"] - plain_cell["connection_memory_resident"]
    assert 80 * 1024 < extra < 96 * 1024
    assert tornado_cell["connection_memory"] == plain_cell["connection_memory"]

    read_as_tornado = invoke("recommend", "--results", plain, "--server", "tornado")
    assert read_as_tornado.exit_code == 0, read_as_tornado.output
    assert "lack Tornado's 65,537 B read buffer" in read_as_tornado.output
    assert "read buffer" not in invoke("recommend", "--results", tornado).output
