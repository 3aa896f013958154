"""The control API's seeds and actors: projects, assets inserted or deleted meanwhile, labelers.

Part of the ``/_emulator/`` control API (see :mod:`control_api`): no apikey, plain JSON.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from airflow_provider_ango.emulator.common import KIND_ASSET, bad_request, require_hex24
from airflow_provider_ango.emulator.core import Core, Request, Router
from airflow_provider_ango.emulator.imports import (
    batch_reader,
    import_cloud_assets,
    seed_numbered_assets,
    seed_synthetic,
)
from airflow_provider_ango.emulator.project import DEFAULT_WORKFLOW, PATH_STAGE_TYPES, Batch
from airflow_provider_ango.emulator.validation import validate_category_schema
from airflow_provider_ango.emulator.views import project_json
from airflow_provider_ango.emulator.workflow import act

routes = Router()
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


@routes.add("POST", "/_emulator/projects")
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
                import_cloud_assets(core.state, project, assets, [], batch_reader(project, "either"))
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


@routes.add("POST", f"/_emulator/projects/{ID}/act")
def act_on_project(core: Core, request: Request, project_id: str) -> dict[str, Any]:
    body = request.json_object()
    with core.state.lock:
        return act(core.state, core.state.project(project_id), body)


@routes.add("GET", f"/_emulator/projects/{ID}/counts")
def counts(core: Core, request: Request, project_id: str) -> dict[str, Any]:
    """Live assets per stage and batch, externalIds present more than once, and deletions."""
    with core.state.lock:
        project = core.state.project(project_id)
        live = project.live
        per_stage = Counter(project.stage_of[row] for row in live)
        duplicates = {
            external_id: len(rows)
            for external_id, rows in project.ext_index.items()
            if isinstance(rows, list)
        }
        names = {batch.id: batch.name for batch in project.batches}
        return {
            "assets": len(live),
            "tasks": len(live),
            "deleted": len(project) - len(live),
            "distinctExternalIds": len(project.ext_index),
            "duplicateExternalIds": duplicates,
            "stages": {stage.name: per_stage.get(stage.index, 0) for stage in project.stages},
            "batches": {
                names.get(batch_id, batch_id): len(rows)
                for batch_id, rows in project.batch_index.items()
                if rows
            },
            "preLabeled": sum(1 for row in live if project.flags[row] & 1),
        }


@routes.add("POST", f"/_emulator/projects/{ID}/assets")
def insert_assets(core: Core, request: Request, project_id: str) -> dict[str, Any]:
    """Add assets as another writer would, meanwhile: ``{"assets": [import items]}`` (batches by
    name or id), or ``{"count": N, "externalIdPrefix"?}`` for N bare ones; never rate limited."""
    body = request.json_object()
    with core.state.lock:
        project = core.state.project(project_id)
        first = len(project)
        if "count" in body:
            seed_synthetic(core.state, project, body)
        else:
            read = batch_reader(project, "either")
            import_cloud_assets(core.state, project, body.get("assets"), [], read)
        return {
            "assetIds": [project.asset_id(row) for row in range(first, len(project))],
            "assetCount": len(project.live),
        }


@routes.add("DELETE", f"/_emulator/projects/{ID}/assets")
def delete_assets(core: Core, request: Request, project_id: str) -> dict[str, Any]:
    """Soft-delete assets (and their tasks) meanwhile: ``{"externalIds": [...]}`` (every asset of
    each) and/or ``{"assetIds": [...]}``; an unknown one is a 400 and nothing is deleted."""
    body = request.json_object()
    external_ids = body.get("externalIds", [])
    asset_ids = body.get("assetIds", [])
    for key, values in (("externalIds", external_ids), ("assetIds", asset_ids)):
        if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
            raise bad_request(f"{key} must be a list of strings")
    if not external_ids and not asset_ids:
        raise bad_request("Name the assets to delete with externalIds and/or assetIds")
    with core.state.lock:
        project = core.state.project(project_id)
        rows: set[int] = set()
        unknown = []
        for external_id in external_ids:
            found = project.rows_for_external_id(external_id)
            rows.update(found)
            if not found:
                unknown.append(external_id)
        for asset_id in asset_ids:
            row = project.row_for_id(asset_id, KIND_ASSET)
            if row is None:
                unknown.append(asset_id)
            else:
                rows.add(row)
        if unknown:
            raise bad_request(f"No live asset of project {project_id}: {', '.join(unknown[:20])}")
        for row in rows:
            project.delete_row(row)
        return {"deleted": len(rows), "assetCount": len(project.live)}


@routes.add("POST", f"/_emulator/storages/{ID}/files")
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
