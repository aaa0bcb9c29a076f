"""wsztune: tune permessage-deflate from real messages."""

from __future__ import annotations

__version__ = "0.1.0"
