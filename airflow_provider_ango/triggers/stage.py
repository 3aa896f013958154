"""AngoTaskStageTrigger: counts tasks per stage in the triggerer until the wait is over.

Its kwargs are plain values (the resolved :class:`StagePlan` as JSON, the poll interval,
an absolute deadline, the connection id), so it survives a triggerer restart: it simply
counts again. It fires exactly one event:

- ``{"status": "success", "progress": {...}}`` when the condition holds;
- ``{"status": "timeout", "progress": {...}, "timeout": seconds}`` at the deadline;
- ``{"status": "error", "error": <class>, "message": <text>}`` when Ango keeps failing
  past the hook's retry budget (the message is the hook's, already free of secrets).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import TriggerEvent

from airflow_provider_ango.exceptions import AngoApiError
from airflow_provider_ango.hooks.ango import AngoHubHook
from airflow_provider_ango.stages import StagePlan, ameasure
from airflow_provider_ango.triggers._polling import PollingTrigger


class AngoTaskStageTrigger(PollingTrigger):
    """Wait until the tasks of a project (or batch) reach a stage; see :class:`AngoTaskStageSensor`.

    :param plan: :meth:`StagePlan.to_json` of the resolved plan.
    :param poke_interval: seconds between two counts.
    :param timeout_at: deadline as seconds since the epoch (absolute, so a restarted trigger
        keeps the original deadline); None waits for ever.
    :param ango_conn_id: the Ango Hub connection.
    """

    def __init__(
        self,
        plan: dict[str, Any],
        poke_interval: float = 60.0,
        timeout_at: float | None = None,
        ango_conn_id: str = "ango_default",
    ) -> None:
        super().__init__(poke_interval, timeout_at)
        self.plan = plan
        self.ango_conn_id = ango_conn_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "plan": self.plan,
                "poke_interval": self.poke_interval,
                "timeout_at": self.timeout_at,
                "ango_conn_id": self.ango_conn_id,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        plan = StagePlan.from_json(self.plan)
        hook = AngoHubHook(ango_conn_id=self.ango_conn_id)
        try:
            while True:
                try:
                    progress = await ameasure(hook, plan)
                except AngoApiError as error:
                    yield TriggerEvent(
                        {"status": "error", "error": type(error).__name__, "message": str(error)}
                    )
                    return
                self.log.info("%s", progress.describe(plan))
                if progress.done:
                    yield TriggerEvent({"status": "success", "progress": progress.to_json(plan)})
                    return
                if not await self.wait_for_next_check():
                    yield TriggerEvent({"status": "timeout", "progress": progress.to_json(plan)})
                    return
        finally:
            await hook.aclose()


__all__ = ["AngoTaskStageTrigger"]
