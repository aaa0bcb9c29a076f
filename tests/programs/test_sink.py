"""programs/sink.py: loopback sockets a separate process drains, kept per process."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from wsztune.programs import sink


def test_the_child_drains_every_socket_and_exits_when_they_close() -> None:
    opened = sink.open_sink(3)
    try:
        assert len(opened.sockets) == 3 and opened.room == 3
        assert opened.process.pid != os.getpid() and opened.process.poll() is None
        # Far more than a loopback socket's buffers hold: the writes end only if the other
        # process reads every socket.
        chunk = b"x" * (1 << 20)
        for sock in opened.sockets:
            for _ in range(16):
                sock.sendall(chunk)
    finally:
        opened.close()
    assert opened.process.returncode == 0


def test_another_runtime_runs_the_same_reader_and_hears_how_much_it_read() -> None:
    """A helper in another runtime (ws's model in Node) opens its own sockets and runs the
    reader from :func:`sink.helper_job`: the reader reads every socket to its end, however
    late its data came, and then says how many bytes it read."""
    import socket
    import subprocess

    job = sink.helper_job(3)
    assert job["sockets"] == 3
    with socket.create_server(("127.0.0.1", 0)) as listener:
        command = [*job["command"], str(listener.getsockname()[1]), "3"]
        reader = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        sockets = [listener.accept()[0] for _ in range(3)]
    assert reader.stdout is not None and reader.stdout.readline() == "ready\n"
    for n, sock in enumerate(sockets):
        sock.sendall(b"x" * (1000 * (n + 1)))
    sockets[0].close()  # the others still write after the first one ended
    sockets[1].sendall(b"y" * 500)
    for sock in sockets[1:]:
        sock.close()
    assert reader.stdout.read() == "read 6500\n"
    assert reader.wait(timeout=5) == 0


def test_the_child_polls_its_sockets_and_never_waits_on_them() -> None:
    """No reader waits on a socket, so no send wakes one (a server's clients are on other
    machines): the child sleeps between reads, as the kernel's wait channel shows."""
    opened = sink.open_sink(3)
    try:
        channel = Path(f"/proc/{opened.process.pid}/wchan")
        if not channel.exists():
            pytest.skip("no /proc/PID/wchan here (not Linux)")
        seen = set()
        for _ in range(100):
            opened.sockets[0].sendall(b"x" * 100)
            seen.add(channel.read_text())
            time.sleep(0.003)
    finally:
        opened.close()
    assert "hrtimer_nanosleep" in seen
    assert not seen & {"do_epoll_wait", "ep_poll", "do_select", "do_sys_poll", "sk_wait_data"}


def test_a_process_keeps_one_sink_and_opens_a_larger_one_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sink, "_sink", None)
    first = sink.sink_for(2)
    try:
        assert sink.sink_for(1) is first and sink.sink_for(2) is first
        larger = sink.sink_for(4)
        assert larger is not first and len(larger.sockets) == 4
        assert first.process.returncode == 0  # the smaller one was closed
    finally:
        sink._close_at_exit()
        monkeypatch.setattr(sink, "_sink", None)


def test_subscribers_share_sockets_when_the_descriptor_limit_holds_fewer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sink, "usable_sockets", lambda wanted: 2)
    opened = sink.open_sink(5)
    try:
        assert opened.room == 5 and len(opened.sockets) == 2
        assert [opened.socket_for(n) for n in range(5)] == [
            opened.sockets[0], opened.sockets[1], opened.sockets[0], opened.sockets[1],
            opened.sockets[0],
        ]
    finally:
        opened.close()


def test_a_lost_reader_is_one_line_for_the_user_not_a_broken_pipe() -> None:
    from wsztune.errors import WsztuneError

    lost = sink.SinkLost(BrokenPipeError(32, "Broken pipe"))
    assert isinstance(lost, WsztuneError) and not isinstance(lost, OSError)
    assert "run the command again" in str(lost) and "\n" not in str(lost)
