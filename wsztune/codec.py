"""The permessage-deflate model (RFC 7692), framed exactly as python-websockets frames it.

Per stream (one connection, one direction) one raw-deflate compressor
``compressobj(level, DEFLATED, -window_bits, mem_level, strategy)``; per message
``compress(payload) + flush(Z_SYNC_FLUSH)`` with the trailing ``00 00 ff ff`` removed. Without
context takeover a fresh compressor per message. The receiver appends the four bytes back and
inflates with ``decompressobj(-window_bits)``. A message shorter than the setting's threshold
(ws's option; 0 by default) is sent as is, a :class:`Raw` frame, and never reaches the compressor.
Node's zlib, as ws calls it, lives in :mod:`wsztune.nodejs` (it runs in a node process).

This module does no timing and no measuring: it only encodes and decodes.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any

from wsztune.errors import BackendUnavailable, RoundTripError, SettingError

EMPTY_BLOCK_TAIL = b"\x00\x00\xff\xff"

WINDOW_BITS_RANGE = range(8, 16)
MEM_LEVEL_RANGE = range(1, 10)
LEVEL_RANGE = range(-1, 10)

# zlib's strategy constants, by the names users type. Same values in every backend.
STRATEGIES: dict[str, int] = {
    "default": 0,
    "filtered": 1,
    "huffman": 2,
    "rle": 3,
    "fixed": 4,
}


@dataclass(frozen=True, order=True)
class Setting:
    """One permessage-deflate configuration, as a server would negotiate it.

    ``window_bits`` is the server's window (its compressor, and the client's decompressor);
    ``client_window_bits`` the client's (the client's compressor and the server's decompressor),
    equal to ``window_bits`` unless given, as websockets configures both.
    """

    window_bits: int = 15
    mem_level: int = 8
    level: int = -1
    strategy: str = "default"
    context_takeover: bool = True
    client_window_bits: int | None = field(default=None)
    # Messages shorter than this many bytes go out uncompressed and never reach the compressor,
    # as with ws's ``threshold`` option. 0 compresses every message (websockets has no threshold).
    threshold: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.threshold, int) or self.threshold < 0:
            raise SettingError(f"threshold must be a number of bytes >= 0, not {self.threshold!r}")
        _check_window_bits("window bits", self.window_bits)
        if self.client_window_bits is not None:
            _check_window_bits("client window bits", self.client_window_bits)
        if self.mem_level not in MEM_LEVEL_RANGE:
            raise SettingError(f"memLevel must be between 1 and 9, not {self.mem_level!r}")
        if self.level not in LEVEL_RANGE:
            raise SettingError(
                f"compression level must be between 0 and 9 (or -1 for zlib's default), "
                f"not {self.level!r}"
            )
        if self.strategy not in STRATEGIES:
            names = ", ".join(STRATEGIES)
            raise SettingError(f"strategy must be one of {names}, not {self.strategy!r}")

    @property
    def server_bits(self) -> int:
        """Window bits the server's compressor really uses (8 deflates as 9 in zlib)."""
        return effective_window_bits(self.window_bits)

    @property
    def nominal_client_bits(self) -> int:
        """client_max_window_bits as negotiated: 8 stays 8 (compare :attr:`client_bits`)."""
        return self.window_bits if self.client_window_bits is None else self.client_window_bits

    @property
    def client_bits(self) -> int:
        """Window bits of client-to-server traffic (the server's decompressor), 8 read as 9."""
        return effective_window_bits(self.nominal_client_bits)

    @property
    def label(self) -> str:
        """Short ``WB:ML`` name, as users type it on the command line."""
        return f"{self.window_bits}:{self.mem_level}"

    def bits_for(self, direction: str) -> int:
        """Window bits of the compressor that sends in ``direction`` ("server" or "client")."""
        return self.server_bits if direction == "server" else self.client_bits


def _check_window_bits(what: str, bits: int) -> None:
    if bits not in WINDOW_BITS_RANGE:
        raise SettingError(f"{what} must be between 8 and 15 (9-15 in practice), not {bits!r}")


