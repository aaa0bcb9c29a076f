"""An API subscription stream of nested JSON documents (``api.jsonl``)."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from typing import Any

from corpora.generate.chat import _CHAT_USERS, _SERVICES
from corpora.generate.common import (
    API_MAX_BYTES,
    API_MIN_BYTES,
    DEFAULT_SEED,
    Record,
    _b32id,
    _iso_ms,
    _iso_s,
    _json,
    _uuid,
)

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
