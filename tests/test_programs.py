"""programs.py: an external program from its environment variable, else PATH, else one line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from wsztune.errors import EXIT_USAGE, BackendUnavailable
from wsztune.programs import find_program

ENV = "WSZTUNE_TEST_PROGRAM"


def test_the_variable_wins_when_it_names_an_executable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, sys.executable)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert find_program("python", ENV, BackendUnavailable, "install it") == sys.executable


def test_a_variable_naming_no_executable_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-program"
    monkeypatch.setenv(ENV, str(missing))
    with pytest.raises(BackendUnavailable) as caught:
        find_program("tool", ENV, BackendUnavailable, "install it")
    assert str(caught.value) == f"{ENV}={missing} is not an executable tool"
    assert caught.value.exit_code == EXIT_USAGE


def test_path_is_searched_and_a_missing_program_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    found = find_program(Path(sys.executable).name, ENV, BackendUnavailable, "install it")
    assert Path(found).name == Path(sys.executable).name
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(BackendUnavailable) as caught:
        find_program("tool", ENV, BackendUnavailable, "install Tool 2 or newer")
    assert str(caught.value) == (
        "tool is not installed or not on PATH: install Tool 2 or newer "
        f"or set {ENV} to its path"
    )
