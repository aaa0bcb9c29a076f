"""The go codec against the real libraries: gorilla/websocket 1.5.0 and coder/websocket 1.8.7.

A Go program (wsztune/live/golive, built against Debian's packages; ``replay`` mode) runs real
servers and clients of each library on 127.0.0.1 and reports every data frame it saw on the TCP
connection. Every cell of the grid ``run --server gorilla`` / ``--server coder`` sweeps must give
the same frames, byte for byte, in both directions, on several corpora (one with messages large
enough for gorilla's write buffer to split them and for stored blocks).
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from wsztune import corpus, sweep
from wsztune.cli import cli
from wsztune.codecs import go
from wsztune.codecs.base import CorpusSummary, frame_header_size
from wsztune.permessage_deflate import Setting

REPO = Path(__file__).resolve().parents[2]
GOPATH = Path("/usr/share/gocode")
LIBRARIES_PRESENT = all(
    (GOPATH / "src" / path).is_dir()
    for path in ("github.com/gorilla/websocket", "nhooyr.io/websocket", "github.com/klauspost")
)

pytestmark = [
    pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed"),
    pytest.mark.skipif(
        not LIBRARIES_PRESENT,
        reason="Debian's golang-github-gorilla-websocket-dev / golang-nhooyr-websocket-dev "
        "are not installed",
    ),
]


@pytest.fixture(scope="session")
def go_cache() -> Path:
    """The helper, built once (in wsztune's cache, as a user's first run builds it)."""
    return go.helper_binary(notice=lambda text: None)


@pytest.fixture(scope="session")
def reference() -> Path:
    """The real libraries' servers and clients (wsztune/live/golive), built once against the
    Debian-packaged libraries."""
    from wsztune.live import golang

    return golang.live_binary()


def big_messages(path: Path) -> Path:
    """Messages from 10 B to 150 KB, text and base64 noise: stored blocks, several frames."""
    rng = random.Random(7)
    with open(path, "w", encoding="utf-8") as out:
        for _ in range(24):
            size = rng.choice([10, 500, 5000, 9000, 20000, 70000, 150000])
            if rng.random() < 0.5:
                text = base64.b64encode(rng.randbytes(size)).decode()
            else:
                words = ["alpha", "beta", "gamma", str(rng.random())]
                text = " ".join(rng.choice(words) for _ in range(size // 6))
            out.write(json.dumps({"data": text}) + "\n")
    return path


def corpora(tmp_path: Path) -> list[corpus.Corpus]:
    """Three corpora with both directions or big messages, kept small enough to be quick."""
    chat = corpus.sample_connections(corpus.load(REPO / "corpora" / "chat.records.jsonl"), 6, 1)
    game = corpus.sample_connections(corpus.load(REPO / "corpora" / "game.records.jsonl"), 4, 2)
    big = corpus.load(big_messages(tmp_path / "big.jsonl"))
    return [chat, game, big]


def wire_report(reference: Path, directory: Path, job: go.GoJob, streams: list) -> dict:
    """What the real library put on the wire for ``job`` over ``streams``."""
    numbers: dict[str, int] = {}
    spec = {
        "library": go.library_name(job.framing),
        "level": job.level,
        "context_takeover": job.context_takeover,
        "threshold": job.threshold,
        "prepared": job.prepared,
        "corpus": str(directory / "corpus.bin"),
        "directions": [stream.direction for stream in streams],
        "connections": [numbers.setdefault(s.connection, len(numbers)) for s in streams],
    }
    (directory / "job.json").write_text(json.dumps(spec), encoding="utf-8")
    completed = subprocess.run(
        [str(reference), "replay", str(directory / "job.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def grid_settings(library: str) -> list[Setting]:
    """Every cell ``run --server`` sweeps, plus thresholds that split the corpus."""
    if library == go.GO_GORILLA:
        return [
            Setting(15, 8, level, "default", False, None, threshold)
            for level in go.LEVELS
            for threshold in (0, 200)
        ]
    return [
        Setting(15, 8, -1, "default", takeover, None, threshold)
        for takeover in (True, False)
        for threshold in (0, 1, 300)
    ]


@pytest.mark.parametrize("library", go.LIBRARIES)
def test_every_cell_equals_the_real_library_on_the_wire(
    library: str, go_cache: Path, reference: Path, tmp_path: Path
) -> None:
    checked = 0
    for loaded in corpora(tmp_path):
        streams = loaded.streams()
        go.write_corpus([stream.payloads for stream in streams], tmp_path / "corpus.bin")
        jobs = [go.GoJob.of(i, s, library) for i, s in enumerate(grid_settings(library))]
        cells = go.run_cells(tmp_path / "corpus.bin", [s.direction for s in streams], jobs)
        for job, cell in zip(jobs, cells, strict=True):
            real = wire_report(reference, tmp_path, job, streams)
            for index in range(len(streams)):
                assert real["streams"][index]["frames"] == cell.frames[index], (job, index)
                compressed = sum(real["streams"][index]["compressed"])
                assert compressed == cell.compressed_messages[index], (job, index)
            assert real["sha256"] == cell.sha256, job  # the bytes, not only their count
            checked += 1
    assert checked == 3 * len(grid_settings(library))


def test_fragmentation_is_modelled_where_the_libraries_fragment(
    go_cache: Path, tmp_path: Path
) -> None:
    # coder: every compressed message is several frames; gorilla: past its 4 KiB buffer.
    loaded = corpus.load(big_messages(tmp_path / "big.jsonl"))
    streams = loaded.streams()
    go.write_corpus([s.payloads for s in streams], tmp_path / "corpus.bin")
    jobs = [
        go.GoJob.of(0, Setting(15, 8, 1, "default", False), go.GO_GORILLA),
        go.GoJob.of(1, Setting(15, 8, -1, "default", True), go.GO_CODER),
    ]
    gorilla, coder = go.run_cells(tmp_path / "corpus.bin", [s.direction for s in streams], jobs)
    messages = sum(len(stream) for stream in streams)
    assert sum(map(len, gorilla.frames)) > messages
    assert sum(map(len, coder.frames)) >= 2 * messages


@pytest.mark.parametrize("server", ["gorilla", "coder"])
def test_run_cells_count_every_frame_header_on_the_wire(
    server: str, go_cache: Path, reference: Path, tmp_path: Path
) -> None:
    """A run's sizes and wire bytes are those the real library sent, headers and masks included."""
    loaded = corpus.sample_connections(
        corpus.load(REPO / "corpora" / "chat.records.jsonl"), 5, 3
    )
    library = go.framing_of(server)
    grid = sweep.SweepPlan(
        window_bits=(15,),
        mem_levels=(8,),
        levels=(1,) if server == "gorilla" else (-1,),
        context_takeover=(False,) if server == "gorilla" else (True, False),
    )
    run = sweep.sweep(
        loaded, grid, codec_name=library, plan=sweep.TimingPlan(measure_time=False)
    )
    assert run.meta["codec"] == library
    assert run.meta["axes"] == list(go.AXES[library])
    streams = loaded.streams()
    go.write_corpus([s.payloads for s in streams], tmp_path / "corpus.bin")
    for cell in run.cells:
        setting = Setting(15, 8, cell["level"], "default", cell["context_takeover"])
        real = wire_report(reference, tmp_path, go.GoJob.of(0, setting, library), streams)
        payload = wire = frames = 0
        for stream, report in zip(streams, real["streams"], strict=True):
            masked = stream.direction == "client"
            payload += sum(report["frames"])
            wire += sum(n + frame_header_size(n, masked) for n in report["frames"])
            frames += len(report["frames"])
        assert cell["compressed_bytes"] == payload
        assert cell["wire_compressed_bytes"] == wire
        assert cell["frames"] == frames
        assert (cell["window_bits"], cell["mem_level"]) == (go.WINDOW_BITS, go.MEM_LEVEL)
        assert cell["compress_seconds"] is None  # --no-timing


