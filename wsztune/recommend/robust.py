"""Robustness from the data: does a cell's output stay near the best on traffic a little
different from this corpus?

The corpus's resampling units (streams, and blocks of messages of long streams, see
:mod:`wsztune.units`) are drawn with replacement (seeded); in each resample every feasible
cell's output is compared with the smallest feasible output of that resample.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from wsztune.grid import Cell, Key, Slice, cell_key
from wsztune.recommend.constraints import RESAMPLES
from wsztune.results import UNIT_SIZES

if TYPE_CHECKING:
    from wsztune.recommend.constraints import Constraints


# Below this many units a bootstrap says little: the decision says so.
FEW_UNITS = 10


@dataclass(frozen=True)
class Robustness:
    """What the bootstrap found: per feasible cell, the share of resamples in which its output
    stays within tolerance of the smallest in-budget output of that resample."""

    resamples: int
    units: int
    confidence: float
    seed: int
    share: dict[Key, float]
    # For the chosen cell: its savings, 2.5th and 97.5th percentile over the resamples, and
    # how much more it sends than each resample's best (95th percentile).
    savings_interval: tuple[float, float] | None = None
    excess_p95: float | None = None

    def of(self, cell: Cell) -> float | None:
        """The share for ``cell``, None if it was not resampled (not feasible)."""
        return self.share.get(cell_key(cell))


def resampling_units(slice_: Slice, cells: list[Cell]) -> list[int] | None:
    """Raw bytes per unit when every cell keeps its per-unit sizes, else None (no resampling)."""
    units = slice_.units
    if not units or not cells or any(UNIT_SIZES not in cell for cell in cells):
        return None
    return list(units["raw_bytes"])


def bootstrap(
    cells: list[Cell],
    raw: list[int],
    tolerance: float,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> tuple[Any, Any, Any]:
    """Resample the units with replacement ``resamples`` times (seeded).

    Returns ``(within, totals, raw_totals)``: ``within[b, c]`` is true when cell ``c``'s output
    in resample ``b`` is within ``tolerance`` of the smallest among ``cells`` in that resample;
    ``totals[b, c]`` its compressed bytes there; ``raw_totals[b]`` the resample's raw bytes.
    """
    import numpy

    sizes = numpy.array([cell[UNIT_SIZES] for cell in cells], dtype=numpy.float64)
    count = sizes.shape[1]
    rng = numpy.random.default_rng(seed)
    # Each row: how many times each unit is drawn in that resample (a bootstrap of `count`
    # draws), counted for all resamples at once with one bincount (faster than multinomial).
    draws = rng.integers(0, count, size=(resamples, count))
    draws += numpy.arange(resamples)[:, None] * count
    weights = numpy.bincount(draws.ravel(), minlength=resamples * count).reshape(resamples, count)
    weights = weights.astype(numpy.float64)
    totals = weights @ sizes.T
    best = totals.min(axis=1, keepdims=True)
    # A hair of slack so that cells tied with the best (identical outputs) always count as within.
    within = totals <= best * (1 + tolerance) + 1e-6
    raw_totals = weights @ numpy.array(raw, dtype=numpy.float64)
    return within, totals, raw_totals


def resample(
    feasible: list[Cell],
    raw: list[int],
    constraints: Constraints,
    key: Callable[[Cell], Any] = cell_key,
) -> tuple[Robustness, list[Cell], Any, Any]:
    """The robustness rule over ``feasible``: each cell's share of :func:`bootstrap` resamples
    in which its output stays within the tolerance of the smallest (keyed by ``key``), and the
    cells whose share reaches the confidence. Returns ``(robustness, candidates, totals,
    raw_totals)``, the last two for :func:`with_interval`."""
    within, totals, raw_totals = bootstrap(
        feasible, raw, constraints.tolerance, constraints.resamples, constraints.seed
    )
    shares = within.mean(axis=0)
    robustness = Robustness(
        resamples=constraints.resamples,
        units=len(raw),
        confidence=constraints.confidence,
        seed=constraints.seed,
        share={key(c): float(s) for c, s in zip(feasible, shares, strict=True)},
    )
    # A share equal to the threshold passes: compare with a hair of slack for float noise.
    candidates = [
        cell
        for cell, share in zip(feasible, shares, strict=True)
        if share >= constraints.confidence - 1e-9
    ]
    return robustness, candidates, totals, raw_totals


def with_interval(robustness: Robustness, totals: Any, raw_totals: Any, index: int) -> Robustness:
    """``robustness`` with the savings interval (2.5th-97.5th percentile) of the cell at
    ``index`` over the resamples, and its 95th-percentile excess over each resample's best."""
    import numpy

    with numpy.errstate(divide="ignore", invalid="ignore"):  # a corpus of empty messages
        savings = 1 - totals[:, index] / raw_totals
        excess = totals[:, index] / totals.min(axis=1) - 1
    return replace(
        robustness,
        savings_interval=(
            float(numpy.percentile(savings, 2.5)),
            float(numpy.percentile(savings, 97.5)),
        ),
        excess_p95=float(numpy.percentile(excess, 95)),
    )


def settle_factor(gaps: Any, point: float, tolerance: float, confidence: float) -> float | None:
    """How many times the corpus's traffic would let a cell whose gap to the best is ``point``
    on the corpus (within ``tolerance``) stay within it in ``confidence`` of the resamples.

    The spread of a resampled gap shrinks as one over the square root of the traffic (the
    units are independent draws), so with ``gaps``' standard deviation ``s`` the share holds
    once ``point + z * s / sqrt(k) <= tolerance``: ``k = (z * s / (tolerance - point))^2``,
    ``z`` the normal quantile of ``confidence``. None when nothing would settle it (no slack).
    """
    import statistics

    import numpy

    finite = gaps[numpy.isfinite(gaps)]
    slack = tolerance - point
    if slack <= 0 or len(finite) < 2:
        return None
    spread = float(numpy.std(finite))
    z = statistics.NormalDist().inv_cdf(confidence)
    return max(1.0, (z * spread / slack) ** 2)


def settle_factor_of(
    cell: Cell, feasible: list[Cell], totals: Any, best: Cell, constraints: Constraints
) -> float | None:
    """:func:`settle_factor` for ``cell``, from its gaps in the resamples (``totals``)."""
    import numpy

    index = next(i for i, c in enumerate(feasible) if c is cell)
    with numpy.errstate(divide="ignore", invalid="ignore"):
        gaps = totals[:, index] / totals.min(axis=1) - 1
    point = cell["compressed_bytes"] / best["compressed_bytes"] - 1
    return settle_factor(gaps, point, constraints.tolerance, constraints.confidence)
