"""Running an asyncio coroutine that Ctrl-C or SIGTERM stops cleanly.

The command's signal handler (``wsztune.cli.common.first_interrupt_only``) raises the stop in
whatever bytecode runs when the signal lands. Under asyncio that can be the loop's own machinery:
between ``_accept_connection2(...)`` and ``create_task()`` it left a coroutine never awaited, and
Python printed a RuntimeWarning after the command's one line (CI, ``live`` stopped by SIGTERM);
during ``asyncio.run``'s shutdown, ``shutdown_asyncgens()`` never awaited. Under :func:`run`,
the handler asks :func:`request_stop` instead, which has the loop raise the stop from a callback
of its own, between two callbacks, where asyncio lets KeyboardInterrupt through on purpose:
``asyncio.run`` then cancels every task and runs their cleanup (servers closed, clients reaped)
before the stop comes out. (Cancelling the main coroutine alone, as ``asyncio.Runner`` does for
SIGINT, left a live server's handlers waiting for a step the main coroutine would never take, and
the stop took over 15 s.) A stop that comes once the main coroutine is done, while
``asyncio.run`` shuts down, is only recorded, and raised by :func:`run` after it.

Synchronous work inside one callback delays the stop until it returns (no coroutine here holds
the loop for long); after the first stop the handler ignores further signals. Child processes are
started with :func:`spawn`, whose creation a stop waits for.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class _Running:
    """One :func:`run` in progress: its main task once started, and the stop it was asked for."""

    task: asyncio.Task[Any] | None = None
    stop: type[BaseException] | None = None


_running: list[_Running] = []


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coroutine)``, stopped by :func:`request_stop`: the stop's exception comes
    out of here once every task has finished and the loop has closed."""
    running = _Running()

    async def main() -> T:
        running.task = asyncio.current_task()
        if running.stop is not None:  # asked before the loop ran: the coroutine never starts
            coroutine.close()
            raise asyncio.CancelledError
        return await coroutine

    _running.append(running)
    try:
        result = asyncio.run(main())
    except BaseException:
        if running.stop is None:
            raise
        # The stop itself, or whatever the cancelled tasks' cleanup raised: the stop says why.
    finally:
        _running.remove(running)
    if running.stop is not None:
        raise running.stop
    return result


def request_stop(stop: type[BaseException]) -> bool:
    """From a signal handler: have the innermost :func:`run` stop with ``stop``. False when no
    :func:`run` is in progress (the handler raises the stop itself)."""
    if not _running:
        return False
    running = _running[-1]
    running.stop = stop
    task = running.task
    if task is not None and not task.done():
        loop = task.get_loop()

        def raise_stop() -> None:
            if task.done():  # asyncio.run is shutting down: run() raises it after
                return
            if _spawning:  # cancelled now, a child's creation would never end: see spawn()
                loop.call_later(SPAWN_POLL_SECONDS, raise_stop)
                return
            raise stop

        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: run() raises it
            loop.call_soon_threadsafe(raise_stop)
    return True


# How long a killed child's exit is waited for (kill): SIGKILL cannot be ignored
KILLED_EXIT_SECONDS = 3.0


async def kill(process: asyncio.subprocess.Process, timeout: float) -> None:
    """Kill ``process`` if it still runs, and wait for its exit: at most ``timeout``, and at
    most :data:`KILLED_EXIT_SECONDS`, SIGKILL being final (two node processes waited for a
    step's 30 s each would keep a stopped ``live`` for a minute)."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(min(timeout, KILLED_EXIT_SECONDS)):
            await process.wait()


# Children being started (spawn): a stop waits for them, polling this often
SPAWN_POLL_SECONDS = 0.01
_spawning = 0


async def spawn(program: str, *args: str, **options: Any) -> asyncio.subprocess.Process:
    """``asyncio.create_subprocess_exec(program, *args, **options)``, which a stop waits for.

    Cancelled while the child's pipes connect, CPython 3.11's creation kills the child and then
    waits for its exit on pipes that never connected: for ever (``live --server ws`` stopped by
    Ctrl-C as it started a node process, under load: ``asyncio.run`` cancelled every task and its
    shutdown never ended). A stop requested meanwhile is raised once no creation is under way;
    that takes milliseconds, and the child is then stopped as any other.
    """
    global _spawning
    _spawning += 1
    try:
        return await asyncio.create_subprocess_exec(program, *args, **options)
    finally:
        _spawning -= 1
