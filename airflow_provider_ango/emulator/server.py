"""The HTTP server: a stdlib ``ThreadingHTTPServer`` bound to a loopback address only.

Three path spaces: ``/v2/...`` (the Ango API, ``apikey`` header required), ``/_files/...``
(signed export URLs, no key, like a bucket), ``/_emulator/...`` (control API: never rate
limited, faulted, delayed or logged). The first two are answered by :mod:`service`.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import sys
import threading
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from airflow_provider_ango.emulator.common import ApiError, json_bytes, parse_json
from airflow_provider_ango.emulator.control_api import control
from airflow_provider_ango.emulator.core import Core, Request
from airflow_provider_ango.emulator.files import (
    AccessDeniedError,
    RangeNotSatisfiableError,
    error_xml,
    parse_range,
)
from airflow_provider_ango.emulator.service import Exchange

MAX_BODY_BYTES = 512 * 1024 * 1024
FILE_CHUNK = 1024 * 1024


def check_loopback(host: str, *, in_container: bool = False) -> str:
    """The emulator never listens beyond this machine: only 127.0.0.0/8 (or localhost).

    ``in_container`` lifts the rule for the docker compose stack, where other containers must
    reach it and the container's own network is the boundary.
    """
    if host == "localhost":
        return "127.0.0.1"
    if in_container:
        ipaddress.ip_address(host)  # still an address, not a name to resolve
        return host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"host must be a loopback IPv4 address such as 127.0.0.1, got {host!r}") from None
    if address.version != 4 or not address.is_loopback:
        raise ValueError(f"host must be a loopback IPv4 address such as 127.0.0.1, got {host!r}")
    return host


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], core: Core) -> None:
        self.core = core
        self._reset_lock = threading.Lock()
        self._to_reset: set[socket.socket] = set()
        super().__init__(address, EmulatorRequestHandler)

    def mark_for_reset(self, connection: socket.socket) -> None:
        with self._reset_lock:
            self._to_reset.add(connection)

    def shutdown_request(self, request: Any) -> None:
        with self._reset_lock:
            reset = request in self._to_reset
            self._to_reset.discard(request)
        if reset:
            # Linger 0 turns close() into a TCP RST: the client sees "connection reset".
            request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            request.close()
            return
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # a client going away is not an emulator error
        super().handle_error(request, client_address)


class EmulatorRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AngoHubEmulator/1.0"
    sys_version = ""
    server: EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes; without NODELAY, Nagle plus the
        # client's delayed ACK adds ~40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: URLs may carry signatures, and tests read the request log instead."""

    def _dispatch(self) -> None:
        self._handle(self.command)

    # BaseHTTPRequestHandler looks up do_<METHOD>; every method takes the same path.
    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch  # noqa: N815

    # -- plumbing -------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                total += size
                if total > MAX_BODY_BYTES:
                    raise ApiError(413, "Request body too large")
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise ApiError(413, "Request body too large")
        return self.rfile.read(length) if length > 0 else b""

    def send(
        self, status: int, body: bytes, headers: dict[str, str] | None = None, truncate: bool = False
    ) -> None:
        self._send(status, body, headers=headers, truncate=truncate)

    def reset_connection(self) -> None:
        self.close_connection = True
        self.server.mark_for_reset(self.connection)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json; charset=utf-8",
        headers: dict[str, str] | None = None,
        truncate: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if truncate:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True  # FIN before the announced length: a truncated body
            return
        self.wfile.write(body)

    def _handle(self, method: str) -> None:
        split = urlsplit(self.path)
        request = Request(
            method=method,
            path=split.path,
            query=split.query,
            params=parse_qs(split.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            raw_body=b"",
        )
        try:
            try:
                request.raw_body = self._read_body()
            except (ApiError, ValueError) as exc:
                status = exc.status if isinstance(exc, ApiError) else 400
                self.close_connection = True
                self._send(
                    status, json_bytes({"status": "fail", "message": f"Unreadable request body: {exc}"})
                )
                return
            if request.path.startswith("/_emulator/"):
                self._control(request)
            else:
                Exchange(self.server.core, request, self).run()
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def _control(self, request: Request) -> None:
        core = self.server.core
        try:
            if request.raw_body:
                request.body = parse_json(request.raw_body, "Request body")
            found = control.match(request.method, request.path)
            if found is None:
                raise ApiError(404, f"Cannot {request.method} {request.path}")
            route, groups = found
            status, payload = 200, route.handler(core, request, *groups)
        except ApiError as exc:
            status, payload = exc.status, {"status": "fail", "message": exc.message}
        except Exception as exc:  # an emulator bug must reach the test as a 500, not a hang
            traceback.print_exc()
            status, payload = 500, {"status": "fail", "message": f"Emulator error: {exc!r}"}
        self._send(status, json_bytes(payload))

    def serve_file(self, request: Request, truncate: bool, sending: Callable[[int], None]) -> int:
        """Stream the file a signed URL names (``Range`` honoured); the status sent.

        ``sending(status)`` is called before anything is written, so the log and the stats hold the
        answer by the time a client has read it.
        """
        core = self.server.core
        xml = "application/xml"
        try:
            if request.method not in ("GET", "HEAD"):
                raise AccessDeniedError(f"Method {request.method} is not allowed on a signed URL")
            file_path = core.files.resolve(request.path, request.query)
            size = file_path.stat().st_size
            byte_range = parse_range(request.headers.get("range"), size)
        except RangeNotSatisfiableError as exc:
            sending(416)
            self._send(416, b"", xml, {"Content-Range": f"bytes */{exc.size}"})
            return 416
        except ApiError as exc:
            sending(exc.status)
            self._send(exc.status, error_xml(exc.status, exc.message), xml)
            return exc.status
        first, last = byte_range if byte_range is not None else (0, size - 1)
        length = max(0, last - first + 1)
        status = 206 if byte_range is not None else 200
        sending(status)
        self.send_response(status)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(length))
        if byte_range is not None:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.end_headers()
        if request.method == "HEAD":
            return status
        to_send = length // 2 if truncate else length
        with file_path.open("rb") as handle:
            handle.seek(first)
            while to_send > 0:
                chunk = handle.read(min(FILE_CHUNK, to_send))
                if not chunk:
                    break
                self.wfile.write(chunk)
                to_send -= len(chunk)
        if truncate:
            self.wfile.flush()
            self.close_connection = True
        return status
