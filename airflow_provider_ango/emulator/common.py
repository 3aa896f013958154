"""Small shared pieces of the emulator: errors, the clock, ids and timestamps.

Times are kept as integer milliseconds since the Unix epoch (what Mongo stores behind
Ango's API), written out as ISO-8601 UTC with milliseconds and ``Z``. Range filters parse
their bounds to integer *microseconds* and compare ``stored_ms * 1000`` against them, so a
bound written with microseconds (the SDK's ``%f``) is compared exactly, never rounded.
"""

from __future__ import annotations

import itertools
import re
import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import Any

import orjson

HEX24 = re.compile(r"^[0-9a-f]{24}$")

# Kind tags put in the middle of generated ids so that an asset id and a task id of the
# same row never collide, and so that a row can be found again from its id alone.
KIND_ASSET = 0xA5
KIND_TASK = 0x7A


class ApiError(Exception):
    """An error answered to the client as ``{"status": "fail", "message": ...}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def required(mapping: dict[str, Any], key: str, what: str) -> Any:
    """``mapping[key]``, or a 400 saying ``what`` is required."""
    if key not in mapping:
        raise bad_request(f"{what} is required")
    return mapping[key]


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


class ClosingContext:
    """``with`` support for a class whose ``close()`` releases it."""

    def close(self) -> None:
        raise NotImplementedError

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class Clock:
    """Wall clock with an adjustable offset; tests shift it instead of sleeping.

    ``source`` can be replaced in-process (``AngoEmulator(clock=...)``); the control API
    moves ``offset_seconds``.
    """

    def __init__(self, source: Callable[[], float] | None = None) -> None:
        self._source: Callable[[], float] = source or time.time
        self.offset_seconds = 0.0

    def now(self) -> float:
        """Seconds since the epoch."""
        return self._source() + self.offset_seconds

    def now_ms(self) -> int:
        return int(self.now() * 1000)


class IdFactory:
    """24-hex ObjectId-like ids: 4-byte timestamp, 1-byte kind, 7-byte counter."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def new(self, epoch_seconds: float, kind: int = 0x0B) -> str:
        with self._lock:
            serial = next(self._counter)
        return f"{int(epoch_seconds) & 0xFFFFFFFF:08x}{kind:02x}{serial & 0xFFFFFFFFFFFFFF:014x}"


def row_id(created_ms: int, kind: int, project_number: int, row: int) -> str:
    """Id of an asset or task: timestamp, kind, project number (4 hex), row (10 hex)."""
    return f"{(created_ms // 1000) & 0xFFFFFFFF:08x}{kind:02x}{project_number:04x}{row:010x}"


def parse_row_id(value: str) -> tuple[int, int, int] | None:
    """(kind, project_number, row) of an id made by :func:`row_id`, or None."""
    if not HEX24.match(value):
        return None
    return int(value[8:10], 16), int(value[10:14], 16), int(value[14:], 16)


def object_id_hex23() -> str:
    """An annotation objectId in the 23-hex form the export samples show."""
    return secrets.token_hex(12)[:23]


def require_hex24(value: Any, what: str) -> str:
    if not isinstance(value, str) or not HEX24.match(value):
        raise bad_request(f"Invalid {what}: {value!r} is not a 24-character hex id")
    return value


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"(Z|z|[+-]\d{2}:?\d{2})?$"
)


def format_ms(ms: int) -> str:
    """``2026-11-22T05:00:00.000Z`` for integer epoch milliseconds."""
    moment = _EPOCH + timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_iso_us(value: Any, what: str) -> int:
    """Epoch microseconds of an ISO-8601 string; no zone means UTC (as Mongo reads it)."""
    if not isinstance(value, str):
        raise bad_request(f"{what} must be an ISO-8601 date string, got {value!r}")
    match = _ISO.match(value.strip())
    if not match:
        raise bad_request(f"{what} is not an ISO-8601 date: {value!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=timezone.utc,
        )
    except ValueError as exc:
        raise bad_request(f"{what} is not a valid date: {value!r} ({exc})") from None
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    # Sub-microsecond digits (nanoseconds) are dropped, like any Python datetime would.
    micros = int((fraction or "0").ljust(6, "0")[:6])
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + micros


def parse_iso_ms(value: Any, what: str) -> int:
    """Epoch milliseconds (floored) of an ISO-8601 string, for times the emulator stores."""
    return parse_iso_us(value, what) // 1000


def json_bytes(value: Any) -> bytes:
    return orjson.dumps(value)


def parse_json(raw: bytes | str, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"{what} is not valid JSON: {exc}") from None


def parse_bool_param(value: str | None, name: str, default: bool) -> bool:
    """Ango's query booleans are the strings ``true``/``false``; anything else is an error."""
    if value is None:
        return default
    if value == "true":
        return True
    if value == "false":
        return False
    raise bad_request(f"Query parameter {name} must be 'true' or 'false', got {value!r}")


def parse_positive_int(value: str | None, name: str, default: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise bad_request(f"Query parameter {name} must be an integer, got {value!r}") from None
    if number < 1:
        raise bad_request(f"Query parameter {name} must be >= 1, got {number}")
    return number
