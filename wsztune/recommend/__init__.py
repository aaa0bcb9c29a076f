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
- :mod:`~wsztune.recommend.export`: the ``--json`` document.
"""

from __future__ import annotations

from wsztune.recommend.axes import parse_axes_setting, recommend_on_axes
from wsztune.recommend.constraints import Constraints
from wsztune.recommend.cost import Prices
from wsztune.recommend.decide import recommend
from wsztune.recommend.export import axes_decision_json, decision_json
from wsztune.recommend.gate import AxesBaseline, check_on_axes, gate, require_complete

__all__ = [
    "AxesBaseline",
    "Constraints",
    "Prices",
    "axes_decision_json",
    "check_on_axes",
    "decision_json",
    "gate",
    "parse_axes_setting",
    "recommend",
    "recommend_on_axes",
    "require_complete",
]
