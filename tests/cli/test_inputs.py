"""The reading commands, fed inputs of the wrong kind or in another form: read as what they are,
or refused in one line with exit code 2 (issue 17)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from wsztune.cli import cli

RECORD = '{"connection":"c1","direction":"server","text":"{\\"a\\":1}"}'


def invoke(*args: str) -> object:
    return CliRunner().invoke(cli, list(args))


def error_lines(result: object) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("wsztune: error:")]


@pytest.mark.parametrize(
    ("name", "content", "extra", "fragment"),
    [
        ("nohdr.jsonl", RECORD + "\n" + RECORD + "\n", [], "no records header"),
        ("v9.jsonl", '{"wsztune":"records/9"}\n' + RECORD + "\n", [], "unsupported records"),
        ("arr.jsonl", '[{"a":1},{"a":2}]\n', [], "--format json"),
        ("arr2.jsonl", '[{"a":1},{"a":2}]\n', ["--format", "jsonl"], "--format json"),
        ("obj.json", '{"a":1}', [], "not an array"),
    ],
)
@pytest.mark.parametrize("command", [["corpus", "stats"], ["run", "--no-timing", "-q"]])
def test_misread_inputs_are_refused_by_every_command(
    tmp_path: Path, command: list[str], name: str, content: str, extra: list[str], fragment: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    out = ["-o", str(tmp_path / "out.json")] if command[0] == "run" else []
    result = invoke(*command, str(path), *extra, *out)
    assert result.exit_code == 2, result.output
    (line,) = error_lines(result)
    assert fragment in line and str(path) in line
    assert not (tmp_path / "out.json").exists()


def test_json_array_corpus_end_to_end(tmp_path: Path) -> None:
    messages = [{"type": "tick", "seq": i, "price": 100 + i % 7} for i in range(50)]
    path = tmp_path / "ticks.json"
    path.write_text(json.dumps(messages, indent=2))
    stats = invoke("corpus", "stats", str(path), "--json")
    assert stats.exit_code == 0, stats.output
    document = json.loads(stats.stdout)
    assert document["messages"] == 50
    compact = sum(len(json.dumps(m, separators=(",", ":"))) for m in messages)
    assert document["raw_bytes"] == compact
    # Under another name, only with --format json.
    other = tmp_path / "ticks.dump"
    other.write_text(path.read_text())
    assert invoke("corpus", "stats", str(other)).exit_code == 2
    assert invoke("corpus", "stats", str(other), "--format", "json").exit_code == 0


def test_results_given_as_a_corpus_and_a_corpus_given_as_results(
    tmp_path: Path, small_run_path: Path, chat_corpus_path: Path
) -> None:
    result = invoke("corpus", "stats", str(small_run_path))
    assert result.exit_code == 2
    assert "is a wsztune results file" in error_lines(result)[0]
    folder = small_run_path.parent
    result = invoke("corpus", "stats", str(folder))
    assert result.exit_code == 2 and "holds wsztune results files" in result.stderr
    for command in ("table", "recommend", "plot"):
        result = invoke(command, "--results", str(chat_corpus_path))
        assert result.exit_code == 2
        (line,) = error_lines(result)
        assert "is a JSONL corpus" in line and "wsztune run" in line
    result = invoke("compare", str(small_run_path), str(chat_corpus_path))
    assert result.exit_code == 2 and "is a JSONL corpus" in result.stderr
    result = invoke("table", "--results", str(folder))
    assert result.exit_code == 2 and "--results-dir" in result.stderr


@pytest.mark.parametrize("text", ["64", "65536", "1.5"])
@pytest.mark.parametrize("command", ["table", "plot", "recommend"])
def test_a_size_without_unit_is_refused_with_its_likely_meaning(
    small_run_path: Path, command: str, text: str
) -> None:
    result = invoke(command, "--results", str(small_run_path), "--max-memory", text)
    assert result.exit_code == 2
    (line,) = error_lines(result)
    assert "did you mean" in line and "needs a unit" in line


def test_slash_and_colon_settings_are_the_same_everywhere(small_run_path: Path) -> None:
    for option in ("--check", "--relative-to"):
        colon = invoke("recommend", "--results", str(small_run_path), option, "12:5", "--json")
        slash = invoke("recommend", "--results", str(small_run_path), option, "12/5", "--json")
        assert colon.exit_code == slash.exit_code
        assert json.loads(colon.stdout) == json.loads(slash.stdout)
    colon = invoke("table", "--results", str(small_run_path), "--relative-to", "12:5")
    slash = invoke("table", "--results", str(small_run_path), "--relative-to", "12/5")
    assert colon.exit_code == slash.exit_code == 0 and colon.stdout == slash.stdout
    for bad in ("12-5", "12:5:1", "12/", "/5", "12\\5"):
        result = invoke("recommend", "--results", str(small_run_path), "--check", bad)
        assert result.exit_code == 2 and "WINDOW_BITS:MEM_LEVEL" in result.stderr


# Issue 29: pipes read whole, outputs never over inputs, permission errors in one line ----------

REPO = Path(__file__).resolve().parents[2]


def wsztune_process(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """This checkout's wsztune in a real process: /dev/stdin is then the pipe it was given."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "wsztune", *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=300,
    )


