"""Where a project's (or batch's) tasks stand in the workflow, and whether the wait is over.

The stage logic of :class:`~airflow_provider_ango.sensors.stage.AngoTaskStageSensor` and its
trigger: pure logic plus the two counting functions (sync for poke mode, async for the
trigger), which are the only I/O here (through the hook). It depends on the hook and the
models only.
A :class:`StagePlan` is resolved once from the project (stage names to ids, batch name to
id, which stages come *before* the target) and then travels as plain JSON into the
trigger, so the triggerer never needs the project again.

Counting is one ``GET .../tasks?limit=1`` per stage plus one for the total: Ango answers
``total`` for a filter, so no task list is ever paged through.

"Before" the target: with ``accept_later_stages`` the wait is over when no task is in a
stage from which the target can still be reached (the workflow's ``next`` links, Start
included); tasks already past it (Complete, say) count as done. When the project shows no
links, every stage except the target and ``Complete``/``Archive`` stages is taken as
before it; pass ``stages_before`` to say it exactly. Without ``accept_later_stages`` every
task must be *in* the target stage.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_ango.exceptions import AngoBatchNotFoundError, AngoStageError

if TYPE_CHECKING:
    from airflow_provider_ango.hooks.ango import AngoHubHook
    from airflow_provider_ango.models.api import Project, Stage

_FINAL_TYPES = ("Complete", "Archive")


@dataclass(frozen=True)
class StageRef:
    key: str  # what the task filter is given: the stage id when Ango shows one, else its name
    name: str


@dataclass(frozen=True)
class StagePlan:
    """What to count and when to stop; plain values only (it is a trigger's kwargs)."""

    project_id: str
    target: StageRef
    stages: list[StageRef]
    blocking: list[str]  # keys of stages that still hold up the wait
    batch_id: str | None = None
    accept_later_stages: bool = True
    min_tasks: int = 1

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StagePlan:
        return cls(
            project_id=data["project_id"],
            target=StageRef(**data["target"]),
            stages=[StageRef(**item) for item in data["stages"]],
            blocking=list(data["blocking"]),
            batch_id=data.get("batch_id"),
            accept_later_stages=bool(data.get("accept_later_stages", True)),
            min_tasks=int(data.get("min_tasks", 1)),
        )

    def task_filter(self, stage_key: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if stage_key is not None:
            body["stage"] = stage_key
        if self.batch_id is not None:
            body["batches"] = [self.batch_id]
        return body

    @property
    def scope(self) -> str:
        where = f"project {self.project_id}"
        return f"batch {self.batch_id} of {where}" if self.batch_id else where


@dataclass(frozen=True)
class StageProgress:
    total: int
    counts: dict[str, int] = field(default_factory=dict)  # stage name -> tasks
    waiting: int = 0
    done: bool = False

    def describe(self, plan: StagePlan) -> str:
        per_stage = ", ".join(f"{name}={count}" for name, count in self.counts.items() if count) or "none"
        if self.done:
            state = "done"
        elif self.total < plan.min_tasks:
            state = f"waiting for tasks to exist (need at least {plan.min_tasks})"
        else:
            state = f"{self.waiting} task(s) not yet at {plan.target.name}"
        return f"{plan.scope}: {self.total} task(s) [{per_stage}]; {state}"

    def to_json(self, plan: StagePlan) -> dict[str, Any]:
        """The sensor's XCom: small, plain, no secrets."""
        return {
            "project_id": plan.project_id,
            "batch_id": plan.batch_id,
            "stage": plan.target.name,
            "total": self.total,
            "waiting": self.waiting,
            "counts": dict(self.counts),
            "done": self.done,
        }


def _stage_ref(stage: Stage) -> StageRef:
    name = stage.name or stage.id or "?"
    return StageRef(key=stage.id or name, name=name)


def _find(stages: Sequence[Stage], wanted: str) -> Stage | None:
    for stage in stages:
        if wanted in (stage.id, stage.name):
            return stage
    return None


def _next_ids(stage: Stage) -> list[str] | None:
    extra = stage.model_extra or {}
    links = extra.get("next")
    return [str(item) for item in links] if isinstance(links, list) else None


def _stages_reaching(stages: Sequence[Stage], target: Stage) -> list[Stage] | None:
    """Stages from which ``target`` can be reached by ``next`` links; None if there are no links."""
    if all(_next_ids(stage) is None for stage in stages):
        return None
    by_id = {stage.id: stage for stage in stages if stage.id}
    parents: dict[str, list[Stage]] = {}
    for stage in stages:
        for next_id in _next_ids(stage) or []:
            if next_id in by_id:
                parents.setdefault(next_id, []).append(stage)
    found: dict[str, Stage] = {}
    queue = deque([target])
    while queue:
        for parent in parents.get(queue.popleft().id or "", []):
            if parent.id and parent.id not in found and parent is not target:
                found[parent.id] = parent
                queue.append(parent)
    return list(found.values())


def make_plan(
    project: Project,
    stage: str,
    *,
    batch: str | None = None,
    accept_later_stages: bool = True,
    stages_before: Sequence[str] | None = None,
    min_tasks: int = 1,
) -> StagePlan:
    stages = list(project.stages)
    batch_id = None
    if batch is not None:
        batch_ids, missing = project.batch_ids([batch])
        if missing:
            raise AngoBatchNotFoundError.of(project, missing)
        batch_id = batch_ids[batch]
    if not stages:
        # Nothing to resolve against: count the target by the name given and compare with the total.
        target_ref = StageRef(stage, stage)
        return StagePlan(project.id, target_ref, [target_ref], [], batch_id, False, min_tasks)
    target = _find(stages, stage)
    if target is None:
        names = ", ".join(item.name or item.id or "?" for item in stages)
        raise AngoStageError(
            f"stage {stage!r} is not a stage of project {project.id} (stages: {names}); "
            "give a stage name or id of that project's workflow"
        )
    if stages_before is not None:
        before = []
        for wanted in stages_before:
            found = _find(stages, wanted)
            if found is None:
                names = ", ".join(item.name or item.id or "?" for item in stages)
                raise AngoStageError(
                    f"stages_before: {wanted!r} is not a stage of project {project.id} (stages: {names}); "
                    "give stage names or ids of that project's workflow"
                )
            before.append(found)
    else:
        reaching = _stages_reaching(stages, target)
        before = (
            reaching
            if reaching is not None
            else [item for item in stages if item is not target and item.type not in _FINAL_TYPES]
        )
    return StagePlan(
        project_id=project.id,
        target=_stage_ref(target),
        stages=[_stage_ref(item) for item in stages],
        blocking=[_stage_ref(item).key for item in before],
        batch_id=batch_id,
        accept_later_stages=accept_later_stages,
        min_tasks=min_tasks,
    )


def evaluate(plan: StagePlan, counts_by_key: Mapping[str, int], total: int) -> StageProgress:
    names = {ref.key: ref.name for ref in plan.stages}
    counts = {names.get(key, key): count for key, count in counts_by_key.items()}
    if plan.accept_later_stages:
        waiting = sum(counts_by_key.get(key, 0) for key in plan.blocking)
    else:
        waiting = total - counts_by_key.get(plan.target.key, 0)
    done = total >= plan.min_tasks and waiting == 0
    return StageProgress(total=total, counts=counts, waiting=waiting, done=done)


def measure(hook: AngoHubHook, plan: StagePlan) -> StageProgress:
    counts = {ref.key: hook.count_tasks(plan.project_id, plan.task_filter(ref.key)) for ref in plan.stages}
    return evaluate(plan, counts, hook.count_tasks(plan.project_id, plan.task_filter()))


async def ameasure(hook: AngoHubHook, plan: StagePlan) -> StageProgress:
    counts = {}
    for ref in plan.stages:
        counts[ref.key] = await hook.acount_tasks(plan.project_id, plan.task_filter(ref.key))
    return evaluate(plan, counts, await hook.acount_tasks(plan.project_id, plan.task_filter()))


__all__ = [
    "StagePlan",
    "StageProgress",
    "StageRef",
    "ameasure",
    "evaluate",
    "make_plan",
    "measure",
]
