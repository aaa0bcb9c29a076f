"""Does scrubbing keep compressibility? Original against scrubbed, every cell, both modes.

For every bundled corpus, and for a few corpora generated here in shapes the bundled ones do not
have (so that the scrubber's constants are not tuned to them): long natural-language chat, sensor
telemetry, plain-text logs, non-Latin notifications with base64 blobs, binary RPC frames, and
pretty-printed API documents, plus two adversarial ones made to hurt ``tokens`` mode where its
privacy choices cost most (compound words, digit runs; reported, not counted), this scrubs the
corpus in both modes (a fixed key), sweeps the 63-cell grid (windowBits 9-15 x memLevel 1-9,
level -1, context takeover; sizes only, with wsztune's own codec functions) on original and
scrubbed, and prints the worst cell:

- ``tokens`` mode: the change in savings (1 - compressed/raw), in percentage points; goal <= 2;
- ``permute`` mode: the change in compressed size, in percent; goal <= 0.5.

    python bench/scrub.py            # about five minutes on 2 cores (permute measures 16
                                     # candidate permutations per corpus)
    python bench/scrub.py --quick    # the bundled corpora only
    python bench/scrub.py --keys 4   # the worst cell over 4 keys: a goal must hold for any key

A single key can be lucky: before permute mode measured its candidates, the bench's fixed key
gave -0.63% at worst and four other keys up to -1.19%.

Sizes are exact and deterministic: unlike timings, these figures do not depend on the machine.
"""

from __future__ import annotations

import argparse
import base64
import inspect
import json
import random
import re
import struct
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wsztune import corpus as corpus_module  # noqa: E402
from wsztune import scrub  # noqa: E402

BUNDLED = (
    "chat.records.jsonl",
    "market.records.jsonl",
    "game.records.jsonl",
    "api.jsonl",
    "chat.har",
    "websockets-commits.jsonl",
)
GOALS = scrub.GOALS
KEY = b"bench-scrub-key-0"


# Generated corpora (seeded, stdlib only) -------------------------------------------------------


def _sentences() -> list[str]:
    """Real English: the docstrings of a few standard-library modules, cut into sentences (so
    this corpus differs a little from one Python version to another)."""
    import argparse as a
    import asyncio
    import collections
    import email.message
    import http.client
    import json as j
    import logging
    import pathlib
    import subprocess
    import unittest

    text = []
    for module in (
        a,
        asyncio,
        collections,
        email.message,
        http.client,
        j,
        logging,
        pathlib,
        subprocess,
        unittest,
    ):
        for _name, member in inspect.getmembers(module):
            doc = inspect.getdoc(member) if callable(member) else None
            if doc:
                text.append(" ".join(doc.split()))
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(text))
    return [s for s in sentences if 20 <= len(s) <= 400]


_NAMES = [
    "Åsa Lindqvist",
    "Dmitri Volkov",
    "Fatima Zahra",
    "Hiroshi Tanaka",
    "Léa Dubois",
    "Marta Kowalska",
    "Ngozi Adeyemi",
    "Owen Davies",
    "Priya Nair",
    "Søren Kierkegaard",
    "Zoë Müller",
    "Чжан Вэй",
]


def natural_chat(rng: random.Random) -> list[dict]:
    """Support-desk chat: long real-English messages, threads, both directions, 12 connections."""
    sentences = _sentences()
    records = []
    ms = 1_732_000_000_000
    for _ in range(2500):
        conn = f"s{rng.randrange(12):02d}"
        ms += rng.randint(20, 4000)
        who = rng.choice(_NAMES)
        body = " ".join(rng.choice(sentences) for _ in range(rng.choice((1, 1, 2, 3))))
        if rng.random() < 0.5:
            text = json.dumps(
                {"op": "post", "thread": f"T{rng.randrange(40):04d}", "body": body},
                ensure_ascii=False,
                separators=(",", ":"),
            )
            records.append({"connection": conn, "direction": "client", "text": text})
        else:
            event = {
                "event": "message.created",
                "at": ms,
                "thread": f"T{rng.randrange(40):04d}",
                "author": {"name": who, "handle": who.split()[0].lower()},
                "body": body,
                "mentions": [rng.choice(_NAMES) for _ in range(rng.randrange(3))],
            }
            records.append(
                {
                    "connection": conn,
                    "direction": "server",
                    "text": json.dumps(event, ensure_ascii=False),
                }
            )
    return records


