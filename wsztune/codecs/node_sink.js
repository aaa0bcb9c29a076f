'use strict';
// Loopback TCP connections whose far ends another process reads and discards: Node's side of
// wsztune/programs/sink.py. A ws server broadcasting hands each client's frame to its net.Socket
// (a send to the kernel) before it compresses the next one, while its clients, on other
// machines, read; a broadcast timed with sends that go nowhere leaves that cost out
// (docs/broadcast.md, "ws: the same sends"). openSink(sink) gives a timed broadcast those sends:
// sink.sockets sockets in this process (Nagle off, as ws's server sets it), connected to the
// reader of python-websockets' model (sink.command: programs/sink.py's drain, which reads every
// 20 ms without waiting on its sockets, so that no send wakes a reader). The reader
// exits when every socket has ended (this process gone, however it died, or close()), first
// saying how many bytes it read. How many sockets the open-file limit holds is the Python
// side's to say (programs/descriptors.py); past it, subscribers share sockets.

const net = require('net');
const { spawn } = require('child_process');

const CONNECT_SECONDS = 30;

// A sink of sink.sockets sockets connected to a fresh reading process; rejects when no
// loopback socket can be opened (the caller falls back).
async function openSink(sink) {
  const count = sink.sockets;
  const server = net.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', backlog: Math.min(count, 4096) }, resolve);
  });
  const [program, ...args] = sink.command;
  const child = spawn(program, [...args, String(server.address().port), String(count)],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  let said = '';
  let saidReady;
  const ready = new Promise((resolve) => { saidReady = resolve; });
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (text) => {
    said += text;
    if (/^ready$/m.test(said)) saidReady();
  });
  const exited = new Promise((resolve) => child.once('close', (code) => resolve(code)));
  const sockets = [];
  let timer;
  try {
    const accepted = new Promise((resolve) => {
      server.on('connection', (socket) => {
        socket.setNoDelay(true);
        // A reader that died shows in close() (its exit code), not as an unhandled reset here.
        socket.on('error', () => {});
        sockets.push(socket);
        if (sockets.length === count) resolve();
      });
    });
    // Ready once every socket is accepted and the reader said so (it has connected them all).
    await Promise.race([
      Promise.all([accepted, ready]),
      new Promise((resolve, reject) => {
        timer = setTimeout(() => reject(new Error('the sink did not connect')), CONNECT_SECONDS * 1000);
        child.once('error', reject);
        exited.then((code) => reject(new Error(`the sink's reading process ended (${code})`)));
      }),
    ]);
  } catch (error) {
    for (const socket of sockets) socket.destroy();
    child.kill('SIGKILL');
    throw error;
  } finally {
    clearTimeout(timer);
    server.close();
  }
  return {
    sockets,
    pid: child.pid,
    socketFor: (subscriber) => sockets[subscriber % sockets.length],
    written: () => sockets.reduce((sum, socket) => sum + socket.bytesWritten, 0),
    // End the sockets; the reader reads them to their end, says how much it read and exits.
    async close() {
      for (const socket of sockets) socket.end();
      const code = await exited;
      const match = /^read (\d+)$/m.exec(said);
      if (code !== 0 || !match) throw new Error(`the sink's reading process failed (${code})`);
      return Number(match[1]);
    },
  };
}

module.exports = { openSink };
