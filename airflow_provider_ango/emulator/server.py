"""The HTTP server: a stdlib ``ThreadingHTTPServer`` bound to a loopback address only.

Three path spaces: ``/v2/...`` (the Ango API, ``apikey`` header required), ``/_files/...``
(signed export URLs, no key, like a bucket), ``/_emulator/...`` (control API). Requests to
the first two go through the fault book and into the request log; the apikey's value never
reaches the log (only whether it was valid) and URL signatures are redacted there.
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
import struct
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from airflow_provider_ango.emulator.api import api
from airflow_provider_ango.emulator.common import ApiError, format_ms, json_bytes, parse_json
from airflow_provider_ango.emulator.control_api import control
from airflow_provider_ango.emulator.core import Core, Request
from airflow_provider_ango.emulator.faults import Fault
from airflow_provider_ango.emulator.files import (
    AccessDeniedError,
    RangeNotSatisfiableError,
    error_xml,
    parse_range,
)

MAX_BODY_BYTES = 512 * 1024 * 1024
FILE_CHUNK = 1024 * 1024
MAX_LOGGED_BODY_BYTES = 4 * 1024 * 1024  # larger bodies are logged with their size only
REDACTED = "REDACTED"
SECRET_QUERY_PARAMS = ("Signature",)


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

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

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
                self._service(request)
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
            handler, groups = found
            status, payload = 200, handler(core, request, *groups)
        except ApiError as exc:
            status, payload = exc.status, {"status": "fail", "message": exc.message}
        except Exception as exc:  # an emulator bug must reach the test as a 500, not a hang
            traceback.print_exc()
            status, payload = 500, {"status": "fail", "message": f"Emulator error: {exc!r}"}
        self._send(status, json_bytes(payload))

    def _service(self, request: Request) -> None:
        """An API or file request: logged, faults applied, then answered."""
        core = self.server.core
        fault = core.faults.take(request.method, request.path)
        # Logged on arrival (status filled in before the answer leaves), so a request that
        # reached the server shows even when it is slow or its connection is reset.
        entry = core.log.record(self._log_entry(request, fault))
        if fault is not None and fault.kind == "reset":
            self.close_connection = True
            self.server.mark_for_reset(self.connection)
            return
        if fault is not None and fault.kind == "status":
            assert fault.status is not None
            headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
            core.log.set_status(entry, fault.status)
            message = {"status": "fail", "message": f"Injected fault: HTTP {fault.status}"}
            self._send(fault.status, json_bytes(message), headers=headers)
            return
        if fault is not None and fault.kind == "slow":
            assert fault.delay is not None
            time.sleep(fault.delay)  # the fault *is* the delay
        truncate = fault is not None and fault.kind == "truncate"
        if request.path.startswith("/_files/"):
            self._serve_file(request, entry, truncate)
            return
        status, answer = self._api(request, entry)
        core.log.set_status(entry, status)
        self._send(status, answer, truncate=truncate)

    def _api(self, request: Request, entry: dict[str, Any]) -> tuple[int, bytes]:
        core = self.server.core
        try:
            if not request.path.startswith("/v2/"):
                raise ApiError(404, f"Cannot {request.method} {request.path}")
            if not entry["apikeyValid"]:
                raise ApiError(401, "Invalid API KEY")
            if request.raw_body:
                content_type = request.headers.get("content-type", "")
                if "application/json" not in content_type:
                    raise ApiError(
                        400, f"Content-Type must be application/json, got {content_type or 'none'!r}"
                    )
                request.body = parse_json(request.raw_body, "Request body")
            found = api.match(request.method, request.path)
            if found is None:
                raise ApiError(404, f"Cannot {request.method} {request.path}")
            handler, groups = found
            return 200, json_bytes({"status": "success", "data": handler(core, request, *groups)})
        except ApiError as exc:
            return exc.status, json_bytes({"status": "fail", "message": exc.message})
        except Exception as exc:
            traceback.print_exc()
            return 500, json_bytes({"status": "fail", "message": f"Emulator error: {exc!r}"})

    def _serve_file(self, request: Request, entry: dict[str, Any], truncate: bool) -> None:
        core = self.server.core
        xml = "application/xml"
        try:
            if request.method not in ("GET", "HEAD"):
                raise AccessDeniedError(f"Method {request.method} is not allowed on a signed URL")
            file_path = core.files.resolve(request.path, request.query)
            size = file_path.stat().st_size
            byte_range = parse_range(request.headers.get("range"), size)
        except RangeNotSatisfiableError as exc:
            core.log.set_status(entry, 416)
            self._send(416, b"", xml, {"Content-Range": f"bytes */{exc.size}"})
            return
        except ApiError as exc:
            core.log.set_status(entry, exc.status)
            self._send(exc.status, error_xml(exc.status, exc.message), xml)
            return
        first, last = byte_range if byte_range is not None else (0, size - 1)
        length = max(0, last - first + 1)
        status = 206 if byte_range is not None else 200
        core.log.set_status(entry, status)
        self.send_response(status)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(length))
        if byte_range is not None:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.end_headers()
        if request.method == "HEAD":
            return
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

    def _log_entry(self, request: Request, fault: Fault | None) -> dict[str, Any]:
        core = self.server.core
        given = request.headers.get("apikey")
        valid = given is not None and hmac.compare_digest(given.encode(), core.state.api_key.encode())
        headers = {name: (REDACTED if name == "apikey" else value) for name, value in request.headers.items()}
        params: dict[str, Any] = {
            name: ([REDACTED] * len(values) if name in SECRET_QUERY_PARAMS else values)
            for name, values in request.params.items()
        }
        query = (
            "&".join(
                f"{part.split('=', 1)[0]}={REDACTED}"
                if part.split("=", 1)[0] in SECRET_QUERY_PARAMS
                else part
                for part in request.query.split("&")
            )
            if request.query
            else ""
        )
        return {
            "method": request.method,
            "path": request.path,
            "query": query,
            "queryParams": {
                name: values[0] if len(values) == 1 else values for name, values in params.items()
            },
            "headers": headers,
            "apikeyValid": valid,
            # Raw bytes are cheap to keep; they are parsed only when the log is read.
            "rawBody": request.raw_body if len(request.raw_body) <= MAX_LOGGED_BODY_BYTES else b"",
            "bodyBytes": len(request.raw_body),
            "status": None,
            "fault": fault.kind if fault is not None else None,
            "at": format_ms(core.state.clock.now_ms()),
        }
