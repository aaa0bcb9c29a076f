"""The Run: one sweep's metadata and cells, saved as one JSON document (a contract).

``{"schema": "wsztune.run/2", "meta": {...}, "cells": [...]}``. Every cell field is declared once,
in :data:`CELL_FIELDS`: loading validates against it and docs/results.md documents it from it.

Version 2 added the resampling units: ``meta.units`` (how the corpus was cut, raw bytes and
messages per unit, stored once) and each cell's ``unit_compressed_bytes`` (exact compressed
bytes per unit, aligned with ``meta.units``). Version 1 files still load; they have no units,
and ``recommend`` says so. Other fields added since are optional, with defaults.
Files are written atomically (temporary file, fsync, rename), so a killed run never leaves a
truncated results file behind.
"""

from __future__ import annotations

import codecs
import json
import math
import operator
import os
import tempfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsztune.console import terminal_text
from wsztune.errors import ResultsError
from wsztune.permessage_deflate import LEVEL_RANGE, MEM_LEVEL_RANGE, STRATEGIES, WINDOW_BITS_RANGE
from wsztune.schema import SCHEMA_FAMILY

if TYPE_CHECKING:
    import pandas

SCHEMA_VERSION = 2
SCHEMA = f"{SCHEMA_FAMILY}{SCHEMA_VERSION}"
UNIT_SIZES = "unit_compressed_bytes"  # per-cell list, aligned with meta["units"]
DEFAULT_RESULTS_DIR = "results"


@dataclass(frozen=True)
class FieldSpec:
    """One field of a cell: its name, JSON type, unit and meaning."""

    name: str
    kind: type | tuple[type, ...]
    unit: str
    meaning: str
    # Null allowed: the time fields of a run made with ``--no-timing`` (not measured, not zero).
    nullable: bool = False
    # The values a number may take (inclusive bounds; None: unbounded on that side) or a string
    # one of: what loading checks, so that no figure a reader computes with is out of range.
    low: float | None = 0
    high: float | None = None
    choices: tuple[str, ...] = ()
    # Metadata only: the module that sets the field (see set_meta), and for an object whose keys
    # are declared, their table (a key it does not declare is refused, like a field of meta).
    writer: str = ""
    fields: tuple[FieldSpec, ...] = ()
    # Only in a run for a broadcast (a fan-out): absent otherwise, and left absent when loading.
    broadcast: bool = False


_NUMBER = (int, float)
# The largest size or count a results file may hold: exact in a float (2**53 B, 8 PiB), so that
# every sum and ratio a reader computes stays exact and finite.
MAX_QUANTITY = 1 << 53

# Where a cell's memory figures came from (``memory_source``): one word when the compressor's and
# the decompressor's agree, else both, the compressor's first.
MEMORY_SOURCES = ("measured", "cached", "derived")
MEMORY_SOURCE_CHOICES = MEMORY_SOURCES + tuple(
    f"{first}+{second}" for first in MEMORY_SOURCES for second in MEMORY_SOURCES if first != second
)