def ticks(count: int = 3000, first_pad: int = 0) -> bytes:
    """A JSONL corpus of ``count`` messages, well over the 8 KiB a pipe's probe used to eat;
    ``first_pad`` makes the first line long, so that no probe ends on a line boundary."""
    lines = [
        json.dumps({"type": "tick", "seq": i, "pad": "x" * (first_pad if i == 0 else i % 50)})
        for i in range(count)
    ]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("first_pad", [0, 10_000])
def test_a_piped_corpus_is_read_whole_by_every_command(tmp_path: Path, first_pad: int) -> None:
    """`cat corpus.jsonl | wsztune run /dev/stdin --format jsonl` ran on 2,872 of 3,000
    messages with exit 0 (the format probe had eaten the first 8 KiB), or was refused with a
    false reason when the probe ended mid-line."""
    data = ticks(first_pad=first_pad)
    stats = wsztune_process(
        "corpus", "stats", "/dev/stdin", "--format", "jsonl", "--json", stdin=data
    )
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["messages"] == 3000
    assert json.loads(stats.stdout)["raw_bytes"] == sum(map(len, data.splitlines()))
    out = tmp_path / "run.json"
    sweep_args = ["--no-timing", "-q", "--window-bits", "15", "--mem-level", "8", "-o", str(out)]
    run = wsztune_process("run", "/dev/stdin", "--format", "jsonl", *sweep_args, stdin=data)
    assert run.returncode == 0, run.stderr
    assert json.loads(out.read_text())["meta"]["corpus"]["messages"] == 3000
    scrubbed = tmp_path / "scrubbed.jsonl"
    scrub = wsztune_process(
        "corpus", "scrub", "/dev/stdin", "--format", "jsonl", "-o", str(scrubbed), stdin=data
    )
    assert scrub.returncode == 0, scrub.stderr
    assert len(scrubbed.read_text().splitlines()) == 1 + 3000  # the header, then every message


def test_a_dash_is_standard_input(tmp_path: Path) -> None:
    """`cat corpus.jsonl | wsztune run - --format jsonl`: "-" is standard input, as for other
    command-line tools (it was "-: no such file or directory")."""
    data = ticks(count=500)
    out = tmp_path / "run.json"
    run = wsztune_process("run", "-", "--format", "jsonl", "--no-timing", "-q", "--window-bits",
                          "12", "--mem-level", "5", "-o", str(out), stdin=data)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(out.read_text())["meta"]["corpus"]["messages"] == 500
    stats = wsztune_process("corpus", "stats", "-", "--format", "jsonl", "--json", stdin=data)
    assert stats.returncode == 0 and json.loads(stats.stdout)["messages"] == 500


