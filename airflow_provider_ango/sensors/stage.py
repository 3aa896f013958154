"""AngoTaskStageSensor: wait until a project's (or batch's) tasks reach a workflow stage."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import Any

from airflow.sdk import BaseSensorOperator, Context, PokeReturnValue, conf
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout

from airflow_provider_ango.arguments import names_list
from airflow_provider_ango.hooks.ango import AngoHubHook
from airflow_provider_ango.stages import StagePlan, StageProgress, make_plan, measure
from airflow_provider_ango.triggers.stage import AngoTaskStageTrigger

#: Extra time the deferral itself is given past the trigger's own deadline (the trigger
#: ends the wait with a clear message; Airflow's deferral timeout is only the backstop).
_DEFER_GRACE_SECONDS = 300


class AngoTaskStageSensor(BaseSensorOperator):
    """Wait until the tasks of an Ango Hub project, or of one batch, have reached a stage.

    Done when no task of the scope is left in a stage *before* ``stage`` (tasks already past
    it count as done; with ``accept_later_stages=False`` every task must be *in* ``stage``)
    and the scope holds at least ``min_tasks`` tasks (so a batch whose import has not
    created its tasks yet is not "done" by being empty). Each check logs the count per stage.

    Deferrable (default from ``[operators] default_deferrable``): the first check runs on the
    worker, and if the wait is not over the counting moves to the triggerer (no worker slot
    held). Otherwise it pokes in ``poke`` or ``reschedule`` mode. After ``timeout`` seconds it
    fails with :class:`AirflowSensorTimeout` naming what is still waiting (``soft_fail``
    skips instead). Returns (XCom) ``{project_id, batch_id, stage, total, waiting, counts, done}``.

    :param project_id: Ango project id (templated).
    :param stage: target stage name or id, e.g. ``"Complete"`` or ``"Review"`` (templated).
    :param batch: restrict to one batch, by name or id (templated).
    :param accept_later_stages: whether tasks past ``stage`` count as done (default True).
    :param stages_before: the stages that hold the wait up, by name or id (templated);
        default: every stage from which ``stage`` can be reached in the workflow.
    :param min_tasks: fewest tasks the scope must hold before the wait can end (default 1).
    :param ango_conn_id: the Ango Hub connection.
    :param deferrable: wait in the triggerer.
    """

    template_fields: Sequence[str] = ("project_id", "stage", "batch", "stages_before")
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        project_id: str,
        stage: str = "Complete",
        batch: str | None = None,
        accept_later_stages: bool = True,
        stages_before: Sequence[str] | None = None,
        min_tasks: int = 1,
        ango_conn_id: str = "ango_default",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if min_tasks < 0:
            raise ValueError(f"min_tasks must be >= 0, got {min_tasks}")
        self.project_id = project_id
        self.stage = stage
        self.batch = batch
        self.accept_later_stages = accept_later_stages
        self.stages_before = stages_before
        self.min_tasks = min_tasks
        self.ango_conn_id = ango_conn_id
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> AngoHubHook:
        return AngoHubHook(ango_conn_id=self.ango_conn_id)

    @cached_property
    def plan(self) -> StagePlan:
        project = self.hook.get_project(self.project_id)
        return make_plan(
            project,
            self.stage,
            batch=self.batch,
            accept_later_stages=self.accept_later_stages,
            stages_before=names_list(self.stages_before, "stages_before"),
            min_tasks=self.min_tasks,
        )

    def _check(self) -> StageProgress:
        progress = measure(self.hook, self.plan)
        self.log.info("%s", progress.describe(self.plan))
        return progress

    def poke(self, context: Context) -> bool | PokeReturnValue:
        progress = self._check()
        return PokeReturnValue(is_done=progress.done, xcom_value=progress.to_json(self.plan))

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        progress = self._check()
        if progress.done:
            return progress.to_json(self.plan)
        timeout = float(self.timeout)  # BaseSensorOperator keeps both as seconds
        self.log.info(
            "Deferring: the triggerer counts again every %s s (timeout %s s)", self.poke_interval, timeout
        )
        self.defer(
            trigger=AngoTaskStageTrigger(
                plan=self.plan.to_json(),
                poke_interval=float(self.poke_interval),
                timeout_at=time.time() + timeout,
                ango_conn_id=self.ango_conn_id,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=timeout + _DEFER_GRACE_SECONDS),
        )
        return None  # not reached: defer() raises TaskDeferred

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        status = event.get("status")
        if status == "success":
            self.log.info("Wait over: %s", _counts_text(event.get("progress")))
            return event.get("progress")
        if status == "timeout":
            raise AirflowSensorTimeout(
                f"Timed out after {self.timeout} s waiting for the tasks of project {self.project_id}"
                f"{f' batch {self.batch}' if self.batch else ''} to reach stage {self.stage!r}: "
                f"{_counts_text(event.get('progress'))}. Raise `timeout`, or check the labeling queue "
                "(are tasks assigned? stuck in Hold?)."
            )
        raise AirflowException(
            f"Waiting for stage {self.stage!r} of project {self.project_id} failed: "
            f"{event.get('error', 'error')}: {event.get('message', 'no message')}"
        )


def _counts_text(progress: Any) -> str:
    if not isinstance(progress, dict):
        return "no counts"
    counts = progress.get("counts") or {}
    per_stage = ", ".join(f"{name}={count}" for name, count in counts.items() if count) or "none"
    return f"{progress.get('total', 0)} task(s) [{per_stage}], {progress.get('waiting', 0)} still waiting"


__all__ = ["AngoTaskStageSensor"]