# The one table of cell fields: validation and documentation both read it.
CELL_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "window_bits",
        int,
        "bits",
        "server_max_window_bits: the server's compressor window",
        low=WINDOW_BITS_RANGE.start,
        high=WINDOW_BITS_RANGE.stop - 1,
    ),
    FieldSpec(
        "client_window_bits",
        int,
        "bits",
        "client_max_window_bits: window of client frames",
        low=WINDOW_BITS_RANGE.start,
        high=WINDOW_BITS_RANGE.stop - 1,
    ),
    FieldSpec(
        "mem_level",
        int,
        "",
        "zlib memLevel of the compressors (1-9; 0 in a Go run: Go's flate has none)",
        low=0,
        high=MEM_LEVEL_RANGE.stop - 1,
    ),
    FieldSpec(
        "level",
        int,
        "",
        "zlib compression level (-1 is zlib's default, 6)",
        low=LEVEL_RANGE.start,
        high=LEVEL_RANGE.stop - 1,
    ),
    FieldSpec(
        "strategy",
        str,
        "",
        "zlib strategy: default, filtered, huffman, rle or fixed",
        choices=tuple(STRATEGIES),
    ),
    FieldSpec("context_takeover", bool, "", "true: one compressor per stream; false: per message"),
    FieldSpec("messages", int, "", "messages compressed (every direction)"),
    FieldSpec("raw_bytes", int, "B", "sum of uncompressed payload sizes"),
    FieldSpec("compressed_bytes", int, "B", "sum of permessage-deflate payload sizes (exact)"),
    FieldSpec(
        "savings", _NUMBER, "ratio", "1 - compressed_bytes / raw_bytes", low=-MAX_QUANTITY, high=1
    ),
    FieldSpec("server_raw_bytes", int, "B", "raw bytes sent by the server"),
    FieldSpec("server_compressed_bytes", int, "B", "compressed bytes sent by the server"),
    FieldSpec("client_raw_bytes", int, "B", "raw bytes sent by clients"),
    FieldSpec("client_compressed_bytes", int, "B", "compressed bytes sent by clients"),
    FieldSpec(
        "wire_raw_bytes", int, "B", "uncompressed: payloads + frame headers (+ client masks)"
    ),
    FieldSpec("wire_compressed_bytes", int, "B", "compressed: payloads + frame headers (+ masks)"),
    FieldSpec("compress_seconds", _NUMBER, "s", "compressing the whole corpus: median of samples"),
    FieldSpec("compress_seconds_min", _NUMBER, "s", "fastest compress sample"),
    FieldSpec("compress_seconds_max", _NUMBER, "s", "slowest compress sample"),
    FieldSpec("compress_seconds_iqr", _NUMBER, "s", "IQR of compress samples (max - min below 4)"),
    FieldSpec("decompress_seconds", _NUMBER, "s", "decompressing the whole corpus: median"),
    FieldSpec("decompress_seconds_min", _NUMBER, "s", "fastest decompress sample"),
    FieldSpec("decompress_seconds_max", _NUMBER, "s", "slowest decompress sample"),
    FieldSpec(
        "decompress_seconds_iqr", _NUMBER, "s", "IQR of decompress samples (max - min below 4)"
    ),
    FieldSpec("timing_repeat", int, "", "timed samples per measurement (after the warm-up)"),
    FieldSpec("timing_loops_compress", int, "", "corpus passes inside one compress sample"),
    FieldSpec("timing_loops_decompress", int, "", "corpus passes inside one decompress sample"),
    FieldSpec("timing_unstable", bool, "", "true when a timing's IQR exceeds 10% of its median"),
    FieldSpec("compress_memory_theoretical", int, "B", "(1 << (wb + 2)) + (1 << (ml + 9))"),
    FieldSpec("compress_memory_observed", int, "B", "tracemalloc: held by one compressor"),
    FieldSpec("compress_memory_peak", int, "B", "tracemalloc: peak while compressing"),
    FieldSpec("decompress_memory_theoretical", int, "B", "1 << client_window_bits (8 counts as 9)"),
    FieldSpec("decompress_memory_observed", int, "B", "tracemalloc: held by one decompressor"),
    FieldSpec("decompress_memory_peak", int, "B", "tracemalloc: peak while decompressing"),
    FieldSpec("connection_memory_theoretical", int, "B", "compressor + decompressor, theory"),
    FieldSpec(
        "connection_memory",
        int,
        "B",
        "per connection: compressor + decompressor (window included), observed",
    ),
)
# What ``wsztune run --no-timing`` leaves null: every field of the timing phase.
TIME_FIELD_NAMES = tuple(
    spec.name
    for spec in CELL_FIELDS
    if spec.name.startswith(("compress_seconds", "decompress_seconds", "timing_"))
)
CELL_FIELDS = tuple(
    replace(spec, nullable=True) if spec.name in TIME_FIELD_NAMES else spec for spec in CELL_FIELDS
)
# Fields added after schema 1 was published: optional, so that older files still load; a file
# without one reads as holding its default.
OPTIONAL_CELL_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "threshold",
        int,
        "B",
        "messages shorter than this went out uncompressed (ws's threshold); 0: none",
    ),
    FieldSpec(
        "compressed_messages", int, "", "messages that reached the compressor (compress calls)"
    ),
    FieldSpec(
        "compressor_share",
        _NUMBER,
        "ratio",
        "share of connections whose server builds a compressor (node: ws builds it lazily)",
        high=1,
    ),
    FieldSpec(
        "decompressor_share",
        _NUMBER,
        "ratio",
        "share of connections whose server builds a decompressor (node: ws builds it lazily)",
        high=1,
    ),
    FieldSpec(
        "memory_resolution",
        _NUMBER,
        "B",
        "the smallest difference of connection_memory the measurement resolves: cells closer "
        "than that are a tie (node: RSS-based, two standard errors, at least 2 KiB per stream); "
        "0: exact (zlib: counted allocations)",
    ),
    FieldSpec(
        "frames",
        int,
        "",
        "data frames on the wire (every direction): a message is one frame, except where the "
        "library fragments it (coder, gorilla past its write buffer)",
    ),
    FieldSpec(
        "memory_source",
        str,
        "",
        "where the memory figures came from: measured (in this run), cached (node: an earlier "
        "run's probe of the same node, setting and traffic shape), derived (node: from a row "
        "and a column of probes of the windowBits x memLevel grid), or compressor+decompressor "
        "when they differ (derived+cached)",
        choices=MEMORY_SOURCE_CHOICES,
    ),
    FieldSpec(
        "compress_memory_resident",
        int,
        "B",
        "resident: what the OS charges for the server's compressor per connection in the steady "
        "state, for the corpus's own connections (mean; compressor_share included) "
        "(docs/memory.md)",
    ),
    FieldSpec(
        "decompress_memory_resident",
        int,
        "B",
        "resident: the same for the server's decompressor; no inflate window on a connection "
        "that never received a compressed message",
    ),
    FieldSpec(
        "connection_memory_resident",
        int,
        "B",
        "resident: compressor + decompressor per connection, steady state, no churn; "
        "connection_memory (the allocation) is the bound once churn recycles freed chunks",
    ),
    # A run for a broadcast (--fanout K, or a corpus whose fan-out is known): wsztune.fanout.
    FieldSpec(
        "compress_seconds_per_delivery",
        _NUMBER,
        "s",
        "compressing one server message for one of K subscribers, K per-connection compressors "
        "(up to 64 MiB of their state) interleaved round-robin: median; null without timing",
        nullable=True,
        broadcast=True,
    ),
    FieldSpec(
        "decompress_seconds_per_delivery",
        _NUMBER,
        "s",
        "inflating one delivered message, as many decompressors interleaved: median",
        nullable=True,
        broadcast=True,
    ),
    FieldSpec(
        "compress_seconds_per_message",
        _NUMBER,
        "s",
        "one hot compressor over the same messages, per message: a compress-once server's cost",
        nullable=True,
        broadcast=True,
    ),
    FieldSpec(
        "delivery_compressors",
        int,
        "",
        "compressors interleaved (K, up to 64 MiB)",
        low=2,
        broadcast=True,
    ),
    FieldSpec(
        "compress_seconds_per_byte",
        _NUMBER,
        "s",
        "what a compressed delivery costs per payload byte more (its messages 1 KiB longer, "
        "timed as compress_seconds_per_delivery), which that figure was read with: per "
        "compressed message, moved by this to the corpus's mean; Go's coder and gorilla only",
        nullable=True,
        broadcast=True,
    ),
    FieldSpec(
        "compress_seconds_per_raw_delivery",
        _NUMBER,
        "s",
        "what a delivery under the threshold, sent raw, costs with compression negotiated over "
        "compression off (coder: two frames for one), timed apart from the compressed ones; "
        "compress_seconds_per_delivery holds both for the corpus's mix; Go's coder and "
        "gorilla with a threshold only",
        nullable=True,
        broadcast=True,
    ),
)
CELL_FIELD_NAMES = tuple(spec.name for spec in CELL_FIELDS + OPTIONAL_CELL_FIELDS)
BROADCAST_CELL_FIELDS = frozenset(spec.name for spec in OPTIONAL_CELL_FIELDS if spec.broadcast)


def _optional_default(name: str, cell: dict[str, Any]) -> Any:
    if name == "threshold":
        return 0
    if name == "compressed_messages":  # no threshold then: every message was compressed
        return cell["messages"]
    if name in ("compressor_share", "decompressor_share"):  # built eagerly: every connection
        return 1.0
    if name == "memory_resolution":  # counted allocations (zlib): exact
        return 0
    if name == "frames":  # before Go's codecs every message was one frame
        return cell["messages"]
    if name == "memory_source":  # before the node probe cache every figure was measured
        return "measured"
    # Before the resident model: the allocation, the bound.
    if name == "compress_memory_resident":
        return round(cell["compressor_share"] * cell["compress_memory_observed"])
    if name == "decompress_memory_resident":
        return round(cell["decompressor_share"] * cell["decompress_memory_observed"])
    if name == "connection_memory_resident":
        return cell["connection_memory"]
    return None


class UnreadableRun(Exception):
    """A run :func:`save` was given that :func:`load` would refuse: a bug in what made it.

    Deliberately not a WsztuneError (as RoundTripError): it surfaces with a traceback, to be
    reported, and nothing is written.
    """


@dataclass
class Run:
    """A sweep's results: metadata, cells, and the file they came from (if any)."""

    meta: dict[str, Any]
    cells: list[dict[str, Any]]
    path: Path | None = field(default=None)
    # The schema the file was written with; a run made in this process has today's.
    schema: str = SCHEMA
    # How a reading command came to read it: "named" (--results) or "newest" (the lookup).
    chosen_by: str = "named"

    @property
    def timing_measured(self) -> bool:
        """False for a run made with ``--no-timing``: its time fields are null."""
        timing = self.meta.get("timing")
        return not isinstance(timing, dict) or timing.get("measured", True) is not False

    @property
    def partial(self) -> bool:
        """True when the sweep was interrupted and kept with ``--keep-partial``."""
        return bool(self.meta.get("partial"))

    def to_document(self) -> dict[str, Any]:
        """The JSON document, as saved."""
        return {"schema": SCHEMA, "meta": self.meta, "cells": self.cells}

    def frame(self) -> pandas.DataFrame:
        """The cells as a pandas DataFrame, one row per cell, one column per field."""
        import pandas

        return pandas.DataFrame(self.cells, columns=list(CELL_FIELD_NAMES))

    def find(self, window_bits: int, mem_level: int) -> dict[str, Any] | None:
        """The first cell with these window bits and memLevel (grid order), if any."""
        for cell in self.cells:
            if cell["window_bits"] == window_bits and cell["mem_level"] == mem_level:
                return cell
        return None


