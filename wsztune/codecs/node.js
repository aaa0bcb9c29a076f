'use strict';
// wsztune's Node.js codec: permessage-deflate with Node's own zlib, called exactly as ws's
// PerMessageDeflate calls it (lib/permessage-deflate.js of ws 8):
//   compress:   deflate.write(payload); deflate.flush(Z_SYNC_FLUSH, cb); drop the last 4 bytes;
//               without context takeover deflate.reset() after the message.
//   decompress: inflate.write(frame); inflate.write(00 00 ff ff); inflate.flush(cb);
//               without context takeover inflate.reset() after the message.
// A message shorter than the cell's threshold is sent as is: it never reaches the compressor
// (ws's Sender decides before calling compress) nor the decompressor (RSV1 is not set).
// The calls are made synchronously (handle.writeSync, as zlib's *Sync functions make them), on
// the streams ws builds, into the streams' own output buffers: the same zlib calls with the same
// arguments, so the same bytes, without ws's hand-off to libuv's pool and back for each call,
// which the job's "calls": "ws" keeps (bench/node.py times both: docs/node.md).
// No npm dependency: only node's own modules.
//
// Usage: node node.js JOB.json   (JOB names the corpus file; see wsztune/codecs/node.py)
// The cells: JOB's "cells", or one JSON line each on stdin.
// Corpus file: per stream, u32le message count, then per message u32le length + payload bytes.
// Output: one JSON line per cell on stdout, in the job's order.

const fs = require('fs');
const zlib = require('zlib');
const crypto = require('crypto');
const { TRAILER, deflateMessageSync, inflateMessageSync } = require('./node_zlib_sync.js');
const { openSink } = require('./node_sink.js');

// Bun.serve (uWebSockets) deflates every message into a fresh 16 KiB output buffer, where a node
// stream goes on filling what is left of its last one. Bun's zlib (Cloudflare's fork) makes other
// bytes when its output is cut at another place, so the job's "fresh_output" gives every message
// a fresh buffer, as uWebSockets does (tests/codecs/test_verify_bun.py).
let freshOutput = false;

function readCorpus(path, count) {
  const data = fs.readFileSync(path);
  const streams = [];
  let at = 0;
  for (let s = 0; s < count; s++) {
    const n = data.readUInt32LE(at);
    at += 4;
    const payloads = new Array(n);
    for (let i = 0; i < n; i++) {
      const len = data.readUInt32LE(at);
      at += 4;
      payloads[i] = data.subarray(at, at + len);
      at += len;
    }
    streams.push(payloads);
  }
  if (at !== data.length) throw new Error(`corpus file ${path}: ${data.length - at} bytes left over`);
  return streams;
}

// zlib's native stream as node's zlib.js builds one inside a DeflateRaw or InflateRaw (the Zlib
// constructor: new binding.Zlib(mode), then init(windowBits, level, memLevel, strategy, its
// write state, a callback, no dictionary)) with the output buffer its ZlibBase gives it, and
// without the Transform stream around it. The timing passes' synchronous calls (writeSync) use
// only these, so they make the same zlib calls with the same arguments into the same buffers:
// the same bytes (the tests check them against ws). Built for every corpus stream of every pass,
// a whole node stream (its Transform, its listeners, its close on the next tick) cost 13 to 16 us
// and its garbage where this costs 3 to 4: on a corpus of many short connections, most of a pass
// beyond the zlib work (docs/node.md). ws builds the whole stream once per connection: a
// connection's cost, not a message's. Node only (process.binding, still in node 22; not Bun, whose
// zlib is its own), and only once a bare stream has made a whole one's bytes (checkedBinding):
// elsewhere, and for ws's asynchronous calls, the stream itself.
function zlibBinding() {
  if (process.versions.bun || typeof process.binding !== 'function') return null;
  try {
    const binding = process.binding('zlib');
    return typeof binding.Zlib === 'function' ? binding : null;
  } catch {
    return null;
  }
}

