"""Memory at scale, kept fast: a ~20 MB corpus stands in for the 200 MB of bench/bigcorpus.py.

Each measurement runs in a fresh interpreter so that its peak RSS (``VmHWM``, which only
grows) belongs to that measurement alone. What is asserted is proportional: the memory a corpus
adds over the interpreter and wsztune's imports, as a multiple of the corpus size.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.samples import chat_messages, document_messages

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

REPO = Path(__file__).resolve().parent.parent
SIZE = 20 << 20

# Runs in the child: prints the RSS after imports, and its peak after loading and after one cell.
PROBE = """
import json, resource, sys
from wsztune import corpus, permessage_deflate, sweep
from wsztune.codecs import zlib as zlib_codec

def peak():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec,
    # so a big pytest process would leak its own peak into this measurement.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")

def current():
    with open("/proc/self/statm") as statm:  # resident pages, now (not the peak)
        return int(statm.read().split()[1]) * resource.getpagesize()

baseline = current()
loaded = corpus.load(sys.argv[1])
after_load = peak()
streams = loaded.streams()
plan = sweep.TimingPlan(repeat=1, warmup=1, min_sample_seconds=0.0)
setting, zlib_module = permessage_deflate.Setting(12, 5), permessage_deflate.get_zlib_module()
zlib_codec.measure_cell(streams, setting, zlib_module, plan)
after_cell = peak()
# The whole sweep too (one cell, in this process): its metadata (rates, units) reads no payload.
sweep.sweep(loaded, sweep.SweepPlan(window_bits=(12,), mem_levels=(5,)), plan=plan, jobs=1)
after_sweep = peak()
print(json.dumps({
    "baseline": baseline, "after_load": after_load, "after_cell": after_cell,
    "after_sweep": after_sweep,
}))
"""


@pytest.fixture(scope="module")
def big_jsonl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 20 MB of JSONL: mostly short chat events, some 1-5 KB documents."""
    pattern = chat_messages(400, seed=11) + document_messages(40, seed=12)
    path = tmp_path_factory.mktemp("scale") / "big.jsonl"
    written = 0
    with path.open("wb") as out:
        round_number = 0
        while written < SIZE:
            # A distinct prefix per round: real corpora do not repeat a message exactly.
            chunk = b"".join(
                b'{"r":%d,' % round_number + payload[1:] + b"\n" for payload in pattern
            )
            out.write(chunk)
            written += len(chunk)
            round_number += 1
    return path


def probe(corpus_path: Path) -> dict[str, int]:
    """RSS of a fresh interpreter after imports; its peak after loading, after one cell."""
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, str(corpus_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": ""},
        check=True,
    )
    return json.loads(completed.stdout)


@pytest.fixture(scope="module")
def peaks(big_jsonl: Path) -> dict[str, int]:
    return probe(big_jsonl)


def test_loading_holds_little_more_than_the_messages(big_jsonl: Path, peaks: dict[str, int]):
    size = big_jsonl.stat().st_size
    # The budget for the whole process, scaled down: 1.5 x the corpus + 150 MB.
    assert peaks["after_load"] <= 1.5 * size + (150 << 20)
    # The sharper check: what loading adds is the payloads plus compact bookkeeping, with no
    # whole-file copy and no per-line temporary kept alive.
    assert peaks["after_load"] - peaks["baseline"] <= 1.5 * size


def test_measuring_a_cell_keeps_no_copy_of_the_corpus(big_jsonl: Path, peaks: dict[str, int]):
    size = big_jsonl.stat().st_size
    # A cell holds its compressed frames (a fraction of the corpus) and one message at a time;
    # a decoded copy of the corpus, as the round-trip check once kept, would add 1 x size.
    assert peaks["after_cell"] - peaks["after_load"] <= 0.5 * size


def test_help_imports_nothing_heavy() -> None:
    # Start-up scales with what is imported: --help must not pay for pandas, matplotlib, rich or
    # websockets, which only some commands use (bench/sweep.py times it against python -c pass).
    probe = (
        "import sys\n"
        "from wsztune.cli import cli\n"
        "try:\n"
        "    cli.main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('pandas', 'matplotlib', 'numpy', 'rich', 'websockets', 'psutil', 'zlib_ng')\n"
        "print('heavy:', sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": ""},
        check=True,
    )
    assert completed.stdout.splitlines()[-1] == "heavy: []"


# Few, very big messages (issue 17): one 96 MiB line --------------------------------------------

HUGE = 96 << 20


@pytest.fixture(scope="module")
def huge_line(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One line of about 96 MiB: a JSON array of chat events and documents, as one message."""
    pattern = chat_messages(400, seed=13) + document_messages(40, seed=14)
    path = tmp_path_factory.mktemp("huge") / "one-line.txt"
    written = 0
    with path.open("wb") as out:
        out.write(b"[")
        round_number = 0
        while written < HUGE:
            chunk = b"".join(
                b'{"r":%d,' % round_number + payload[1:] + b"," for payload in pattern
            )
            out.write(chunk)
            written += len(chunk)
            round_number += 1
        out.write(b'{"end":true}]\n')
    return path


@pytest.fixture(scope="module")
def huge_peaks(huge_line: Path) -> dict[str, int]:
    return probe(huge_line)


def test_one_huge_line_is_read_into_the_buffer_without_copies(
    huge_line: Path, huge_peaks: dict[str, int]
) -> None:
    size = huge_line.stat().st_size
    # Read straight into the corpus buffer, a piece at a time: no bytes object of the line, no
    # join of its pieces, no copy without its line ending (that was 3 x the line).
    assert huge_peaks["after_load"] - huge_peaks["baseline"] <= 1.15 * size


def test_one_huge_message_is_swept_within_the_memory_goal(
    huge_line: Path, huge_peaks: dict[str, int]
) -> None:
    size = huge_line.stat().st_size
    # The cell holds its frame (a fraction of the message) and pieces of a few MiB: never the
    # message inflated again whole, nor compress() + flush() joined.
    assert huge_peaks["after_cell"] - huge_peaks["after_load"] <= 0.5 * size
    assert huge_peaks["after_sweep"] - huge_peaks["after_load"] <= 0.5 * size
    assert huge_peaks["after_sweep"] <= 1.3 * size + (250 << 20)
