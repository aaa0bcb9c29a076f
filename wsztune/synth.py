"""Seeded generators for wsztune's bundled, synthetic WebSocket corpora.

The corpora stand in for "a team's real messages" in tests, demos and docs. Each
generator simulates one kind of application (chat, market data, multiplayer game,
API subscriptions) and returns the frames as :class:`Record` objects. Output is
deterministic byte for byte for a given seed: every generator owns a private
``random.Random`` (never the global one), time comes from a fixed epoch (never the
clock), JSON is dumped compactly with a fixed key order, and nothing iterates over
a set.

Run ``python -m wsztune.synth OUTDIR [--seed N] [--package-data]`` to write the
corpus files; see ``corpora/README.md`` for the formats.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import struct
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
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


# ---------------------------------------------------------------------------
# chat
# ---------------------------------------------------------------------------

# Names mix ASCII, accents and non-Latin scripts because real team rosters do,
# and UTF-8 multi-byte text compresses differently from ASCII.
_CHAT_USERS = [
    ("alice", "Alice Moreau"),
    ("bob.m", "Bob Marsh"),
    ("chen.wei", "陈伟"),
    ("jose", "José Álvarez"),
    ("priya", "Priya Raman"),
    ("ngozi", "Ngozi Okafor"),
    ("lukasz", "Łukasz Wróbel"),
    ("soren", "Søren Dahl"),
    ("zoe", "Zoë Kim"),
    ("mateo", "Mateo Rossi"),
    ("hana", "Hana Sato"),
    ("omar", "Omar Haddad"),
    ("ines", "Inês Costa"),
    ("dmitri", "Dmitri Volkov"),
    ("fatima", "Fatima Zahra"),
    ("liam", "Liam O'Brien"),
    ("yuki", "Yuki Tanaka"),
    ("ana.p", "Ana Petrović"),
    ("kwame", "Kwame Mensah"),
    ("elif", "Elif Yılmaz"),
    ("sam", "Sam Taylor"),
    ("noor", "Noor Al-Sayed"),
    ("tomas", "Tomás Ruiz"),
    ("greta", "Greta Nilsson"),
    ("raj", "Raj Patel"),
    ("mei", "Mei Lin"),
]

_CHAT_CHANNELS = [
    ("general", "Company-wide announcements and chatter"),
    ("random", "Non-work banter"),
    ("eng-backend", "APIs, queues, databases"),
    ("eng-frontend", "Web and mobile clients"),
    ("deploys", "Deploy notifications — ask before pushing on Fridays"),
    ("incidents", "Active incidents only. Use threads!"),
    ("design", "Figma links, critiques"),
    ("support", "Escalations from the support queue"),
    ("data", "Dashboards, metrics, warehouse"),
    ("book-club", "Currently reading: Designing Data-Intensive Applications"),
    ("pets", "🐶🐱 pictures mandatory"),
    ("oncall", "Pager handoffs"),
]

_SERVICES = [
    "billing-api",
    "auth",
    "search",
    "gateway",
    "notifier",
    "ingest",
    "web",
    "mobile-bff",
    "scheduler",
    "ledger",
]
_ENVS = ["staging", "prod", "prod-eu", "canary"]
_EMOJI = ["🎉", "👍", "🙏", "😅", "🔥", "🚀", "👀", "✅", "☕", "🤔", "😂", "💯"]
_ERRORS = [
    "502s",
    "timeouts",
    "a spike in 429s",
    "OOMKilled pods",
    "stale cache hits",
    "duplicate webhooks",
    "TLS handshake errors",
    "slow queries",
]
_SHORT = [
    "lgtm",
    "+1",
    "thanks!",
    "on it",
    "brb",
    "ok 👍",
    "nice",
    "ack",
    "will do",
    "same here",
    "haha",
    "merci !",
    "done ✅",
    "sounds good",
    "yep",
    "looking",
]
_TEMPLATES = [
    "morning all {emoji}",
    "anyone else seeing {err} on {svc}?",
    "PR is up: https://git.example.test/acme/{svc}/pull/{n}",
    "@{user} can you take a look when you get a chance?",
    "deploy of {svc} v{ver} to {env} is done {emoji}",
    "starting deploy of {svc} v{ver} to {env}, shout if you see anything weird",
    "I think the problem is that {svc} retries without backoff, so when {svc2} is slow we "
    "pile up requests and the connection pool runs dry. Should we cap retries at {small}?",
    "rolling back {svc} in {env}, error rate went from 0.{small}% to {small}.{n2}%",
    "who owns {svc} these days?",
    "@{user} @{user2} sync at {hour}:{min2}?",
    "heads up: {svc} will be read-only for ~{small}0 minutes tonight for the migration",
    "dashboard for this: https://grafana.example.test/d/{hex}/{svc}?orgId=1&from=now-6h",
    "can we move standup to {hour}:{min2} tomorrow? I have a dentist appointment 😬",
    "the flaky test is test_{svc_}_{word} again, I'll quarantine it",
    "{emoji}{emoji}",
    "just pushed a fix, CI is running: https://ci.example.test/builds/{n}",
    "does anyone have the runbook for {svc}? the link in the wiki 404s",
    "p95 latency on {svc} is back under {small}00 ms",
    "lunch? thinking of the ramen place {emoji}",
    "I'll be OOO {day}, @{user} is covering for me",
    "customer #{n} reports {err} since this morning, escalating",
    "re: the schema change — let's add the column nullable first and backfill in batches "
    "of {small}000, then flip the constraint next week",
    "ticket: https://issues.example.test/browse/OPS-{n}",
    "+1 to what @{user} said",
    "can someone from {chan} review? it's a one-liner",
    "that query does a seq scan on events ({small}{n2}M rows) 😱",
    "fwiw {svc} memory is creeping up again, {small}.{n2} GB after {small} days",
    "new release notes: https://docs.example.test/releases/{ver}",
]
_WORDS = ["retry", "timeout", "parse", "auth", "cache", "limits", "sync", "batch", "cursor"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "next week"]


def _chat_text(rng: random.Random, names: Sequence[str], channels: Sequence[str]) -> str:
    """One chat line: a short reaction, or a filled-in template."""
    if rng.random() < 0.22:
        text = rng.choice(_SHORT)
    else:
        svc, svc2 = rng.sample(_SERVICES, 2)
        user, user2 = rng.sample(list(names), 2)
        text = rng.choice(_TEMPLATES).format(
            emoji=rng.choice(_EMOJI),
            err=rng.choice(_ERRORS),
            svc=svc,
            svc2=svc2,
            svc_=svc.replace("-", "_"),
            n=rng.randint(100, 9999),
            n2=rng.randint(0, 9),
            ver=f"{rng.randint(1, 4)}.{rng.randint(0, 30)}.{rng.randint(0, 12)}",
            env=rng.choice(_ENVS),
            small=rng.randint(2, 9),
            user=user,
            user2=user2,
            hour=rng.randint(9, 17),
            min2=rng.choice(["00", "15", "30", "45"]),
            hex=_hexid(rng, 4),
            word=rng.choice(_WORDS),
            day=rng.choice(_DAYS),
            chan=rng.choice(list(channels)),
        )
    # A trailing emoji now and then, as people do.
    if rng.random() < 0.08:
        text += " " + rng.choice(_EMOJI)
    return text


@dataclass(slots=True)
class _ChatSession:
    """Per-connection state of the chat simulation."""

    conn: str
    uid: str
    handle: str
    name: str
    channels: list[str]
    is_open: bool = False
    status: str = "online"
    ping_id: int = 0
    next_ping: float = 0.0


def _chat_timeline(
    seed: int, connections: int = 24, messages: int = 3000
) -> list[tuple[float, Record]]:
    """Chat frames with their send times (seconds after the epoch), in time order.

    The HAR writer needs the times; :func:`chat` drops them.
    """
    rng = random.Random(f"wsztune-chat-{seed}")
    channel_names = [c for c, _ in _CHAT_CHANNELS]
    channel_ids = {c: _b32id(rng, "C0", 8) for c in channel_names}
    users = [_CHAT_USERS[i % len(_CHAT_USERS)] for i in range(connections)]
    sessions: list[_ChatSession] = []
    for i, (handle, name) in enumerate(users):
        # Everyone is in #general; the rest is a personal mix of 2-6 channels.
        extra = rng.sample(channel_names[1:], rng.randint(2, 6))
        chans = ["general"] + sorted(extra, key=channel_names.index)
        sessions.append(
            _ChatSession(
                conn=f"c{i + 1:02d}",
                uid=_b32id(rng, "U0", 8),
                handle=handle if i < len(_CHAT_USERS) else f"{handle}{i}",
                name=name,
                channels=chans,
            )
        )
    handles = [s.handle for s in sessions]
    # Recent message ids per channel, so replies and read-acks point at real messages.
    recent: dict[str, list[str]] = {c: [] for c in channel_names}
    out: list[tuple[float, Record]] = []
    now = 0.0

    def emit(t: float, s: _ChatSession, direction: str, obj: Any) -> None:
        out.append((t, Record(s.conn, direction, _json(obj), True)))

    def emit_binary(t: float, s: _ChatSession, direction: str, data: bytes) -> None:
        out.append((t, Record(s.conn, direction, data, False)))

    def members(channel: str) -> list[_ChatSession]:
        return [s for s in sessions if s.is_open and channel in s.channels]

    def broadcast(t: float, channel: str, obj: Any, exclude: str | None = None) -> None:
        # Fan-out reaches each socket a little later than the last, which also
        # interleaves connections in the time-sorted output.
        for s in members(channel):
            if s.uid != exclude:
                t += rng.uniform(0.0001, 0.002)
                emit(t, s, "server", obj)

    def open_session(t: float, s: _ChatSession) -> float:
        # Returns the time of the ready frame, so nothing reaches the socket before it.
        s.is_open = True
        s.next_ping = t + rng.uniform(5, 30)
        emit(
            t,
            s,
            "client",
            {
                "op": "hello",
                "token": "xoxc-" + _hexid(rng, 12),
                "client": rng.choice(["web", "desktop", "ios", "android"]),
                "version": rng.choice(["4.12.0", "4.12.1", "4.11.3"]),
                "resume": None,
            },
        )
        t += rng.uniform(0.02, 0.12)
        # The ready frame is the big one: the user's whole channel list, as
        # Slack's rtm.start / Discord's READY do.
        emit(
            t,
            s,
            "server",
            {
                "type": "ready",
                "session": _uuid(rng),
                "user": {"id": s.uid, "handle": s.handle, "name": s.name, "status": "online"},
                "channels": [
                    {
                        "id": channel_ids[c],
                        "name": c,
                        "topic": dict(_CHAT_CHANNELS)[c],
                        "members": sum(1 for o in sessions if c in o.channels),
                        "unread": rng.choice([0, 0, 0, 1, 2, 5, 12]),
                        "muted": rng.random() < 0.1,
                    }
                    for c in s.channels
                ],
                "heartbeat_interval": 30000,
                "server_time": _iso_ms(int(t * 1000)),
            },
        )
        broadcast(
            t + 0.001,
            "general",
            {"type": "presence", "user": s.uid, "status": "online", "since": _iso_s(int(t * 1000))},
            exclude=s.uid,
        )
        return t

    # Connections come online over the first quarter of the run rather than all
    # at once, as people start their day.
    open_at = [int(messages * 0.25 * i / max(connections, 1)) for i in range(connections)]

    while len(out) < messages:
        for s, at in zip(sessions, open_at, strict=True):
            if not s.is_open and len(out) >= at:
                now = open_session(now + rng.uniform(0.2, 3.0), s)
        # ~1 event/s across the team: busy enough that keepalives stay a small share.
        now += rng.expovariate(1 / 0.9)
        live = [s for s in sessions if s.is_open]
        # Application-level keepalive, sent as a tiny binary frame (op byte +
        # u32 id) the way several chat clients do to skip JSON parsing.
        for s in live:
            if now >= s.next_ping:
                s.ping_id += 1
                emit_binary(now, s, "client", struct.pack(">BI", 0x09, s.ping_id))
                emit_binary(
                    now + rng.uniform(0.01, 0.08), s, "server", struct.pack(">BI", 0x0A, s.ping_id)
                )
                s.next_ping = now + rng.uniform(25, 35)
        s = rng.choice(live)
        roll = rng.random()
        if roll < 0.58:
            # Send a message: maybe a typing indicator first, then send, ack, fan-out.
            chan = rng.choice(s.channels)
            t = now
            if rng.random() < 0.6:
                emit(t, s, "client", {"op": "typing", "channel": channel_ids[chan]})
                broadcast(
                    t + 0.002,
                    chan,
                    {"type": "typing", "channel": channel_ids[chan], "user": s.uid},
                    exclude=s.uid,
                )
                t += rng.uniform(1.5, 8.0)
            text = _chat_text(rng, [h for h in handles if h != s.handle], channel_names)
            nonce = _hexid(rng, 6)
            reply_to = None
            if recent[chan] and rng.random() < 0.2:
                reply_to = rng.choice(recent[chan][-8:])
            send: dict[str, Any] = {
                "op": "send",
                "nonce": nonce,
                "channel": channel_ids[chan],
                "text": text,
            }
            if reply_to:
                send["reply_to"] = reply_to
            emit(t, s, "client", send)
            msg_id = f"{int(EPOCH_S + t)}.{rng.randint(0, 999999):06d}"
            recent[chan].append(msg_id)
            ts = _iso_ms(int(t * 1000))
            emit(
                t + rng.uniform(0.01, 0.06),
                s,
                "server",
                {"type": "ack", "nonce": nonce, "id": msg_id, "ts": ts},
            )
            mentions = [o.uid for o in sessions if f"@{o.handle}" in text]
            msg: dict[str, Any] = {
                "type": "message",
                "id": msg_id,
                "channel": channel_ids[chan],
                "user": {"id": s.uid, "handle": s.handle, "name": s.name},
                "text": text,
                "ts": ts,
            }
            if reply_to:
                msg["reply_to"] = reply_to
            if mentions:
                msg["mentions"] = mentions
            broadcast(t + 0.02, chan, msg, exclude=s.uid)
        elif roll < 0.78:
            # Read receipt: the client acks the newest message it has seen.
            chan = rng.choice(s.channels)
            if recent[chan]:
                emit(
                    now,
                    s,
                    "client",
                    {"op": "ack", "channel": channel_ids[chan], "message": recent[chan][-1]},
                )
        elif roll < 0.87:
            chan = rng.choice(s.channels)
            if recent[chan]:
                target = rng.choice(recent[chan][-5:])
                emoji = rng.choice(_EMOJI)
                emit(
                    now,
                    s,
                    "client",
                    {
                        "op": "react",
                        "channel": channel_ids[chan],
                        "message": target,
                        "emoji": emoji,
                    },
                )
                broadcast(
                    now + 0.01,
                    chan,
                    {
                        "type": "reaction_added",
                        "channel": channel_ids[chan],
                        "message": target,
                        "user": s.uid,
                        "emoji": emoji,
                    },
                )
        elif roll < 0.93:
            status = rng.choice([x for x in ("online", "away", "dnd") if x != s.status])
            s.status = status
            emit(now, s, "client", {"op": "presence", "status": status})
            broadcast(
                now + 0.005,
                "general",
                {
                    "type": "presence",
                    "user": s.uid,
                    "status": status,
                    "since": _iso_s(int(now * 1000)),
                },
                exclude=s.uid,
            )
        else:
            # Join a channel (server answers with its history head) or leave one.
            others = [c for c in channel_names if c not in s.channels]
            if others and (len(s.channels) < 4 or rng.random() < 0.5):
                chan = rng.choice(others)
                emit(now, s, "client", {"op": "join", "channel": channel_ids[chan]})
                s.channels.append(chan)
                emit(
                    now + rng.uniform(0.02, 0.1),
                    s,
                    "server",
                    {
                        "type": "joined",
                        "channel": {
                            "id": channel_ids[chan],
                            "name": chan,
                            "topic": dict(_CHAT_CHANNELS)[chan],
                            "members": len(members(chan)),
                        },
                        "history": recent[chan][-10:],
                    },
                )
                broadcast(
                    now + 0.1,
                    chan,
                    {"type": "member_joined", "channel": channel_ids[chan], "user": s.uid},
                    exclude=s.uid,
                )
            elif len(s.channels) > 1:
                chan = rng.choice(s.channels[1:])
                emit(now, s, "client", {"op": "leave", "channel": channel_ids[chan]})
                broadcast(
                    now + 0.02,
                    chan,
                    {"type": "member_left", "channel": channel_ids[chan], "user": s.uid},
                )
                s.channels.remove(chan)
    # Stable sort: equal times keep generation order, so the result is deterministic.
    out.sort(key=lambda tr: tr[0])
    return out[:messages]


def chat(seed: int = DEFAULT_SEED, connections: int = 24, messages: int = 3000) -> list[Record]:
    """Chat application traffic: hello/ready, joins/leaves, presence, typing,
    messages with replies/mentions/emoji, read acks and reactions, both directions,
    with ``connections`` sessions interleaved over time. Returns ``messages`` records."""
    return [r for _, r in _chat_timeline(seed, connections, messages)]


# ---------------------------------------------------------------------------
# market
# ---------------------------------------------------------------------------

# (symbol, starting price, decimals, lot kind). Prices live as integer ticks so a
# random walk never accumulates float error; they are rendered as ticks / 10**dec,
# whose repr is the short decimal a real feed would send.
_MARKET_SYMBOLS: list[tuple[str, float, int, str]] = [
    ("AAPL", 189.40, 2, "shares"),
    ("MSFT", 415.10, 2, "shares"),
    ("NVDA", 852.30, 2, "shares"),
    ("AMZN", 178.20, 2, "shares"),
    ("GOOGL", 138.90, 2, "shares"),
    ("META", 498.10, 2, "shares"),
    ("TSLA", 188.10, 2, "shares"),
    ("AMD", 205.10, 2, "shares"),
    ("INTC", 43.20, 2, "shares"),
    ("NFLX", 601.50, 2, "shares"),
    ("JPM", 187.60, 2, "shares"),
    ("BAC", 34.80, 2, "shares"),
    ("XOM", 111.30, 2, "shares"),
    ("KO", 60.10, 2, "shares"),
    ("PEP", 167.20, 2, "shares"),
    ("WMT", 60.30, 2, "shares"),
    ("DIS", 112.40, 2, "shares"),
    ("V", 284.70, 2, "shares"),
    ("MA", 477.90, 2, "shares"),
    ("ORCL", 114.10, 2, "shares"),
    ("CRM", 309.80, 2, "shares"),
    ("ADBE", 556.00, 2, "shares"),
    ("CSCO", 49.60, 2, "shares"),
    ("PFE", 27.40, 2, "shares"),
    ("UBER", 79.30, 2, "shares"),
    ("SHOP", 78.90, 2, "shares"),
    ("PLTR", 24.60, 2, "shares"),
    ("F", 12.30, 2, "shares"),
    ("T", 17.10, 2, "shares"),
    ("SPY", 512.80, 2, "shares"),
    ("QQQ", 439.50, 2, "shares"),
    ("BTC-USD", 67250.00, 2, "coins"),
    ("ETH-USD", 3520.40, 2, "coins"),
    ("SOL-USD", 131.250, 3, "coins"),
    ("DOGE-USD", 0.15210, 5, "coins"),
    ("XRP-USD", 0.6312, 4, "coins"),
    ("EUR/USD", 1.08652, 5, "fx"),
    ("GBP/USD", 1.26841, 5, "fx"),
    ("USD/JPY", 150.112, 3, "fx"),
    ("AUD/USD", 0.65571, 5, "fx"),
]

_BOOK_DEPTH = 10


@dataclass(slots=True)
class _Book:
    """Integer-tick order book for one symbol: sizes per level, best first."""

    symbol: str
    dec: int
    lot: str
    bid: int  # best bid, in ticks
    ask: int  # best ask, in ticks
    bids: list[int | float]
    asks: list[int | float]
    last: int
    seq: int = 0


def _px(ticks: int, dec: int) -> float:
    """Render integer ticks as the float a feed would print (e.g. 18942 -> 189.42)."""
    return ticks / 10**dec


def _lot(rng: random.Random, kind: str) -> int | float:
    """A plausible size for one price level or trade."""
    if kind == "shares":
        # Round lots dominate, with some odd lots from retail flow.
        return (
            rng.choice([100, 100, 200, 300, 500, 1000])
            if rng.random() < 0.8
            else rng.randint(1, 99)
        )
    if kind == "coins":
        return rng.randint(1, 250000) / 10**4
    return rng.choice([100000, 250000, 500000, 1000000, 2000000])


def market(seed: int = DEFAULT_SEED, messages: int = 4000) -> list[Record]:
    """Market-data feed: ticks and order-book deltas for 40 symbols with random-walk
    prices, per-connection heartbeats and occasional snapshots, mostly server to
    client. Connection m01 takes every symbol; m02 and m03 subscribe to a few and
    change their subscriptions once. Returns ``messages`` records."""
    rng = random.Random(f"wsztune-market-{seed}")
    books: list[_Book] = []
    for sym, price, dec, lot in _MARKET_SYMBOLS:
        mid = round(price * 10**dec)
        spread = rng.randint(1, 3)
        books.append(
            _Book(
                symbol=sym,
                dec=dec,
                lot=lot,
                bid=mid - spread,
                ask=mid,
                bids=[_lot(rng, lot) for _ in range(_BOOK_DEPTH)],
                asks=[_lot(rng, lot) for _ in range(_BOOK_DEPTH)],
                last=mid - 1,
                seq=rng.randint(10_000, 9_000_000),
            )
        )
    # Activity is heavily skewed toward a few names, as on any real feed.
    weights = [1 / (i + 1) ** 0.8 for i in range(len(books))]
    order = list(range(len(books)))
    rng.shuffle(order)
    activity = [0.0] * len(books)
    for rank, idx in enumerate(order):
        activity[idx] = weights[rank]

    names = [b.symbol for b in books]
    subs: dict[str, list[str]] = {
        "m01": list(names),
        "m02": rng.sample(names[:31], 6),
        "m03": rng.sample(names[31:], 4),
    }
    channels = {"m01": ["ticker", "book"], "m02": ["ticker", "book"], "m03": ["ticker"]}
    hb_seq = {c: 0 for c in subs}
    next_hb = {c: 1000 for c in subs}
    # m02/m03 each change their subscription once, somewhere in the run.
    resub_at = {"m02": int(messages * 0.4), "m03": int(messages * 0.7)}
    out: list[Record] = []
    now = 0  # ms after the epoch

    def send(conn: str, obj: Any) -> None:
        out.append(Record(conn, "server", _json(obj), True))

    def snapshot(conn: str, b: _Book) -> None:
        send(
            conn,
            {
                "type": "snapshot",
                "symbol": b.symbol,
                "seq": b.seq,
                "ts": EPOCH_MS + now,
                "bids": [[_px(b.bid - i, b.dec), s] for i, s in enumerate(b.bids)],
                "asks": [[_px(b.ask + i, b.dec), s] for i, s in enumerate(b.asks)],
            },
        )

    def subscribe(conn: str, symbols: list[str], op: str = "subscribe") -> None:
        req = {"op": op, "channels": channels[conn], "symbols": symbols, "id": rng.randint(1, 9999)}
        out.append(Record(conn, "client", _json(req), True))
        ack = "subscribed" if op == "subscribe" else "unsubscribed"
        send(conn, {"type": ack, "id": req["id"], "channels": channels[conn], "symbols": symbols})
        if op == "subscribe" and "book" in channels[conn]:
            for b in books:
                if b.symbol in symbols:
                    snapshot(conn, b)

    for conn in subs:
        subscribe(conn, subs[conn])

    while len(out) < messages:
        now += max(1, int(rng.expovariate(1 / 9)))
        for conn in subs:
            if now >= next_hb[conn]:
                hb_seq[conn] += 1
                send(conn, {"type": "heartbeat", "ts": EPOCH_MS + now, "seq": hb_seq[conn]})
                next_hb[conn] += 1000
            if conn in resub_at and len(out) >= resub_at[conn]:
                del resub_at[conn]
                pool = names[:31] if conn == "m02" else names[31:]
                drop = rng.sample(subs[conn], 2)
                add = rng.sample([n for n in pool if n not in subs[conn]], 2)
                subscribe(conn, drop, "unsubscribe")
                subs[conn] = [n for n in subs[conn] if n not in drop]
                subscribe(conn, add)
                subs[conn] += add
        b = rng.choices(books, weights=activity)[0]
        b.seq += 1
        targets = [c for c in subs if b.symbol in subs[c]]
        roll = rng.random()
        if roll < 0.004:
            # A resync: the feed re-sends a full book, as after a sequence gap.
            for c in targets:
                if "book" in channels[c]:
                    snapshot(c, b)
        elif roll < 0.38:
            # Trade print at the touch.
            side = rng.choice(["buy", "sell"])
            b.last = b.ask if side == "buy" else b.bid
            tick = {
                "type": "tick",
                "symbol": b.symbol,
                "seq": b.seq,
                "ts": EPOCH_MS + now,
                "bid": _px(b.bid, b.dec),
                "ask": _px(b.ask, b.dec),
                "last": _px(b.last, b.dec),
                "size": _lot(rng, b.lot),
                "side": side,
            }
            for c in targets:
                send(c, tick)
        else:
            # Book delta: [price, size] pairs per side; size 0 removes the level.
            bids: list[list[Any]] = []
            asks: list[list[Any]] = []
            move = rng.random()
            if move < 0.12:
                # The touch moves one tick: a level appears on one end, one drops off the other.
                up = rng.random() < 0.5
                if up:
                    b.bid += 1
                    b.ask += 1
                    bids.append([_px(b.bid, b.dec), _lot(rng, b.lot)])
                    bids.append([_px(b.bid - _BOOK_DEPTH, b.dec), 0])
                    asks.append([_px(b.ask - 1, b.dec), 0])
                    asks.append([_px(b.ask + _BOOK_DEPTH - 1, b.dec), _lot(rng, b.lot)])
                    b.bids = [bids[0][1]] + b.bids[:-1]
                    b.asks = b.asks[1:] + [asks[1][1]]
                else:
                    b.bid -= 1
                    b.ask -= 1
                    asks.append([_px(b.ask, b.dec), _lot(rng, b.lot)])
                    asks.append([_px(b.ask + _BOOK_DEPTH, b.dec), 0])
                    bids.append([_px(b.bid + 1, b.dec), 0])
                    bids.append([_px(b.bid - _BOOK_DEPTH + 1, b.dec), _lot(rng, b.lot)])
                    b.asks = [asks[0][1]] + b.asks[:-1]
                    b.bids = b.bids[1:] + [bids[1][1]]
            else:
                for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
                    # Changes cluster near the touch.
                    level = min(int(rng.expovariate(0.45)), _BOOK_DEPTH - 1)
                    size = _lot(rng, b.lot)
                    if rng.random() < 0.5:
                        b.bids[level] = size
                        bids.append([_px(b.bid - level, b.dec), size])
                    else:
                        b.asks[level] = size
                        asks.append([_px(b.ask + level, b.dec), size])
            delta = {
                "type": "book",
                "symbol": b.symbol,
                "seq": b.seq,
                "ts": EPOCH_MS + now,
                "bids": bids,
                "asks": asks,
            }
            for c in targets:
                if "book" in channels[c]:
                    send(c, delta)
    return out[:messages]


# ---------------------------------------------------------------------------
# game
# ---------------------------------------------------------------------------

_GAME_TICK_MS = 50  # 20 Hz server tick, typical for action games
_ARENA = 100.0


@dataclass(slots=True)
class _Entity:
    """One simulated game entity (player or NPC)."""

    id: int
    x: float
    y: float
    vx: float
    vy: float
    hp: int


def game(seed: int = DEFAULT_SEED, connections: int = 8, messages: int = 5000) -> list[Record]:
    """Multiplayer game traffic: a join/welcome handshake, then per-tick JSON state
    deltas from the server (about one in ten replaced by a compact binary keyframe
    snapshot), high-rate client inputs and pings, and occasional hit/kill events.
    Returns ``messages`` records."""
    rng = random.Random(f"wsztune-game-{seed}")
    conns = [f"g{i + 1:02d}" for i in range(connections)]
    players = [
        _Entity(i + 1, rng.uniform(-80, 80), rng.uniform(-80, 80), 0.0, 0.0, 100)
        for i in range(connections)
    ]
    npcs = [
        _Entity(100 + i, rng.uniform(-90, 90), rng.uniform(-90, 90), 0.0, 0.0, rng.randint(40, 200))
        for i in range(24)
    ]
    ents = players + npcs
    input_seq = [0] * connections
    scores = [0] * connections
    out: list[Record] = []

    def send(conn: str, obj: Any) -> None:
        out.append(Record(conn, "server", _json(obj), True))

    def state(e: _Entity) -> dict[str, Any]:
        return {
            "id": e.id,
            "x": round(e.x, 2),
            "y": round(e.y, 2),
            "vx": round(e.vx, 1) + 0.0,  # + 0.0 turns -0.0 into 0.0
            "vy": round(e.vy, 1) + 0.0,
            "hp": e.hp,
        }

    for i, conn in enumerate(conns):
        out.append(
            Record(
                conn,
                "client",
                _json(
                    {
                        "t": "join",
                        "name": _CHAT_USERS[i][0],
                        "ver": "1.8.2",
                        "token": _hexid(rng, 8),
                    }
                ),
                True,
            )
        )
        send(
            conn, {"t": "welcome", "you": players[i].id, "tick": 0, "map": "dust_arena", "rate": 20}
        )

    tick = 0
    while len(out) < messages:
        tick += 1
        # Clients send inputs faster than the server ticks; most ticks carry one.
        for i, conn in enumerate(conns):
            p = players[i]
            if rng.random() < 0.75:
                input_seq[i] += 1
                keys = rng.choice(["", "w", "wa", "wd", "s", "a", "d", "w", "w", "sd"])
                p.vx = 6.0 * (("d" in keys) - ("a" in keys)) + rng.uniform(-0.3, 0.3)
                p.vy = 6.0 * (("w" in keys) - ("s" in keys)) + rng.uniform(-0.3, 0.3)
                inp = {
                    "t": "in",
                    "seq": input_seq[i],
                    "tick": tick,
                    "keys": keys,
                    "aim": [round(rng.uniform(-1, 1), 3), round(rng.uniform(-1, 1), 3)],
                    "fire": rng.random() < 0.15,
                }
                out.append(Record(conn, "client", _json(inp), True))
            if rng.random() < 0.02:
                out.append(
                    Record(
                        conn,
                        "client",
                        _json({"t": "ping", "c": EPOCH_MS + tick * _GAME_TICK_MS}),
                        True,
                    )
                )
                send(conn, {"t": "pong", "c": EPOCH_MS + tick * _GAME_TICK_MS, "tick": tick})
        # Integrate the world.
        for e in npcs:
            if rng.random() < 0.1:
                e.vx = rng.uniform(-4, 4)
                e.vy = rng.uniform(-4, 4)
        for e in ents:
            e.x += e.vx * _GAME_TICK_MS / 1000
            e.y += e.vy * _GAME_TICK_MS / 1000
            if abs(e.x) > _ARENA:
                e.vx = -e.vx
                e.x = max(-_ARENA, min(_ARENA, e.x))
            if abs(e.y) > _ARENA:
                e.vy = -e.vy
                e.y = max(-_ARENA, min(_ARENA, e.y))
        for i, conn in enumerate(conns):
            me = players[i]
            # Interest management: each client hears about what is near it.
            near = [e for e in ents if abs(e.x - me.x) < 45 and abs(e.y - me.y) < 45]
            if (tick + i) % 10 == 0:
                # Keyframe: a compact binary snapshot of everything visible.
                body = b"".join(
                    struct.pack(
                        "<HffhhB",
                        e.id,
                        e.x,
                        e.y,
                        int(e.vx * 100),
                        int(e.vy * 100),
                        max(0, min(255, e.hp)),
                    )
                    for e in near
                )
                out.append(
                    Record(conn, "server", struct.pack("<BIH", 0x01, tick, len(near)) + body, False)
                )
            else:
                moving = [e for e in near if e.vx or e.vy]
                picked = rng.sample(moving, min(len(moving), rng.choice([1, 1, 2, 2, 3])))
                picked.sort(key=lambda e: e.id)
                send(conn, {"t": "d", "tick": tick, "e": [state(e) for e in picked]})
        if rng.random() < 0.08:
            # Someone hits something; everyone gets the event.
            src = rng.randrange(connections)
            dst = rng.choice(ents)
            dmg = rng.randint(5, 35)
            dst.hp -= dmg
            ev: dict[str, Any] = {
                "t": "hit",
                "tick": tick,
                "src": players[src].id,
                "dst": dst.id,
                "dmg": dmg,
                "hp": max(dst.hp, 0),
            }
            if dst.hp <= 0:
                scores[src] += 1
                dst.hp = 100 if dst.id < 100 else rng.randint(40, 200)
                ev["kill"] = True
                ev["score"] = scores[src]
            for conn in conns:
                send(conn, ev)
    return out[:messages]


# ---------------------------------------------------------------------------
# api
# ---------------------------------------------------------------------------

_PRODUCTS = [
    ("Merino Crew Sweater", "Apparel", "29.90"),
    ("Trail Running Shoe", "Footwear", "119.00"),
    ("Ceramic Pour-Over Set", "Kitchen", "44.50"),
    ("Noise-Cancelling Headphones", "Electronics", "249.99"),
    ("Organic Cotton Tee", "Apparel", "18.00"),
    ("Cast Iron Skillet 26 cm", "Kitchen", "39.95"),
    ("USB-C Dock, 9-in-1", "Electronics", "89.00"),
    ("Wool Beanie", "Accessories", "22.00"),
    ("Linen Duvet Cover", "Home", "135.00"),
    ("Stainless Water Bottle 750 ml", "Outdoor", "27.50"),
]
_CITIES = [
    ("Berlin", "DE", "10115", "EUR"),
    ("Lyon", "FR", "69002", "EUR"),
    ("Porto", "PT", "4050-263", "EUR"),
    ("Kraków", "PL", "31-042", "PLN"),
    ("Austin", "US", "78701", "USD"),
    ("Toronto", "CA", "M5V 2T6", "CAD"),
    ("Leeds", "GB", "LS1 4DY", "GBP"),
    ("Göteborg", "SE", "411 05", "SEK"),
]
_STREETS = ["Market St", "Rue de la Paix", "Hauptstraße", "Rua das Flores", "High St"]
_ISSUE_TITLES = [
    "Connection drops after 60 s behind nginx",
    "permessage-deflate negotiation fails with client_max_window_bits=8",
    "Memory grows unbounded with many idle connections",
    "Docs: clarify how to close a connection from another task",
    "Support Python 3.13",
    "Ping timeout not honoured when the event loop is busy",
    "TypeError in broadcast() when a connection closes mid-send",
    "Add type hints to the legacy client",
]
_LABELS = [
    ("bug", "d73a4a", "Something isn't working"),
    ("enhancement", "a2eeef", "New feature or request"),
    ("documentation", "0075ca", "Improvements or additions to documentation"),
    ("needs triage", "ededed", None),
    ("performance", "fbca04", "Slow or memory hungry"),
    ("good first issue", "7057ff", "Good for newcomers"),
]
_SENTENCES = [
    "Steps to reproduce are below; it happens on every run with the attached script.",
    "I tried increasing the timeout but the behaviour is the same.",
    "This started after upgrading from 12.0 to 13.1.",
    "Happy to send a PR if the approach sounds reasonable.",
    "The traceback points at the compression context being reused after close.",
    "Running on Ubuntu 22.04, CPython 3.11.7, behind an AWS ALB.",
    "Could this be related to the keepalive changes in the last release?",
    "I can't reproduce it locally, only in production under load.",
]


def _user_doc(rng: random.Random, login: str) -> dict[str, Any]:
    """GitHub-style user object: few facts, many URLs, as the real API sends."""
    uid = rng.randint(1000, 9_999_999)
    base = f"https://api.example.test/users/{login}"
    return {
        "login": login,
        "id": uid,
        "avatar_url": f"https://avatars.example.test/u/{uid}?v=4",
        "html_url": f"https://git.example.test/{login}",
        "url": base,
        "repos_url": f"{base}/repos",
        "type": "User",
        "site_admin": False,
    }


def _api_order(rng: random.Random, ms: int) -> tuple[dict[str, Any], list[Any], Callable[[], Any]]:
    """Commerce ``order.updated`` event; grows by line items."""
    city, country, postcode, currency = rng.choice(_CITIES)
    handle, name = rng.choice(_CHAT_USERS)
    created = ms - rng.randint(60_000, 86_400_000)
    order_id = _b32id(rng, "ord_", 14)
    address = {
        "name": name,
        "line1": f"{rng.randint(1, 220)} {rng.choice(_STREETS)}",
        "line2": rng.choice([None, f"Apt {rng.randint(1, 40)}"]),
        "city": city,
        "postal_code": postcode,
        "country": country,
    }
    items: list[Any] = []
    doc = {
        "id": _b32id(rng, "evt_", 20),
        "type": "order.updated",
        "api_version": "2024-01-15",
        "created": _iso_ms(ms),
        "data": {
            "object": {
                "id": order_id,
                "number": rng.randint(10_000, 99_999),
                "status": rng.choice(["paid", "fulfilled", "partially_fulfilled", "refunded"]),
                "currency": currency,
                "customer": {
                    "id": _b32id(rng, "cus_", 14),
                    "email": f"{handle.replace('.', '')}@mail.example.test",
                    "name": name,
                    "orders_count": rng.randint(1, 40),
                },
                "shipping_address": address,
                "billing_address": address if rng.random() < 0.7 else dict(address, line2=None),
                "line_items": items,
                "totals": {
                    "subtotal": f"{rng.randint(20, 900)}.{rng.randint(0, 99):02d}",
                    "shipping": rng.choice(["0.00", "4.90", "9.95"]),
                    "tax": f"{rng.randint(3, 150)}.{rng.randint(0, 99):02d}",
                },
                "tags": rng.sample(
                    ["vip", "gift", "b2b", "first-order", "subscription"], rng.randint(0, 2)
                ),
                "created_at": _iso_s(created),
                "updated_at": _iso_s(ms),
                "links": {
                    "self": f"https://api.example.test/v2/orders/{order_id}",
                    "admin": f"https://admin.example.test/orders/{order_id}",
                },
            },
            "previous_attributes": {"status": "pending", "updated_at": _iso_s(created)},
        },
    }

    def item() -> dict[str, Any]:
        title, category, price = rng.choice(_PRODUCTS)
        sku = f"{category[:3].upper()}-{rng.randint(1000, 9999)}-{rng.choice('SMLX')}"
        return {
            "id": _b32id(rng, "li_", 12),
            "sku": sku,
            "title": title,
            "category": category,
            "quantity": rng.choice([1, 1, 1, 2, 3]),
            "unit_price": {"amount": price, "currency": currency},
            "tax_lines": [
                {
                    "title": "VAT",
                    "rate": rng.choice([0.19, 0.2, 0.21, 0.23]),
                    "amount": f"{rng.randint(1, 40)}.{rng.randint(0, 99):02d}",
                }
            ],
            "image_url": f"https://cdn.example.test/products/{sku.lower()}/main.jpg?w=640",
            "fulfillment_status": rng.choice([None, "fulfilled"]),
        }

    return doc, items, item


def _api_issue(rng: random.Random, ms: int) -> tuple[dict[str, Any], list[Any], Callable[[], Any]]:
    """Issue-tracker ``issue.updated`` event; grows by recent comments."""
    number = rng.randint(100, 1500)
    repo = "acme/wsproxy"
    author = rng.choice(_CHAT_USERS)[0].replace(".", "-")
    comments: list[Any] = []
    base = f"https://api.example.test/repos/{repo}/issues/{number}"
    doc = {
        "action": rng.choice(["edited", "labeled", "assigned", "commented"]),
        "delivered_at": _iso_s(ms),
        "issue": {
            "url": base,
            "html_url": f"https://git.example.test/{repo}/issues/{number}",
            "comments_url": f"{base}/comments",
            "id": rng.randint(10**9, 3 * 10**9),
            "number": number,
            "title": rng.choice(_ISSUE_TITLES),
            "user": _user_doc(rng, author),
            "labels": [
                {"id": 1000 + i, "name": n, "color": c, "description": d}
                for i, (n, c, d) in enumerate(_LABELS)
                if rng.random() < 0.3
            ],
            "state": rng.choice(["open", "open", "closed"]),
            "assignees": [
                _user_doc(rng, rng.choice(_CHAT_USERS)[0].replace(".", "-"))
                for _ in range(rng.choice([0, 0, 1, 1, 2]))
            ],
            "created_at": _iso_s(ms - rng.randint(86_400_000, 90 * 86_400_000)),
            "updated_at": _iso_s(ms),
            "body": " ".join(rng.sample(_SENTENCES, rng.randint(1, 3))),
            "recent_comments": comments,
        },
        "repository": {
            "id": 5512873,
            "name": "wsproxy",
            "full_name": repo,
            "html_url": f"https://git.example.test/{repo}",
            "default_branch": "main",
        },
    }

    def comment() -> dict[str, Any]:
        cid = rng.randint(10**9, 3 * 10**9)
        return {
            "id": cid,
            "url": f"https://api.example.test/repos/{repo}/issues/comments/{cid}",
            "user": _user_doc(rng, rng.choice(_CHAT_USERS)[0].replace(".", "-")),
            "created_at": _iso_s(ms - rng.randint(0, 86_400_000)),
            "body": " ".join(rng.sample(_SENTENCES, rng.randint(1, 2))),
            "reactions": {
                "+1": rng.randint(0, 9),
                "heart": rng.randint(0, 3),
                "eyes": rng.randint(0, 2),
            },
        }

    return doc, comments, comment


def _api_resource(
    rng: random.Random, ms: int
) -> tuple[dict[str, Any], list[Any], Callable[[], Any]]:
    """Kubernetes-style watch event for a Deployment; grows by containers."""
    svc = rng.choice(_SERVICES)
    ns = rng.choice(["prod", "staging", "payments", "platform"])
    containers: list[Any] = []
    doc = {
        "type": "MODIFIED",
        "object": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": svc,
                "namespace": ns,
                "uid": _uuid(rng),
                "resourceVersion": str(rng.randint(10**7, 10**8)),
                "generation": rng.randint(1, 400),
                "creationTimestamp": _iso_s(ms - rng.randint(10**8, 10**10)),
                "labels": {
                    "app.kubernetes.io/name": svc,
                    "app.kubernetes.io/part-of": "acme",
                    "team": rng.choice(["core", "growth", "infra"]),
                },
                "annotations": {
                    "deployment.kubernetes.io/revision": str(rng.randint(1, 300)),
                    "meta.example.test/git-sha": hashlib.sha1(rng.randbytes(16)).hexdigest(),
                },
            },
            "spec": {
                "replicas": rng.choice([2, 3, 3, 6, 12]),
                "selector": {"matchLabels": {"app.kubernetes.io/name": svc}},
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0},
                },
                "template": {
                    "spec": {"containers": containers, "terminationGracePeriodSeconds": 30}
                },
            },
            "status": {
                "observedGeneration": rng.randint(1, 400),
                "replicas": 3,
                "readyReplicas": rng.choice([2, 3]),
                "conditions": [
                    {
                        "type": "Available",
                        "status": "True",
                        "lastTransitionTime": _iso_s(ms - rng.randint(0, 10**7)),
                        "reason": "MinimumReplicasAvailable",
                    },
                    {
                        "type": "Progressing",
                        "status": "True",
                        "lastTransitionTime": _iso_s(ms),
                        "reason": "NewReplicaSetAvailable",
                    },
                ],
            },
        },
    }

    def container() -> dict[str, Any]:
        name = rng.choice([svc, "envoy", "log-shipper", "migrate", "otel-agent"])
        digest = hashlib.sha256(rng.randbytes(16)).hexdigest()
        return {
            "name": name,
            "image": f"registry.example.test/acme/{name}@sha256:{digest}",
            "ports": [
                {"name": "http", "containerPort": rng.choice([8080, 8000, 9090]), "protocol": "TCP"}
            ],
            "env": [
                {"name": "LOG_LEVEL", "value": rng.choice(["info", "debug", "warn"])},
                {
                    "name": "OTEL_EXPORTER_OTLP_ENDPOINT",
                    "value": "http://otel-collector.observability:4317",
                },
                {
                    "name": "DATABASE_URL",
                    "valueFrom": {"secretKeyRef": {"name": f"{svc}-db", "key": "url"}},
                },
            ][: rng.randint(1, 3)],
            "resources": {
                "requests": {
                    "cpu": rng.choice(["100m", "250m", "500m"]),
                    "memory": rng.choice(["128Mi", "256Mi", "1Gi"]),
                },
                "limits": {"memory": rng.choice(["256Mi", "512Mi", "2Gi"])},
            },
            "readinessProbe": {
                "httpGet": {"path": "/healthz", "port": "http"},
                "periodSeconds": 10,
            },
        }

    return doc, containers, container


def api(seed: int = DEFAULT_SEED, messages: int = 1500) -> list[Record]:
    """API subscription stream: nested JSON event documents (orders, issues,
    Kubernetes-style resources) of 1-5 KB each, server to client, on three
    connections (one per topic). Returns ``messages`` records."""
    rng = random.Random(f"wsztune-api-{seed}")
    topics = [("a01", _api_order), ("a02", _api_issue), ("a03", _api_resource)]
    out: list[Record] = []
    ms = 0
    for _ in range(messages):
        ms += rng.randint(50, 4000)
        conn, build = rng.choices(topics, weights=[5, 3, 2])[0]
        doc, items, make = build(rng, ms)
        # Grow the document's list until it reaches a target size drawn per
        # message, so sizes spread over the whole 1-5 KB band.
        target = rng.triangular(API_MIN_BYTES, API_MAX_BYTES, 2200)
        payload = _json(doc)
        while not items or len(payload) < target:
            items.append(make())
            grown = _json(doc)
            if len(grown) > API_MAX_BYTES:
                items.pop()
                break
            payload = grown
        payload = _json(doc)
        assert API_MIN_BYTES <= len(payload) <= API_MAX_BYTES, len(payload)
        out.append(Record(conn, "server", payload, True))
    return out


# ---------------------------------------------------------------------------
# writers
# ---------------------------------------------------------------------------


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


def _har_headers(pairs: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": n, "value": v} for n, v in pairs]


def har_bytes(seed: int = DEFAULT_SEED) -> bytes:
    """A Chrome-DevTools-shaped HAR 1.2 capture of the first chat connections.

    The frames are the first ``HAR_FRAMES`` frames on connections c01..c04 of the
    default-size chat corpus for ``seed``, so they also appear in
    ``chat.records.jsonl``. The log also has the page's HTML GET, as real
    captures do.
    """
    rng = random.Random(f"wsztune-har-{seed}")
    conns = [f"c{i + 1:02d}" for i in range(HAR_CONNECTIONS)]
    frames: dict[str, list[tuple[float, Record]]] = {c: [] for c in conns}
    taken = 0
    for t, r in _chat_timeline(seed):
        if r.connection in frames and taken < HAR_FRAMES:
            frames[r.connection].append((t, r))
            taken += 1
    chrome = (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/122.0.0.0 Safari/537.36"
    )
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Acme Chat</title>'
        '<script src="/static/app.4f2c9e.js" defer></script></head>'
        '<body><div id="root"></div></body></html>'
    )
    page_start = min(f[0][0] for f in frames.values()) - 1.5
    entries: list[dict[str, Any]] = [
        {
            "_initiator": {"type": "other"},
            "_priority": "VeryHigh",
            "_resourceType": "document",
            "cache": {},
            "connection": "443",
            "pageref": "page_1",
            "request": {
                "method": "GET",
                "url": "https://chat.example.test/",
                "httpVersion": "http/2.0",
                "headers": _har_headers(
                    [
                        (":authority", "chat.example.test"),
                        (":method", "GET"),
                        (":path", "/"),
                        (":scheme", "https"),
                        (
                            "accept",
                            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                        ),
                        ("accept-encoding", "gzip, deflate, br, zstd"),
                        ("user-agent", chrome),
                    ]
                ),
                "queryString": [],
                "cookies": [],
                "headersSize": -1,
                "bodySize": 0,
            },
            "response": {
                "status": 200,
                "statusText": "",
                "httpVersion": "http/2.0",
                "headers": _har_headers(
                    [
                        ("content-encoding", "br"),
                        ("content-type", "text/html; charset=utf-8"),
                        (
                            "date",
                            (EPOCH + timedelta(seconds=page_start)).strftime(
                                "%a, %d %b %Y %H:%M:%S GMT"
                            ),
                        ),
                    ]
                ),
                "cookies": [],
                "content": {"size": len(html), "mimeType": "text/html", "text": html},
                "redirectURL": "",
                "headersSize": -1,
                "bodySize": -1,
                "_transferSize": 412,
                "_error": None,
            },
            "serverIPAddress": "203.0.113.10",
            "startedDateTime": _iso_ms(int(page_start * 1000)),
            "time": 84.213,
            "timings": {
                "blocked": 2.1,
                "dns": 11.4,
                "ssl": 23.9,
                "connect": 38.2,
                "send": 0.3,
                "wait": 40.7,
                "receive": 2.5,
                "_blocked_queueing": 1.4,
            },
        }
    ]
    for conn in conns:
        frs = frames[conn]
        start = frs[0][0] - rng.uniform(0.03, 0.09)
        key = base64.b64encode(rng.randbytes(16)).decode("ascii")
        accept = base64.b64encode(
            hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode("ascii")).digest()
        ).decode("ascii")
        query = [("v", "4"), ("encoding", "json"), ("session", conn)]
        messages = []
        for t, r in frs:
            messages.append(
                {
                    "type": "send" if r.direction == "client" else "receive",
                    "time": round(EPOCH_S + t, 6),
                    "opcode": 1 if r.is_text else 2,
                    "data": r.payload.decode("utf-8")
                    if r.is_text
                    else base64.b64encode(r.payload).decode("ascii"),
                }
            )
        entries.append(
            {
                "_initiator": {
                    "type": "script",
                    "stack": {
                        "callFrames": [
                            {
                                "functionName": "connect",
                                "scriptId": "17",
                                "url": "https://chat.example.test/static/app.4f2c9e.js",
                                "lineNumber": 0,
                                "columnNumber": 48211,
                            }
                        ]
                    },
                },
                "_priority": "Low",
                "_resourceType": "websocket",
                "cache": {},
                "connection": str(rng.randint(100000, 999999)),
                "pageref": "page_1",
                "request": {
                    "method": "GET",
                    "url": "wss://chat.example.test/ws?" + "&".join(f"{k}={v}" for k, v in query),
                    "httpVersion": "HTTP/1.1",
                    "headers": _har_headers(
                        [
                            ("Accept-Encoding", "gzip, deflate, br, zstd"),
                            ("Cache-Control", "no-cache"),
                            ("Connection", "Upgrade"),
                            ("Host", "chat.example.test"),
                            ("Origin", "https://chat.example.test"),
                            ("Pragma", "no-cache"),
                            (
                                "Sec-WebSocket-Extensions",
                                "permessage-deflate; client_max_window_bits",
                            ),
                            ("Sec-WebSocket-Key", key),
                            ("Sec-WebSocket-Version", "13"),
                            ("Upgrade", "websocket"),
                            ("User-Agent", chrome),
                        ]
                    ),
                    "queryString": [{"name": k, "value": v} for k, v in query],
                    "cookies": [],
                    "headersSize": -1,
                    "bodySize": 0,
                },
                "response": {
                    "status": 101,
                    "statusText": "Switching Protocols",
                    "httpVersion": "HTTP/1.1",
                    "headers": _har_headers(
                        [
                            ("Connection", "Upgrade"),
                            ("Sec-WebSocket-Accept", accept),
                            (
                                "Sec-WebSocket-Extensions",
                                # What a websockets server answers with its defaults.
                                "permessage-deflate; server_max_window_bits=12; "
                                "client_max_window_bits=12",
                            ),
                            ("Upgrade", "websocket"),
                        ]
                    ),
                    "cookies": [],
                    "content": {"size": 0, "mimeType": "x-unknown"},
                    "redirectURL": "",
                    "headersSize": -1,
                    "bodySize": -1,
                    "_transferSize": 0,
                    "_error": None,
                },
                "serverIPAddress": "203.0.113.10",
                "startedDateTime": _iso_ms(int(start * 1000)),
                "time": round((frs[-1][0] - start) * 1000, 3),
                "timings": {
                    "blocked": -1,
                    "dns": -1,
                    "ssl": -1,
                    "connect": -1,
                    "send": 0,
                    "wait": round(rng.uniform(20, 60), 3),
                    "receive": 0,
                },
                "_webSocketMessages": messages,
            }
        )
    har = {
        "log": {
            "version": "1.2",
            "creator": {"name": "WebInspector", "version": "537.36"},
            "pages": [
                {
                    "startedDateTime": _iso_ms(int(page_start * 1000)),
                    "id": "page_1",
                    "title": "https://chat.example.test/",
                    "pageTimings": {"onContentLoad": 412.7, "onLoad": 655.1},
                }
            ],
            "entries": entries,
        }
    }
    # DevTools exports pretty-printed JSON with two-space indentation.
    return (json.dumps(har, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def generate_all(outdir: Path, seed: int = DEFAULT_SEED) -> list[Path]:
    """Write every corpus file for ``seed`` into ``outdir``; return the paths written."""
    outdir.mkdir(parents=True, exist_ok=True)
    files = {
        "chat.records.jsonl": records_bytes(chat(seed)),
        "game.records.jsonl": records_bytes(game(seed)),
        "market.records.jsonl": records_bytes(market(seed)),
        "api.jsonl": payload_lines_bytes(api(seed)),
        "chat.har": har_bytes(seed),
    }
    paths = []
    for name, data in files.items():
        path = outdir / name
        path.write_bytes(data)
        paths.append(path)
    return paths


def package_data_path() -> Path:
    """Where the packaged default corpus lives (travels in the wheel)."""
    return Path(__file__).resolve().parent / "data" / "demo.records.jsonl"


def write_package_data(seed: int = DEFAULT_SEED, path: Path | None = None) -> Path:
    """Write the demo corpus (the chat corpus, ``DEMO_MESSAGES`` messages)."""
    path = path or package_data_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(records_bytes(chat(seed, messages=DEMO_MESSAGES)))
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``python -m wsztune.synth [OUTDIR] [--seed N] [--package-data]``."""
    parser = argparse.ArgumentParser(
        prog="python -m wsztune.synth",
        description="Write wsztune's synthetic WebSocket corpora (deterministic per seed).",
    )
    parser.add_argument("outdir", nargs="?", type=Path, help="directory for the corpus files")
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"RNG seed (default {DEFAULT_SEED})"
    )
    parser.add_argument(
        "--package-data",
        action="store_true",
        help="also write the demo corpus to wsztune/data/demo.records.jsonl",
    )
    args = parser.parse_args(argv)
    if args.outdir is None and not args.package_data:
        parser.error("give OUTDIR, --package-data, or both")
    written = []
    if args.outdir is not None:
        written += generate_all(args.outdir, args.seed)
    if args.package_data:
        written.append(write_package_data(args.seed))
    for path in written:
        print(f"{path}\t{path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