class BareStream {
  constructor(mode, options, binding = nativeZlib) {
    const { constants } = zlib;
    this._handle = new binding.Zlib(mode);
    this._writeState = new Uint32Array(2);
    this.destroyed = false;
    this._handle.onerror = (message) => {
      this.destroyed = true; // writeSync's check: zlib failed
      this.error = new Error(message);
    };
    // DeflateRaw's own constructor asks zlib for 9 bits when given 8 (zlib's raw deflate has no
    // 8-bit window); InflateRaw passes 8 through.
    const deflate8 = mode === constants.DEFLATERAW && options.windowBits === 8;
    this._handle.init(
      deflate8 ? 9 : options.windowBits,
      options.level ?? constants.Z_DEFAULT_COMPRESSION,
      options.memLevel ?? constants.Z_DEFAULT_MEMLEVEL,
      options.strategy ?? constants.Z_DEFAULT_STRATEGY,
      this._writeState,
      () => {},
      undefined,
    );
    this._chunkSize = constants.Z_DEFAULT_CHUNK;
    this._outBuffer = Buffer.allocUnsafe(this._chunkSize);
    this._outOffset = 0;
  }

  reset() {
    this._handle.reset();
  }

  close() {
    this._handle.close();
  }
}

// `binding` once bare streams have made the bytes of whole node streams and inflated them back,
// else null: a node whose internals moved gets whole streams, not other bytes. Three messages, one
// over the 16 KiB output buffer, with and without context takeover (reset() after each).
function checkedBinding(binding) {
  if (!binding) return null;
  const opened = [];
  const open = (inflate, options, bare) => {
    const stream = bare
      ? new BareStream(inflate ? zlib.constants.INFLATERAW : zlib.constants.DEFLATERAW, options, binding)
      : (inflate ? zlib.createInflateRaw(options) : zlib.createDeflateRaw(options));
    opened.push(stream);
    return stream;
  };
  try {
    const text = Buffer.from(`${'wsztune bare stream check, '.repeat(40)}done`);
    const noise = crypto.createHash('sha256');
    const big = Buffer.concat(Array.from({ length: 700 }, (_, i) => noise.update(`${i}`).copy().digest()));
    const messages = [text, big, text];
    for (const takeover of [true, false]) {
      const options = { level: 6, memLevel: 8, strategy: 0, windowBits: 15 };
      const whole = open(false, options, false);
      const bare = open(false, options, true);
      const inflate = open(true, { windowBits: 15 }, true);
      for (const message of messages) {
        const frame = deflateMessageSync(bare, message, takeover);
        if (!frame.equals(deflateMessageSync(whole, message, takeover))) return null;
        if (!Buffer.concat(inflateMessageSync(inflate, frame, takeover)).equals(message)) return null;
      }
    }
    return binding;
  } catch {
    return null;
  } finally {
    for (const stream of opened) stream.close();
  }
}

// The checked binding (checkedBinding), found on first use: a process that never builds a bare
// stream (ws's asynchronous calls, Bun) never checks one.
let nativeZlib;

// Whether streams asked for `bare` are built bare: the binding is there and passed its check.
function bareStreams(bare) {
  if (bare && nativeZlib === undefined) nativeZlib = checkedBinding(zlibBinding());
  return Boolean(bare && nativeZlib);
}

// A deflate (or inflate) stream for `options`: bare when the calls are made synchronously and
// node's binding is there (BareStream), else the whole node stream ws builds.
function openStream(inflate, options, bare) {
  if (bareStreams(bare)) {
    return new BareStream(inflate ? zlib.constants.INFLATERAW : zlib.constants.DEFLATERAW, options);
  }
  return inflate ? zlib.createInflateRaw(options) : zlib.createDeflateRaw(options);
}

// One sender as ws builds it: a DeflateRaw stream with ws's zlibDeflateOptions and windowBits
// (bare: only what its synchronous calls use, BareStream; compressSync only).
class Sender {
  constructor(cell, bits, bare = false) {
    this.takeover = cell.context_takeover;
    this.deflate = openStream(false, {
      level: cell.level,
      memLevel: cell.mem_level,
      strategy: cell.strategy,
      windowBits: bits,
    }, bare);
    if (this.deflate instanceof BareStream) return;
    this.chunks = [];
    this.length = 0;
    this.deflate.on('data', (chunk) => {
      this.chunks.push(chunk);
      this.length += chunk.length;
    });
  }

