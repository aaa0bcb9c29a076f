"""The result of a live check, whatever the server: one type, one verdict rule.

Every live check (python-websockets in :mod:`wsztune.live.python`, Node's ws in
:mod:`wsztune.live.ws`, and the others that replay a corpus through a real server)
compares the same things with its model: the compressed bytes each way (exact) and the
memory one connection costs the server with compression (within a tolerance). They fill a
:class:`LiveResult` and let :func:`judge` give the verdict, so that ``live`` prints, exits and
writes ``--json`` the same way for all of them.

The verdict has three outcomes, each with its own exit code:

* ``pass`` (0): bytes equal, memory within the tolerance, and the measurement precise enough to
  say so;
* ``fail`` (1): bytes differ, or memory is outside the tolerance even allowing two standard
  errors of the live figure, or (precise enough) outside it;
* ``inconclusive`` (3, :data:`wsztune.errors.EXIT_INCONCLUSIVE`): the bytes are equal but the
  memory measurement cannot judge the tolerance: its standard error is above half of what the
  tolerance allows (then two standard errors do not fit inside the tolerance), or the
  connections without compression grew the server by a negative amount (memory freed or reused
  during the run: the baseline subtracted is not a baseline). Never a pass.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsztune.errors import WsztuneError

if TYPE_CHECKING:
    from wsztune.permessage_deflate import Setting

PASS = "pass"
FAIL = "fail"
INCONCLUSIVE = "inconclusive"


class LiveError(WsztuneError):
    """The live check could not run to the end (a timeout, a refused connection, a mismatch
    between what was sent and what arrived). Exit code 2: there is no verdict to give."""


def process_reply(
    line: bytes, process: str, stderr: Path, exit_code: int | None = None
) -> dict[str, Any]:
    """One JSON line a live check's helper process printed, as a dict. Its end (no line), a
    line that is not JSON, or an ``error`` it reports is one :class:`LiveError` that names
    ``process`` ("the client process"), with the last line of its ``stderr`` file (else its
    ``exit_code``) when it ended."""
    if not line:
        detail = stderr.read_text(errors="replace").strip().splitlines()
        known = f" (exit code {exit_code})" if exit_code is not None else ""
        raise LiveError(f"{process} ended early" + (f": {detail[-1]}" if detail else known))
    try:
        reply = json.loads(line)
    except ValueError:
        raise LiveError(f"{process} said something unexpected: {line[:80]!r}") from None
    if "error" in reply:
        raise LiveError(f"{process}: {reply['error']}")
    return reply


@dataclass(frozen=True)
class Verdict:
    """What :func:`judge` decided, and why."""

    status: str  # PASS, FAIL or INCONCLUSIVE
    allowed: float  # bytes per connection the memory may differ by (tolerance or floor)
    reasons: tuple[str, ...] = ()  # why not a pass (empty on a pass)
    advice: tuple[str, ...] = ()  # what to change for a verdict (inconclusive only)


def count_mismatch(
    connections: int,
    server_sent: list[int],
    server_received: list[int],
    client_sent: list[int],
    client_received: list[int],
) -> str | None:
    """The first of ``connections`` whose server and client byte counts disagree (what one
    side sent, the other must have received), as a sentence; None when every one agrees.

    Both live checks stop on it before judging: a disagreement is a broken measurement, not a
    verdict."""
    for index in range(connections):
        if (client_received[index], client_sent[index]) != (
            server_sent[index],
            server_received[index],
        ):
            return (
                f"connection {index}: the server counted {server_sent[index]} B sent and "
                f"{server_received[index]} B received, the client {client_received[index]} B "
                f"received and {client_sent[index]} B sent"
            )
    return None


def judge(
    *,
    bytes_equal: bool,
    model_memory: float,
    difference_bytes: float,
    uncertainty: float,
    baseline: float,
    tolerance: float,
    floor: float = 0.0,
    more: str = "more --connections, or a corpus with more traffic per connection",
) -> Verdict:
    """The verdict of a live check (see the module docstring for the rule).

    ``model_memory``: the model's bytes per connection; ``difference_bytes``: live minus model;
    ``uncertainty``: the standard error of the live figure; ``baseline``: the growth per
    connection with compression off; ``floor``: the smallest difference the measurement can
    resolve at all (RSS's page), allowed whatever the tolerance; ``more``: what to change for
    a tighter figure, said when the result is inconclusive.
    """
    allowed = max(tolerance * model_memory, floor)
    reasons: list[str] = []
    if not bytes_equal:
        reasons.append("bytes differ from the model")
    # Clearly outside: even two standard errors in the model's favour do not bring it inside.
    if abs(difference_bytes) - 2 * uncertainty > allowed:
        reasons.append(
            f"memory per connection {difference_bytes / 1024:+.1f} KiB from the model, outside "
            f"the +-{allowed / 1024:.1f} KiB allowed even with two standard errors "
            f"({2 * uncertainty / 1024:.1f} KiB)"
        )
    if reasons:
        return Verdict(FAIL, allowed, tuple(reasons))
    vague: list[str] = []
    if uncertainty > allowed / 2:
        vague.append(
            f"the live memory's standard error ({uncertainty / 1024:.1f} KiB) is above half of "
            f"the +-{allowed / 1024:.1f} KiB the tolerance allows: this run cannot tell"
        )
    if baseline < 0:
        vague.append(
            f"with compression off a connection grew the server by {baseline / 1024:.1f} KiB "
            "(negative: memory freed or reused during the run), so the baseline subtracted "
            "is no baseline"
        )
    if vague:
        return Verdict(INCONCLUSIVE, allowed, tuple(vague), (more,))
    if abs(difference_bytes) > allowed:
        return Verdict(
            FAIL,
            allowed,
            (
                f"memory per connection {difference_bytes / 1024:+.1f} KiB from the model, "
                f"outside the +-{allowed / 1024:.1f} KiB allowed",
            ),
        )
    return Verdict(PASS, allowed)


@dataclass(kw_only=True)
class LiveResult:
    """Model against a live server for one setting: bytes, memory, verdict.

    The fields every live check fills; what only one server measures goes in ``details``
    (``to_json()`` puts those keys at the top level beside the shared ones).
    """

    server: str  # the live server: websockets, ws, ...
    codec: str  # the model: the codec whose cells are compared (zlib, node, ...)
    window_bits: int
    client_window_bits: int
    mem_level: int
    level: int = -1
    strategy: str = "default"
    context_takeover: bool = True
    threshold: int = 0
    connections: int
    measured_connections: int  # those the memory figure is taken over
    corpus: dict[str, Any]
    replay: str
    probed_connections: int = 0
    # Bytes: compressed payloads, counted on the wire.
    model_bytes: int
    live_bytes: int
    model_server_bytes: int
    live_server_bytes: int
    model_client_bytes: int
    live_client_bytes: int
    raw_bytes: int
    bytes_equal: bool
    # Memory per connection, with compression (on minus off).
    memory_figure: str  # what was measured: tracemalloc, RssAnon, rss
    model_connection_memory: float
    model_compressor_memory: float
    model_decompressor_memory: float
    live_connection_memory: float
    live_baseline_connection_memory: float  # growth per connection with compression off
    memory_uncertainty: float  # standard error of live_connection_memory
    memory_difference: float  # relative to the model (or to memory_floor when it is larger)
    memory_difference_bytes: float
    memory_floor: float = 0.0
    tolerance: float
    memory_allowed: float  # bytes the memory may differ by: tolerance x model, or the floor
    memory_within_tolerance: bool
    # The verdict.
    verdict: str  # PASS, FAIL or INCONCLUSIVE
    reasons: list[str] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)
    per_connection: list[dict[str, Any]] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    duration_seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase (--verbose)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """A pass: bytes equal, memory within the tolerance, precise enough to tell."""
        return self.verdict == PASS

    @property
    def inconclusive(self) -> bool:
        """The memory measurement could not judge the tolerance (never a pass)."""
        return self.verdict == INCONCLUSIVE

    @property
    def label(self) -> str:
        """``WB:ML`` of the setting checked."""
        return f"{self.window_bits}:{self.mem_level}"

    def to_json(self) -> dict[str, Any]:
        """Plain data, JSON-ready: the shared fields, ``passed``, and ``details`` flattened."""
        data = asdict(self)
        details = data.pop("details")
        data["passed"] = self.passed
        clashes = set(details) & set(data)
        if clashes:  # a server-specific field may not hide a shared one
            raise ValueError(f"live result details repeat shared fields: {sorted(clashes)}")
        data.update(details)
        return data

    @classmethod
    def build(cls, verdict: Verdict, **fields: Any) -> LiveResult:
        """A result whose verdict fields come from ``verdict``."""
        return cls(
            verdict=verdict.status,
            memory_allowed=verdict.allowed,
            reasons=list(verdict.reasons),
            advice=list(verdict.advice),
            **fields,
        )


def byte_fields(
    model_server: int, model_client: int, live_server: int, live_client: int
) -> dict[str, Any]:
    """The byte fields of a :class:`LiveResult` (every live check): compressed payload bytes
    each way and both, the model's and the wire's, and whether they are equal."""
    return {
        "model_bytes": model_server + model_client,
        "live_bytes": live_server + live_client,
        "model_server_bytes": model_server,
        "live_server_bytes": live_server,
        "model_client_bytes": model_client,
        "live_client_bytes": live_client,
        "bytes_equal": (model_server, model_client) == (live_server, live_client),
    }


def setting_fields(setting: Setting) -> dict[str, Any]:
    """The setting's fields of a :class:`wsztune.live.result.LiveResult` (every live check)."""
    return {
        "window_bits": setting.server_bits,
        "client_window_bits": setting.client_bits,
        "mem_level": setting.mem_level,
        "level": setting.level,
        "strategy": setting.strategy,
        "context_takeover": setting.context_takeover,
    }


# What a result shows in the terminal ----------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One row of the result's table, after the byte rows every server shows."""

    label: str
    model: str = ""
    live: str = ""
    difference: str = ""


@dataclass(frozen=True)
class Display:
    """What one server's result shows beyond what every result shows (the title's start, the
    byte rows, the replay line, the notes and the verdict): the words a command prints, as data.

    ``setting``: the title's part after the server (`` 12:5 level 1``, ``, level 1, threshold 0
    B``); ``rows``: the table's rows after the bytes; ``footnote``: what its ``(*)`` means;
    ``lines``: printed before the replay line; ``replay``: added to the replay line;
    ``versions``: what the verdict line says ran.
    """

    setting: str
    rows: tuple[Row, ...]
    footnote: str
    versions: str
    lines: tuple[str, ...] = ()
    replay: str = ""


def kib(value: float) -> str:
    """Bytes as KiB with one decimal, as every live table shows memory."""
    return f"{value / 1024:,.1f} KiB"


def memory_difference(result: LiveResult) -> str:
    """Relative to the model; in KiB when the model expects less than the memory figure's grain
    (``live --server ws`` on connections that compress nothing: a ratio to nearly nothing means
    nothing)."""
    if result.model_connection_memory < result.memory_floor:
        return f"{result.memory_difference_bytes / 1024:+.1f} KiB"
    return f"{result.memory_difference:+.1%}"


def memory_rows(result: LiveResult, figure: str) -> tuple[Row, Row]:
    """The memory per connection with compression, model against live, and its standard error
    (``figure``: what the row calls the memory read, ``memory`` or ``Go heap``)."""
    return (
        Row(
            f"{figure}/conn, compression",
            kib(result.model_connection_memory),
            kib(result.live_connection_memory),
            memory_difference(result),
        ),
        Row("  its standard error", "", kib(result.memory_uncertainty)),
    )


def zlib_setting_title(result: LiveResult, details: list[str]) -> str:
    """`` WB:ML`` of a zlib server's result, its level when not the default, and ``details``
    (the client's window bits when they differ, and what the server adds) in brackets."""
    if result.client_window_bits != result.window_bits:
        details = [f"client bits {result.client_window_bits}", *details]
    return (
        f" {result.window_bits}:{result.mem_level}"
        + (f" level {result.level}" if result.level != -1 else "")
        + (f" ({', '.join(details)})" if details else "")
    )