def utc_now() -> datetime:
    """The current time in UTC, for metadata and file names."""
    return datetime.now(UTC)


def default_path(results_dir: str | os.PathLike[str], corpus_stem: str, started: datetime) -> Path:
    """``results/<corpus-stem>-<UTC timestamp>.json``; a control character of the stem (a corpus
    file named with ESC or a newline) becomes ``_`` in the name."""
    stamp = started.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    corpus_stem = "".join("_" if terminal_text(char) != char else char for char in corpus_stem)
    path = Path(results_dir) / f"{corpus_stem}-{stamp}.json"
    # Two corpora with the same stem (chat.har, chat.records.jsonl) swept in the same second
    # must not overwrite each other.
    count = 2
    while path.exists():
        path = Path(results_dir) / f"{corpus_stem}-{stamp}-{count}.json"
        count += 1
    return path


def check_writable(path: Path) -> None:
    """Fail before any work starts if ``path`` cannot be written (missing or read-only dir)."""
    if path.is_dir():
        raise ResultsError(
            f"{path}: is a directory; --output takes a file name, such as {path / 'run.json'}"
        )
    if writes_through(path):
        if os.access(path, os.W_OK):
            return
        raise ResultsError(f"{path}: cannot write there; choose another place with --output")
    directory = _rename_target(path).parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".wsztune-probe-"):
            pass
    except OSError as error:
        raise ResultsError(
            f"{directory}: cannot write results there ({error.strerror or error}); "
            "choose another place with --output"
        ) from None


def save(run: Run, path: str | os.PathLike[str], *, validate: bool = True) -> Path:
    """Write ``run`` to ``path`` atomically: a temporary file, fsync, then rename over.

    The document passes :func:`from_document` first, the checks every reader applies: a run
    that ``table`` or ``recommend`` would refuse is never written (a figure per delivery went
    negative once, and ``run`` wrote a file ``recommend`` refused). Such a run is a bug in
    wsztune, raised as :class:`UnreadableRun` with what the reader said; ``validate=False``
    writes it anyway, for the bug report (``wsztune run`` keeps it in the temporary directory).
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)  # before the (slow) dumps, as always
    document = run.to_document()
    if validate:
        filled: list[tuple[dict, str]] = []
        try:
            from_document(document, Path(path), filled)
        except ResultsError as error:
            raise UnreadableRun(
                f"wsztune made a run its own reader refuses ({error}); it was not written to "
                f"{path}"
            ) from None
        finally:
            # The reader's defaults stay out of the file, which keeps what the run holds.
            for cell, name in filled:
                del cell[name]
    data = json.dumps(document, indent=1, sort_keys=False).encode("utf-8") + b"\n"
    path = write_atomic(path, data)
    run.path = path
    return path


def write_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` all at once or not at all: a temporary file beside it, fsync,
    rename over. A reader never sees half a file, even after ``kill -9``."""
    path = Path(path)
    if writes_through(path):
        with open(path, "wb") as stream:
            stream.write(data)
        return path
    link, path = path, _rename_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as stream:
            # mkstemp makes the file private (0600); a results file is shared like any other.
            os.fchmod(stream.fileno(), 0o666 & ~_current_umask())
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
    return link


def writes_through(path: Path) -> bool:
    """A FIFO, a device or a pipe (``-o /dev/stdout``) is written into, not renamed over: a
    rename would put a regular file in place of the device node or of the link to it."""
    return path.exists() and not path.is_file() and not path.is_dir()