def effective_window_bits(bits: int) -> int:
    """zlib >= 1.2.9 refuses raw deflate with 8 bits; permessage-deflate peers then use 9.

    Silent: this runs for every cell and every stream. Telling the user once is the caller's
    job (``wsztune run`` prints one warning line when its grid asks for 8).
    """
    return 9 if bits == 8 else bits


def parse_setting(text: str) -> tuple[int, int]:
    """Parse ``"12:5"`` (windowBits:memLevel) into ``(12, 5)``, validating both numbers."""
    parts = text.strip().split(":")
    if len(parts) != 2 or not all(part.strip().isdigit() for part in parts):
        raise SettingError(f"a setting is WINDOW_BITS:MEM_LEVEL, such as 12:5, not {text!r}")
    setting = Setting(int(parts[0]), int(parts[1]))
    return setting.window_bits, setting.mem_level


# Backends ---------------------------------------------------------------------------------------

BACKEND_MODULES = {"zlib": "zlib", "zlib-ng": "zlib_ng.zlib_ng"}
BACKEND_INSTALL_HINT = {"zlib-ng": "pip install 'wsztune[zlib-ng]'  (or: pip install zlib-ng)"}


@dataclass(frozen=True)
class Backend:
    """A zlib-compatible module: the interpreter's zlib, or zlib-ng's Python binding."""

    name: str
    module: ModuleType
    version: str


def get_backend(name: str = "zlib") -> Backend:
    """Return the codec backend called ``name``, or say how to install it."""
    if name not in BACKEND_MODULES:
        raise SettingError(f"codec must be one of {', '.join(BACKEND_MODULES)}, not {name!r}")
    try:
        module = importlib.import_module(BACKEND_MODULES[name])
    except ImportError:
        raise BackendUnavailable(
            f"the {name} codec is not installed: {BACKEND_INSTALL_HINT.get(name, '')}"
        ) from None
    version = getattr(module, "ZLIBNG_RUNTIME_VERSION", None) or module.ZLIB_RUNTIME_VERSION
    return Backend(name, module, str(version))


# Encoding and decoding ----------------------------------------------------------------------------


def new_compressor(setting: Setting, bits: int, backend: Backend) -> Any:
    """A raw-deflate compressor for one permessage-deflate sender with ``bits`` of window."""
    zlib = backend.module
    return zlib.compressobj(
        setting.level, zlib.DEFLATED, -bits, setting.mem_level, STRATEGIES[setting.strategy]
    )


def new_decompressor(bits: int, backend: Backend) -> Any:
    """A raw-inflate decompressor for one permessage-deflate receiver."""
    return backend.module.decompressobj(-bits)


class Raw(bytes):
    """A message sent uncompressed because it is under the threshold: its frame is the payload.

    A ``bytes`` like any frame (its length is its size on the wire), marked so that the receiving
    side does not inflate it, as a receiver does not inflate a frame without RSV1.
    """

    __slots__ = ()


def _split_threshold(
    payloads: Iterable[bytes], threshold: int
) -> tuple[list[bytes | None], list[bytes]]:
    """Per message: None if it goes to the compressor, else its :class:`Raw` frame; and the list
    of payloads that reach the compressor, in order."""
    marks: list[bytes | None] = []
    compressed: list[bytes] = []
    for payload in payloads:
        if len(payload) < threshold:
            marks.append(Raw(payload))
        else:
            marks.append(None)
            compressed.append(payload)
    return marks, compressed


# One stream's messages, three ways: compress keeping the frames (sizes, and what the other passes
# inflate), compress discarding them, inflate discarding the messages (both timed, so nothing but
# the codec calls and the framing), and inflate checking each message against the original as
# soon as it comes out. None of them builds a list of decompressed messages: that held a second
# copy of the corpus per cell (3.7 x a 200 MB corpus at peak, bench/bigcorpus.py), and filling
# fresh memory for it is page faults a server sending and forgetting its frames never pays. Each
# picks its loop once, outside the messages: the timed loops are as tight as bench/sweep.py's
# bare-codec limit.


