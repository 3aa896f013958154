"""LatencyProxy: what counts as a request, that each one waits ``delay``, and that bytes pass intact.

The timing test asserts a lower bound only (N sequential requests cannot finish before N x delay,
since each is held that long by the proxy); how much longer they take is not asserted.
"""

from __future__ import annotations

import hashlib
import io
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from airflow_provider_ango.emulator import AngoEmulator
from airflow_provider_ango.testing.proxy import LatencyProxy, loopback_target
from tests.testing.line_server import blob, line_server

DELAY = 0.03


@pytest.fixture
def target() -> Iterator[tuple[str, int]]:
    with line_server() as address:
        yield address


@pytest.fixture
def proxy(target: tuple[str, int]) -> Iterator[LatencyProxy]:
    with LatencyProxy(target=target, delay=DELAY) as started:
        yield started


def _connect(proxy: LatencyProxy) -> tuple[socket.socket, io.BufferedReader]:
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=30)
    return sock, sock.makefile("rb")


def _read_to_end(answers: io.BufferedReader) -> bytes:
    try:
        return answers.read()
    except ConnectionResetError:
        return b""  # an aborted connection may end with a reset rather than an end of file


def test_each_sequential_request_waits_the_delay_and_counts_once(proxy: LatencyProxy) -> None:
    sock, answers = _connect(proxy)
    with sock:
        started = time.monotonic()
        for _ in range(10):
            sock.sendall(b"ping\n")
            assert answers.readline() == b"pong\n"
        elapsed = time.monotonic() - started
    assert proxy.requests == 10
    assert proxy.connections == 1  # keep-alive: one connection carried them all
    assert elapsed >= 10 * DELAY


def test_requests_sent_before_an_answer_share_one_delay(proxy: LatencyProxy) -> None:
    sock, answers = _connect(proxy)
    with sock:
        sock.sendall(b"ping\nping\nping\n")  # pipelined: one burst
        assert [answers.readline() for _ in range(3)] == [b"pong\n"] * 3
        assert proxy.requests == 1
        sock.sendall(b"ping\n")  # after an answer: a new request
        assert answers.readline() == b"pong\n"
        assert proxy.requests == 2


def test_a_streamed_upload_and_download_pass_intact_as_one_request_each(proxy: LatencyProxy) -> None:
    data = blob(20 << 20)
    sock, answers = _connect(proxy)
    with sock:
        sock.sendall(b"body %d\n" % len(data))
        for start in range(0, len(data), 1 << 20):
            sock.sendall(data[start : start + (1 << 20)])
        assert answers.readline().strip() == hashlib.sha256(data).hexdigest().encode()
        assert proxy.requests == 1
        sock.sendall(b"blob %d\n" % len(data))
        assert answers.read(len(data)) == data
        assert proxy.requests == 2


def test_a_half_closed_client_still_gets_its_answer(proxy: LatencyProxy) -> None:
    sock, answers = _connect(proxy)
    with sock:
        sock.sendall(b"ping\n")
        sock.shutdown(socket.SHUT_WR)
        assert answers.read() == b"pong\nbye\n"


def test_many_connections_at_once_each_count(proxy: LatencyProxy) -> None:
    sockets = [_connect(proxy) for _ in range(8)]
    for sock, _ in sockets:
        sock.sendall(b"ping\n")
    for sock, answers in sockets:
        with sock:
            assert answers.readline() == b"pong\n"
    assert (proxy.requests, proxy.connections) == (8, 8)


def test_the_target_may_be_set_after_start(target: tuple[str, int]) -> None:
    with LatencyProxy(delay=0) as proxy:
        sock, answers = _connect(proxy)
        with sock:
            assert _read_to_end(answers) == b""  # closed: nowhere to go yet
        proxy.target = target
        sock, answers = _connect(proxy)
        with sock:
            sock.sendall(b"ping\n")
            assert answers.readline() == b"pong\n"


def test_an_upstream_that_refuses_closes_the_client() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        with LatencyProxy(target=("127.0.0.1", port), delay=0) as proxy:
            sock, answers = _connect(proxy)
            with sock:
                assert _read_to_end(answers) == b""


def test_listens_on_loopback_and_rewrites_urls(proxy: LatencyProxy) -> None:
    assert proxy.address == ("127.0.0.1", proxy.port)
    assert proxy.url == f"http://127.0.0.1:{proxy.port}"
    assert proxy.via("http://127.0.0.1:10000/devstoreaccount1?comp=list") == (
        f"http://127.0.0.1:{proxy.port}/devstoreaccount1?comp=list"
    )


