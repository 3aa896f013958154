"""Ango Hub endpoints as :class:`ApiCall` builders, plus parsers of their answers. No I/O.

One function per endpoint the provider uses, so the sync and async hook methods send
byte-identical requests and the paths, query parameters and bodies live in one place.
``idempotent=False`` marks the writes that must never be re-sent blindly.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, TypeVar
from urllib.parse import quote

from pydantic import BaseModel

from airflow_provider_ango.exceptions import AngoApiError, AngoExportError
from airflow_provider_ango.hooks.ango.paging import STABLE_SORT, page_size
from airflow_provider_ango.hooks.ango.transport import ApiCall
from airflow_provider_ango.models.api import ImportChunkReceipt, Page, Project
from airflow_provider_ango.models.export import ExportOptions, SignedUrl
from airflow_provider_ango.models.filters import AssetFilter, TaskFilter

ModelT = TypeVar("ModelT", bound=BaseModel)
ItemT = TypeVar("ItemT")
ImportItem = Mapping[str, Any] | BaseModel
TaskFilterArg = TaskFilter | Mapping[str, Any] | None
AssetFilterArg = AssetFilter | Mapping[str, Any] | None

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
    # Compact JSON: what Ango parses, and the shortest query string.
    return json.dumps(value, separators=(",", ":"))


def bool_param(value: bool) -> str:
    # Ango reads the strings "true"/"false"; Python's str(True) would send "True".
    return "true" if value else "false"


# -- projects ---------------------------------------------------------------------------
def get_project(project_id: str) -> ApiCall:
    return ApiCall("GET", f"/v2/project/{segment(project_id)}")


def _paging(page: int, limit: int, sort: str | None) -> dict[str, str]:
    # At most 100 a page (the REST documentation's cap) and an explicit, stable order.
    params = {"page": str(page), "limit": str(page_size(limit))}
    if sort:
        params["sort"] = sort
    return params


def list_projects(page: int, limit: int, sort: str | None = STABLE_SORT) -> ApiCall:
    return ApiCall("GET", "/v2/listProjects", params=_paging(page, limit, sort))


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


def create_batch(
    project_id: str, name: str, reading: str = "sdk", existing: Sequence[Mapping[str, str]] = ()
) -> ApiCall:
    """One new batch. The SDK sends ``{"name"}``; the REST documentation requires ``{"batches": [...]}``
    and says it "updates batch definitions" (perhaps the whole list), so under ``rest`` the body
    lists every ``existing`` batch (``_id`` and name) and the new one: right under either semantics."""
    if reading == "rest":
        listed = [{"_id": batch["_id"], "name": batch["name"]} for batch in existing]
        body: dict[str, Any] = {"batches": [*listed, {"name": name}]}
    else:
        body = {"name": name}
    # Not idempotent by itself (a second send may add a second batch of that name); the hook
    # re-reads the project's batches before any re-send.
    return ApiCall("POST", f"/v2/batches/{segment(project_id)}", body=body, idempotent=False)


# -- assets and tasks -------------------------------------------------------------------
def list_assets(
    project_id: str, page: int, limit: int, filters: AssetFilterArg, sort: str | None = STABLE_SORT
) -> ApiCall:
    body = filters.to_api() if isinstance(filters, AssetFilter) else dict(filters or {})
    params = {**_paging(page, limit, sort), "filters": json_param(body)}
    return ApiCall("GET", f"/v2/project/{segment(project_id)}/assets", params=params)


def list_tasks(
    project_id: str,
    page: int,
    limit: int,
    task_filter: TaskFilterArg,
    *,
    include_answer: bool = False,
    sort: str | None = STABLE_SORT,
    fields: Sequence[str] | str | None = None,
) -> ApiCall:
    body = task_filter.to_api() if isinstance(task_filter, TaskFilter) else dict(task_filter or {})
    query = json_param(body)
    # The SDK sends ``filter``, the REST documentation names ``filters``: both, so either reads it.
    params = {**_paging(page, limit, sort), "includeAnswer": bool_param(include_answer)}
    params.update({"filter": query, "filters": query})
    if fields:
        params["fields"] = fields if isinstance(fields, str) else ",".join(fields)
    return ApiCall("GET", f"/v2/project/{segment(project_id)}/tasks", params=params)


def delete_assets(project_id: str, asset_ids: Sequence[str]) -> ApiCall:
    """The SDK's ``delete_assets``: ``DELETE /v2/project/{id}/assets`` with ``{"assets": [asset ids]}``."""
    if not asset_ids:
        raise ValueError("delete_assets needs at least one asset id")
    # Not re-sent blindly: a second send after a first one went through unseen names assets that
    # are gone; the caller looks again instead.
    return ApiCall(
        "DELETE",
        f"/v2/project/{segment(project_id)}/assets",
        body={"assets": list(asset_ids)},
        idempotent=False,
    )


