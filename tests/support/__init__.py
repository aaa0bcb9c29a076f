"""What the tests use and are not tests: real peers' drivers, reference framers, fixture programs
(JS, Go, Java) and data. Nothing here is collected."""

from __future__ import annotations

from pathlib import Path

SUPPORT = Path(__file__).resolve().parent
"""This folder: fixture programs are found from here, wherever a test file sits."""
