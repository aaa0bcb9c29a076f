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

// The figure at a mark (see the top of this file).
// Three full gcs. One would save a third of the probe's time, but four probes of the 9:1
// compressor (commits corpus) then spread over 1.2% against 0.5% with three, and derived cells
// (backend.py: derivable) add three probes' noise: with one gc, two sweeps of the chat records
// differed by up to 2.6% in a cell (goal 3%).
async function heldAfterGc() {
  for (let i = 0; i < 3; i++) {
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

// n streams, CONCURRENT at a time, as a server serves many at once (ws's zlib concurrency
// limit is 10): the probe is quicker.
const CONCURRENT = 8;
const STEP = 40;

async function measure(n, connect) {
  const xs = [];
  const ys = [];
  for (let done = 0; done < n; ) {
    const upto = Math.min(n, done + STEP);
    while (done < upto) {
      const batch = [];
      for (let i = done; i < Math.min(upto, done + CONCURRENT); i++) batch.push(connect());
      await Promise.all(batch);
      done += batch.length;
    }
    xs.push(done);
    ys.push(await heldAfterGc());
  }
  const skip = Math.floor(xs.length / 4); // the first quarter settles the heap
  return slope(xs.slice(skip), ys.slice(skip));
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
    connect = () => compressor(cell, messages, keep);
  } else {
    // The frames the decompressors inflate: the chosen messages compressed with the client's
    // window by the client's compressor (job.sender: memLevel, level, strategy), by a sender
    // before the measured phase.
    const clientCell = { ...cell, ...job.sender, server_bits: cell.client_bits };
    messages = await compressor(clientCell, chosen, warm);
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
