"""One API or file request, from arrival to answer: key, rate limit, faults, route, scope, latency.

Order, for ``/v2/...``: the ``apikey`` is looked up; a known key's organization is charged one
request of its rate limit (429 ``Rate limit exceeded`` when the window is full, with
``Retry-After`` unless switched off); then an armed fault may take the request; then the route
(404), the key's scope (403), the handler (400/404 or its success status, 201 for creates). A
missing or unknown key is a 401 and charges nobody. Every ``/v2`` answer waits ``latency_ms``
first. Signed file downloads (``/_files/...``) carry no key: they are faulted and logged but
never rate limited or delayed.

Every request is logged on arrival (status filled in before the answer leaves), with the apikey's
value never kept (only whether it was valid, and its organization) and URL signatures redacted.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from typing import Any, Protocol

from airflow_provider_ango.emulator.access import ApiKey
from airflow_provider_ango.emulator.api_imports import routes as import_routes
from airflow_provider_ango.emulator.api_projects import routes as project_routes
from airflow_provider_ango.emulator.api_storage import routes as storage_routes
from airflow_provider_ango.emulator.api_tasks import routes as task_routes
from airflow_provider_ango.emulator.common import ApiError, format_ms, json_bytes, parse_json
from airflow_provider_ango.emulator.core import Core, Request, Router
from airflow_provider_ango.emulator.faults import Fault
from airflow_provider_ango.emulator.settings import retry_after_seconds

api = Router().include(project_routes, task_routes, import_routes, storage_routes)
MAX_LOGGED_BODY_BYTES = 4 * 1024 * 1024  # larger bodies are logged with their size only
REDACTED = "REDACTED"
SECRET_QUERY_PARAMS = ("Signature",)
RATE_LIMITED = {"status": "fail", "message": "Rate limit exceeded"}


class Responder(Protocol):
    """What the HTTP handler offers the service."""

    def send(
        self, status: int, body: bytes, headers: dict[str, str] | None = None, truncate: bool = False
    ) -> None: ...

    def reset_connection(self) -> None: ...

    def serve_file(self, request: Request, truncate: bool, sending: Callable[[int], None]) -> int: ...


def failure(status: int, message: str) -> bytes:
    return json_bytes({"status": "fail", "message": message})


def answer_api(core: Core, request: Request, key: ApiKey | None) -> tuple[int, bytes]:
    """Route and run a ``/v2`` request: (status, envelope bytes)."""
    try:
        if not request.path.startswith("/v2/"):
            raise ApiError(404, f"Cannot {request.method} {request.path}")
        if key is None:
            raise ApiError(401, "Invalid API KEY")
        if request.raw_body:
            content_type = request.headers.get("content-type", "")
            if "application/json" not in content_type:
                raise ApiError(400, f"Content-Type must be application/json, got {content_type or 'none'!r}")
            request.body = parse_json(request.raw_body, "Request body")
        found = api.match(request.method, request.path)
        if found is None:
            raise ApiError(404, f"Cannot {request.method} {request.path}")
        route, groups = found
        if not key.allows(route.group):
            scopes = ", ".join(sorted(key.scopes or ()))
            raise ApiError(403, f"This API key's scopes ({scopes}) do not include {route.group}")
        data = route.handler(core, request, *groups)
        return route.status, json_bytes({"status": "success", "data": data})
    except ApiError as exc:
        return exc.status, failure(exc.status, exc.message)
    except Exception as exc:  # an emulator bug must reach the test as a 500, not a hang
        traceback.print_exc()
        return 500, failure(500, f"Emulator error: {exc!r}")


class Exchange:
    """One request and its log entry, answered through the HTTP handler."""

    def __init__(self, core: Core, request: Request, responder: Responder) -> None:
        self.core = core
        self.request = request
        self.responder = responder
        self.is_file = request.path.startswith("/_files/")
        self.key = None if self.is_file else core.state.keys.lookup(request.headers.get("apikey"))
        self.organization = self.key.organization if self.key is not None else None
        self.entry: dict[str, Any] = {}

    def run(self) -> None:
        core = self.core
        if self.key is not None:
            wait = core.limiter.admit(self.key.organization)
            if wait is not None:
                self.entry = core.log.record(self._log_entry(None))
                headers = {"Retry-After": str(retry_after_seconds(wait))} if core.settings.retry_after else {}
                self.finish(429, json_bytes(RATE_LIMITED), headers)
                return
        fault = core.faults.take(self.request.method, self.request.path)
        self.entry = core.log.record(self._log_entry(fault))
        if fault is None:
            self.answer(truncate=False)
        elif fault.kind == "reset":
            self.responder.reset_connection()
        elif fault.kind == "status":
            assert fault.status is not None
            headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
            self.finish(fault.status, failure(fault.status, f"Injected fault: HTTP {fault.status}"), headers)
        elif fault.kind == "apply_late" and not self.is_file:
            self.apply_late(fault)
        else:
            if fault.kind == "slow":  # (an apply_late fault on a file is answered at once)
                assert fault.delay is not None
                time.sleep(fault.delay)  # the fault *is* the delay
            self.answer(truncate=fault.kind == "truncate")

    def answer(self, truncate: bool) -> None:
        if self.is_file:

            def sending(status: int) -> None:
                self.core.log.set_status(self.entry, status)
                self.core.stats.count(status, None)

            self.responder.serve_file(self.request, truncate, sending)
            return
        status, body = answer_api(self.core, self.request, self.key)
        self.finish(status, body, truncate=truncate)

    def finish(
        self, status: int, body: bytes, headers: dict[str, str] | None = None, truncate: bool = False
    ) -> None:
        if not self.is_file and self.core.settings.latency_ms:
            time.sleep(self.core.settings.latency_ms / 1000)  # the setting *is* the delay
        self.core.log.set_status(self.entry, status)
        self.core.stats.count(status, self.organization)
        self.responder.send(status, body, headers, truncate)

    def apply_late(self, fault: Fault) -> None:
        """Apply the request ``applyAfter`` s after arrival; hold the answer till then, or drop it."""
        assert fault.apply_after is not None
        result: list[tuple[int, bytes]] = []

        def apply() -> None:
            result.append(answer_api(self.core, self.request, self.key))
            self.core.stats.count(result[0][0], self.organization)
            self.core.log.set_status(
                self.entry, result[0][0], appliedAt=format_ms(self.core.state.clock.now_ms())
            )

        write = self.core.late.schedule(fault.apply_after, apply)
        if fault.answer == "drop":
            self.responder.reset_connection()
            return
        write.settled.wait()
        if not result:  # cancelled by a reset or the emulator's stop
            self.responder.reset_connection()
            return
        if self.core.settings.latency_ms:
            time.sleep(self.core.settings.latency_ms / 1000)
        self.responder.send(*result[0])

    def _log_entry(self, fault: Fault | None) -> dict[str, Any]:
        request = self.request
        headers = {name: (REDACTED if name == "apikey" else value) for name, value in request.headers.items()}
        params: dict[str, Any] = {
            name: ([REDACTED] * len(values) if name in SECRET_QUERY_PARAMS else values)
            for name, values in request.params.items()
        }
        query = "&".join(
            f"{part.split('=', 1)[0]}={REDACTED}" if part.split("=", 1)[0] in SECRET_QUERY_PARAMS else part
            for part in request.query.split("&")
            if part
        )
        return {
            "method": request.method,
            "path": request.path,
            "query": query,
            "queryParams": {
                name: values[0] if len(values) == 1 else values for name, values in params.items()
            },
            "headers": headers,
            "apikeyValid": self.key is not None,
            "organization": self.organization,
            # Raw bytes are cheap to keep; they are parsed only when the log is read.
            "rawBody": request.raw_body if len(request.raw_body) <= MAX_LOGGED_BODY_BYTES else b"",
            "bodyBytes": len(request.raw_body),
            "status": None,
            "fault": fault.kind if fault is not None else None,
            "at": format_ms(self.core.state.clock.now_ms()),
        }