def telemetry(rng: random.Random) -> list[dict]:
    """Sensor telemetry: uuids, floats of mixed precision, counters, enums, arrays of readings."""
    devices = [f"{rng.getrandbits(128):032x}" for _ in range(30)]
    state = {
        d: [rng.uniform(-20, 40), rng.uniform(0, 100), rng.uniform(950, 1050), 0] for d in devices
    }
    records = []
    t = 1_700_000_000.0
    for _ in range(6000):
        device = rng.choice(devices)
        s = state[device]
        s[0] += rng.gauss(0, 0.3)
        s[1] = min(100.0, max(0.0, s[1] + rng.gauss(0, 1)))
        s[2] += rng.gauss(0, 0.5)
        s[3] += rng.randint(1, 50)
        t += rng.expovariate(20)
        doc = {
            "device": f"{device[:8]}-{device[8:12]}-{device[12:16]}-{device[16:20]}-{device[20:]}",
            "ts": round(t, 3),
            "temp_c": round(s[0], 2),
            "humidity": round(s[1], 1),
            "pressure_hpa": round(s[2], 2),
            "counter": s[3],
            "status": rng.choices(["ok", "ok", "ok", "degraded", "battery_low"])[0],
            "samples": [round(s[0] + rng.gauss(0, 0.05), 3) for _ in range(rng.randint(0, 8))],
        }
        records.append(
            {
                "connection": device[:6],
                "direction": "client",
                "text": json.dumps(doc, separators=(",", ":")),
            }
        )
    return records


def logs(rng: random.Random) -> list[dict]:
    """Plain-text log lines (not JSON): timestamps, levels, paths with ids, durations, IPs."""
    paths = [
        "/api/v1/users/{}",
        "/api/v1/orders/{}/items",
        "/static/app.{}.js",
        "/healthz",
        "/api/v2/search?q={}&page=2",
        "/login",
        "/api/v1/invoices/{}/pdf",
    ]
    words = ["timeout", "retry", "cache miss", "upstream reset", "slow query", "ok"]
    records = []
    ms = 0
    for _ in range(6000):
        ms += rng.randint(1, 400)
        path = rng.choice(paths).format(rng.randint(1, 99999))
        line = (
            f"2024-11-{1 + ms // 86_400_000:02d} {ms // 3_600_000 % 24:02d}:"
            f"{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d} "
            f"{rng.choices(['INFO', 'INFO', 'INFO', 'WARN', 'ERROR'])[0]} "
            f"[worker-{rng.randrange(8)}] {rng.choice(['GET', 'GET', 'POST', 'PUT'])} {path} "
            f"{rng.choice([200, 200, 200, 201, 304, 404, 500])} {rng.randint(1, 900)}ms "
            f"10.0.{rng.randrange(4)}.{rng.randrange(256)} {rng.choice(words)}"
        )
        records.append({"connection": "log", "direction": "server", "text": line})
    return records


def notifications(rng: random.Random) -> list[dict]:
    """Notifications in Chinese, Russian and French, URLs with queries, small base64 thumbnails."""
    phrases = [
        "您有一条新消息",
        "订单已发货",
        "付款成功，感谢您的购买",
        "Новое сообщение от команды",
        "Ваш заказ доставлен",
        "Votre commande a été expédiée",
        "Réunion déplacée à jeudi",
        "Paiement reçu, merci",
        "系统维护通知：今晚十点开始",
        "Напоминание о встрече",
    ]
    records = []
    for i in range(3000):
        thumb = base64.b64encode(bytes(rng.getrandbits(8) for _ in range(rng.randint(30, 120))))
        doc = {
            "id": f"ntf_{rng.getrandbits(48):012x}",
            "seq": i,
            "title": rng.choice(phrases),
            "body": " ".join(rng.sample(phrases, 2)),
            "link": f"https://app.example.org/n/{i}?utm_source=push&lang="
            f"{rng.choice(['zh-CN', 'ru-RU', 'fr-FR'])}",
            "thumb": thumb.decode(),
            "read": rng.random() < 0.3,
        }
        records.append(
            {
                "connection": f"u{rng.randrange(20)}",
                "direction": "server",
                "text": json.dumps(doc, ensure_ascii=rng.random() < 0.3),
            }
        )
    return records


