"""The permessage-deflate model (RFC 7692), framed exactly as python-websockets frames it.

Per stream (one connection, one direction) one raw-deflate compressor
``compressobj(level, DEFLATED, -window_bits, mem_level, strategy)``; per message
``compress(payload) + flush(Z_SYNC_FLUSH)`` with the trailing ``00 00 ff ff`` removed. Without
context takeover a fresh compressor per message. The receiver appends the four bytes back and
inflates with ``decompressobj(-window_bits)``. A message shorter than the setting's threshold
(ws's option; 0 by default) is sent as is and never reaches the compressor: every function here
leaves it out of what it compresses, inflates or checks (:func:`sent_payloads`), and
:func:`compress_stream` returns it as a :class:`Raw` frame.
Node's zlib, as ws calls it, lives in :mod:`wsztune.codecs.node` (it runs in a node process).

This module does no timing and no measuring: it only encodes and decodes.
"""

from __future__ import annotations

import importlib
import itertools
import operator
import re
from array import array
from collections.abc import Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any

from wsztune.errors import RoundTripError, SettingError, ToolUnavailable

EMPTY_BLOCK_TAIL = b"\x00\x00\xff\xff"

WINDOW_BITS_RANGE = range(8, 16)
MEM_LEVEL_RANGE = range(1, 10)
# -2 is Go's Huffman-only level (gorilla); zlib's levels are -1 to 9 (``run`` checks per codec).
LEVEL_RANGE = range(-2, 10)

