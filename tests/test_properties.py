"""Property-based tests: the codec against websockets, and the readers against arbitrary input.

Two promises are checked over inputs nobody would write by hand:

* for any payloads (text or binary, empty included) and any valid setting, wsztune's codec gives
  back every message, and its frames are byte for byte what python-websockets'
  ``PerMessageDeflate`` sends (so the sizes wsztune reports are the sizes a server pays);
* every corpus reader, fed anything at all, returns a :class:`Corpus` or raises the project's
  :class:`CorpusError`: never a traceback of some other kind.

Examples are kept few (tens) and deadlines off, so that the file runs in seconds.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode

from tests.support.websockets_reference import websockets_frames
from wsztune import corpus
from wsztune.errors import CorpusError
from wsztune.permessage_deflate import Setting, check_stream, compress_stream, get_zlib_module

ZLIB = get_zlib_module("zlib")
FAST = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Payloads: binary, text, empty, and repetitive ones (which is where deflate has work to do).
binary_payloads = st.binary(max_size=3000)
text_payloads = st.text(max_size=800).map(lambda text: text.encode("utf-8", "surrogatepass"))
repetitive_payloads = st.builds(
    lambda chunk, times: chunk * times, st.binary(min_size=1, max_size=40), st.integers(1, 200)
)
payload = st.one_of(st.just(b""), binary_payloads, text_payloads, repetitive_payloads)

valid_settings = st.builds(
    Setting,
    window_bits=st.integers(9, 15),
    mem_level=st.integers(1, 9),
    level=st.integers(-1, 9),
    context_takeover=st.booleans(),
)


@FAST
@given(payloads=st.lists(payload, max_size=12), setting=valid_settings)
def test_codec_round_trips_and_matches_websockets(payloads: list[bytes], setting: Setting) -> None:
    frames = compress_stream(payloads, setting, setting.server_bits, ZLIB)
    check_stream(frames, payloads, setting, setting.server_bits, ZLIB, setting.label)
    reference = websockets_frames(
        payloads,
        setting.window_bits,
        setting.mem_level,
        context_takeover=setting.context_takeover,
        level=setting.level,
        is_text=[False] * len(payloads),
    )
    # Byte equality implies the sizes wsztune records are exactly websockets' sizes.
    assert frames == reference
    assert [len(frame) for frame in frames] == [len(frame) for frame in reference]


@FAST
@given(
    messages=st.lists(st.tuples(payload, st.booleans()), max_size=10),
    setting=valid_settings,
)
def test_websockets_decodes_what_wsztune_encodes(
    messages: list[tuple[bytes, bool]], setting: Setting
) -> None:
    # The receiving side of websockets (client role, decoding server frames) must accept every
    # frame wsztune models, text or binary, and give the payload back unchanged.
    payloads = [data for data, _ in messages]
    frames = compress_stream(payloads, setting, setting.server_bits, ZLIB)
    receiver = PerMessageDeflate(
        not setting.context_takeover, False, setting.window_bits, setting.window_bits
    )
    for (data, is_text), frame_data in zip(messages, frames, strict=True):
        opcode = Opcode.TEXT if is_text else Opcode.BINARY
        decoded = receiver.decode(Frame(opcode, frame_data, rsv1=True), max_size=None)
        assert decoded.data == data


# Readers fed arbitrary input -------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(["server", "client", "send", "receive", "AAEC", "%%", "wsztune"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["connection", "direction", "text", "base64", "wsztune", "type", "opcode", "data"]
            )
            | st.text(max_size=5),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)

# Records: lines that look like records, with any value in any field, plus a header sometimes.
record_lines = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "connection": json_values,
            "direction": json_values | st.sampled_from(["server", "client"]),
            "text": json_values | st.text(max_size=20),
            "base64": json_values | st.sampled_from(["", "AAEC", "=", "YQ==", "a"]),
            "wsztune": st.sampled_from(["records/1", "records/2"]) | json_values,
        },
    )
    | json_values,
    max_size=6,
).map(lambda items: "\n".join(json.dumps(item) for item in items).encode())

# HAR: documents shaped like a HAR at every level, with arbitrary values in between.
har_frames = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(["send", "receive"]) | json_values,
            "opcode": st.sampled_from([1, 2, 9]) | json_values,
            "data": st.text(max_size=20) | st.sampled_from(["AAEC", "%"]) | json_values,
        },
    )
    | json_values,
    max_size=4,
)
har_documents = st.one_of(
    json_values,
    st.builds(lambda log: {"log": log}, json_values),
    st.builds(lambda entries: {"log": {"entries": entries}}, json_values),
    st.builds(
        lambda entries: {"log": {"entries": entries}},
        st.lists(
            st.fixed_dictionaries({}, optional={"_webSocketMessages": har_frames | json_values})
            | json_values,
            max_size=4,
        ),
    ),
).map(lambda document: json.dumps(document).encode())

raw_bytes = st.one_of(
    st.binary(max_size=400),
    st.lists(
        st.sampled_from([b"\n", b"\r\n", b"\r", b"\x00", b"\xff", b"{", b"[", b'"', b" "])
    ).map(b"".join),
)


def _load_or_corpus_error(path: Path, fmt: str | None) -> None:
    """Load and accept only the two outcomes the readers promise."""
    try:
        loaded = corpus.load(path, fmt)
    except CorpusError as error:
        assert "\n" not in str(error)  # one line on stderr, always
        return
    except Exception as error:  # the property: nothing else may escape a reader
        raise AssertionError(f"{fmt} reader raised {type(error).__name__}: {error}") from error
    assert isinstance(loaded, corpus.Corpus)
    assert loaded.messages
    assert all(isinstance(message.payload, bytes) for message in loaded.messages)


def _write_and_load(data: bytes, name: str, fmt: str | None) -> None:
    # A fresh directory per example: hypothesis reruns the body many times within one test.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        _load_or_corpus_error(path, fmt)


@FAST
@given(data=raw_bytes | record_lines | har_documents)
def test_line_readers_never_crash(data: bytes) -> None:
    for name, fmt in (
        ("c.jsonl", None),  # detection, records header sniffing included
        ("c.jsonl", "jsonl"),
        ("c.txt", "lines"),
        ("c.jsonl", "records"),
    ):
        _write_and_load(data, name, fmt)


@FAST
@given(data=raw_bytes | har_documents | record_lines)
def test_har_reader_never_crashes(data: bytes) -> None:
    _write_and_load(data, "c.har", None)


@FAST
@given(
    files=st.dictionaries(
        st.text(st.characters(codec="utf-8", exclude_characters="/\\\x00"), min_size=1, max_size=8),
        st.binary(max_size=200),
        max_size=6,
    )
)
def test_directory_reader_never_crashes(files: dict[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "messages"
        root.mkdir()
        for name, data in files.items():
            if name in (".", ".."):
                continue
            try:
                (root / name).write_bytes(data)
            except OSError:
                continue  # a name this filesystem refuses (too long, say) is not the reader's
        _load_or_corpus_error(root, None)
        _load_or_corpus_error(root, "dir")


def test_deeply_nested_json_is_a_corpus_error(tmp_path: Path) -> None:
    # Found while hardening: json's recursive scanner raised RecursionError out of every reader.
    deep = b"[" * 100_000 + b"\n"
    for name, fmt in (("d.jsonl", None), ("d.jsonl", "records"), ("d.har", None)):
        path = tmp_path / name
        path.write_bytes(deep)
        try:
            corpus.load(path, fmt)
        except CorpusError as error:
            assert "nested too deeply" in str(error)
        else:  # pragma: no cover - a failure
            raise AssertionError("a 100k-deep document was accepted")


def test_random_bytes_in_a_directory_with_odd_entries(tmp_path: Path) -> None:
    # Not hypothesis, but the same promise for entries random names cannot make: a FIFO (reading
    # it would block forever) and a subdirectory are skipped; regular files are messages.
    root = tmp_path / "messages"
    root.mkdir()
    (root / "a").write_bytes(os.urandom(64))
    os.mkfifo(root / "fifo")
    (root / "sub").mkdir()
    (root / "sub" / "inner").write_bytes(b"not a message of this corpus")
    loaded = corpus.load(root)
    assert len(loaded.messages) == 1