def binary_rpc(rng: random.Random) -> list[dict]:
    """Binary RPC frames (a header, a method name, packed floats and ints) and JSON acks."""
    methods = [b"player.move", b"player.shoot", b"world.update", b"chat.say", b"inventory.sync"]
    records = []
    for i in range(5000):
        conn = f"p{rng.randrange(6)}"
        method = rng.choice(methods)
        body = struct.pack("<HB", i & 0xFFFF, len(method)) + method
        for _ in range(rng.randint(1, 12)):
            body += struct.pack(
                "<Iff", rng.randrange(500), rng.uniform(0, 1000), rng.uniform(-5, 5)
            )
        if rng.random() < 0.8:
            records.append(
                {
                    "connection": conn,
                    "direction": "server",
                    "base64": base64.b64encode(body).decode(),
                }
            )
        else:
            ack = {"ack": i, "method": method.decode(), "ok": True}
            records.append({"connection": conn, "direction": "client", "text": json.dumps(ack)})
    return records


def pretty_documents(rng: random.Random) -> list[dict]:
    """Pretty-printed (indent 2) nested API documents, one per message, as some servers send."""
    records = []
    for i in range(800):
        doc = {
            "id": 10_000 + i,
            "kind": rng.choice(["invoice", "refund", "credit_note"]),
            "customer": {
                "id": f"cus_{rng.getrandbits(40):010x}",
                "email": f"{rng.choice(_NAMES).split()[0].lower()}@example.com",
                "address": {
                    "city": rng.choice(["Lyon", "Kraków", "Osaka", "Lagos"]),
                    "zip": f"{rng.randrange(100000):05d}",
                },
            },
            "lines": [
                {
                    "sku": f"SKU-{rng.randrange(10000):04d}",
                    "qty": rng.randint(1, 5),
                    "unit_price": f"{rng.randint(100, 99999) / 100:.2f}",
                    "currency": "EUR",
                }
                for _ in range(rng.randint(1, 6))
            ],
            "created": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
            f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z",
        }
        records.append(
            {
                "connection": "api",
                "direction": "server",
                "text": json.dumps(doc, indent=2, ensure_ascii=False),
            }
        )
    return records


# Two corpora made to hurt the scrub where its design is weakest (issue 17: corpora made by an
# adversary moved savings by 2.02 and 2.46 points). Kept apart from the shapes above: they are
# not what servers commonly send, they are where the margin ends.


def compound_words(rng: random.Random) -> list[dict]:
    """Adversarial: words glued from a few short morphemes, as in German or Finnish compounds or
    camelCase-free identifiers. A letter's replacement depends on the two letters before it, so
    every morpheme loses its first two letters to whatever precedes it, and morphemes are about
    as short as deflate's shortest match (3 bytes)."""
    morphemes = [
        "".join(rng.choice("abcdefghijklmnoprstuvy") for _ in range(rng.randint(3, 5)))
        for _ in range(40)
    ]
    records = []
    for i in range(3000):
        words = [
            "".join(rng.choice(morphemes) for _ in range(rng.randint(2, 5)))
            for _ in range(rng.randint(4, 14))
        ]
        doc = {"id": i, "lang": "xx", "text": " ".join(words)}
        records.append(
            {
                "connection": f"c{rng.randrange(8)}",
                "direction": rng.choice(["server", "server", "client"]),
                "text": json.dumps(doc, separators=(",", ":")),
            }
        )
    return records


def digit_runs(rng: random.Random) -> list[dict]:
    """Adversarial: long digit strings built from a few shared pieces at varying offsets
    (packed account and card-like numbers, concatenated ids). A digit's replacement depends on
    every digit before it in its run, so a piece shared at different offsets is never shared
    once scrubbed."""
    pieces = [f"{rng.randrange(10**6):06d}" for _ in range(60)]
    records = []
    for i in range(4000):
        runs = [
            "".join(rng.choice(pieces) for _ in range(rng.randint(2, 5)))[rng.randrange(4) :]
            for _ in range(rng.randint(2, 6))
        ]
        doc = {"seq": i, "refs": runs, "sum": str(rng.randrange(10**9))}
        records.append(
            {
                "connection": f"c{rng.randrange(8)}",
                "direction": "server",
                "text": json.dumps(doc, separators=(",", ":")),
            }
        )
    return records