def test_memory_per_connection_follows_the_libraries_state(go_cache: Path, tmp_path: Path) -> None:
    """coder keeps its windows with takeover (8 KiB + 32 KiB + a 4 KiB reader); gorilla keeps
    nothing between messages and holds a flate.Writer (about 1 MB at level 1) per write."""
    loaded = corpus.load(REPO / "corpora" / "chat.records.jsonl")
    streams = loaded.streams()
    summary = CorpusSummary.of(streams)
    go.write_corpus([s.payloads for s in streams], tmp_path / "corpus.bin")
    jobs = [
        go.GoJob.of(0, Setting(15, 8, 1, "default", False), go.GO_GORILLA),
        go.GoJob.of(1, Setting(15, 8, -1, "default", True), go.GO_CODER),
    ]
    memory = go.measure_memory(
        tmp_path / "corpus.bin",
        summary.compressor_stream,
        summary.decompressor_stream,
        jobs,
        connections=100,
    )
    gorilla = memory[go.memory_key(jobs[0])]
    coder = memory[go.memory_key(jobs[1])]
    assert gorilla.compressor_idle + gorilla.decompressor_idle < 1024
    assert gorilla.compressor_writing > 500 * 1024
    assert 8192 <= coder.compressor_idle < 8192 + 1024
    assert 32768 + 4096 <= coder.decompressor_idle < 32768 + 4096 + 2048
    # coder 1.8.7 still points at the pooled flate reader after a compressed message.
    assert coder.decompressor_reader > 32 * 1024
    assert gorilla.decompressor_reader == 0


