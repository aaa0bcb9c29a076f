"""coder's and gorilla's CPU per delivery, and gorilla's PreparedMessage broadcast's, are timed
through the libraries themselves (issue 25): coder/websocket 1.8.7 and gorilla/websocket 1.5.0.

The helper's ``coderDeliveries`` runs K real coder server connections over loopback TCP
sockets that a separate process drains, each written by a goroutine of its own, as a coder
server broadcasts; ``gorillaDeliveries`` does the same with gorilla's connections and
``WriteMessage``, ``preparedDeliveries`` with ``NewPreparedMessage`` per message and
``WritePreparedMessage`` per subscriber. These tests check that the timing really goes through
those connections: the bytes one subscriber's connection was sent over the whole broadcast
equal the model's frames for the same messages, headers included (coder with and without
context takeover; gorilla's WriteMessage and PreparedMessage frames, with and without a
threshold), the cells say how they were timed, the schedule interleaves as many writers as
64 MiB of their stacks hold, and a helper built without gorilla/websocket still runs and says
its figures are the compressor's alone.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from wsztune import fanout
from wsztune.codecs import go
from wsztune.codecs.base import frame_header_size
from wsztune.permessage_deflate import Setting
from wsztune.programs.descriptors import SPARE_DESCRIPTORS

GOPATH = Path("/usr/share/gocode")

needs_go = pytest.mark.skipif(
    shutil.which("go") is None or not (GOPATH / "src" / "nhooyr.io" / "websocket").is_dir(),
    reason="go or Debian's golang-nhooyr-websocket-dev is not installed",
)
needs_gorilla = pytest.mark.skipif(
    shutil.which("go") is None or not go.go_gorilla_found(),
    reason="go or gorilla/websocket (Debian: golang-github-gorilla-websocket-dev) is not installed",
)


def server_messages() -> list[bytes]:
    """Small messages (under coder's thresholds), mid-size ones and some over its 4 KiB
    buffer: every path of Conn.Write."""
    rng = random.Random(25)
    words = [b"alpha", b"beta", b"gamma", b'"price":', b"42.5,"]
    return [b" ".join(rng.choice(words) for _ in range(rng.choice([3, 40, 200, 1500])))
            for _ in range(30)]  # fmt: skip


def coder_job(takeover: bool) -> go.GoJob:
    """coder's cell at its default threshold (128 B with takeover, 512 B without)."""
    return go.GoJob.of(0, Setting(15, 8, 1, "default", takeover), go.GO_CODER)


def modelled_wire_bytes(messages: list[bytes], takeover: bool, tmp_path: Path) -> int:
    """The model's frames for ``messages`` sent in order on one connection, headers included."""
    go.write_corpus([messages], tmp_path / "stream.bin")
    (cell,) = go.run_cells(tmp_path / "stream.bin", ["server"], [coder_job(takeover)])
    return sum(size + frame_header_size(size, masked=False) for size in cell.frames[0])


@needs_go
@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("takeover", [False, True])
def test_coder_broadcast_is_timed_through_coders_own_connections(
    takeover: bool, split: bool, tmp_path: Path
) -> None:
    """The delivery timing's connection sent one subscriber exactly the model's frames for the
    primed messages and every stretch, and every timed stretch gave a sample; split (some
    messages under coder's threshold: wsztune.fanout.split_series), also a sample per timed
    stretch of its compressed messages and of its raw ones, beside the stretches."""
    messages = server_messages()
    go.write_corpus([messages], tmp_path / "corpus.bin")
    schedule = fanout.delivery_schedule(len(messages), 4, repeat=2, warmup=1)
    assert schedule is not None
    job = coder_job(takeover)
    deliveries = schedule.helper_job()
    if split:
        series = fanout.split_series(schedule, list(map(len, messages)), job.threshold)
        assert series is not None  # the messages hold both kinds at either threshold
        deliveries["split"] = {str(job.threshold): series.helper_job()}
    timing = {"repeat": 1, "warmup": 1, "min_sample_seconds": 0.001, "deliveries": deliveries}
    (cell,) = go.run_cells(tmp_path / "corpus.bin", ["server"], [job], timing=timing)
    assert cell.delivery is not None and len(cell.delivery["compress"]) == 2
    for series_name in ("split_compressed", "split_raw"):
        assert len(cell.delivery.get(series_name, [])) == (2 if split else 0), series_name
    primed: list[bytes] = []
    while takeover and sum(map(len, primed)) < 2 * 8192:  # coderDeliveries' priming
        primed.append(messages[len(primed) % len(messages)])
    stretches = [range(start, end) for start, end in schedule.stretches]
    sent = primed + [messages[index % len(messages)] for span in stretches for index in span]
    assert cell.delivery["sent_bytes"] == modelled_wire_bytes(sent, takeover, tmp_path)
    # Then each stretch's compressed messages 1 KiB longer, through the same connections (not in
    # sent_bytes: the model does not frame them), a sample per timed stretch.
    assert len(cell.delivery["longer"]) == 2


@needs_go
def test_a_coder_run_for_a_broadcast_carries_the_raw_deliveries_cost(tmp_path: Path) -> None:
    """``wsztune run --server coder --fanout K`` over messages of both kinds: each cell carries
    what a raw delivery costs beside its cost per byte, and its figure per delivery."""
    from click.testing import CliRunner

    from wsztune.cli import cli

    write_records(server_messages(), tmp_path / "corpus.jsonl")
    result = CliRunner().invoke(cli, [
        "run", str(tmp_path / "corpus.jsonl"), "--server", "coder", "--fanout", "4", "-j", "1",
        "-q", "--repeat", "2", "-o", str(tmp_path / "run.json")])  # fmt: skip
    assert result.exit_code == 0, result.output
    cells = json.loads((tmp_path / "run.json").read_text())["cells"]
    compressing = [cell for cell in cells if cell["compressed_bytes"] != cell["raw_bytes"]]
    assert compressing
    for cell in compressing:
        assert cell[fanout.RAW_COST_FIELD] >= 0
        assert cell[fanout.BYTE_COST_FIELD] >= 0
        assert cell["compress_seconds_per_delivery"] >= 0


def test_coder_writers_stacks_bound_how_many_are_interleaved() -> None:
    """A coder subscriber's writer touches its 512 KiB stack per delivery, so a fan-out of
    1,000 is timed with as many writers as 64 MiB holds (the floor of 128); gorilla, whose
    writers are pooled, with all 1,000."""
    coder = go.GoJob.of(0, Setting(15, 8, 1, "default", True), go.GO_CODER)
    gorilla = go.GoJob.of(0, Setting(15, 8, 1, "default", False), go.GO_GORILLA)
    assert go.delivery_state(coder) == 8192 + go.GO_CODER_WRITER_STACK
    assert fanout.interleaved(1000, go.delivery_state(coder)) == fanout.MIN_INTERLEAVED
    assert fanout.interleaved(1000, go.delivery_state(gorilla)) == 1000


@needs_gorilla
@pytest.mark.parametrize(("threshold", "level"), [(0, 1), (200, 1), (0, 0)])
def test_gorilla_broadcast_is_timed_through_gorillas_own_connections(
    threshold: int, level: int, tmp_path: Path
) -> None:
    """The WriteMessage timing's connection sent one subscriber exactly the model's frames for
    every stretch's messages (under the threshold uncompressed), and every timed stretch gave a
    sample; the PreparedMessage timing, on the same shared connections, counts its own bytes.
    A level-0 cell alone (its connections fresh, which gorilla starts at level 1) is sent
    level 0's frames."""
    messages = server_messages()
    go.write_corpus([messages], tmp_path / "corpus.bin")
    timing, prepared_stretches = prepared_timing_job(messages, 3)
    (cell,) = go.run_cells(tmp_path / "corpus.bin", ["server"], [gorilla_job(threshold, level)],
                           timing=timing)  # fmt: skip
    assert cell.delivery is not None and len(cell.delivery["compress"]) == 2
    stretches = [range(start, end) for start, end in timing["deliveries"]["stretches"]]
    sent = [messages[index % len(messages)] for span in stretches for index in span]
    go.write_corpus([sent], tmp_path / "sent.bin")
    (model,) = go.run_cells(tmp_path / "sent.bin", ["server"], [gorilla_job(threshold, level)])
    modelled = sum(size + frame_header_size(size, masked=False) for size in model.frames[0])
    assert cell.delivery["sent_bytes"] == modelled
    assert go.delivery_timing(go.GO_GORILLA, cell.delivery) == go.GO_CONNECTIONS_TIMING.format(
        library="gorilla")
    # a sample per timed stretch (the warm-up's untimed): at K = 3, more than the schedule's
    assert len(cell.delivery["prepared"]) == len(prepared_stretches) - 1
    assert cell.delivery["prepared_sent_bytes"] > 0
    assert len(cell.delivery["longer"]) == 2


@needs_gorilla
def test_a_gorilla_cell_with_no_timed_stretch_still_goes_through_gorilla(tmp_path: Path) -> None:
    """A schedule of warm-up stretches only gives no sample: still timed through gorilla's
    connections (their bytes checked), not mistaken for a helper built without gorilla."""
    go.write_corpus([server_messages()], tmp_path / "corpus.bin")
    (cell,) = go.run_cells(tmp_path / "corpus.bin", ["server"], [gorilla_job(0)],
                           timing=schedule_timing(3, repeat=0))  # fmt: skip
    assert cell.delivery is not None and not cell.delivery.get("compress")
    assert cell.delivery["sent_bytes"] > 0


def test_delivery_timing_says_which_path_timed_a_cell() -> None:
    """Through the library's connections where the helper reports what one was sent; the
    compressor and frame writer alone otherwise (gorilla without gorilla/websocket, NATS)."""
    assert go.delivery_timing(go.GO_CODER, {"compress": [1.0], "sent_bytes": 10}) == (
        "coder connections over loopback sockets, on - off")
    assert go.delivery_timing(go.GO_GORILLA, {"compress": [1.0]}) == go.GO_WRITER_TIMING


def gorilla_job(threshold: int, level: int = 1) -> go.GoJob:
    """gorilla's cell at ``level``, compressing messages of ``threshold`` bytes and more."""
    return go.GoJob.of(0, Setting(15, 8, level, "default", False, None, threshold),
                       go.GO_GORILLA)  # fmt: skip


def prepared_timing_job(messages: list[bytes], fanout_k: int) -> tuple[dict, list[range]]:
    """The helper's timing job for a broadcast of ``messages`` to ``fanout_k`` subscribers, with
    gorilla's PreparedMessage plan (as GoCodec.measure writes it), and its prepared stretches."""
    schedule = fanout.delivery_schedule(len(messages), fanout_k, repeat=2, warmup=1)
    assert schedule is not None
    prepared = go.prepared_plan(schedule, len(messages))
    deliveries = {**schedule.helper_job(), "prepared": {
        "connections": schedule.compressors,
        "stretches": [list(stretch) for stretch in prepared.stretches]}}  # fmt: skip
    timing = {"repeat": 1, "warmup": 1, "min_sample_seconds": 0.001, "deliveries": deliveries}
    return timing, [range(start, end) for start, end in prepared.stretches]


@needs_gorilla
@pytest.mark.parametrize("threshold", [0, 200])
def test_gorilla_prepared_broadcast_is_timed_through_gorillas_own_connections(
    threshold: int, tmp_path: Path
) -> None:
    """The PreparedMessage timing's connection sent one subscriber exactly the modelled
    PreparedMessage frames of every stretch's messages (under the threshold: the plain frame),
    and every timed stretch gave a sample."""
    messages = server_messages()
    go.write_corpus([messages], tmp_path / "corpus.bin")
    timing, stretches = prepared_timing_job(messages, 3)
    assert all(len(span) == go.PREPARED_MESSAGES for span in stretches)
    (cell,) = go.run_cells(tmp_path / "corpus.bin", ["server"], [gorilla_job(threshold)],
                           timing=timing)  # fmt: skip
    assert cell.delivery is not None
    assert len(cell.delivery["prepared"]) == len(stretches) - 1  # the warm-up untimed
    sent = [messages[index % len(messages)] for span in stretches for index in span]
    go.write_corpus([sent], tmp_path / "sent.bin")
    job = replace(gorilla_job(threshold), prepared=True)
    (model,) = go.run_cells(tmp_path / "sent.bin", ["server"], [job])
    modelled = sum(size + frame_header_size(size, masked=False) for size in model.frames[0])
    assert cell.delivery["prepared_sent_bytes"] == modelled
    # Under the threshold a message goes out as the plain frame: fewer bytes compressed.
    assert (sum(model.compressed_messages) < len(sent)) == (threshold > 0)


@needs_gorilla
def test_a_gorilla_runs_compress_once_cpu_comes_from_gorillas_connections(
    tmp_path: Path,
) -> None:
    """``wsztune run --server gorilla --fanout K``: each cell's time per delivery is timed
    through gorilla's own connections (with its cost per byte), and its compress_once time per
    delivery through gorilla's own PreparedMessage broadcast, and both say so."""
    cells = gorilla_run(tmp_path, 4)
    compressing = [cell for cell in cells if "compress_once" in cell]
    assert compressing
    for cell in compressing:
        assert cell["delivery_timing"] == go.GO_CONNECTIONS_TIMING.format(library="gorilla")
        once = cell["compress_once"]
        assert once["delivery_timing"] == go.GO_GORILLA_TIMING
        assert isinstance(once["compress_seconds_per_delivery"], float)
        # Read per compressed message, with the cost per byte it was read by beside it.
        assert cell[fanout.BYTE_COST_FIELD] >= 0


@needs_gorilla
def test_a_fanout_past_the_socket_cap_times_that_many_connections(tmp_path: Path) -> None:
    """``--fanout 5000`` times gorilla's broadcast through SOCKET_CONNECTIONS subscribers'
    sockets (and as many with compression off), not 10,000 sockets and 5,000 more in the drain,
    and the cell says how many it timed."""
    (cell,) = gorilla_run(tmp_path, 5000)
    assert cell["delivery_compressors"] == go.SOCKET_CONNECTIONS
    assert cell["delivery_timing"] == go.GO_CONNECTIONS_TIMING.format(library="gorilla")
    assert cell["compress_seconds_per_delivery"] >= 0


def test_socket_cap_bounds_the_schedule() -> None:
    """The cap bounds how many compressors a schedule interleaves, its stretches lengthened so
    that a sample still holds MIN_DELIVERIES_PER_SAMPLE deliveries."""
    schedule = fanout.delivery_schedule(30, 5000, repeat=2, warmup=1,
                                        most_compressors=go.SOCKET_CONNECTIONS)  # fmt: skip
    assert schedule is not None and schedule.compressors == go.SOCKET_CONNECTIONS
    assert schedule.deliveries_per_sample >= fanout.MIN_DELIVERIES_PER_SAMPLE


@needs_go
def test_too_few_open_files_for_the_sockets_is_one_line_naming_ulimit(tmp_path: Path) -> None:
    """Where the open-file limit cannot hold a broadcast's sockets, the helper fails before
    opening any, saying how many it needs and how to raise the limit."""
    import resource

    binary = go.helper_binary()
    job_file = helper_job_file(tmp_path, coder_job(False), schedule_timing(4, repeat=2))

    def few_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))

    completed = subprocess.run([str(binary), "cells", str(job_file)], capture_output=True,
                               text=True, timeout=120, preexec_fn=few_files)  # fmt: skip
    assert completed.returncode != 0
    assert "ulimit -n" in completed.stderr and "4 more loopback sockets" in completed.stderr


