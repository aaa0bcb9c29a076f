"""The package as a user installs it: a wheel built from this checkout holds every file the code
runs besides Python (the node helpers, the Go and Java helper sources, the lws server source, the
ws live check's server, the demo corpus), and the code finds each one inside the installed
package."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Every helper path the package uses: (module, attribute holding the path).
HELPER_PATHS = [
    ("wsztune.codecs.node", "CODEC_SCRIPT"),
    ("wsztune.codecs.node", "MEMORY_SCRIPT"),
    ("wsztune.codecs.node", "SYNC_CALLS_SCRIPT"),
    ("wsztune.codecs.go", "HELPER_SOURCE"),
    ("wsztune.codecs.jzlib", "HELPER_SOURCE"),
    ("wsztune.live.golang", "LIVE_SOURCE"),
    ("wsztune.live.ws", "SCRIPT"),
    ("wsztune.live.lws", "SOURCE"),
]

# Run inside the installed wheel: where each helper path points, and whether it is there.
RESOLVE = """
import importlib, json, sys
import wsztune
from wsztune.corpus import demo_corpus_path
found = {"package": wsztune.__file__, "demo": str(demo_corpus_path())}
for module, attribute in json.loads(sys.argv[1]):
    found[f"{module}.{attribute}"] = str(getattr(importlib.import_module(module), attribute))
print(json.dumps(found))
"""


def _build_wheel(out: Path) -> Path:
    """A wheel of this checkout, built from a copy of it (a ``build/`` left in the checkout by
    an older build would otherwise slip stale files into the wheel)."""
    source = out / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(
        REPO / "wsztune", source / "wsztune", ignore=shutil.ignore_patterns("__pycache__")
    )
    command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out)]
    try:
        # setuptools 70.1+ builds wheels itself: no isolated environment to set up (seconds).
        from setuptools.command import bdist_wheel  # noqa: F401

        command.append("--no-build-isolation")
    except ImportError:
        pass
    completed = subprocess.run(
        [*command, str(source)], capture_output=True, text=True, timeout=300
    )
    if completed.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {completed.stderr.strip()[-300:]}")
    (wheel,) = out.glob("wsztune-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    """The wheel unpacked as pip installs it (a folder on the path), and its file names."""
    out = tmp_path_factory.mktemp("wheel")
    wheel = _build_wheel(out)
    target = out / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
        return target, set(archive.namelist())


def test_every_helper_path_resolves_inside_the_installed_wheel(
    installed: tuple[Path, set[str]],
) -> None:
    target, _ = installed
    completed = subprocess.run(
        [sys.executable, "-c", RESOLVE, json.dumps(HELPER_PATHS)],
        capture_output=True,
        text=True,
        cwd=target,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(target), "HOME": str(target)},
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    found = json.loads(completed.stdout)
    package = Path(found.pop("package")).parent
    assert package == target / "wsztune"  # the wheel's copy, not this checkout's
    for name, path in found.items():
        assert Path(path).is_relative_to(package), name
        assert Path(path).is_file(), f"{name}: {path} is not in the wheel"


def test_the_wheel_ships_every_file_of_the_package(
    installed: tuple[Path, set[str]],
) -> None:
    """A helper added beside its module but left out of pyproject's package data fails here."""
    _, names = installed
    shipped = {
        path.relative_to(REPO).as_posix()
        for path in (REPO / "wsztune").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert sorted(shipped - names) == []
    assert not any(name.startswith("wsztune/nodejs/") for name in names)
