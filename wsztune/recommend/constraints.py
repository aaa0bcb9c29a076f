"""What the user asks of a decision: the budget, the time limit, the tolerance, the fleet.

:class:`Constraints` is the question every part of :mod:`wsztune.recommend` answers; its
defaults are the rule's (a 1% tolerance, 95% of 1,000 resamples).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from wsztune.errors import WsztuneError
from wsztune.grid import REFERENCE, Cell, Key
from wsztune.recommend.cost import Prices

DEFAULT_TOLERANCE = 0.01
DEFAULT_CLIFF = 0.10
# The baseline gate fails when the shipped setting's savings fell by more than this (2 points):
# more than resampling noise on a corpus of tens of units, less than a real change of traffic
# (a repeated 6 KB field took 12:5 from 74% to 37% on the api corpus).
DEFAULT_MAX_SAVINGS_DROP = 0.02

# The bootstrap: how many resamples, and in how many of them a cell must stay within tolerance of
# the best in-budget cell to count as robust. 1,000 resamples put the 95% threshold within about
# +-1.4 points (two binomial standard errors at p = 0.95), and take well under a second with numpy.
RESAMPLES = 1000
CONFIDENCE = 0.95
OBJECTIVES = ("memory", "cost")


# What a connection's memory means to a decision (docs/memory.md): "resident", what the OS
# charges in the steady state for the corpus's traffic (a fleet of long-lived connections), or
# "allocation", what the libraries ask for (the bound a fleet drifts to under churn).
def with_memory_figure(run: Any, figure: str) -> Any:
    """``run`` whose cells' ``connection_memory`` is the figure the budget is checked against:
    the resident one (the allocation kept as ``connection_memory_allocation``, the bound under
    churn), or the allocation itself. Every part of the decision then reads one field."""
    if figure == "allocation":
        return run
    cells = [
        {
            **cell,
            "connection_memory": cell["connection_memory_resident"],
            "connection_memory_allocation": cell["connection_memory"],
        }
        for cell in run.cells
    ]
    return replace(run, cells=cells)


def memory_figure(cells: Iterable[Cell]) -> str:
    """Which memory ``cells`` were budgeted with: ``resident`` when :func:`with_memory_figure`
    kept their allocation aside, else ``allocation``."""
    resident = any("connection_memory_allocation" in cell for cell in cells)
    return "resident" if resident else "allocation"


# A table's caption for each figure: what it is, and the flag for the other one.
MEMORY_FIGURE_WORDS = {
    "resident": "resident (what the OS charges in the steady state for this corpus's traffic; "
    "--memory allocation for the bound under churn)",
    "allocation": "allocation (what the libraries ask for: the bound under churn; --memory "
    "allocation)",
}


@dataclass(frozen=True)
class Constraints:
    """What the user asked for."""

    max_memory: int | None = None
    max_time_ratio: float | None = None
    tolerance: float = DEFAULT_TOLERANCE
    cliff: float = DEFAULT_CLIFF
    reference: Key = REFERENCE
    connections: int | None = None
    objective: str = "memory"
    messages_per_second: float | None = None
    prices: Prices = Prices()
    resamples: int = RESAMPLES
    confidence: float = CONFIDENCE
    seed: int = 0
    # The baseline gate: the most the shipped setting's savings may fall, in points (0.02: 2).
    max_savings_drop: float = DEFAULT_MAX_SAVINGS_DROP
    # Go runs: the fan-out a broadcast goes to, and the writes in flight at the peak when
    # stated (--concurrent-writes); together they give the fleet's peak memory.
    fanout: int | None = None
    concurrent_writes: int | None = None


def time_ratio(cell: Cell, reference: Cell) -> float | None:
    """Compress time against the reference's; None when the run did not measure time."""
    if cell["compress_seconds"] is None or reference["compress_seconds"] is None:
        return None
    return cell["compress_seconds"] / reference["compress_seconds"]


def require_objective(constraints: Constraints) -> None:
    """Refuse an objective the rule does not know, in one line."""
    if constraints.objective not in OBJECTIVES:
        raise WsztuneError(
            f"--objective takes {' or '.join(OBJECTIVES)}, not {constraints.objective!r}"
        )


def require_times(cells: list[Cell]) -> None:
    """Refuse ``--max-time-ratio`` on a run that did not measure compress times."""
    if any(cell["compress_seconds"] is None for cell in cells):
        raise WsztuneError(
            "--max-time-ratio needs compress times, and this run did not measure time "
            "(wsztune run --no-timing); drop --max-time-ratio, or sweep again without --no-timing"
        )
