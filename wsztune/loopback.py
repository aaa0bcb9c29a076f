"""The one address wsztune's own servers listen on: live checks always, ``record`` by default."""

from __future__ import annotations

LOOPBACK = "127.0.0.1"  # IPv4 loopback: nothing wsztune starts is reachable from another machine
