'use strict';
// Loopback TCP connections whose far ends another process reads and discards: Node's side of
// wsztune/programs/sink.py. A ws server broadcasting hands each client's frame to its net.Socket
// (a send to the kernel) before it compresses the next one, while the clients read on another
// core; a broadcast timed with sends that go nowhere leaves that cost out (docs/broadcast.md,
// "python-websockets: the kernel sends in the model"). openSink(count) gives a timed broadcast
// those sends: up to `count` sockets in this process (Nagle off, as ws's server sets it),
// connected to a child Node process (this file run as a script) that reads them, so the reading
// costs this process no CPU. The child exits when its stdin ends (its parent gone, however it
// died) or when its sockets end, first saying how many bytes it read.

const net = require('net');
const { spawn, execFileSync } = require('child_process');

// File descriptors kept free beside the sockets; past the limit, subscribers share sockets.
const SPARE_DESCRIPTORS = 128;
const CONNECT_SECONDS = 30;

// The soft descriptor limit (the child inherits it), or Infinity when it cannot be read.
function descriptorLimit() {
  try {
    const text = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
    return text === 'unlimited' ? Infinity : Number(text) || Infinity;
  } catch (error) {
    return Infinity;
  }
}

// A sink of `wanted` sockets (fewer if the descriptor limit holds fewer), connected to a fresh
// draining child; rejects when no loopback socket can be opened (the caller falls back).
async function openSink(wanted) {
  const count = Math.max(1, Math.min(wanted, descriptorLimit() - SPARE_DESCRIPTORS));
  const server = net.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', backlog: Math.min(count, 4096) }, resolve);
  });
  const child = spawn(process.execPath, [__filename, String(server.address().port), String(count)],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  let said = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (text) => { said += text; });
  const exited = new Promise((resolve) => child.once('close', (code) => resolve(code)));
  const sockets = [];
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the sink did not connect')), CONNECT_SECONDS * 1000);
      child.once('error', reject);
      exited.then((code) => reject(new Error(`the sink's reading process ended (${code})`)));
      server.on('connection', (socket) => {
        socket.setNoDelay(true);
        sockets.push(socket);
        if (sockets.length === count) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  } catch (error) {
    for (const socket of sockets) socket.destroy();
    child.kill('SIGKILL');
    throw error;
  } finally {
    server.close();
  }
  return {
    sockets,
    pid: child.pid,
    socketFor: (subscriber) => sockets[subscriber % sockets.length],
    written: () => sockets.reduce((sum, socket) => sum + socket.bytesWritten, 0),
    // End the sockets; the child reads them to their end, says how much it read and exits.
    async close() {
      for (const socket of sockets) socket.end();
      const code = await exited;
      const match = /read (\d+)/.exec(said);
      if (code !== 0 || !match) throw new Error(`the sink's reading process failed (${code})`);
      return Number(match[1]);
    },
  };
}

// The child: open `count` connections to `port`, read and discard until all of them end (then
// say how many bytes came) or stdin ends (the parent gone).
function drain(port, count) {
  let read = 0;
  let ended = 0;
  for (let i = 0; i < count; i++) {
    const connection = net.connect(port, '127.0.0.1');
    connection.on('data', (chunk) => { read += chunk.length; });
    connection.on('end', () => {
      if (++ended === count) process.stdout.write(`read ${read}\n`, () => process.exit(0));
    });
    connection.on('error', () => process.exit(1));
  }
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

if (require.main === module) drain(Number(process.argv[2]), Number(process.argv[3]));

module.exports = { openSink };
