"""Processes the tests start to be stopped: a launcher whose child hangs, and whether one ended."""

from __future__ import annotations

import time
from pathlib import Path


def launcher_script(pid_file: Path) -> str:
    """Python source of a launcher (Volta's node shim in the wild) whose child, the real
    program, hangs; the child writes its pid to ``pid_file``."""
    child = f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
    child += "time.sleep(600)\n"
    return f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {child!r}])\n"


def process_ended(pid: int, seconds: float = 5.0) -> bool:
    """Whether process ``pid`` has ended (a zombie left for init to reap counts), waiting up
    to ``seconds`` for a kill to land."""
    import psutil

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False
