'use strict';
// wsztune's Node.js memory probe: what one zlib stream of a ws connection (its compressor, or
// its decompressor) costs a ws server in resident memory, measured in this fresh node process.
//
// Node's zlib allocates zlib's state through malloc (not reported to V8) and each stream's 16 KiB
// output buffer outside V8's heap; the stream's JavaScript objects live in V8's heap. zlib state
// is only allocated on a stream's first write, and RSS only counts pages touched, so each probe
// stream does what a server's does: its deflate stream sends messages, or its inflate stream
// receives them, created and called as ws's PerMessageDeflate does.
//
// The figure read at every mark: resident anonymous memory (RssAnon) minus V8's committed heap
// (heapTotal), plus V8's live objects (heapUsed), after gc. That is the native memory (malloc's,
// the ArrayBuffers') and what the JavaScript objects really hold, without the steps in which V8
// commits and releases its heap pages (256 KiB to 16 MiB at a time: one of them over 200 streams
// moved the old figure, RSS, by up to 80 KiB per stream). wsztune runs this probe with
// UV_THREADPOOL_SIZE=1: every zlib allocation comes from one malloc arena, as one pool thread's.
//
//   1. warm-up: WARMUP streams, kept, so that libuv's pool thread, its malloc arena and V8's code
//      exist before the first mark (first-use costs a server pays once, not per client);
//   2. N streams of the kind measured, a mark every STEP streams; the figure per stream is the
//      least-squares slope of the marks after the first quarter (the steady state, as a server
//      that has served many connections is in), with its standard error.
//
// Usage: node --expose-gc node_memory.js JOB.json ; prints one JSON line.

const fs = require('fs');
const zlib = require('zlib');
const { TRAILER, deflateMessageSync, inflateMessageSync } = require('./node_zlib_sync.js');

const WARMUP = 16;
// The savings below (synchronous compressor calls, a decompressor's calls after its first made
// synchronously, one gc per mark, a mark every 80 streams) were measured to keep node's figures
// (bench/node_memory.py), not Bun's: Bun (bun.py runs this file too) probes as before,
// asynchronous calls, three gcs at every mark, a mark every 40 streams.
const CHEAP = !process.versions.bun;

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

function settle() {
  return new Promise((resolve) => setImmediate(resolve));
}

function rssAnon() {
  try {
    for (const line of fs.readFileSync('/proc/self/status', 'utf8').split('\n')) {
      const match = /^RssAnon:\s+(\d+) kB/.exec(line);
      if (match) return Number(match[1]) * 1024;
    }
  } catch (error) {
    // no /proc (not Linux): the whole RSS below
  }
  return process.memoryUsage.rss();
}

// The figure at a mark (see the top of this file), after full gcs. A full gc costs about the same
// whatever the setting (it marks V8's heap: node's own objects and the streams' JS objects), and
// the gcs were most of a probe's CPU time (0.6 of 1.0 s). Node: one gc (issue 30's fourth round:
// with one, the figures stay within the grain of three's, measured on the commits corpus and the
// chat records at 9:1 and 15:8, both kinds: e.g. the chat records' 15:8 compressor 223.2-223.8 KiB
// against 223.7-224.1, its decompressor 20.1-20.8 against 20.6-21.0; with the asynchronous
// compressor calls of before, one gc had spread more, 1.2% against 0.5%). Bun: three, as before.
const GCS_PER_MARK = CHEAP ? 1 : 3;

async function heldAfterGc() {
  for (let i = 0; i < GCS_PER_MARK; i++) {
    global.gc();
    await settle();
  }
  const usage = process.memoryUsage();
  return rssAnon() - usage.heapTotal + usage.heapUsed;
}

// Least-squares slope of ys over xs, and its standard error.
function slope(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i] - mx) ** 2;
    sxy += (xs[i] - mx) * (ys[i] - my);
  }
  const b = sxy / sxx;
  let sse = 0;
  for (let i = 0; i < n; i++) sse += (ys[i] - my - b * (xs[i] - mx)) ** 2;
  const error = n > 2 ? Math.sqrt(sse / (n - 2) / sxx) : 0;
  return [b, error];
}

function deflateOptions(cell) {
  return {
    level: cell.level,
    memLevel: cell.mem_level,
    strategy: cell.strategy,
    windowBits: cell.server_bits,
  };
}

// A compressor made and called as ws's, its calls made synchronously (node_zlib_sync.js, as the
// sweep's timing passes make them): the same zlib calls, the same pages touched, without a
// hand-off to libuv's pool and back per call. Measured on the chat records: the same figure
// (15:8: 224,488 B per stream asynchronous, 223,949 synchronous; 12:4: 100,582 and 100,221),
// for 1.19 s of CPU against 1.35 s at 15:8 (a loaded machine). A decompressor's calls stay
// asynchronous: made synchronously, its figure moved beyond the grain (15 bits: 20,646 B against
// 17,368), the malloc arena its window comes from (inflate allocates it on its first call)
// being another.
function compressor(cell, messages, keep) {
  const deflate = zlib.createDeflateRaw(deflateOptions(cell));
  const frames = [];
  for (const message of messages) frames.push(deflateMessageSync(deflate, message, cell.context_takeover));
  keep.push(deflate);
  return frames;
}

