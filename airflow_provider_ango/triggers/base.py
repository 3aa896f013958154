"""What the provider's triggers share: plain-value kwargs, one error event, and the polling loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_ango.exceptions import AngoApiError
from airflow_provider_ango.redaction import scrub_text, truncate

#: What a check of a polling trigger answers: whether the wait is over, and the counts to report.
CheckResult = tuple[bool, dict[str, Any]]


def error_event(error: BaseException) -> TriggerEvent:
    """The one error event: class name, scrubbed message and the HTTP status when there was one.

    Any exception becomes this event (a malformed answer included), so the task reports what went
    wrong instead of the trigger dying with a traceback only the triggerer's log shows.
    """
    status = error.status if isinstance(error, AngoApiError) else None
    return TriggerEvent(
        {
            "status": "error",
            "error": type(error).__name__,
            "message": truncate(scrub_text(str(error)), 1000),
            "http_status": status,
        }
    )


class AngoTrigger(BaseTrigger):
    """A trigger whose kwargs are the attributes named in :attr:`serialized` (plain values only)."""

    serialized: ClassVar[tuple[str, ...]] = ()

    def serialize(self) -> tuple[str, dict[str, Any]]:
        cls = type(self)
        return f"{cls.__module__}.{cls.__qualname__}", {name: getattr(self, name) for name in self.serialized}


class PollingTrigger(AngoTrigger):
    """A trigger that checks every ``poke_interval`` seconds until done or ``timeout_at``.

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

    async def poll(self, check: Callable[[], Awaitable[CheckResult]]) -> AsyncIterator[TriggerEvent]:
        """Run ``check`` until it is done (one ``success`` event), the deadline (``timeout``) or an error."""
        while True:
            try:
                done, payload = await check()
            except Exception as error:
                yield error_event(error)
                return
            if done:
                yield TriggerEvent({"status": "success", **payload})
                return
            if not await self.wait_for_next_check():
                yield TriggerEvent({"status": "timeout", **payload})
                return


__all__ = ["AngoTrigger", "CheckResult", "PollingTrigger", "error_event"]
