"""Sizes and fractions as users type them on the command line: ``64KiB``, ``1.5 MiB``, ``1%``.

Every command that takes a memory budget, a byte cap or a tolerance parses it here, so that all
of them accept the same spellings and refuse the same mistakes with the same line. (Not in
:mod:`wsztune.units`: that module is the corpus's resampling units, a different thing.)
"""

from __future__ import annotations

import math
import re

from wsztune.errors import WsztuneError
from wsztune.text import format_bytes

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$", re.IGNORECASE)
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    # Kubernetes spells binary units without the B; they are unambiguous, so accept them.
    "ki": 1024,
    "mi": 1024**2,
    "gi": 1024**3,
}


# Where a per-connection memory figure can fall: every cell measured is above 16 KiB (9:1 with
# its decompressor), and no server needs 64 MiB per connection. A bare number is read in the
# first unit that lands it there, to say what it probably meant.
PLAUSIBLE_MEMORY = (16 * 1024, 64 * 1024**2)
_GUESS_UNITS = (("B", 1), ("KiB", 1024), ("MiB", 1024**2), ("GiB", 1024**3))


def parse_size(
    text: str, option: str = "--max-memory", plausible: tuple[int, int] = PLAUSIBLE_MEMORY
) -> int:
    """Bytes from ``65536B``, ``64KiB`` (65,536), ``64KB`` (64,000), ``1.5 MiB``, ``64Ki``.

    Units are case-insensitive and may follow a space. A number without a unit is refused with
    its likely meaning (``64: did you mean 64KiB?``, the first unit that puts it within
    ``plausible``): read as bytes, ``--max-memory 64`` was a budget no cell can meet. A bare
    ``K``/``M``/``G`` is refused too: half the tools that write ``64K`` mean 65,536 and the
    other half 64,000, and a CI budget must not depend on a guess.
    """
    match = _SIZE.match(text)
    if match is None:
        raise WsztuneError(
            f"{option} takes a size such as 64KiB, 64KB, 1.5MiB or 65536B, not {text!r}"
        )
    number, unit = float(match[1]), match[2].lower()
    if unit == "":
        guesses = [
            (name, factor)
            for name, factor in _GUESS_UNITS
            if plausible[0] <= number * factor <= plausible[1]
        ]
        name, factor = guesses[0] if guesses else ("B", 1) if number > 1024 else ("KiB", 1024)
        guess = f"{match[1]}{name}"
        if factor == 1:
            guess += f" ({format_bytes(number)})"
        raise WsztuneError(
            f"{option} {text.strip()}: a size needs a unit: did you mean {guess}? "
            "(units: B, KB, KiB, MB, MiB)"
        )
    if unit in ("k", "m", "g"):
        raise WsztuneError(
            f"{option} {text.strip()!r} is ambiguous: write {match[1]}{unit.upper()}iB "
            f"(binary, 1024) or {match[1]}{unit.upper()}B (decimal, 1000)"
        )
    if unit not in _UNITS:
        raise WsztuneError(
            f"{option}: unknown unit {match[2]!r} in {text!r} (use B, KB, KiB, MB, MiB)"
        )
    value = number * _UNITS[unit]
    if value < 1 or not math.isfinite(value):
        raise WsztuneError(f"{option} must be at least 1 byte, not {text!r}")
    return int(value)


def parse_fraction(text: str, option: str) -> float:
    """``1%`` or ``0.01`` -> 0.01. Without ``%`` the number must be a fraction below 1."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise WsztuneError(
            f"{option} takes a percentage or a fraction (1% or 0.01), not {text!r}"
        ) from None
    if not raw.endswith("%") and value >= 1:
        raise WsztuneError(
            f"{option} {raw}: write a percentage with % (e.g. {raw}%) or a fraction below 1"
        )
    if value < 0 or not math.isfinite(value):
        raise WsztuneError(f"{option} must not be negative, not {text!r}")
    return value