  compress(payload) {
    return new Promise((resolve, reject) => {
      if (freshOutput) {
        this.deflate._outOffset = 0;
        this.deflate._outBuffer = Buffer.allocUnsafe(this.deflate._chunkSize);
      }
      this.deflate.write(payload);
      this.deflate.flush(zlib.Z_SYNC_FLUSH, () => {
        const data = Buffer.concat(this.chunks, this.length);
        this.chunks = [];
        this.length = 0;
        if (!this.takeover) this.deflate.reset();
        if (data.length < 4) reject(new Error('deflate flush gave under 4 bytes'));
        else resolve(data.subarray(0, data.length - 4));
      });
    });
  }

  // ws's zlib calls on the same stream, made synchronously (writeSync): deflate(payload,
  // Z_NO_FLUSH), deflate(empty, Z_SYNC_FLUSH), reset() without takeover. Only the hand-off to
  // libuv's pool and back is left out.
  compressSync(payload) {
    if (freshOutput) {
      this.deflate._outOffset = 0;
      this.deflate._outBuffer = Buffer.allocUnsafe(this.deflate._chunkSize);
    }
    return deflateMessageSync(this.deflate, payload, this.takeover);
  }

  close() {
    this.deflate.close();
  }
}

class Receiver {
  constructor(cell, bits, bare = false) {
    this.takeover = cell.context_takeover;
    this.inflate = openStream(true, { windowBits: bits }, bare);
    if (this.inflate instanceof BareStream) return;
    this.chunks = [];
    this.length = 0;
    this.error = null;
    this.inflate.on('data', (chunk) => {
      this.chunks.push(chunk);
      this.length += chunk.length;
    });
    this.inflate.on('error', (error) => {
      this.error = error;
    });
  }

  decompress(frame) {
    return new Promise((resolve, reject) => {
      this.inflate.write(frame);
      this.inflate.write(TRAILER);
      this.inflate.flush(() => {
        if (this.error) return reject(this.error);
        const data = Buffer.concat(this.chunks, this.length);
        this.chunks = [];
        this.length = 0;
        if (!this.takeover) this.inflate.reset();
        resolve(data);
      });
    });
  }

  // ws's calls made synchronously (see Sender.compressSync): inflate(frame), inflate(trailer),
  // inflate(empty, Z_FULL_FLUSH: flush()'s default), reset() without takeover.
  decompressSync(frame) {
    return Buffer.concat(inflateMessageSync(this.inflate, frame, this.takeover));
  }

  close() {
    this.inflate.close();
  }
}

function bitsFor(cell, direction) {
  return direction === 'server' ? cell.server_bits : cell.client_bits;
}

// The cell as the sender of ``direction`` builds its compressor: a named client (--client)
// compresses at its own memLevel and level, and sends uncompressed what is under its threshold.
function senderCell(cell, direction) {
  if (direction === 'server') return cell;
  return {
    ...cell,
    mem_level: cell.client_mem_level ?? cell.mem_level,
    level: cell.client_level ?? cell.level,
    threshold: cell.client_threshold ?? cell.threshold,
  };
}

// How the passes call zlib: "sync" (the sweep's) makes ws's calls synchronously on the streams ws
// builds, the same native calls with the same output buffers, so the same bytes (the tests check
// them against ws itself); "ws" makes them as ws does, asynchronously, each a hand-off to libuv's
// pool and back (bench/node.py's reference: what that hand-off costs beyond the zlib work).
let syncCalls = true;

// Compress every stream once; frames[s][i] is null for a message sent uncompressed.
async function compressAll(streams, directions, cell, keep) {
  const out = [];
  for (let s = 0; s < streams.length; s++) {
    const made = senderCell(cell, directions[s]);
    const sender = new Sender(made, bitsFor(cell, directions[s]), syncCalls);
    const frames = keep ? new Array(streams[s].length) : null;
    const payloads = streams[s];
    for (let i = 0; i < payloads.length; i++) {
      const payload = payloads[i];
      if (payload.length < made.threshold) {
        if (keep) frames[i] = null;
        continue;
      }
      const frame = syncCalls ? sender.compressSync(payload) : await sender.compress(payload);
      if (keep) frames[i] = frame;
    }
    sender.close();
    out.push(frames);
  }
  return out;
}

