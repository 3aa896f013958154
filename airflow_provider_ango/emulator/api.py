"""The Ango Hub REST endpoints of ango-api.md, answered from the emulator's state.

Each handler returns the ``data`` of the ``{"status": "success", "data": ...}`` envelope
or raises :class:`ApiError` (400 malformed input, 404 unknown project/task/storage).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_provider_ango.emulator.common import (
    KIND_TASK,
    bad_request,
    format_ms,
    not_found,
    parse_json,
    parse_positive_int,
    require_hex24,
)
from airflow_provider_ango.emulator.core import Core, Request, Router
from airflow_provider_ango.emulator.export import parse_export_options, write_export
from airflow_provider_ango.emulator.imports import import_cloud_assets, import_labels, parse_query_batches
from airflow_provider_ango.emulator.state import ORGANIZATION_ID, Batch, Project
from airflow_provider_ango.emulator.validation import validate_category_schema
from airflow_provider_ango.emulator.views import (
    asset_json,
    asset_predicate,
    matching_rows,
    page_of,
    project_json,
    project_summary_json,
    sort_rows,
    stage_history,
    task_json,
    task_predicate,
)
from airflow_provider_ango.emulator.workflow import requeue

api = Router()
HEX = "([^/]+)"  # ids are checked by the handlers, so a malformed one is a 400, not a 404
PROJECT_TYPES = ("ango", "pct", "iframe")
STORAGE_PROVIDERS = ("AWS", "GCP", "AZURE")
METRICS = (
    "LabelStageGroups",
    "TimePerTask",
    "AnnotationStatus",
    "AnswerDistribution",
    "ConsensusRanges",
    "AssetSize",
)


def _paging(request: Request) -> tuple[int, int]:
    return parse_positive_int(request.param("page"), "page", 1), parse_positive_int(
        request.param("limit"), "limit", 10
    )


def _json_param(request: Request, name: str) -> Any:
    raw = request.param(name)
    return None if raw is None else parse_json(raw, f"Query parameter {name}")


def _loose_bool(request: Request, name: str) -> bool:
    """includeAnswer: the SDK sends ``true``/``false`` and, for get_task, Python's ``True``/``False``."""
    raw = request.param(name)
    if raw is None:
        return False
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise bad_request(f"Query parameter {name} must be true or false, got {raw!r}")


# -- projects --------------------------------------------------------------------------
@api.add("GET", "/v2/listProjects")
def list_projects(core: Core, request: Request) -> dict[str, Any]:
    page, limit = _paging(request)
    with core.state.lock:
        projects = list(core.state.projects.values())
    chosen = projects[(page - 1) * limit : page * limit]
    return {"projects": [project_summary_json(project) for project in chosen], "total": len(projects)}


@api.add("POST", "/v2/project")
def create_project(core: Core, request: Request) -> dict[str, Any]:
    body = request.json_object()
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise bad_request("name is required (a non-empty string)")
    description = body.get("description", "")
    if not isinstance(description, str):
        raise bad_request("description must be a string")
    project_type = body.get("type", "ango")
    if project_type not in PROJECT_TYPES:
        raise bad_request(f"type must be one of {', '.join(PROJECT_TYPES)}, got {project_type!r}")
    project = core.state.create_project(name, description, project_type)
    with core.state.lock:
        return {"project": project_json(project)}


@api.add("GET", f"/v2/project/{HEX}")
def get_project(core: Core, request: Request, project_id: str) -> dict[str, Any]:
    with core.state.lock:
        return {"project": project_json(core.state.project(project_id))}


@api.add("POST", f"/v2/project/{HEX}")
def update_project(core: Core, request: Request, project_id: str) -> dict[str, Any]:
    body = request.json_object()
    unknown = sorted(set(body) - {"categorySchema", "name", "description"})
    if unknown:
        raise bad_request(f"Unsupported project fields: {', '.join(unknown)}")
    schema = validate_category_schema(body["categorySchema"]) if "categorySchema" in body else None
    for key in ("name", "description"):
        if key in body and not isinstance(body[key], str):
            raise bad_request(f"{key} must be a string")
    with core.state.lock:
        project = core.state.project(project_id)
        if schema is not None:
            project.category_schema = schema
        project.name = body.get("name", project.name)
        project.description = body.get("description", project.description)
        return {"project": project_json(project)}


# -- assets and tasks ------------------------------------------------------------------
@api.add("GET", f"/v2/project/{HEX}/assets")
def list_assets(core: Core, request: Request, project_id: str) -> dict[str, Any]:
    page, limit = _paging(request)
    filters = _json_param(request, "filters") or {}
    if not isinstance(filters, dict):
        raise bad_request("Query parameter filters must be a JSON object")
    with core.state.lock:
        project = core.state.project(project_id)
        rows, total = page_of(matching_rows(project, asset_predicate(project, filters)), page, limit)
        return {"assets": [asset_json(project, row) for row in rows], "total": total}


