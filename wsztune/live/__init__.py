"""``wsztune live``: replay a corpus through a real server on 127.0.0.1 and hold the model to
what it puts on the wire and what a connection costs it.

One room per job: :mod:`~wsztune.live.plan` (what each live connection replays),
:mod:`~wsztune.live.growth` (memory per connection from marks), :mod:`~wsztune.live.options`
(what a check is asked), :mod:`~wsztune.live.result` (one result type, one verdict rule), and
one runner per kind of server: :mod:`~wsztune.live.python` (the CPython stacks, in this
process), :mod:`~wsztune.live.ws` (Node's ws), :mod:`~wsztune.live.golang` (gorilla, coder).
:data:`RUNNERS` maps each ``--server`` to its runner; runners are imported when used, so that
naming them costs nothing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wsztune.live.options import LiveOptions, OptionClash

if TYPE_CHECKING:
    from wsztune.corpus import Corpus
    from wsztune.live.result import Display, LiveResult

__all__ = ["RUNNERS", "LiveOptions", "OptionClash", "Runner"]


@dataclass(frozen=True)
class Runner:
    """One kind of live server: the module whose check runs it, and its defaults.

    The module has ``prepare(options) -> LiveOptions`` (refuse what the server does not take,
    settle the setting, before any corpus is read), the check itself (``check``: a function of
    the corpus and the options returning a :class:`~wsztune.live.result.LiveResult`), and
    ``display(result)``: what its result shows beyond what every server shows.
    """

    module: str
    check: str  # the name of the check's function in ``module``
    connections: int  # live connections unless --connections says
    tolerance: str  # how far live memory may be from the model unless --tolerance says
    # The module of its fleet check (``check(corpus, options)`` and ``display``), used when
    # the options ask for a fleet (LiveOptions.fleet); None: no fleet runner yet.
    fleet: str | None = None

    def _loaded(self) -> Any:
        return importlib.import_module(self.module)

    def _runs_fleet(self, options: LiveOptions) -> bool:
        return self.fleet is not None and options.fleet

    def prepare(self, options: LiveOptions) -> LiveOptions:
        """``options`` checked for this server, with the setting it runs settled."""
        if self.fleet is None and (options.waves is not None or options.churn):
            raise OptionClash(
                "--waves and --churn need a server with a fleet check: "
                + ", ".join(name for name, runner in RUNNERS.items() if runner.fleet)
            )
        if self._runs_fleet(options):
            importlib.import_module("wsztune.live.fleet").fleet_plan(options)
        return self._loaded().prepare(options)

    def run(self, corpus: Corpus, options: LiveOptions) -> LiveResult:
        """The check: ``corpus`` replayed through the real server, held to the model (a fleet
        of connections and its RSS when the options ask for one)."""
        if self._runs_fleet(options):
            return importlib.import_module(str(self.fleet)).check(corpus, options)
        return getattr(self._loaded(), self.check)(corpus, options)

    def display(self, result: LiveResult) -> Display:
        """What ``result`` shows in the terminal beyond the rows every server shows."""
        if "fleet" in result.details and self.fleet is not None:
            return importlib.import_module(self.fleet).display(result)
        return self._loaded().display(result)


# Per server: its runner, how many connections and how much tolerance. A Python stack runs in
# this process and is measured with tracemalloc, exactly. ws's memory is RSS (pages, malloc,
# V8), noisier, and its growth settles only after a warm-up: more connections, and 30%. Go has
# no windowBits/memLevel; the Go heap per connection, within 30% (or 2 KiB).
_PYTHON = Runner(
    "wsztune.live.python",
    "run_live",
    connections=10,
    tolerance="10%",
    fleet="wsztune.live.pyfleet",
)
_GO = Runner(
    "wsztune.live.golang",
    "run_live_go",
    connections=60,
    tolerance="30%",
    fleet="wsztune.live.gofleet",
)
RUNNERS: dict[str, Runner] = {
    "websockets": _PYTHON,
    "ws": Runner(
        "wsztune.live.ws",
        "run_live_ws",
        connections=40,
        tolerance="30%",
        fleet="wsztune.live.wsfleet",
    ),
    "aiohttp": _PYTHON,
    "tornado": _PYTHON,
    "uvicorn": _PYTHON,
    "uvicorn-sansio": _PYTHON,
    "uvicorn-websockets": _PYTHON,
    "uvicorn-wsproto": _PYTHON,
    "gorilla": _GO,
    "coder": _GO,
}
