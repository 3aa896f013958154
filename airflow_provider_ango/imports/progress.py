"""Progress lines for long work: ``done/total (pct), rate/s, ETA``, at most every few seconds."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol


class LogLike(Protocol):
    """A stdlib logger or Airflow's task logger: what the import helpers log through."""

    def info(self, msg: Any, /, *args: Any) -> Any: ...

    def warning(self, msg: Any, /, *args: Any) -> Any: ...


def format_duration(seconds: float) -> str:
    return str(timedelta(seconds=round(max(seconds, 0.0))))


class Progress:
    """Log ``what: done/total`` with rate and ETA; the first and last updates always log.

    :param clock: a monotonic clock (tests pass a fake one; nothing here sleeps).
    """

    def __init__(
        self,
        log: LogLike,
        what: str,
        total: int | None,
        *,
        unit: str = "items",
        every_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = log
        self.what = what
        self.total = total
        self.unit = unit
        self.every_seconds = every_seconds
        self.clock = clock
        self.started = clock()
        self.done = 0
        self._last_logged: float | None = None

    def advance(self, count: int, *, force: bool = False) -> None:
        self.done += count
        now = self.clock()
        finished = self.total is not None and self.done >= self.total
        due = self._last_logged is None or now - self._last_logged >= self.every_seconds
        if force or finished or due:
            self._last_logged = now
            self.log.info("%s", self.line(now))

    def line(self, now: float | None = None) -> str:
        now = self.clock() if now is None else now
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        if self.total:
            percent = 100.0 * self.done / self.total
            remaining = self.total - self.done
            eta = format_duration(remaining / rate) if rate > 0 else "unknown"
            return (
                f"{self.what}: {self.done}/{self.total} {self.unit} ({percent:.1f}%), "
                f"{rate:.1f} {self.unit}/s, ETA {eta}"
            )
        return f"{self.what}: {self.done} {self.unit}, {rate:.1f} {self.unit}/s"


__all__ = ["LogLike", "Progress", "format_duration"]
