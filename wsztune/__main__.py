"""Entry point for ``python -m wsztune``."""

from __future__ import annotations

from wsztune.cli import main

if __name__ == "__main__":
    main()