def test_go_axes_only(go_cache: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    path = REPO / "corpora" / "chat.records.jsonl"
    result = runner.invoke(cli, ["run", str(path), "--server", "gorilla", "--mem-level", "5"])
    assert result.exit_code == 2
    assert "--mem-level does not exist in Go's flate" in result.output
    result = runner.invoke(cli, ["run", str(path), "--server", "coder", "--level", "3"])
    assert result.exit_code == 2
    assert "no compression level" in result.output


def small_chat(path: Path) -> Path:
    """Three connections of the chat corpus as a records file: a quick Go run."""
    loaded = corpus.load(REPO / "corpora" / "chat.records.jsonl")
    sampled = corpus.sample_connections(loaded, 3, 5)
    with open(path, "w", encoding="utf-8") as out:
        out.write(json.dumps({"wsztune": "records/1"}) + "\n")
        for stream in sampled.streams():
            for payload in stream.payloads:
                record = {
                    "connection": stream.connection,
                    "direction": stream.direction,
                    "text": bytes(payload).decode(),
                }
                out.write(json.dumps(record) + "\n")
    return path


@pytest.fixture(scope="module")
def gorilla_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A timed ``run --server gorilla`` over four levels of a small chat corpus."""
    go.helper_binary(notice=lambda text: None)
    directory = tmp_path_factory.mktemp("gorilla")
    output = directory / "run.json"
    result = CliRunner().invoke(
        cli,
        ["run", str(small_chat(directory / "small.records.jsonl")), "--server", "gorilla",
         "--level=-2,-1,1,9", "--repeat", "1", "-o", str(output), "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return output


def _recommend(run: Path, *options: str) -> tuple[int, dict, str]:
    result = CliRunner().invoke(cli, ["recommend", "--results", str(run), *options, "--json"])
    document = json.loads(result.stdout) if result.exit_code in (0, 1) else {}
    return result.exit_code, document, result.output


def test_go_recommend_has_compression_off_resampling_and_fleet_cost(gorilla_run: Path) -> None:
    cells = json.loads(gorilla_run.read_text())["cells"]
    assert all(len(cell["unit_compressed_bytes"]) > 1 for cell in cells)
    code, decision, output = _recommend(
        gorilla_run, "--connections", "40000", "--messages-per-second", "5000"
    )
    assert code == 0, output
    # gorilla's default is off: compression off is a row, measured from the corpus.
    off = decision["off"]
    assert off["setting"] == "off" and off["compressed_bytes"] == cells[0]["raw_bytes"]
    assert off["connection_memory"] == 0
    # The bootstrap of zlib runs, over the Go cells' units.
    robustness = decision["robustness"]
    assert robustness["resamples"] == 1000 and robustness["units"] > 1
    low, high = robustness["savings_interval"]
    assert low <= decision["chosen"]["savings"] <= high
    assert decision["chosen"]["robust_share"] >= 0.95
    # The fleet's cost: every level priced, and no compression for scale.
    costs = decision["costs"]
    assert costs["connections"] == 40000 and costs["messages_per_second"] == 5000
    assert {cost["setting"] for cost in costs["per_month"]} >= {"level 1, threshold 0 B"}
    assert costs["uncompressed"]["egress"] > min(c["egress"] for c in costs["per_month"])
    table = CliRunner().invoke(cli, ["recommend", "--results", str(gorilla_run),
                                     "--connections", "40000"])  # fmt: skip
    assert table.exit_code == 0, table.output
    assert "off (no" in table.output and "Monthly cost" in table.output
    assert "│ off" in table.output


def test_go_recommend_prefers_the_default_level_within_tolerance(gorilla_run: Path) -> None:
    cells = {c["level"]: c for c in json.loads(gorilla_run.read_text())["cells"]}
    gain = 1 - min(c["compressed_bytes"] for c in cells.values()) / cells[1]["compressed_bytes"]
    # A tolerance above level 1's gap to the smallest: gorilla's default, level 1, is chosen.
    code, decision, output = _recommend(gorilla_run, "--tolerance", f"{gain * 100 + 1:.2f}%")
    assert code == 0, output
    assert decision["chosen"]["level"] == 1 and "default" in decision["reason"]
    # No tolerance: the smallest output wins, and the trade against the default is said.
    code, decision, output = _recommend(gorilla_run, "--tolerance", "0%")
    assert code == 0, output
    chosen = decision["chosen"]
    assert chosen["compressed_bytes"] == min(c["compressed_bytes"] for c in cells.values())
    if chosen["level"] != 1:
        assert any("against the default" in line for line in decision["explanation"])
    # --max-time-ratio is applied against the default (level 1), not ignored.
    code, decision, output = _recommend(gorilla_run, "--tolerance", "0%", "--max-time-ratio", "1")
    assert code == 0, output
    if decision["chosen"]["compression"]:
        assert decision["chosen"]["compress_seconds"] <= cells[1]["compress_seconds"]


def test_go_check_in_go_terms_with_zlibs_exit_codes(gorilla_run: Path) -> None:
    code, decision, output = _recommend(gorilla_run, "--check", "level=1,takeover=off",
                                        "--tolerance", "50%")  # fmt: skip
    assert code == 0, output
    assert decision["check"]["ok"] and decision["check"]["setting"] == "level 1, threshold 0 B"
    code, decision, output = _recommend(gorilla_run, "--check", "level=1", "--max-memory",
                                        "100B")  # fmt: skip
    assert code == 1, output
    assert decision["check"]["kind"] == "budget"
    runner = CliRunner()
    for bad, words in (("15:0", "not a Go setting"), ("level=7", "was not measured"),
                       ("takeover=on", "was not measured"), ("level=x", "not a Go setting")):
        result = runner.invoke(cli, ["recommend", "--results", str(gorilla_run), "--check", bad])
        assert result.exit_code == 2, (bad, result.output)
        errors = [line for line in result.output.splitlines() if "error" in line]
        assert len(errors) == 1 and words in errors[0], result.output
        assert "memLevel must be" not in result.output
    code, decision, output = _recommend(gorilla_run, "--check", "level=-2", "--strict")
    assert code == (0 if decision["check"]["ok"] else 1)
    assert decision["check"]["mode"] == "strict"


def test_go_run_with_a_browser_client_measures_its_direction_with_zlib(
    go_cache: Path, tmp_path: Path
) -> None:
    from wsztune.permessage_deflate import Setting as ZlibSetting
    from wsztune.permessage_deflate import compress_stream, get_zlib_module

    small = small_chat(tmp_path / "small.records.jsonl")
    runner = CliRunner()
    documents = {}
    for name, extra in (("go", []), ("chrome", ["--client", "chrome"])):
        output = tmp_path / f"{name}.json"
        result = runner.invoke(
            cli,
            ["run", str(small), "--server", "gorilla", "--level", "1", "--no-timing", "-o",
             str(output), "--quiet", *extra],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        documents[name] = json.loads(output.read_text())["cells"][0]
    go_cell, chrome_cell = documents["go"], documents["chrome"]
    # The server's frames are gorilla's either way.
    assert chrome_cell["server_compressed_bytes"] == go_cell["server_compressed_bytes"]
    # Chrome compresses with zlib at memLevel 8, level -1 (default), a 15-bit window, without
    # context takeover (gorilla answers client_no_context_takeover), every message.
    chrome = ZlibSetting(15, 8, -1, context_takeover=False)
    streams = [s for s in corpus.load(small).streams() if s.direction == corpus.CLIENT]
    expected = sum(
        len(frame)
        for stream in streams
        for frame in compress_stream(stream.payloads, chrome, 15, get_zlib_module("zlib"))
    )
    assert chrome_cell["client_compressed_bytes"] == expected
    assert chrome_cell["client_compressed_bytes"] != go_cell["client_compressed_bytes"]
    assert (chrome_cell["client_mem_level"], chrome_cell["client_level"]) == (8, -1)


@pytest.mark.parametrize(
    ("option", "words"),
    [
        (["--cliff", "5%"], "--cliff"),
        (["--relative-to", "12:5"], "--relative-to"),
        (["--level", "1"], "--level"),
        (["--context-takeover", "on"], "--context-takeover"),
        (["--threshold", "0"], "--threshold"),
        (["--server", "websockets"], "--server"),
    ],
)
def test_go_recommend_refuses_what_does_not_apply(
    gorilla_run: Path, option: list[str], words: str
) -> None:
    result = CliRunner().invoke(cli, ["recommend", "--results", str(gorilla_run), *option])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if "error" in line]
    assert len(errors) == 1 and words in errors[0], result.output
    assert "Traceback" not in result.output


def test_run_table_recommend_on_go_axes(go_cache: Path, tmp_path: Path) -> None:
    small = small_chat(tmp_path / "small.records.jsonl")
    runner = CliRunner()
    output = tmp_path / "run.json"
    result = runner.invoke(
        cli,
        ["run", str(small), "--server", "gorilla", "--level", "-2,1,9", "--no-timing",
         "-o", str(output), "--quiet"],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(output.read_text())
    assert document["meta"]["axes"] == ["level", "threshold"]
    assert sorted(cell["level"] for cell in document["cells"]) == [-2, 1, 9]
    table = runner.invoke(cli, ["table", "--results", str(output), "--markdown"])
    assert table.exit_code == 0, table.output
    assert "level -2" in table.output and "windowBits" not in table.output
    advice = runner.invoke(cli, ["recommend", "--results", str(output), "--json"])
    assert advice.exit_code == 0, advice.output
    decision = json.loads(advice.stdout)
    best = min(document["cells"], key=lambda c: c["compressed_bytes"])
    assert decision["chosen"]["compressed_bytes"] <= best["compressed_bytes"] * 1.01
    assert "SetCompressionLevel" in decision["snippet"]
    drawn = runner.invoke(cli, ["plot", "--results", str(output), "-o", str(tmp_path / "img")])
    assert drawn.exit_code == 0, drawn.output
    assert drawn.output.strip().endswith("run-axes.png")
    assert (tmp_path / "img" / "run-axes.png").stat().st_size > 1000


def test_missing_go_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["run", str(REPO / "corpora" / "chat.records.jsonl"), "--server", "gorilla"],
        env={"WSZTUNE_GO": str(tmp_path / "no-go"), "WSZTUNE_CACHE": str(tmp_path / "c")},
    )
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "go" in lines[0], result.output
    assert "Traceback" not in result.output


def test_helper_digest_matches_its_frames(go_cache: Path, tmp_path: Path) -> None:
    """The digest the helper reports is of the frames it reports (the byte check's basis)."""
    streams = [corpus.Stream("c", "server", [b"hello hello hello", b"x" * 300])]
    go.write_corpus([s.payloads for s in streams], tmp_path / "corpus.bin")
    job = go.GoJob.of(0, Setting(15, 8, 1, "default", False), go.GO_GORILLA)
    (cell,) = go.run_cells(tmp_path / "corpus.bin", ["server"], [job])
    assert len(cell.sizes[0]) == 2 and cell.compressed_messages == [2]
    assert len(cell.sha256) == len(hashlib.sha256().hexdigest())


@pytest.mark.parametrize(
    ("server", "name"), [("gorilla", "chat"), ("coder", "chat"), ("coder", "market")]
)
def test_live_go_server_agrees_with_the_model(
    server: str, name: str, go_cache: Path, reference: Path
) -> None:
    """A real Go server and Go clients in separate processes: bytes equal, Go heap per
    connection within the tolerance (coder keeps ~40 KiB with takeover, more on market where a
    connection's last message received is compressed and its reader stays; gorilla nothing)."""
    path = REPO / "corpora" / f"{name}.records.jsonl"
    result = CliRunner().invoke(
        cli, ["live", str(path), "--server", server, "--connections", "48", "--json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["bytes_equal"] and document["verdict"] == "pass"
    assert document["live_bytes"] == document["model_bytes"]
    assert document["live_frames_server"] + document["live_frames_client"] == (
        document["model_frames_live"]
    )
    if server == "coder":
        assert document["model_connection_memory"] > 30 * 1024
        assert abs(document["memory_difference"]) <= 0.3


def test_live_go_refuses_zlib_knobs() -> None:
    result = CliRunner().invoke(cli, ["live", "--server", "gorilla", "--setting", "12:5"])
    assert result.exit_code == 2
    assert "no windowBits or memLevel" in result.output
