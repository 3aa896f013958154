"""Ango Hub endpoints as :class:`ApiCall` builders, plus parsers of their answers.

One function per row of the endpoint table in ango-api.md, so the sync and async hook
methods send byte-identical requests and the paths, query parameters and bodies live in
one place. ``idempotent=False`` marks the writes that must never be re-sent blindly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeVar
from urllib.parse import quote

from pydantic import BaseModel

from airflow_provider_ango.hooks._transport import ApiCall
from airflow_provider_ango.models.api import Page
from airflow_provider_ango.models.export import ExportOptions

ModelT = TypeVar("ModelT", bound=BaseModel)

StorageProvider = Literal["AWS", "GCP", "AZURE"]
Metric = Literal[
    "LabelStageGroups",
    "TimePerTask",
    "AnnotationStatus",
    "AnswerDistribution",
    "ConsensusRanges",
    "AssetSize",
]


def segment(value: str) -> str:
    """A path segment from an id or name: percent-encoded so that '/' or '..' cannot change the path."""
    text = str(value)
    if not text:
        raise ValueError("an id used in a URL path must not be empty")
    return quote(text, safe="")


def json_param(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def bool_param(value: bool) -> str:
    return "true" if value else "false"


# -- projects ---------------------------------------------------------------------------
def get_project(project_id: str) -> ApiCall:
    return ApiCall("GET", f"/v2/project/{segment(project_id)}")


def list_projects(page: int, limit: int) -> ApiCall:
    return ApiCall("GET", "/v2/listProjects", params={"page": str(page), "limit": str(limit)})


def create_project(name: str, description: str, project_type: str | None) -> ApiCall:
    body: dict[str, Any] = {"name": name, "description": description}
    if project_type is not None:
        body["type"] = project_type
    # Two sends would make two projects with the same name.
    return ApiCall("POST", "/v2/project", body=body, idempotent=False)


def set_category_schema(project_id: str, category_schema: Mapping[str, Any]) -> ApiCall:
    # Replaces the whole ontology: sending it twice leaves the same ontology.
    return ApiCall(
        "POST", f"/v2/project/{segment(project_id)}", body={"categorySchema": dict(category_schema)}
    )


def create_batch(project_id: str, name: str) -> ApiCall:
    # Not idempotent by itself (a second send may add a second batch of that name); the hook
    # re-reads the project's batches before any re-send.
    return ApiCall("POST", f"/v2/batches/{segment(project_id)}", body={"name": name}, idempotent=False)


# -- assets and tasks -------------------------------------------------------------------
def list_assets(project_id: str, page: int, limit: int, filters: Mapping[str, Any]) -> ApiCall:
    params = {"page": str(page), "limit": str(limit), "filters": json_param(dict(filters))}
    return ApiCall("GET", f"/v2/project/{segment(project_id)}/assets", params=params)


def list_tasks(
    project_id: str,
    page: int,
    limit: int,
    task_filter: Mapping[str, Any],
    *,
    include_answer: bool,
    sort: str | None,
    fields: Sequence[str] | str | None,
) -> ApiCall:
    params = {
        "page": str(page),
        "limit": str(limit),
        "includeAnswer": bool_param(include_answer),
        "filter": json_param(dict(task_filter)),
    }
    if sort:
        params["sort"] = sort
    if fields:
        params["fields"] = fields if isinstance(fields, str) else ",".join(fields)
    return ApiCall("GET", f"/v2/project/{segment(project_id)}/tasks", params=params)


def get_task(task_id: str, include_answer: bool) -> ApiCall:
    return ApiCall(
        "GET", f"/v2/task/{segment(task_id)}", params={"includeAnswer": bool_param(include_answer)}
    )


def get_task_history(task_id: str) -> ApiCall:
    return ApiCall("GET", f"/v2/task/{segment(task_id)}/history")


def import_cloud_assets(
    project_id: str, assets: list[dict[str, Any]], batch_ids: Sequence[str] | None
) -> ApiCall:
    params = {"batches": json_param(list(batch_ids))} if batch_ids else None
    body = {"assets": assets, "uploadLocal": None, "priority": 0}
    # A second send imports every asset of the chunk again, as duplicates.
    return ApiCall(
        "POST", f"/v2/project/{segment(project_id)}/cloud", params=params, body=body, idempotent=False
    )


def import_labels(project_id: str, items: list[dict[str, Any]]) -> ApiCall:
    body = {"project": project_id, "jsonContent": items}
    return ApiCall("POST", "/v2/import/labels", body=body, idempotent=False)


def requeue_tasks(
    project_id: str, to_stage_id: str, filters: Mapping[str, list[str]], options: Mapping[str, bool]
) -> ApiCall:
    body = {"toStageId": to_stage_id, "filters": dict(filters), "options": dict(options)}
    # Moving tasks twice can wipe work done between the two sends.
    return ApiCall("POST", f"/v2/project/{segment(project_id)}/requeueTasks", body=body, idempotent=False)


# -- export, storages, metrics ------------------------------------------------------------
def request_export(project_id: str, options: ExportOptions) -> ApiCall:
    return ApiCall("GET", "/v2/export", params=options.to_query_params(project_id))


def list_storages(storage_id: str | None) -> ApiCall:
    return ApiCall("GET", "/v2/storages", params={"_id": storage_id} if storage_id else None)


def create_storage(
    name: str,
    provider: StorageProvider,
    *,
    public_key: str | None,
    private_key: str | None,
    region: str | None,
    credentials: str | None,
) -> ApiCall:
    body = {
        "name": name,
        "provider": provider,
        "publicKey": public_key,
        "privateKey": private_key,
        "region": region,
        "credentials": credentials,
    }
    secrets = tuple(value for value in (private_key, credentials) if value)
    return ApiCall(
        "POST",
        "/v2/storages/",
        body={key: value for key, value in body.items() if value is not None},
        idempotent=False,
        secrets=secrets,
    )


def delete_storage(storage_id: str) -> ApiCall:
    return ApiCall("DELETE", f"/v2/storages/{segment(storage_id)}")


def list_storage_files(
    storage_id: str, bucket_name: str, path: str, *, get_signed_urls: bool, retry_on_slow_down: bool
) -> ApiCall:
    params = {
        "bucketName": bucket_name,
        "path": path,
        "getSignedUrls": bool_param(get_signed_urls),
        "retryOnSlowDown": bool_param(retry_on_slow_down),
    }
    return ApiCall("GET", f"/v2/storages/{segment(storage_id)}/files", params=params)


def get_metric(project_id: str, metric: Metric) -> ApiCall:
    return ApiCall("GET", f"/v2/{segment(project_id)}/overview/{segment(metric)}")


# -- answer parsing ---------------------------------------------------------------------
def field_of(data: Any, key: str) -> Any:
    """``data[key]`` of an answer, or a clear error naming what was missing."""
    if not isinstance(data, Mapping) or key not in data:
        shape = sorted(data) if isinstance(data, Mapping) else type(data).__name__
        raise ValueError(f"Ango Hub answer has no {key!r} (got {shape})")
    return data[key]


def parse_page(data: Any, key: str, model: type[ModelT], page: int, limit: int) -> Page[ModelT]:
    raw_items = field_of(data, key) or []
    items = [model.model_validate(item) for item in raw_items]
    total = data.get("total")
    return Page[model](  # type: ignore[valid-type]
        items=items, total=int(total) if total is not None else None, page=page, limit=limit
    )