def _rename_target(path: Path) -> Path:
    """The file a write replaces: a symlink's target (the link stays a link), else ``path``."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_directory(directory: Path) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


# Reading and validating ---------------------------------------------------------------------------

# What a results file may be. The largest grid ``run`` takes is about 100k cells (8 windows x 9
# memLevels x 12 levels x 5 strategies x 2 takeovers x a dozen thresholds); beyond these bounds a
# file is not a run wsztune wrote, and reading it would only take time and memory.
MAX_FILE_BYTES = 1 << 30
MAX_CELLS = 1_000_000
# Nesting of any value: wsztune writes 4 levels at most (meta.grid.clients[0].windows).
MAX_DEPTH = 16
# When a threshold applies (meta.grid.threshold_rule), as files name the rules: always (a message
# under it is never compressed), or only without context takeover, as ws's Sender decides
# (lib/sender.js: with takeover on, ws compresses every message whatever its threshold option
# says). A stack profile says which rule is its; the sweep only carries it.
THRESHOLD_ALWAYS = "always"
THRESHOLD_WITHOUT_TAKEOVER = "ws"
THRESHOLD_RULES = (THRESHOLD_ALWAYS, THRESHOLD_WITHOUT_TAKEOVER)

# The writers of a run's metadata: the modules that set its fields, each through set_meta.
ENVIRONMENT = "environment.py"
SWEEP = "sweep.py"
CODECS = "codecs/"  # the codec that measured the run: CodecInfo.meta, merged by the sweep
RUN_COMMAND = "cli/run.py"
META_WRITERS = (ENVIRONMENT, SWEEP, CODECS, RUN_COMMAND)

# meta.corpus: Corpus.describe, and the sweep's rate.
CORPUS_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("path", str, "", "where the corpus was read", writer="corpus.py"),
    FieldSpec("name", str, "", "its name (the file's stem)", writer="corpus.py"),
    FieldSpec("format", str, "", "the format it was read as: jsonl, lines, records, dir, har "
              "or json", writer="corpus.py"),
    FieldSpec("sha256", str, "", "digest of the corpus file", writer="corpus.py"),
    FieldSpec("messages", int, "", "messages in it (after --sample)", writer="corpus.py"),
    FieldSpec("raw_bytes", int, "B", "their payload bytes", writer="corpus.py"),
    FieldSpec("connections", int, "", "connections in it", writer="corpus.py"),
    FieldSpec("directions", list, "", "the directions it holds: client, server",
              writer="corpus.py"),
    FieldSpec("sampled", dict, "", "run --sample: connections kept, of_connections, seed; "
              "null: the whole corpus", nullable=True, writer="corpus.py"),
    FieldSpec("messages_per_second", _NUMBER, "1/s", "overall message rate of a corpus whose "
              "records carry t (messages / (last t - first t)); absent otherwise", writer=SWEEP),
)  # fmt: skip
# meta.timing: the TimingPlan the sweep timed the cells with.
TIMING_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("measured", bool, "", "false: run --no-timing (every time field of the cells is "
              "null)", writer=SWEEP),
    FieldSpec("repeat", int, "", "timed samples per measurement", writer=SWEEP),
    FieldSpec("warmup", int, "", "untimed passes before them", writer=SWEEP),
    FieldSpec("min_sample_seconds", _NUMBER, "s", "a sample's target: passes are looped to the "
              "whole number nearest it", writer=SWEEP),
    FieldSpec("clock", str, "", "what a sample counts (thread CPU time, node's process CPU "
              "time, ...)", writer=SWEEP),
    FieldSpec("jobs", int, "", "cells timed at a time, in parallel processes", writer=SWEEP),
    FieldSpec("order", str, "", "the order cells were visited in (shuffled, seed N)",
              writer=SWEEP),
    FieldSpec("note", str, "", "how to read the times, in words", writer=SWEEP),
)  # fmt: skip
# meta.fanout (wsztune.fanout.run_fanout): stated with --fanout, or found in the corpus.
FANOUT_SHOWN_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("mean", _NUMBER, "", "mean fan-out of the broadcast messages", low=1,
              writer="fanout.py"),
    FieldSpec("max", int, "", "largest fan-out", low=1, writer="fanout.py"),
    FieldSpec("share", _NUMBER, "ratio", "share of deliveries in a broadcast", high=1,
              writer="fanout.py"),
    FieldSpec("broadcasts", int, "", "broadcasts found in the corpus", writer="fanout.py"),
    FieldSpec("window_seconds", _NUMBER, "s", "how close in time a broadcast's deliveries are",
              writer="fanout.py"),
)  # fmt: skip
FANOUT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("source", str, "", "where it comes from", choices=("corpus", "--fanout"),
              writer="fanout.py"),
    *FANOUT_SHOWN_FIELDS,
    FieldSpec("corpus", dict, "", "with --fanout: what the corpus showed (the fields above), "
              "or null", nullable=True, writer="fanout.py", fields=FANOUT_SHOWN_FIELDS),
)  # fmt: skip
# meta.stack: the profile of the stack tuned (run --server).
STACK_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("name", str, "", "the stack's name (wsztune stacks)", writer=RUN_COMMAND),
    FieldSpec("title", str, "", "its title", writer=RUN_COMMAND),
    FieldSpec("version", str, "", "the version asked, or null", nullable=True,
              writer=RUN_COMMAND),
    FieldSpec("default", str, "", "its default setting at that version (WB:ML)",
              writer=RUN_COMMAND),
    FieldSpec("codec", str, "", "the codec that runs its bytes", writer=RUN_COMMAND),
    FieldSpec("status", str, "", "how far its profile is verified", writer=RUN_COMMAND),
)  # fmt: skip

# The one table of a run's metadata, as CELL_FIELDS is the cells': every field, who writes it
# (set_meta refuses a field not declared here, or set by another writer), what it must be and
# what it means. Loading refuses a field not in it; docs/results.md lists it
# (tests/test_results.py checks that the page shows this table as rendered by meta_table).
META_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("wsztune_version", str, "", "the wsztune that made the run", writer=ENVIRONMENT),
    FieldSpec("python_version", str, "", "Python's version", writer=ENVIRONMENT),
    FieldSpec("python_implementation", str, "", "CPython, PyPy, ...", writer=ENVIRONMENT),
    FieldSpec("zlib_version", str, "", "the zlib Python was built with", writer=ENVIRONMENT),
    FieldSpec("zlib_runtime_version", str, "", "the zlib Python runs with", writer=ENVIRONMENT),
    FieldSpec("codec", str, "", "the codec that measured the cells (zlib, zlib-ng, node, "
              "go-gorilla, ...)", writer=ENVIRONMENT),
    FieldSpec("codec_version", str, "", "its version (of its zlib, or of Go, JZlib)",
              writer=ENVIRONMENT),
    FieldSpec("platform", str, "", "the operating system", writer=ENVIRONMENT),
    FieldSpec("machine", str, "", "the processor architecture", writer=ENVIRONMENT),
    FieldSpec("cpu", str, "", "the processor's model name", writer=ENVIRONMENT),
    FieldSpec("cpu_count", int, "", "logical processors (null: unknown)", nullable=True,
              writer=ENVIRONMENT),
    FieldSpec("command_line", str, "", "the command that made the run", writer=ENVIRONMENT),
    FieldSpec("started_at", str, "", "when the sweep started (ISO 8601, UTC)", writer=SWEEP),
    FieldSpec("finished_at", str, "", "when it ended", writer=SWEEP),
    FieldSpec("duration_seconds", _NUMBER, "s", "how long the sweep took", writer=SWEEP),
    FieldSpec("corpus", dict, "", "the corpus swept", writer=SWEEP, fields=CORPUS_FIELDS),
    FieldSpec("grid", dict, "", "the grid swept: each axis's values (window_bits, mem_levels, "
              "levels, strategies, context_takeover, thresholds), threshold_rule, "
              "client_window_bits, clients, only", writer=SWEEP),
    FieldSpec("timing", dict, "", "how the cells were timed", writer=SWEEP, fields=TIMING_FIELDS),
    FieldSpec("seed", int, "", "the seed of the shuffled cell order", low=None, writer=SWEEP),
    FieldSpec("partial", bool, "", "true: interrupted, kept with --keep-partial", writer=SWEEP),
    FieldSpec("cells", int, "", "cells measured", writer=SWEEP),
    FieldSpec("cells_planned", int, "", "cells the grid plans", writer=SWEEP),
    FieldSpec("units", dict, "", "the resampling units (schema 2): method, count, names, "
              "raw_bytes, messages, directions", writer=SWEEP),
    FieldSpec("fanout", dict, "", "connections a server message goes to; absent when neither "
              "the corpus nor --fanout tells", writer=SWEEP, fields=FANOUT_FIELDS),
    FieldSpec("server", str, "", "the stack tuned (run --server)", writer=SWEEP),
    FieldSpec("read_buffer", int, "B", "the read buffer of the stack tuned (run --server "
              "tornado: 65,537) its resident figures include; absent: none", writer=SWEEP),
    FieldSpec("client", str, "", "the clients modelled (run --client: firefox, or "
              "chrome=0.7,firefox=0.3)", writer=SWEEP),
    FieldSpec("axes", list, "", "Go codecs: the axes the cells vary on (absent: a window bits x "
              "memLevel grid)", writer=CODECS),
    FieldSpec("memory_method", str, "", "node, bun, go and jzlib codecs: how the memory fields "
              "were measured", writer=CODECS),
    FieldSpec("node", dict, "", "node codec: node, zlib, V8 and libuv versions, the framing",
              writer=CODECS),
    FieldSpec("bun", dict, "", "bun codec: Bun, zlib and uWebSockets versions, the framing",
              writer=CODECS),
    FieldSpec("go", dict, "", "go codecs: Go's version, the library modelled and its version, "
              "the compressor", writer=CODECS),
    FieldSpec("jzlib", dict, "", "jzlib and netty codecs: JZlib's and Java's versions, the jar, "
              "how it is called", writer=CODECS),
    FieldSpec("netty", dict, "", "netty codec: its rule (JDK zlib at 15:8, JZlib elsewhere) and "
              "both codecs", writer=CODECS),
    FieldSpec("server_version", str, "", "the stack's version asked (0.49 for uvicorn@0.49), "
              "or null", nullable=True, writer=RUN_COMMAND),
    FieldSpec("stack", dict, "", "the profile of the stack tuned", writer=RUN_COMMAND,
              fields=STACK_FIELDS),
)  # fmt: skip
META_REQUIRED = ("grid", "partial")
META_FIELD_BY_NAME = {spec.name: spec for spec in META_FIELDS}
# meta.grid: each axis a list of the values swept (SweepPlan.describe writes them).
GRID_FIELDS: tuple[FieldSpec, ...] = (
    CELL_FIELDS[0],  # window_bits
    replace(CELL_FIELDS[2], name="mem_levels", low=MEM_LEVEL_RANGE.start),
    replace(CELL_FIELDS[3], name="levels"),
    replace(CELL_FIELDS[4], name="strategies"),
    FieldSpec("context_takeover", bool, "", "context takeover values"),
    FieldSpec("thresholds", int, "B", "thresholds swept (none in older files: 0)"),
)


def _refusal(where: str, what: str) -> ResultsError:
    return ResultsError(
        f"{where}: {what}; the file is damaged or was edited: use the file `wsztune run` wrote, "
        "or run it again"
    )


def _shown(value: object) -> str:
    """A value as an error line quotes it: short, whatever it is."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**18:
        return f"an integer of {len(str(abs(value)))} digits"
    text = json.dumps(value) if isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _kind_name(kind: type | tuple[type, ...]) -> str:
    if kind is dict:
        return "an object"
    if kind is bool:
        return "true or false"
    if kind is str:
        return "a string"
    if kind is list:
        return "a list"
    if kind is int:
        return "an integer"
    return "a number"


