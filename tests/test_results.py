"""Results files: the contract, atomic writes, validation of what is read back, newest lookup."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from wsztune import results
from wsztune.errors import ResultsError


def test_round_trip_and_dataframe(small_run_path: Path) -> None:
    run = results.load(small_run_path)
    assert run.meta["corpus"]["messages"] == 300
    assert run.meta["timing"]["repeat"] == 3
    for key in (
        "wsztune_version",
        "python_version",
        "zlib_runtime_version",
        "codec",
        "cpu",
        "command_line",
        "started_at",
        "finished_at",
    ):
        assert run.meta[key], key
    assert len(run.meta["corpus"]["sha256"]) == 64
    frame = run.frame()
    assert list(frame.columns) == list(results.CELL_FIELD_NAMES)
    assert len(frame) == 20
    assert run.find(12, 5)["window_bits"] == 12
    assert run.find(15, 9) is None


def test_save_is_atomic_and_leaves_no_temporary(tmp_path: Path, small_run_path: Path) -> None:
    run = results.load(small_run_path)
    target = tmp_path / "out" / "run.json"
    results.save(run, target)
    assert json.loads(target.read_text())["schema"] == results.SCHEMA
    assert sorted(p.name for p in target.parent.iterdir()) == ["run.json"]


def test_a_failed_write_keeps_the_old_file(
    tmp_path: Path, small_run_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = results.load(small_run_path)
    target = results.save(run, tmp_path / "run.json")
    before = target.read_bytes()

    def disk_full(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(results.os, "fsync", disk_full)  # the new file half written
    with pytest.raises(OSError, match="No space left"):
        results.save(run, target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda cell: cell.update(compressed_bytes=-1), "compressed_bytes"),
        (lambda cell: cell.update(compress_seconds=float("nan")), "compress_seconds"),
        (lambda cell: cell.pop("messages"), "messages is missing"),
    ],
)
def test_a_run_its_own_reader_would_refuse_is_never_written(
    tmp_path: Path, small_run_path: Path, damage: Callable[[dict[str, Any]], object], reason: str
) -> None:
    """A producer bug (a figure per delivery once went negative, and ``run`` wrote a file
    ``recommend`` refused) stops at the save, loudly, and leaves the old file as it was."""
    run = results.load(small_run_path)
    target = results.save(run, tmp_path / "run.json")
    before = target.read_bytes()
    damage(run.cells[0])
    with pytest.raises(results.UnreadableRun, match=reason):
        results.save(run, target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_save_writes_what_the_run_holds_not_the_readers_defaults(
    tmp_path: Path, small_run_path: Path
) -> None:
    run = results.load(small_run_path)
    for cell in run.cells:
        del cell["memory_source"]  # optional: the reader fills it in
    target = results.save(run, tmp_path / "run.json")
    assert all("memory_source" not in cell for cell in json.loads(target.read_text())["cells"])
    assert all("memory_source" not in cell for cell in run.cells)


def test_newest_run(tmp_path: Path, small_run_path: Path) -> None:
    run = results.load(small_run_path)
    old = results.save(run, tmp_path / "a.json")
    new = results.save(run, tmp_path / "b.json")
    os.utime(old, (1, 1))
    assert results.newest(tmp_path) == new
    assert results.load_newest_or(None, str(tmp_path)).path == new


def test_no_results_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="wsztune run"):
        results.newest(tmp_path / "missing")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "not valid JSON"),
        ('{"schema": "wsztune.run/1", "meta": {', "not valid JSON"),
        ('{"hello": 1}', "not a wsztune results file"),
        # An array is what --format json reads: named as a corpus, with the way on.
        ("[1, 2]", "is a JSON array of messages .a corpus., not a results file"),
        ('{"schema": "wsztune.run/3", "meta": {}, "cells": []}', "newer wsztune"),
        ('{"schema": "wsztune.run/x"}', "unknown schema"),
        ('{"schema": "wsztune.run/1", "meta": {}, "cells": []}', "no cells"),
        (
            '{"schema": "wsztune.run/1", "meta": {}, "cells": [{"window_bits": 12}]}',
            "client_window_bits",
        ),
    ],
)
def test_bad_results_files(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ResultsError, match=reason):
        results.load(path)


def test_wrong_type_in_a_cell(tmp_path: Path, small_run_path: Path) -> None:
    document = json.loads(small_run_path.read_text())
    document["cells"][3]["context_takeover"] = 1
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ResultsError, match=r"cells\[3\]\.context_takeover"):
        results.load(path)


def test_unit_sizes_that_do_not_add_up_are_refused(tmp_path: Path, small_run_path: Path) -> None:
    document = json.loads(small_run_path.read_text())
    assert document["schema"] == results.SCHEMA == "wsztune.run/2"
    path = tmp_path / "bad.json"
    for damage, reason in (
        (lambda c, m: c["unit_compressed_bytes"].append(1), "does not match"),
        (
            lambda c, m: c.update(compressed_bytes=c["compressed_bytes"] + 1),
            "is not server_compressed_bytes . client_compressed_bytes",
        ),
        (lambda c, m: c.update(unit_compressed_bytes="many"), "not a list of integers"),
        (lambda c, m: m["units"].update(raw_bytes=None), "meta.units.raw_bytes"),
    ):
        broken = json.loads(json.dumps(document))
        damage(broken["cells"][2], broken["meta"])
        path.write_text(json.dumps(broken))
        with pytest.raises(ResultsError, match=reason):
            results.load(path)


def test_a_version_1_file_still_loads(tmp_path: Path, small_run_path: Path) -> None:
    document = json.loads(small_run_path.read_text())
    document["schema"] = "wsztune.run/1"
    del document["meta"]["units"]
    for cell in document["cells"]:
        del cell["unit_compressed_bytes"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(document))
    run = results.load(path)
    assert run.schema == "wsztune.run/1" and len(run.cells) == len(document["cells"])
    assert list(run.frame().columns) == list(results.CELL_FIELD_NAMES)


def test_missing_results_file(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="no such results file"):
        results.load(tmp_path / "nope.json")


def test_read_only_directory_is_refused_before_work(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        with pytest.raises(ResultsError, match="cannot write results"):
            results.check_writable(folder / "run.json")
    finally:
        folder.chmod(0o700)


def test_unwritable_place_is_refused_before_work(tmp_path: Path) -> None:
    blocker = tmp_path / "results"
    blocker.write_text("a file where a directory should be")
    with pytest.raises(ResultsError, match="cannot write results there"):
        results.check_writable(blocker / "run.json")


def test_default_path_names_corpus_and_utc_time() -> None:
    from datetime import datetime

    started = datetime(2026, 11, 24, 5, 6, 7, tzinfo=UTC)
    assert results.default_path("results", "chat", started) == Path(
        "results/chat-20261124T050607Z.json"
    )


def test_docs_document_every_cell_field() -> None:
    page = Path(__file__).resolve().parent.parent / "docs" / "results.md"
    readme = page.read_text(encoding="utf-8")
    names = (*results.CELL_FIELD_NAMES, results.UNIT_SIZES, "meta.units")
    missing = [name for name in names if f"`{name}`" not in readme]
    assert missing == []


def test_saved_file_has_ordinary_permissions(tmp_path: Path, small_run_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        target = results.save(results.load(small_run_path), tmp_path / "run.json")
    finally:
        os.umask(previous)
    assert target.stat().st_mode & 0o777 == 0o644


def test_a_file_from_before_the_threshold_loads_with_defaults(
    tmp_path: Path, small_run_path: Path
) -> None:
    document = json.loads(small_run_path.read_text())
    for cell in document["cells"]:
        del cell["threshold"], cell["compressed_messages"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(document))
    loaded = results.load(old)
    assert {cell["threshold"] for cell in loaded.cells} == {0}
    assert all(cell["compressed_messages"] == cell["messages"] for cell in loaded.cells)
    assert "threshold" in loaded.frame().columns
    document["cells"][0]["threshold"] = "1024"
    old.write_text(json.dumps(document))
    with pytest.raises(ResultsError, match=r"cells\[0\].threshold"):
        results.load(old)


# A results file cannot fool a reader or the gate (issue 29, item 3) ---------------------------


def _tampered(small_run_path: Path, tmp_path: Path, damage) -> Path:
    """A copy of the small run with ``damage(document)`` applied, as raw JSON text when it
    returns a string."""
    document = json.loads(small_run_path.read_text())
    text = damage(document)
    path = tmp_path / "tampered.json"
    path.write_text(text if isinstance(text, str) else json.dumps(document))
    return path


def _gate(path: Path) -> object:
    from click.testing import CliRunner

    from wsztune.cli import cli

    return CliRunner().invoke(
        cli, ["recommend", "--results", str(path), "--check", "12:5", "--strict"]
    )


def _duplicate_12_5_smaller_first(document: dict) -> None:
    cells = document["cells"]
    original = next(c for c in cells if (c["window_bits"], c["mem_level"]) == (12, 5))
    forged = json.loads(json.dumps(original))
    sizes = [size // 2 for size in forged["unit_compressed_bytes"]]
    forged.update(unit_compressed_bytes=sizes, compressed_bytes=sum(sizes))
    server = min(sum(sizes), forged["server_compressed_bytes"] // 2)
    forged.update(server_compressed_bytes=server, client_compressed_bytes=sum(sizes) - server)
    forged["savings"] = 1 - sum(sizes) / forged["raw_bytes"]
    cells.insert(0, forged)
    document["meta"]["cells"] += 1


def _drop_13_with_partial_and_planned(document: dict) -> None:
    document["cells"] = [c for c in document["cells"] if c["window_bits"] < 13]
    document["meta"]["cells"] = len(document["cells"])
    del document["meta"]["partial"], document["meta"]["cells_planned"]


def _drop_13_keep_complete(document: dict) -> None:
    _drop_13_with_partial_and_planned(document)
    document["meta"]["partial"] = False


def _deep(document: dict) -> str:
    text = json.dumps(document)
    return text.replace('"seed": 0', '"seed": ' + "[" * 100_000 + "]" * 100_000)


CASES = [
    (_duplicate_12_5_smaller_first, r"cells\[\d+\] measures the same setting as cells\[0\]"),
    (_drop_13_with_partial_and_planned, r"meta\.partial is missing"),
    (_drop_13_keep_complete, r"meta\.grid plans 20 cells and the file holds 16"),
    (lambda d: d["cells"][5].update(savings=0.99), r"cells\[5\] .*savings 0\.990000 is not 1 - "),
    (lambda d: d["cells"][2].update(raw_bytes=10**400), r"raw_bytes is an integer of 401 digits"),
    (lambda d: d["cells"][2].update(compressed_bytes=-5), r"compressed_bytes is -5, outside 0"),
    (lambda d: d["meta"].update(grid=7), r"meta\.grid is 7, not an object"),
    (
        lambda d: d["meta"].update(note="mine"),
        r"meta\.note is not a field of a run's metadata \(docs/results\.md lists them\)",
    ),
    (lambda d: d["meta"]["corpus"].update(sha256=5), r"meta\.corpus\.sha256 is 5, not a string"),
    (lambda d: d["meta"]["timing"].update(jobs="2"), r'meta\.timing\.jobs is "2", not an integer'),
    (lambda d: d.update(meta={}), r"meta\.grid is missing"),
    (_deep, r"nested deeper than"),
    (
        lambda d: json.dumps(d).replace(
            '"seed": 0', '"seed": 0, "extra": [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]'
        ),
        r"meta is nested deeper than 16 levels",
    ),  # fmt: skip
    (
        lambda d: json.dumps(d).replace('"savings": 0.', '"savings": NaN, "x": 0.', 1),
        r"holds NaN, which is not a number",
    ),  # fmt: skip
    (
        lambda d: json.dumps(d).replace(
            '"compress_seconds": ', '"compress_seconds": 1e400, "x": ', 1
        ),
        r"compress_seconds is inf, not a finite number",
    ),  # fmt: skip
    (lambda d: d["cells"][1].update(window_bits=99), r"window_bits is 99, outside 8 to 15"),
    (
        lambda d: d["meta"]["grid"].update(window_bits=[9, 10, 11, 12]),
        r"cells\[\d+\] \(13:\d, .*\) is not in the grid meta\.grid plans",
    ),  # fmt: skip
    (lambda d: d["meta"].update(cells_planned=63), r"meta\.cells_planned says 63, .* plans 20"),
    (
        lambda d: d["cells"][0].update(strategy='default"}); require("child_process").exec("x'),
        r"cells\[0\]\.strategy is .*, not one of default, filtered, huffman, rle, fixed",
    ),  # fmt: skip
]


@pytest.mark.parametrize(("damage", "reason"), CASES)
def test_a_tampered_file_is_one_line_exit_2_and_never_passes_the_gate(
    small_run_path: Path, tmp_path: Path, damage, reason: str
) -> None:
    path = _tampered(small_run_path, tmp_path, damage)
    with pytest.raises(ResultsError, match=reason):
        results.load(path)
    result = _gate(path)
    assert result.exit_code == 2, result.output
    assert (
        "Traceback" not in result.output
        and result.exception is None
        or isinstance(result.exception, SystemExit)
    )
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wsztune: error: "), lines
    assert "damaged or was edited" in lines[0] or "not a number" in lines[0]


def test_the_untampered_run_passes_the_same_gate(small_run_path: Path) -> None:
    assert _gate(small_run_path).exit_code in (0, 1)  # decided: never refused as damaged


def test_committed_example_runs_validate() -> None:
    for path in sorted((Path(__file__).parent.parent / "results").glob("*.json")):
        run = results.load(path)
        assert len(run.cells) == run.meta["cells_planned"], path


def test_a_partial_run_that_says_so_loads(small_run_path: Path, tmp_path: Path) -> None:
    def partial(document: dict) -> None:
        _drop_13_with_partial_and_planned(document)
        document["meta"].update(partial=True, cells_planned=20)

    assert len(results.load(_tampered(small_run_path, tmp_path, partial)).cells) == 16


def test_a_wide_valid_run_validates_and_renders(small_run_path: Path, tmp_path: Path) -> None:
    # 20 cells x 12 levels x 5 strategies x 2 takeovers = 2,400 cells, every one distinct and
    # in the grid: loads, and table reads it (bench/results_scale.py times 100k cells).
    from click.testing import CliRunner

    from wsztune.cli import cli

    document = json.loads(small_run_path.read_text())
    levels, strategies = (
        list(range(-1, 10)) + [-2],
        ["default", "filtered", "huffman", "rle", "fixed"],
    )
    document["cells"] = [
        dict(cell, level=level, strategy=strategy, context_takeover=takeover)
        for takeover in (True, False)
        for strategy in strategies
        for level in levels
        for cell in document["cells"]
    ]
    document["meta"]["grid"].update(
        levels=levels, strategies=strategies, context_takeover=[True, False]
    )
    document["meta"].update(cells=2400, cells_planned=2400)
    path = tmp_path / "wide.json"
    path.write_text(json.dumps(document))
    assert len(results.load(path).cells) == 2400
    result = CliRunner().invoke(cli, ["table", "--results", str(path), "--markdown"])
    assert result.exit_code == 0, result.output
    assert "complete (2400 cells)" in result.stderr


# Nothing from a corpus or a results file becomes markup or code (issue 29, item 9) -------------

EVIL_NAME = "x<img src=x onerror=alert(1)>![](https://evil.example/p.png)|`rm`[a](b)\n# h"


def _unescaped(text: str, char: str) -> int:
    """How many times ``char`` occurs in ``text`` not preceded by a backslash."""
    return len(re.findall(rf"(?<!\\){re.escape(char)}", text))


@pytest.mark.parametrize("command", ["table", "compare", "recommend"])
def test_markdown_escapes_what_comes_from_the_corpus_or_the_run(
    small_run_path: Path, tmp_path: Path, command: str
) -> None:
    from click.testing import CliRunner

    from wsztune.cli import cli

    document = json.loads(small_run_path.read_text())
    document["meta"]["corpus"]["name"] = EVIL_NAME
    document["meta"]["codec_version"] = "1.2<script>"
    path = tmp_path / "evil.json"
    path.write_text(json.dumps(document))
    summary = tmp_path / "summary.md"
    args = {
        "table": ["table", "--results", path, "--markdown"],
        "compare": ["compare", small_run_path, path, "--markdown"],
        "recommend": ["recommend", "--results", path],
    }[command]
    result = CliRunner().invoke(
        cli, [str(arg) for arg in args], env={"GITHUB_STEP_SUMMARY": str(summary)}
    )
    assert result.exit_code == 0, result.output
    out = summary.read_text() if command == "recommend" else result.stdout
    assert "evil.example" in out  # the name is there, as text
    for char in "<>[]!`":
        assert _unescaped(out, char) == 0, (char, out)
    assert "\n# h" not in out  # a line break never starts a heading
    rows = [line for line in out.splitlines() if line.startswith("|")]
    assert rows
    for table in _tables(rows):  # every row of a table keeps its columns
        assert len({_unescaped(row, "|") for row in table}) == 1, table


def _tables(rows: list[str]) -> list[list[str]]:
    """Rows grouped by table: a new one starts at each header (the row before a ``|---``)."""
    tables: list[list[str]] = []
    for index, row in enumerate(rows):
        if index + 1 < len(rows) and rows[index + 1].startswith("|---"):
            tables.append([])
        if tables:
            tables[-1].append(row)
    return tables


def test_a_crafted_strategy_never_reaches_a_snippet(small_run_path: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from wsztune.cli import cli

    document = json.loads(small_run_path.read_text())
    crafted = 'default, x: require("child_process").execSync("id")'
    for cell in document["cells"]:
        cell["strategy"] = crafted
    document["meta"]["grid"]["strategies"] = [crafted]
    path = tmp_path / "crafted.json"
    path.write_text(json.dumps(document))
    result = CliRunner().invoke(cli, ["recommend", "--results", str(path), "--server", "ws"])
    assert result.exit_code == 2
    assert "child_process" not in result.stdout
    assert "strategy is" in result.stderr and "not one of default" in result.stderr


def test_write_keeps_a_symlink_and_replaces_its_target(tmp_path: Path) -> None:
    # Issue 29's adversarial pass: renaming over the link replaced it with a regular file (as root,
    # `-o /dev/stdout` put a results file in place of the /dev/stdout symlink).
    target = tmp_path / "run-1.json"
    target.write_text("old")
    link = tmp_path / "latest.json"
    link.symlink_to(target)
    results.check_writable(link)
    assert results.write_atomic(link, b"new") == link
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_write_into_a_fifo_goes_through_it(tmp_path: Path) -> None:
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "stdout"  # as /dev/stdout is: a symlink to what fd 1 is
    link.symlink_to(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    results.check_writable(link)
    results.write_atomic(link, b'{"x": 1}\n')
    reader.join(timeout=10)
    assert received == [b'{"x": 1}\n']
    assert link.is_symlink() and fifo.is_fifo()


def test_endless_device_is_refused_not_read_into_memory(tmp_path: Path) -> None:
    # Issue 29's adversarial pass: `--results` naming /dev/zero (no size to check first) was
    # read whole, growing without bound.
    link = tmp_path / "run.json"
    link.symlink_to("/dev/zero")
    with pytest.raises(ResultsError, match="NUL bytes"):
        results.load(link)


def test_results_read_from_a_pipe(tmp_path: Path, small_run_path: Path) -> None:
    import threading

    fifo = tmp_path / "run.json"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(small_run_path.read_bytes()))
    writer.start()
    run = results.load(fifo)
    writer.join(timeout=10)
    assert len(run.cells) == len(results.load(small_run_path).cells)


def test_default_path_has_no_control_characters() -> None:
    from datetime import datetime

    started = datetime(2026, 11, 24, 5, 6, 7, tzinfo=UTC)
    path = results.default_path("results", "evil\x1b[31m\n::error::x", started)
    assert path == Path("results/evil_[31m_::error::x-20261124T050607Z.json")


# Run metadata: one table (results.META_FIELDS) ---------------------------------------------------

META_BEGIN = "<!-- meta fields: begin (rendered from wsztune.results.META_FIELDS by tests) -->"
META_END = "<!-- meta fields: end -->"
_TYPE_WORDS = {str: "string", int: "integer", bool: "true/false", dict: "object", list: "list"}


def _type_text(spec: results.FieldSpec) -> str:
    text = _TYPE_WORDS.get(spec.kind, "number")  # type: ignore[arg-type]
    if spec.choices:
        text += ": " + " or ".join(f"`{choice}`" for choice in spec.choices)
    return text + (" or null" if spec.nullable else "")


def _meta_rows(specs: tuple[results.FieldSpec, ...], prefix: str = "") -> list[str]:
    rows = []
    for spec in specs:
        rows.append(
            f"| `{prefix}{spec.name}` | {_type_text(spec)} | {spec.unit} | `{spec.writer}` | "
            f"{spec.meaning} |"
        )
        if spec.fields and not prefix:  # one level: fanout.corpus holds fanout's own fields
            rows += _meta_rows(spec.fields, f"{spec.name}.")
    return rows


def meta_table() -> str:
    """docs/results.md's metadata table, as META_FIELDS declares it."""
    return "\n".join(
        [
            "| field | type | unit | written by (`wsztune/`) | meaning |",
            "|---|---|---|---|---|",
            *_meta_rows(results.META_FIELDS),
        ]
    )


