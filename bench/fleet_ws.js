// bench/fleet.py's node side: a ws server, or one wave of ws clients, replaying a records corpus.
//
//   node fleet_ws.js server CORPUS SETTING                      prints {"port": N}, runs until killed
//   node fleet_ws.js clients CORPUS SETTING PORT START COUNT    prints {"done": N}, holds until stdin closes
//
// SETTING: "off", "WB:ML" (both windows WB, memLevel ML, threshold 0 so that every message is
// compressed, as the model is asked), or "push" (clients offer ws's default permessage-deflate
// and send nothing: a server-push fleet, for coder). WS_PACKAGE: where ws is (wsztune's cache).
"use strict";

const fs = require("fs");
const path = require("path");
const os = require("os");

const WebSocket = require(
  process.env.WS_PACKAGE || path.join(os.homedir(), ".cache", "wsztune", "ws-8.23.0", "node_modules", "ws"),
);
const [mode, corpusPath, setting, port, start, count] = process.argv.slice(2);
const CONCURRENCY = 64;

function scripts(file) {
  const byConnection = new Map();
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (!line.startsWith('{"connection"')) continue;
    const record = JSON.parse(line);
    if (!byConnection.has(record.connection)) byConnection.set(record.connection, { server: [], client: [] });
    const payload = record.text !== undefined ? Buffer.from(record.text, "utf8") : Buffer.from(record.base64, "base64");
    byConnection.get(record.connection)[record.direction].push(payload);
  }
  return [...byConnection.values()];
}

function deflateOptions() {
  if (setting === "off") return false;
  if (setting === "push") return true;
  const [bits, memLevel] = setting.split(":").map(Number);
  return {
    serverMaxWindowBits: bits,
    clientMaxWindowBits: bits,
    zlibDeflateOptions: { memLevel },
    threshold: 0,
  };
}

const plan = scripts(corpusPath);

if (mode === "server") {
  const server = new WebSocket.Server({ host: "127.0.0.1", port: 0, perMessageDeflate: deflateOptions(), backlog: 4096 });
  server.on("connection", (socket, request) => {
    const script = plan[Number(request.url.slice(1)) % plan.length];
    for (const payload of script.server) socket.send(payload, { binary: true });
  });
  server.on("listening", () => process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n"));
} else {
  let opened = 0;
  let next = Number(start);
  const last = Number(start) + Number(count);
  let inFlight = 0;
  const held = [];
  const push = setting === "push";
  function maybeDone() {
    if (opened === Number(count)) process.stdout.write(JSON.stringify({ done: opened }) + "\n");
  }
  function openOne() {
    if (next >= last) return;
    const index = next++;
    inFlight++;
    const script = plan[index % plan.length];
    const socket = new WebSocket(`ws://127.0.0.1:${port}/${index}`, { perMessageDeflate: deflateOptions() });
    held.push(socket);
    let received = 0;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      inFlight--;
      opened++;
      maybeDone();
      openOne();
    };
    socket.on("open", () => {
      if (!push) for (const payload of script.client) socket.send(payload, { binary: true });
      if (script.server.length === 0) finish();
    });
    socket.on("message", () => {
      received++;
      if (received === script.server.length) finish();
    });
    socket.on("error", (error) => {
      process.stderr.write(String(error) + "\n");
      process.exit(1);
    });
  }
  for (let i = 0; i < CONCURRENCY; i++) openOne();
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
}
