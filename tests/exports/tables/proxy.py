"""An HTTP proxy in front of the S3 emulator that can hold chosen requests: a race or a crash on cue.

Every request is forwarded to ``upstream`` as it came (method, path, headers, body), except the
first ``hold`` requests matching ``pattern`` (method and path): those wait in the proxy until
the test releases them (they are then forwarded) or drops them (the client gets a reset
connection, and the store never sees them). Tests wait on :meth:`wait_held`, a condition, never
on time.
"""

from __future__ import annotations

import http.client
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

LOOPBACK = "127.0.0.1"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


class HoldingProxy:
    def __init__(self, upstream: str, pattern: str, hold: int) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or LOOPBACK, parts.port or 80)
        self._pattern = re.compile(pattern)
        self._to_hold = hold
        self._condition = threading.Condition()
        self._held = 0
        self._decision: str | None = None  # "release" | "drop"
        self.seen: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                line = f"{self.command} {self.path}"
                proxy.seen.append(line)
                if proxy._should_hold(line) and proxy._wait_for_decision() == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                upstream = http.client.HTTPConnection(*proxy._upstream, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                    self.send_response(answer.status, answer.reason)
                    for key, value in answer.getheaders():
                        if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    upstream.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle  # noqa: N815 - http.server names

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    def _should_hold(self, line: str) -> bool:
        with self._condition:
            if self._held >= self._to_hold or not self._pattern.search(line):
                return False
            self._held += 1
            self._condition.notify_all()
            return True

    def _wait_for_decision(self) -> str:
        with self._condition:
            self._condition.wait_for(lambda: self._decision is not None)
            assert self._decision is not None
            return self._decision

    def wait_held(self, count: int, timeout: float = 120.0) -> bool:
        """Block until ``count`` matching requests are being held."""
        with self._condition:
            return self._condition.wait_for(lambda: self._held >= count, timeout=timeout)

    def release(self) -> None:
        with self._condition:
            self._decision = "release"
            self._condition.notify_all()

    def drop(self) -> None:
        with self._condition:
            self._decision = "drop"
            self._condition.notify_all()

    def __enter__(self) -> HoldingProxy:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.drop()  # nothing stays held past the test
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
