"""AngoTaskStageTrigger: counts tasks per stage in the triggerer until the wait is over.

Its kwargs are plain values (the resolved :class:`StagePlan` as JSON, the poll interval,
an absolute deadline, the connection id), so it survives a triggerer restart: it simply
counts again. It fires exactly one event:

- ``{"status": "success", "progress": {...}}`` when the condition holds;
- ``{"status": "timeout", "progress": {...}}`` at the deadline;
- ``{"status": "error", "error": <class>, "message": <text>, "http_status": <int or None>}`` when
  Ango keeps failing past the hook's retry budget, or anything else goes wrong (the message is
  scrubbed of secrets).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import TriggerEvent

from airflow_provider_ango.hooks.ango import AngoHubHook
from airflow_provider_ango.stages import StagePlan, ameasure
from airflow_provider_ango.triggers.base import CheckResult, PollingTrigger, error_event


class AngoTaskStageTrigger(PollingTrigger):
    """Wait until the tasks of a project (or batch) reach a stage; see :class:`AngoTaskStageSensor`.

    :param plan: :meth:`StagePlan.to_json` of the resolved plan.
    :param poke_interval: seconds between two counts.
    :param timeout_at: deadline as seconds since the epoch (absolute, so a restarted trigger
        keeps the original deadline); None waits for ever.
    :param ango_conn_id: the Ango Hub connection.
    """

    serialized = ("plan", "poke_interval", "timeout_at", "ango_conn_id")

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

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            plan = StagePlan.from_json(self.plan)
        except Exception as error:  # kwargs of another version, say: an event, not a dead trigger
            yield error_event(error)
            return
        hook = AngoHubHook(ango_conn_id=self.ango_conn_id)

        async def check() -> CheckResult:
            progress = await ameasure(hook, plan)
            self.log.info("%s", progress.describe(plan))
            return progress.done, {"progress": progress.to_json(plan)}

        try:
            async for event in self.poll(check):
                yield event
        finally:
            await hook.aclose()


__all__ = ["AngoTaskStageTrigger"]
