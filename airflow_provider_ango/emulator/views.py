"""How rows look from outside: project, asset and task JSON, and a task's stage history.

Task objects come in two shapes (``answer_shapes``): ``sdk`` (``asset`` an object with ``_id``,
``externalId`` and ``data``; ``updatedAt``; ``totalDuration``) and ``rest``, the REST
documentation's (``asset`` the asset's id, ``externalId`` at the top, ``completedAt``,
``duration``, no ``updatedAt``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from airflow_provider_ango.emulator.access import DEFAULT_ORGANIZATION_ID
from airflow_provider_ango.emulator.common import format_ms
from airflow_provider_ango.emulator.project import API_USER, Project

EMPTY_ANSWER: dict[str, list[Any]] = {"tools": [], "classifications": [], "relations": []}


def without_metadata(annotations: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Annotations (and their nested classifications) without per-annotation metadata, as in
    history entries and in exports asked for without metadata."""
    result = []
    for annotation in annotations:
        copy = {key: value for key, value in annotation.items() if key != "metadata"}
        if isinstance(copy.get("classifications"), list):
            copy["classifications"] = without_metadata(copy["classifications"])
        result.append(copy)
    return result


def project_json(project: Project) -> dict[str, Any]:
    return {
        **project_summary_json(project),
        "categorySchema": project.category_schema,
        "batches": [batch.to_json() for batch in project.batches],
        "stages": [stage.to_json() for stage in project.stages],
        "consensusCount": project.consensus_count,
        "role": "Manager",
        "deleted": False,
    }


def project_summary_json(project: Project) -> dict[str, Any]:
    return {
        "_id": project.id,
        "name": project.name,
        "description": project.description,
        "type": project.type,
        "organization": DEFAULT_ORGANIZATION_ID,
        "createdAt": format_ms(project.created_ms),
    }


def asset_json(project: Project, row: int) -> dict[str, Any]:
    extra = project.extras.get(row)
    stage = project.stage_at(row)
    data = project.data[row]
    result: dict[str, Any] = {
        "_id": project.asset_id(row),
        "project": project.id,
        "externalId": project.ext_ids[row],
        "data": list(data) if isinstance(data, list) else project.data_url(row),
        "batches": project.batch_ids_of(row),
        "metadata": dict(extra.metadata) if extra and extra.metadata else {},
        "isPreLabeled": project.is_prelabeled(row),
        "createdAt": format_ms(project.created[row]),
        "task": {"_id": project.task_id(row), "stage": stage.name, "stageId": stage.id},
    }
    if extra is not None:
        if extra.context_data is not None:
            result["contextData"] = extra.context_data
        if extra.attachments is not None:
            result["attachments"] = extra.attachments
        if extra.storage is not None:
            result["storage"] = extra.storage
    return result


def task_json(project: Project, row: int, include_answer: bool, rest_shape: bool) -> dict[str, Any]:
    extra = project.extras.get(row)
    stage = project.stage_at(row)
    result: dict[str, Any] = {"_id": project.task_id(row), "project": project.id}
    if rest_shape:
        result["asset"] = project.asset_id(row)
        result["externalId"] = project.ext_ids[row]
    else:
        result["asset"] = {
            "_id": project.asset_id(row),
            "externalId": project.ext_ids[row],
            "data": project.data_url(row),
        }
    result.update(
        {
            "stage": stage.name,
            "stageId": stage.id,
            "status": project.task_status(row),
            "batches": project.batch_ids_of(row),
            "assignee": extra.assignee if extra else None,
            "isPreLabeled": project.is_prelabeled(row),
            "isBenchmark": project.task_type(row) == "benchmark",
            "taskType": project.task_type(row),
            "review": {"status": (extra.review_status if extra else None) or "Todo"},
            "createdAt": format_ms(project.created[row]),
            # A task nobody touched yet was last updated by the API user who imported it.
            "updatedBy": (extra.updated_by if extra else None) or API_USER,
        }
    )
    duration = extra.total_duration if extra else 0
    if rest_shape:
        result["completedAt"] = _completed_at(project, row)
        result["duration"] = duration
    else:
        result["updatedAt"] = format_ms(project.updated[row])
        result["totalDuration"] = duration
    if include_answer:
        result["answer"] = (extra.answer if extra else None) or EMPTY_ANSWER
    return result


def _completed_at(project: Project, row: int) -> str | None:
    if project.stage_at(row).type != "Complete":
        return None
    extra = project.extras.get(row)
    # Seeded straight into Complete: it completed when it was last updated.
    at = extra.completed_ms if extra is not None and extra.completed_ms is not None else project.updated[row]
    return format_ms(at)


def start_history_entry(project: Project, row: int) -> dict[str, Any]:
    return {
        "stage": "Start",
        "stageId": project.stage("Start").id,
        "duration": 0,
        "completedAt": format_ms(project.created[row]),
        "tools": [],
        "classifications": [],
        "relations": [],
    }


def stage_history(project: Project, row: int) -> list[dict[str, Any]]:
    """Every task left Start at creation; later moves are stored as they happen."""
    extra = project.extras.get(row)
    return [start_history_entry(project, row), *((extra.history or []) if extra else [])]
