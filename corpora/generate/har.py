"""A Chrome-DevTools-shaped HAR capture of the first chat connections (``chat.har``)."""

from __future__ import annotations

import base64
import hashlib
import json
import random
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from corpora.generate.chat import _chat_timeline
from corpora.generate.common import (
    DEFAULT_SEED,
    EPOCH,
    EPOCH_S,
    HAR_CONNECTIONS,
    HAR_FRAMES,
    Record,
    _iso_ms,
)


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
