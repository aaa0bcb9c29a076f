"""``--client`` on Go runs through the commands: ``run --server gorilla|coder --client`` (one
client or a mix), ``recommend`` and ``report`` on such a run, and the options that do not apply
to a Go run refused with one line and exit code 2."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from wsztune import corpus
from wsztune.cli import cli
from wsztune.codecs import go
from wsztune.permessage_deflate import Setting

REPO = Path(__file__).resolve().parents[2]
GOPATH = Path("/usr/share/gocode")

pytestmark = [
    pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed"),
    pytest.mark.skipif(
        not (GOPATH / "src" / "github.com" / "klauspost").is_dir(),
        reason="Debian's golang-github-klauspost-compress-dev is not installed",
    ),
]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three connections of the chat corpus and one of game as a records file: both
    directions, quick."""
    go.helper_binary(notice=lambda text: None)
    path = tmp_path_factory.mktemp("go-clients") / "small.records.jsonl"
    chat = corpus.sample_connections(corpus.load(REPO / "corpora" / "chat.records.jsonl"), 3, 5)
    game = corpus.sample_connections(corpus.load(REPO / "corpora" / "game.records.jsonl"), 1, 2)
    with open(path, "w", encoding="utf-8") as out:
        out.write(json.dumps({"wsztune": "records/1"}) + "\n")
        for prefix, loaded in (("chat", chat), ("game", game)):
            for stream in loaded.streams():
                for payload in stream.payloads:
                    record = {
                        "connection": f"{prefix}-{stream.connection}",
                        "direction": stream.direction,
                        "base64": base64.b64encode(bytes(payload)).decode(),
                    }
                    out.write(json.dumps(record) + "\n")
    return path


def _run(small: Path, output: Path, *options: str) -> dict:
    result = CliRunner().invoke(
        cli, ["run", str(small), "--no-timing", "--quiet", "-o", str(output), *options]
    )
    assert result.exit_code == 0, result.output
    return json.loads(output.read_text())


def _client_bytes(small: Path, setting: Setting) -> int:
    """What a named client sends, compressed as the codec says it does."""
    streams = [s for s in corpus.load(small).streams() if s.direction == corpus.CLIENT]
    return sum(
        len(frame) for s in streams for frame in go.zlib_client_frames(list(s.payloads), setting)
    )