def test_docs_show_the_metadata_table_as_declared() -> None:
    page = (Path(__file__).resolve().parent.parent / "docs" / "results.md").read_text("utf-8")
    assert META_BEGIN in page and META_END in page
    shown = page.split(META_BEGIN, 1)[1].split(META_END, 1)[0].strip()
    assert shown == meta_table(), "paste meta_table() (tests/test_results.py) into the page"


def test_every_metadata_writer_is_a_module_of_the_package() -> None:
    package = Path(results.__file__).parent
    specs = [*results.META_FIELDS]
    specs += [nested for spec in results.META_FIELDS for nested in spec.fields]
    for spec in specs:
        assert (package / spec.writer).exists(), (spec.name, spec.writer)
        assert "|" not in spec.meaning, spec.name  # a cell of a markdown table
    assert {spec.writer for spec in results.META_FIELDS} == set(results.META_WRITERS)


def test_a_fresh_run_writes_only_declared_metadata(small_run_path: Path) -> None:
    meta = json.loads(small_run_path.read_text())["meta"]
    declared = {spec.name for spec in results.META_FIELDS}
    assert set(meta) <= declared
    assert {"wsztune_version", "corpus", "timing", "units", "finished_at"} <= set(meta)


@pytest.mark.parametrize(
    ("values", "writer", "reason"),
    [
        ({"extra": 1}, results.SWEEP, r"meta\.extra: not declared for sweep\.py"),
        ({"stack": {}}, results.SWEEP, r"meta\.stack: not declared for sweep\.py"),
        ({"seed": "0"}, results.SWEEP, r'meta\.seed is "0", not an integer \(set by sweep\.py\)'),
        ({"corpus": {"sha": "x"}}, results.SWEEP, r"meta\.corpus\.sha is not a field"),
        ({"server_version": None}, results.RUN_COMMAND, None),
    ],
)
def test_set_meta_takes_only_what_the_table_declares_for_the_writer(
    values: dict, writer: str, reason: str | None
) -> None:
    meta: dict = {}
    if reason is None:
        results.set_meta(meta, writer, values)
        assert meta == values
        return
    with pytest.raises(results.MetaFieldError, match=reason):
        results.set_meta(meta, writer, values)
    assert meta == {}


