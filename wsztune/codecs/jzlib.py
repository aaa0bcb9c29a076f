"""JZlib, the pure-Java port of zlib, as Netty calls it when its window is not 15 bits.

Netty 4.1 compresses permessage-deflate with ``ZlibCodecFactory.newZlibEncoder(ZlibWrapper.NONE,
level, windowBits, 8)`` (DeflateEncoder.java), which returns the JDK's Deflater (the system zlib)
only at windowBits 15 and memLevel 8, and a ``JZlibEncoder`` (com.jcraft.jzlib) for anything else
(ZlibCodecFactory.java, netty 4.1.48). This codec makes those bytes: per message one
``deflate(Z_SYNC_FLUSH)`` of a raw-deflate JZlib ``Deflater`` (JZlibEncoder.encode), the
``00 00 ff ff`` tail stripped (DeflateEncoder.compressContent), an empty message sent as the single
byte ``00`` without touching the compressor (DeflateEncoder.EMPTY_DEFLATE_BLOCK), and without
context takeover a fresh compressor per message (DeflateEncoder.cleanup). Frames are inflated back
with the JDK's ``Inflater(nowrap=true)``, Netty's ``JdkZlibDecoder``, to check the round trip.

The work is done by a Java helper shipped as source in this package (``jzlibhelper/``), compiled on
first use with the user's ``javac`` against the system's ``jzlib.jar`` (Debian: libjzlib-java)
into wsztune's cache, and run with ``java``. The client direction is compressed the same way at
the client's window (the client is modelled with the server's library, as the zlib codec does).

Memory: JZlib allocates all of a compressor's arrays in ``deflateInit`` (Deflate.java, 1.1.3):
``window`` 2·2^w bytes, ``prev`` 2^w shorts, ``head`` 2^(memLevel+7) shorts, ``pending_buf``
3·2^(memLevel+6) bytes and ``l_buf`` 2^(memLevel+6) bytes, which is zlib's formula
``2^(w+2) + 2^(memLevel+9)``, plus 5,621 bytes of Huffman trees and heaps (:data:`TREE_BYTES`).
That is the theory; the observation is what the JVM counts as allocated by the thread while one
compressor is built (``com.sun.management.ThreadMXBean.getThreadAllocatedBytes``: object headers
and JZlib's own objects included), and while it compresses the first message (the peak). The
server's decompressor is the JDK's Inflater, native zlib at 15 bits whatever the window: it is
observed as zlib's (tracemalloc over CPython's zlib, the same system library).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from wsztune.codecs.base import (
    CellDone,
    CellMemory,
    CodecInfo,
    CorpusSummary,
    TimingPlan,
    cell_fields,
    timing_of,
)
from wsztune.corpus import CLIENT, Stream
from wsztune.errors import SettingError, ToolUnavailable
from wsztune.memory import compressor_theory
from wsztune.permessage_deflate import Setting, get_zlib_module
from wsztune.programs import (
    Helper,
    HelperCell,
    core_for,
    find_program,
    helper_cell_fields,
    helper_failed,
    run_job_files,
    write_corpus,
)

NAME = "jzlib"
TITLE = "JZlib"  # how results name it (a cell's ``codec``)
JAVA_ENV = "WSZTUNE_JAVA"
JAVAC_ENV = "WSZTUNE_JAVAC"
JAR_ENV = "WSZTUNE_JZLIB_JAR"  # a jzlib.jar to use instead of Debian's
DEBIAN_JAR = Path("/usr/share/java/jzlib.jar")
HELPER_SOURCE = Path(__file__).resolve().parent / "jzlibhelper" / "WsztuneJZlib.java"
MAIN_CLASS = "WsztuneJZlib"
INSTALL = "install a JDK and JZlib (Debian: apt install default-jdk-headless libjzlib-java)"
# JZlib's Deflate arrays that do not depend on the window or memLevel (Deflate.java 1.1.3):
# dyn_ltree 1146 + dyn_dtree 122 + bl_tree 78 + bl_count 16 + next_code 16 shorts, heap 573 ints,
# depth 573 bytes.
TREE_BYTES = 2 * (1146 + 122 + 78 + 16 + 16) + 4 * 573 + 573
# Netty's decoder: the JDK's Inflater(nowrap=true), zlib's inflateInit2 at 15 bits.
DECODER_BITS = 15
CLOCK_NAME = "JVM thread CPU time (ThreadMXBean.getCurrentThreadCpuTime), after 0.2 s of warm-up"
MEMORY_METHOD = (
    "compressor: bytes the JVM allocated (ThreadMXBean.getThreadAllocatedBytes) while one JZlib "
    "Deflater was built (held: JZlib allocates all of its arrays in deflateInit) and while it "
    "compressed the largest server stream's first message (peak); decompressor: the JDK's "
    "Inflater (Netty's JdkZlibDecoder), native zlib at 15 bits, observed with tracemalloc over "
    "CPython's zlib; theory: zlib's formula (JZlib allocates the same arrays) plus "
    f"{TREE_BYTES} B of JZlib's Huffman trees"
)


class JZlibUnavailable(ToolUnavailable):
    """java, javac or jzlib.jar missing, or the helper does not build: one line, exit 2."""


# Finding Java and building the helper --------------------------------------------------------


def find_java() -> str:
    """Path of ``java`` (``$WSZTUNE_JAVA``, else PATH), or a one-line error."""
    return find_program("java", JAVA_ENV, JZlibUnavailable, INSTALL)


def find_javac() -> str:
    """Path of ``javac`` (``$WSZTUNE_JAVAC``, else PATH), or a one-line error."""
    return find_program("javac", JAVAC_ENV, JZlibUnavailable, INSTALL)


def find_jar() -> Path:
    """The jzlib.jar to compile and run against (``$WSZTUNE_JZLIB_JAR``, else Debian's)."""
    given = os.environ.get(JAR_ENV)
    jar = Path(given) if given else DEBIAN_JAR
    if not jar.is_file():
        where = f"{JAR_ENV}={given} is not a file" if given else f"{DEBIAN_JAR} is missing"
        raise JZlibUnavailable(f"JZlib is not installed ({where}): {INSTALL} or set {JAR_ENV}")
    return jar


def jar_version(jar: Path) -> str:
    """JZlib's version from its jar's manifest (``Bundle-Version``; ``JZlib.version()`` still
    says 1.1.0 in 1.1.3), or ``unknown``."""
    try:
        with zipfile.ZipFile(jar) as archive:
            manifest = archive.read("META-INF/MANIFEST.MF").decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile):
        return "unknown"
    for line in manifest.splitlines():
        for key in ("Bundle-Version:", "Implementation-Version:"):
            if line.startswith(key):
                return line[len(key) :].strip()
    return "unknown"


