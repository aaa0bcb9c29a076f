'use strict';
// wsztune's Node.js memory probe: what one connection's permessage-deflate costs a ws server, in
// resident memory (RSS), measured in this fresh node process.
//
// Node's zlib allocates through malloc and does not report it to V8: process.memoryUsage()
// .external and .arrayBuffers only see the 16 KiB output buffer of each zlib stream. So the
// probe counts RSS. zlib state is only allocated on a stream's first write (node initialises it
// lazily, in its thread pool), and RSS only counts pages touched, so each probe connection does
// what a server's connection does: its deflate stream sends messages, its inflate stream receives
// them, both created and called as ws's PerMessageDeflate does.
//
//   1. warm-up: WARMUP connections, kept, so that libuv's pool threads, their malloc arenas and
//      V8's code exist before the baseline (first-use costs a server pays once, not per client);
//   2. baseline RSS (after gc); N compressors, each sending the stream's first messages until
//      twice its window went through (at most 32 messages); RSS again: (delta) / N is one compressor;
//   3. the same for N decompressors, each inflating the other stream's first frames.
//
// Usage: node --expose-gc memory.js JOB.json ; prints one JSON line.

const fs = require('fs');
const zlib = require('zlib');

const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const WARMUP = 16;

function readStream(path, wanted) {
  const data = fs.readFileSync(path);
  let at = 0;
  for (let s = 0; ; s++) {
    const n = data.readUInt32LE(at);
    at += 4;
    const payloads = [];
    for (let i = 0; i < n; i++) {
      const len = data.readUInt32LE(at);
      at += 4;
      if (s === wanted) payloads.push(data.subarray(at, at + len));
      at += len;
    }
    if (s === wanted) return payloads;
  }
}

// The first messages of a stream, until `limit` bytes went through (at least one message) or
// MAX_MESSAGES did: a stream of short messages would otherwise take seconds per probe.
const MAX_MESSAGES = 32;
function firstMessages(payloads, threshold, limit) {
  const out = [];
  let total = 0;
  for (const payload of payloads) {
    if (payload.length < threshold) continue; // never reaches the compressor
    out.push(payload);
    total += payload.length;
    if (total >= limit || out.length >= MAX_MESSAGES) break;
  }
  return out;
}

function settle() {
  return new Promise((resolve) => setImmediate(resolve));
}

async function rssAfterGc() {
  for (let i = 0; i < 3; i++) {
    global.gc();
    await settle();
  }
  return process.memoryUsage.rss();
}

function deflateOptions(cell) {
  return {
    level: cell.level,
    memLevel: cell.mem_level,
    strategy: cell.strategy,
    windowBits: cell.server_bits,
  };
}

async function compressor(cell, messages, keep) {
  const deflate = zlib.createDeflateRaw(deflateOptions(cell));
  const chunks = [];
  deflate.on('data', (chunk) => chunks.push(chunk));
  const frames = [];
  for (const message of messages) {
    deflate.write(message);
    await new Promise((resolve) => deflate.flush(zlib.Z_SYNC_FLUSH, resolve));
    const data = Buffer.concat(chunks);
    chunks.length = 0;
    frames.push(data.subarray(0, data.length - 4));
    if (!cell.context_takeover) deflate.reset();
  }
  keep.push(deflate);
  return frames;
}

async function decompressor(cell, frames, keep) {
  const inflate = zlib.createInflateRaw({ windowBits: cell.client_bits });
  inflate.on('data', () => {});
  for (const frame of frames) {
    inflate.write(frame);
    inflate.write(TRAILER);
    await new Promise((resolve) => inflate.flush(resolve));
    if (!cell.context_takeover) inflate.reset();
  }
  keep.push(inflate);
}

// n connections, CONCURRENT at a time, as a server serves many at once (ws's zlib concurrency
// limit is 10): libuv's pool then works on several streams together, and the probe is quicker.
const CONCURRENT = 8;
async function batches(n, connect) {
  for (let done = 0; done < n; done += CONCURRENT) {
    const batch = [];
    for (let i = done; i < Math.min(n, done + CONCURRENT); i++) batch.push(connect());
    await Promise.all(batch);
  }
}

async function main() {
  const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const cell = job.cell;
  const n = job.connections;
  // What one zlib stream costs once ws has built it. When the threshold keeps every message of
  // the observed stream from the compressor, no connection like it builds one (the sweep counts
  // the share of connections that do): the stream's own messages then stand in for those that
  // build one elsewhere, because a stream that is never written allocates nothing to measure.
  const messagesFor = (stream, bits) => {
    const payloads = readStream(job.corpus, stream);
    const limit = 2 << bits;
    const over = firstMessages(payloads, cell.threshold, limit);
    return over.length ? over : firstMessages(payloads, 0, limit);
  };
  const sent = messagesFor(job.compressor_stream, cell.server_bits);
  const received = messagesFor(job.decompressor_stream, cell.client_bits);
  // The frames the decompressors inflate: the received messages compressed with the client's
  // window, by a sender outside the measured phases.
  const clientCell = {
    ...cell,
    server_bits: cell.client_bits,
    mem_level: cell.client_mem_level ?? cell.mem_level,
    level: cell.client_level ?? cell.level,
  };
  const warm = [];
  const frames = await compressor(clientCell, received, warm);
  for (let i = 0; i < WARMUP; i++) {
    await compressor(cell, sent, warm);
    await decompressor(cell, frames, warm);
  }

  const keep = [];
  const before = await rssAfterGc();
  await batches(n, () => compressor(cell, sent, keep));
  const middle = await rssAfterGc();
  await batches(n, () => decompressor(cell, frames, keep));
  const after = await rssAfterGc();
  process.stdout.write(
    JSON.stringify({
      compressor: Math.round((middle - before) / n),
      decompressor: Math.round((after - middle) / n),
      connections: n,
      sent_messages: sent.length,
      received_messages: frames.length,
      streams_alive: keep.length + warm.length,
    }) + '\n',
  );
}

main().catch((error) => {
  process.stderr.write(`wsztune node memory: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
