"""coder's CPU per delivery is timed through coder/websocket 1.8.7 itself (issue 25).

The helper's ``coderDeliveries`` runs K real coder server connections over sockets that discard
what they are sent, each written by a goroutine of its own, as a coder server broadcasts. These
tests check that the timing really goes through those connections: the bytes one subscriber's
connection was sent over the whole broadcast equal the model's frames for the same messages,
headers included, with and without context takeover, and the schedule interleaves as many
writers as 64 MiB of their stacks hold.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from wsztune import fanout
from wsztune.codecs import go
from wsztune.codecs.base import frame_header_size
from wsztune.permessage_deflate import Setting

GOPATH = Path("/usr/share/gocode")

needs_go = pytest.mark.skipif(
    shutil.which("go") is None or not (GOPATH / "src" / "nhooyr.io" / "websocket").is_dir(),
    reason="go or Debian's golang-nhooyr-websocket-dev is not installed",
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
@pytest.mark.parametrize("takeover", [False, True])
def test_coder_broadcast_is_timed_through_coders_own_connections(
    takeover: bool, tmp_path: Path
) -> None:
    """The delivery timing's connection sent one subscriber exactly the model's frames for the
    primed messages and every stretch, and every timed stretch gave a sample."""
    messages = server_messages()
    go.write_corpus([messages], tmp_path / "corpus.bin")
    schedule = fanout.delivery_schedule(len(messages), 4, repeat=2, warmup=1)
    assert schedule is not None
    timing = {"repeat": 1, "warmup": 1, "min_sample_seconds": 0.001,
              "deliveries": schedule.helper_job()}  # fmt: skip
    (cell,) = go.run_cells(tmp_path / "corpus.bin", ["server"], [coder_job(takeover)],
                           timing=timing)  # fmt: skip
    assert cell.delivery is not None and len(cell.delivery["compress"]) == 2
    primed: list[bytes] = []
    while takeover and sum(map(len, primed)) < 2 * 8192:  # coderDeliveries' priming
        primed.append(messages[len(primed) % len(messages)])
    stretches = [range(start, end) for start, end in schedule.stretches]
    sent = primed + [messages[index % len(messages)] for span in stretches for index in span]
    assert cell.delivery["sent_bytes"] == modelled_wire_bytes(sent, takeover, tmp_path)


def test_coder_writers_stacks_bound_how_many_are_interleaved() -> None:
    """A coder subscriber's writer touches its 512 KiB stack per delivery, so a fan-out of
    1,000 is timed with as many writers as 64 MiB holds (the floor of 128); gorilla, whose
    writers are pooled, with all 1,000."""
    coder = go.GoJob.of(0, Setting(15, 8, 1, "default", True), go.GO_CODER)
    gorilla = go.GoJob.of(0, Setting(15, 8, 1, "default", False), go.GO_GORILLA)
    assert go.delivery_state(coder) == 8192 + go.GO_CODER_WRITER_STACK
    assert fanout.interleaved(1000, go.delivery_state(coder)) == fanout.MIN_INTERLEAVED
    assert fanout.interleaved(1000, go.delivery_state(gorilla)) == 1000
