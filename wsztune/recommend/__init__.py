"""Pick a setting from a saved run: constraints, robustness, fleet cost, the CI gate, the words.

One job per module, none of which prints (report renders what they return):

- :mod:`~wsztune.recommend.constraints`: the question (budget, time limit, tolerance, fleet);
- :mod:`~wsztune.recommend.decide`: the rule on a windowBits x memLevel slice;
- :mod:`~wsztune.recommend.axes`: the same rule on a Go run's own axes;
- :mod:`~wsztune.recommend.robust`: the bootstrap over the corpus's resampling units;
- :mod:`~wsztune.recommend.cost`: the fleet's monthly cost;
- :mod:`~wsztune.recommend.threshold`: which message-size threshold to use;
- :mod:`~wsztune.recommend.gate`: ``--check``, ``--baseline`` and partial runs;
- :mod:`~wsztune.recommend.explain` and :mod:`~wsztune.recommend.words`: the prose;
- :mod:`~wsztune.recommend.export`: the ``--json`` document;
- :mod:`~wsztune.recommend.pipeline`: decision, baseline and gate in one call, for every command.
"""

from __future__ import annotations

from wsztune.recommend.constraints import Constraints, with_memory_figure
from wsztune.recommend.cost import Prices
from wsztune.recommend.export import axes_decision_json, decision_json
from wsztune.recommend.gate import require_complete
from wsztune.recommend.pipeline import (
    Outcome,
    baseline_on_axes,
    decide_and_gate,
    decide_and_gate_on_axes,
    recommend,
    recommend_on_axes,
    require_usable_baseline,
)

__all__ = [
    "Constraints",
    "Outcome",
    "Prices",
    "axes_decision_json",
    "baseline_on_axes",
    "decide_and_gate",
    "decide_and_gate_on_axes",
    "decision_json",
    "recommend",
    "recommend_on_axes",
    "require_complete",
    "require_usable_baseline",
    "with_memory_figure",
]
