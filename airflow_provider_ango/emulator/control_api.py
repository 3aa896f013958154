"""The control API under ``/_emulator/``: seed, act, faults, request log, clock, reset.

No apikey; plain JSON in and out (no Ango envelope); never faulted, never logged.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson

from airflow_provider_ango.emulator.common import bad_request, format_ms, parse_iso_us, require_hex24
from airflow_provider_ango.emulator.core import Core, Request, Router
from airflow_provider_ango.emulator.imports import import_cloud_assets, seed_numbered_assets, seed_synthetic
from airflow_provider_ango.emulator.state import DEFAULT_WORKFLOW, PATH_STAGE_TYPES, Batch
from airflow_provider_ango.emulator.validation import validate_category_schema
from airflow_provider_ango.emulator.views import project_json
from airflow_provider_ango.emulator.workflow import act

control = Router()
ID = "([^/]+)"
SEED_KEYS = frozenset(
    {
        "name",
        "description",
        "type",
        "categorySchema",
        "batches",
        "workflow",
        "consensusCount",
        "assets",
        "syntheticAssets",
    }
)


@control.add("GET", "/_emulator/health")
def health(core: Core, request: Request) -> dict[str, Any]:
    return {"ok": True, "url": core.base_url}


@control.add("POST", "/_emulator/reset")
def reset(core: Core, request: Request) -> dict[str, Any]:
    core.state.reset()
    core.faults.clear()
    core.log.clear()
    core.files.clear()
    return {"reset": True}


def _workflow(body: dict[str, Any]) -> list[str]:
    workflow = body.get("workflow", list(DEFAULT_WORKFLOW))
    if (
        not isinstance(workflow, list)
        or not workflow
        or any(stage not in PATH_STAGE_TYPES for stage in workflow)
        or len(set(workflow)) != len(workflow)
    ):
        raise bad_request(f"workflow must be a list of distinct stages from {', '.join(PATH_STAGE_TYPES)}")
    if workflow[0] not in ("Label", "Consensus"):
        raise bad_request("workflow must start with Label or Consensus")
    return workflow


@control.add("POST", "/_emulator/projects")
def seed_project(core: Core, request: Request) -> dict[str, Any]:
    body = request.json_object()
    unknown = sorted(set(body) - SEED_KEYS)
    if unknown:
        raise bad_request(f"Unknown seed keys: {', '.join(unknown)}; use {', '.join(sorted(SEED_KEYS))}")
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise bad_request("name is required")
    consensus_count = body.get("consensusCount", 2)
    if not isinstance(consensus_count, int) or isinstance(consensus_count, bool) or consensus_count < 1:
        raise bad_request("consensusCount must be an integer >= 1")
    schema = (
        validate_category_schema(body["categorySchema"]) if body.get("categorySchema") is not None else None
    )
    batch_names = body.get("batches") or []
    if not isinstance(batch_names, list) or not all(isinstance(item, str) and item for item in batch_names):
        raise bad_request("batches must be a list of batch names")
    project_type = body.get("type", "ango")
    if project_type not in ("ango", "pct", "iframe"):
        raise bad_request("type must be one of ango, pct, iframe")
    synthetic = body.get("syntheticAssets")
    synthetic_specs = synthetic if isinstance(synthetic, list) else ([] if synthetic is None else [synthetic])
    project = core.state.create_project(
        name,
        str(body.get("description", "")),
        project_type,
        _workflow(body),
        consensus_count,
    )
    try:
        with core.state.lock:
            if schema is not None:
                project.category_schema = schema
            project.batches = [Batch(core.state.new_id(0xBA), batch_name) for batch_name in batch_names]
            assets = body.get("assets")
            if isinstance(assets, int) and not isinstance(assets, bool):
                if assets < 0:
                    raise bad_request("assets must be >= 0")
                if assets:
                    seed_numbered_assets(core.state, project, assets)
            elif isinstance(assets, list):
                import_cloud_assets(core.state, project, assets, [], allow_batch_names=True)
            elif assets is not None:
                raise bad_request("assets must be a number or a list of import items")
            for spec in synthetic_specs:
                seed_synthetic(core.state, project, spec)
            result = project_json(project)
            result["assetCount"] = len(project)
            return result
    except Exception:
        # A seed that fails leaves no half-made project behind.
        with core.state.lock:
            core.state.projects.pop(project.id, None)
            core.state.projects_by_number.pop(project.number, None)
        raise


@control.add("POST", f"/_emulator/projects/{ID}/act")
def act_on_project(core: Core, request: Request, project_id: str) -> dict[str, Any]:
    body = request.json_object()
    with core.state.lock:
        return act(core.state, core.state.project(project_id), body)


@control.add("GET", f"/_emulator/projects/{ID}/counts")
def counts(core: Core, request: Request, project_id: str) -> dict[str, Any]:
    with core.state.lock:
        project = core.state.project(project_id)
        per_stage = Counter(project.stage_of)
        duplicates = {
            external_id: len(rows)
            for external_id, rows in project.ext_index.items()
            if isinstance(rows, list)
        }
        per_batch = Counter(batch_id for refs in project.batch_refs for batch_id in refs)
        names = {batch.id: batch.name for batch in project.batches}
        return {
            "assets": len(project),
            "tasks": len(project),
            "distinctExternalIds": len(project.ext_index),
            "duplicateExternalIds": duplicates,
            "stages": {stage.name: per_stage.get(stage.index, 0) for stage in project.stages},
            "batches": {names.get(batch_id, batch_id): count for batch_id, count in per_batch.items()},
            "preLabeled": sum(1 for flag in project.flags if flag & 1),
        }


@control.add("POST", "/_emulator/faults")
def add_fault(core: Core, request: Request) -> dict[str, Any]:
    return core.faults.add(request.body).to_json()


@control.add("GET", "/_emulator/faults")
def list_faults(core: Core, request: Request) -> dict[str, Any]:
    return {"faults": core.faults.list()}


@control.add("DELETE", "/_emulator/faults")
def clear_faults(core: Core, request: Request) -> dict[str, Any]:
    core.faults.clear()
    return {"cleared": True}


@control.add("GET", "/_emulator/requests")
def list_requests(core: Core, request: Request) -> dict[str, Any]:
    since_text = request.param("since")
    since = None
    if since_text is not None:
        if not since_text.isdigit():
            raise bad_request("since must be a request sequence number")
        since = int(since_text)
    entries = core.log.entries(since, request.param("pathPattern"))
    return {"requests": [_public_entry(entry) for entry in entries]}


def _public_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """Bodies are kept raw (cheap) and parsed only when the log is read."""
    public = {key: value for key, value in entry.items() if key != "rawBody"}
    raw = entry.get("rawBody") or b""
    public["body"] = None
    if raw:
        try:
            public["body"] = orjson.loads(raw)
        except ValueError:
            public["bodyText"] = raw[:2000].decode("utf-8", "replace")
    return public


@control.add("DELETE", "/_emulator/requests")
def clear_requests(core: Core, request: Request) -> dict[str, Any]:
    core.log.clear()
    return {"cleared": True}


@control.add("GET", "/_emulator/clock")
def get_clock(core: Core, request: Request) -> dict[str, Any]:
    clock = core.state.clock
    return {"now": format_ms(clock.now_ms()), "offsetSeconds": clock.offset_seconds}


@control.add("POST", "/_emulator/clock")
def move_clock(core: Core, request: Request) -> dict[str, Any]:
    """``{"advance": seconds}`` or ``{"set": iso-time}``: shifts the emulator's clock."""
    body = request.json_object()
    clock = core.state.clock
    if "advance" in body:
        advance = body["advance"]
        if not isinstance(advance, (int, float)) or isinstance(advance, bool):
            raise bad_request("advance must be a number of seconds")
        clock.offset_seconds += float(advance)
    elif "set" in body:
        target = parse_iso_us(body["set"], "set") / 1_000_000
        clock.offset_seconds += target - clock.now()
    else:
        raise bad_request('Body must be {"advance": seconds} or {"set": iso-time}')
    return get_clock(core, request)