// The sender of the frames a decompressor probe inflates: ws's asynchronous calls, as before the
// compressors' calls were made synchronously (the same bytes): where its state comes from shapes
// the pool thread's malloc arena, which the decompressors' windows come from.
async function sender(cell, messages, keep) {
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

// A decompressor made and called as ws's. Its first message goes through ws's asynchronous calls:
// inflate allocates its window on its first call, on libuv's pool thread, from that thread's
// malloc arena, as in a ws server (made on the main thread, the figure moved beyond the grain:
// see compressor()). Later calls allocate nothing in zlib and are made synchronously (node only):
// the same calls, ws's three per message, for about a quarter less CPU per probe on the chat
// records, the figures within the grain of the all-asynchronous probe's (9 and 15 bits: chat
// records 15.1-15.2 and 19.4-20.1 KiB against 16.3-16.6 and 20.5-21.0, commits corpus 18.9-19.4
// and 38.5-38.6 against 18.1-18.5 and 36.9-37.2).
async function decompressor(cell, frames, keep) {
  const inflate = zlib.createInflateRaw({ windowBits: cell.client_bits });
  inflate.on('data', () => {});
  for (const [index, frame] of frames.entries()) {
    if (CHEAP && index > 0) {
      inflateMessageSync(inflate, frame, cell.context_takeover);
      continue;
    }
    inflate.write(frame);
    inflate.write(TRAILER);
    await new Promise((resolve) => inflate.flush(resolve));
    if (!cell.context_takeover) inflate.reset();
  }
  keep.push(inflate);
}

// n streams, CONCURRENT at a time, as a server serves many at once (ws's zlib concurrency
// limit is 10): the probe is quicker.
const CONCURRENT = 8;
// Streams between marks. Node: 80, half the gcs of 40, figures within the grain of 40's (9:1 and
// 15:8 on the commits corpus and the chat records, both kinds: at most 1.9 KiB apart, the commits
// corpus's 15-bit decompressor). Fewer streams in all (800 to 1,200) would be cheaper still, but
// their figures came out lower, by up to 4 KiB: the probe's first few hundred streams are not yet
// the steady state, and the slope needs the range after them.
const STEP = CHEAP ? 80 : 40;

// The first quarter of the marks settles the heap and is left out of the slope: there, one gc
// and no reading (Bun: a mark's three gcs). One gc still, because without it the decompressors'
// figures came out 10% lower and four times less steady (15 bits: 18,143-18,472 B per stream
// against 20,646).
async function measure(n, connect) {
  const marks = Math.ceil(n / STEP);
  const skip = Math.floor(marks / 4);
  const xs = [];
  const ys = [];
  for (let done = 0, mark = 0; done < n; mark++) {
    const upto = Math.min(n, done + STEP);
    while (done < upto) {
      const batch = [];
      for (let i = done; i < Math.min(upto, done + CONCURRENT); i++) batch.push(connect());
      await Promise.all(batch);
      done += batch.length;
    }
    if (mark < skip) {
      if (CHEAP) {
        global.gc();
        await settle();
      } else {
        await heldAfterGc();
      }
      continue;
    }
    xs.push(done);
    ys.push(await heldAfterGc());
  }
  return slope(xs, ys);
}

async function main() {
  const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const cell = job.cell;
  const n = job.connections;
  // The messages each probe stream sends: chosen by wsztune (codecs/node.py: probe_messages), whose
  // cache keys a figure by their sizes.
  const payloads = readStream(job.corpus, job.stream);
  const chosen = job.messages.map((index) => payloads[index]);
  const warm = [];
  const keep = [];
  let connect;
  let messages;
  if (job.kind === 'compressor') {
    messages = chosen;
    connect = () => (CHEAP ? compressor : sender)(cell, messages, keep);
  } else {
    // The frames the decompressors inflate: the chosen messages compressed with the client's
    // window by the client's compressor (job.sender: memLevel, level, strategy), by a sender
    // before the measured phase.
    const clientCell = { ...cell, ...job.sender, server_bits: cell.client_bits };
    messages = await sender(clientCell, chosen, warm);
    connect = () => decompressor(cell, messages, keep);
  }
  for (let i = 0; i < WARMUP; i++) await connect();
  const [held, error] = await measure(n, connect);
  process.stdout.write(
    JSON.stringify({
      kind: job.kind,
      held: Math.round(held),
      error: Math.round(error),
      connections: n,
      messages: messages.length,
      streams_alive: keep.length + warm.length,
    }) + '\n',
  );
}

main().catch((error) => {
  process.stderr.write(`wsztune node memory: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
