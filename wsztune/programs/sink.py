"""Loopback TCP connections whose far ends another process reads and discards.

A server broadcasting per connection hands each subscriber's frame to the kernel (asyncio's
``transport.write``: a ``send`` on a TCP socket) before it compresses the next one, and its
clients read those sockets on another core meanwhile. Each send and the reading between two
compressions cost them cache, so a subscriber's compression costs a real server more than the
same compressions back to back with their bytes going nowhere. :class:`SocketSink` gives a
timed broadcast those sends: ``count`` connected sockets in this process, whose other ends a
child Python process (:func:`drain`) reads, so that the reading costs this process no CPU.

The child reads every :data:`POLL_SECONDS` rather than waiting on its sockets: a server's
clients are on other machines, and its sends wake no reader on its own. A reader waiting here
is woken by every send, and on a VM waking an idle CPU costs the sender more with compression
on, whose sends come further apart, than off: 1.9 us per delivery of python-websockets' on -
off in the kernel's wake-up path under a waiting reader, on the game records (perf); a polling
reader halved the system time of on - off, 1.5 to 1.9 against 3.6 to 3.8 us
(docs/broadcast.md, "Readers that wait on their sockets").

One sink is kept per process and reused by later broadcasts (:func:`sink_for`); it closes when
the process exits, and the child exits when its sockets do. ws's broadcast model
(``wsztune/codecs/node_sink.js``) runs the same child (:func:`drain_command`).
"""

from __future__ import annotations

import atexit
import os
import select
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

from wsztune.errors import WsztuneError
from wsztune.programs.descriptors import usable_sockets

READY = "ready"
# How often the child reads its sockets: a socket then holds a broadcast's message or two
# between reads, far under its buffer.
POLL_SECONDS = 0.02


class SinkLost(WsztuneError):
    """The process reading a sink's sockets ended while a broadcast was being timed."""

    def __init__(self, reason: object = "") -> None:
        super().__init__(
            "the process reading the timed broadcast's sockets ended early "
            f"({reason}): run the command again"
        )


@dataclass
class SocketSink:
    """``sockets`` connected loopback TCP sockets (blocking, Nagle off as asyncio sets it) and
    the child process that drains them."""

    sockets: list[socket.socket]
    process: subprocess.Popen[str]
    room: int  # subscribers it was opened for (more than its sockets when they share)
    pid: int = field(default_factory=os.getpid)

    def socket_for(self, subscriber: int) -> socket.socket:
        """The socket subscriber number ``subscriber`` writes to (shared round-robin when the
        descriptor limit held fewer sockets than subscribers)."""
        return self.sockets[subscriber % len(self.sockets)]

    def close(self) -> None:
        """Close the sockets; the child, reading their end, exits."""
        for sock in self.sockets:
            sock.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def drain(port: int, count: int) -> None:
    """The child's loop: open ``count`` connections to ``port``, say :data:`READY`, then read
    and discard whatever arrived, every :data:`POLL_SECONDS`, until every connection has ended;
    then say how many bytes it read (``read N``). No reader waits on a socket, so no send wakes
    one (the module docstring says why): each round asks which sockets hold data without
    waiting (``poll`` with a timeout of 0), and reads those."""
    connections: dict[int, socket.socket] = {}
    ready = select.poll()
    for _ in range(count):
        connection = socket.create_connection(("127.0.0.1", port))
        connection.setblocking(False)
        connections[connection.fileno()] = connection
        ready.register(connection, select.POLLIN)
    print(READY, flush=True)
    buffer = bytearray(1 << 16)
    read = 0
    while connections:
        time.sleep(POLL_SECONDS)
        for descriptor, _ in ready.poll(0):
            connection = connections[descriptor]
            try:
                while received := connection.recv_into(buffer):
                    read += received
            except BlockingIOError:
                continue
            except OSError:
                pass  # reset: ended all the same
            ready.unregister(descriptor)
            connection.close()
            del connections[descriptor]
    print(f"read {read}", flush=True)


def drain_command() -> list[str]:
    """The command line of a process that runs :func:`drain`, but for its two last arguments
    (the port and the count): Python's sink's reader and Node's (the Go helper has its own,
    ``drain`` in wsztune_go.go, which reads the same way)."""
    return [sys.executable, "-m", "wsztune.programs.sink"]


def helper_job(count: int) -> dict[str, object]:
    """What a helper in another runtime needs to open a sink of its own for ``count``
    subscribers (ws's broadcast model: ``wsztune/codecs/node_sink.js``): the reader's command
    line (:func:`drain_command`) and how many sockets the open-file limit holds. The soft limit
    is raised for them here, and the helper, started after, inherits it."""
    return {"command": drain_command(), "sockets": usable_sockets(count)}


def open_sink(count: int) -> SocketSink:
    """A new :class:`SocketSink` of ``count`` sockets, fewer where the open-file limit holds
    fewer (:func:`~wsztune.programs.descriptors.usable_sockets`): subscribers then share them."""
    room, count = count, usable_sockets(count)
    with socket.create_server(("127.0.0.1", 0), backlog=min(count, 4096)) as listener:
        port = listener.getsockname()[1]
        process = subprocess.Popen([*drain_command(), str(port), str(count)],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   text=True)  # fmt: skip
        sockets = []
        try:
            listener.settimeout(30)
            for _ in range(count):
                connection, _ = listener.accept()
                connection.setblocking(True)
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sockets.append(connection)
            assert process.stdout is not None
            if process.stdout.readline().strip() != READY:
                raise OSError("the sink's reading process did not start")
        except BaseException:
            for sock in sockets:
                sock.close()
            process.kill()
            process.wait()
            raise
    return SocketSink(sockets, process, room)


_sink: SocketSink | None = None


def sink_for(count: int) -> SocketSink:
    """This process's sink with room for ``count`` subscribers, built (or rebuilt larger) on
    first use and closed when the process exits. A forked worker builds its own."""
    global _sink
    if _sink is not None and (_sink.pid != os.getpid() or _sink.room < count):
        if _sink.pid == os.getpid():
            _sink.close()
        _sink = None  # a forked worker's copy of its parent's is left to the parent
    if _sink is None:
        _sink = open_sink(count)
        atexit.unregister(_close_at_exit)  # once, however many sinks this process opened
        atexit.register(_close_at_exit)
    return _sink


def close_sink() -> None:
    """Close this process's sink, if it has one, and forget it: its reading process ends.
    A sweep closes it when its cells are done, so that nothing outlives the sweep in a process
    that goes on (a notebook, a test run); a forked worker's copy is its parent's to close."""
    global _sink
    if _sink is not None and _sink.pid == os.getpid():
        _sink.close()
    _sink = None


def _close_at_exit() -> None:
    close_sink()


if __name__ == "__main__":
    drain(int(sys.argv[1]), int(sys.argv[2]))
