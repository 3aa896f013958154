"""The one progress reporter for long work: items (and bytes) so far, rate, ETA, at most every few seconds.

Imports count assets and pre-labels, manifests count items, the export side counts records and
bytes. A line looks like ``Imported: 500/1000 assets (50.0%), 25.0 assets/s, ETA 0:00:20`` (with
``, 12.0 MiB (3.1 MiB/s)`` when bytes are counted); the first update and the last one always log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol


class LogLike(Protocol):
    """A stdlib logger or Airflow's task logger: what the pipelines log through."""

    def info(self, msg: Any, /, *args: Any) -> Any: ...

    def warning(self, msg: Any, /, *args: Any) -> Any: ...


def format_duration(seconds: float) -> str:
    return str(timedelta(seconds=round(max(seconds, 0.0))))


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"  # pragma: no cover


@dataclass
class Progress:
    """Log ``what: done/total`` with rate and ETA (and bytes when counted).

    :param total: items expected, when known (then the line has a percentage and an ETA).
    :param every_seconds: the least time between two lines (the first and the last always log).
    :param clock: a monotonic clock (tests pass a fake one; nothing here sleeps).
    """

    log: LogLike
    what: str
    total: int | None = None
    unit: str = field(default="items", kw_only=True)
    every_seconds: float = field(default=10.0, kw_only=True)
    clock: Callable[[], float] = field(default=time.monotonic, kw_only=True)
    done: int = field(default=0, init=False)
    bytes: int = field(default=0, init=False)
    started: float = field(init=False)
    _last_logged: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def advance(self, count: int = 0, *, nbytes: int = 0, force: bool = False) -> None:
        self.done += count
        self.bytes += nbytes
        now = self.clock()
        finished = self.total is not None and count and self.done >= self.total
        due = self._last_logged is None or now - self._last_logged >= self.every_seconds
        if force or finished or due:
            self._last_logged = now
            self.log.info("%s", self.line(now))

    def line(self, now: float | None = None) -> str:
        now = self.clock() if now is None else now
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        parts = []
        if self.total:
            percent = 100.0 * self.done / self.total
            remaining = self.total - self.done
            eta = format_duration(remaining / rate) if rate > 0 else "unknown"
            parts.append(
                f"{self.done}/{self.total} {self.unit} ({percent:.1f}%), {rate:.1f} {self.unit}/s, ETA {eta}"
            )
        elif self.done or not self.bytes:
            parts.append(f"{self.done} {self.unit}, {rate:.1f} {self.unit}/s")
        if self.bytes:
            parts.append(f"{human_bytes(self.bytes)} ({human_bytes(self.bytes / elapsed)}/s)")
        return f"{self.what}: {', '.join(parts)}"

    def finish(self) -> None:
        """Log the final line, with the time taken."""
        elapsed = self.clock() - self.started
        self.log.info("%s in %.1f s (done)", self.line(), elapsed)


__all__ = ["LogLike", "Progress", "format_duration", "human_bytes"]
