"""Netty's permessage-deflate: the JDK's zlib at 15:8, JZlib at any other window or memLevel.

Netty's ``DeflateEncoder`` builds its compressor with ``ZlibCodecFactory.newZlibEncoder(
ZlibWrapper.NONE, compressionLevel, windowSize, 8)``, and that factory returns a
``JdkZlibEncoder`` (``java.util.zip.Deflater``: the system zlib, level as given, window 15,
memLevel 8) only when ``windowBits == 15 && memLevel == 8``; for anything else it silently returns
a ``JZlibEncoder``, a pure-Java port of zlib (netty 4.1.48, codec/.../ZlibCodecFactory.java).
A window below 15 is what a client gets by offering ``server_max_window_bits``, which Netty 4.1
accepts by default (``allowServerWindowSize`` is
``ZlibCodecFactory.isSupportingWindowSizeAndMemLevel()``, true on Java 7 and later: netty#4813);
Netty 4.2.16 adds a server-side ``serverWindowSize`` and
``memLevel`` (netty#16809), with the same factory behind them.

So one Netty run measures two codecs: cells at 15:8 with :mod:`wsztune.codecs.zlib` (the JDK's
Deflater is zlib: byte for byte the same, tests/codecs/test_verify_netty.py), every other cell with
:mod:`wsztune.codecs.jzlib`. Each cell says which in its ``codec`` field (``zlib`` or ``JZlib``).
Without context takeover a Netty connection holds no compressor between messages
(:func:`idle_without_takeover`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wsztune.codecs.base import CellDone, CodecInfo, TimingPlan
from wsztune.corpus import Stream
from wsztune.permessage_deflate import Setting

NAME = "netty"
JDK_WINDOW_BITS = 15  # ZlibCodecFactory.DEFAULT_JDK_WINDOW_SIZE
JDK_MEM_LEVEL = 8  # ZlibCodecFactory.DEFAULT_JDK_MEM_LEVEL
JDK_CODEC = "zlib"  # what a cell's ``codec`` says for the JDK's Deflater
RULE = (
    "ZlibCodecFactory.newZlibEncoder: the JDK's Deflater (zlib) at windowBits 15 and memLevel 8, "
    "JZlib (com.jcraft.jzlib) for any other window or memLevel; each cell's codec field says "
    "which measured it"
)


def runs_jdk_zlib(setting: Setting) -> bool:
    """Whether Netty compresses ``setting`` with the JDK's Deflater (else with JZlib)."""
    return setting.window_bits == JDK_WINDOW_BITS and setting.mem_level == JDK_MEM_LEVEL


@dataclass(frozen=True)
class NettyCodec:
    """Netty's encoder as the sweep's codec: zlib or JZlib per cell, as Netty picks."""

    name: str = NAME

    def check(self) -> None:
        """zlib is always here; JZlib is checked when a cell needs it (:meth:`measure`)."""
        from wsztune.codecs.zlib import ZlibCodec

        ZlibCodec().check()

    def describe(self) -> CodecInfo:
        """Both codecs' versions (JZlib's when it is installed) and the rule between them."""
        from wsztune.codecs import jzlib
        from wsztune.codecs.zlib import ZlibCodec

        zlib_info = ZlibCodec().describe()
        try:
            jzlib_info = jzlib.JZlibCodec().describe()
        except jzlib.JZlibUnavailable as error:
            version = f"zlib {zlib_info.version}, JZlib not available ({error})"
            meta: dict[str, object] = {}
        else:
            version = f"zlib {zlib_info.version}, JZlib {jzlib_info.version}"
            meta = dict(jzlib_info.meta)
        meta["netty"] = {
            "rule": RULE,
            "jdk_zlib": {"codec": JDK_CODEC, "version": zlib_info.version},
            "jzlib": {"codec": jzlib.TITLE, "memory_method": meta.pop("memory_method", "")},
        }
        return CodecInfo(self.name, version, meta=meta)

    def measure(
        self,
        streams: Sequence[Stream],
        order: Sequence[Setting],
        plan: TimingPlan,
        jobs: int,
        finished: CellDone,
    ) -> None:
        """The JZlib cells first (so that a missing JDK fails before any work), then zlib's."""
        from wsztune.codecs import jzlib
        from wsztune.codecs.zlib import ZlibCodec

        jdk = [setting for setting in order if runs_jdk_zlib(setting)]
        ported = [setting for setting in order if not runs_jdk_zlib(setting)]

        def tagged(codec_name: str) -> CellDone:
            def done(cell: dict[str, object]) -> None:
                cell["codec"] = codec_name
                finished(idle_without_takeover(cell))

            return done

        if ported:
            try:
                jzlib.runtime()
            except jzlib.JZlibUnavailable as error:
                raise jzlib.JZlibUnavailable(
                    f"{error} (Netty runs JZlib at every setting but 15:8; --window-bits 15 "
                    "measures its JDK-zlib path alone)"
                ) from None
            jzlib.JZlibCodec().measure(streams, ported, plan, jobs, tagged(jzlib.TITLE))
        if jdk:
            ZlibCodec().measure(streams, jdk, plan, jobs, tagged(JDK_CODEC))


def idle_without_takeover(cell: dict[str, object]) -> dict[str, object]:
    """Without context takeover Netty keeps no compressor between messages: DeflateEncoder drops
    its encoder after each final fragment (``cleanup()``: the JDK's ``Deflater.end()``, or JZlib's
    arrays left to the collector), so a connection holds none while idle, and one message's
    compressor is the peak. The decompressor stays: Netty drops it only on
    ``client_no_context_takeover``, which browsers do not offer."""
    if cell["context_takeover"] is False:
        held, peak = cell["compress_memory_observed"], cell["compress_memory_peak"]
        assert isinstance(held, int) and isinstance(peak, int)
        cell["compress_memory_peak"] = max(held, peak)
        cell["compress_memory_observed"] = 0
        cell["connection_memory"] = cell["decompress_memory_observed"]
    return cell


def codec(name: str = NAME) -> NettyCodec:
    """The registry's constructor (:data:`wsztune.codecs.CODECS`)."""
    return NettyCodec(name)
