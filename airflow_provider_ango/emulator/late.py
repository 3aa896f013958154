"""Writes applied late: the ``apply_late`` fault runs a request's handler seconds after it arrived.

Each pending write is a daemon timer; a reset or the emulator's stop cancels the ones not yet
applied (they belong to state that is gone), and wakes whoever waits for them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class LateWrite:
    def __init__(
        self, delay: float, apply: Callable[[], None], on_settled: Callable[[LateWrite], None]
    ) -> None:
        self.applied = False
        self.settled = threading.Event()  # applied, or cancelled
        self._apply = apply
        self._on_settled = on_settled
        self._lock = threading.Lock()
        self._timer = threading.Timer(delay, self._run)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def _run(self) -> None:
        with self._lock:
            if self.settled.is_set():
                return
            try:
                self._apply()
                self.applied = True
            finally:
                self._settle()

    def cancel(self) -> None:
        self._timer.cancel()
        with self._lock:
            if not self.settled.is_set():
                self._settle()

    def _settle(self) -> None:
        self.settled.set()
        self._on_settled(self)


class LateWrites:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: set[LateWrite] = set()

    def schedule(self, delay: float, apply: Callable[[], None]) -> LateWrite:
        write = LateWrite(delay, apply, self._forget)
        with self._lock:
            self._pending.add(write)
        write.start()
        return write

    def _forget(self, write: LateWrite) -> None:
        with self._lock:
            self._pending.discard(write)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def cancel_all(self) -> None:
        with self._lock:
            pending = list(self._pending)
        for write in pending:
            write.cancel()
