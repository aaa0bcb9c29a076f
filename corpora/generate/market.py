"""A market-data feed (``market.records.jsonl``)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from corpora.generate.common import DEFAULT_SEED, EPOCH_MS, Record, _json

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
