"""codecs/zlib.py: a cell measured in this process, held to CPython's zlib called directly."""

from __future__ import annotations

import zlib

import pytest

from tests.support.samples import chat_messages, document_messages
from wsztune.codecs import get_codec
from wsztune.codecs.base import CorpusSummary, TimingPlan, frame_header_size
from wsztune.codecs.zlib import measure_cell, observe_connection
from wsztune.corpus import CLIENT, SERVER, Stream
from wsztune.permessage_deflate import Setting, get_zlib_module
from wsztune.results import TIME_FIELD_NAMES


@pytest.fixture(autouse=True)
def _no_sink_left() -> object:
    """Tests here time broadcasts outside a sweep (which closes its sink itself): close the
    sink they open, so that no reading process outlives its test (later tests count children)."""
    from wsztune.programs.sink import close_sink

    yield
    close_sink()

TAIL = b"\x00\x00\xff\xff"
QUICK = TimingPlan(repeat=3, warmup=1, min_sample_seconds=0.0)
SIZES_ONLY = TimingPlan(measure_time=False)


def streams() -> list[Stream]:
    """One connection: chat from the server, documents from the client."""
    return [
        Stream("c1", SERVER, chat_messages(120)),
        Stream("c1", CLIENT, document_messages(12)),
    ]


def zlib_frames(payloads: list[bytes], setting: Setting, bits: int) -> list[bytes]:
    """What permessage-deflate sends, from zlib itself: raw deflate, a sync flush, the empty
    block's 4 bytes dropped (RFC 7692 7.2.1); one compressor per message without takeover."""
    frames = []
    compressor = None
    for payload in payloads:
        if compressor is None or not setting.context_takeover:
            compressor = zlib.compressobj(setting.level, zlib.DEFLATED, -bits, setting.mem_level)
        output = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
        assert output.endswith(TAIL)
        frames.append(output[:-4])
    return frames


@pytest.mark.parametrize(
    "setting",
    [
        Setting(window_bits=15, mem_level=8),
        Setting(window_bits=10, mem_level=4, level=6),
        Setting(window_bits=12, mem_level=5, level=1, context_takeover=False),
        Setting(window_bits=13, mem_level=9, client_window_bits=9),
    ],
    ids=lambda setting: setting.label,
)
def test_sizes_equal_zlibs_own_output(setting: Setting) -> None:
    corpus = streams()
    cell = measure_cell(corpus, setting, get_zlib_module("zlib"), SIZES_ONLY)

    server = zlib_frames(list(corpus[0].payloads), setting, setting.window_bits)
    client_bits = setting.client_window_bits or setting.window_bits
    client = zlib_frames(list(corpus[1].payloads), setting, client_bits)
    assert cell["server_compressed_bytes"] == sum(map(len, server))
    assert cell["client_compressed_bytes"] == sum(map(len, client))
    assert cell["compressed_bytes"] == sum(map(len, server)) + sum(map(len, client))
    raw = corpus[0].raw_bytes + corpus[1].raw_bytes
    assert cell["raw_bytes"] == raw
    assert cell["savings"] == pytest.approx(1 - cell["compressed_bytes"] / raw)
    # On the wire every frame has its header; the client's are masked.
    assert cell["wire_compressed_bytes"] == sum(
        len(frame) + frame_header_size(len(frame), masked=False) for frame in server
    ) + sum(len(frame) + frame_header_size(len(frame), masked=True) for frame in client)
    assert cell["frames"] == cell["messages"] == cell["compressed_messages"] == 132


def test_the_timed_path_gives_the_same_sizes_and_every_timing_field() -> None:
    corpus = streams()
    setting = Setting(window_bits=11, mem_level=3)
    untimed = measure_cell(corpus, setting, get_zlib_module("zlib"), SIZES_ONLY)
    timed = measure_cell(corpus, setting, get_zlib_module("zlib"), QUICK)

    for name in ("compressed_bytes", "wire_compressed_bytes", "unit_compressed_bytes"):
        assert timed[name] == untimed[name]
    assert all(untimed[name] is None for name in TIME_FIELD_NAMES)
    for side in ("compress", "decompress"):
        low, median, high = (timed[f"{side}_seconds{end}"] for end in ("_min", "", "_max"))
        assert 0 < low <= median <= high
        assert 0 <= timed[f"{side}_seconds_iqr"] <= high - low
        assert timed[f"timing_loops_{side}"] >= 1
    assert timed["timing_repeat"] == 3
    assert isinstance(timed["timing_unstable"], bool)


def test_memory_is_the_connections_compressor_and_decompressor() -> None:
    corpus = streams()
    setting = Setting(window_bits=12, mem_level=6)
    cell = measure_cell(corpus, setting, get_zlib_module("zlib"), SIZES_ONLY)
    memory = observe_connection(corpus, setting, get_zlib_module("zlib"))

    assert cell["compress_memory_observed"] == memory.compressor.held > 0
    assert cell["decompress_memory_observed"] == memory.decompressor.held > 0
    assert cell["connection_memory"] == memory.held
    # A bigger window and memLevel cost more, as zlib's formula says.
    bigger = measure_cell(
        corpus, Setting(window_bits=15, mem_level=9), get_zlib_module("zlib"), SIZES_ONLY
    )
    assert bigger["compress_memory_observed"] > cell["compress_memory_observed"]
    assert cell["compressor_share"] == cell["decompressor_share"] == 1.0