def get_task(task_id: str, include_answer: bool) -> ApiCall:
    return ApiCall(
        "GET", f"/v2/task/{segment(task_id)}", params={"includeAnswer": bool_param(include_answer)}
    )


def get_task_history(task_id: str) -> ApiCall:
    return ApiCall("GET", f"/v2/task/{segment(task_id)}/history")


def import_cloud_assets(
    project_id: str, assets: list[dict[str, Any]], batch_refs: Sequence[str] | None
) -> ApiCall:
    """A chunk of cloud assets; ``batch_refs`` (ids or names, as the connection's ``batch_refs``
    reading says: the SDK sends ids, the REST documentation names) join every asset."""
    params = {"batches": json_param(list(batch_refs))} if batch_refs else None
    body = {"assets": assets, "uploadLocal": None, "priority": 0}
    # A second send imports every asset of the chunk again, as duplicates.
    return ApiCall(
        "POST", f"/v2/project/{segment(project_id)}/cloud", params=params, body=body, idempotent=False
    )


def import_labels(project_id: str, items: list[dict[str, Any]], reading: str = "sdk") -> ApiCall:
    """Pre-labels in the Ango Import Format (``jsonContent``, the SDK's) or, under ``rest``, as the
    REST documentation's ``labels`` with the annotations nested in ``answer``."""
    if reading == "rest":
        body: dict[str, Any] = {"project": project_id, "labels": [_label(item) for item in items]}
    else:
        body = {"project": project_id, "jsonContent": items}
    return ApiCall("POST", "/v2/import/labels", body=body, idempotent=False)


_ANSWER_KEYS = ("objects", "tools", "classifications", "relations")


def _label(item: Mapping[str, Any]) -> dict[str, Any]:
    label = {key: value for key, value in item.items() if key not in _ANSWER_KEYS}
    answer = {key: item[key] for key in _ANSWER_KEYS if key in item}
    if "tools" in answer and "objects" not in answer:
        answer["objects"] = answer.pop("tools")  # the REST form names them objects
    label["answer"] = answer
    return label


def requeue_selection(
    task_ids: Sequence[str],
    external_ids: Sequence[str],
    asset_ids: Sequence[str],
    from_stage_ids: Sequence[str],
) -> dict[str, list[str]]:
    """The requeue ``filters``: only the selectors given (they combine with AND; an empty list would
    match nothing), and never none at all, which the REST documentation says requeues every task."""
    selectors = {
        "taskIds": list(task_ids),
        "externalIds": list(external_ids),
        "assetIds": list(asset_ids),
        "fromStageIds": list(from_stage_ids),
    }
    filters = {key: values for key, values in selectors.items() if values}
    if not filters:
        raise ValueError("requeue_tasks needs task_ids, external_ids, asset_ids or from_stage_ids")
    return filters


def requeue_tasks(
    project_id: str, to_stage_id: str, filters: Mapping[str, list[str]], options: Mapping[str, bool]
) -> ApiCall:
    body = {"toStageId": to_stage_id, "filters": dict(filters), "options": dict(options)}
    # Moving tasks twice can wipe work done between the two sends.
    return ApiCall("POST", f"/v2/project/{segment(project_id)}/requeueTasks", body=body, idempotent=False)


# -- export, storages, metrics ------------------------------------------------------------
def request_export(project_id: str, options: ExportOptions, reading: str = "sdk") -> ApiCall:
    return ApiCall("GET", "/v2/export", params=export_query(project_id, options, reading))


