"""External programs wsztune runs (``go``, ``node``): where they are, or a one-line user error."""

from __future__ import annotations

import os
import shutil

from wsztune.errors import WsztuneError


def find_program(name: str, env: str, error: type[WsztuneError], install: str) -> str:
    """Path of the ``name`` executable: ``$env`` when set (it must be executable), else the one
    on PATH; otherwise ``error`` with one line that says how to ``install`` it or to set ``env``."""
    override = os.environ.get(env)
    if override:
        if shutil.which(override) is None:
            raise error(f"{env}={override} is not an executable {name}")
        return override
    found = shutil.which(name)
    if found is None:
        raise error(f"{name} is not installed or not on PATH: {install} or set {env} to its path")
    return found
