"""Running a deferrable trigger in a test, the way the triggerer runs it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.triggers.base import BaseTrigger, TriggerEvent


async def first_event(trigger: BaseTrigger) -> TriggerEvent:
    """The first event ``trigger.run()`` fires; the generator is closed afterwards, as the
    triggerer closes it once the task has its event."""
    events = trigger.run()
    try:
        return await events.__anext__()
    finally:
        await events.aclose()  # type: ignore[attr-defined]
