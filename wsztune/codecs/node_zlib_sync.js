'use strict';
// ws's zlib calls made synchronously, shared by wsztune's node helpers: node.js (the sweep's
// timing passes) and node_memory.js (the compressor memory probes).

const zlib = require('zlib');

const EMPTY = Buffer.alloc(0);
// What permessage-deflate strips from each message and a receiver appends again (RFC 7692).
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

// One zlib call on a stream, made synchronously: what its asynchronous write makes on libuv's pool
// (lib/zlib.js: processChunk, processCallback), into the stream's own output buffer, which it
// advances and renews the same way (so the output is cut where ws's is), the output pushed to
// ``parts``. zlib's *Sync functions make the same native call (processChunkSync) on a stream
// they then close; this one stays open for the next message.
function writeSync(stream, chunk, flushFlag, parts) {
  const handle = stream._handle;
  const state = stream._writeState;
  let inOff = 0;
  let availIn = chunk.byteLength;
  let availOutBefore = stream._chunkSize - stream._outOffset;
  for (;;) {
    handle.writeSync(
      flushFlag, chunk, inOff, availIn, stream._outBuffer, stream._outOffset, availOutBefore,
    );
    if (stream.destroyed) throw new Error('zlib failed in a synchronous call');
    const availOutAfter = state[0];
    const availInAfter = state[1];
    const have = availOutBefore - availOutAfter;
    if (have > 0) {
      parts.push(stream._outBuffer.slice(stream._outOffset, stream._outOffset + have));
      stream._outOffset += have;
    }
    if (availOutAfter === 0 || stream._outOffset >= stream._chunkSize) {
      availOutBefore = stream._chunkSize;
      stream._outOffset = 0;
      stream._outBuffer = Buffer.allocUnsafe(stream._chunkSize);
    }
    if (availOutAfter !== 0) return;
    inOff += availIn - availInAfter; // output buffer full: more of this chunk to go
    availIn = availInAfter;
  }
}

// ws's calls for one message on a compressor, made synchronously: deflate(payload, Z_NO_FLUSH),
// deflate(empty, Z_SYNC_FLUSH), reset() without takeover. The frame: the output less its tail.
function deflateMessageSync(deflate, payload, takeover) {
  const parts = [];
  writeSync(deflate, payload, zlib.constants.Z_NO_FLUSH, parts);
  writeSync(deflate, EMPTY, zlib.constants.Z_SYNC_FLUSH, parts);
  if (!takeover) deflate.reset();
  const data = Buffer.concat(parts);
  if (data.length < 4) throw new Error('deflate flush gave under 4 bytes');
  return data.subarray(0, data.length - 4);
}

// ws's calls for one frame on a decompressor, made synchronously: inflate(frame),
// inflate(trailer), inflate(empty, Z_FULL_FLUSH: flush()'s default), reset() without takeover.
// The output's parts, left for the caller to join (a memory probe does not).
function inflateMessageSync(inflate, frame, takeover) {
  const parts = [];
  writeSync(inflate, frame, zlib.constants.Z_NO_FLUSH, parts);
  writeSync(inflate, TRAILER, zlib.constants.Z_NO_FLUSH, parts);
  writeSync(inflate, EMPTY, zlib.constants.Z_FULL_FLUSH, parts);
  if (!takeover) inflate.reset();
  return parts;
}

module.exports = { EMPTY, TRAILER, writeSync, deflateMessageSync, inflateMessageSync };