# Counted against the goals.
GENERATED = {
    "natural-chat": natural_chat,
    "telemetry": telemetry,
    "logs": logs,
    "notifications": notifications,
    "binary-rpc": binary_rpc,
    "pretty-documents": pretty_documents,
}
# Reported, outside the goals: where the tokens mode's privacy choices cost most.
ADVERSARIAL = {
    "compound-words": compound_words,
    "digit-runs": digit_runs,
}


def write_generated(directory: Path, generators: dict = GENERATED) -> list[Path]:
    """Write every generated corpus as a records file; return the paths."""
    paths = []
    for name, make in generators.items():
        path = directory / f"{name}.records.jsonl"
        lines = ['{"wsztune":"records/1"}']
        lines += [json.dumps(r, ensure_ascii=False) for r in make(random.Random(name))]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


# The check ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Print the worst cell of every corpus and mode; exit 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the bundled corpora only")
    parser.add_argument(
        "--keys", type=int, default=1, help="scrub with this many keys, report the worst (1)"
    )
    args = parser.parse_args(argv)
    missed = 0
    with tempfile.TemporaryDirectory() as scratch:
        paths = [ROOT / "corpora" / name for name in BUNDLED]
        adversarial = []
        if not args.quick:
            paths += write_generated(Path(scratch))
            adversarial = write_generated(Path(scratch), ADVERSARIAL)
            paths += adversarial
        print(
            f"{'corpus':<30} {'messages':>8}  {'tokens: worst savings change':<34}"
            f"{'permute: worst size change':<30}"
        )
        for path in paths:
            corpus = corpus_module.load(path)
            sizes = scrub.grid_sizes(corpus)
            row = f"{path.name:<30} {len(corpus.messages):>8,}  "
            keys = [KEY] + [KEY + b"-%d" % index for index in range(1, args.keys)]
            for mode in ("tokens", "permute"):
                worsts = []
                started = time.perf_counter()
                for key in keys:
                    scrubbed, _ = scrub.scrub_corpus(corpus, mode, key)
                    worsts.append(scrub.compare_sizes(corpus, scrubbed, sizes).worst(mode))
                seconds = (time.perf_counter() - started) / len(keys)
                if mode == "tokens":
                    worst = max(worsts, key=lambda cell: abs(cell.savings_points))
                else:
                    worst = max(worsts, key=lambda cell: abs(cell.size_percent))
                value = worst.savings_points if mode == "tokens" else worst.size_percent
                unit = "pp" if mode == "tokens" else "%"
                ok = abs(value) <= GOALS[mode]
                outside = path in adversarial
                missed += not ok and not outside
                cell = f"{value:+.2f} {unit} at {worst.label} ({seconds:.1f} s)"
                mark = "" if ok else " over" if outside else " MISSED"
                row += f"{cell + mark:<34}"
            print(row, flush=True)
    print(
        f"goals: tokens <= {GOALS['tokens']} pp, permute <= {GOALS['permute']}% in every cell "
        f"of every corpus but the adversarial ones ({', '.join(ADVERSARIAL)}, reported only); "
        f"{'all met' if not missed else f'{missed} missed'}"
    )
    leaked = planted_secrets(args.keys)
    return 1 if missed or leaked else 0


def planted_secrets(keys: int = 1) -> int:
    """Scrub the planted-secret corpus (corpora/planted.py) in both modes, with ``keys`` keys;
    print how many of its secrets survive verbatim; return that count (goal: 0)."""
    from corpora.planted import CARRIERS, SECRETS, planted_messages, survivors

    messages = planted_messages()
    planted = survivors("\n".join(scrub.records_lines(messages)))
    assert planted == list(SECRETS), "every secret is in the corpus before the scrub"
    print(
        f"planted secrets: {len(SECRETS)} secrets in {len(CARRIERS)} carriers "
        f"({', '.join(CARRIERS)}), {len(messages)} messages"
    )
    total = 0
    for mode in scrub.MODES:
        found: set[str] = set()
        for index in range(keys):
            out, _ = scrub.scrub_messages(messages, mode, KEY + str(index).encode())
            found.update(survivors("\n".join(scrub.records_lines(out))))
        total += len(found)
        names = f": {', '.join(sorted(found))}" if found else ""
        print(f"  {mode:<8} {len(found)} of {len(SECRETS)} survive verbatim{names}")
    print(f"planted secrets: goal 0 survive in either mode; {'met' if not total else 'MISSED'}")
    return total


if __name__ == "__main__":
    sys.exit(main())