async function decompressAll(compressed, streams, directions, cell, check) {
  for (let s = 0; s < compressed.length; s++) {
    const receiver = new Receiver(cell, bitsFor(cell, directions[s]), syncCalls);
    const frames = compressed[s];
    for (let i = 0; i < frames.length; i++) {
      if (frames[i] === null) continue;
      const message = syncCalls
        ? receiver.decompressSync(frames[i])
        : await receiver.decompress(frames[i]);
      if (check && !message.equals(streams[s][i])) {
        throw new Error(
          `stream ${s} message ${i} changed in a compress/decompress round trip ` +
            `(${streams[s][i].length} bytes in, ${message.length} out); please report this`,
        );
      }
    }
    receiver.close();
  }
}

// CPU seconds of the whole process (main thread and libuv's pool, where zlib runs): what a ws
// server pays for the calls, whichever thread runs them.
function cpuSeconds() {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

// wsztune.codecs.base.time_samples: repeat samples in seconds per pass, the first of `loops`
// passes (judged by the cell's first pass), the later ones of loopsFor(the first sample's time
// per pass), whose passes are warm where the cell's first is not; and the later ones' loops.
async function timeSamples(work, repeat, loops, minSample) {
  const samples = [];
  for (let r = 0; r < repeat; r++) {
    const start = cpuSeconds();
    for (let l = 0; l < loops; l++) await work();
    samples.push((cpuSeconds() - start) / loops);
    if (r === 0) loops = loopsFor(samples[0], minSample);
    await settled();
  }
  return { samples, loops };
}

// Resolves once the event loop has turned: the streams a pass closed are let go. A cell's passes
// run as one chain of promises, microtasks all, so the nextTick that ends each closed stream (its
// 'close' event) waits for the chain to yield to the event loop: without a turn between samples
// every stream of every pass of a cell stayed alive until the cell's end, with its 16 KiB output
// buffer, and the collector marked them again and again (on 150 connections of 4 messages,
// 24,000 streams a cell: a heap growing by 6 MB a cell, a fifth of the process collecting).
function settled() {
  return new Promise((resolve) => setImmediate(resolve));
}

// wsztune.codecs.base.loops_for: the whole number of passes whose time comes nearest minSample.
function loopsFor(onePass, minSample) {
  if (onePass <= 0) return 1000;
  return Math.max(1, Math.floor(minSample / onePass + 0.5));
}

// Sizes and digest of the frames: per stream the compressed bytes, the messages compressed and
// every message's frame size (a message under the threshold counts its raw size).
function describeFrames(streams, compressed, id) {
  const digest = crypto.createHash('sha256');
  const result = { id, streams: [] };
  for (let s = 0; s < streams.length; s++) {
    const sizes = new Uint32Array(streams[s].length);
    let compressedBytes = 0;
    let compressedMessages = 0;
    for (let i = 0; i < sizes.length; i++) {
      const frame = compressed[s][i];
      if (frame === null) {
        sizes[i] = streams[s][i].length;
      } else {
        sizes[i] = frame.length;
        compressedMessages += 1;
        digest.update(frame);
      }
      compressedBytes += sizes[i];
    }
    result.streams.push({
      compressed_bytes: compressedBytes,
      compressed_messages: compressedMessages,
      sizes: Buffer.from(sizes.buffer).toString('base64'),
    });
  }
  result.sha256 = digest.digest('hex');
  return result;
}

async function measureCell(streams, directions, cell, timing) {
  // The first pass: the sizes, the digest and the round-trip check.
  let started = cpuSeconds();
  const compressed = await compressAll(streams, directions, cell, true);
  const compressOnce = cpuSeconds() - started;
  started = cpuSeconds();
  await decompressAll(compressed, streams, directions, cell, true);
  const decompressOnce = cpuSeconds() - started;
  const result = describeFrames(streams, compressed, cell.id);
  // What the passes' zlib calls went through: bare native streams, or node's whole streams.
  result.zlib_streams = bareStreams(syncCalls) ? 'bare' : 'node';
  if (!timing) return result;
  await settled();

  const compress = () => compressAll(streams, directions, cell, false);
  const decompress = () => decompressAll(compressed, streams, directions, cell, false);
  for (let w = 1; w < timing.warmup; w++) {
    await compress();
    await decompress();
  }
  const mark = timing.min_sample_seconds;
  const compressTimed = await timeSamples(compress, timing.repeat,
    loopsFor(compressOnce, mark), mark);
  const decompressTimed = await timeSamples(decompress, timing.repeat,
    loopsFor(decompressOnce, mark), mark);
  result.compress_samples = compressTimed.samples;
  result.decompress_samples = decompressTimed.samples;
  result.loops_compress = compressTimed.loops;
  result.loops_decompress = decompressTimed.loops;
  // A broadcast's CPU per delivery (timeDeliveries: which series go through ws's own path).
  if (timing.deliveries) {
    result.delivery = await timeDeliveries(streams, directions, cell, timing.deliveries);
  }
  return result;
}

// ws's zlib calls in flight at once per process (PerMessageDeflate's concurrencyLimit default).
const WS_CONCURRENCY = 10;

// A broadcast timed as a ws server runs it (wsztune.fanout.DeliverySchedule): every server
// message (all server streams, in order) compressed by each subscriber's own deflate stream,
// then inflated by as many receivers, each in turn. With context takeover every stream is first
// fed messages filling its window twice (untimed, its zlib calls made synchronously: the same
// state for less), as a subscriber's long after it joined. Each series is calibrated
// (timedSeries): seconds of process CPU per timed stretch, and the messages each one held.
// - compress: through ws's own Sender (wsBroadcast, on less off) when the plan names ws; else
//   ws's zlib calls on each subscriber's stream, asynchronously, WS_CONCURRENCY in flight.
// - hot (one compressor) and decompress (the receivers in turn): ws's zlib calls alone, made
//   synchronously as the sweep's passes make them (syncCalls), the zlib codec's definition of
//   the same figures (its zlib calls alone): the zlib work, not each call's hand-off to libuv's
//   pool and back. With "calls": "ws" they are made asynchronously, as ws makes them.
async function timeDeliveries(streams, directions, cell, plan) {
  const server = [];
  for (let s = 0; s < streams.length; s++) if (directions[s] === 'server') server.push(...streams[s]);
  const primed = [];
  if (cell.context_takeover) {
    for (let fed = 0; fed < 2 * (1 << cell.server_bits); ) {
      const payload = server[primed.length % server.length];
      primed.push(payload);
      fed += payload.length;
    }
  }
  const payloadsOf = (indices) => indices.map((index) => server[index]);
  const inTurn = async (workers, work) => {
    for (let i = 0; i < workers.length; i += WS_CONCURRENCY) {
      await Promise.all(workers.slice(i, i + WS_CONCURRENCY).map(work));
    }
  };
  const sendAll = async (count, stretches, sync) => {
    const senders = Array.from({ length: count }, () => new Sender(cell, cell.server_bits));
    for (const payload of primed) {
      if (payload.length >= cell.threshold) for (const sender of senders) sender.compressSync(payload);
    }
    const send = sync
      ? (payloads) => {
        for (const payload of payloads) {
          if (payload.length >= cell.threshold) for (const s of senders) s.compressSync(payload);
        }
      }
      : async (payloads) => {
        for (const payload of payloads) {
          if (payload.length >= cell.threshold) await inTurn(senders, (s) => s.compress(payload));
        }
      };
    const series = await timedSeries(plan, stretches, server.length,
      (index) => cpuTimed(() => send([server[index]])),
      (indices) => cpuTimed(() => send(payloadsOf(indices))));
    for (const sender of senders) sender.close();
    return series;
  };
  const compress = plan.ws
    ? await wsBroadcast(plan, cell, primed, server)
    : await sendAll(plan.compressors, plan.stretches, false);
  const hot = await sendAll(1, plan.hot_stretches, syncCalls);
  // One subscriber's frames (every subscriber's are the same), made synchronously (the same
  // bytes) just before the stretch that inflates them, so that they follow the messages the
  // receivers inflate; the primed messages' first, inflated untimed.
  const one = new Sender(cell, cell.server_bits);
  const framesOf = (payloads) => payloads
    .filter((payload) => payload.length >= cell.threshold)
    .map((payload) => one.compressSync(payload));
  const receivers = Array.from({ length: plan.compressors }, () => new Receiver(cell, cell.server_bits));
  for (const frame of framesOf(primed)) for (const receiver of receivers) receiver.decompressSync(frame);
  const inflate = syncCalls
    ? (frames) => {
      for (const frame of frames) for (const receiver of receivers) receiver.decompressSync(frame);
    }
    : async (frames) => {
      for (const frame of frames) await inTurn(receivers, (r) => r.decompress(frame));
    };
  // The timed stretches' frames are all made before the first is timed (as many buffers made
  // just before each sample would leave their garbage collection inside it: 22% more per
  // delivery on the chat records).
  let framed = [];
  const decompress = await timedSeries(plan, plan.stretches, server.length,
    (index) => { const frames = framesOf([server[index]]); return cpuTimed(() => inflate(frames)); },
    (indices, n) => cpuTimed(() => inflate(framed[n - 1])),
    (later) => { framed = later.map((indices) => framesOf(payloadsOf(indices))); });
  one.close();
  for (const receiver of receivers) receiver.close();
  return {
    compress: compress.samples,
    decompress: decompress.samples,
    hot: hot.samples,
    lengths: { compress: compress.length, decompress: decompress.length, hot: hot.length },
    ...(compress.sends ? { sends: compress.sends } : {}),
  };
}

// Process CPU seconds a piece of work took: synchronous, or asynchronous (a promise, awaited).
async function cpuTimed(work) {
  const start = cpuSeconds();
  const pending = work();
  if (pending !== undefined) await pending;
  return cpuSeconds() - start;
}

// One calibrated series of samples (wsztune.fanout.DeliverySchedule.timed): the first, warm-up
// stretch run a message at a time (step(index): its CPU seconds) until plan.sample_seconds of
// CPU went by (all of it without a target), then every later stretch at the length that asks
// for (lengthFor) through run(indices, n); the samples past the warm-up and the length.
// ready(later), when given, sees every later stretch's indices before the first is run.
async function timedSeries(plan, stretches, messages, step, run, ready) {
  const [start, stop] = stretches[0];
  const target = plan.sample_seconds ?? Infinity;
  let count = 0;
  let seconds = 0;
  while (start + count < stop && seconds < target) {
    seconds += await step((start + count) % messages);
    count += 1;
  }
  const length = lengthFor(plan, stop - start, count, seconds);
  const later = stretches.slice(1).map(([first]) => {
    const indices = [];
    for (let i = first; i < first + length; i++) indices.push(i % messages);
    return indices;
  });
  if (ready) await ready(later);
  const samples = [];
  for (let n = 1; n < stretches.length; n++) {
    const sample = await run(later[n - 1], n);
    if (n >= plan.warmup) samples.push(sample);
  }
  return { samples, length };
}

// wsztune.fanout.DeliverySchedule.length_for: as many messages as plan.sample_seconds asks for
// when `count` took `seconds`, at least plan.min_messages (or the full stretch), at most it.
function lengthFor(plan, full, count, seconds) {
  const target = plan.sample_seconds;
  if (target === undefined || target === null || (target > 0 && seconds <= 0)) return full;
  const least = Math.min(full, plan.min_messages);
  if (target <= 0) return least;
  return Math.max(least, Math.min(full, Math.ceil((count * target) / seconds)));
}

// A broadcast through ws itself (plan.ws: the directory of the ws package, when wsztune has it):
// what compression adds to `for (const client of wss.clients) client.send(message)`, each
// client's own ws Sender with its PerMessageDeflate at the cell's setting (ws's Limiter, its
// calls on libuv's pool, its frame and queue), less the same sends through Senders without it.
// Each subscriber's Senders (with and without compression) write to its own loopback TCP socket,
// which a reading process drains every 20 ms without waiting on it (plan.sink: node_sink.js, one
// per cell; the kernel's sends, as a server's clients on other machines read), and ws's write
// callback fires when the socket's write is done. Without plan.sink, or where no loopback socket
// opens (a sandbox), a socket that takes the bytes and calls back on the next tick ("sends":
// "none"). Every broadcast awaited before the next. The calibration times the sends with
// compression (the ones without follow on the same messages, untimed). The primed messages: the first
// through ws (which builds each subscriber's deflate stream), the rest as ws's zlib calls made
// synchronously on those streams (untimed: the same state for less).
async function wsBroadcast(plan, cell, primed, server) {
  const Sender = require(require('path').join(plan.ws, 'lib', 'sender.js'));
  const PerMessageDeflate = require(require('path').join(plan.ws, 'lib', 'permessage-deflate.js'));
  const sink = plan.sink ? await openSink(plan.sink).catch(() => null) : null;
  const nowhere = { cork() {}, uncork() {}, write(data, cb) { if (cb) process.nextTick(cb); return true; } };
  const socketFor = sink ? sink.socketFor : () => nowhere;
  const senders = (compress) => Array.from({ length: plan.compressors }, (_, subscriber) => {
    const socket = socketFor(subscriber);
    if (!compress) return new Sender(socket, {});
    const deflate = new PerMessageDeflate({
      threshold: cell.threshold,
      serverMaxWindowBits: cell.server_bits,
      serverNoContextTakeover: !cell.context_takeover,
      zlibDeflateOptions: { level: cell.level, memLevel: cell.mem_level, strategy: cell.strategy },
    }, true);
    deflate.accept([{}]);
    return new Sender(socket, { [PerMessageDeflate.extensionName]: deflate });
  });
  const on = senders(true);
  const off = senders(false);
  const extension = (sender) => sender._extensions[PerMessageDeflate.extensionName];
  const broadcast = (group, compress, payload) => new Promise((resolve, reject) => {
    let left = group.length;
    const written = (error) => {
      if (error) reject(error);
      else if (--left === 0) resolve();
    };
    const options = { binary: true, compress, fin: true, mask: false, readOnly: true };
    for (const sender of group) sender.send(payload, options, written);
  });
  const send = async (group, compress, payloads) => {
    for (const payload of payloads) await broadcast(group, compress, payload);
  };
  if (primed.length) await broadcast(on, true, primed[0]);
  for (const payload of primed.slice(1)) {
    for (const sender of on) deflateMessageSync(extension(sender)._deflate, payload, true);
  }
  let calibrated = [];
  const series = await timedSeries(plan, plan.stretches, server.length,
    (index) => {
      calibrated.push(server[index]);
      return cpuTimed(() => send(on, true, [server[index]]));
    },
    async (indices) => {
      if (calibrated) await send(off, false, calibrated); // the warm-up's sends without compression
      calibrated = null;
      const payloads = indices.map((index) => server[index]);
      const seconds = await cpuTimed(() => send(on, true, payloads));
      return Math.max(0, seconds - (await cpuTimed(() => send(off, false, payloads))));
    });
  for (const sender of on) extension(sender).cleanup();
  if (!sink) return { ...series, sends: { to: 'none' } };
  const written = sink.written();
  const read = await sink.close();
  return { ...series, sends: { to: 'loopback', sockets: sink.sockets.length, written, read, pid: sink.pid } };
}

async function main() {
  const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  freshOutput = Boolean(job.fresh_output);
  syncCalls = (job.calls || 'sync') === 'sync';
  const streams = readCorpus(job.corpus, job.directions.length);
  const cells = job.cells || readCells();
  for await (const cell of cells) {
    const result = await measureCell(streams, job.directions, cell, job.timing);
    process.stdout.write(JSON.stringify(result) + '\n');
  }
}

// Without "cells" in the job, the cells come one JSON line at a time on stdin, the next once this
// process has answered the last (wsztune hands them out as processes finish: every process stays
// busy until the end); stdin closed: done.
async function* readCells() {
  const lines = require('readline').createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim()) yield JSON.parse(line);
  }
}

main().catch((error) => {
  process.stderr.write(`wsztune node codec: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
