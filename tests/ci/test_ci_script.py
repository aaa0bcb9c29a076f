"""ci/wsztune-ci.sh, the steps of the GitHub Action and the GitLab template, run locally.

No GitHub needed: the script runs here against a bundled corpus, with GITHUB_STEP_SUMMARY and
GITHUB_OUTPUT pointing at files, as a runner would set them. The action and the template are
checked to call that script with inputs it reads.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "ci" / "wsztune-ci.sh"
CORPUS = ROOT / "corpora" / "chat.har"  # 400 messages: a sweep of a few seconds


def run_script(cwd: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("WSZTUNE_", "GITHUB_"))
    }
    env.update(
        WSZTUNE=f"{sys.executable} -m wsztune",
        GITHUB_STEP_SUMMARY=str(cwd / "summary.md"),
        GITHUB_OUTPUT=str(cwd / "output.txt"),
        **variables,
    )
    return subprocess.run(
        ["bash", str(SCRIPT)], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def outputs(cwd: Path) -> dict[str, str]:
    lines = (cwd / "output.txt").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


@pytest.fixture(scope="module")
def passed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The script on the bundled HAR, gating the setting it recommends: it passes."""
    cwd = tmp_path_factory.mktemp("ci-pass")
    done = run_script(
        cwd, WSZTUNE_CORPUS=str(CORPUS), WSZTUNE_MAX_MEMORY="64KiB", WSZTUNE_CHECK="13:3"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return cwd


def test_a_passing_gate_writes_report_summary_and_outputs(passed: Path) -> None:
    out = passed / "wsztune-results"
    assert {p.name for p in out.iterdir()} >= {
        "run.json",
        "report.html",
        "summary.md",
        "recommend.json",
    }
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "check passed" in report and "to 13:3: saves" in report
    summary = (passed / "summary.md").read_text(encoding="utf-8")
    assert "### wsztune recommend" in summary and "✅" in summary  # recommend's own verdict
    assert "| wb \\ ml |" in summary  # the grids
    assert "report.html" in summary
    assert outputs(passed) == {
        "recommended": "13:3",
        "status": "0",
        "report": "wsztune-results/report.html",
        "results": "wsztune-results/run.json",
    }
    # The sweep was sizes and memory only: deterministic on a shared runner.
    assert '"measured": false' in (out / "run.json").read_text()


def test_a_better_setting_is_advice_and_a_baseline_is_passed_on(
    passed: Path, tmp_path: Path
) -> None:
    run = passed / "wsztune-results" / "run.json"
    done = run_script(
        tmp_path,
        WSZTUNE_RESULTS=str(run),
        WSZTUNE_MAX_MEMORY="64KiB",
        WSZTUNE_CHECK="12:5",
        WSZTUNE_BASELINE=str(run),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "advice" in done.stdout
    decision = json.loads((tmp_path / "wsztune-results" / "recommend.json").read_text())
    assert decision["baseline"]["results"] == str(run)
    report = (tmp_path / "wsztune-results" / "report.html").read_text(encoding="utf-8")
    assert "as good as at the baseline" in report


def test_a_failing_gate_exits_1_and_still_writes_the_report(passed: Path, tmp_path: Path) -> None:
    # A results file made earlier: no sweep, the job takes seconds.
    done = run_script(
        tmp_path,
        WSZTUNE_RESULTS=str(passed / "wsztune-results" / "run.json"),
        WSZTUNE_MAX_MEMORY="64KiB",
        WSZTUNE_CHECK="12:5",
        WSZTUNE_STRICT="true",  # 12:5 fits: only --strict fails it for a better setting
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "check failed" in done.stderr
    report = (tmp_path / "wsztune-results" / "report.html").read_text(encoding="utf-8")
    assert "check failed" in report
    assert outputs(tmp_path)["status"] == "1"
    assert "❌" in (tmp_path / "summary.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "variables, message",
    [
        ({}, "set WSZTUNE_CORPUS"),
        ({"WSZTUNE_CORPUS": "missing.jsonl"}, "missing.jsonl"),
        ({"WSZTUNE_RESULTS": "RUN", "WSZTUNE_MAX_MEMORY": "64K"}, "ambiguous"),
    ],
    ids=["no-corpus", "missing-corpus", "bad-budget"],
)
def test_usage_errors_exit_2(
    passed: Path, tmp_path: Path, variables: dict[str, str], message: str
) -> None:
    if variables.get("WSZTUNE_RESULTS") == "RUN":
        variables = {**variables, "WSZTUNE_RESULTS": str(passed / "wsztune-results" / "run.json")}
    done = run_script(tmp_path, **variables)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_the_action_runs_the_script_with_inputs_it_reads() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    gate = next(step for step in steps if step.get("id") == "gate")
    assert "ci/wsztune-ci.sh" in gate["run"]
    script = SCRIPT.read_text(encoding="utf-8")
    for variable, value in gate["env"].items():
        assert variable in script, f"the script never reads {variable}"
        name = re.fullmatch(r"\$\{\{ inputs\.([\w-]+) \}\}", value).group(1)  # type: ignore[union-attr]
        assert name in action["inputs"], f"{variable} maps to an undeclared input {name}"
    upload = next(step for step in steps if "upload-artifact" in step.get("uses", ""))
    assert "always()" in upload["if"]  # the report goes up when the gate fails too
    assert upload["with"]["path"] == "${{ inputs.output-dir }}"
    install = next(step for step in steps if step.get("name") == "Install wsztune")
    assert "github.action_path" in install["run"]
    for name in ("recommended", "status", "report"):
        assert f"steps.gate.outputs.{name}" in action["outputs"][name]["value"]


def test_the_gitlab_template_runs_the_same_script() -> None:
    template = yaml.safe_load((ROOT / "ci" / "gitlab-ci.yml").read_text(encoding="utf-8"))
    job = template[".wsztune"]
    assert any("ci/wsztune-ci.sh" in line for line in job["script"])
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["paths"] == [job["variables"]["WSZTUNE_OUTPUT_DIR"] + "/"]


def test_the_ci_installer_imports_what_the_package_has() -> None:
    """.ci/install-tools calls wsztune to put Bun in the test cache; a module that moved would
    only print "bun not installed" there and make the Bun tests skip on a fresh machine."""
    import importlib

    installer = (ROOT / ".ci" / "install-tools").read_text()
    imports = re.findall(r"from (wsztune[\w.]*) import (\w+)", installer)
    assert imports, "the installer no longer calls wsztune: update this test"
    for module, name in imports:
        assert hasattr(importlib.import_module(module), name), f"{module}.{name} is gone"
