"""The one pipeline every command that decides on a run goes through: the decision, then the
baseline's decision under the same constraints, then the gate on the shipped setting.

``wsztune recommend`` and ``wsztune report`` both call :func:`decide_and_gate` (a windowBits x
memLevel slice) and ``recommend`` :func:`decide_and_gate_on_axes` (a Go run), so that a verdict
cannot differ between the terminal, ``--json`` and the HTML page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wsztune.grid import Slice
from wsztune.recommend.axes import AxesDecision, decide_on_axes, parse_axes_setting
from wsztune.recommend.constraints import Constraints
from wsztune.recommend.decide import Decision, decide
from wsztune.recommend.explain import explain, explain_on_axes
from wsztune.recommend.gate import (
    AxesBaseline,
    Verdict,
    check_on_axes,
    gate,
    require_complete,
    require_same_question,
)
from wsztune.results import Run


def recommend(source: Run | Slice, constraints: Constraints | None = None) -> Decision:
    """Choose a setting from a run (its default slice) or from one slice of it: the rule's
    decision (:func:`~wsztune.recommend.decide.decide`), then its words
    (:func:`~wsztune.recommend.explain.explain`)."""
    decision = decide(source, constraints or Constraints())
    explain(decision)
    return decision


def recommend_on_axes(run: Run, constraints: Constraints | None = None) -> AxesDecision:
    """The same for a Go run on its own axes: the rule's decision
    (:func:`~wsztune.recommend.axes.decide_on_axes`), then its words
    (:func:`~wsztune.recommend.explain.explain_on_axes`)."""
    decision = decide_on_axes(run, constraints or Constraints())
    explain_on_axes(decision, run)
    return decision


@dataclass
class Outcome:
    """What the pipeline found: the decision, the gate's verdict on ``--check`` (None without
    one), and warnings about the inputs for stderr (a baseline of another codec)."""

    decision: Decision
    verdict: Verdict | None = None
    warnings: list[str] = field(default_factory=list)


def decide_and_gate(
    slice_: Slice,
    constraints: Constraints,
    checked: tuple[int, int] | None = None,
    *,
    strict: bool = False,
    baseline: Slice | None = None,
    baseline_name: str = "the baseline",
) -> Outcome:
    """:func:`recommend` on ``slice_``; with a ``checked`` setting
    (windowBits, memLevel), :func:`~wsztune.recommend.gate.gate` on it, against the decision
    the same constraints make on the ``baseline`` slice when one is given."""
    decision = recommend(slice_, constraints)
    if checked is None:
        return Outcome(decision)
    warnings = []
    baseline_decision = None
    if baseline is not None:
        if baseline.codec != slice_.codec:
            warnings.append(
                f"--baseline was measured with codec {baseline.codec}, this run with "
                f"{slice_.codec}: the comparison mixes codecs"
            )
        baseline_decision = recommend(baseline, constraints)
    verdict = gate(
        decision,
        *checked,
        constraints.tolerance,
        strict=strict,
        baseline=baseline_decision,
        baseline_name=baseline_name,
    )
    return Outcome(decision, verdict, warnings)


def require_usable_baseline(
    slice_: Slice, baseline: Run, baseline_slice: Slice, name: str, *, allow_partial: bool = False
) -> None:
    """Refuse a windowBits x memLevel run's ``--baseline`` (``name``) made for another stack or
    client mix (exit 2), then a partial one (:class:`~wsztune.errors.PartialRun`, exit 4)
    unless ``allow_partial``: in that order, as on a Go run (:func:`baseline_on_axes`), since
    completing a baseline of the wrong stack would not help."""
    _require_baseline_of_same_run(
        name,
        (slice_.server, slice_.client),
        (baseline_slice.server, baseline_slice.client),
        baseline,
        baseline_slice,
        allow_partial,
    )


def _require_baseline_of_same_run(
    name: str,
    question: tuple[object, object],
    baseline_question: tuple[object, object],
    baseline: Run,
    baseline_slice: Slice | None,
    allow_partial: bool,
) -> None:
    """The one rule of both kinds of run: another stack or client mix first (exit 2), then a
    partial baseline (exit 4, :func:`~wsztune.recommend.gate.require_complete`: its flag, or
    fewer cells than it planned) unless ``allow_partial``."""
    require_same_question(name, question, baseline_question)
    if not allow_partial:
        require_complete(baseline, baseline_slice, "--baseline ")


def baseline_on_axes(
    run: Run, baseline: Run, constraints: Constraints, name: str, *, allow_partial: bool = False
) -> AxesBaseline:
    """A saved Go run to gate ``run``'s ``--check`` against: its decision under the same
    constraints, and both runs' resampling units (raw bytes per unit, None without). A
    baseline of another stack or client mix is refused, as on a grid; then a partial one
    (:class:`~wsztune.errors.PartialRun`) unless ``allow_partial``: the wrong stack is the
    first thing to fix, and completing a baseline of it would not help."""
    _require_baseline_of_same_run(
        name,
        (run.meta.get("server"), run.meta.get("client")),
        (baseline.meta.get("server"), baseline.meta.get("client")),
        baseline,
        None,
        allow_partial,
    )

    def raw(of: Run) -> list[int] | None:
        units = of.meta.get("units")
        return list(units["raw_bytes"]) if isinstance(units, dict) else None

    decision = recommend_on_axes(baseline, constraints)
    return AxesBaseline(decision, raw(run), raw(baseline), name)


def decide_and_gate_on_axes(
    run: Run,
    constraints: Constraints,
    check_text: str | None = None,
    *,
    strict: bool = False,
    baseline: AxesBaseline | None = None,
) -> tuple[AxesDecision, Verdict | None]:
    """The same pipeline on a Go run's own axes: the ``--check`` setting read in Go's terms
    (``level=1,takeover=off``, refused before any work when malformed), the decision, the gate
    (against a saved Go run's decision under the same constraints, with ``baseline``)."""
    wanted = None if check_text is None else parse_axes_setting(check_text)
    decision = recommend_on_axes(run, constraints)
    if wanted is None:
        return decision, None
    return decision, check_on_axes(
        decision, wanted, constraints.tolerance, strict=strict, baseline=baseline
    )
