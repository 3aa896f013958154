"""Progress lines for long transfers: bytes or records so far and the rate, at most every few seconds."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

MIB = 1024 * 1024


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"  # pragma: no cover


class Progress:
    """Counts bytes and records; logs ``what: N records, X MiB (rate)`` every ``interval`` seconds."""

    def __init__(
        self,
        log: logging.Logger,
        what: str,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self._what = what
        self._interval = interval
        self._clock = clock
        self._started = clock()
        self._next_report = self._started + interval
        self.bytes = 0
        self.records = 0

    def add(self, nbytes: int = 0, records: int = 0) -> None:
        self.bytes += nbytes
        self.records += records
        now = self._clock()
        if now >= self._next_report:
            self._next_report = now + self._interval
            self._log.info("%s: %s so far", self._what, self.summary(now))

    def summary(self, now: float | None = None) -> str:
        elapsed = max((now if now is not None else self._clock()) - self._started, 1e-9)
        parts = []
        if self.records:
            parts.append(f"{self.records:,} records ({self.records / elapsed:,.0f}/s)")
        parts.append(f"{human_bytes(self.bytes)} ({human_bytes(self.bytes / elapsed)}/s)")
        return ", ".join(parts) + f" in {elapsed:.1f} s"

    def done(self) -> None:
        self._log.info("%s: done, %s", self._what, self.summary())


__all__ = ["Progress", "human_bytes"]
