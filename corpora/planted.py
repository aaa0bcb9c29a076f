"""A corpus with planted secrets: what ``corpus scrub`` must leave nothing of (issue 29).

16 secrets, each planted in one or more of 12 carriers: a JSON value, an object key, a nested
value, an array, a number, a URL, an HTTP header in a text frame, a log line (plain text), a
binary frame (long and short runs: an IP address, a name, a PIN), a connection name, a key that
is also a value elsewhere (the card number), and an escaped string. :func:`survivors` lists the
secrets that appear verbatim anywhere in a scrubbed copy: its records file, as written.
``bench/scrub.py`` prints how many survive in each mode; ``tests/test_scrub.py`` asserts none.
"""

from __future__ import annotations

import base64
import json
import struct

from wsztune.corpus import Message

SECRETS = (
    "4111111111111111",  # a card number: a key in one message, a value in others
    "sk_live_9fA3kQ7mZx2L",  # an API key
    "alice.martin@example.org",  # an e-mail
    "hunter2secret",  # a password
    "192.168.17.42",  # an IP address, in a binary frame and a connection name
    "Bob",  # a short name, in a binary frame
    "pin:123",  # a short PIN, in a binary frame
    "eyJhbGciOiJIUzI1NiJ9",  # a bearer token, in a header
    "+33612345678",  # a phone number
    "FR7630006000011234567890189",  # an IBAN
    "Zorglub",  # a user name that is also an object key
    "7Q9XK2",  # a booking reference, nested deep
    "deadbeefcafe4242",  # a session id, in a URL
    "Marseille",  # a city, in a log line
    "1987-04-23",  # a birth date
    "123-45-6789",  # a social security number, escaped
)
CARRIERS = (
    "JSON value",
    "object key",
    "nested value",
    "array item",
    "number",
    "URL",
    "HTTP header (text frame)",
    "log line (text frame)",
    "binary frame",
    "connection name",
    "key and value",
    "escaped string",
)


def planted_messages() -> list[Message]:
    """The planted corpus: every secret in its carriers, among ordinary chat messages."""
    (
        card,
        api,
        mail,
        password,
        ip,
        bob,
        pin,
        token,
        phone,
        iban,
        user,
        ref,
        session,
        city,
        born,
        ssn,
    ) = SECRETS

    def text(document: object, connection: str = "c01", direction: str = "server") -> Message:
        return Message(json.dumps(document).encode(), True, connection, direction)

    messages = [
        text({"type": "payment", "card": card, "amount": 1250}),  # JSON value
        text({"type": "cards", card: {"holder": "A. Martin", "expires": "04/29"}}),  # key
        text({"type": "config", "auth": {"api": {"key": api}}}, "c02", "client"),  # nested
        text({"type": "contacts", "list": [mail, phone, "support"]}),  # array items
        text({"type": "login", "user": user, "password": password}, "c02", "client"),
        text({"type": "presence", "online": {user: True, "carol": False}}),  # key and value
        text({"type": "booking", "trip": {"legs": [{"ref": {"code": ref}}]}}),  # deep
        text({"type": "transfer", "iban": iban, "born": born, "amount": 61234567890}),
        text({"type": "link", "url": f"https://app.example.org/s/{session}?u={user}"}),  # URL
        text({"type": "refund", "pan": int(card), "to": phone}),  # a number
        Message(
            json.dumps({"type": "kyc", "ssn": ssn}).replace("-", "\\u002d").encode(),
            True,
            "c03",
            "client",
        ),  # escaped string
        Message(f"GET /feed HTTP/1.1\r\nAuthorization: Bearer {token}\r\n".encode(), True, "c03"),
        Message(f"2024-11-02 09:00:01 INFO login from {city} user={user}".encode(), True, "c03"),
        Message(
            b"\x01\x00"
            + struct.pack(">H", 42)
            + ip.encode()
            + b"\x00"
            + bob.encode()
            + b"\x07"
            + pin.encode()
            + b"\xff\x00"
            + card.encode(),
            False,
            "c04",
            "client",
        ),  # fmt: skip
        Message(b'{"type":"ping"}', True, ip, "client"),  # connection name
        text({"type": "message", "text": f"call {bob} at {phone} before {born}"}, ip),
    ]
    filler = [
        text({"type": "message", "channel": "general", "text": f"see you at {hour}:00"})
        for hour in range(10, 18)
    ]
    return messages + filler


def survivors(records_text: str) -> list[str]:
    """The secrets found verbatim in a scrubbed records file: in a line as written, in a text
    payload (its JSON strings, keys and numbers decoded: escapes undone), a binary payload
    (base64 decoded) or a connection name."""
    found = set()
    for line in records_text.splitlines():
        record = json.loads(line)
        places = [line, str(record.get("connection", "")), str(record.get("text", ""))]
        if "base64" in record:
            places.append(base64.b64decode(record["base64"]).decode("latin-1"))
        if "text" in record:
            places += _json_texts(record["text"])
        found.update(secret for secret in SECRETS if any(secret in place for place in places))
    return [secret for secret in SECRETS if secret in found]


def _json_texts(text: str) -> list[str]:
    """Every key, string and number of a JSON text, decoded; nothing for other text."""
    try:
        document = json.loads(text)
    except ValueError:
        return []
    out: list[str] = []
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            out += map(str, item)
            stack += item.values()
        elif isinstance(item, list):
            stack += item
        elif item is not None:
            out.append(str(item))
    return out
