"""Where a run came from: versions, machine, command line. Plain data for the results file."""

from __future__ import annotations

import os
import platform
import shlex
import sys
import zlib

from wsztune import __version__
from wsztune.codecs.base import CodecInfo


def cpu_model() -> str:
    """The processor's model name (Linux ``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as stream:
            for line in stream:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def describe_environment(codec: CodecInfo) -> dict[str, object]:
    """Versions and machine facts that decide what a run's numbers mean."""
    return {
        "wsztune_version": __version__,
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "zlib_version": zlib.ZLIB_VERSION,
        "zlib_runtime_version": zlib.ZLIB_RUNTIME_VERSION,
        "codec": codec.name,
        "codec_version": codec.version,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "command_line": shlex.join(["wsztune", *sys.argv[1:]]),
    }