@api.add("GET", f"/v2/project/{HEX}/tasks")
def list_tasks(core: Core, request: Request, project_id: str) -> dict[str, Any]:
    page, limit = _paging(request)
    include_answer = _loose_bool(request, "includeAnswer")
    filters = _json_param(request, "filter") or {}
    if not isinstance(filters, dict):
        raise bad_request("Query parameter filter must be a JSON object")
    # The SDK's deprecated top-level parameters, read when the filter does not set them.
    if request.param("stage") is not None:
        filters.setdefault("stage", request.param("stage"))
    if request.param("batches") is not None:
        filters.setdefault("batches", _json_param(request, "batches"))
    fields_param = request.param("fields")
    with core.state.lock:
        project = core.state.project(project_id)
        candidates = matching_rows(project, task_predicate(project, filters))
        sort = request.param("sort")
        rows, total = page_of(sort_rows(project, candidates, sort) if sort else candidates, page, limit)
        tasks = [task_json(project, row, include_answer or bool(fields_param)) for row in rows]
    if fields_param:
        keep = {name.strip() for name in fields_param.split(",") if name.strip()} | {
            "_id",
            "project",
            "asset",
        }
        tasks = [{key: value for key, value in task.items() if key in keep} for task in tasks]
    return {"tasks": tasks, "total": total}


@api.add("GET", f"/v2/task/{HEX}")
def get_task(core: Core, request: Request, task_id: str) -> dict[str, Any]:
    include_answer = _loose_bool(request, "includeAnswer")
    with core.state.lock:
        project, row = core.state.locate(task_id, KIND_TASK, "task")
        return {"task": task_json(project, row, include_answer)}


@api.add("GET", f"/v2/task/{HEX}/history")
def task_history(core: Core, request: Request, task_id: str) -> dict[str, Any]:
    with core.state.lock:
        project, row = core.state.locate(task_id, KIND_TASK, "task")
        return {"taskId": task_id, "stageHistory": stage_history(project, row)}


@api.add("POST", f"/v2/project/{HEX}/cloud")
def import_cloud(core: Core, request: Request, project_id: str) -> dict[str, Any]:
    body = request.json_object()
    priority = body.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise bad_request("priority must be an integer")
    upload_local = body.get("uploadLocal")
    if upload_local is not None and not isinstance(upload_local, (str, bool)):
        raise bad_request("uploadLocal must be null, a boolean or a string")
    with core.state.lock:
        project = core.state.project(project_id)
        query_batches = parse_query_batches(project, _json_param(request, "batches"))
        import_cloud_assets(core.state, project, body.get("assets"), query_batches)
    return {"assets": "Successfully created."}


@api.add("POST", f"/v2/project/{HEX}/requeueTasks")
def requeue_tasks(core: Core, request: Request, project_id: str) -> dict[str, Any]:
    body = request.json_object()
    with core.state.lock:
        count = requeue(core.state, core.state.project(project_id), body)
    return {"requeued": count}


@api.add("POST", f"/v2/batches/{HEX}")
def set_batches(core: Core, request: Request, project_id: str) -> dict[str, Any]:
    body = request.json_object()
    with core.state.lock:
        project = core.state.project(project_id)
        if "batches" in body:
            project.batches = _replace_batches(core, project, body["batches"])
        elif "name" in body:
            name = body["name"]
            if not isinstance(name, str) or not name:
                raise bad_request("name must be a non-empty string")
            project.batches.append(Batch(core.state.new_id(0xBA), name))
        else:
            raise bad_request('Body must be {"name": <batch name>} or {"batches": [{"_id"?, "name"}...]}')
        return {
            "project": {
                "_id": project.id,
                "name": project.name,
                "batches": [b.to_json() for b in project.batches],
            }
        }


def _replace_batches(core: Core, project: Project, listed: Any) -> list[Batch]:
    """``{"batches": [...]}`` sets the full list: entries with ``_id`` keep it, others are new."""
    if not isinstance(listed, list):
        raise bad_request("batches must be a list of {_id?, name} objects")
    result = []
    for position, entry in enumerate(listed):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise bad_request(f"batches[{position}] must be an object with a non-empty name")
        if "_id" in entry:
            existing = project.batch_by_id(require_hex24(entry["_id"], f"batches[{position}]._id"))
            if existing is None:
                raise bad_request(
                    f"batches[{position}]._id {entry['_id']} is not a batch of project {project.id}"
                )
            existing.name = entry["name"]
            result.append(existing)
        else:
            result.append(Batch(core.state.new_id(0xBA), entry["name"]))
    return result


@api.add("POST", "/v2/import/labels")
def import_label_content(core: Core, request: Request) -> dict[str, Any]:
    body = request.json_object()
    if "project" not in body:
        raise bad_request("project (the project id) is required")
    with core.state.lock:
        count = import_labels(core.state, core.state.project(body["project"]), body.get("jsonContent"))
    return {"message": "Labels imported", "tasks": count}