def export_query(project_id: str, options: ExportOptions, reading: str = "sdk") -> dict[str, str]:
    """The query string of the export call, in the order Ango documents it.

    ``batches`` is a JSON list for the SDK and comma-separated in the REST documentation.
    """
    params: dict[str, str] = {
        "project": project_id,
        "format": options.format,
        "type": options.export_type,
        "stage": json_param(options.stages),
    }
    if options.batches is not None:
        batches = options.batches
        params["batches"] = ",".join(batches) if reading == "rest" else json_param(batches)
    if options.task_types is not None:
        params["taskTypes"] = json_param(options.task_types)
    switches = {
        "includeMetadata": options.include_metadata,
        "includeHistory": options.include_history,
        "includeOnlyKeyFrames": options.include_only_key_frames,
        "includeIdleBlurDurations": options.include_idle_blur_durations,
        "sendEmail": options.send_email,
        "doNotNotify": options.do_not_notify,
    }
    params.update({name: bool_param(value) for name, value in switches.items()})
    if options.updated_at is not None:
        params["updatedAt"] = json_param(options.updated_at.to_api())
    if options.created_at is not None:
        params["createdAt"] = json_param(options.created_at.to_api())
    return params


def list_storages(storage_id: str | None, page: int = 1, limit: int = 100) -> ApiCall:
    # Paged in the REST documentation (10 a page by default), a plain list in the SDK: asking for
    # pages of 100 reads both.
    params = _paging(page, limit, STABLE_SORT)
    if storage_id:
        params["_id"] = storage_id
    return ApiCall("GET", "/v2/storages", params=params)


_STORAGE_TYPES = {"AWS": "aws", "GCP": "gcs", "AZURE": "azure"}


def create_storage(
    name: str,
    provider: StorageProvider,
    *,
    public_key: str | None,
    private_key: str | None,
    region: str | None,
    credentials: str | None,
    bucket: str | None = None,
    reading: str = "sdk",
) -> ApiCall:
    """A storage integration: the SDK's ``provider/publicKey/privateKey`` body or, under ``rest``, the
    REST documentation's ``type/bucket/credentials`` (``bucket`` is then required)."""
    body: dict[str, Any]
    if reading == "rest":
        if not bucket:
            raise ValueError("create_storage needs the bucket (or container) name under api_reading='rest'")
        keys: Any = credentials
        if provider == "AWS":
            keys = {"accessKeyId": public_key, "secretAccessKey": private_key}
        body = {"name": name, "type": _STORAGE_TYPES[provider], "bucket": bucket, "region": region}
        body["credentials"] = keys
    else:
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


# -- import payloads ----------------------------------------------------------------------
def chunked(items: Iterable[ItemT], size: int) -> Iterator[list[ItemT]]:
    """Lists of up to ``size`` items pulled lazily from ``items``: one chunk in memory at a time."""
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, got {size}")
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def import_item_payload(item: ImportItem, kind: str, position: int) -> dict[str, Any]:
    """The JSON object of one import item; refuses an item without ``externalId`` up front."""
    if isinstance(item, BaseModel):
        payload = item.model_dump(by_alias=True, exclude_none=True, mode="json")
    else:
        payload = dict(item)
    if not payload.get("externalId"):
        raise ValueError(
            f"{kind} #{position} has no externalId; every {kind} needs one (got {str(payload)[:200]})"
        )
    return payload


def import_payloads(
    items: Iterable[ImportItem], chunk_size: int, kind: str
) -> Iterator[list[dict[str, Any]]]:
    """The JSON bodies' item lists, ``chunk_size`` items each, numbered across chunks for errors."""
    position = itertools.count()
    for chunk in chunked(items, chunk_size):
        yield [import_item_payload(item, kind, next(position)) for item in chunk]


def receipt(index: int, payload: list[dict[str, Any]], data: Any) -> ImportChunkReceipt:
    return ImportChunkReceipt(
        chunk_index=index,
        item_count=len(payload),
        first_external_id=payload[0].get("externalId"),
        last_external_id=payload[-1].get("externalId"),
        response=data,
    )


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


def total_of(page: Page[Any]) -> int:
    if page.total is None:
        raise AngoApiError(None, "GET", "-", "Ango Hub answered without 'total'; cannot count")
    return page.total


def signed_url(data: Any) -> SignedUrl:
    export_path = data.get("exportPath") if isinstance(data, Mapping) else None
    if not isinstance(export_path, str) or not export_path:
        raise AngoExportError(200, "GET", "/v2/export", "the export answer has no exportPath")
    return SignedUrl(export_path)


def batches_of_answer(project_id: str, data: Any) -> dict[str, str]:
    """Batch name -> id from a create-batch answer (empty when the answer does not list them)."""
    project = data.get("project") if isinstance(data, Mapping) else None
    batches = project.get("batches") if isinstance(project, Mapping) else None
    listed = Project.model_validate({"_id": project_id, "name": "", "batches": batches or []})
    return listed.batch_ids_by_name()
