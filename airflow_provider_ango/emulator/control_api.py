"""The control API under ``/_emulator/``: reset, faults, request log, stats, keys, clock, settings.

No apikey; plain JSON in and out (no Ango envelope); never faulted, rate limited, delayed or
logged. Seeds and actors are in :mod:`control_seed`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from airflow_provider_ango.emulator.common import bad_request, format_ms, parse_iso_us
from airflow_provider_ango.emulator.control_seed import routes as seed_routes
from airflow_provider_ango.emulator.core import Core, Handler, Request, Router

control = Router()


@control.add("GET", "/_emulator/health")
def health(core: Core, request: Request) -> dict[str, Any]:
    return {"ok": True, "url": core.base_url}


@control.add("POST", "/_emulator/reset")
def reset(core: Core, request: Request) -> dict[str, Any]:
    """Back to the emulator as started: state, added keys, faults, pending late writes, log, stats."""
    core.late.cancel_all()
    core.state.reset()
    core.faults.clear()
    core.log.clear()
    core.stats.reset()
    core.limiter.reset()
    core.files.clear()
    return {"reset": True}


@control.add("POST", "/_emulator/faults")
def add_fault(core: Core, request: Request) -> dict[str, Any]:
    return core.faults.add(request.body).to_json()


@control.add("GET", "/_emulator/faults")
def list_faults(core: Core, request: Request) -> dict[str, Any]:
    return {"faults": core.faults.list()}


def _clearing(clear: Callable[[Core], None]) -> Handler:
    def handler(core: Core, request: Request) -> dict[str, Any]:
        clear(core)
        return {"cleared": True}

    return handler


control.add("DELETE", "/_emulator/faults")(_clearing(lambda core: core.faults.clear()))
control.add("DELETE", "/_emulator/requests")(_clearing(lambda core: core.log.clear()))


@control.add("GET", "/_emulator/requests")
def list_requests(core: Core, request: Request) -> dict[str, Any]:
    since_text = request.param("since")
    since = None
    if since_text is not None:
        if not since_text.isdigit():
            raise bad_request("since must be a request sequence number")
        since = int(since_text)
    entries = core.log.entries(since, request.param("pathPattern"))
    return {"requests": [_public_entry(entry) for entry in entries]}


def _public_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """Bodies are kept raw (cheap) and parsed only when the log is read."""
    public = {key: value for key, value in entry.items() if key != "rawBody"}
    raw = entry.get("rawBody") or b""
    public["body"] = None
    if raw:
        try:
            public["body"] = orjson.loads(raw)
        except ValueError:
            public["bodyText"] = raw[:2000].decode("utf-8", "replace")
    return public


@control.add("GET", "/_emulator/clock")
def get_clock(core: Core, request: Request) -> dict[str, Any]:
    clock = core.state.clock
    return {"now": format_ms(clock.now_ms()), "offsetSeconds": clock.offset_seconds}


@control.add("POST", "/_emulator/clock")
def move_clock(core: Core, request: Request) -> dict[str, Any]:
    """``{"advance": seconds}`` or ``{"set": iso-time}``: shifts the emulator's clock."""
    body = request.json_object()
    clock = core.state.clock
    if "advance" in body:
        clock.offset_seconds += _number(body, "advance")
    elif "set" in body:
        target = parse_iso_us(body["set"], "set") / 1_000_000
        clock.offset_seconds += target - clock.now()
    else:
        raise bad_request('Body must be {"advance": seconds} or {"set": iso-time}')
    return get_clock(core, request)


def _number(body: dict[str, Any], key: str, minimum: float | None = None) -> float:
    value = body[key]
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or (minimum is not None and value < minimum)
    ):
        raise bad_request(f"{key} must be a number" + (f" >= {minimum:g}" if minimum is not None else ""))
    return float(value)


@control.add("GET", "/_emulator/config")
def get_config(core: Core, request: Request) -> dict[str, Any]:
    """The emulator's settings (fixed at start) and the signed-URL lifetime (adjustable)."""
    return {"urlExpirySeconds": core.state.url_expiry_seconds, "settings": core.settings.to_json()}


@control.add("POST", "/_emulator/config")
def configure(core: Core, request: Request) -> dict[str, Any]:
    body = request.json_object()
    if "urlExpirySeconds" in body:
        core.state.url_expiry_seconds = _number(body, "urlExpirySeconds", 0)
    return get_config(core, request)


@control.add("GET", "/_emulator/stats")
def stats(core: Core, request: Request) -> dict[str, Any]:
    """Answered API and file requests by status and per organization (429s counted apart)."""
    return {**core.stats.to_json(), "pendingLateWrites": core.late.pending()}


@control.add("POST", "/_emulator/keys")
def add_key(core: Core, request: Request) -> dict[str, Any]:
    """A new key: ``{"organization"?, "serviceAccount"?, "scopes"?, "key"?}``; the answer holds the key."""
    key, record = core.state.keys.add(request.body)
    return {"key": key, **record.to_json()}


@control.add("GET", "/_emulator/keys")
def list_keys(core: Core, request: Request) -> dict[str, Any]:
    return {"keys": core.state.keys.listing()}


control.include(seed_routes)
