"""Live memory statistics: what one connection costs a server, from marks read after each one.

Every live check reads the server's memory (tracemalloc, the Go heap, RSS) after each
connection's replay, once with compression and once without, and turns those marks into a
growth per connection, its standard error, and a difference from the model. The figures each
check reads differ in grain, so each passes the floor of what it reads (the smallest difference
it can resolve) to :func:`relative_difference` and the verdict: :data:`TRACEMALLOC_FLOOR`,
:data:`GO_HEAP_FLOOR`, :data:`RSS_FLOOR`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

# The floors, one per kind of memory figure (not one for all: each is the grain of what is read,
# and a shared one would loosen or tighten a check that has no reason to change).
# tracemalloc counts every byte Python allocates: no floor.
TRACEMALLOC_FLOOR = 0.0
# The Go heap (HeapAlloc after two collections) is counted to the byte, but its slope over a run
# moves by up to 2 KiB per connection between runs: below that, nothing is resolved. It is also
# what the Go check allows where the model expects almost nothing (gorilla's pooled writers).
GO_HEAP_FLOOR = 2048
# Resident memory moves by pages (4 KiB), either way, even on a connection without compression:
# a difference under a page is RSS's grain, not a finding.
RSS_FLOOR = 4096


def mean(values: Sequence[float]) -> float:
    """The mean of ``values`` (0 when there are none)."""
    return statistics.fmean(values) if values else 0.0


def standard_error(values: Sequence[float]) -> float:
    """Standard error of the mean of ``values`` (0 with fewer than two)."""
    if len(values) < 2:
        return 0.0
    return statistics.stdev(values) / len(values) ** 0.5


def relative_difference(difference_bytes: float, model_memory: float, floor: float) -> float:
    """``difference_bytes`` relative to the model, or to ``floor`` when the model expects less
    than the measurement can resolve."""
    return difference_bytes / max(model_memory, floor)


def per_connection_growth(marks: Sequence[int], warmup: int) -> float:
    """Growth per connection after ``warmup`` connections (``marks[0]``: the empty server,
    ``marks[i]``: after connection ``i - 1``)."""
    measured = len(marks) - 1 - warmup
    return (marks[-1] - marks[warmup]) / measured if measured > 0 else 0.0


def half_slope(marks: Sequence[int], cycle: int = 1) -> tuple[float, float]:
    """Growth per connection over the second half of ``marks`` (one after each connection; the
    first half warms the server up), and its standard error (infinite from fewer than two).

    Live connections replay the corpus's ``cycle`` connections in turn, which may cost very
    different amounts (one receives a compressed message, the next none): the error is taken
    over whole cycles (the growth of one pass over the corpus's connections), so that this
    planned variety is not read as noise, when there are at least two of them."""
    steps = [b - a for a, b in zip(marks, marks[1:], strict=False)]
    measured = steps[len(steps) // 2 :]
    if cycle > 1 and len(measured) >= 2 * cycle:
        # Whole cycles, from the end: drop the warm-up side's remainder.
        whole = len(measured) // cycle * cycle
        measured = measured[len(measured) - whole :]
        units = [sum(measured[i : i + cycle]) / cycle for i in range(0, whole, cycle)]
    else:
        units = measured
    if not units:
        return 0.0, math.inf
    error = standard_error(units) if len(units) > 1 else math.inf
    return mean(units), error


def interquartile_mean(values: Sequence[float]) -> float:
    """The mean of the middle half of ``values`` (all of them when fewer than 4)."""
    ordered = sorted(values)
    quarter = len(ordered) // 4
    middle = ordered[quarter : len(ordered) - quarter] if quarter else ordered
    return sum(middle) / len(middle) if middle else 0.0


def paired_growth(on: Sequence[int], off: Sequence[int], warmup: int) -> list[int]:
    """Per measured connection, what it added with compression minus what the same script's
    connection added without: ``(on[i+1] - on[i]) - (off[i+1] - off[i])``."""
    return [(on[i + 1] - on[i]) - (off[i + 1] - off[i]) for i in range(warmup, len(on) - 1)]


def grouped_growth(growth: Sequence[float], groups: Sequence[object]) -> float:
    """Growth per connection over connections of different kinds (``groups[i]``: what
    connection ``i`` built): each kind's middle half (:func:`interquartile_mean`), weighted by
    its number of connections. With one kind, the interquartile mean of all: a middle half over
    a mix would drop the minority kind (a fifth of connections compressing counts as none)."""
    kinds: dict[object, list[float]] = {}
    for value, kind in zip(growth, groups, strict=True):
        kinds.setdefault(kind, []).append(value)
    if not growth:
        return 0.0
    return sum(len(values) * interquartile_mean(values) for values in kinds.values()) / len(growth)


def growth_uncertainty(growth: Sequence[float], groups: Sequence[object]) -> float:
    """Standard error of :func:`grouped_growth`: per kind, a robust spread (1.4826 x the median
    absolute deviation from the kind's middle-half mean; pooled over all connections for a kind
    of fewer than 5) over the root of its count, weighed as the kinds are.

    A kind of a few connections whose heap steps by hundreds of KiB now and then (a corpus
    connection with many messages) gives a figure this uncertain, whatever the model says.
    """
    if not growth:
        return 0.0
    kinds: dict[object, list[float]] = {}
    for value, kind in zip(growth, groups, strict=True):
        kinds.setdefault(kind, []).append(value)
    centre = {kind: interquartile_mean(values) for kind, values in kinds.items()}

    def spread(deviations: list[float]) -> float:
        return 1.4826 * statistics.median(deviations) if deviations else 0.0

    pooled = spread([abs(v - centre[k]) for v, k in zip(growth, groups, strict=True)])
    variance = 0.0
    for kind, values in kinds.items():
        sd = spread([abs(v - centre[kind]) for v in values]) if len(values) >= 5 else pooled
        variance += (len(values) / len(growth)) ** 2 * sd**2 / len(values)
    return math.sqrt(variance)


@dataclass(frozen=True)
class Slope:
    """Bytes per connection and its standard error (infinite from fewer than three points)."""

    value: float
    error: float

    def minus(self, other: Slope) -> Slope:
        """This slope less ``other`` (independent runs: the errors add in quadrature)."""
        return Slope(self.value - other.value, math.hypot(self.error, other.error))

    @property
    def interval(self) -> tuple[float, float]:
        """About 95%: two standard errors either side."""
        return self.value - 2 * self.error, self.value + 2 * self.error


def least_squares(xs: Sequence[float], ys: Sequence[float]) -> Slope:
    """The least-squares slope of ``ys`` over ``xs`` and its standard error."""
    n = len(xs)
    if n < 2:
        return Slope(0.0, math.inf)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if not sxx:
        return Slope(0.0, math.inf)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    if n < 3:
        return Slope(slope, math.inf)
    residual = sum((y - mean_y - slope * (x - mean_x)) ** 2 for x, y in zip(xs, ys, strict=True))
    return Slope(slope, math.sqrt(residual / (n - 2) / sxx))
