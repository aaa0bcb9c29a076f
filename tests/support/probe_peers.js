// Real Node servers for tests/live/test_probe_stacks.py, on 127.0.0.1:
//
//   node probe_peers.js ws MODULE_DIR OPTIONS_JSON        a ws WebSocketServer
//   node probe_peers.js socketio MODULE_DIR OPTIONS_JSON  a Socket.IO Server on an http server
//
// OPTIONS_JSON is the server's perMessageDeflate option as a user writes it (false, true or an
// object); "default" leaves the option out (the library's own default). stdin's first line is the
// greeting: ws sends it to each connection, then echoes; Socket.IO emits it ("greeting") to
// each socket that connects. Prints the port; exits when stdin closes.
"use strict";

const http = require("http");
const readline = require("readline");

const [kind, moduleDir, optionsText] = process.argv.slice(2);
const lines = readline.createInterface({ input: process.stdin });

lines.once("line", (greeting) => {
  const options = optionsText === "default" ? {} : { perMessageDeflate: JSON.parse(optionsText) };
  if (kind === "ws") {
    const { WebSocketServer } = require(moduleDir);
    const server = new WebSocketServer({ host: "127.0.0.1", port: 0, ...options });
    server.on("connection", (socket) => {
      socket.send(greeting);
      socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
    });
    server.on("listening", () => console.log(server.address().port));
  } else {
    const { Server } = require(moduleDir);
    const httpServer = http.createServer();
    const io = new Server(httpServer, { transports: ["websocket"], ...options });
    io.on("connection", (socket) => {
      socket.emit("greeting", greeting);
      socket.on("echo", (message) => socket.emit("echo", message));
    });
    httpServer.listen(0, "127.0.0.1", () => console.log(httpServer.address().port));
  }
});
lines.on("close", () => process.exit(0));
