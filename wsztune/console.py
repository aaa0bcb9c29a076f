"""Terminal output helpers: rich consoles and progress bars, imported only when used."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


# What a terminal (or a CI log) acts on instead of showing: C0 and C1 controls (ESC sequences,
# BEL, newlines that forge a log line) and the bidi marks and overrides that reorder what follows.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069]")


def terminal_text(text: object) -> str:
    """``text`` as it is safe to print: each control or bidi character shown as its escape
    (``\\x1b``, ``\\n``, ``\\u202e``). Every name that comes from a corpus or a results file and
    reaches the terminal goes through it (a corpus named with ESC sequences or a newline cannot
    clear the screen or forge a line such as ``wsztune: check passed``)."""
    return _UNPRINTABLE.sub(lambda match: ascii(match.group())[1:-1], str(text))


def stdout_console() -> Console:
    """A rich console on stdout (tables and reports)."""
    return _console_class()(highlight=False)


def stderr_console() -> Console:
    """A rich console on stderr (progress, warnings), so stdout stays clean for pipes."""
    return _console_class()(stderr=True, highlight=False)


@cache
def _console_class() -> type[Console]:
    """rich's Console, but a reader that stops reading (``| head -1``) raises BrokenPipeError
    as for click.echo, where rich would exit 1 on its own (rich/console.py, on_broken_pipe):
    the command line's entry point decides what a closed output means, once for every writer."""
    import errno
    import os

    from rich.console import Console

    class PipedConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True  # nothing more reaches the reader
            raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))

    return PipedConsole


def progress_enabled(quiet: bool) -> bool:
    """Progress bars only for a person watching: not with --quiet, not when stderr is a pipe."""
    return not quiet and sys.stderr.isatty()


@contextmanager
def progress_bar(total: int, description: str, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A rich progress bar (done/total, elapsed, ETA); yields ``advance_to(done)``."""
    if not enabled:
        yield lambda done: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=stderr_console(), transient=False) as progress:
        task = progress.add_task(description, total=total)
        yield lambda done: progress.update(task, completed=done)
