"""Assets and tasks: listings, one task, its history, requeue, and the soft delete of assets.

The task listing reads the SDK's ``filter=<JSON>`` and the REST documentation's ``filters=<JSON>``
(either, or both when they say the same), and folds in the top-level ``status`` (also the SDK's
``status[eq]``), ``stage`` (a stage id or name), ``assignee`` and ``batches`` where the filter does
not set them:
``batches`` as a JSON list holds batch ids (the SDK's deprecated form), otherwise it is the REST
form, comma-separated batch *names*; either way a task in any of them matches.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_ango.emulator.common import KIND_ASSET, KIND_TASK, bad_request, parse_json
from airflow_provider_ango.emulator.core import Core, Request, Router
from airflow_provider_ango.emulator.filters import (
    Selection,
    asset_selection,
    resolve_batch_names,
    task_selection,
)
from airflow_provider_ango.emulator.listing import (
    ASSET_SORT_FIELDS,
    TASK_SORT_FIELDS,
    page_request,
    rows_page,
)
from airflow_provider_ango.emulator.project import Project
from airflow_provider_ango.emulator.views import asset_json, stage_history, task_json
from airflow_provider_ango.emulator.workflow import requeue

routes = Router()
ID = "([^/]+)"
ALWAYS_RETURNED_FIELDS = frozenset({"_id", "project", "asset"})


def _loose_bool(request: Request, name: str) -> bool:
    """includeAnswer: the SDK sends ``true``/``false`` and, for get_task, Python's ``True``/``False``."""
    raw = request.param(name)
    if raw is None:
        return False
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise bad_request(f"Query parameter {name} must be true or false, got {raw!r}")


def _json_object_param(request: Request, *names: str) -> dict[str, Any]:
    given = [name for name in names if request.param(name) is not None]
    if not given:
        return {}
    # A server of either reading reads its own name and ignores the other, so a client may send
    # both; here they must then say the same thing, or the request is ambiguous.
    values = [request.json_param(name) for name in given]
    if any(value != values[0] for value in values[1:]):
        raise bad_request(
            f"The query parameters {' and '.join(given)} disagree; send one, or the same JSON in both"
        )
    value = values[0]
    if not isinstance(value, dict):
        raise bad_request(f"Query parameter {given[0]} must be a JSON object")
    return value


def _page(
    core: Core, request: Request, selection: Selection, sortable: tuple[str, ...]
) -> tuple[list[int], int]:
    paging = page_request(request.single_params(), core.settings, sortable)
    return rows_page(selection.project, selection.rows(), paging)


@routes.add("GET", f"/v2/project/{ID}/assets", group="assets")
def list_assets(core: Core, request: Request, project_id: str) -> dict[str, Any]:
    filters = _json_object_param(request, "filters")
    with core.state.lock:
        project = core.state.project(project_id)
        rows, total = _page(core, request, asset_selection(project, filters), ASSET_SORT_FIELDS)
        return {"assets": [asset_json(project, row) for row in rows], "total": total}


@routes.add("DELETE", f"/v2/project/{ID}/assets", group="assets")
def delete_assets(core: Core, request: Request, project_id: str) -> dict[str, Any]:
    """The SDK's ``delete_assets``: ``{"project", "assets": [asset ids]}``, a soft delete, all or nothing."""
    body = request.json_object()
    if body.get("project", project_id) != project_id:
        raise bad_request(
            f"Body project {body.get('project')!r} is not the project of the path, {project_id}"
        )
    asset_ids = body.get("assets")
    if not isinstance(asset_ids, list) or not asset_ids or not all(isinstance(a, str) for a in asset_ids):
        raise bad_request("assets must be a non-empty list of asset ids")
    with core.state.lock:
        project = core.state.project(project_id)
        rows = {asset_id: project.row_for_id(asset_id, KIND_ASSET) for asset_id in asset_ids}
        unknown = [asset_id for asset_id, row in rows.items() if row is None]
        if unknown:
            raise bad_request(
                f"Not assets of project {project_id} (or deleted already): {', '.join(unknown[:20])}"
            )
        for row in rows.values():
            if row is not None:
                project.delete_row(row)
    return {"deletedCount": len(rows)}


def _task_filters(request: Request, project: Project) -> dict[str, Any]:
    filters = _json_object_param(request, "filter", "filters")
    status, status_eq = request.param("status"), request.param("status[eq]")
    if status is not None and status_eq is not None:
        raise bad_request("Give status or status[eq], not both")
    top_level = {
        "status": status if status is not None else status_eq,
        "stage": request.param("stage"),
        "assignee": request.param("assignee"),
        "batches": _top_level_batches(request, project),
    }
    for key, value in top_level.items():
        if value is not None and key not in filters:
            filters[key] = value
    return filters


def _top_level_batches(request: Request, project: Project) -> dict[str, list[str]] | None:
    """Top-level ``batches``: a JSON list of ids (the SDK's) or comma-separated names (REST)."""
    raw = request.param("batches")
    if raw is None:
        return None
    if raw.lstrip().startswith("["):
        ids = parse_json(raw, "Query parameter batches")
        if not isinstance(ids, list) or not all(isinstance(item, str) for item in ids):
            raise bad_request(
                "Query parameter batches must be a JSON list of batch ids or comma-separated names"
            )
        return {"$in": ids}
    names = [name.strip() for name in raw.split(",") if name.strip()]
    return {"$in": resolve_batch_names(project, names, "Query parameter batches")}


@routes.add("GET", f"/v2/project/{ID}/tasks", group="tasks")
def list_tasks(core: Core, request: Request, project_id: str) -> dict[str, Any]:
    include_answer = _loose_bool(request, "includeAnswer")
    fields_param = request.param("fields")
    rest = core.settings.rest_shapes
    with core.state.lock:
        project = core.state.project(project_id)
        filters = _task_filters(request, project)
        rows, total = _page(core, request, task_selection(project, filters), TASK_SORT_FIELDS)
        tasks = [task_json(project, row, include_answer or bool(fields_param), rest) for row in rows]
    if fields_param:
        keep = {name.strip() for name in fields_param.split(",") if name.strip()} | ALWAYS_RETURNED_FIELDS
        tasks = [{key: value for key, value in task.items() if key in keep} for task in tasks]
    return {"tasks": tasks, "total": total}


@routes.add("GET", f"/v2/task/{ID}", group="tasks")
def get_task(core: Core, request: Request, task_id: str) -> dict[str, Any]:
    include_answer = _loose_bool(request, "includeAnswer")
    with core.state.lock:
        project, row = core.state.locate(task_id, KIND_TASK, "task")
        return {"task": task_json(project, row, include_answer, core.settings.rest_shapes)}


@routes.add("GET", f"/v2/task/{ID}/history", group="tasks")
def task_history(core: Core, request: Request, task_id: str) -> dict[str, Any]:
    with core.state.lock:
        project, row = core.state.locate(task_id, KIND_TASK, "task")
        history = stage_history(project, row)
    if core.settings.rest_shapes:
        return {"taskHistory": history}
    return {"taskId": task_id, "stageHistory": history}


@routes.add("POST", f"/v2/project/{ID}/requeueTasks", group="tasks")
def requeue_tasks(core: Core, request: Request, project_id: str) -> dict[str, Any]:
    body = request.json_object()
    with core.state.lock:
        count, target = requeue(core.state, core.state.project(project_id), body)
    if core.settings.rest_shapes:
        return {"modifiedCount": {"modified": count, "toStageId": target}}
    return {"requeued": count}