def java_version(java: str) -> str:
    """``java -version``'s version string (``17.0.15``)."""
    try:
        completed = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=True
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise JZlibUnavailable(f"{java} does not run: {error}") from None
    first = (completed.stderr or completed.stdout).splitlines()[0] if completed.stderr else ""
    return first.split('"')[1] if first.count('"') >= 2 else first.strip() or "unknown"


def cache_dir() -> Path:
    """Where the compiled helper is kept (wsztune's cache: ``$WSZTUNE_CACHE`` or XDG)."""
    from wsztune.programs.cache import default_cache_dir

    return default_cache_dir()


@dataclass(frozen=True)
class Runtime:
    """What running the helper takes: the java command line up to the helper's arguments."""

    java: str
    java_version: str
    jar: Path
    classes: Path

    def command(self, *arguments: str) -> list[str]:
        """``java -cp jzlib.jar:classes WsztuneJZlib ARGUMENTS``."""
        return [
            self.java,
            "-XX:+UseSerialGC",  # one GC thread: a helper stays on its core
            "-Xshare:auto",
            "-cp",
            f"{self.jar}{os.pathsep}{self.classes}",
            MAIN_CLASS,
            *arguments,
        ]


def runtime(notice: Callable[[str], None] | None = None) -> Runtime:
    """The helper, compiled first when needed (once per source, JDK and jar), with a notice
    the first time; a missing JDK or jar, or a failed build, is one line (exit 2)."""
    java = find_java()
    jar = find_jar()
    version = java_version(java)
    digest = hashlib.sha256(
        HELPER_SOURCE.read_bytes() + version.encode() + str(jar.resolve()).encode()
    ).hexdigest()[:16]
    classes = cache_dir() / f"wsztune-jzlib-{digest}"
    if (classes / f"{MAIN_CLASS}.class").is_file():
        return Runtime(java, version, jar, classes)
    javac = find_javac()
    say = notice or (lambda text: print(text, file=sys.stderr))
    say(f"note: compiling wsztune's JZlib helper with Java {version} (once) into {classes}")
    classes.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=".wsztune-jzlib-", dir=classes.parent))
    try:
        completed = subprocess.run(
            [javac, "-nowarn", "-d", str(partial), "-cp", str(jar), str(HELPER_SOURCE)],
            capture_output=True,
            text=True,
            timeout=600,
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise JZlibUnavailable(f"compiling the JZlib helper failed: {error}") from None
    if completed.returncode != 0:
        first = next((line for line in completed.stderr.splitlines() if line.strip()), "")
        raise JZlibUnavailable(f"compiling the JZlib helper failed: {first.strip()}")
    try:
        os.rename(partial, classes)  # atomic: a concurrent build never leaves half the classes
    except OSError:
        if not (classes / f"{MAIN_CLASS}.class").is_file():
            raise
    return Runtime(java, version, jar, classes)


# Cells -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JZlibJob:
    """One cell for the helper: both directions' compressors."""

    id: int
    level: int
    server_bits: int
    client_bits: int
    mem_level: int
    client_level: int
    client_mem_level: int
    context_takeover: bool
    threshold: int

    @classmethod
    def of(cls, index: int, setting: Setting) -> JZlibJob:
        """The job for ``setting``; a strategy JZlib's callers cannot set is refused."""
        if setting.strategy != "default":
            raise SettingError(
                f"the jzlib codec has no strategy {setting.strategy!r}: Netty never sets one "
                "(drop --strategy)"
            )
        for level in (setting.level, setting.sender(CLIENT).level):
            if level < -1:
                raise SettingError(f"JZlib's levels are 0-9 (or -1 for 6), not {level}")
        client = setting.sender(CLIENT)
        return cls(
            index,
            setting.level,
            setting.server_bits,
            setting.client_bits,
            setting.mem_level,
            client.level,
            client.mem_level,
            setting.context_takeover,
            setting.threshold,
        )

    def line(self) -> str:
        """The job file's ``cell`` line."""
        return (
            f"cell {self.id} {self.level} {self.server_bits} {self.client_bits} {self.mem_level} "
            f"{self.client_level} {self.client_mem_level} {int(self.context_takeover)} "
            f"{self.threshold}"
        )


class JZlibCell(HelperCell):
    """What the JZlib helper measured for one cell."""


def _decode(line: str) -> JZlibCell:
    return JZlibCell(**helper_cell_fields(json.loads(line)))


def run_cells(
    corpus: Path,
    directions: Sequence[str],
    jobs_for: Sequence[JZlibJob],
    *,
    timing: dict[str, float] | None = None,
    jobs: int = 1,
    on_cell: Callable[[JZlibCell], None] | None = None,
) -> list[JZlibCell]:
    """Measure ``jobs_for`` in ``jobs`` JVMs side by side; results in job order."""
    java = runtime()
    jobs = max(1, min(jobs, len(jobs_for)))
    timing_line = (
        "timing none"
        if timing is None
        else f"timing {timing['repeat']} {timing['warmup']} {timing['min_sample_seconds']}"
    )

    def write_job(path: Path, share: Sequence[JZlibJob]) -> None:
        lines = [f"corpus {corpus}", "directions " + " ".join(directions), timing_line]
        path.write_text("\n".join([*lines, *(job.line() for job in share)]) + "\n", "utf-8")

    def command(path: Path, index: int) -> Helper:
        return Helper(java.command("cells", str(path)), core_for(index) if jobs > 1 else None)

    return run_job_files(
        jobs_for, jobs, write_job, command, _decode, name="JZlib codec", on_result=on_cell
    )


@dataclass(frozen=True)
class CompressorMemory:
    """One JZlib compressor as the JVM counted its allocations, in bytes."""

    held: int
    peak: int


def measure_memory(
    corpus: Path, stream: int, keys: Sequence[tuple[int, int, int]]
) -> dict[tuple[int, int, int], CompressorMemory]:
    """Per distinct (level, window bits, memLevel): what one compressor allocates, observed in
    one JVM (three rounds each, the smallest kept: the first counts class loading)."""
    java = runtime()
    distinct = list(dict.fromkeys(keys))
    specs = [f"{level}:{bits}:{mem_level}" for level, bits, mem_level in distinct]
    completed = subprocess.run(
        java.command("memory", str(corpus), str(stream), *specs),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if completed.returncode != 0:
        raise helper_failed("JZlib memory probe", completed.returncode, completed.stderr)
    lines = completed.stdout.splitlines()
    return {
        key: CompressorMemory(**json.loads(line)) for key, line in zip(distinct, lines, strict=True)
    }


def frames(payloads: Sequence[bytes], setting: Setting, bits: int | None = None) -> list[bytes]:
    """Each message's frame payload as JZlib, called as Netty calls it, makes it for one stream
    at ``setting`` (the server's window unless ``bits``): the model the tests compare Netty's
    wire bytes with."""
    import struct

    java = runtime()
    bits = setting.server_bits if bits is None else bits
    with tempfile.TemporaryDirectory(prefix="wsztune-jzlib-frames-") as directory:
        path = Path(directory) / "messages.bin"
        with path.open("wb") as out:
            for payload in payloads:
                out.write(struct.pack("<I", len(payload)))
                out.write(payload)
        completed = subprocess.run(
            java.command(
                "frames",
                str(path),
                str(setting.level),
                str(bits),
                str(setting.mem_level),
                "1" if setting.context_takeover else "0",
            ),
            capture_output=True,
            text=True,
            timeout=600,
        )
    if completed.returncode != 0:
        raise helper_failed("JZlib helper", completed.returncode, completed.stderr)
    return [bytes.fromhex(line) for line in completed.stdout.splitlines()]


# The codec --------------------------------------------------------------------------------------


def jzlib_theory(bits: int, mem_level: int) -> int:
    """What JZlib's source allocates for one compressor: zlib's formula plus its trees."""
    return compressor_theory(bits, mem_level) + TREE_BYTES


@dataclass(frozen=True)
class JZlibCodec:
    """JZlib as Netty's JZlibEncoder calls it, as the sweep's codec."""

    name: str = NAME

    def check(self) -> None:
        """java, javac or jzlib.jar missing, or the helper not compiling: one line, exit 2."""
        runtime()

    def describe(self) -> CodecInfo:
        """JZlib's and Java's versions, the timing clock and the memory method."""
        java = runtime()
        version = jar_version(java.jar)
        return CodecInfo(
            self.name,
            version,
            clock=CLOCK_NAME,
            meta={
                "jzlib": {
                    "jzlib_version": version,
                    "jar": str(java.jar),
                    "java_version": java.java_version,
                    "called_as": "Netty's JZlibEncoder: raw deflate, one deflate(Z_SYNC_FLUSH) "
                    "per message; inflated by the JDK's Inflater (JdkZlibDecoder)",
                },
                "memory_method": MEMORY_METHOD,
            },
        )

    def measure(
        self,
        streams: Sequence[Stream],
        order: Sequence[Setting],
        plan: TimingPlan,
        jobs: int,
        finished: CellDone,
    ) -> None:
        """Sizes (round trip checked by the JDK's Inflater), timing, then memory."""
        summary = CorpusSummary.of(streams)
        directions = [stream.direction for stream in streams]
        jobs_for = [JZlibJob.of(index, setting) for index, setting in enumerate(order)]
        with tempfile.TemporaryDirectory(prefix="wsztune-jzlib-") as directory:
            path = Path(directory) / "corpus.bin"
            write_corpus([stream.payloads for stream in streams], path)
            # Memory first, in its own JVM, never while timing.
            memory = measure_memory(
                path,
                summary.compressor_stream,
                [(job.level, job.server_bits, job.mem_level) for job in jobs_for],
            )
            decoders: dict[tuple, CellMemory] = {}

            def done(result: JZlibCell) -> None:
                job = jobs_for[result.id]
                setting = order[result.id]
                compressor = memory[(job.level, job.server_bits, job.mem_level)]
                key = (setting.context_takeover, setting.threshold, setting.client_level,
                       setting.client_mem_level)
                if key not in decoders:
                    decoders[key] = decoder_memory(streams, setting, summary)
                finished(jzlib_cell(streams, setting, result, compressor, decoders[key],
                                    plan, summary))

            run_cells(path, directions, jobs_for, timing=plan.helper_job(), jobs=jobs,
                      on_cell=done)


def decoder_memory(
    streams: Sequence[Stream], setting: Setting, summary: CorpusSummary
) -> CellMemory:
    """The server's decompressor: the JDK's Inflater, zlib at 15 bits (observed as zlib's)."""
    from wsztune.codecs.zlib import observe_connection

    netty = replace(setting, window_bits=DECODER_BITS, client_window_bits=DECODER_BITS)
    observed = observe_connection(streams, netty, get_zlib_module("zlib"), summary)
    decompressor = observed.decompressor
    return CellMemory(0, 0, decompressor.held, decompressor.peak, 0, 1.0, 1.0)


def jzlib_cell(
    streams: Sequence[Stream],
    setting: Setting,
    result: JZlibCell,
    compressor: CompressorMemory,
    decoder: CellMemory,
    plan: TimingPlan,
    summary: CorpusSummary,
) -> dict[str, object]:
    """A results cell from what the helper measured, with JZlib's memory and theory."""
    from wsztune.memory import decompressor_theory

    cell = cell_fields(
        streams,
        setting,
        summary,
        result.sizes,
        timing_of(result, plan),
        CellMemory(
            compressor=compressor.held,
            compressor_peak=compressor.peak,
            decompressor=decoder.decompressor,
            decompressor_peak=decoder.decompressor_peak,
            connection=compressor.held + decoder.decompressor,
            compressor_share=1.0,
            decompressor_share=1.0,
        ),
        compressed_messages=sum(result.compressed_messages),
    )
    compress_theory = jzlib_theory(setting.server_bits, setting.mem_level)
    decompress_theory = decompressor_theory(DECODER_BITS)
    cell.update(
        compress_memory_theoretical=compress_theory,
        decompress_memory_theoretical=decompress_theory,
        connection_memory_theoretical=compress_theory + decompress_theory,
    )
    return cell


def codec(name: str = NAME) -> JZlibCodec:
    """The registry's constructor (:data:`wsztune.codecs.CODECS`)."""
    return JZlibCodec(name)
