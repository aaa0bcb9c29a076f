// wsztune live --server ws: a real ws server, or its ws clients, replaying a corpus on 127.0.0.1.
//
//   node --expose-gc ws_live.js server CONFIG_JSON
//   node ws_live.js client CONFIG_JSON
//
// CONFIG_JSON: {"ws": path of the ws package, "plan": plan file, "timeout": seconds,
//               "compression": null or {serverMaxWindowBits, clientMaxWindowBits, memLevel,
//               level, strategy, threshold, serverNoContextTakeover, clientNoContextTakeover},
//               "port": the server's port (client only)}
//
// Both processes talk to wsztune in JSON lines: commands on stdin, replies on stdout. Each stops
// by itself when stdin closes (wsztune is gone) or when nothing happens for a while (a parent
// that hangs with the pipe open), so that no node process outlives the check.
//
// Bytes are counted on the wire, independently of ws: every byte the socket reads or is asked to
// write goes through a frame parser that adds up the payload length of data frames (opcodes 0, 1,
// 2; control frames such as ping, pong and close are left out). That is the compressed payload as
// it travels, the quantity the model sums (a message ws leaves uncompressed counts its raw size).
"use strict";

const fs = require("fs");

const LOOPBACK = "127.0.0.1";
const [mode, configText] = process.argv.slice(2);
const config = JSON.parse(configText);
const WebSocket = require(config.ws);
const timeoutMs = Math.max(1, config.timeout) * 1000;

function reply(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

function fail(error) {
  reply({ error: String(error && error.message ? error.message : error) });
  process.exit(1);
}

process.on("uncaughtException", fail);
process.on("unhandledRejection", fail);
// wsztune bounds every step by its --timeout; nothing happening for `deadline` seconds (no
// command, no connection finished) means it is stuck or gone.
let idle = null;
function alive() {
  clearTimeout(idle);
  idle = setTimeout(() => fail(`nothing happened for ${config.deadline} s`), config.deadline * 1000);
  idle.unref();
}
alive();

// Frames -------------------------------------------------------------------------------------

class FrameCounter {
  // Adds up the payload bytes of data frames in a byte stream, whatever its chunking.
  constructor() {
    this.header = [];
    this.skip = 0;
    this.dataBytes = 0;
    this.dataFrames = 0;
    this.compressedFrames = 0;
  }

  feed(chunk) {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - offset);
        this.skip -= n;
        offset += n;
        continue;
      }
      this.header.push(chunk[offset]);
      offset += 1;
      this.parseHeader();
    }
  }

  parseHeader() {
    const h = this.header;
    if (h.length < 2) return;
    const short = h[1] & 0x7f;
    const masked = (h[1] & 0x80) !== 0;
    const lengthBytes = short === 126 ? 2 : short === 127 ? 8 : 0;
    const total = 2 + lengthBytes + (masked ? 4 : 0);
    if (h.length < total) return;
    let length = short;
    if (lengthBytes) {
      length = 0;
      for (let i = 2; i < 2 + lengthBytes; i++) length = length * 256 + h[i];
    }
    const opcode = h[0] & 0x0f;
    if (opcode < 8) {
      this.dataBytes += length;
      this.dataFrames += 1;
      if (h[0] & 0x40) this.compressedFrames += 1;
    }
    this.header = [];
    this.skip = length;
  }

  toJSON() {
    return { bytes: this.dataBytes, frames: this.dataFrames, compressed: this.compressedFrames };
  }
}

function tap(socket) {
  // Count what this socket reads and what it is asked to write, as frames.
  const incoming = new FrameCounter();
  const outgoing = new FrameCounter();
  socket.on("data", (chunk) => incoming.feed(chunk));
  const write = socket.write;
  socket.write = function (chunk, ...rest) {
    if (chunk && chunk.length) {
      outgoing.feed(typeof chunk === "string" ? Buffer.from(chunk, rest[0]) : chunk);
    }
    return write.call(this, chunk, ...rest);
  };
  return { incoming, outgoing };
}

// The replay ----------------------------------------------------------------------------------

function loadPlan(path) {
  const data = JSON.parse(fs.readFileSync(path, "utf8"));
  const scripts = data.scripts.map((messages) =>
    messages.map(([direction, isText, payload]) => [direction, isText, Buffer.from(payload, "base64")]),
  );
  return { scripts, assignment: data.assignment };
}

function inbox(ws) {
  // Messages in arrival order; next() resolves with the next one, waiting if need be.
  const queue = [];
  const waiting = [];
  ws.on("message", (data, isBinary) => {
    const item = { data, isBinary };
    if (waiting.length) waiting.shift()(item);
    else queue.push(item);
  });
  return () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiting.push(r)));
}