def test_a_threshold_sends_short_messages_as_they_are() -> None:
    short, long = b'{"ok":1}', document_messages(1)[0]
    corpus = [Stream("c1", SERVER, [short, long, short])]
    setting = Setting(threshold=64)
    cell = measure_cell(corpus, setting, get_zlib_module("zlib"), SIZES_ONLY)

    (compressed,) = zlib_frames([long], setting, 15)
    assert cell["compressed_messages"] == 1
    assert cell["server_compressed_bytes"] == 2 * len(short) + len(compressed)


def test_the_registry_builds_it_and_it_describes_its_runtime() -> None:
    codec = get_codec("zlib")
    codec.check()
    info = codec.describe()
    assert (info.name, info.version) == ("zlib", zlib.ZLIB_RUNTIME_VERSION)
    cells: list[dict[str, object]] = []
    order = [Setting(window_bits=9, mem_level=1), Setting(window_bits=14, mem_level=7)]
    codec.measure(streams(), order, SIZES_ONLY, 1, cells.append)
    assert [(cell["window_bits"], cell["mem_level"]) for cell in cells] == [(9, 1), (14, 7)]
    summary = CorpusSummary.of(streams())
    assert all(cell["messages"] == summary.messages for cell in cells)


# A broadcast's deliveries: python-websockets' own per-message path --------------------------------


def _payload_of(data: bytes) -> bytes:
    """The payload of one unmasked server frame."""
    length = data[1] & 0x7F
    if length == 126:
        length = int.from_bytes(data[2:4], "big")
    return data[frame_header_size(length, masked=False):]


@pytest.mark.parametrize("module", ["zlib", "zlib-ng"])
@pytest.mark.parametrize("takeover", [True, False])
def test_broadcast_senders_are_websockets_own_and_make_the_cell_bytes(
    module: str, takeover: bool
) -> None:
    """Each subscriber of a timed broadcast is websockets' ServerProtocol with its
    PerMessageDeflate: its frames carry exactly what the run's compressor makes (RSV1 set), and
    without compression the message as is."""
    pytest.importorskip("websockets")
    if module == "zlib-ng":
        pytest.importorskip("zlib_ng")
    from wsztune.codecs import zlib as zlib_codec

    zlib_module = get_zlib_module(module)
    setting = Setting(window_bits=12, mem_level=5, context_takeover=takeover)
    payloads = chat_messages(30)
    classes = zlib_codec._server_protocol_classes()
    assert classes is not None
    [on] = zlib_codec._server_senders(classes, 1, setting, 12, zlib_module, compress=True)
    [off] = zlib_codec._server_senders(classes, 1, setting, 12, zlib_module, compress=False)
    compressor = zlib_codec.new_compressor(setting, 12, zlib_module)
    expected = []
    for payload in payloads:  # the run's own compressor, as the cell's frames are made
        if not takeover:
            compressor = zlib_codec.new_compressor(setting, 12, zlib_module)
        flushed = compressor.compress(payload) + compressor.flush(zlib_module.module.Z_SYNC_FLUSH)
        expected.append(flushed[:-4])
    for payload, frame in zip(payloads, expected, strict=True):
        [sent] = on(payload)  # type: ignore[misc]
        assert sent[0] == 0x82 | 0x40 and _payload_of(sent) == frame
        [plain] = off(payload)  # type: ignore[misc]
        assert plain[0] == 0x82 and _payload_of(plain) == payload


