"""Storage integrations, the files of their buckets, and the export.

Create storage takes the SDK's form ``{name, provider: AWS|GCP|AZURE, publicKey, privateKey,
region, credentials}`` or the REST documentation's ``{name, type: aws|gcs|azure, bucket,
region?, credentials: {accessKeyId, secretAccessKey}}`` (one of ``provider``/``type``), answers
201, and never echoes a secret. The listing pages like every list (default 10, the page cap,
``sort``); under ``answer_shapes="sdk"`` a request without ``page``/``limit`` gets every storage,
as the SDK reads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_provider_ango.emulator.access import DEFAULT_ORGANIZATION_ID
from airflow_provider_ango.emulator.common import bad_request, format_ms, not_found, require_hex24, required
from airflow_provider_ango.emulator.core import Core, Request, Router
from airflow_provider_ango.emulator.export import parse_export_options, write_export
from airflow_provider_ango.emulator.listing import order_page, page_request

routes = Router()
ID = "([^/]+)"
PROVIDERS = {"AWS": "aws", "GCP": "gcs", "AZURE": "azure"}  # SDK provider -> REST type
TYPES = {value: key for key, value in PROVIDERS.items()}
SECRET_FIELDS = ("privateKey", "credentials")
STORAGE_SORT_KEYS = {
    "createdAt": lambda storage: storage["createdAt"],
    "_id": lambda storage: storage["_id"],
    "name": lambda storage: storage["name"],
}


def _storage_view(storage: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in storage.items() if key not in SECRET_FIELDS and value is not None}


@routes.add("GET", "/v2/storages/?", group="storages")
def list_storages(core: Core, request: Request) -> dict[str, Any]:
    wanted = request.param("_id")
    if wanted is not None:
        require_hex24(wanted, "storage id")
    params = request.single_params()
    unpaged = not core.settings.rest_shapes and "page" not in params and "limit" not in params
    paging = page_request(params, core.settings, STORAGE_SORT_KEYS)
    with core.state.lock:
        storages = [
            storage for storage in core.state.storages.values() if wanted is None or storage["_id"] == wanted
        ]
    chosen = storages if unpaged else order_page(storages, paging, STORAGE_SORT_KEYS)
    return {"storages": [_storage_view(storage) for storage in chosen], "total": len(storages)}


def _optional_string(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise bad_request(f"{key} must be a string")
    return value


def _rest_credentials(storage_type: str, credentials: Any) -> Any:
    if storage_type == "aws":
        keys = ("accessKeyId", "secretAccessKey")
        if not isinstance(credentials, dict) or not all(
            isinstance(credentials.get(key), str) for key in keys
        ):
            raise bad_request("credentials must be {accessKeyId, secretAccessKey} for type aws")
    elif credentials is not None and not isinstance(credentials, (dict, str)):
        raise bad_request(f"credentials must be an object (or a JSON string) for type {storage_type}")
    return credentials


@routes.add("POST", "/v2/storages/?", group="storages", status=201)
def create_storage(core: Core, request: Request) -> dict[str, Any]:
    body = request.json_object()
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise bad_request("name is required (a non-empty string)")
    if ("provider" in body) == ("type" in body):
        raise bad_request("Give provider (AWS, GCP, AZURE) or type (aws, gcs, azure), one of them")
    storage: dict[str, Any] = {"name": name, "region": _optional_string(body, "region")}
    if "provider" in body:
        if body["provider"] not in PROVIDERS:
            raise bad_request(f"provider must be one of {', '.join(PROVIDERS)}, got {body['provider']!r}")
        storage.update(provider=body["provider"], type=PROVIDERS[body["provider"]])
        for key in ("publicKey", "privateKey", "credentials"):
            storage[key] = _optional_string(body, key)
    else:
        if body["type"] not in TYPES:
            raise bad_request(f"type must be one of {', '.join(TYPES)}, got {body['type']!r}")
        bucket = body.get("bucket")
        if not isinstance(bucket, str) or not bucket:
            raise bad_request("bucket is required (the bucket or container name)")
        storage.update(provider=TYPES[body["type"]], type=body["type"], bucket=bucket)
        storage["credentials"] = _rest_credentials(body["type"], body.get("credentials"))
    with core.state.lock:
        storage["_id"] = core.state.new_id(0x5A)
        storage["organization"] = DEFAULT_ORGANIZATION_ID
        storage["createdAt"] = format_ms(core.state.clock.now_ms())
        core.state.storages[storage["_id"]] = storage
    return {"storage": _storage_view(storage)}


@routes.add("DELETE", f"/v2/storages/{ID}", group="storages")
def delete_storage(core: Core, request: Request, storage_id: str) -> dict[str, Any]:
    require_hex24(storage_id, "storage id")
    with core.state.lock:
        if core.state.storages.pop(storage_id, None) is None:
            raise not_found(f"Storage not found: {storage_id}")
        core.state.storage_files.pop(storage_id, None)
    return {"storage": {"_id": storage_id, "deleted": True}}


@routes.add("GET", f"/v2/storages/{ID}/files", group="storages")
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


@routes.add("GET", "/v2/export", group="export")
def export(core: Core, request: Request) -> dict[str, Any]:
    params = request.single_params()
    project_id = required(params, "project", "Query parameter project (the project id)")
    with core.state.lock:
        project = core.state.project(project_id)
        options = parse_export_options(project, params, core.settings.split_part_records)
        expiry = core.state.url_expiry_seconds
    path, _count = write_export(core.state, project, options, core.files.directory)
    return {"exportPath": core.base_url + core.files.publish(Path(path), expiry)}
