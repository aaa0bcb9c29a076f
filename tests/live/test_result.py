"""The live result type every live check shares: the verdict rule, the exit codes, --json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from wsztune.cli import cli
from wsztune.errors import EXIT_INCONCLUSIVE
from wsztune.live import result as live_result
from wsztune.live.result import FAIL, INCONCLUSIVE, PASS, LiveResult, judge

KIB = 1024.0


def verdict(**changes: Any) -> str:
    fields: dict[str, Any] = {
        "bytes_equal": True,
        "model_memory": 100 * KIB,
        "difference_bytes": 5 * KIB,
        "uncertainty": 2 * KIB,
        "baseline": 12 * KIB,
        "tolerance": 0.3,
    }
    fields.update(changes)
    return judge(**fields).status


def test_a_precise_measurement_within_the_tolerance_passes() -> None:
    assert verdict() == PASS


def test_bytes_that_differ_fail_whatever_the_memory() -> None:
    assert verdict(bytes_equal=False) == FAIL
    assert verdict(bytes_equal=False, uncertainty=500 * KIB) == FAIL


def test_a_standard_error_above_half_the_tolerance_is_inconclusive() -> None:
    # 30% of 100 KiB allows 30 KiB: a standard error of 15 KiB still judges, 16 does not.
    assert verdict(uncertainty=15 * KIB) == PASS
    assert verdict(uncertainty=16 * KIB) == INCONCLUSIVE
    # The run: 134.0 KiB live, standard error 147.2 KiB, "PASS: +1.1%".
    assert verdict(
        model_memory=132.5 * KIB, difference_bytes=1.5 * KIB, uncertainty=147.2 * KIB
    ) == (INCONCLUSIVE)


def test_a_negative_baseline_is_inconclusive() -> None:
    # The other run: "RSS/conn, compression off: -3.2 KiB".
    assert verdict(baseline=-3.2 * KIB) == INCONCLUSIVE


def test_far_outside_even_with_two_standard_errors_is_a_failure() -> None:
    assert verdict(difference_bytes=90 * KIB, uncertainty=20 * KIB) == FAIL
    assert verdict(difference_bytes=60 * KIB, uncertainty=20 * KIB) == INCONCLUSIVE
    assert verdict(difference_bytes=40 * KIB, uncertainty=5 * KIB) == FAIL


def test_the_floor_is_allowed_when_the_model_expects_nearly_nothing() -> None:
    result = judge(
        bytes_equal=True,
        model_memory=0.0,
        difference_bytes=1000.0,
        uncertainty=500.0,
        baseline=0.0,
        tolerance=0.3,
        floor=4096,
    )
    assert result.status == PASS and result.allowed == 4096


@given(
    model=st.floats(0, 1e7),
    difference=st.floats(-1e7, 1e7),
    uncertainty=st.floats(0, 1e7),
    baseline=st.floats(-1e5, 1e5),
    tolerance=st.floats(0.001, 5),
    floor=st.sampled_from([0.0, 4096.0]),
)
def test_never_a_pass_that_the_measurement_cannot_support(
    model: float,
    difference: float,
    uncertainty: float,
    baseline: float,
    tolerance: float,
    floor: float,
) -> None:
    result = judge(
        bytes_equal=True,
        model_memory=model,
        difference_bytes=difference,
        uncertainty=uncertainty,
        baseline=baseline,
        tolerance=tolerance,
        floor=floor,
    )
    if result.status == PASS:
        assert uncertainty <= result.allowed / 2
        assert abs(difference) <= result.allowed
        assert baseline >= 0
    if result.status == INCONCLUSIVE:
        assert result.advice  # it always says what to change


def sample_result(status: str, **details: Any) -> LiveResult:
    """A result as a live check builds it, with ``status`` as its verdict."""
    return LiveResult.build(
        live_result.Verdict(status, 30 * KIB, ("the reason",), ("more --connections",)),
        server="websockets",
        codec="zlib",
        window_bits=12,
        client_window_bits=12,
        mem_level=5,
        connections=10,
        measured_connections=9,
        corpus={"name": "sample"},
        replay="every live connection replays the whole corpus (one connection)",
        model_bytes=100,
        live_bytes=100,
        model_server_bytes=90,
        live_server_bytes=90,
        model_client_bytes=10,
        live_client_bytes=10,
        raw_bytes=400,
        bytes_equal=True,
        memory_figure="tracemalloc",
        model_connection_memory=100 * KIB,
        model_compressor_memory=60 * KIB,
        model_decompressor_memory=40 * KIB,
        live_connection_memory=101 * KIB,
        live_baseline_connection_memory=13 * KIB,
        memory_uncertainty=20 * KIB,
        memory_difference=0.01,
        memory_difference_bytes=1 * KIB,
        tolerance=0.3,
        memory_within_tolerance=True,
        versions={"websockets": "17.4", "zlib": "1.2.13", "python": "3.11"},
        details=details,
    )


def test_to_json_has_the_shared_fields_and_the_details_flat() -> None:
    data = json.loads(json.dumps(sample_result(PASS, websockets_version="17.4").to_json()))
    assert data["verdict"] == PASS and data["passed"] is True
    assert data["websockets_version"] == "17.4" and "details" not in data
    assert data["memory_uncertainty"] == 20 * KIB and data["memory_allowed"] == 30 * KIB
    with pytest.raises(ValueError, match="repeat shared fields"):
        sample_result(PASS, verdict="mine").to_json()


def invoke_with(monkeypatch: pytest.MonkeyPatch, result: LiveResult, *extra: str) -> Any:
    from wsztune.live import python as live

    monkeypatch.setattr(live, "run_live", lambda *args, **kwargs: result)
    corpus = Path(__file__).resolve().parents[2] / "wsztune" / "data" / "demo.records.jsonl"
    return CliRunner().invoke(cli, ["live", str(corpus), "--setting", "12:5", *extra])


def test_inconclusive_has_its_own_exit_code_and_says_what_to_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = sample_result(INCONCLUSIVE, **SAMPLE_DETAILS)
    outcome = invoke_with(monkeypatch, result)
    assert outcome.exit_code == EXIT_INCONCLUSIVE == 3, outcome.output
    assert "INCONCLUSIVE" in outcome.stdout and "PASS" not in outcome.stdout
    errors = outcome.stderr.strip().splitlines()
    assert len(errors) == 1
    assert "inconclusive at 12:5" in errors[0] and "more --connections" in errors[0]
    # --json: the same verdict, the same exit code, the object on stdout alone.
    outcome = invoke_with(monkeypatch, result, "--json")
    assert outcome.exit_code == 3
    data = json.loads(outcome.stdout)
    assert data["verdict"] == "inconclusive" and data["passed"] is False
    assert data["advice"] == ["more --connections"]


SAMPLE_DETAILS = {
    "live_connection_memory_with_baseline": 114 * KIB,
    "live_rss_per_connection": 120 * KIB,
    "live_rss_compression_per_connection": 100 * KIB,
    "live_rss_baseline_per_connection": 20 * KIB,
}


def test_verbose_says_where_the_time_went(monkeypatch: pytest.MonkeyPatch) -> None:
    result = sample_result(PASS, **SAMPLE_DETAILS)
    result.timings = {"model": 0.5, "servers and clients": 1.25}
    outcome = invoke_with(monkeypatch, result, "--verbose")
    assert outcome.exit_code == 0, outcome.output
    assert "time: model 0.50 s, servers and clients 1.25 s" in outcome.stderr


def test_count_mismatch_names_the_first_connection_whose_counts_disagree() -> None:
    """What the server sent the client must have received, and the other way round."""
    agree = live_result.count_mismatch(2, [10, 20], [3, 4], [3, 4], [10, 20])
    assert agree is None
    # Connection 0 agrees; connection 1's client received 19 B where the server sent 20 B.
    assert live_result.count_mismatch(3, [10, 20, 30], [3, 4, 5], [3, 4, 5], [10, 19, 29]) == (
        "connection 1: the server counted 20 B sent and 4 B received, the client 19 B received "
        "and 4 B sent"
    )
    # Only the first ``connections`` are compared.
    assert live_result.count_mismatch(1, [10, 20], [3, 4], [3, 9], [10, 20]) is None


def test_a_helper_process_reply_is_its_json_or_one_line_naming_the_process(
    tmp_path: Path,
) -> None:
    stderr = tmp_path / "client.stderr"
    stderr.write_text("")
    reply = live_result.process_reply
    assert reply(b'{"port": 8080}\n', "the client process", stderr) == {"port": 8080}
    ended = r"^the client process ended early \(exit code 3\)$"
    with pytest.raises(live_result.LiveError, match=ended):
        reply(b"", "the client process", stderr, 3)
    stderr.write_text("Traceback ...\nOSError: too many open files\n")
    with pytest.raises(live_result.LiveError, match=r"ended early: OSError: too many open files$"):
        reply(b"", "the client process", stderr, 1)
    with pytest.raises(live_result.LiveError, match=r"^a fleet process said something unexpected"):
        reply(b"Segmentation fault\n", "a fleet process", stderr)
    with pytest.raises(live_result.LiveError, match=r"^a fleet process: connection 4: refused$"):
        reply(b'{"error": "connection 4: refused"}\n', "a fleet process", stderr)
