"""Injected faults and the request log.

A fault applies to the next ``count`` requests whose path matches ``pathPattern``
(``re.search`` on the path, query excluded) and, if given, whose method matches. Control
requests (``/_emulator/...``) are never faulted nor logged. Kinds:

- ``status``: answer ``status`` (e.g. 429, 500, 502, 503) with a JSON error body and, if
  given, ``Retry-After``; the request is NOT applied to the state.
- ``slow``: wait ``delay`` seconds, then handle the request normally (it IS applied).
- ``reset``: close the connection with a TCP reset before answering; NOT applied.
- ``truncate``: the request IS applied, then the answer is sent with its full
  Content-Length but only half of its body before the connection is closed (for file
  downloads: half of the requested bytes).
- ``apply_late``: the request IS applied, ``applyAfter`` seconds after it arrived (a write the
  service processes late); meanwhile the client waits: with ``answer="late"`` (default) the
  answer is held until the write is applied (past a shorter client timeout), with
  ``answer="drop"`` the connection is reset at once. The log entry gets ``appliedAt`` and its
  status when the write is applied.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from airflow_provider_ango.emulator.common import bad_request

FAULT_KINDS = ("status", "slow", "reset", "truncate", "apply_late")
LATE_ANSWERS = ("late", "drop")
DEFAULT_LOG_SIZE = 10_000


@dataclass
class Fault:
    id: int
    path_pattern: str
    method: str | None
    kind: str
    status: int | None
    retry_after: float | None
    delay: float | None
    remaining: int
    apply_after: float | None = None
    answer: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "applyAfter": self.apply_after,
            "answer": self.answer,
            "id": self.id,
            "pathPattern": self.path_pattern,
            "method": self.method,
            "kind": self.kind,
            "status": self.status,
            "retryAfter": self.retry_after,
            "delay": self.delay,
            "remaining": self.remaining,
        }


def _number(body: dict[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise bad_request(f"{key} must be a number >= 0")
    return float(value)


class FaultBook:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._faults: list[tuple[re.Pattern[str], Fault]] = []

    def add(self, body: Any) -> Fault:
        if not isinstance(body, dict):
            raise bad_request("A fault is a JSON object with pathPattern, kind and count")
        pattern_text = body.get("pathPattern")
        if not isinstance(pattern_text, str) or not pattern_text:
            raise bad_request("pathPattern must be a non-empty regular expression")
        try:
            pattern = re.compile(pattern_text)
        except re.error as exc:
            raise bad_request(f"pathPattern is not a valid regular expression: {exc}") from None
        kind = body.get("kind")
        if kind not in FAULT_KINDS:
            raise bad_request(f"kind must be one of {', '.join(FAULT_KINDS)}")
        status = body.get("status")
        if kind == "status" and (
            not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599
        ):
            raise bad_request("A status fault needs status, an HTTP error code 400-599")
        delay = _number(body, "delay")
        if kind == "slow" and delay is None:
            raise bad_request("A slow fault needs delay (seconds)")
        apply_after = _number(body, "applyAfter")
        if (kind == "apply_late") != (apply_after is not None):
            raise bad_request("applyAfter (seconds) is required by an apply_late fault, and only by it")
        answer = body.get("answer", "late" if kind == "apply_late" else None)
        if kind == "apply_late" and answer not in LATE_ANSWERS:
            raise bad_request(f"answer must be one of {', '.join(LATE_ANSWERS)}")
        if kind != "apply_late" and answer is not None:
            raise bad_request("answer is an option of apply_late faults only")
        count = body.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise bad_request("count must be an integer >= 1")
        method = body.get("method")
        if method is not None and not isinstance(method, str):
            raise bad_request("method must be a string such as GET or POST")
        fault = Fault(
            id=next(self._ids),
            path_pattern=pattern_text,
            method=method.upper() if method else None,
            kind=kind,
            status=status if kind == "status" else None,
            retry_after=_number(body, "retryAfter"),
            delay=delay,
            remaining=count,
            apply_after=apply_after,
            answer=answer,
        )
        with self._lock:
            self._faults.append((pattern, fault))
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The first armed fault matching this request, with one use consumed."""
        with self._lock:
            for pattern, fault in self._faults:
                if fault.remaining > 0 and (fault.method in (None, method)) and pattern.search(path):
                    fault.remaining -= 1
                    return fault
        return None

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.to_json() for _, fault in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


class RequestLog:
    """The last ``max_entries`` API requests, each with a sequence number."""

    def __init__(self, max_entries: int = DEFAULT_LOG_SIZE) -> None:
        self._lock = threading.Lock()
        # Notified on every arrival and every answer, so tests wait on the log instead of polling it.
        self._changed = threading.Condition(self._lock)
        self._version = 0
        self._seq = itertools.count(1)
        self._entries: deque[dict[str, Any]] = deque(maxlen=max_entries)

    def record(self, entry: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            entry["seq"] = next(self._seq)
            self._entries.append(entry)
            self._bump()
        return entry

    def set_status(self, entry: dict[str, Any], status: int, **more: Any) -> None:
        """The answer's status, set just before it is sent (after the request changed the state)."""
        with self._lock:
            entry["status"] = status
            entry.update(more)
            self._bump()

    @property
    def version(self) -> int:
        with self._lock:
            return self._version

    def wait_for_change(self, seen_version: int, timeout: float) -> int:
        """Block until the log changes after ``seen_version`` (or the timeout); the new version."""
        with self._lock:
            self._changed.wait_for(lambda: self._version != seen_version, timeout=max(0.0, timeout))
            return self._version

    def _bump(self) -> None:
        self._version += 1
        self._changed.notify_all()

    def entries(self, since: int | None = None, path_pattern: str | None = None) -> list[dict[str, Any]]:
        pattern = None
        if path_pattern:
            try:
                pattern = re.compile(path_pattern)
            except re.error as exc:
                raise bad_request(f"pathPattern is not a valid regular expression: {exc}") from None
        with self._lock:
            snapshot = list(self._entries)
        return [
            entry
            for entry in snapshot
            if (since is None or entry["seq"] > since) and (pattern is None or pattern.search(entry["path"]))
        ]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