@pytest.mark.parametrize(
    "bad_target",
    [("10.0.0.1", 80), ("192.168.1.20", 443), ("example.com", 80), "http://8.8.8.8:53", ("::1", 80)],
)
def test_refuses_a_target_beyond_this_machine(bad_target: tuple[str, int] | str) -> None:
    with pytest.raises(ValueError, match="forwards on this machine only"):
        LatencyProxy(target=bad_target)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"target": ("127.0.0.1", 0)}, "port must be 1-65535"),
        ({"target": "127.0.0.1"}, "needs a host and a port"),
        ({"delay": -0.01}, "delay must be a finite number"),
        ({"delay": float("nan")}, "delay must be a finite number"),
    ],
)
def test_bad_arguments_are_named(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LatencyProxy(**arguments)  # type: ignore[arg-type]


def test_targets_by_url_or_localhost() -> None:
    assert loopback_target("http://localhost:9000/bucket") == ("127.0.0.1", 9000)
    assert loopback_target("127.0.0.5:81") == ("127.0.0.5", 81)


def test_http_keep_alive_through_the_ango_emulator(ango: AngoEmulator) -> None:
    """N sequential API calls on one pooled connection: N delayed requests, N answers logged."""
    calls = 8
    with LatencyProxy(target=ango.url, delay=DELAY) as proxy:
        with httpx.Client(base_url=proxy.url, headers={"apikey": ango.api_key}, timeout=30) as client:
            started = time.monotonic()
            for _ in range(calls):
                client.get("/v2/listProjects", params={"page": 1, "limit": 1}).raise_for_status()
            elapsed = time.monotonic() - started
        assert (proxy.requests, proxy.connections) == (calls, 1)
    assert len(ango.control.requests("/v2/listProjects")) == calls
    assert elapsed >= calls * DELAY


def test_connections_the_server_closes_first_are_released() -> None:
    """An HTTP/1.0 server (gcp-storage-emulator) or one answering ``Connection: close`` (moto) closes
    its side first; once the client closes too, the proxy drops both sockets, rather than keeping two
    half-closed descriptors per request until it runs out of them."""
    import socketserver
    import threading

    class AnswerOnceThenClose(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.rfile.readline()
            self.wfile.write(b"pong\n")  # then the handler returns and the server closes first

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), AnswerOnceThenClose)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with LatencyProxy(target=server.server_address[:2], delay=0) as proxy:
            for _ in range(20):
                sock, answers = _connect(proxy)
                with sock, answers:  # the file object holds the socket open too
                    sock.sendall(b"ping\n")
                    assert _read_to_end(answers) == b"pong\n"
            deadline = time.monotonic() + 10
            while proxy._open and time.monotonic() < deadline:  # closed on the proxy's loop, soon after
                threading.Event().wait(0.01)
            assert proxy.connections == 20
            assert not proxy._open
    finally:
        server.shutdown()
        server.server_close()


def _proxy_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "airflow_provider_ango.testing.proxy", *arguments]


def test_the_command_line_proxy_runs_in_its_own_process_and_reports_its_counts(
    target: tuple[str, int],
) -> None:
    command = _proxy_command("--target", f"{target[0]}:{target[1]}", "--delay", str(DELAY))
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdin is not None
        assert process.stdout is not None
        url = json.loads(process.stdout.readline())["url"]
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            answers = sock.makefile("rb")
            started = time.monotonic()
            for _ in range(3):
                sock.sendall(b"ping\n")
                assert answers.readline() == b"pong\n"
            elapsed = time.monotonic() - started
            answers.close()
        process.stdin.write("stats\nwhat\n")
        process.stdin.flush()
        assert json.loads(process.stdout.readline()) == {"requests": 3, "connections": 1}
        assert "unknown command 'what'" in json.loads(process.stdout.readline())["error"]
        process.stdin.close()  # closing its input stops it
        assert process.wait(timeout=30) == 0
    assert elapsed >= 3 * DELAY


def test_the_command_line_proxy_refuses_a_remote_target_by_name() -> None:
    finished = subprocess.run(
        _proxy_command("--target", "10.0.0.1:80"), capture_output=True, text=True, timeout=60, check=False
    )
    assert finished.returncode == 2
    assert "forwards on this machine only" in finished.stderr
    assert finished.stdout == ""
