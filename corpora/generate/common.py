"""What every generator shares: the record type, the fixed epoch, ids, compact JSON, writers."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

DEFAULT_SEED = 0

# All simulated time is an offset from this instant, so output never depends on
# when the generator runs.
EPOCH = datetime(2024, 3, 4, 9, 0, 0, tzinfo=UTC)
EPOCH_S = EPOCH.timestamp()
EPOCH_MS = int(EPOCH_S) * 1000

RECORDS_HEADER = '{"wsztune":"records/1"}'

# The packaged demo corpus is the chat corpus; it fits under 1 MB at the full
# default size, so the demo uses the same message count (kept as a separate
# constant so it can shrink independently if the chat generator grows).
DEMO_MESSAGES = 3000

# HAR subset: the first HAR_FRAMES frames of the first HAR_CONNECTIONS chat
# connections, a realistic size for a DevTools export.
HAR_CONNECTIONS = 4
HAR_FRAMES = 400

# API documents must be 1-5 KB; keep a margin inside both the 1000/5000 and the
# 1024/5120 readings of "KB".
API_MIN_BYTES = 1100
API_MAX_BYTES = 4900


@dataclass(frozen=True, slots=True)
class Record:
    """One WebSocket message: who carried it, who sent it, and its bytes."""

    connection: str
    direction: str  # "server" (server-to-client) or "client" (client-to-server)
    payload: bytes
    is_text: bool


def _json(obj: Any) -> bytes:
    """Compact UTF-8 JSON, the way most servers put it on the wire."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _iso_ms(ms: int) -> str:
    """ISO 8601 UTC timestamp with milliseconds, ``ms`` after the epoch."""
    dt = EPOCH + timedelta(milliseconds=ms)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _iso_s(ms: int) -> str:
    """ISO 8601 UTC timestamp with whole seconds, ``ms`` after the epoch."""
    dt = EPOCH + timedelta(milliseconds=ms)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _hexid(rng: random.Random, nbytes: int) -> str:
    """Random lowercase hex id of ``nbytes`` bytes."""
    return rng.randbytes(nbytes).hex()


def _b32id(rng: random.Random, prefix: str, n: int) -> str:
    """Slack/Stripe-style id: prefix plus ``n`` upper-case base32-ish characters."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    return prefix + "".join(rng.choice(alphabet) for _ in range(n))


def _uuid(rng: random.Random) -> str:
    """Version-4-shaped UUID string drawn from ``rng`` (not from os.urandom)."""
    h = rng.randbytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:]}"


def records_bytes(records: Sequence[Record]) -> bytes:
    """Serialise records in the ``records/1`` JSONL format (header line first)."""
    lines = [RECORDS_HEADER]
    for r in records:
        obj: dict[str, str] = {"connection": r.connection, "direction": r.direction}
        if r.is_text:
            obj["text"] = r.payload.decode("utf-8")
        else:
            obj["base64"] = base64.b64encode(r.payload).decode("ascii")
        lines.append(json.dumps(obj, separators=(",", ":"), ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode("utf-8")


def payload_lines_bytes(records: Sequence[Record]) -> bytes:
    """Serialise text records as flat JSONL: each line is one payload, verbatim."""
    lines = []
    for r in records:
        if not r.is_text or b"\n" in r.payload:
            raise ValueError("flat JSONL can only hold single-line text payloads")
        lines.append(r.payload)
    return b"\n".join(lines) + b"\n"
