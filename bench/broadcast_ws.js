'use strict';
// bench/broadcast.py's ws server: broadcasts the messages file at a fixed rate to every client,
// `for (const client of wss.clients) client.send(message)` as ws's README broadcasts, with
// ws's default permessage-deflate except threshold 0 (every message compressed, as the model
// run with --threshold 0), or without compression. Prints "port N", then every 0.5 s one JSON
// line {"connections", "deliveries", "bytes"}: the sends whose callback reported them written,
// and their payload bytes.
//
// Usage: node broadcast_ws.js WS_DIR COMPRESS(1|0) RATE MESSAGES_FILE [PHASE] [FANOUT]
// With FANOUT K over 0, each broadcast goes to K clients: the clients in the order they came, in
// groups of K, the groups in turn (clients past the last whole group get nothing).
const fs = require('fs');
const path = require('path');

const [wsDir, compress, rate, messagesPath, phase = '0', fanoutArgument = '0'] = process.argv.slice(2);
const fanout = Number(fanoutArgument);
const { WebSocketServer } = require(path.resolve(wsDir));

const { isUtf8 } = require('buffer');

// A payload that is not UTF-8 (the game corpus's binary messages) is sent as a Buffer, a binary
// message of the same bytes: as text it would be re-encoded with replacement characters.
const data = fs.readFileSync(messagesPath);
const messages = [];
const sizes = [];
for (let at = 0; at < data.length; ) {
  const size = data.readUInt32LE(at);
  const payload = data.subarray(at + 4, at + 4 + size);
  messages.push(isUtf8(payload) ? payload.toString('utf8') : Buffer.from(payload));
  sizes.push(size);
  at += 4 + size;
}

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  perMessageDeflate: compress === '1' ? { threshold: 0 } : false,
});
let deliveries = 0;
let bytes = 0;
wss.on('listening', () => {
  process.stdout.write(`port ${wss.address().port}\n`);
  let start = 0;
  let count = 0;
  const tick = () => {
    const message = messages[count % messages.length];
    const size = sizes[count % messages.length];
    const written = (error) => {
      if (!error) {
        deliveries += 1;
        bytes += size;
      }
    };
    let subscribers = wss.clients; // a Set: in the order the clients came
    if (fanout > 0 && wss.clients.size >= fanout) {
      const first = (count % Math.floor(wss.clients.size / fanout)) * fanout;
      subscribers = Array.from(wss.clients).slice(first, first + fanout);
    }
    for (const client of subscribers) client.send(message, written);
    count += 1;
    setTimeout(tick, Math.max(0, start + (count * 1000) / Number(rate) - Date.now()));
  };
  // The first broadcast at PHASE x interval past a whole interval of the clock: two servers
  // measured side by side (on and off) given phases 0 and 0.5 take turns.
  const interval = 1000 / Number(rate);
  const first = interval - (Date.now() % interval) + Number(phase) * interval;
  setTimeout(() => {
    start = Date.now();
    tick();
  }, first);
  setInterval(() => {
    process.stdout.write(JSON.stringify({ connections: wss.clients.size, deliveries, bytes }) + '\n');
  }, 500);
});
