"""The per-organization rate limit and the traffic counters the control API reports.

Rolling window: a request is admitted when fewer than ``requests`` requests of its organization
were admitted in the last ``window_seconds``; a refused one (429) is not counted against the
window. ``Retry-After`` is the time until the oldest admitted request leaves the window. The
window runs on the monotonic clock, not the emulator's adjustable one, so moving the emulator's
clock never opens or closes it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from airflow_provider_ango.emulator.settings import RateLimit


class RateLimiter:
    def __init__(self, limit: RateLimit | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._admitted: dict[str, deque[float]] = {}

    def admit(self, organization: str) -> float | None:
        """None when admitted (and counted); otherwise the seconds until the window admits again."""
        if self.limit is None:
            return None
        now = self._clock()
        with self._lock:
            window = self._admitted.setdefault(organization, deque())
            horizon = now - self.limit.window_seconds
            while window and window[0] <= horizon:
                window.popleft()
            if len(window) >= self.limit.requests:
                return window[0] - horizon
            window.append(now)
            return None

    def reset(self) -> None:
        with self._lock:
            self._admitted.clear()


class TrafficStats:
    """Counts of answered API and file requests: by status, and per organization."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_status: Counter[int] = Counter()
        self._per_organization: dict[str, Counter[str]] = {}

    def count(self, status: int, organization: str | None) -> None:
        with self._lock:
            self._by_status[status] += 1
            if organization is not None:
                counter = self._per_organization.setdefault(organization, Counter())
                counter["requests"] += 1
                if status == 429:
                    counter["rateLimited"] += 1

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": sum(self._by_status.values()),
                "rateLimited": self._by_status.get(429, 0),
                "byStatus": {str(status): count for status, count in sorted(self._by_status.items())},
                "organizations": {
                    organization: {"requests": counter["requests"], "rateLimited": counter["rateLimited"]}
                    for organization, counter in self._per_organization.items()
                },
            }

    def reset(self) -> None:
        with self._lock:
            self._by_status.clear()
            self._per_organization.clear()
