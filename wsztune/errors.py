"""The errors wsztune shows to its users, each carrying the exit code it ends the command with.

Exit codes: 0 success, 1 a check that ran and failed (``recommend --check``, ``live``),
2 a user error (bad input file, bad option, missing run), 3 a check that ran but whose
measurement was too uncertain to judge (``live``: inconclusive, never a pass), 4 a decision
refused because the run it would rest on is partial (``recommend`` without ``--allow-partial``),
5 a helper program wsztune runs (node, Go, the JVM) failed (it crashed, or said why it could not
go on): one line naming it, its exit code and what it said;
130 and 143 interrupted (Ctrl-C, SIGTERM), 141 the reader of the output went away (``| head``).
Anything else is a bug.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_INCONCLUSIVE = 3
EXIT_PARTIAL = 4
EXIT_HELPER_FAILED = 5


class WsztuneError(Exception):
    """An error the user can act on: printed as one line on stderr, never as a traceback."""

    exit_code = EXIT_USAGE


class SettingError(WsztuneError, ValueError):
    """A compression setting outside what permessage-deflate and zlib accept."""


class CorpusError(WsztuneError):
    """A corpus that cannot be read, with the place (file, line or item) where it went wrong."""

    def __init__(
        self, path: object, reason: str, *, line: int | None = None, where: str = ""
    ) -> None:
        self.path = str(path)
        self.reason = reason
        self.line = line
        self.where = where
        place = self.path
        if line is not None:
            place += f":{line}"
        if where:
            place += f": {where}"
        super().__init__(f"{place}: {reason}")


class ResultsError(WsztuneError):
    """A results file that is missing, unreadable, foreign or of a newer schema."""


class ToolUnavailable(WsztuneError):
    """What a codec or a live check needs is not installed here: a Python module (zlib-ng), a
    runtime (node, Go, a JDK) or a helper program's build tool (a C compiler for lws)."""


class CheckFailed(WsztuneError):
    """A check that ran to completion and said no (exit code 1)."""

    exit_code = EXIT_CHECK_FAILED


class CheckInconclusive(WsztuneError):
    """A check that ran to completion but could not tell: its measurement was too uncertain for
    its tolerance (exit code 3). Never a pass; the message says what to change."""

    exit_code = EXIT_INCONCLUSIVE


class RoundTripError(Exception):
    """The decoder did not give back what the encoder was given: a bug, never a number.

    Deliberately not a WsztuneError: it must surface loudly, with a traceback, to be reported.
    """


class NodeUnavailable(ToolUnavailable):
    """``node`` or ``npm`` is missing, or installing an npm package failed (exit code 2)."""


class PartialRun(WsztuneError):
    """A decision asked of a run that misses cells (interrupted, ``--keep-partial``): exit 4.

    Neither a pass nor a failed check: the best cell may be among those never measured.
    """

    exit_code = EXIT_PARTIAL