def test_a_fifo_is_read_once_and_its_format_told_by_its_header(tmp_path: Path) -> None:
    from wsztune import corpus

    records = '{"wsztune":"records/1"}\n' + "".join(
        json.dumps({"connection": f"c{i % 7}", "direction": "server", "text": "y" * i}) + "\n"
        for i in range(2000)
    )
    fifo = tmp_path / "capture"  # no suffix: only the header says what it is
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "w") as writer:  # blocks until the reader opens it: once
            writer.write(records)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    loaded = corpus.load(fifo)
    writer.join(timeout=10)
    assert (loaded.format, len(loaded.messages), len(loaded.connections)) == ("records", 2000, 7)


def test_a_piped_corpus_with_an_unknown_format_gets_the_true_reason() -> None:
    result = wsztune_process("corpus", "stats", "/dev/stdin", stdin=ticks(100))
    assert result.returncode == 2
    assert result.stderr.decode().strip().splitlines() == [
        "wsztune: error: /dev/stdin: cannot tell the format from the name; pass --format "
        "(jsonl, lines, records, dir, har, json)"
    ]


def test_an_output_naming_an_input_is_refused_by_every_command(
    tmp_path: Path, small_run_path: Path
) -> None:
    """`run c.jsonl -o c.jsonl` replaced the corpus, `report --results keep.json -o keep.json`
    the run, both with exit 0: refused, through any spelling, symlink or hard link."""
    corpus_file = tmp_path / "c.jsonl"
    corpus_file.write_bytes(ticks(50))
    original = corpus_file.read_bytes()
    (tmp_path / "link.json").symlink_to(corpus_file)
    os.link(corpus_file, tmp_path / "hard.json")
    for target in ("c.jsonl", "./sub/../c.jsonl", "link.json", "hard.json"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        result = invoke("run", str(corpus_file), "-q", "--no-timing", "-o", str(tmp_path / target))
        assert result.exit_code == 2, result.output
        (line,) = error_lines(result)
        assert "is the corpus: writing the output there would replace it" in line
    assert corpus_file.read_bytes() == original
    keep = tmp_path / "keep.json"
    keep.write_bytes(small_run_path.read_bytes())
    saved = keep.read_bytes()
    for args in (["--results", str(keep)], [str(keep)]):
        result = invoke("report", *args, "-o", str(keep))
        assert result.exit_code == 2, result.output
        (line,) = error_lines(result)
        assert "is the run read" in line
    # The page's default name is the run's with .html: a run saved as .html is not replaced.
    html_run = tmp_path / "keep.html"
    html_run.write_bytes(saved)
    assert invoke("report", "--results", str(html_run)).exit_code == 2
    assert invoke("report", str(small_run_path), "--baseline", str(keep), "--check", "12:5",
                  "-o", str(keep)).exit_code == 2  # fmt: skip
    assert keep.read_bytes() == saved and html_run.read_bytes() == saved
    result = invoke("corpus", "scrub", str(corpus_file), "-o", str(tmp_path / "hard.json"))
    assert result.exit_code == 2 and "is the input corpus" in result.output
    assert corpus_file.read_bytes() == original


@pytest.fixture
def locked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder this process may not enter, as for a user who is not root (tests run as root in
    CI, where chmod stops nothing): every stat or open below it fails with EACCES."""
    import builtins
    import errno
    import io

    folder = tmp_path / "locked"
    folder.mkdir()
    prefix = str(folder) + os.sep

    def guarded(real):  # type: ignore[no-untyped-def]
        def call(path, *args, **kwargs):  # type: ignore[no-untyped-def]
            if isinstance(path, str | os.PathLike) and os.path.abspath(path).startswith(prefix):
                raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
            return real(path, *args, **kwargs)

        return call

    for name in ("stat", "lstat", "open", "scandir", "mkdir"):
        monkeypatch.setattr(os, name, guarded(getattr(os, name)))
    monkeypatch.setattr(builtins, "open", guarded(builtins.open))
    monkeypatch.setattr(io, "open", guarded(io.open))
    return folder


def test_permission_errors_are_one_line_and_exit_2_everywhere(
    locked: Path, tmp_path: Path, small_run_path: Path
) -> None:
    corpus_file = tmp_path / "ok.jsonl"
    corpus_file.write_bytes(ticks(50))
    hidden_corpus, hidden_run = locked / "c.jsonl", locked / "run.json"
    sweep = ["-q", "--no-timing", "--window-bits", "15", "--mem-level", "8"]
    commands = [
        ["corpus", "stats", str(hidden_corpus)],
        ["run", str(hidden_corpus), *sweep, "-o", str(tmp_path / "out.json")],
        ["run", str(corpus_file), *sweep, "-o", str(locked / "out.json")],
        ["run", str(corpus_file), *sweep, "--results-dir", str(locked / "results")],
        ["corpus", "scrub", str(hidden_corpus), "-o", str(tmp_path / "s.jsonl")],
        ["corpus", "scrub", str(corpus_file), "-o", str(locked / "s.jsonl")],
        ["corpus", "scrub", str(corpus_file), "-o", str(tmp_path / "t.jsonl"),
         "--key-file", str(locked / "key")],
        ["table", "--results", str(hidden_run)],
        ["table", "--results-dir", str(locked / "results")],
        ["recommend", "--results", str(hidden_run)],
        ["recommend", "--results", str(small_run_path), "--check", "12:5",
         "--baseline", str(hidden_run)],
        ["compare", str(small_run_path), str(hidden_run)],
        ["report", str(small_run_path), str(hidden_run)],
        ["report", "--results", str(small_run_path), "-o", str(locked / "page.html")],
        ["plot", "--results", str(small_run_path), "-o", str(locked / "images")],
        ["live", str(hidden_corpus)],
    ]  # fmt: skip
    for command in commands:
        result = invoke(*command)
        assert result.exit_code == 2, (command, result.output, result.exception)
        assert "Traceback" not in result.output, command
        (line,) = error_lines(result)
        assert str(locked) in line and (
            "permission denied" in line.lower() or "cannot" in line
        ), (command, line)
    assert not (tmp_path / "out.json").exists() and not (tmp_path / "s.jsonl").exists()


def _without_root_powers(scratch: Path) -> list[str] | None:
    """A command prefix under which this process's permission checks hold: none needed for a
    user; for root, setpriv dropping the capabilities that bypass them, if that works here."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        return None
    prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner"]
    closed = scratch / "closed"
    closed.write_text("x")
    closed.chmod(0)
    probe = subprocess.run([*prefix, "test", "-r", str(closed)], capture_output=True)
    return prefix if probe.returncode == 1 else None


def test_permission_errors_of_a_real_user_are_one_line(tmp_path: Path) -> None:
    """The same, with the kernel saying no: a folder of mode 0600 (not searchable)."""
    prefix = _without_root_powers(tmp_path)
    if prefix is None:
        pytest.skip("running as root, and setpriv cannot drop root's file permission powers here")
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "c.jsonl").write_bytes(ticks(50))
    readable = tmp_path / "ok.jsonl"
    readable.write_bytes(ticks(50))
    hidden.chmod(0o600)
    try:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        for args in (
            ["corpus", "stats", str(hidden / "c.jsonl")],
            ["run", str(readable), "-q", "--no-timing", "-o", str(hidden / "out.json")],
        ):
            result = subprocess.run(
                [*prefix, sys.executable, "-m", "wsztune", *args],
                capture_output=True,
                text=True,
                env=env,
                timeout=120,
            )
            assert result.returncode == 2, result.stderr
            (line,) = result.stderr.strip().splitlines()
            assert line.startswith(f"wsztune: error: {hidden}/") and "permission denied" in line
    finally:
        hidden.chmod(0o700)


def test_a_terminal_given_as_the_corpus_is_refused_not_waited_on() -> None:
    """Reading a terminal whole would wait for Ctrl-D: the one input refused for being one."""
    import pty

    leader, follower = pty.openpty()
    try:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        result = subprocess.run(
            [sys.executable, "-m", "wsztune", "corpus", "stats", "/dev/stdin", "--format", "jsonl"],
            stdin=follower,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    finally:
        os.close(leader)
        os.close(follower)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("wsztune: error: /dev/stdin: is a terminal, not a corpus: pipe")
