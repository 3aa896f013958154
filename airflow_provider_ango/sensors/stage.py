"""AngoTaskStageSensor: wait until a project's (or batch's) tasks reach a workflow stage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from airflow_provider_ango.arguments import names_list
from airflow_provider_ango.sensors.base import AngoDeferrableSensor
from airflow_provider_ango.stages import StagePlan, StageProgress, make_plan, measure
from airflow_provider_ango.triggers.stage import AngoTaskStageTrigger


class AngoTaskStageSensor(AngoDeferrableSensor[StageProgress]):
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

    def check(self) -> StageProgress:
        progress = measure(self.hook, self.plan)
        self.log.info("%s", progress.describe(self.plan))
        return progress

    def is_done(self, summary: StageProgress) -> bool:
        return summary.done

    def result(self, summary: StageProgress) -> dict[str, Any]:
        return summary.to_json(self.plan)

    def trigger(self, summary: StageProgress, timeout_at: float) -> AngoTaskStageTrigger:
        return AngoTaskStageTrigger(
            plan=self.plan.to_json(),
            poke_interval=float(self.poke_interval),
            timeout_at=timeout_at,
            ango_conn_id=self.ango_conn_id,
        )

    def event_result(self, event: Mapping[str, Any]) -> Any:
        self.log.info("Wait over: %s", _counts_text(event.get("progress")))
        return event.get("progress")

    def timeout_message(self, event: Mapping[str, Any]) -> str:
        return (
            f"Timed out after {self.timeout} s waiting for the tasks of project {self.project_id}"
            f"{f' batch {self.batch}' if self.batch else ''} to reach stage {self.stage!r}: "
            f"{_counts_text(event.get('progress'))}. Raise `timeout`, or check the labeling queue "
            "(are tasks assigned? stuck in Hold?)."
        )

    def what(self) -> str:
        return f"stage {self.stage!r} of project {self.project_id}"


def _counts_text(progress: Any) -> str:
    if not isinstance(progress, dict):
        return "no counts"
    counts = progress.get("counts") or {}
    per_stage = ", ".join(f"{name}={count}" for name, count in counts.items() if count) or "none"
    return f"{progress.get('total', 0)} task(s) [{per_stage}], {progress.get('waiting', 0)} still waiting"


__all__ = ["AngoTaskStageSensor"]
