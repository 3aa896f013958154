"""A loopback TCP proxy that adds a fixed delay to each request: rehearse cloud latency locally.

Put it in front of any server on this machine (moto, gcp-storage-emulator, Azurite, the Ango
emulator) and point the client at ``proxy.url`` instead::

    with LatencyProxy(target=("127.0.0.1", port), delay=0.02) as proxy:
        client = make_client(endpoint=proxy.url)
        ...
        print(proxy.requests, "requests, so at least", proxy.requests * proxy.delay, "s of waiting")

What "per request" means. The proxy reads TCP, not HTTP: on each connection, a *request* is
the first bytes the client sends, and then the first bytes it sends after the server has sent
anything back. Those bytes, and all that follow them until the server answers, are held until
``delay`` seconds after the first of them arrived, then forwarded in order at full speed. The
server's bytes pass at once. So:

- HTTP/1.1 with keep-alive: each request/answer exchange costs one ``delay`` and counts once;
- a streamed request body (a 20 MiB upload) is one request: only its first bytes wait, the rest
  follows without further delay (bandwidth is not throttled);
- a streamed answer (a download) adds nothing beyond its request's delay;
- requests pipelined before the first answer share one delay, as they share a round trip;
- ``Expect: 100-continue`` (botocore sends it for uploads) counts twice: the headers, then the
  body after the server's ``100 Continue``, which is two round trips on a real network too;
- opening a connection adds no delay (clients reuse pooled connections).

``requests`` counts the held bursts (one each as above), ``connections`` the accepted ones: a
benchmark's bound is ``requests * delay / concurrency``.

In front of the emulators of :mod:`.servers` (see ``tests/testing/test_proxy_in_front_of_emulators.py``):

- moto (S3): ``endpoint_url`` = ``proxy.url``. moto answers ``Connection: close``, so every
  request opens a new connection (which costs no delay here, unlike a real network);
- gcp-storage-emulator: ``STORAGE_EMULATOR_HOST`` = ``proxy.url``. Its ``mediaLink`` and
  resumable-upload URLs are built from the request's ``Host`` header, which is the proxy's,
  so downloads and uploads by those links stay on the proxy;
- Azurite: ``BlobEndpoint=`` ``proxy.via(endpoint)`` in the connection string;
- the Ango emulator: the connection's host = ``proxy.url``. Signed export links carry the
  emulator's own URL and go around the proxy, unless it was started with
  ``AngoEmulator(public_url=proxy.url)`` (start the proxy first, set ``proxy.target`` after).

In a process of its own (so that its work does not share the client's GIL, as a real network's
does not)::

    python -m airflow_provider_ango.testing.proxy --target 127.0.0.1:9000 --delay 0.02 [--port N]

prints one JSON line, ``{"url": ...}``, once it listens; then answers each ``stats`` line on its
standard input with ``{"requests": R, "connections": C}``, and stops when its input closes.

Loopback only: the proxy listens on 127.0.0.1 and refuses a target that is not a loopback
address. Standard library only (asyncio in a background thread), no Airflow import.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import threading
from collections import deque
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_ango.emulator.server import check_loopback

LOOPBACK = "127.0.0.1"
DEFAULT_DELAY = 0.02  # seconds: a round trip to a cloud store in the same region is 20-100 ms
HELD_BYTES_LIMIT = 1 << 20  # past this much held data the client's socket is no longer read
START_TIMEOUT = 10.0

Address = tuple[str, int]


def loopback_target(target: Address | str) -> Address:
    """``(host, port)`` of a loopback target given as a pair or a URL; anything else is refused."""
    if isinstance(target, str):
        parts = urlsplit(target if "//" in target else f"//{target}")
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"latency proxy target {target!r} needs a host and a port, e.g. 127.0.0.1:9000")
        host, port = parts.hostname, parts.port
    else:
        host, port = target
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"latency proxy target port must be 1-65535, got {port!r}")
    try:
        return check_loopback(host), port
    except ValueError as error:
        raise ValueError(
            f"latency proxy target {target!r}: {error}; it forwards on this machine only"
        ) from None


def via(proxy_url: str, url: str) -> str:
    """``url`` with its scheme and host:port replaced by those of ``proxy_url`` (path and query kept)."""
    proxy, parts = urlsplit(proxy_url), urlsplit(url)
    return urlunsplit((proxy.scheme, proxy.netloc, parts.path, parts.query, parts.fragment))


class _Connection:
    """One client connection and the upstream connection it is forwarded to."""

    def __init__(self, proxy: LatencyProxy, loop: asyncio.AbstractEventLoop) -> None:
        self._proxy = proxy
        self._loop = loop
        self.client: asyncio.Transport | None = None
        self.upstream: asyncio.Transport | None = None
        self._held: deque[tuple[float, bytes]] = deque()  # (forward at, bytes), oldest first
        self._held_bytes = 0
        self._answered = True  # the first client bytes start a request
        self._burst_due = 0.0  # when the bytes of the current request may leave
        self._connecting: asyncio.Task[None] | None = None
        self._release: asyncio.TimerHandle | None = None
        self._client_eof = False
        self._upstream_eof = False
        self._upstream_full = False
        self._client_paused = False
        self._closed = False

    # -- client side ---------------------------------------------------------------------
    def client_connected(self, transport: asyncio.Transport) -> None:
        self.client = transport
        self._proxy._opened(self)
        target = self._proxy.target
        if target is None:
            transport.abort()  # nowhere to forward to yet
            return
        self._connecting = self._loop.create_task(self._connect(target))

    async def _connect(self, target: Address) -> None:
        try:
            await self._loop.create_connection(lambda: _UpstreamProtocol(self), *target)
        except OSError:
            self.close(abort=True)

    def upstream_connected(self, transport: asyncio.Transport) -> None:
        if self._closed:
            transport.abort()
            return
        self.upstream = transport
        self._schedule()

    def from_client(self, data: bytes) -> None:
        now = self._loop.time()
        if self._answered:
            self._answered = False
            self._proxy._requests += 1
            self._burst_due = now + self._proxy.delay
        self._held.append((self._burst_due, data))
        self._held_bytes += len(data)
        self._update_client_reading()
        self._schedule()

    def client_eof(self) -> None:
        self._client_eof = True
        if self._upstream_eof and not self._held:
            self.close()  # the server had finished first (HTTP/1.0, `Connection: close`): both are done
            return
        self._schedule()

    # -- forwarding held bytes -----------------------------------------------------------
    def _schedule(self) -> None:
        if self._release is not None or self.upstream is None or self._closed:
            return
        if self._held:
            self._release = self._loop.call_at(self._held[0][0], self._forward_due)
        elif self._client_eof and self._upstream_eof:
            self.close()  # the last held bytes went out to a server that had finished already
        elif self._client_eof and self.upstream.can_write_eof():
            self.upstream.write_eof()

    def _forward_due(self) -> None:
        self._release = None
        if self.upstream is None or self._closed:
            return
        now = self._loop.time()
        # call_at may fire a clock tick early; nothing leaves before its time.
        while self._held and self._held[0][0] <= now:
            _, data = self._held.popleft()
            self._held_bytes -= len(data)
            self.upstream.write(data)
        self._update_client_reading()
        self._schedule()

    # -- server side ---------------------------------------------------------------------
    def from_upstream(self, data: bytes) -> None:
        self._answered = True
        if self.client is not None:
            self.client.write(data)

    def upstream_eof(self) -> None:
        self._upstream_eof = True
        if self._client_eof and not self._held:
            self.close()  # both sides are done
        elif self.client is not None and self.client.can_write_eof():
            self.client.write_eof()

    # -- flow control: never hold more than HELD_BYTES_LIMIT, never outrun a slow reader --
    def upstream_full(self, full: bool) -> None:
        self._upstream_full = full
        self._update_client_reading()

    def client_full(self, full: bool) -> None:
        if self.upstream is None:
            return
        if full:
            self.upstream.pause_reading()
        else:
            self.upstream.resume_reading()

    def _update_client_reading(self) -> None:
        if self.client is None or self._closed:
            return
        pause = self._upstream_full or self._held_bytes > HELD_BYTES_LIMIT
        if pause and not self._client_paused:
            self.client.pause_reading()
        elif not pause and self._client_paused:
            self.client.resume_reading()
        self._client_paused = pause

    def close(self, abort: bool = False) -> None:
        """Either side went away: drop the other too (``close`` still sends what is buffered)."""
        if self._closed:
            return
        self._closed = True
        if self._release is not None:
            self._release.cancel()
        if self._connecting is not None:
            self._connecting.cancel()
        for transport in (self.client, self.upstream):
            if transport is None:
                continue
            if abort:
                transport.abort()
            else:
                transport.close()
        self._proxy._closed(self)


class _ClientProtocol(asyncio.Protocol):
    def __init__(self, connection: _Connection) -> None:
        self._connection = connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._connection.client_connected(transport)

    def data_received(self, data: bytes) -> None:
        self._connection.from_client(data)

    def eof_received(self) -> bool:
        self._connection.client_eof()
        return True  # keep the connection half open: the answer may still be coming

    def pause_writing(self) -> None:
        self._connection.client_full(True)

    def resume_writing(self) -> None:
        self._connection.client_full(False)

    def connection_lost(self, exc: Exception | None) -> None:
        self._connection.close()


class _UpstreamProtocol(asyncio.Protocol):
    def __init__(self, connection: _Connection) -> None:
        self._connection = connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._connection.upstream_connected(transport)

    def data_received(self, data: bytes) -> None:
        self._connection.from_upstream(data)

    def eof_received(self) -> bool:
        self._connection.upstream_eof()
        return True

    def pause_writing(self) -> None:
        self._connection.upstream_full(True)

    def resume_writing(self) -> None:
        self._connection.upstream_full(False)

    def connection_lost(self, exc: Exception | None) -> None:
        self._connection.close()


class LatencyProxy:
    """A TCP proxy on 127.0.0.1 that holds each request ``delay`` seconds (see the module doc).

    ``target`` may be left out and set later (``proxy.target = ...``), for a server that must
    know the proxy's URL before it starts, such as ``AngoEmulator(public_url=proxy.url)``;
    connections arriving before then are closed.
    """

    def __init__(
        self, target: Address | str | None = None, delay: float = DEFAULT_DELAY, *, port: int = 0
    ) -> None:
        if not isinstance(delay, (int, float)) or not math.isfinite(delay) or delay < 0:
            raise ValueError(f"latency proxy delay must be a finite number of seconds >= 0, got {delay!r}")
        self.delay = float(delay)
        self._target = None if target is None else loopback_target(target)
        self._port = port
        self._requests = 0
        self._connections = 0
        self._open: set[_Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None

    # -- what callers read ---------------------------------------------------------------
    @property
    def target(self) -> Address | None:
        return self._target

    @target.setter
    def target(self, target: Address | str) -> None:
        self._target = loopback_target(target)  # connections opened from now on use it

    @property
    def port(self) -> int:
        return self.address[1]

    @property
    def address(self) -> Address:
        """The listening socket's own address (always on 127.0.0.1)."""
        if self._server is None:
            raise RuntimeError(
                "the latency proxy is not started; use it as a context manager or call start()"
            )
        host, port = self._server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def via(self, url: str) -> str:
        """``url`` with its scheme and host:port replaced by the proxy's (path and query kept)."""
        return via(self.url, url)

    @property
    def requests(self) -> int:
        """Requests delayed so far (held client bursts, see the module doc)."""
        return self._requests

    @property
    def connections(self) -> int:
        """Client connections accepted so far."""
        return self._connections

    def __repr__(self) -> str:
        return f"LatencyProxy(target={self._target!r}, delay={self.delay!r}, requests={self._requests})"

    # -- bookkeeping, on the proxy's event loop ----------------------------------------------
    def _opened(self, connection: _Connection) -> None:
        self._connections += 1
        self._open.add(connection)

    def _closed(self, connection: _Connection) -> None:
        self._open.discard(connection)

    # -- life cycle ----------------------------------------------------------------------
    def start(self) -> LatencyProxy:
        if self._loop is not None:
            raise RuntimeError("the latency proxy is already started")
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="latency-proxy", daemon=True)
        self._thread.start()

        async def listen() -> asyncio.Server:
            return await loop.create_server(
                lambda: _ClientProtocol(_Connection(self, loop)), LOOPBACK, self._port, reuse_address=True
            )

        try:
            self._server = asyncio.run_coroutine_threadsafe(listen(), loop).result(START_TIMEOUT)
        except BaseException:
            self._stop_loop()
            raise
        return self

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is None:
            return
        if server is not None:

            async def shut() -> None:
                server.close()
                for connection in list(self._open):
                    connection.close(abort=True)
                await server.wait_closed()

            asyncio.run_coroutine_threadsafe(shut(), loop).result(START_TIMEOUT)
        self._stop_loop()

    def _stop_loop(self) -> None:
        loop, self._loop = self._loop, None
        self._server = None
        if loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(START_TIMEOUT)
            self._thread = None
        loop.close()

    def __enter__(self) -> LatencyProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """The command line above: serve until standard input closes."""
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_ango.testing.proxy",
        description="A loopback TCP proxy adding a fixed delay to each request.",
    )
    parser.add_argument("--target", required=True, help="the loopback server, host:port or a URL")
    parser.add_argument("--delay", type=float, default=DEFAULT_DELAY, help="seconds held per request")
    parser.add_argument("--port", type=int, default=0, help="where to listen (default: any free port)")
    args = parser.parse_args(argv)
    try:
        proxy = LatencyProxy(target=args.target, delay=args.delay, port=args.port)
    except ValueError as error:
        parser.error(str(error))
    with proxy:
        print(json.dumps({"url": proxy.url}), flush=True)
        for line in sys.stdin:
            if line.strip() == "stats":
                print(json.dumps({"requests": proxy.requests, "connections": proxy.connections}), flush=True)
            elif line.strip():
                print(json.dumps({"error": f"unknown command {line.strip()!r}; send 'stats'"}), flush=True)
    return 0


__all__ = ["DEFAULT_DELAY", "LatencyProxy", "loopback_target", "main", "via"]


if __name__ == "__main__":
    sys.exit(main())
