// Bun.serve's WebSocket server in each of its compression modes, for tests/codecs/test_verify_bun.py.
//
// Usage: bun bun_server.js MESSAGES.json MODE...
// MESSAGES.json: [[isText, base64 payload], ...]. A MODE is a perMessageDeflate "compress" value
// ("shared", "dedicated", "3KB".."256KB"), or "plain-send": perMessageDeflate true but
// ws.send(data) without its compress argument. One server per mode on an ephemeral 127.0.0.1
// port; each sends every message to every connection (ws.send(data, true)), then closes it.
// Prints {"mode": port, ...} on one line, then serves until killed (or for 120 s at most).

const fs = require('fs');

const [file, ...modes] = process.argv.slice(2);
const messages = JSON.parse(fs.readFileSync(file, 'utf8')).map(([isText, payload]) => {
  const bytes = Buffer.from(payload, 'base64');
  return isText ? bytes.toString('utf8') : new Uint8Array(bytes);
});

function options(mode) {
  if (mode === 'shared') return true; // SHARED_COMPRESSOR | SHARED_DECOMPRESSOR
  if (mode === 'plain-send') return true;
  return { compress: mode, decompress: 'dedicated' };
}

const ports = {};
for (const mode of modes) {
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(request, server) {
      if (server.upgrade(request)) return undefined;
      return new Response('websocket only', { status: 400 });
    },
    websocket: {
      perMessageDeflate: options(mode),
      open(ws) {
        for (const message of messages) {
          if (mode === 'plain-send') ws.send(message);
          else ws.send(message, true);
        }
        ws.close(1000);
      },
      message() {},
    },
  });
  ports[mode] = server.port;
}
console.log(JSON.stringify(ports));
setTimeout(() => process.exit(0), 120000); // never outlive a test run
