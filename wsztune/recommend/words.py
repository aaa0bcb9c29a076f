"""How a decision's figures read in its prose: percentages, shares of resamples, points, money.

Every sentence of :mod:`wsztune.recommend` (the explanation, the gate's verdicts, the warnings)
formats its figures here, so that a 1% tolerance reads "1%" everywhere and a share of 94.96%
never reads as the 95% it failed to reach.
"""

from __future__ import annotations

import math


def percent(ratio: float) -> str:
    """A ratio as a percentage: one decimal under 10% (``4.2%``), none above (``37%``)."""
    value = ratio * 100
    return f"{value:.1f}%" if abs(value) < 10 else f"{value:.0f}%"


def option_percent(ratio: float) -> str:
    """An option's value as the user wrote it: ``1%``, ``2.5%``, never ``1.0%``."""
    return f"{ratio * 100:g}%"


def precise_percent(ratio: float) -> str:
    """Two decimals, so that a gate failing at 1.01% against a 1% tolerance does not read
    ``1.0%``."""
    return f"{ratio * 100:.2f}%"


def share_percent(share: float) -> str:
    """A share of resamples: 99.95% must not read 100%, nor 94.96% read 95%; one decimal,
    never rounded up to a limit."""
    return f"{math.floor(share * 1000) / 10:.1f}%"


def in_points(fraction: float) -> str:
    """A fraction as percentage points: ``1 point``, ``2.5 points``."""
    value = fraction * 100
    return f"{value:g} point" + ("" if value == 1 else "s")


def money(value: float) -> str:
    """A monthly cost: cents below 10,000, whole units above."""
    return f"{value:,.2f}" if value < 10_000 else f"{value:,.0f}"


def listed(names: list[str], last: str = "and") -> str:
    """``a``, ``a and b``, ``a, b and c`` (``last``: the word before the last name)."""
    if len(names) < 2:
        return "".join(names)
    return f"{', '.join(names[:-1])} {last} {names[-1]}"