function send(ws, payload, isText) {
  return new Promise((resolve, reject) => {
    ws.send(payload, { binary: !isText }, (error) => (error ? reject(error) : resolve()));
  });
}

async function replay(ws, script, me, next, index) {
  // Play one script: send my messages, check the other side's, in order. Sends are not awaited
  // one by one (ws keeps them in order, compressing one at a time): a wait per message would be
  // a round trip to the zlib thread pool each, for nothing. All are awaited at the end.
  const sending = [];
  for (const [direction, isText, payload] of script) {
    if (direction === me) {
      sending.push(send(ws, payload, isText));
    } else {
      const { data, isBinary } = await next();
      if (isBinary === isText || !Buffer.from(data).equals(payload)) {
        throw new Error(`connection ${index}: a ${direction} message changed on the way`);
      }
    }
  }
  await Promise.all(sending);
}

// flushed resolves once the peer answers a ping, which it does only after reading every frame
// before it: nothing sent is still in flight.
function flushed(ws) {
  return new Promise((resolve) => {
    ws.once("pong", resolve);
    ws.ping();
  });
}

function withTimeout(promise, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${config.timeout} s`)), timeoutMs);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

function perMessageDeflate(compression, isServer) {
  if (!compression) return false;
  const options = {
    serverNoContextTakeover: compression.serverNoContextTakeover,
    clientNoContextTakeover: compression.clientNoContextTakeover,
    serverMaxWindowBits: compression.serverMaxWindowBits,
    clientMaxWindowBits: compression.clientMaxWindowBits,
    // Both ends compress with the setting's memLevel, level and strategy, and both apply the same
    // threshold: the model assumes it for client-to-server traffic too.
    zlibDeflateOptions: {
      memLevel: compression.memLevel,
      level: compression.level,
      strategy: compression.strategy,
    },
    threshold: compression.threshold,
  };
  if (!isServer) {
    // A client asks for exactly what the server is configured with, so that it is accepted.
    options.serverMaxWindowBits = compression.serverMaxWindowBits;
  }
  return options;
}

function memory() {
  // Settle before reading: collect garbage (twice: weak callbacks free native memory on the
  // second pass), then read RSS and the native memory V8 is told about.
  if (global.gc) {
    global.gc();
    global.gc();
  }
  const usage = process.memoryUsage();
  const status = {};
  try {
    // Linux: resident memory by kind (anonymous: heaps; file: the node binary's pages).
    for (const line of fs.readFileSync("/proc/self/status", "utf8").split("\n")) {
      const match = /^(RssAnon|RssFile):\s+(\d+) kB/.exec(line);
      if (match) status[match[1]] = Number(match[2]) * 1024;
    }
  } catch (error) {
    // not Linux: RSS alone
  }
  return {
    ...status,
    rss: usage.rss,
    heapTotal: usage.heapTotal,
    heapUsed: usage.heapUsed,
    external: usage.external,
    arrayBuffers: usage.arrayBuffers,
  };
}

function commands(handle) {
  // JSON lines on stdin, one at a time; stdin closing means wsztune is gone: stop.
  let buffered = "";
  let chain = Promise.resolve();
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (text) => {
    buffered += text;
    let newline;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      alive();
      if (line.trim()) chain = chain.then(() => handle(JSON.parse(line))).catch(fail);
    }
  });
  process.stdin.on("end", () => process.exit(0));
}

// The server ---------------------------------------------------------------------------------

function server() {
  const plan = loadPlan(config.plan);
  const sockets = [];
  const wss = new WebSocket.WebSocketServer({
    host: LOOPBACK,
    port: 0,
    perMessageDeflate: perMessageDeflate(config.compression, true),
    maxPayload: 0, // no limit: the corpus decides the message sizes
    clientTracking: true,
  });
  wss.on("error", fail);
  // What the server answered to the offer: the negotiated permessage-deflate parameters.
  wss.on("headers", (headers, request) => {
    const line = headers.find((h) => /^sec-websocket-extensions:/i.test(h));
    request.wsztuneExtensions = line ? line.replace(/^[^:]*:\s*/, "") : "";
  });
  wss.on("connection", (ws, request) => {
    const index = Number(request.url.replace(/^\//, ""));
    const counters = tap(request.socket);
    sockets.push(ws);
    const next = inbox(ws);
    const script = plan.scripts[plan.assignment[index]];
    const work = (async () => {
      const started = process.hrtime.bigint();
      await replay(ws, script, "server", next, index);
      await flushed(ws); // nothing the server sent is still in flight when it is measured
      alive();
      const replayed = process.hrtime.bigint();
      const usage = memory();
      reply({
        done: index,
        sent: counters.outgoing.toJSON(),
        received: counters.incoming.toJSON(),
        extensions: request.wsztuneExtensions,
        replay_ms: Number(replayed - started) / 1e6,
        gc_ms: Number(process.hrtime.bigint() - replayed) / 1e6,
        ...usage,
      });
    })();
    withTimeout(work, `server connection ${index}`).catch(fail);
  });
  wss.on("listening", () => {
    reply({
      port: wss.address().port,
      node: process.version,
      zlib: process.versions.zlib,
      ws: require(`${config.ws}/package.json`).version,
      pid: process.pid,
      ...memory(),
    });
  });
  commands(async (command) => {
    if (command.close) {
      for (const ws of sockets) ws.terminate();
      wss.close();
      reply({ closed: true });
      process.exit(0);
    }
  });
}

// The clients --------------------------------------------------------------------------------

function client() {
  const plan = loadPlan(config.plan);
  const open = [];
  commands(async (command) => {
    if (command.close) {
      for (const ws of open) ws.terminate();
      reply({ closed: true });
      process.exit(0);
    }
    const index = command.open;
    const { ws, replayed } = openClient(plan, index);
    open.push(ws);
    const work = replayed.then((counters) => {
      reply({ done: index, sent: counters.outgoing.toJSON(), received: counters.incoming.toJSON(), extensions: ws.extensions });
    });
    await withTimeout(work, `client connection ${index}`);
  });
  reply({ ready: true, pid: process.pid });
}

// openClient opens live connection `index` and replays its script as the client: the socket, and
// a promise of the socket's byte counters (tap) once the replay is done.
function openClient(plan, index) {
  const ws = new WebSocket(`ws://${LOOPBACK}:${config.port}/${index}`, {
    perMessageDeflate: perMessageDeflate(config.compression, false),
    maxPayload: 0,
    handshakeTimeout: timeoutMs,
  });
  const next = inbox(ws);
  const replayed = (async () => {
    const counters = await new Promise((resolve, reject) => {
      ws.once("open", () => resolve(tap(ws._socket)));
      ws.once("error", reject);
    });
    await replay(ws, plan.scripts[plan.assignment[index]], "client", next, index);
    return counters;
  })();
  return { ws, replayed };
}

