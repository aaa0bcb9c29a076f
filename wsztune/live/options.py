"""What one live check is asked, whatever the server: one :class:`LiveOptions`.

The command line fills the options it was given and leaves the rest None (the stack's own,
from :mod:`wsztune.stacks`); the server's runner checks them (``prepare``) and settles
:attr:`LiveOptions.setting`, the setting its server runs and its model is held to. A runner then
reads only the options, so an option for every server is one field here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from wsztune.errors import WsztuneError

if TYPE_CHECKING:
    from wsztune.permessage_deflate import Setting

DEFAULT_TIMEOUT = 30.0  # seconds for any single step: a handshake plus one connection's replay
# From this many --connections a server that has a fleet runner runs a fleet (waves of client
# processes, RSS: wsztune.live.fleet); fewer are opened one at a time and measured exactly.
FLEET_AT = 1000


class OptionClash(WsztuneError):
    """An option the chosen server does not take (``--threshold`` with websockets, ``--level``
    with coder): the command line shows it as a usage error."""


@dataclass(frozen=True)
class LiveOptions:
    """One live check: which server, at which setting, over how many connections, judged how.

    ``setting``: what the server runs, given, or settled by the runner's ``prepare`` from the
    asked values (window bits, memLevel, level, context takeover, threshold; None: the stack's
    own). ``auto_connections``: none were asked, so a runner may open more than ``connections``
    where its memory figure needs them (ws: until each kind of connection has enough).
    """

    server: str = "websockets"
    setting: Setting | None = None
    window_bits: int | None = None
    mem_level: int | None = None
    client_window_bits: int | None = None
    level: int | None = None
    context_takeover: bool = True
    threshold: int | None = None
    connections: int = 10
    auto_connections: bool = False
    tolerance: float = 0.1
    timeout: float = DEFAULT_TIMEOUT
    ws_dir: Path | None = None  # ws: an existing install of ws instead of wsztune's cache
    waves: int | None = None  # a fleet in this many waves (None: the default, or no fleet)
    churn: int = 0  # a fleet's connections replaced this many times once all are open

    @property
    def fleet(self) -> bool:
        """A fleet run: asked with --waves or --churn, or --connections from :data:`FLEET_AT`."""
        return self.waves is not None or self.churn > 0 or self.connections >= FLEET_AT

    def zlib_setting(self, threshold: int = 0) -> Setting:
        """What a zlib server (websockets, the other Python stacks, ws) runs for these options:
        the asked window bits and memLevel, else its stack profile's (:mod:`wsztune.stacks`,
        the one source of a stack's values). ``--level`` is gorilla's alone."""
        from wsztune.permessage_deflate import Setting
        from wsztune.stacks import STACKS

        if self.level is not None:
            raise OptionClash("--level needs --server gorilla")
        defaults = STACKS[self.server].defaults
        return Setting(
            defaults.window_bits if self.window_bits is None else self.window_bits,
            defaults.mem_level if self.mem_level is None else self.mem_level,
            context_takeover=self.context_takeover,
            client_window_bits=self.client_window_bits,
            threshold=threshold,
        )

    @property
    def settled(self) -> Setting:
        """:attr:`setting`, which a runner needs settled before it runs."""
        if self.setting is None:
            raise ValueError("live options without a setting: the runner's prepare() settles it")
        return self.setting