def compress_stream(
    payloads: Iterable[bytes], setting: Setting, bits: int, backend: Backend
) -> list[bytes]:
    """Compress one stream's messages as permessage-deflate does; return each frame payload.

    ``bits`` is the sending side's window (``setting.bits_for(direction)``). A message under
    ``setting.threshold`` comes back as a :class:`Raw` frame: itself, never compressed.
    """
    if setting.threshold:
        marks, sent = _split_threshold(payloads, setting.threshold)
        frames = iter(compress_stream(sent, replace(setting, threshold=0), bits, backend))
        return [next(frames) if mark is None else mark for mark in marks]
    zlib = backend.module
    level, mem_level = setting.level, setting.mem_level
    strategy = STRATEGIES[setting.strategy]
    compressobj, deflated, sync = zlib.compressobj, zlib.DEFLATED, zlib.Z_SYNC_FLUSH
    out: list[bytes] = []
    append = out.append
    if setting.context_takeover:
        encoder = compressobj(level, deflated, -bits, mem_level, strategy)
        compress, flush = encoder.compress, encoder.flush
        for payload in payloads:
            append((compress(payload) + flush(sync))[:-4])
    else:
        for payload in payloads:
            encoder = compressobj(level, deflated, -bits, mem_level, strategy)
            append((encoder.compress(payload) + encoder.flush(sync))[:-4])
    return out


def compress_pass(payloads: Iterable[bytes], setting: Setting, bits: int, backend: Backend) -> None:
    """:func:`compress_stream`, discarding the frames as a server does once they are sent."""
    if setting.threshold:  # the threshold decision is the sender's work too: timed with it
        threshold = setting.threshold
        payloads = [payload for payload in payloads if len(payload) >= threshold]
        setting = replace(setting, threshold=0)
    zlib = backend.module
    level, mem_level = setting.level, setting.mem_level
    strategy = STRATEGIES[setting.strategy]
    compressobj, deflated, sync = zlib.compressobj, zlib.DEFLATED, zlib.Z_SYNC_FLUSH
    if setting.context_takeover:
        encoder = compressobj(level, deflated, -bits, mem_level, strategy)
        compress, flush = encoder.compress, encoder.flush
        for payload in payloads:
            _frame = (compress(payload) + flush(sync))[:-4]
    else:
        for payload in payloads:
            encoder = compressobj(level, deflated, -bits, mem_level, strategy)
            _frame = (encoder.compress(payload) + encoder.flush(sync))[:-4]


def decompress_pass(frames: Iterable[bytes], setting: Setting, bits: int, backend: Backend) -> None:
    """Inflate frame payloads made by :func:`compress_stream` (same setting and bits), discarding
    the messages as a server does once it has handled them."""
    decompressobj = backend.module.decompressobj
    tail = EMPTY_BLOCK_TAIL
    if setting.threshold:  # Raw frames are not inflated, as a frame without RSV1 is not
        frames = [frame for frame in frames if type(frame) is not Raw]
    if setting.context_takeover:
        decompress = decompressobj(-bits).decompress
        for frame in frames:
            _message = decompress(frame + tail)
    else:
        for frame in frames:
            _message = decompressobj(-bits).decompress(frame + tail)


def check_stream(
    frames: Sequence[bytes],
    expected: Sequence[bytes],
    setting: Setting,
    bits: int,
    backend: Backend,
    what: str,
) -> None:
    """Inflate ``frames`` and compare each message with ``expected`` as soon as it comes out.

    Raises :class:`RoundTripError` naming the first message that did not survive; holds one
    decoded message at a time, never a copy of the stream.
    """
    if len(expected) != len(frames):
        raise RoundTripError(f"{what}: {len(expected)} messages in, {len(frames)} out")
    decompressobj = backend.module.decompressobj
    tail = EMPTY_BLOCK_TAIL
    takeover = setting.context_takeover
    decompress = decompressobj(-bits).decompress
    for index, (frame, original) in enumerate(zip(frames, expected, strict=True)):
        if type(frame) is Raw:
            if frame != original:
                raise RoundTripError(f"{what}: uncompressed message {index} changed")
            continue
        if not takeover:
            decompress = decompressobj(-bits).decompress
        message = decompress(frame + tail)
        if message != original:
            raise RoundTripError(
                f"{what}: message {index} changed in a compress/decompress round trip "
                f"({len(original)} bytes in, {len(message)} out); please report this"
            )