@control.add("POST", "/_emulator/config")
def configure(core: Core, request: Request) -> dict[str, Any]:
    body = request.json_object()
    if "urlExpirySeconds" in body:
        expiry = body["urlExpirySeconds"]
        if not isinstance(expiry, (int, float)) or isinstance(expiry, bool) or expiry < 0:
            raise bad_request("urlExpirySeconds must be a number >= 0")
        core.state.url_expiry_seconds = float(expiry)
    return {"urlExpirySeconds": core.state.url_expiry_seconds}


@control.add("POST", f"/_emulator/storages/{ID}/files")
def add_storage_files(core: Core, request: Request, storage_id: str) -> dict[str, Any]:
    """Files that GET /v2/storages/{id}/files will list: ``{"bucketName", "keys": [...]}``."""
    require_hex24(storage_id, "storage id")
    body = request.json_object()
    bucket = body.get("bucketName")
    keys = body.get("keys")
    if not isinstance(bucket, str) or not bucket:
        raise bad_request("bucketName is required")
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        raise bad_request("keys must be a list of object keys")
    with core.state.lock:
        if storage_id not in core.state.storages:
            raise bad_request(f"Storage not found: {storage_id}")
        listed = core.state.storage_files.setdefault(storage_id, {}).setdefault(bucket, [])
        listed.extend(keys)
        return {"bucketName": bucket, "count": len(listed)}
