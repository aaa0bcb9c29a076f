"""wsztune.stopping: a child process started so that a cancellation never hangs."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any

import psutil
import pytest

from wsztune import stopping

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def _cancelled_while_starting(spawner: Callable[..., Any]) -> str:
    """Start a sleeper with ``spawner`` and cancel it right away, while its pipes connect;
    what came of the wait for that cancellation: "cancelled" or "hung"."""

    async def main() -> str:
        starting = asyncio.create_task(spawner(*SLEEPER, stdin=asyncio.subprocess.PIPE,
                                               stdout=asyncio.subprocess.PIPE))  # fmt: skip
        await asyncio.sleep(0)  # the child forked; its pipes are not connected yet
        starting.cancel()
        try:
            async with asyncio.timeout(10):
                await asyncio.shield(starting)
        except asyncio.CancelledError:
            return "cancelled"
        except TimeoutError:
            starting.cancel()  # once more: asyncio gives up its wait
            await asyncio.gather(starting, return_exceptions=True)
            return "hung"
        return "started"

    return asyncio.run(main())


def test_a_spawn_cancelled_while_its_pipes_connect_ends_and_leaves_no_child() -> None:
    assert _cancelled_while_starting(stopping.spawn) == "cancelled"
    _, alive = psutil.wait_procs(psutil.Process().children(recursive=True), timeout=5)
    assert alive == []


def test_a_stop_waits_for_a_child_being_started() -> None:
    # live --server ws, stopped by Ctrl-C as it started a node process: asyncio.run cancelled
    # the creation with every task, and CPython 3.11 then waited for ever on pipes that never
    # connected. The stop is raised once the creation is done; the child is then stopped.
    import os
    import signal

    from wsztune.cli.common import first_interrupt_only

    children: list[int] = []

    async def main() -> None:
        starting = asyncio.create_task(stopping.spawn(*SLEEPER, stdin=asyncio.subprocess.PIPE,
                                                      stdout=asyncio.subprocess.PIPE))  # fmt: skip
        await asyncio.sleep(0)  # forked, its pipes connecting
        os.kill(os.getpid(), signal.SIGINT)
        process = await starting
        children.append(process.pid)
        try:
            await asyncio.sleep(30)
        finally:
            process.kill()
            await process.wait()

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with pytest.raises(KeyboardInterrupt), first_interrupt_only():
            stopping.run(main())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    assert len(children) == 1 and not psutil.pid_exists(children[0])