def _problem(spec: FieldSpec, value: object) -> str | None:
    """What is wrong with ``value`` as a value of ``spec`` (None: nothing)."""
    if value is None:
        return None if spec.nullable else f"is missing or null, not {_kind_name(spec.kind)}"
    if spec.kind is bool:
        return None if isinstance(value, bool) else f"is {_shown(value)}, not true or false"
    if isinstance(value, bool) or not isinstance(value, spec.kind):
        return f"is {_shown(value)}, not {_kind_name(spec.kind)}"
    if isinstance(value, str):
        if spec.choices and value not in spec.choices:
            return f"is {_shown(value)}, not one of {', '.join(spec.choices)}"
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"is {value}, not a finite number"
    if isinstance(value, (int, float)):
        low = -MAX_QUANTITY if spec.low is None else spec.low
        high = MAX_QUANTITY if spec.high is None else spec.high
        if not low <= value <= high:
            return f"is {_shown(value)}, outside {low:,} to {high:,}"
    return None


def _nesting_problem(value: object) -> str | None:
    """Nesting over :data:`MAX_DEPTH` or a number out of range anywhere in ``value``."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"holds {item}, not a finite number"
            continue
        elif isinstance(item, int) and not isinstance(item, bool):
            if not -MAX_QUANTITY <= item <= MAX_QUANTITY:
                return f"holds {_shown(item)}, out of range"
            continue
        else:
            continue
        if depth >= MAX_DEPTH:
            return f"is nested deeper than {MAX_DEPTH} levels"
        stack.extend((child, depth + 1) for child in children)
    return None


class _NotANumber(ValueError):
    """NaN, Infinity or -Infinity in a results file: JSON has no such numbers."""


def _refuse_constant(name: str) -> float:
    raise _NotANumber(name)


def _read_bounded(path: Path) -> str:
    """The text of ``path``, read a MiB at a time and never past :data:`MAX_FILE_BYTES`: a pipe
    or a device has no size to check first, and ``--results /dev/zero`` used to fill memory."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    parts, total = [], 0
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            total += len(chunk)
            if total > MAX_FILE_BYTES:
                raise ResultsError(
                    f"{path}: over the {MAX_FILE_BYTES:,} bytes a results file may be; "
                    "it is not a run wsztune wrote"
                )
            if b"\0" in chunk:  # json.dumps never writes one; /dev/zero is nothing else
                raise ResultsError(f"{path}: holds NUL bytes; it is not a run wsztune wrote")
            parts.append(decoder.decode(chunk))
    parts.append(decoder.decode(b"", final=True))
    return "".join(parts)


