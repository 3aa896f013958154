"""The wait between two checks of the polling triggers (stage counts, imported assets)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from airflow.triggers.base import BaseTrigger


class PollingTrigger(BaseTrigger):
    """A trigger that checks every ``poke_interval`` seconds until ``timeout_at``.

    :param poke_interval: seconds between two checks.
    :param timeout_at: absolute deadline in seconds since the epoch (so a restarted trigger keeps
        the original deadline); None waits for ever.
    """

    def __init__(self, poke_interval: float, timeout_at: float | None) -> None:
        super().__init__()
        self.poke_interval = float(poke_interval)
        self.timeout_at = timeout_at
        # Injected by tests to act between two checks instead of sleeping.
        self._sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
        self._clock: Callable[[], float] = time.time

    async def wait_for_next_check(self) -> bool:
        """Sleep until the next check, never past the deadline; False at once when it has passed."""
        remaining = None if self.timeout_at is None else self.timeout_at - self._clock()
        if remaining is not None and remaining <= 0:
            return False
        await self._sleep(self.poke_interval if remaining is None else min(self.poke_interval, remaining))
        return True
