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

import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsztune.errors import ResultsError

if TYPE_CHECKING:
    import pandas

SCHEMA_FAMILY = "wsztune.run/"
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


_NUMBER = (int, float)

# The one table of cell fields: validation and documentation both read it.
CELL_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("window_bits", int, "bits", "server_max_window_bits: the server's compressor window"),
    FieldSpec("client_window_bits", int, "bits", "client_max_window_bits: window of client frames"),
    FieldSpec("mem_level", int, "", "zlib memLevel of the compressors (1-9)"),
    FieldSpec("level", int, "", "zlib compression level (-1 is zlib's default, 6)"),
    FieldSpec("strategy", str, "", "zlib strategy: default, filtered, huffman, rle or fixed"),
    FieldSpec("context_takeover", bool, "", "true: one compressor per stream; false: per message"),
    FieldSpec("messages", int, "", "messages compressed (every direction)"),
    FieldSpec("raw_bytes", int, "B", "sum of uncompressed payload sizes"),
    FieldSpec("compressed_bytes", int, "B", "sum of permessage-deflate payload sizes (exact)"),
    FieldSpec("savings", _NUMBER, "ratio", "1 - compressed_bytes / raw_bytes"),
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
    FieldSpec(spec.name, spec.kind, spec.unit, spec.meaning, nullable=True)
    if spec.name in TIME_FIELD_NAMES
    else spec
    for spec in CELL_FIELDS
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
    ),
    FieldSpec(
        "decompressor_share",
        _NUMBER,
        "ratio",
        "share of connections whose server builds a decompressor (node: ws builds it lazily)",
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
    ),
)
CELL_FIELD_NAMES = tuple(spec.name for spec in CELL_FIELDS + OPTIONAL_CELL_FIELDS)


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
    return None


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
    """``results/<corpus-stem>-<UTC timestamp>.json``."""
    stamp = started.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
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
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".wsztune-probe-"):
            pass
    except OSError as error:
        raise ResultsError(
            f"{directory}: cannot write results there ({error.strerror or error}); "
            "choose another place with --output"
        ) from None


def save(run: Run, path: str | os.PathLike[str]) -> Path:
    """Write ``run`` to ``path`` atomically: a temporary file, fsync, then rename over."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)  # before the (slow) dumps, as always
    data = json.dumps(run.to_document(), indent=1, sort_keys=False).encode("utf-8") + b"\n"
    path = write_atomic(path, data)
    run.path = path
    return path


def write_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` all at once or not at all: a temporary file beside it, fsync,
    rename over. A reader never sees half a file, even after ``kill -9``."""
    path = Path(path)
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
    return path


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


def load(path: str | os.PathLike[str]) -> Run:
    """Read and validate a results file; every problem is a :class:`ResultsError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such results file (run `wsztune run` first)") from None
    except (OSError, UnicodeDecodeError) as error:
        _refuse_corpus(path)
        raise ResultsError(f"{path}: cannot read the results file ({error})") from None
    try:
        document = json.loads(text)
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


def from_document(document: object, path: Path | None = None) -> Run:
    """Validate a parsed results document against the schema and the cell field table."""
    where = str(path) if path else "results"
    schema = document.get("schema") if isinstance(document, dict) else None
    if not isinstance(schema, str) or not schema.startswith(SCHEMA_FAMILY):
        raise ResultsError(f'{where}: not a wsztune results file (no "schema": "{SCHEMA}")')
    try:
        version = int(schema[len(SCHEMA_FAMILY) :])
    except ValueError:
        raise ResultsError(f"{where}: unknown schema {schema!r}") from None
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
    for index, cell in enumerate(cells):
        _validate_cell(where, index, cell)
    _validate_units(where, meta, cells)
    return Run(meta, cells, path, schema)


def _validate_units(where: str, meta: dict[str, Any], cells: list[dict[str, Any]]) -> None:
    # Units are optional (version 1 files, foreign tools); when present they must line up, or a
    # robustness figure would be computed from sizes that do not add up.
    units = meta.get("units")
    if units is None:
        return
    raw = units.get("raw_bytes") if isinstance(units, dict) else None
    if not isinstance(raw, list) or not raw or not all(_is_int(value) for value in raw):
        raise ResultsError(f"{where}: meta.units.raw_bytes is missing or not a list of integers")
    for index, cell in enumerate(cells):
        sizes = cell.get(UNIT_SIZES)
        if sizes is None:
            continue
        if not isinstance(sizes, list) or not all(_is_int(value) for value in sizes):
            raise ResultsError(f"{where}: cells[{index}].{UNIT_SIZES} is not a list of integers")
        if len(sizes) != len(raw) or sum(sizes) != cell["compressed_bytes"]:
            raise ResultsError(
                f"{where}: cells[{index}].{UNIT_SIZES} does not match meta.units or "
                "compressed_bytes; the file is damaged"
            )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _validate_cell(where: str, index: int, cell: object) -> None:
    if not isinstance(cell, dict):
        raise ResultsError(f"{where}: cells[{index}] is not an object")
    for spec in CELL_FIELDS:
        value = cell.get(spec.name)
        if value is None and spec.nullable and spec.name in cell:
            continue
        ok = isinstance(value, spec.kind) and (spec.kind is bool or not isinstance(value, bool))
        if not ok:
            raise ResultsError(
                f"{where}: cells[{index}].{spec.name} is missing or not "
                f"{getattr(spec.kind, '__name__', 'a number')}; the file is damaged or foreign"
            )
    for spec in OPTIONAL_CELL_FIELDS:
        if spec.name not in cell:
            cell[spec.name] = _optional_default(spec.name, cell)
        elif not isinstance(cell[spec.name], spec.kind) or isinstance(cell[spec.name], bool):
            raise ResultsError(
                f"{where}: cells[{index}].{spec.name} is not "
                f"{getattr(spec.kind, '__name__', 'a number')}; the file is damaged or foreign"
            )


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
    where = source["results"] or "a run in memory"
    if source["chosen_by"] == "newest":
        where += " (the newest run there; name one with --results)"
    if source["example"]:
        where += " (a committed example run)"
    corpus = source["corpus"] or source["corpus_name"] or "an unnamed corpus"
    details = []
    if isinstance(source["messages"], int):
        details.append(f"{source['messages']:,} messages")
    if isinstance(source["corpus_sha256"], str):
        details.append(f"sha256 {source['corpus_sha256'][:8]}")
    if details:
        corpus += f" ({', '.join(details)})"
    codec = " ".join(str(p) for p in (source["codec"] or "zlib", source["codec_version"]) if p)
    stack = f"stack {source['stack']}" if source["stack"] else "no stack named"
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