def load(path: str | os.PathLike[str]) -> Run:
    """Read and validate a results file; every problem is a :class:`ResultsError`.

    Nothing reads a run that has not passed :func:`from_document`: a damaged, edited or
    foreign file is refused in one line, before any table, report or gate sees it.
    """
    path = Path(path)
    try:
        size = path.stat().st_size if path.is_file() else 0
        if size > MAX_FILE_BYTES:
            raise ResultsError(
                f"{path}: {size:,} bytes, over the {MAX_FILE_BYTES:,} a results file may be; "
                "it is not a run wsztune wrote"
            )
        text = _read_bounded(path)
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such results file (run `wsztune run` first)") from None
    except (OSError, UnicodeDecodeError) as error:
        _refuse_corpus(path)
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise ResultsError(f"{path}: cannot read the results file ({reason})") from None
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except _NotANumber as error:
        raise _refusal(str(path), f"holds {error}, which is not a number") from None
    except RecursionError:
        raise _refusal(str(path), f"is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as error:
        _refuse_corpus(path)
        raise ResultsError(
            f"{path}: not valid JSON at line {getattr(error, 'lineno', '?')} (truncated or "
            "damaged?); run `wsztune run` again"
        ) from None
    try:
        return from_document(document, path)
    except ResultsError:
        _refuse_corpus(path)
        raise


def _refuse_corpus(path: Path) -> None:
    """A corpus given where a run was expected is named as a corpus, with the way on."""
    from wsztune.corpus import corpus_kind

    if path.is_dir():
        raise ResultsError(
            f"{path}: is a directory; --results takes a results file (use --results-dir "
            f"{path} for the newest run in it)"
        )
    kind = corpus_kind(path)
    if kind is not None:
        raise ResultsError(
            f"{path}: is {kind}, not a results file: sweep it with `wsztune run {path}` and "
            "pass the results file that run writes"
        )


def from_document(
    document: object, path: Path | None = None, filled: list[tuple[dict, str]] | None = None
) -> Run:
    """Validate a parsed results document: schema, metadata, every cell against the cell field
    table, each cell's sums and savings, one cell per setting, and the cells against the grid
    the metadata plans (complete, or marked partial). A cell's absent optional fields get their
    defaults, each (cell, name) appended to ``filled`` when given."""
    where = str(path) if path else "results"
    schema = document.get("schema") if isinstance(document, dict) else None
    if not isinstance(schema, str) or not schema.startswith(SCHEMA_FAMILY):
        raise ResultsError(f'{where}: not a wsztune results file (no "schema": "{SCHEMA}")')
    try:
        version = int(schema[len(SCHEMA_FAMILY) :])
    except ValueError:
        raise ResultsError(f"{where}: unknown schema {_shown(schema)}") from None
    if version > SCHEMA_VERSION:
        raise ResultsError(
            f"{where}: written by a newer wsztune (schema {schema}); this one reads {SCHEMA}: "
            "upgrade wsztune (pip install -U wsztune)"
        )
    meta, cells = document.get("meta"), document.get("cells")
    if not isinstance(meta, dict) or not isinstance(cells, list):
        raise ResultsError(f'{where}: a results file needs a "meta" object and a "cells" list')
    if not cells:
        raise ResultsError(f"{where}: the run has no cells; run `wsztune run` again")
    if len(cells) > MAX_CELLS:
        raise _refusal(where, f"{len(cells):,} cells, over the {MAX_CELLS:,} a run may hold")
    known = set(CELL_FIELD_NAMES)
    for index, cell in enumerate(cells):
        _validate_cell(where, index, cell, known, filled)
    planned = _validate_meta(where, meta)
    _validate_units(where, meta, cells)
    _validate_grid(where, meta, cells, planned)
    return Run(meta, cells, path, schema)


class MetaFieldError(ValueError):
    """A writer set a metadata field that :data:`META_FIELDS` does not declare for it, or a value
    that does not fit: a bug in wsztune (the run would not load), not a user error."""


def set_meta(meta: dict[str, Any], writer: str, values: Mapping[str, Any]) -> None:
    """Set ``values`` in a run's metadata as ``writer`` (one of :data:`META_WRITERS`): the one
    way metadata is written. Each field must be declared for that writer in :data:`META_FIELDS`
    and fit its type, or :class:`MetaFieldError` is raised, so that every run saved loads."""
    for name, value in values.items():
        spec = META_FIELD_BY_NAME.get(name)
        if spec is None or spec.writer != writer:
            raise MetaFieldError(
                f"meta.{name}: not declared for {writer} in results.META_FIELDS (declare its "
                "writer, type and meaning there, and in docs/results.md)"
            )
        problem = _field_problem("meta.", spec, value)
        if problem is not None:
            raise MetaFieldError(f"{problem} (set by {writer})")
    meta.update(values)


def _field_problem(prefix: str, spec: FieldSpec, value: object) -> str | None:
    """What is wrong with ``value`` as the field ``spec`` of an object (None: nothing), its
    declared keys included: the line names the field by its path (``meta.corpus.sha256``)."""
    problem = _problem(spec, value)
    if problem is not None:
        return f"{prefix}{spec.name} {problem}"
    if spec.fields and isinstance(value, dict):
        return _fields_problem(f"{prefix}{spec.name}.", value, spec.fields)
    return None


def _fields_problem(prefix: str, data: dict[str, Any], specs: Sequence[FieldSpec]) -> str | None:
    """The first key of ``data`` that ``specs`` does not declare or whose value does not fit."""
    by_name = {spec.name: spec for spec in specs}
    for name, value in data.items():
        spec = by_name.get(name)
        if spec is None:
            return f"{prefix}{name} is not a field of a run's metadata (docs/results.md lists them)"
        problem = _field_problem(prefix, spec, value)
        if problem is not None:
            return problem
    return None


def _validate_meta(where: str, meta: dict[str, Any]) -> list[tuple]:
    """Check the metadata against :data:`META_FIELDS`; return the grid's planned cell keys."""
    for name in META_REQUIRED:
        if name not in meta:
            raise _refusal(where, f"meta.{name} is missing")
    problem = _nesting_problem(meta)
    if problem is not None:
        raise _refusal(where, f"meta {problem}")
    problem = _fields_problem("meta.", meta, META_FIELDS)
    if problem is not None:
        raise _refusal(where, problem)
    grid = meta["grid"]
    axes: dict[str, list[Any]] = {}
    for spec in GRID_FIELDS:
        values = grid.get(spec.name, [0] if spec.name == "thresholds" else None)
        if not isinstance(values, list) or not values:
            raise _refusal(where, f"meta.grid.{spec.name} is not a list of values")
        for value in values:
            problem = _problem(spec, value)
            if problem is not None:
                raise _refusal(where, f"meta.grid.{spec.name} holds a value that {problem}")
        if len(set(values)) != len(values):
            raise _refusal(where, f"meta.grid.{spec.name} lists a value twice")
        axes[spec.name] = values
    client_bits = grid.get("client_window_bits")
    if client_bits is not None:
        problem = _problem(CELL_FIELDS[1], client_bits)
        if problem is not None:
            raise _refusal(where, f"meta.grid.client_window_bits {problem}")
    rule = grid.get("threshold_rule", "always")
    if rule not in THRESHOLD_RULES:
        raise _refusal(where, f"meta.grid.threshold_rule is {_shown(rule)}, not one of always, ws")
    only = grid.get("only") or []
    if not isinstance(only, list) or not all(_is_mode(mode) for mode in only):
        raise _refusal(where, "meta.grid.only is not a list of [window bits, memLevel, takeover]")
    keys = planned_keys(
        axes["window_bits"],
        axes["mem_levels"],
        axes["levels"],
        axes["strategies"],
        axes["context_takeover"],
        axes["thresholds"],
        rule,
        {tuple(mode) for mode in only},
    )
    if len(keys) > MAX_CELLS:
        raise _refusal(where, f"meta.grid plans {len(keys):,} cells, over {MAX_CELLS:,}")
    return keys


def _is_mode(mode: object) -> bool:
    """Whether ``mode`` is a ``[window bits, memLevel, context takeover]`` of meta.grid.only."""
    return (
        isinstance(mode, list)
        and len(mode) == 3
        and type(mode[0]) is int
        and type(mode[1]) is int
        and isinstance(mode[2], bool)
    )


def planned_keys(
    window_bits: Sequence[int],
    mem_levels: Sequence[int],
    levels: Sequence[int],
    strategies: Sequence[str],
    context_takeover: Sequence[bool],
    thresholds: Sequence[int],
    threshold_rule: str,
    only: Collection[tuple[int, int, bool]] = (),
) -> list[tuple[int, int, int, str, bool, int]]:
    """Every cell a grid plans, as (window bits, memLevel, level, strategy, context takeover,
    threshold), in the sweep's order: the one product both the sweep and validation take.
    ``only``, when not empty, keeps the cells whose (window bits, memLevel, takeover) it lists
    (a stack whose modes fix the three together: Bun)."""
    out = []
    for takeover in context_takeover:
        # A rule without takeover ignores its threshold with takeover: one cell, threshold 0.
        only_zero = takeover and threshold_rule == THRESHOLD_WITHOUT_TAKEOVER
        per_takeover = (0,) if only_zero else thresholds
        out += [
            (wb, ml, level, strategy, takeover, threshold)
            for threshold in per_takeover
            for strategy in strategies
            for level in levels
            for wb in window_bits
            for ml in mem_levels
            if not only or (wb, ml, takeover) in only
        ]
    return out


def grid_key(cell: dict[str, Any]) -> tuple[int, int, int, str, bool, int]:
    """The cell's place in its grid (see :func:`planned_keys`): one cell per place."""
    return (
        cell["window_bits"],
        cell["mem_level"],
        cell["level"],
        cell["strategy"],
        cell["context_takeover"],
        cell.get("threshold", 0),
    )


def client_compression(cell: dict[str, Any]) -> dict[str, int]:
    """How the client compressed in a results cell: its memLevel, level and threshold as the
    cell records them (``client_mem_level``, ...), else the server's, which a cell without
    them was measured with. The one reading of that rule: a run's keys (:func:`cell_setting_key`)
    and a client mix's parts (the sweep) must not disagree on what a client did."""
    return {
        "client_mem_level": cell.get("client_mem_level", cell["mem_level"]),
        "client_level": cell.get("client_level", cell["level"]),
        "client_threshold": cell.get("client_threshold", cell.get("threshold", 0)),
    }


def cell_setting_key(cell: dict[str, Any]) -> tuple:
    """Everything a results cell was measured at, as a key: two cells of two runs with the same
    key measured the same setting (server, client, level, strategy, takeover, threshold, and the
    client's memLevel, level and threshold). Its first six are the cell's :func:`grid_key`."""
    return (*grid_key(cell), cell["client_window_bits"], *client_compression(cell).values())


def _validate_grid(
    where: str, meta: dict[str, Any], cells: list[dict[str, Any]], planned: list[tuple]
) -> None:
    """One cell per place of the planned grid, every cell in it, and all of them unless the
    run says it is partial: a duplicate, a cell off the grid or missing cells of a run that
    calls itself complete would each let a table or a gate read something never measured."""
    places = set(planned)
    # A Go run (meta.axes: its own axes) records what the library did: no memLevel (0) and the
    # threshold it applied (coder's default where the grid says 0). Its cells are placed on the
    # axes that the grid and the cells share: level and context takeover.
    go_axes = bool(meta.get("axes"))
    if go_axes:
        places = {(level, takeover) for _, _, level, _, takeover, _ in planned}
    seen: dict[tuple, int] = {}
    for index, cell in enumerate(cells):
        key = cell_setting_key(cell) if go_axes else grid_key(cell)
        place = (key[2], key[4]) if go_axes else key
        if place not in places:
            raise _refusal(
                where,
                f"cells[{index}] ({_describe_key(key[:6])}) is not in the grid meta.grid plans",
            )
        first = seen.setdefault(key, index)
        if first != index:
            raise _refusal(
                where,
                f"cells[{index}] measures the same setting as cells[{first}] "
                f"({_describe_key(key[:6])}): a run holds one cell per setting",
            )
    count = meta.get("cells")
    if count is not None and count != len(cells):
        raise _refusal(where, f"meta.cells says {count}, but the file holds {len(cells)} cells")
    cells_planned = meta.get("cells_planned")
    if cells_planned is not None and cells_planned != len(planned):
        raise _refusal(
            where,
            f"meta.cells_planned says {cells_planned}, but meta.grid plans {len(planned)} cells",
        )
    if not meta["partial"] and len(cells) != len(planned):
        raise _refusal(
            where,
            f"meta.grid plans {len(planned)} cells and the file holds {len(cells)}, yet "
            "meta.partial is false",
        )


def _describe_key(key: tuple) -> str:
    wb, ml, level, strategy, takeover, threshold = key
    return (
        f"{wb}:{ml}, level {level}, strategy {strategy}, context takeover "
        f"{'on' if takeover else 'off'}, threshold {threshold}"
    )


def _validate_units(where: str, meta: dict[str, Any], cells: list[dict[str, Any]]) -> None:
    # Units are optional (version 1 files, foreign tools); when present they must line up, or a
    # robustness figure would be computed from sizes that do not add up.
    units = meta.get("units")
    if units is None:
        return
    raw = units.get("raw_bytes") if isinstance(units, dict) else None
    if not isinstance(raw, list) or not raw or not _are_sizes(raw):
        raise ResultsError(
            f"{where}: meta.units.raw_bytes is missing or not a list of integers >= 0"
        )
    for index, cell in enumerate(cells):
        sizes = cell.get(UNIT_SIZES)
        if sizes is None:
            continue
        if not isinstance(sizes, list) or not (sizes == [] or _are_sizes(sizes)):
            raise ResultsError(
                f"{where}: cells[{index}].{UNIT_SIZES} is not a list of integers >= 0"
            )
        if len(sizes) != len(raw) or sum(sizes) != cell["compressed_bytes"]:
            raise ResultsError(
                f"{where}: cells[{index}].{UNIT_SIZES} does not match meta.units or "
                "compressed_bytes; the file is damaged"
            )


def _are_sizes(values: list[Any]) -> bool:
    """Whether every value is an integer from 0 to :data:`MAX_QUANTITY` (at C speed: a run of
    100k cells holds millions of unit sizes)."""
    return set(map(type, values)) == {int} and min(values) >= 0 and max(values) <= MAX_QUANTITY


# How far ``savings`` may stray from 1 - compressed_bytes / raw_bytes: float rounding only.
SAVINGS_TOLERANCE = 1e-9


def _validate_cell(
    where: str,
    index: int,
    cell: object,
    known: set[str],
    filled: list[tuple[dict, str]] | None = None,
) -> None:
    if not isinstance(cell, dict):
        raise ResultsError(f"{where}: cells[{index}] is not an object")
    # The sizes and times (30 of the 40 fields) at C speed, a whole run being 100k cells; a
    # cell that fails goes through the field-by-field check, which names what is wrong.
    try:
        grouped_ok = _all_sizes(_SIZES_OF(cell)) and _all_times(_TIMES_OF(cell))
    except KeyError:
        grouped_ok = False
    for spec, fast, optional in _OTHER_CHECKS if grouped_ok else _CELL_CHECKS:
        value = cell.get(spec.name)
        # NaN and the infinities fail the comparison and go on to _problem, which names them.
        if type(value) in fast[2] and fast[0] <= value <= fast[1]:
            continue
        if spec.name not in cell:
            if optional:
                if spec.name not in BROADCAST_CELL_FIELDS:  # those stay absent without one
                    cell[spec.name] = _optional_default(spec.name, cell)
                    if filled is not None:
                        filled.append((cell, spec.name))
                continue
            problem: str | None = "is missing"
        else:
            problem = _problem(spec, value)
        if problem is not None:
            raise _refusal(where, f"cells[{index}].{spec.name} {problem}")
    for name in cell.keys() - known:
        if name == UNIT_SIZES:
            continue  # checked with meta.units
        problem = _nesting_problem(cell[name])
        if problem is not None:
            raise _refusal(where, f"cells[{index}].{name} {problem}")
    problem = _inconsistency(cell)
    if problem is not None:
        raise _refusal(where, f"cells[{index}] ({_describe_key(grid_key(cell))}): {problem}")


def _fast_check(spec: FieldSpec) -> tuple[Any, Any, set[type]]:
    """(low, high, types) a value of ``spec`` passes at once; others go to :func:`_problem`."""
    if spec.kind is bool:
        return False, True, {bool}
    if spec.kind is str:
        return "", "", set()  # checked by _problem, against its choices
    low = -MAX_QUANTITY if spec.low is None else spec.low
    high = MAX_QUANTITY if spec.high is None else spec.high
    return low, high, {int} if spec.kind is int else {int, float}


def _all_sizes(values: tuple[Any, ...]) -> bool:
    """Whether every value is an integer from 0 to :data:`MAX_QUANTITY`."""
    return set(map(type, values)) == {int} and min(values) >= 0 and max(values) <= MAX_QUANTITY


def _all_times(values: tuple[Any, ...]) -> bool:
    """Whether every value is a finite number from 0 to :data:`MAX_QUANTITY`, or null."""
    types = set(map(type, values))
    if not types <= {int, float}:
        if not types <= {int, float, type(None)}:
            return False
        values = tuple(value for value in values if value is not None)
        if not values:
            return True
    # A NaN would slip through min and max; never through the sum.
    return min(values) >= 0 and max(values) <= MAX_QUANTITY and math.isfinite(sum(values))


# Each field with its inline check and whether it is optional, in the order of the table: an
# optional field's default reads the required ones (compressed_messages defaults to messages).
_CELL_CHECKS = tuple(
    (spec, _fast_check(spec), spec.name not in CELL_FIELD_NAMES[: len(CELL_FIELDS)])
    for spec in CELL_FIELDS + OPTIONAL_CELL_FIELDS
)
_SIZE_FIELDS = tuple(
    spec.name
    for spec in CELL_FIELDS
    if spec.kind is int and spec.low == 0 and spec.high is None and not spec.nullable
)
_TIME_FIELDS = tuple(
    spec.name
    for spec in CELL_FIELDS
    if spec.kind is _NUMBER and spec.low == 0 and spec.high is None and spec.nullable
)
_SIZES_OF = operator.itemgetter(*_SIZE_FIELDS)
_TIMES_OF = operator.itemgetter(*_TIME_FIELDS)
_OTHER_CHECKS = tuple(
    check for check in _CELL_CHECKS if check[0].name not in _SIZE_FIELDS + _TIME_FIELDS
)


def _inconsistency(cell: dict[str, Any]) -> str | None:
    """Figures of one cell that contradict each other (the sums and the savings)."""
    for total, server, client in (
        ("raw_bytes", "server_raw_bytes", "client_raw_bytes"),
        ("compressed_bytes", "server_compressed_bytes", "client_compressed_bytes"),
    ):
        parts = cell[server] + cell[client]
        if parts != cell[total]:
            return f"{total} {cell[total]} is not {server} + {client} ({parts})"
    raw, compressed = cell["raw_bytes"], cell["compressed_bytes"]
    expected = 1 - compressed / raw if raw else 0.0
    if abs(cell["savings"] - expected) > SAVINGS_TOLERANCE:
        return (
            f"savings {cell['savings']:.6f} is not 1 - compressed_bytes / raw_bytes "
            f"({expected:.6f})"
        )
    if cell["compressed_messages"] > cell["messages"]:
        return "compressed_messages exceeds messages"
    return None


# Committed example runs (results/example-demo.json, ...) illustrate the docs. A fresh clone holds
# nothing else, so the newest-run lookup would read them as if they were the user's own run.
EXAMPLE_PREFIX = "example-"


def is_example(path: str | os.PathLike[str] | None) -> bool:
    """Whether ``path`` is one of the committed example runs (``example-*.json``)."""
    return path is not None and Path(path).name.startswith(EXAMPLE_PREFIX)


def newest(results_dir: str | os.PathLike[str] = DEFAULT_RESULTS_DIR) -> Path:
    """The most recently written results file in ``results_dir``, never an example run.

    Example runs (``example-*.json``) are read only when named with ``--results``.
    """
    directory = Path(results_dir)
    found = [p for p in directory.glob("*.json") if p.is_file()] if directory.is_dir() else []
    candidates = [p for p in found if not is_example(p)]
    if not candidates:
        examples = sorted(p.name for p in found if is_example(p))
        also = (
            f" (the example runs there, {', '.join(examples)}, are read only when named: "
            f"--results {directory / examples[0]})"
            if examples
            else ""
        )
        raise ResultsError(
            f"no results in {directory}/: run `wsztune run CORPUS` first, or pass --results "
            f"FILE{also}"
        )
    return max(candidates, key=lambda p: (p.stat().st_mtime, p.name))


def load_newest_or(
    path: str | os.PathLike[str] | None, results_dir: str = DEFAULT_RESULTS_DIR
) -> Run:
    """Load ``path`` if given, else the newest run in ``results_dir`` (never an example)."""
    if path is not None:
        return load(path)
    run = load(newest(results_dir))
    run.chosen_by = "newest"
    return run


# What a reading command read ------------------------------------------------------------------


def provenance(run: Run) -> dict[str, Any]:
    """What a reading command says it read: the file (and how it was chosen), the corpus,
    codec, stack, date and whether the run is complete."""
    meta = run.meta
    corpus = meta.get("corpus") if isinstance(meta.get("corpus"), dict) else {}
    planned = meta.get("cells_planned")
    return {
        "results": None if run.path is None else str(run.path),
        "chosen_by": run.chosen_by,
        "example": is_example(run.path),
        "corpus": corpus.get("path"),
        "corpus_name": corpus.get("name"),
        "corpus_sha256": corpus.get("sha256"),
        "messages": corpus.get("messages"),
        "codec": meta.get("codec"),
        "codec_version": meta.get("codec_version"),
        "stack": _stack_name(meta),
        "started_at": meta.get("started_at"),
        "partial": run.partial,
        "cells": len(run.cells),
        "cells_planned": planned if isinstance(planned, int) else len(run.cells),
        "schema": run.schema,
    }


def _stack_name(meta: dict[str, Any]) -> str | None:
    """``uvicorn@0.49``: the stack a run was made for (``run --server``), or None. ``meta.stack``
    is the profile's summary (a dict) that ``run --server`` records."""
    stack = meta.get("stack")
    if isinstance(stack, dict):
        name, version = stack.get("name"), stack.get("version")
        return None if not name else f"{name}@{version}" if version else str(name)
    server = stack or meta.get("server")
    return str(server) if server else None


def provenance_line(source: dict[str, Any]) -> str:
    """``results/x.json (newest in results/): corpus chat.jsonl (300 messages, sha256 1a2b3c4d),
    codec zlib 1.2.13, stack websockets, 2026-12-04 16:20 UTC, complete (63 cells)``."""
    where = terminal_text(source["results"] or "a run in memory")
    if source["chosen_by"] == "newest":
        where += " (the newest run there; name one with --results)"
    if source["example"]:
        where += " (a committed example run)"
    corpus = terminal_text(source["corpus"] or source["corpus_name"] or "an unnamed corpus")
    details = []
    if isinstance(source["messages"], int):
        details.append(f"{source['messages']:,} messages")
    if isinstance(source["corpus_sha256"], str):
        details.append(f"sha256 {source['corpus_sha256'][:8]}")
    if details:
        corpus += f" ({', '.join(details)})"
    codec = " ".join(str(p) for p in (source["codec"] or "zlib", source["codec_version"]) if p)
    stack = f"stack {terminal_text(source['stack'])}" if source["stack"] else "no stack named"
    state = (
        f"PARTIAL ({source['cells']} of {source['cells_planned']} cells)"
        if source["partial"]
        else f"complete ({source['cells']} cells)"
    )
    return (
        f"{where}: corpus {corpus}, codec {codec}, {stack}, {_when(source['started_at'])}, {state}"
    )


def _when(started_at: object) -> str:
    """``2026-12-04 16:20 UTC`` from a run's ISO start time (as written, when unparsable)."""
    if not isinstance(started_at, str):
        return "date unknown"
    try:
        moment = datetime.fromisoformat(started_at)
    except ValueError:
        return started_at
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")