@needs_go
def test_a_run_whose_sockets_pass_the_open_file_limit_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``wsztune run --server gorilla --fanout 200`` where the hard open-file limit is 100:
    one line naming ``ulimit -n`` and exit 2, before any helper starts, not a traceback."""
    import resource

    from click.testing import CliRunner

    from wsztune.cli import cli

    monkeypatch.setattr(resource, "getrlimit", lambda which: (100, 100))
    write_records(server_messages(), tmp_path / "corpus.jsonl")
    result = CliRunner().invoke(cli, [
        "run", str(tmp_path / "corpus.jsonl"), "--server", "gorilla", "--level", "1",
        "--fanout", "200", "-j", "1", "-q", "-o", str(tmp_path / "run.json")])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert f"ulimit -n {400 + SPARE_DESCRIPTORS}" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "run.json").exists()


@needs_go
@pytest.mark.parametrize("after", [0.0, 0.3])
def test_a_drain_that_ends_early_stops_the_helper_at_once_saying_so(
    after: float, tmp_path: Path
) -> None:
    """The drain process killed as it starts (the helper accepting its connections) or later
    (the helper writing to them): the helper stops within seconds (not at its 60 s accept
    deadline, which the caller's stall guard would race) and names the drain's ending."""
    import os
    import signal
    import time

    binary = go.helper_binary()
    job_file = helper_job_file(tmp_path, coder_job(False), schedule_timing(200, repeat=500))
    helper = subprocess.Popen([str(binary), "cells", str(job_file)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    started = time.monotonic()
    children = Path(f"/proc/{helper.pid}/task/{helper.pid}/children")
    killed = False
    while not killed and helper.poll() is None and time.monotonic() - started < 30:
        for child in children.read_text().split() if children.exists() else []:
            time.sleep(after)
            os.kill(int(child), signal.SIGKILL)
            killed = True
    _, stderr = helper.communicate(timeout=30)
    assert killed and helper.returncode != 0
    assert "drain process" in stderr and "killed" in stderr, stderr
    assert time.monotonic() - started < 30


# Runs the helper as a child subreaper (prctl PR_SET_CHILD_SUBREAPER): a drain process the
# helper left behind would become this process's child; prints how many it has once the
# helper has exited.
ORPHANS_LEFT = """
import ctypes, subprocess, sys, time
from pathlib import Path
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)
subprocess.run(sys.argv[1:], check=True, capture_output=True)
time.sleep(0.5)
print(len(Path("/proc/self/task/%d/children" % __import__("os").getpid()).read_text().split()))
"""


@needs_gorilla
def test_the_helper_closes_its_shared_fleets_and_reaps_their_drains(tmp_path: Path) -> None:
    """Once its cells are done, the helper closes its shared gorilla fleets and waits for their
    drain processes: none is left for init (or whoever adopts orphans) to reap."""
    import sys

    timing, _ = prepared_timing_job(server_messages(), 3)
    job_file = helper_job_file(tmp_path, gorilla_job(0), timing)
    completed = subprocess.run([sys.executable, "-c", ORPHANS_LEFT, str(go.helper_binary()),
                                "cells", str(job_file)], capture_output=True, text=True,
                               timeout=120, check=True)  # fmt: skip
    assert completed.stdout.split() == ["0"]


def schedule_timing(fanout_k: int, repeat: int) -> dict:
    """The helper's timing job for a broadcast of server_messages() to ``fanout_k``
    subscribers over ``repeat`` timed stretches (no PreparedMessage plan)."""
    schedule = fanout.delivery_schedule(len(server_messages()), fanout_k, repeat=repeat, warmup=1)
    assert schedule is not None
    return {"repeat": 1, "warmup": 1, "min_sample_seconds": 0.001,
            "deliveries": schedule.helper_job()}  # fmt: skip


def helper_job_file(tmp_path: Path, job: go.GoJob, timing: dict) -> Path:
    """A ``wsztune-go cells`` job file: server_messages() as one server stream, ``job`` timed
    with ``timing``."""
    go.write_corpus([server_messages()], tmp_path / "corpus.bin")
    job_file = tmp_path / "job.json"
    job_file.write_text(json.dumps({"corpus": str(tmp_path / "corpus.bin"),
                                    "directions": ["server"], "timing": timing,
                                    "cells": [job.helper_fields()]}))  # fmt: skip
    return job_file


def gorilla_run(tmp_path: Path, fanout_k: int) -> list[dict]:
    """The cells of ``wsztune run --server gorilla --level 1 --threshold 0 --fanout K`` over
    server_messages()."""
    from click.testing import CliRunner

    from wsztune.cli import cli

    write_records(server_messages(), tmp_path / "corpus.jsonl")
    result = CliRunner().invoke(cli, [
        "run", str(tmp_path / "corpus.jsonl"), "--server", "gorilla", "--level", "1",
        "--threshold", "0", "--fanout", str(fanout_k), "-j", "1", "-q", "--repeat", "2",
        "-o", str(tmp_path / "run.json")])  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads((tmp_path / "run.json").read_text())["cells"]


def write_records(messages: list[bytes], path: Path) -> None:
    """A records corpus of ``messages`` sent by the server on one connection."""
    lines = [json.dumps({"wsztune": "records/1"})]
    lines += [json.dumps({"connection": "c", "direction": "server", "text": m.decode()})
              for m in messages]  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@needs_go
def test_without_gorilla_the_helper_builds_and_compress_once_is_the_hot_compressors(
    tmp_path: Path,
) -> None:
    """Built where gorilla/websocket is not found (the nogorilla tag), the helper still
    measures a gorilla cell, times its deliveries with the pooled writer and frame writer and no
    PreparedMessage broadcast, and the cell's compress_once falls back to one hot compressor
    over K, each saying so."""
    binary = go.build_go(go.HELPER_SOURCE.parent, "wsztune-go", "wsztune's Go helper",
                         lambda text: None, (go.GO_GORILLA_MISSING_TAG,))  # fmt: skip
    timing, _ = prepared_timing_job(server_messages(), 3)
    job_file = helper_job_file(tmp_path, gorilla_job(0), timing)
    completed = subprocess.run([str(binary), "cells", str(job_file)], capture_output=True,
                               text=True, timeout=300, check=True)  # fmt: skip
    delivery = json.loads(completed.stdout)["delivery"]
    assert len(delivery["compress"]) == 2 and "prepared" not in delivery
    assert "sent_bytes" not in delivery
    assert go.delivery_timing(go.GO_GORILLA, delivery) == go.GO_WRITER_TIMING
    cell = {"compress_seconds_per_message": 4e-5}
    assert go.prepared_timing(cell, None, [100], None) == {}
    assert go._once_per_delivery(cell, 4) == {
        "compress_seconds_per_delivery": 1e-5, "delivery_timing": go.HOT_TIMING}


@pytest.mark.parametrize(
    ("fanout_k", "repeat", "timed"),
    [
        (1000, 3, 3),  # the schedule's own: 3 x 256 x 1,000 deliveries
        (100, 5, 5),  # 5 x 25,600 is over PREPARED_SAMPLE_DELIVERIES
        (10, 5, 26),  # 2,560 a stretch: 26 of them for 65,536
        (2, 5, 40),  # 128 would do that: at most 8 x --repeat
        (3, 2, 16),
    ],
)
def test_prepared_plan_times_enough_deliveries_at_any_fanout(
    fanout_k: int, repeat: int, timed: int
) -> None:
    """At small K a PreparedMessage sample's on - off is a sliver of it: the plan times more
    stretches there (at least PREPARED_SAMPLE_DELIVERIES deliveries a series, at most
    PREPARED_MOST_SAMPLES times the schedule's), spread over the corpus as the schedule's are,
    after the schedule's warm-up."""
    schedule = fanout.delivery_schedule(1000, fanout_k, repeat=repeat, warmup=2)
    assert schedule is not None
    prepared = go.prepared_plan(schedule, 1000)
    assert prepared.warmup == 2 and len(prepared.stretches) == 2 + timed
    starts = [start for start, _ in prepared.stretches]
    assert starts == sorted(starts) and starts[0] == 0 and starts[-1] < 1000
    assert all(stop - start == go.PREPARED_MESSAGES for start, stop in prepared.stretches)


def test_prepared_plan_reads_each_stretch_per_delivery_of_k() -> None:
    """The PreparedMessage stretches are PREPARED_MESSAGES long from the schedule's starts, and a
    sample reads per delivery of K (not of the connections timed)."""
    schedule = fanout.delivery_schedule(100, 1000, repeat=3, warmup=1)
    assert schedule is not None and schedule.compressors == 1000
    prepared = go.prepared_plan(schedule, 100)
    assert [start for start, _ in prepared.stretches] == [s for s, _ in schedule.stretches]
    assert all(stop - start == go.PREPARED_MESSAGES for start, stop in prepared.stretches)
    sizes = [100] * 100
    samples = [0.002, 0.004, 0.003]  # seconds per stretch of messages of 100 B
    timing = go.prepared_timing({"compress_seconds_per_message": 4e-5}, prepared, sizes, samples)
    assert timing["delivery_timing"] == go.GO_GORILLA_TIMING
    per_message = 0.003 / go.PREPARED_MESSAGES
    assert timing["compress_seconds_per_delivery"] == pytest.approx(per_message / 1000)
