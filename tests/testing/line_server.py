"""A small line-protocol TCP server on loopback, for exercising the latency proxy's byte handling.

Commands, one per line: ``ping`` -> ``pong``; ``body N`` -> reads N bytes, answers their SHA-256;
``blob N`` -> sends N bytes of :func:`blob`; end of input -> answers ``bye`` and closes.
"""

from __future__ import annotations

import hashlib
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def blob(size: int) -> bytes:
    """Deterministic bytes that are not all alike (a misplaced chunk changes the hash)."""
    pattern = bytes(range(251))  # a prime length, so chunks of 2^k bytes never line up with it
    return (pattern * (size // len(pattern) + 1))[:size]


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        while True:
            line = self.rfile.readline()
            if not line:
                self.wfile.write(b"bye\n")
                return
            command, _, argument = line.strip().partition(b" ")
            if command == b"ping":
                self.wfile.write(b"pong\n")
            elif command == b"body":
                digest = hashlib.sha256()
                remaining = int(argument)
                while remaining:
                    chunk = self.rfile.read(min(remaining, 1 << 16))
                    if not chunk:
                        return
                    digest.update(chunk)
                    remaining -= len(chunk)
                self.wfile.write(digest.hexdigest().encode() + b"\n")
            elif command == b"blob":
                self.wfile.write(blob(int(argument)))
            else:
                self.wfile.write(b"unknown\n")
            self.wfile.flush()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def line_server() -> Iterator[tuple[str, int]]:
    server = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield str(host), int(port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