# -- export ------------------------------------------------------------------------------
@api.add("GET", "/v2/export")
def export(core: Core, request: Request) -> dict[str, Any]:
    params = request.single_params()
    if "project" not in params:
        raise bad_request("Query parameter project (the project id) is required")
    with core.state.lock:
        project = core.state.project(params["project"])
        options = parse_export_options(project, params)
        expiry = core.state.url_expiry_seconds
    path, _count = write_export(core.state, project, options, core.files.directory)
    return {"exportPath": core.base_url + core.files.publish(Path(path), expiry)}


# -- storages ----------------------------------------------------------------------------
def _storage_view(storage: dict[str, Any]) -> dict[str, Any]:
    """Never echo secrets (privateKey, credentials)."""
    return {key: value for key, value in storage.items() if key not in ("privateKey", "credentials")}


@api.add("GET", "/v2/storages/?")
def list_storages(core: Core, request: Request) -> dict[str, Any]:
    wanted = request.param("_id")
    if wanted is not None:
        require_hex24(wanted, "storage id")
    with core.state.lock:
        storages = [
            _storage_view(storage)
            for storage in core.state.storages.values()
            if wanted is None or storage["_id"] == wanted
        ]
    return {"storages": storages}


@api.add("POST", "/v2/storages/?")
def create_storage(core: Core, request: Request) -> dict[str, Any]:
    body = request.json_object()
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise bad_request("name is required (a non-empty string)")
    provider = body.get("provider")
    if provider not in STORAGE_PROVIDERS:
        raise bad_request(f"provider must be one of {', '.join(STORAGE_PROVIDERS)}, got {provider!r}")
    for key in ("publicKey", "privateKey", "region"):
        if key in body and body[key] is not None and not isinstance(body[key], str):
            raise bad_request(f"{key} must be a string")
    with core.state.lock:
        storage = {
            "_id": core.state.new_id(0x5A),
            "name": name,
            "provider": provider,
            "region": body.get("region"),
            "publicKey": body.get("publicKey"),
            "privateKey": body.get("privateKey"),
            "credentials": body.get("credentials"),
            "organization": ORGANIZATION_ID,
            "createdAt": format_ms(core.state.clock.now_ms()),
        }
        core.state.storages[storage["_id"]] = storage
    return {"storage": _storage_view(storage)}


@api.add("DELETE", f"/v2/storages/{HEX}")
def delete_storage(core: Core, request: Request, storage_id: str) -> dict[str, Any]:
    require_hex24(storage_id, "storage id")
    with core.state.lock:
        if core.state.storages.pop(storage_id, None) is None:
            raise not_found(f"Storage not found: {storage_id}")
        core.state.storage_files.pop(storage_id, None)
    return {"storage": {"_id": storage_id, "deleted": True}}


@api.add("GET", f"/v2/storages/{HEX}/files")
def list_storage_files(core: Core, request: Request, storage_id: str) -> dict[str, Any]:
    require_hex24(storage_id, "storage id")
    bucket = request.param("bucketName")
    if not bucket:
        raise bad_request("Query parameter bucketName is required")
    prefix = request.param("path") or ""
    for name in ("getSignedUrls", "retryOnSlowDown"):
        value = request.param(name)
        if value is not None and value not in ("true", "false"):
            raise bad_request(f"Query parameter {name} must be 'true' or 'false'")
    with core.state.lock:
        storage = core.state.storages.get(storage_id)
        if storage is None:
            raise not_found(f"Storage not found: {storage_id}")
        keys = [
            key
            for key in core.state.storage_files.get(storage_id, {}).get(bucket, [])
            if key.startswith(prefix)
        ]
    return {"files": [{"key": key, "url": _bucket_url(storage, bucket, key)} for key in keys]}


def _bucket_url(storage: dict[str, Any], bucket: str, key: str) -> str:
    if storage["provider"] == "GCP":
        return f"https://storage.googleapis.com/{bucket}/{key}"
    if storage["provider"] == "AZURE":
        return f"https://{storage.get('publicKey') or 'account'}.blob.core.windows.net/{bucket}/{key}"
    return f"https://{bucket}.s3.{storage.get('region') or 'us-east-1'}.amazonaws.com/{key}"


# -- metrics -----------------------------------------------------------------------------
@api.add("GET", f"/v2/{HEX}/overview/{HEX}")
def metrics(core: Core, request: Request, project_id: str, metric: str) -> dict[str, Any]:
    if metric not in METRICS:
        raise bad_request(f"Unknown metric {metric!r}; metrics: {', '.join(METRICS)}")
    with core.state.lock:
        project = core.state.project(project_id)
        if metric == "LabelStageGroups":
            counts = [0] * len(project.stages)
            for index in project.stage_of:
                counts[index] += 1
            values: Any = [
                {"stage": stage.name, "stageId": stage.id, "count": counts[stage.index]}
                for stage in project.stages
            ]
        elif metric == "AssetSize":
            values = {"count": len(project)}
        else:
            values = []
    return {"metric": metric, "values": values}