// A fleet (wsztune/live/fleet.py) ---------------------------------------------------------------
//
// fleet-server: every connection replays its script and stays open until its client goes; a
// {"counts": true} line answers the data bytes sent and received over every connection.
// fleet-clients: opens connections config.start .. config.start + config.count - 1, at most
// FLEET_CONCURRENCY handshakes at a time, replays each, says {"done", "sent", "received"} and
// holds them until stdin closes (or wsztune kills this process: a churn round).
// Neither stops when idle: a fleet holds its connections quietly, and wsztune kills both.

const FLEET_CONCURRENCY = 64;

function fleetServer() {
  clearTimeout(idle);
  const plan = loadPlan(config.plan);
  const totals = { sent: 0, received: 0 };
  const wss = new WebSocket.WebSocketServer({
    host: LOOPBACK,
    port: 0,
    backlog: 4096,
    perMessageDeflate: perMessageDeflate(config.compression, true),
    maxPayload: 0,
    clientTracking: false,
  });
  wss.on("error", fail);
  wss.on("connection", (ws, request) => {
    const index = Number(request.url.replace(/^\//, ""));
    const counters = tap(request.socket);
    ws.on("error", () => {}); // a client process killed by a churn round: its sockets reset
    const next = inbox(ws);
    const work = (async () => {
      await replay(ws, plan.scripts[plan.assignment[index]], "server", next, index);
      await flushed(ws);
      totals.sent += counters.outgoing.dataBytes;
      totals.received += counters.incoming.dataBytes;
    })();
    withTimeout(work, `server connection ${index}`).catch(fail);
  });
  wss.on("listening", () => reply({ port: wss.address().port, pid: process.pid }));
  commands(async (command) => {
    if (command.counts) reply(totals);
  });
}

function fleetClients() {
  clearTimeout(idle);
  const plan = loadPlan(config.plan);
  const totals = { sent: 0, received: 0 };
  const last = config.start + config.count;
  let next = config.start;
  let done = 0;
  const openOne = () => {
    if (next >= last) return;
    const index = next++;
    const work = openClient(plan, index).replayed.then((counters) => {
      totals.sent += counters.outgoing.dataBytes;
      totals.received += counters.incoming.dataBytes;
      done += 1;
      if (done === config.count) reply({ done, ...totals });
      openOne();
    });
    withTimeout(work, `client connection ${index}`).catch(fail);
  };
  for (let i = 0; i < FLEET_CONCURRENCY; i++) openOne();
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
}

const MODES = { server, client, "fleet-server": fleetServer, "fleet-clients": fleetClients };
if (MODES[mode]) MODES[mode]();
else fail(`mode must be one of ${Object.keys(MODES).join(", ")}, not ${mode}`);