# zlib's strategy constants, by the names users type. Same values in zlib and zlib-ng.
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
    # The client's own compressor, when a client is named (``--client``): a browser compresses
    # at its memLevel and level, not the server's. None: the server's values, as before.
    client_mem_level: int | None = None
    client_level: int | None = None
    # The named client's own threshold for what it sends (Node ws's client: 1024 B without
    # context takeover). None: the client direction follows ``threshold``, as before.
    client_threshold: int | None = None

    def __post_init__(self) -> None:
        for threshold in (self.threshold, self.client_threshold):
            if threshold is not None and (not isinstance(threshold, int) or threshold < 0):
                raise SettingError(f"threshold must be a number of bytes >= 0, not {threshold!r}")
        _check_window_bits("window bits", self.window_bits)
        if self.client_window_bits is not None:
            _check_window_bits("client window bits", self.client_window_bits)
        for mem_level in (self.mem_level, self.client_mem_level):
            if mem_level is not None and mem_level not in MEM_LEVEL_RANGE:
                raise SettingError(f"memLevel must be between 1 and 9, not {mem_level!r}")
        for level in (self.level, self.client_level):
            if level is not None and level not in LEVEL_RANGE:
                raise SettingError(
                    f"compression level must be between 0 and 9 (or -1 for the default, -2 for "
                    f"Go's Huffman only), not {level!r}"
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

    @property
    def client_named(self) -> bool:
        """Whether a client was named (``--client``): its memLevel, level or threshold set
        apart from the server's."""
        return (self.client_mem_level, self.client_level, self.client_threshold) != (
            None, None, None
        )  # fmt: skip

    def sender(self, direction: str) -> Setting:
        """The setting of the compressor that sends in ``direction``: the server's for "server",
        and for "client" the client's memLevel, level and threshold when a client was named (this
        setting otherwise). Its ``mem_level``, ``level`` and ``threshold`` are that sender's: every
        codec applies ``threshold`` per message to the stream this setting compresses."""
        if direction == "server" or not self.client_named:
            return self
        return replace(
            self,
            mem_level=self.mem_level if self.client_mem_level is None else self.client_mem_level,
            level=self.level if self.client_level is None else self.client_level,
            threshold=self.threshold if self.client_threshold is None else self.client_threshold,
        )


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
    """Parse ``"12:5"`` or ``"12/5"`` (windowBits, memLevel) into ``(12, 5)``, validating both.

    The slash is how uWebSockets' presets and wsztune's own uWebSockets snippet write a setting;
    every option that takes a setting goes through here, so both forms work everywhere.
    """
    parts = re.split(r"[:/]", text.strip())
    if len(parts) != 2 or not all(part.strip().isdigit() for part in parts):
        raise SettingError(
            f"a setting is WINDOW_BITS:MEM_LEVEL (or WINDOW_BITS/MEM_LEVEL), such as 12:5, "
            f"not {text!r}"
        )
    setting = Setting(int(parts[0]), int(parts[1]))
    return setting.window_bits, setting.mem_level


# zlib modules (CPython's zlib, zlib-ng) -----------------------------------------------------------

ZLIB_MODULES = {"zlib": "zlib", "zlib-ng": "zlib_ng.zlib_ng"}
ZLIB_INSTALL_HINTS = {"zlib-ng": "pip install 'wsztune[zlib-ng]'  (or: pip install zlib-ng)"}


@dataclass(frozen=True)
class ZlibModule:
    """A zlib-compatible module: the interpreter's zlib, or zlib-ng's Python binding."""

    name: str
    module: ModuleType
    version: str


def get_zlib_module(name: str = "zlib") -> ZlibModule:
    """The zlib module called ``name`` (CPython's zlib or zlib-ng), or say how to install it."""
    if name not in ZLIB_MODULES:
        raise SettingError(f"codec must be one of {', '.join(ZLIB_MODULES)}, not {name!r}")
    try:
        module = importlib.import_module(ZLIB_MODULES[name])
    except ImportError:
        raise ToolUnavailable(
            f"the {name} codec is not installed: {ZLIB_INSTALL_HINTS.get(name, '')}"
        ) from None
    version = getattr(module, "ZLIBNG_RUNTIME_VERSION", None) or module.ZLIB_RUNTIME_VERSION
    return ZlibModule(name, module, str(version))


# Encoding and decoding ----------------------------------------------------------------------------


def new_compressor(setting: Setting, bits: int, zlib_module: ZlibModule) -> Any:
    """A raw-deflate compressor for one permessage-deflate sender with ``bits`` of window."""
    zlib = zlib_module.module
    return zlib.compressobj(
        setting.level, zlib.DEFLATED, -bits, setting.mem_level, STRATEGIES[setting.strategy]
    )


def new_decompressor(bits: int, zlib_module: ZlibModule) -> Any:
    """A raw-inflate decompressor for one permessage-deflate receiver."""
    return zlib_module.module.decompressobj(-bits)


class Raw(bytes):
    """A message sent uncompressed because it is under the threshold: its frame is the payload.

    A ``bytes`` like any frame (its length is its size on the wire), marked so that the receiving
    side does not inflate it, as a receiver does not inflate a frame without RSV1.
    """

    __slots__ = ()


def sent_payloads(
    payloads: Iterable[bytes | memoryview], threshold: int
) -> Iterable[bytes | memoryview]:
    """The payloads that reach the compressor: those at least ``threshold`` bytes long (all of
    them when the threshold is 0), in order, as ws's Sender decides per message."""
    if not threshold:
        return payloads
    return (payload for payload in payloads if len(payload) >= threshold)


def frame_sizes(
    payload_sizes: Iterable[int], compressed_sizes: Iterable[int], threshold: int
) -> Iterator[int]:
    """Each message's frame payload size: its own size when under ``threshold`` (sent as is),
    else the next of ``compressed_sizes`` (the frames of :func:`sent_payloads`, in order)."""
    if not threshold:
        yield from compressed_sizes
        return
    compressed = iter(compressed_sizes)
    for size in payload_sizes:
        yield size if size < threshold else next(compressed)


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
# bare-codec limit. The sweep keeps a cell's frames packed (:class:`Frames`, one buffer per
# stream) and reads payloads as views of the corpus buffer, so a worker holds no object per message.


class Frames:
    """One stream's compressed frames in one buffer, with their end offsets: no object per frame.

    Each frame is stored as zlib emitted it, still ending in ``00 00 ff ff``: its
    permessage-deflate payload is all but those four bytes, and the whole of it is exactly what a
    receiver inflates (payload + ``00 00 ff ff``), so inflating needs neither a copy nor a
    concatenation per message.
    """

    __slots__ = ("data", "ends")

    def __init__(self) -> None:
        self.data = bytearray()
        self.ends = array("q")

    def add(self, output: bytes) -> None:
        """Append one frame, as ``compress() + flush(Z_SYNC_FLUSH)`` returned it."""
        self.data += output
        self.ends.append(len(self.data))

    def __len__(self) -> int:
        return len(self.ends)

    def _starts(self) -> Iterator[int]:
        return itertools.chain((0,), self.ends)

    def sizes(self) -> Iterator[int]:
        """Each frame's permessage-deflate payload size (the four tail bytes removed)."""
        return map(_payload_size, self._starts(), self.ends)

    def inflatable(self) -> Iterator[memoryview]:
        """Each frame as a receiver inflates it (payload + ``00 00 ff ff``), as a view."""
        return map(memoryview(self.data).__getitem__, map(slice, self._starts(), self.ends))

    def payloads(self) -> list[bytes]:
        """The frame payloads as bytes, as :func:`compress_stream` returns them."""
        view = memoryview(self.data)
        pairs = zip(self._starts(), self.ends, strict=False)  # starts has one more: the end
        return [bytes(view[start : end - 4]) for start, end in pairs]


_MISSING = object()

# Big messages, a piece at a time. A message longer than BIG_MESSAGE is fed to the compressor in
# pieces of that size, its frame built in place, and a frame that may inflate to more than that
# is inflated BIG_MESSAGE bytes of output at a time, each piece compared with the original and
# dropped. zlib's output does not depend on how its input is cut (CPython itself feeds more than
# 4 GiB in pieces; the tests check it), but for level 0, whose stored blocks end where the input
# did, and zlib-ng's does: those compress a big message in one call (exact; the frame, up to
# three times over while CPython joins its output, is what they hold). So sizes stay exact, and
# a corpus of one
# 2 GiB message costs the frame and a few pieces beside the corpus, not two more copies of it.
# Smaller messages keep the one-call loops, as tight as before.
BIG_MESSAGE = 4 << 20
# The most deflate can expand: a frame this long may inflate to more than BIG_MESSAGE.
_BIG_FRAME = BIG_MESSAGE // 1032


def _splittable(setting: Setting, zlib_module: ZlibModule) -> bool:
    """Whether a message's input may be fed in pieces without changing a byte of the frame."""
    return zlib_module.name == "zlib" and setting.level != 0


def _compress_big(
    encoder: Any, payload: bytes | memoryview, sync: int, out: bytearray | None, pieces: bool
) -> int:
    """Compress one big message into ``out`` (in pieces when ``pieces``), ``flush`` included;
    return its length. With no ``out`` the frame is dropped as it comes (a timed pass)."""
    length = 0
    step = BIG_MESSAGE if pieces else len(payload) or 1
    with memoryview(payload) as view:
        for start in range(0, len(view), step):
            output = encoder.compress(view[start : start + step])
            length += len(output)
            if out is not None:
                out += output
    output = encoder.flush(sync)
    if out is not None:
        out += output
    return length + len(output)


def _inflate_pieces(decompress: Any, data: bytes | memoryview) -> Iterator[bytes]:
    """Inflate ``data`` (a frame with its tail) with ``decompress`` (a decompressor's bound
    method), at most :data:`BIG_MESSAGE` bytes of output at a time, input in pieces too (so that
    ``unconsumed_tail``, a copy, stays small)."""
    step = BIG_MESSAGE
    with memoryview(data) as view:
        for start in range(0, len(view), step):
            piece = decompress(view[start : start + step], step)
            yield piece
            tail = decompress.__self__.unconsumed_tail
            # Output can be pending with all input consumed: ask until a short answer.
            while tail or len(piece) == step:
                piece = decompress(tail, step)
                if not piece and not tail:
                    break
                yield piece
                tail = decompress.__self__.unconsumed_tail


def _same_pieces(pieces: Iterable[bytes], original: bytes | memoryview) -> tuple[bool, int]:
    """Whether the inflated ``pieces`` equal ``original``; and how many bytes came out."""
    same = True
    position = 0
    with memoryview(original) as view:
        for piece in pieces:
            end = position + len(piece)
            if same and (end > len(view) or not piece.startswith(view[position:end])):
                same = False
            position = end
    return same and position == len(original), position


def _same(message: bytes, original: bytes | memoryview) -> bool:
    """``message == original``, fast when ``original`` is a memoryview of the corpus buffer.

    bytes == memoryview goes through memoryview's generic comparison, 50 times slower than
    comparing bytes (about 6 us per KB message): a third of a --no-timing sweep's overhead.
    """
    return len(message) == len(original) and message.startswith(original)


def _payload_size(start: int, end: int) -> int:
    return end - start - 4


def _deflate_outputs(
    payloads: Iterable[bytes | memoryview], setting: Setting, bits: int, zlib_module: ZlibModule
) -> Iterator[bytes]:
    """What zlib emits per message, tail included: the one encoding loop of the kept frames."""
    zlib = zlib_module.module
    level, mem_level = setting.level, setting.mem_level
    strategy = STRATEGIES[setting.strategy]
    compressobj, deflated, sync = zlib.compressobj, zlib.DEFLATED, zlib.Z_SYNC_FLUSH
    if setting.context_takeover:
        encoder = compressobj(level, deflated, -bits, mem_level, strategy)
        compress, flush = encoder.compress, encoder.flush
        for payload in payloads:
            yield compress(payload) + flush(sync)
    else:
        for payload in payloads:
            encoder = compressobj(level, deflated, -bits, mem_level, strategy)
            yield encoder.compress(payload) + encoder.flush(sync)


def compress_stream(
    payloads: Iterable[bytes | memoryview], setting: Setting, bits: int, zlib_module: ZlibModule
) -> list[bytes]:
    """Compress one stream's messages as permessage-deflate does; return each frame payload.

    ``bits`` is the sending side's window (``setting.bits_for(direction)``). A message under
    ``setting.threshold`` comes back as a :class:`Raw` frame: itself, never compressed.
    """
    if setting.threshold:
        marks, sent = _split_threshold(payloads, setting.threshold)
        frames = iter(compress_stream(sent, replace(setting, threshold=0), bits, zlib_module))
        return [next(frames) if mark is None else mark for mark in marks]
    return [output[:-4] for output in _deflate_outputs(payloads, setting, bits, zlib_module)]


def compress_frames(
    payloads: Iterable[bytes | memoryview], setting: Setting, bits: int, zlib_module: ZlibModule
) -> Frames:
    """:func:`compress_stream`, keeping the frames packed in one buffer (:class:`Frames`).

    Only the messages that reach the compressor have a frame (:func:`sent_payloads`). A big
    message is compressed in pieces straight into the buffer (:data:`BIG_MESSAGE`).
    """
    frames = Frames()
    _compress_each(sent_payloads(payloads, setting.threshold), setting, bits, zlib_module, frames)
    return frames


def _compress_each(
    payloads: Iterable[bytes | memoryview],
    setting: Setting,
    bits: int,
    zlib_module: ZlibModule,
    frames: Frames | None,
) -> None:
    """Compress every message, a big one in pieces; keep the frames in ``frames``, or drop
    them as they come (``None``, a timed pass)."""
    zlib = zlib_module.module
    level, mem_level = setting.level, setting.mem_level
    pieces = _splittable(setting, zlib_module)
    strategy = STRATEGIES[setting.strategy]
    compressobj, deflated, sync = zlib.compressobj, zlib.DEFLATED, zlib.Z_SYNC_FLUSH
    encoder = compressobj(level, deflated, -bits, mem_level, strategy)
    for index, payload in enumerate(payloads):
        if index and not setting.context_takeover:
            encoder = compressobj(level, deflated, -bits, mem_level, strategy)
        if len(payload) > BIG_MESSAGE:
            _compress_big(encoder, payload, sync, None if frames is None else frames.data, pieces)
            if frames is not None:
                frames.ends.append(len(frames.data))
        else:
            output = encoder.compress(payload) + encoder.flush(sync)
            if frames is not None:
                frames.add(output)


def compress_pass(
    payloads: Iterable[bytes | memoryview],
    setting: Setting,
    bits: int,
    zlib_module: ZlibModule,
    big: bool = False,
) -> None:
    """:func:`compress_stream`, discarding the frames as a server does once they are sent.

    ``big``: the stream holds a message over :data:`BIG_MESSAGE`, compressed in pieces (a
    slower loop, chosen only then).
    """
    # The threshold decision is the sender's work too: timed with it.
    payloads = sent_payloads(payloads, setting.threshold)
    if big:
        _compress_each(payloads, setting, bits, zlib_module, None)
        return
    zlib = zlib_module.module
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


def _inflatable(frames: Iterable[bytes] | Frames) -> Iterable[bytes | memoryview]:
    """Frame payloads with ``00 00 ff ff`` appended, as a receiver inflates them.

    :class:`Raw` frames (under the threshold) are left out, as a receiver does not inflate a
    frame without RSV1; :class:`Frames` never holds one.
    """
    if isinstance(frames, Frames):
        return frames.inflatable()
    compressed = (frame for frame in frames if type(frame) is not Raw)
    return map(operator.add, compressed, itertools.repeat(EMPTY_BLOCK_TAIL))


def decompress_pass(
    frames: Iterable[bytes] | Frames,
    setting: Setting,
    bits: int,
    zlib_module: ZlibModule,
    big: bool = False,
) -> None:
    """Inflate frame payloads made by :func:`compress_stream` or :func:`compress_frames` (same
    setting and bits), discarding the messages as a server does once it has handled them.

    ``big``: the stream holds a message over :data:`BIG_MESSAGE`; a frame that may inflate to
    more is inflated a piece of output at a time.
    """
    decompressobj = zlib_module.module.decompressobj
    inputs = _inflatable(frames)
    if big:
        decompress = decompressobj(-bits).decompress
        for data in inputs:
            if not setting.context_takeover:
                decompress = decompressobj(-bits).decompress
            if len(data) > _BIG_FRAME:
                for _piece in _inflate_pieces(decompress, data):
                    pass
            else:
                _message = decompress(data)
        return
    if setting.context_takeover:
        decompress = decompressobj(-bits).decompress
        for data in inputs:
            _message = decompress(data)
    else:
        for data in inputs:
            _message = decompressobj(-bits).decompress(data)


# Frames --no-timing holds at once: a bounded amount (a server's worth, not the corpus's), and long
# enough runs of one codec object that its state stays in the CPU's caches. Alternating the
# compressor and the decompressor message by message cost 15-20% more CPU than two passes.
ROUND_TRIP_BLOCK_BYTES = 1 << 20


def round_trip_sizes(
    payloads: Iterable[bytes | memoryview],
    setting: Setting,
    bits: int,
    zlib_module: ZlibModule,
    what: str,
) -> array:
    """Compress the messages and inflate them back, checking each; return the frame sizes.

    What ``--no-timing`` needs and nothing more: the exact sizes and the round-trip check, with
    at most :data:`ROUND_TRIP_BLOCK_BYTES` of frames alive at a time (no frames kept: there is
    no decompress pass to time). The sizes are an ``array`` of frame payload sizes
    (``00 00 ff ff`` removed), one per message that reaches the compressor
    (:func:`sent_payloads`).
    """
    payloads = sent_payloads(payloads, setting.threshold)
    zlib = zlib_module.module
    level, mem_level = setting.level, setting.mem_level
    pieces = _splittable(setting, zlib_module)
    strategy = STRATEGIES[setting.strategy]
    compressobj, deflated, sync = zlib.compressobj, zlib.DEFLATED, zlib.Z_SYNC_FLUSH
    decompressobj = zlib.decompressobj
    takeover = setting.context_takeover
    encoder = compressobj(level, deflated, -bits, mem_level, strategy)
    decompress = decompressobj(-bits).decompress
    sizes = array("q")
    append = sizes.append
    block: list[tuple[bytes, bytes | memoryview]] = []
    held = 0
    checked = 0

    def check_block() -> None:
        nonlocal decompress, checked
        for output, payload in block:
            if not takeover:
                decompress = decompressobj(-bits).decompress
            message = decompress(output)
            if not _same(message, payload):
                raise RoundTripError(
                    f"{what}: message {checked} changed in a compress/decompress round trip "
                    f"({len(payload)} bytes in, {len(message)} out); please report this"
                )
            checked += 1
        block.clear()

    for index, payload in enumerate(payloads):
        if not takeover and index:
            encoder = compressobj(level, deflated, -bits, mem_level, strategy)
        if len(payload) > BIG_MESSAGE:
            # A big message: built and checked in pieces, on its own (after the block before).
            check_block()
            held = 0
            frame = bytearray()
            append(_compress_big(encoder, payload, sync, frame, pieces) - 4)
            if not takeover:
                decompress = decompressobj(-bits).decompress
            same, size = _same_pieces(_inflate_pieces(decompress, frame), payload)
            if not same:
                raise RoundTripError(
                    f"{what}: message {checked} changed in a compress/decompress round trip "
                    f"({len(payload)} bytes in, {size} out); please report this"
                )
            checked += 1
            del frame
            continue
        output = encoder.compress(payload) + encoder.flush(sync)
        append(len(output) - 4)
        block.append((output, payload))
        held += len(output)
        if held >= ROUND_TRIP_BLOCK_BYTES:
            check_block()
            held = 0
    check_block()
    return sizes


def check_stream(
    frames: Sequence[bytes] | Frames,
    expected: Iterable[bytes | memoryview],
    setting: Setting,
    bits: int,
    zlib_module: ZlibModule,
    what: str,
) -> None:
    """Inflate ``frames`` and compare each message with ``expected`` as soon as it comes out.

    Raises :class:`RoundTripError` naming the first message that did not survive; holds one
    decoded message at a time, never a copy of the stream. Messages under the threshold are
    not compared: they were sent as they are (a :class:`Raw` frame, or no frame in
    :class:`Frames`).
    """
    if setting.threshold:
        expected = sent_payloads(expected, setting.threshold)
        if not isinstance(frames, Frames):
            frames = [frame for frame in frames if type(frame) is not Raw]
    if isinstance(expected, Sized) and len(expected) != len(frames):
        raise RoundTripError(f"{what}: {len(expected)} messages in, {len(frames)} out")
    decompressobj = zlib_module.module.decompressobj
    takeover = setting.context_takeover
    decompress = decompressobj(-bits).decompress
    # ``expected`` may be an iterator (views of the corpus buffer): counted as it goes, not listed.
    pairs = itertools.zip_longest(_inflatable(frames), expected, fillvalue=_MISSING)
    for index, (data, original) in enumerate(pairs):
        if data is _MISSING or original is _MISSING:
            # Out of frames: count the messages left; out of messages: there were ``index``.
            count = index + 1 + sum(1 for _ in pairs) if data is _MISSING else index
            raise RoundTripError(f"{what}: {count} messages in, {len(frames)} out")
        if not takeover:
            decompress = decompressobj(-bits).decompress
        if len(original) > BIG_MESSAGE:  # type: ignore[arg-type]
            same, size = _same_pieces(_inflate_pieces(decompress, data), original)  # type: ignore[arg-type]
            if not same:
                raise RoundTripError(
                    f"{what}: message {index} changed in a compress/decompress round trip "
                    f"({len(original)} bytes in, {size} out); please report this"  # type: ignore[arg-type]
                )
            continue
        message = decompress(data)
        if not _same(message, original):
            raise RoundTripError(
                f"{what}: message {index} changed in a compress/decompress round trip "
                f"({len(original)} bytes in, {len(message)} out); please report this"
            )
