"""Node's zlib (ws, Socket.IO), called as ws calls it, in node processes.

The node side (``codec.js``, ``memory.js``) and its Python driver stay in :mod:`wsztune.nodejs`;
this module turns what they measure into results cells, as every codec does
(:func:`wsztune.codecs.base.cell_fields`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from wsztune.codec import Setting
from wsztune.codecs.base import (
    PROBE_PAYLOAD,
    CellDone,
    CellMemory,
    CodecInfo,
    CorpusSummary,
    TimingPlan,
    cell_fields,
    timing_of,
)
from wsztune.corpus import SERVER, Stream

NAME = "node"


@dataclass(frozen=True)
class NodeCodec:
    """Node's bundled zlib as the sweep's codec."""

    name: str = NAME

    def check(self) -> None:
        """Node missing or broken: one line, exit 2, before any work."""
        from wsztune.nodejs import node_versions

        node_versions()

    def describe(self) -> CodecInfo:
        """Node's zlib version, node's versions and its timing and memory methods."""
        from wsztune.nodejs import backend as node
        from wsztune.nodejs import node_versions

        return CodecInfo(
            NAME,
            node_versions()["zlib"],
            clock=node.CLOCK_NAME,
            meta={
                "node": node.describe(),
                "memory_method": node.MEMORY_METHOD.format(
                    n=node.MEMORY_CONNECTIONS, probe=len(PROBE_PAYLOAD)
                ),
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
        """Measure every setting with Node's zlib as ws calls it (sizes, round trip, timing),
        then the memory of a connection in fresh node processes; report cells as they complete."""
        measure_with_runtime(streams, order, plan, jobs, finished)


CellMaker = Callable[
    [Sequence[Stream], Setting, Any, Any, TimingPlan, CorpusSummary], dict[str, object]
]


def measure_with_runtime(
    streams: Sequence[Stream],
    order: Sequence[Setting],
    plan: TimingPlan,
    jobs: int,
    finished: CellDone,
    *,
    runtime: str | None = None,
    make_cell: CellMaker | None = None,
    fresh_output: bool = False,
) -> None:
    """Run ``codec.js`` and ``memory.js`` over every setting with ``runtime`` (node by default;
    Bun runs them too, with its own zlib) and report each cell, built by ``make_cell`` (by
    default :func:`node_cell`: ws's lazily built streams), as it completes. ``fresh_output``:
    every message deflated into a fresh output buffer (uWebSockets' way, Bun's)."""
    from wsztune.nodejs import backend as node
    from wsztune.nodejs import phase
    from wsztune.nodejs.memory_cache import default_cache

    make_cell = make_cell or node_cell
    summary = CorpusSummary.of(streams)
    directions = [stream.direction for stream in streams]
    jobs_for = [node.NodeJob.of(index, setting) for index, setting in enumerate(order)]
    timing = plan.helper_job()  # None: sizes (round trip checked) only
    with node.corpus_file([stream.payloads for stream in streams]) as path:
        # Memory first, in its own processes, never while timing.
        with phase("memory probes"):
            memory = node.measure_memory(
                path,
                [list(stream.sizes()) for stream in streams],
                summary.compressor_stream,
                summary.decompressor_stream,
                jobs_for,
                jobs=jobs,
                node=runtime,
                cache=default_cache(read=plan.use_cache),
                # Derived cells were measured to hold for Node's zlib (Chromium's), not for
                # another runtime's (Bun: Cloudflare's): that one probes every cell.
                derive=plan.derive_memory and runtime is None,
            )

        def done(result: node.NodeCell) -> None:
            job = jobs_for[result.id]
            finished(
                make_cell(
                    streams,
                    order[result.id],
                    result,
                    memory[node.memory_key(job)],
                    plan,
                    summary,
                )
            )

        # One process per core, pinned to it (or two per core where they cannot be pinned);
        # each times its cells with its own CPU time.
        processes = node.processes_for(jobs)
        with phase("timing passes" if timing else "sizes"):
            node.run_cells(
                path,
                directions,
                jobs_for,
                timing=timing,
                jobs=processes,
                on_cell=done,
                node=runtime,
                fresh_output=fresh_output,
            )


def codec(name: str = NAME) -> NodeCodec:
    """The registry's constructor (:data:`wsztune.codecs.CODECS`)."""
    return NodeCodec(name)


@dataclass(frozen=True)
class ZlibShares:
    """Share of a corpus's connections on which a ws server builds each zlib stream.

    ws creates a connection's deflate stream on the first message it compresses, and its
    inflate stream on the first compressed message it receives (``lib/permessage-deflate.js``:
    ``_compress`` / ``_decompress``), then keeps them (``reset()`` without context takeover
    does not free zlib's memory). A message under the threshold goes out raw and builds
    nothing, so a connection whose messages one way are all short never pays for that stream.
    """

    compressor: float
    decompressor: float


def node_shares(
    streams: Sequence[Stream], compressed_messages: Sequence[int], threshold: int
) -> ZlibShares:
    """:class:`ZlibShares` of ``streams`` from node's count of compressed messages per stream.

    A server stream with a compressed message builds the server's deflate stream; a client
    stream with one, the server's inflate stream. A connection with no client message is
    assumed to send :data:`PROBE_PAYLOAD` (a real client says something; ``live`` replays it),
    which is compressed when it reaches ``threshold`` (the effective one: 0 means every
    message). A corpus with no connection counts as one that builds both.
    """
    built: dict[str, list[bool]] = {}
    for stream, count in zip(streams, compressed_messages, strict=True):
        flags = built.setdefault(stream.connection, [False, False, False])
        if stream.direction == SERVER:
            flags[0] = flags[0] or count > 0
        else:
            flags[1] = flags[1] or count > 0
            flags[2] = flags[2] or len(stream) > 0  # the client said something itself
    if not built:
        return ZlibShares(1.0, 1.0)
    probe_compressed = len(PROBE_PAYLOAD) >= threshold
    compressors = sum(flags[0] for flags in built.values())
    decompressors = sum(
        flags[1] or (not flags[2] and probe_compressed) for flags in built.values()
    )
    return ZlibShares(compressors / len(built), decompressors / len(built))


def node_cell(
    streams: Sequence[Stream],
    setting: Setting,
    result: Any,
    memory: Any,
    plan: TimingPlan,
    summary: CorpusSummary,
    shares: ZlibShares | None = None,
) -> dict[str, object]:
    """A results cell from what node measured (``NodeCell``, ``NodeMemory``): the same fields,
    in the same order, as every codec gives. ``shares``: the connections that build each stream
    (default: ws's, built lazily, :func:`node_shares`)."""
    timing = timing_of(result, plan)
    # ws builds each zlib stream lazily: a connection pays for the ones it uses (ZlibShares);
    # the *_observed fields stay what one built stream holds. RSS never shrinks back within
    # the probe: what it holds after the work covers the peak.
    if shares is None:
        shares = node_shares(streams, result.compressed_messages, setting.threshold)
    expected = shares.compressor * memory.compressor + shares.decompressor * memory.decompressor
    # Two RSS-based figures closer than this are a tie (recommend breaks it by preference).
    resolution = (
        shares.compressor * memory.compressor_resolution
        + shares.decompressor * memory.decompressor_resolution
    )
    return cell_fields(
        streams,
        setting,
        summary,
        result.sizes,
        timing,
        CellMemory(
            compressor=memory.compressor,
            compressor_peak=memory.compressor,
            decompressor=memory.decompressor,
            decompressor_peak=memory.decompressor,
            connection=round(expected),
            compressor_share=shares.compressor,
            decompressor_share=shares.decompressor,
            resolution=round(resolution),
            source=memory.source,
        ),
        compressed_messages=sum(result.compressed_messages),
    )
