'use strict';
// A real ws client (the npm package, its defaults: perMessageDeflate on, threshold 1024) that
// connects to ws://127.0.0.1:PORT/, sends every payload of a file as a binary message, in order,
// each after the previous one was written, then closes.
//
// Usage: node ws_client.js WS_DIR PORT PAYLOADS.json   (a JSON list of base64 payloads)

const fs = require('fs');

const WebSocket = require(process.argv[2]);
const port = process.argv[3];
const payloads = JSON.parse(fs.readFileSync(process.argv[4], 'utf8')).map((text) =>
  Buffer.from(text, 'base64'),
);

const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
ws.on('open', async () => {
  for (const payload of payloads) {
    await new Promise((resolve, reject) =>
      ws.send(payload, { binary: true }, (error) => (error ? reject(error) : resolve())),
    );
  }
  ws.close();
});
ws.on('close', () => process.exit(0));
ws.on('error', (error) => {
  console.error(error.message);
  process.exit(1);
});
