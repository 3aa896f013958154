"""Client-side pacing within Ango Hub's documented rate limit (Standard plan: 100 requests a minute).

Ango counts requests per organization in a rolling window and answers 429 past the limit. The
client counts *conservatively*: a request occupies the window from the moment it is sent until
one window after its answer arrived (the server saw it somewhere in between), and requests still
in flight count too. So a new request is sent only when fewer than ``limit`` requests could fall
in the server's window: a run paced here makes no 429 on its own. Several processes on one key
share the plan and must split it (the README shows how, with an Airflow pool per organization).

One :class:`RateLimiter` per base URL and key in a process, shared by every hook and by the sync
and async paths (:func:`shared_limiter`).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

#: How long a caller waiting for a free concurrency slot sleeps before looking again.
_SLOT_POLL_SECONDS = 0.005


class RateLimiter:
    """At most ``limit`` requests in any rolling ``window`` seconds and ``concurrency`` in flight.

    :param clock: a monotonic clock (tests pass a fake one).
    """

    def __init__(
        self,
        limit: int,
        window: float = 60.0,
        concurrency: int = 8,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window <= 0 or concurrency < 1:
            raise ValueError("limit and concurrency must be >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self.concurrency = concurrency
        self._clock = clock
        self._lock = threading.Lock()
        self._answered: deque[float] = deque()  # answer times still inside the window
        self._in_flight = 0
        #: How many times a caller had to wait, and for how long in all (for logs and benchmarks).
        self.waits = 0
        self.waited_seconds = 0.0

    def _try_reserve(self) -> float:
        """Reserve a slot (0.0), or the seconds to wait before trying again."""
        with self._lock:
            now = self._clock()
            while self._answered and self._answered[0] <= now - self.window:
                self._answered.popleft()
            if self._in_flight >= self.concurrency:
                return _SLOT_POLL_SECONDS
            if self._in_flight + len(self._answered) >= self.limit:
                if not self._answered:
                    return _SLOT_POLL_SECONDS  # every slot is in flight: the next answer frees one
                return max(self._answered[0] + self.window - now, 0.0) or _SLOT_POLL_SECONDS
            self._in_flight += 1
            return 0.0

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1
            self._answered.append(self._clock())

    def _note_wait(self, seconds: float) -> None:
        with self._lock:
            self.waits += 1
            self.waited_seconds += seconds

    @contextmanager
    def slot(self, sleep: Callable[[float], None] = time.sleep) -> Iterator[None]:
        """Hold one request's place while it is sent and answered."""
        while (wait := self._try_reserve()) > 0:
            self._note_wait(wait)
            sleep(wait)
        try:
            yield
        finally:
            self._release()

    @asynccontextmanager
    async def aslot(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> AsyncIterator[None]:
        """:meth:`slot` for the event loop (it never blocks the loop while waiting)."""
        while (wait := self._try_reserve()) > 0:
            self._note_wait(wait)
            await sleep(wait)
        try:
            yield
        finally:
            self._release()


_shared: dict[tuple[str, str, int, float, int], RateLimiter] = {}
_shared_lock = threading.Lock()


def reset_shared_limiters() -> None:
    """Forget every process-wide limiter (test isolation: an emulator reset empties its window too)."""
    with _shared_lock:
        _shared.clear()


def shared_limiter(base_url: str, api_key: str, limit: int, window: float, concurrency: int) -> RateLimiter:
    """The process's limiter for one key at one Ango Hub (the key itself is not kept, only a hash)."""
    key_id = hashlib.sha256(api_key.encode()).hexdigest()[:16]
    identity = (base_url, key_id, limit, window, concurrency)
    with _shared_lock:
        limiter = _shared.get(identity)
        if limiter is None:
            limiter = _shared[identity] = RateLimiter(limit, window, concurrency)
        return limiter


__all__ = ["RateLimiter", "reset_shared_limiters", "shared_limiter"]