@pytest.fixture(scope="module")
def gorilla_mix(small: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("gorilla-mix") / "mix.json"
    _run(small, output, "--server", "gorilla", "--level", "1,9", "--client",
         "chrome=0.6,websockets=0.4")  # fmt: skip
    return output


def test_gorilla_run_with_a_client_mix_weighs_each_clients_zlib_bytes(
    small: Path, gorilla_mix: Path, tmp_path: Path
) -> None:
    plain = _run(small, tmp_path / "plain.json", "--server", "gorilla", "--level", "1,9")
    mixed = json.loads(gorilla_mix.read_text())
    assert mixed["meta"]["client"] == "chrome=0.6,websockets=0.4"
    assert [c["name"] for c in mixed["meta"]["grid"]["clients"]] == ["chrome", "websockets"]
    cells = [c for c in mixed["cells"] if c.get("compression") is not False]
    assert sorted(c["level"] for c in cells) == [1, 9]
    for cell in cells:
        own = next(c for c in plain["cells"] if c["level"] == cell["level"])
        # What the server sends is gorilla's, whoever the client is.
        assert cell["server_compressed_bytes"] == own["server_compressed_bytes"]
        # Each client's own bytes: zlib at its memLevel, 15 bits (a Go server never caps the
        # client's window), no context takeover (gorilla answers client_no_context_takeover).
        chrome = _client_bytes(small, Setting(15, 8, cell["level"], "default", False, 15,
                                              client_mem_level=8, client_level=-1))  # fmt: skip
        websockets = _client_bytes(small, Setting(15, 8, cell["level"], "default", False, 15,
                                                  client_mem_level=5, client_level=-1))  # fmt: skip
        parts = {part["name"]: part for part in cell["clients"]}
        assert parts["chrome"]["client_compressed_bytes"] == chrome
        assert parts["websockets"]["client_compressed_bytes"] == websockets
        assert (parts["chrome"]["client_mem_level"], parts["websockets"]["client_mem_level"]) == (
            8, 5,
        )  # fmt: skip
        assert {part["client_window_bits"] for part in parts.values()} == {15}
        assert abs(cell["client_compressed_bytes"] - (0.6 * chrome + 0.4 * websockets)) <= 1
        weighted = 0.6 * parts["chrome"]["connection_memory"]
        weighted += 0.4 * parts["websockets"]["connection_memory"]
        assert abs(cell["connection_memory"] - weighted) <= 1
        # Compress-once: the server's prepared frames, the mix's client bytes and memory.
        once = cell["compress_once"]
        assert once["connection_memory"] == cell["connection_memory"]
        clients_wire = cell["wire_compressed_bytes"] - once[
            "server_wire_compressed_bytes_per_connection_mode"
        ]
        assert once["server_wire_compressed_bytes"] == own["compress_once"][
            "server_wire_compressed_bytes"
        ]
        assert once["wire_compressed_bytes"] - once["server_wire_compressed_bytes"] == clients_wire


def test_coder_run_with_a_client_mix(small: Path, tmp_path: Path) -> None:
    document = _run(small, tmp_path / "coder.json", "--server", "coder", "--client",
                    "chrome=0.5,firefox=0.5")  # fmt: skip
    cells = [c for c in document["cells"] if c.get("compression") is not False]
    assert {c["context_takeover"] for c in cells} == {True, False}
    for cell in cells:
        # Chrome and Firefox both compress at 15 bits against a Go server: the same bytes.
        chrome, firefox = cell["clients"]
        assert chrome["client_compressed_bytes"] == firefox["client_compressed_bytes"]
        expected = _client_bytes(small, Setting(15, 8, -1, "default", cell["context_takeover"],
                                                15, client_mem_level=8, client_level=-1))
        assert cell["client_compressed_bytes"] == expected


@pytest.mark.parametrize(
    ("server", "client", "said"),
    [
        # ws compresses with Node's zlib, but a Go run makes its frames with CPython's zlib
        # (codecs/go.py, zlib_client_frames): the note says both, never "measured with Node's".
        ("gorilla", "ws", "Node ws (client) compresses with Node's zlib; its direction is "
         "measured with CPython's zlib at its memLevel 8; the server's side with Go's "
         "compress/flate as gorilla calls it"),
        ("coder", "ws", "Node ws (client) compresses with Node's zlib; its direction is "
         "measured with CPython's zlib at its memLevel 8; the server's side with klauspost's"),
        ("gorilla", "firefox", "Firefox's direction is measured with CPython's zlib at its "
         "memLevel 8; the server's side with Go's compress/flate"),
        ("gorilla", "websockets", "python-websockets connect()'s direction is measured with "
         "CPython's zlib at its memLevel 5"),
    ],
)  # fmt: skip
def test_a_go_runs_client_note_names_the_zlib_its_frames_are_made_with(
    small: Path, tmp_path: Path, server: str, client: str, said: str
) -> None:
    level = ["--level", "1"] if server == "gorilla" else []  # coder has no level
    result = CliRunner().invoke(
        cli, ["run", str(small), "--no-timing", "--quiet", "-o", str(tmp_path / "run.json"),
              "--server", server, *level, "--client", client],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    notes = " ".join(result.stderr.split())
    assert f"note: {said}" in notes
    assert "measured with Node's zlib" not in notes


def test_recommend_on_a_go_client_mix_names_the_worst_client(gorilla_mix: Path) -> None:
    result = CliRunner().invoke(cli, ["recommend", "--results", str(gorilla_mix)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "recommended: level" in text
    assert "Clients: chrome=0.6,websockets=0.4 (run --client)" in text
    assert "its library's flate reader, whose window is 32 KiB" in text
    # A Go server inflates every client with its 32 KiB flate reader: chrome and websockets
    # need the same memory, and both are named.
    assert "The worst clients, chrome and websockets (a tie), each need " in text
    decision = json.loads(
        CliRunner().invoke(cli, ["recommend", "--results", str(gorilla_mix), "--json"]).stdout
    )
    assert [part["name"] for part in decision["chosen"]["clients"]] == ["chrome", "websockets"]


def test_recommend_warns_when_the_worst_client_is_over_the_budget(gorilla_mix: Path) -> None:
    document = json.loads(gorilla_mix.read_text())
    for cell in document["cells"]:
        if cell.get("clients"):
            # One client needs more than the budget, the mean fits it.
            cell["clients"][1]["connection_memory"] = 64 * 1024
            cell["clients"][1].pop("connection_memory_resident", None)
    edited = gorilla_mix.with_name("edited.json")
    edited.write_text(json.dumps(document))
    result = CliRunner().invoke(
        cli, ["recommend", "--results", str(edited), "--memory", "allocation",
              "--max-memory", "32KiB"],
    )  # fmt: skip
    text = " ".join(result.output.split())
    assert "the worst client, websockets, needs 64.0 KiB per connection, over the 32.0 KiB" in text


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (["run"], ["--client-window-bits", "10"]),
        (["run"], ["--window-bits", "12"]),
        (["run"], ["--mem-level", "8"]),
        (["run"], ["--strategy", "filtered"]),
        (["run"], ["--no-cache"]),
        (["run"], ["--probe-every-cell"]),
        (["run"], ["--codec", "zlib"]),
        (["recommend"], ["--relative-to", "12:5"]),
        (["recommend"], ["--cliff", "5%"]),
        (["recommend"], ["--level", "1"]),
        (["recommend"], ["--threshold", "0"]),
        (["recommend"], ["--server", "websockets"]),
        (["recommend"], ["--concurrent-writes", "10"]),
        (["report"], ["--connections", "1000"]),
        (["report"], ["--messages-per-second", "10"]),
        (["report"], ["--price-cpu", "3"]),
        (["report"], ["--level", "1"]),
        (["report"], ["--context-takeover", "on"]),
        (["report"], ["--server", "coder"]),
        (["report"], ["--check", "15:8"]),
    ],
)
def test_options_that_do_not_apply_to_a_go_client_run_are_refused(
    small: Path, gorilla_mix: Path, tmp_path: Path, command: list[str], option: list[str]
) -> None:
    if command == ["run"]:
        arguments = ["run", str(small), "--server", "gorilla", "--client", "chrome",
                     "-o", str(tmp_path / "no.json")]  # fmt: skip
    else:
        arguments = [*command, "--results", str(gorilla_mix)]
        if command == ["report"]:
            arguments += ["-o", str(tmp_path / "no.html")]
    result = CliRunner().invoke(cli, [*arguments, *option])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("wsztune: error")]
    assert len(errors) == 1 and option[0] in errors[0], result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "no.json").exists() and not (tmp_path / "no.html").exists()