def test_a_schema_1_file_as_committed_then_still_loads(
    small_run_path: Path, tmp_path: Path
) -> None:
    # What the table must allow: every file committed to this repository since the first
    # (results/, docs/) holds only declared fields; the oldest lack units and timing.measured,
    # and a run may hold nulls (cpu_count, corpus.sampled, server_version).
    document = json.loads(small_run_path.read_text())
    document["schema"] = "wsztune.run/1"
    meta = document["meta"]
    del meta["units"], meta["timing"]["measured"]
    meta.update(cpu_count=None, server_version=None)
    meta["corpus"]["sampled"] = None
    for cell in document["cells"]:
        del cell[results.UNIT_SIZES]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(document))
    assert results.load(old).schema == "wsztune.run/1"


def test_a_cells_client_compressed_as_it_records_else_as_the_server() -> None:
    """One rule for what a client did, read the same by a run's keys and a mix's parts."""
    server = {"window_bits": 15, "mem_level": 8, "level": 6, "strategy": "default",
              "context_takeover": True, "threshold": 32, "client_window_bits": 15}  # fmt: skip
    own = {**server, "client_mem_level": 5, "client_level": -1, "client_threshold": 0}
    assert results.client_compression(server) == {
        "client_mem_level": 8, "client_level": 6, "client_threshold": 32
    }
    assert results.client_compression(own) == {
        "client_mem_level": 5, "client_level": -1, "client_threshold": 0
    }
    no_threshold = {k: v for k, v in server.items() if k != "threshold"}
    assert results.client_compression(no_threshold)["client_threshold"] == 0
    for cell in (server, own):
        client = tuple(results.client_compression(cell).values())
        assert results.cell_setting_key(cell)[7:] == client


def test_run_keeps_a_run_its_reader_refuses_and_says_where(
    tmp_path: Path, small_run_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A producer bug after minutes of sweeping: nothing at -o, the run kept unchecked in the
    temporary directory for the report, and the error (a bug: a traceback) says where."""
    from wsztune.cli.run import _save_or_rescue

    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(results.tempfile, "tempdir", None)  # TMPDIR read again
    run = results.load(small_run_path)
    run.cells[0]["compressed_bytes"] = -1
    target = tmp_path / "out.json"
    with pytest.raises(results.UnreadableRun, match="kept, unchecked, in ") as refused:
        _save_or_rescue(run, target)
    kept = tmp_path / "tmp" / "wsztune-unreadable-out.json"
    assert str(kept) in str(refused.value) and not target.exists()
    assert json.loads(kept.read_text())["cells"][0]["compressed_bytes"] == -1