def test_broadcast_time_is_websockets_encode_less_the_uncompressed_send(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With websockets installed, a delivery is timed through its extension's encode, once per
    subscriber and message; without it, through the zlib calls alone."""
    pytest.importorskip("websockets")
    from websockets.extensions.permessage_deflate import PerMessageDeflate

    from wsztune.codecs import zlib as zlib_codec

    encoded: list[int] = []
    real = PerMessageDeflate.encode

    def counted(self: PerMessageDeflate, frame: object) -> object:
        encoded.append(1)
        return real(self, frame)  # type: ignore[arg-type]

    monkeypatch.setattr(PerMessageDeflate, "encode", counted)
    setting = Setting(window_bits=12, mem_level=5)
    plan = TimingPlan(repeat=2, warmup=1, min_sample_seconds=0.0, fanout=3)
    fields = zlib_codec.time_deliveries(streams(), setting, get_zlib_module("zlib"), plan)
    assert fields["delivery_compressors"] == 3
    assert isinstance(fields["compress_seconds_per_delivery"], float)
    assert fields["compress_seconds_per_delivery"] >= 0
    # Three subscribers x (the primed messages + every timed and warm-up stretch's).
    assert len(encoded) > 0 and len(encoded) % 3 == 0
    encoded.clear()
    monkeypatch.setattr(zlib_codec, "_server_protocol_classes", lambda: None)
    fields = zlib_codec.time_deliveries(streams(), setting, get_zlib_module("zlib"), plan)
    assert not encoded and isinstance(fields["compress_seconds_per_delivery"], float)


def test_each_delivery_is_written_to_its_subscriber_socket_on_and_off_in_turns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A timed broadcast writes every subscriber's frame to that subscriber's own socket (a
    real server's ``transport.write``), compressed and plain alike, on and off taking turns
    message by message."""
    pytest.importorskip("websockets")
    from wsztune.codecs import zlib as zlib_codec

    class Recorder:
        def __init__(self, number: int) -> None:
            self.number = number

        def sendall(self, data: bytes) -> None:
            written.append((self.number, data[0] & 0x40 == 0x40, bytes(data)))

    class FakeSink:
        sockets = [Recorder(0), Recorder(1), Recorder(2)]

        def socket_for(self, number: int) -> Recorder:
            return self.sockets[number]

    written: list[tuple[int, bool, bytes]] = []
    monkeypatch.setattr(zlib_codec, "sink_for", lambda count: FakeSink())
    setting = Setting(window_bits=12, mem_level=5)
    plan = TimingPlan(repeat=2, warmup=1, min_sample_seconds=0.0, fanout=3)
    fields = zlib_codec.time_deliveries(streams(), setting, get_zlib_module("zlib"), plan)
    assert isinstance(fields["compress_seconds_per_delivery"], float)
    # Every broadcast reached the three subscribers' sockets in order, one frame each.
    assert written and len(written) % 3 == 0
    for first in range(0, len(written), 3):
        group = written[first:first + 3]
        assert [number for number, _, _ in group] == [0, 1, 2]
        assert len({compressed for _, compressed, _ in group}) == 1
    # The plain frames carry the messages as they are; compressed and plain alternate in
    # the timed stretches (on first, then off first), so runs of one kind stay short.
    kinds = [compressed for _, compressed, _ in written[::3]]
    plain = [data for _, compressed, data in written if not compressed]
    server = {bytes(payload) for stream in streams() if stream.direction == SERVER
              for payload in stream.buffers()}  # fmt: skip
    assert plain and all(_payload_of(data) in server for data in plain)
    tail = kinds[-8:]
    assert tail.count(False) == 4 and all(
        tail[i:i + 3].count(tail[i]) < 3 for i in range(len(tail) - 2)
    )


def test_without_loopback_sockets_a_broadcast_is_still_timed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where no loopback socket can be opened (a sandbox), the deliveries are timed with their
    bytes going nowhere instead of the run failing."""
    pytest.importorskip("websockets")
    from wsztune.codecs import zlib as zlib_codec

    def no_sockets(count: int) -> object:
        raise PermissionError("socket: operation not permitted")

    monkeypatch.setattr(zlib_codec, "sink_for", no_sockets)
    plan = TimingPlan(repeat=2, warmup=1, min_sample_seconds=0.0, fanout=3)
    setting = Setting(window_bits=12, mem_level=5)
    fields = zlib_codec.time_deliveries(streams(), setting, get_zlib_module("zlib"), plan)
    assert isinstance(fields["compress_seconds_per_delivery"], float)


def test_a_sink_whose_reader_died_stops_the_cell_with_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("websockets")
    from wsztune.codecs import zlib as zlib_codec
    from wsztune.programs.sink import SinkLost

    class Broken:
        def sendall(self, data: bytes) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    class DeadSink:
        def socket_for(self, number: int) -> Broken:
            return Broken()

    monkeypatch.setattr(zlib_codec, "sink_for", lambda count: DeadSink())
    plan = TimingPlan(repeat=2, warmup=1, min_sample_seconds=0.0, fanout=3)
    setting = Setting(window_bits=12, mem_level=5)
    with pytest.raises(SinkLost, match="run the command again"):
        zlib_codec.time_deliveries(streams(), setting, get_zlib_module("zlib"), plan)


def test_a_sweep_with_a_fanout_leaves_no_reading_process_behind() -> None:
    """The broadcast timings' sink (its sockets and the process reading them) ends with the
    sweep that opened it: a process that goes on after a sweep (a notebook, a test run) keeps
    no child from it."""
    pytest.importorskip("websockets")
    import psutil

    from wsztune import sweep
    from wsztune.programs import sink

    before = {child.pid for child in psutil.Process().children(recursive=True)}
    plan = TimingPlan(repeat=2, warmup=1, min_sample_seconds=0.0, fanout=3)
    cells = sweep.run_sweep(streams(), [Setting(window_bits=12, mem_level=5)], plan=plan)
    assert isinstance(cells[0]["compress_seconds_per_delivery"], float)
    assert sink._sink is None
    after = {child.pid for child in psutil.Process().children(recursive=True)}
    assert after <= before