def test_report_on_a_go_client_run_takes_the_tolerance(gorilla_mix: Path, tmp_path: Path) -> None:
    pages = {}
    for tolerance in ("0.01%", "50%"):
        target = tmp_path / f"page-{tolerance.rstrip('%')}.html"
        result = CliRunner().invoke(cli, ["report", "--results", str(gorilla_mix), "--tolerance",
                                          tolerance, "-o", str(target)])  # fmt: skip
        assert result.exit_code == 0, result.output
        pages[tolerance] = target.read_text()
    # Within 50% of the smallest, compressing does not pay against no compression at all.
    assert "Recommended: off" in pages["50%"] or "compressing does not pay" in pages["50%"]
    assert pages["0.01%"] != pages["50%"]
    # The page says what recommend says of the clients: each one's memory, and the worst's.
    page = " ".join(pages["0.01%"].split())
    assert "Clients: chrome=0.6,websockets=0.4 (run --client)" in page
    assert "The worst clients, chrome and websockets (a tie)" in page


def test_recommend_off_on_a_go_run_says_why_in_words(gorilla_mix: Path) -> None:
    def reason(*options: str) -> str:
        result = CliRunner().invoke(cli, ["recommend", "--results", str(gorilla_mix), *options])
        assert result.exit_code == 0, result.output
        text = " ".join(result.output.split())
        return text[text.index("recommended: ") :].split(" robustness:")[0]

    # Every compressed cell needs more than 1 B per connection.
    assert reason("--max-memory", "1B") == "recommended: off: no compressed cell fits the budget"
    loose = reason("--tolerance", "50%")
    assert loose.startswith(
        "recommended: off: compressing does not pay: no compression's output stays within 50% "
        "of the smallest (level 9, threshold 0 B)"
    ), loose


def test_compare_refuses_go_runs_made_for_other_clients(
    small: Path, gorilla_mix: Path, tmp_path: Path
) -> None:
    # The same levels and corpus; the clients differ, and with them every cell's client bytes
    # and memory: compare says so in one line instead of showing the differences as changes.
    chrome = tmp_path / "chrome.json"
    _run(small, chrome, "--server", "gorilla", "--level", "1,9", "--client", "chrome")
    result = CliRunner().invoke(cli, ["compare", str(chrome), str(gorilla_mix)])
    assert result.exit_code == 2, result.output
    [error] = [line for line in result.stderr.splitlines() if "error" in line]
    assert "--client chrome, NEW" in error and "--client chrome=0.6,websockets=0.4" in error
    assert result.stdout == ""
    same = CliRunner().invoke(cli, ["compare", str(gorilla_mix), str(gorilla_mix)])
    assert same.exit_code == 0, same.output
