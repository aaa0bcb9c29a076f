'use strict';
// What the real ws package puts on the wire: the reference tests hold wsztune's node codec to.
//
// Every message goes through ws's own Sender (which decides whether to compress: its threshold
// rule) and PerMessageDeflate (which compresses), into a fake socket; the frames written are
// parsed back (unmasked for client frames) and each message's payload size counted, and every
// compressed payload hashed, exactly as wsztune/codecs/node.js reports them.
//
// Usage: node ws_reference.js WS_DIR JOB.json
// JOB: {"corpus": file of length-prefixed payloads (wsztune.programs.write_corpus),
//       "directions": ["server" | "client", ...], "cells": [{id, server_bits, client_bits,
//       mem_level, level, strategy, context_takeover, threshold}]}
// The threshold is ws's option as configured: ws itself decides when it applies.

const fs = require('fs');
const crypto = require('crypto');
const path = require('path');

const wsDir = process.argv[2];
const PerMessageDeflate = require(path.join(wsDir, 'lib', 'permessage-deflate.js'));
const Sender = require(path.join(wsDir, 'lib', 'sender.js'));

function readCorpus(file, count) {
  const data = fs.readFileSync(file);
  const streams = [];
  let at = 0;
  for (let s = 0; s < count; s++) {
    const n = data.readUInt32LE(at);
    at += 4;
    const payloads = [];
    for (let i = 0; i < n; i++) {
      const len = data.readUInt32LE(at);
      at += 4;
      payloads.push(Buffer.from(data.subarray(at, at + len)));
      at += len;
    }
    streams.push(payloads);
  }
  return streams;
}

// A socket that keeps what ws writes.
class FakeSocket {
  constructor() {
    this.chunks = [];
    this.destroyed = false;
  }
  cork() {}
  uncork() {}
  write(chunk, cb) {
    this.chunks.push(Buffer.from(chunk));
    if (cb) process.nextTick(cb);
    return true;
  }
  take() {
    const all = Buffer.concat(this.chunks);
    this.chunks = [];
    return all;
  }
}

// Parse whole frames: [{rsv1, payload}] (payload unmasked).
function parseFrames(buffer) {
  const frames = [];
  let at = 0;
  while (at < buffer.length) {
    const b0 = buffer[at];
    const b1 = buffer[at + 1];
    let length = b1 & 0x7f;
    at += 2;
    if (length === 126) {
      length = buffer.readUInt16BE(at);
      at += 2;
    } else if (length === 127) {
      length = Number(buffer.readBigUInt64BE(at));
      at += 8;
    }
    let mask = null;
    if (b1 & 0x80) {
      mask = buffer.subarray(at, at + 4);
      at += 4;
    }
    const payload = Buffer.from(buffer.subarray(at, at + length));
    if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
    at += length;
    frames.push({ rsv1: (b0 & 0x40) !== 0, fin: (b0 & 0x80) !== 0, payload });
  }
  return frames;
}

async function sendStream(cell, direction, payloads, hash) {
  const isServer = direction === 'server';
  const perMessageDeflate = new PerMessageDeflate({
    isServer,
    threshold: cell.threshold,
    zlibDeflateOptions: { level: cell.level, memLevel: cell.mem_level, strategy: cell.strategy },
  });
  // As negotiated: both windows and both no-context-takeover flags.
  perMessageDeflate.params = {
    server_max_window_bits: cell.server_bits,
    client_max_window_bits: cell.client_bits,
    server_no_context_takeover: !cell.context_takeover,
    client_no_context_takeover: !cell.context_takeover,
  };
  const socket = new FakeSocket();
  const sender = new Sender(
    socket,
    { [PerMessageDeflate.extensionName]: perMessageDeflate },
    isServer ? undefined : (mask) => crypto.randomFillSync(mask),
  );
  const sizes = [];
  let compressed = 0;
  for (const payload of payloads) {
    await new Promise((resolve, reject) =>
      sender.send(payload, { binary: true, compress: true, fin: true, mask: !isServer }, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    const frames = parseFrames(socket.take());
    if (frames.length !== 1 || !frames[0].fin) throw new Error('expected one whole frame');
    sizes.push(frames[0].payload.length);
    if (frames[0].rsv1) {
      compressed += 1;
      hash.update(frames[0].payload);
    }
  }
  perMessageDeflate.cleanup();
  return { sizes, compressed };
}

async function main() {
  const job = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
  const streams = readCorpus(job.corpus, job.directions.length);
  for (const cell of job.cells) {
    const digest = crypto.createHash('sha256');
    const out = { id: cell.id, streams: [] };
    for (let s = 0; s < streams.length; s++) {
      // One digest over every compressed payload, streams in order: as codec.js computes it.
      const { sizes, compressed } = await sendStream(cell, job.directions[s], streams[s], digest);
      out.streams.push({ sizes, compressed_messages: compressed });
    }
    out.sha256 = digest.digest('hex');
    process.stdout.write(JSON.stringify(out) + '\n');
  }
}

main().catch((error) => {
  process.stderr.write(`ws_reference: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
