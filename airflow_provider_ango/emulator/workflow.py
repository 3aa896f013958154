"""Moving tasks through a project's workflow: labelers, reviewers, consensus, requeue.

Every move appends a stageHistory entry for the stage the task leaves (the shape of the
export's ``stageHistory``: stage, stageId, duration, completedAt, completedBy, reviewStatus
for reviews, and the answer as it stood, without annotation metadata), sets ``updatedAt``
(to the optional ``at``, so tests can put a task exactly on a window boundary), sets
``updatedBy`` and adds the duration to ``totalDuration``.

Consensus: a task in a Consensus stage takes one judgment per ``submit``; each is kept in
the history as ``Consensus_<n>`` (as in Ango's V3 export sample) and the task moves on once
the project's ``consensusCount`` judgments are in, with the last judgment as its answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from airflow_provider_ango.emulator.common import (
    KIND_TASK,
    bad_request,
    format_ms,
    parse_iso_ms,
)
from airflow_provider_ango.emulator.filters import resolve_batch_ids
from airflow_provider_ango.emulator.project import Project, Stage
from airflow_provider_ango.emulator.state import EmulatorState
from airflow_provider_ango.emulator.validation import AnswerContext, SchemaIndex, normalize_answer
from airflow_provider_ango.emulator.views import EMPTY_ANSWER, without_metadata

LABELER = "labeler@emulator.ango.local"
REVIEWER = "reviewer@emulator.ango.local"
DEFAULT_DURATION_MS = 1000
ACTIONS = ("submit", "review", "move", "assign")
REVIEW_STATUSES = ("Accepted", "Rejected")
MAX_IDS_RETURNED = 1000


def history_entry(
    stage_name: str,
    stage: Stage,
    duration_ms: int,
    at_ms: int,
    by: str,
    answer: dict[str, Any] | None,
    review_status: str | None = None,
) -> dict[str, Any]:
    answer = answer or EMPTY_ANSWER
    # Key order as in the export samples: a review's status comes before completedAt.
    entry: dict[str, Any] = {"stage": stage_name, "stageId": stage.id, "duration": duration_ms}
    if review_status is not None:
        entry["reviewStatus"] = review_status
    entry["completedAt"] = format_ms(at_ms)
    entry["completedBy"] = by
    # History entries carry the answer without per-annotation metadata (seed sample).
    entry["tools"] = without_metadata(answer.get("tools", []))
    entry["classifications"] = without_metadata(answer.get("classifications", []))
    entry["relations"] = without_metadata(answer.get("relations", []))
    return entry


def _int_option(body: dict[str, Any], key: str, default: int | None, minimum: int) -> int | None:
    value = body.get(key, default)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise bad_request(f"{key} must be an integer >= {minimum}")
    return value


def _select_rows(
    state: EmulatorState, project: Project, body: dict[str, Any], default_stages: set[int]
) -> list[int]:
    """Rows chosen by taskIds / externalIds / batch / fromStage (all given must match)."""
    explicit: list[int] | None = None
    if "taskIds" in body:
        task_ids = body["taskIds"]
        if not isinstance(task_ids, list):
            raise bad_request("taskIds must be a list of task ids")
        explicit = []
        for task_id in task_ids:
            found_project, row = state.locate(task_id, KIND_TASK, "task")
            if found_project is not project:
                raise bad_request(f"Task {task_id} does not belong to project {project.id}")
            explicit.append(row)
    if "externalIds" in body:
        names = body["externalIds"]
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise bad_request("externalIds must be a list of strings")
        by_name = [row for name in names for row in project.rows_for_external_id(name)]
        named = set(by_name)
        explicit = by_name if explicit is None else [row for row in explicit if row in named]
    batch_id = None
    if "batch" in body:
        batch = project.batch_by_name(body["batch"]) or project.batch_by_id(body["batch"])
        if batch is None:
            raise bad_request(f"batch {body['batch']!r} is not a batch of project {project.id}")
        batch_id = batch.id
    stages = default_stages
    if "fromStage" in body:
        stage = project.find_stage(body["fromStage"])
        if stage is None:
            raise bad_request(
                f"fromStage {body['fromStage']!r} is unknown; stages: {', '.join(project.stage_names())}"
            )
        stages = {stage.index}
    limit = _int_option(body, "limit", None, 1)
    candidates: Iterable[int] = explicit if explicit is not None else list(project.live)
    chosen = []
    for row in candidates:
        if batch_id is not None and batch_id not in project.batch_refs[row]:
            continue
        if stages and project.stage_of[row] not in stages:
            if explicit is not None:
                raise bad_request(
                    f"Task {project.task_id(row)} is in stage {project.stage_at(row).name}, "
                    "where this action does not apply"
                )
            continue
        chosen.append(row)
        if limit is not None and len(chosen) >= limit:
            break
    return chosen


def act(state: EmulatorState, project: Project, body: Any) -> dict[str, Any]:
    """POST /_emulator/projects/{id}/act (``assign`` sets the tasks' ``assignee``)."""
    if not isinstance(body, dict):
        raise bad_request("act body must be a JSON object")
    action = body.get("action")
    if action not in ACTIONS:
        raise bad_request(f"action must be one of {', '.join(ACTIONS)}")
    at_ms = parse_iso_ms(body["at"], "at") if "at" in body else state.clock.now_ms()
    by = body.get("by", REVIEWER if action == "review" else LABELER)
    if not isinstance(by, str) or not by:
        raise bad_request("by must be a non-empty string (the acting user's email)")
    duration = _int_option(body, "duration", DEFAULT_DURATION_MS, 0) or 0
    if action == "submit":
        defaults = {stage.index for stage in project.stages if stage.type in ("Label", "Consensus")}
    elif action == "review":
        defaults = {stage.index for stage in project.stages if stage.type == "Review"}
    else:
        defaults = set()
    answer = None
    if body.get("answer") is not None:
        if action != "submit":
            raise bad_request("answer is only taken by the submit action")
        if not isinstance(body["answer"], dict):
            raise bad_request("answer must be an object with tools, classifications, relations")
        context = AnswerContext(SchemaIndex.of(project.category_schema), by, at_ms)
        answer = normalize_answer(body["answer"], context, "answer", "Label")
        context.raise_if_offenders("answer names schemaIds that are not in the project's category schema")
    assignee = body.get("assignee")
    if action == "assign" and (not isinstance(assignee, str) or not assignee):
        raise bad_request("assign needs assignee, the labeler's email")
    review_status = body.get("reviewStatus")
    if action == "review" and review_status not in REVIEW_STATUSES:
        raise bad_request("reviewStatus must be 'Accepted' or 'Rejected' for a review")
    target = None
    if action == "move":
        target = project.find_stage(body.get("toStage"))
        if target is None:
            raise bad_request(
                f"toStage {body.get('toStage')!r} is unknown; stages: {', '.join(project.stage_names())}"
            )
    rows = _select_rows(state, project, body, defaults)
    moved: list[str] = []
    for row in rows:
        if action == "submit":
            _submit(project, row, answer, at_ms, by, duration)
        elif action == "review":
            _review(project, row, str(review_status), at_ms, by, duration)
        elif action == "assign":
            project.extras_of(row).assignee = assignee
        else:
            assert target is not None
            _move(project, row, target, at_ms, by, duration)
        if len(moved) < MAX_IDS_RETURNED:
            moved.append(project.task_id(row))
    return {"count": len(rows), "taskIds": moved, "truncated": len(rows) > len(moved)}


def _touch(project: Project, row: int, at_ms: int, by: str, duration: int) -> None:
    extra = project.extras_of(row)
    project.updated[row] = at_ms
    extra.updated_by = by
    extra.total_duration += duration


def _append_history(project: Project, row: int, entry: dict[str, Any]) -> None:
    extra = project.extras_of(row)
    if extra.history is None:
        extra.history = []
    extra.history.append(entry)


def _submit(
    project: Project, row: int, answer: dict[str, Any] | None, at_ms: int, by: str, duration: int
) -> None:
    stage = project.stage_at(row)
    extra = project.extras_of(row)
    if answer is not None:
        extra.answer = answer
    if stage.type == "Consensus":
        judgments = extra.judgments if extra.judgments is not None else []
        judgments.append(extra.answer or EMPTY_ANSWER)
        label = f"Consensus_{len(judgments)}"
        _append_history(project, row, history_entry(label, stage, duration, at_ms, by, extra.answer))
        if len(judgments) >= project.consensus_count:
            extra.judgments = None
            project.set_stage(row, project.next_stage(stage), at_ms)
        else:
            extra.judgments = judgments
    else:
        _append_history(project, row, history_entry(stage.name, stage, duration, at_ms, by, extra.answer))
        project.set_stage(row, project.next_stage(stage), at_ms)
    _touch(project, row, at_ms, by, duration)


def _review(project: Project, row: int, status: str, at_ms: int, by: str, duration: int) -> None:
    stage = project.stage_at(row)
    extra = project.extras_of(row)
    _append_history(project, row, history_entry(stage.name, stage, duration, at_ms, by, extra.answer, status))
    extra.review_status = status
    following = project.next_stage(stage) if status == "Accepted" else project.labeling_stage_before(stage)
    project.set_stage(row, following, at_ms)
    _touch(project, row, at_ms, by, duration)


def _move(project: Project, row: int, target: Stage, at_ms: int, by: str, duration: int) -> None:
    stage = project.stage_at(row)
    extra = project.extras_of(row)
    _append_history(project, row, history_entry(stage.name, stage, duration, at_ms, by, extra.answer))
    extra.judgments = None
    project.set_stage(row, target, at_ms)
    _touch(project, row, at_ms, by, duration)


REQUEUE_FILTERS = ("taskIds", "externalIds", "assetIds", "fromStageIds", "batches")
REQUEUE_OPTIONS = ("removeAnnotations", "removeAssignee", "removeStageHistory")


def _requeue_values(project: Project, row: int, key: str) -> set[str]:
    if key == "taskIds":
        return {project.task_id(row)}
    if key == "assetIds":
        return {project.asset_id(row)}
    if key == "externalIds":
        return {project.ext_ids[row]}
    if key == "fromStageIds":
        return {project.stage_at(row).id}
    return set(project.batch_refs[row])


def requeue(state: EmulatorState, project: Project, body: Any) -> tuple[int, str]:
    """POST /v2/project/{id}/requeueTasks; (tasks moved, the stage id they went to).

    Filters combine with AND; ``batches`` (ids) is the REST documentation's addition, and no
    filter at all requeues every task of the project, as documented.
    """
    if not isinstance(body, dict):
        raise bad_request("Body must be a JSON object with toStageId, filters, options")
    target = project.find_stage(body.get("toStageId"))
    if target is None or target.id != body.get("toStageId"):
        ids = ", ".join(f"{stage.name}={stage.id}" for stage in project.stages)
        raise bad_request(f"toStageId {body.get('toStageId')!r} is not a stage id of this project ({ids})")
    filters = body.get("filters") or {}
    options = body.get("options") or {}
    if not isinstance(filters, dict) or not isinstance(options, dict):
        raise bad_request("filters and options must be objects")
    unknown = sorted((set(filters) - set(REQUEUE_FILTERS)) | (set(options) - set(REQUEUE_OPTIONS)))
    if unknown:
        raise bad_request(f"Unknown requeue filters/options: {', '.join(unknown)}")
    wanted: dict[str, set[str]] = {}
    for key in REQUEUE_FILTERS:
        if key in filters:
            values = filters[key]
            if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
                raise bad_request(f"filters.{key} must be a list of strings")
            wanted[key] = set(values)
    if "batches" in wanted:
        resolve_batch_ids(project, sorted(wanted["batches"]), "filters.batches")
    for key in REQUEUE_OPTIONS:
        if key in options and not isinstance(options[key], bool):
            raise bad_request(f"options.{key} must be true or false")
    now_ms = state.clock.now_ms()
    count = 0
    for row in list(project.live):
        if any(values.isdisjoint(_requeue_values(project, row, key)) for key, values in wanted.items()):
            continue
        extra = project.extras_of(row)
        if options.get("removeAnnotations"):
            extra.answer = None
        if options.get("removeAssignee"):
            extra.assignee = None
        if options.get("removeStageHistory"):
            extra.history = None
        else:
            stage = project.stage_at(row)
            _append_history(project, row, history_entry(stage.name, stage, 0, now_ms, LABELER, extra.answer))
        project.set_stage(row, target, now_ms)
        project.updated[row] = now_ms
        count += 1
    return count, target.id
