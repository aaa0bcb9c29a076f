"""Chat application traffic (``chat.records.jsonl`` and the demo corpus)."""

from __future__ import annotations

import random
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from corpora.generate.common import (
    DEFAULT_SEED,
    EPOCH_S,
    Record,
    _b32id,
    _hexid,
    _iso_ms,
    _iso_s,
    _json,
    _uuid,
)

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
