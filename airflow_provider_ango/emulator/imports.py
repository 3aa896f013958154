"""Adding assets (cloud import, seeding) and pre-labels (label import) to a project.

Imports are all-or-nothing: every item is validated before the first row is written, so a
400 leaves the project untouched.

Re-importing an externalId that already exists creates a second asset: Ango's import
format page says "External IDs do not have to be unique. You can have more than one asset
with the same external ID", and a label import by externalId pre-labels "all assets
sharing the same external ID". The emulator does both.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_ango.emulator.common import bad_request, parse_iso_ms
from airflow_provider_ango.emulator.state import (
    API_USER,
    FLAG_PRELABELED,
    TASK_TYPE_SHIFT,
    TASK_TYPES,
    AssetExtra,
    EmulatorState,
    Project,
)
from airflow_provider_ango.emulator.validation import (
    SchemaIndex,
    normalize_answer,
    raise_if_offenders,
    validate_import_item,
)
from airflow_provider_ango.emulator.views import resolve_batch_ids


def _video_metadata_for_export(metadata: dict[str, Any]) -> dict[str, Any]:
    """The import JSON says ``frameCount``; the export format calls it ``frameTotal``."""
    if "frameCount" in metadata and "frameTotal" not in metadata:
        metadata = {("frameTotal" if key == "frameCount" else key): value for key, value in metadata.items()}
    return metadata


def import_cloud_assets(
    state: EmulatorState,
    project: Project,
    assets: Any,
    query_batch_ids: list[str],
    allow_batch_names: bool = False,
) -> int:
    """Validate then append ``assets`` (the ``assets`` list of POST /v2/project/{id}/cloud)."""
    if not isinstance(assets, list) or not assets:
        raise bad_request("assets must be a non-empty list of {data, externalId} objects")
    schema = SchemaIndex.of(project.category_schema)
    now_ms = state.clock.now_ms()
    entry_stage = project.entry_stage()
    prepared = []
    offenders: list[str] = []
    for position, raw in enumerate(assets):
        item = validate_import_item(raw, position)
        where = f"assets[{position}] (externalId {item.external_id!r})"
        own_batches = [_batch_id(project, value, where, allow_batch_names) for value in item.batch_ids]
        if item.storage is not None and item.storage not in state.storages:
            raise bad_request(
                f"{where}: storage {item.storage!r} is not a storage integration of this organization"
            )
        answer = None
        if item.prelabels is not None:
            answer = normalize_answer(
                item.prelabels, schema, where, offenders, API_USER, now_ms, entry_stage.id
            )
        prepared.append((item, tuple(query_batch_ids + own_batches), answer))
    raise_if_offenders(offenders, "preLabels name schemaIds that are not in the project's category schema")
    for item, batch_ids, answer in prepared:
        extra = None
        if (
            item.metadata
            or item.context_data is not None
            or item.attachments is not None
            or item.storage
            or answer
        ):
            extra = AssetExtra()
            extra.metadata = _video_metadata_for_export(item.metadata) if item.metadata else None
            extra.context_data = item.context_data
            extra.attachments = item.attachments
            extra.storage = item.storage
            if answer is not None:
                extra.answer = extra.prelabel_answer = answer
                extra.updated_by = API_USER
        flags = FLAG_PRELABELED if answer is not None else 0
        project.add_row(item.external_id, item.data, now_ms, entry_stage, batch_ids, flags, extra)
    return len(prepared)


def _batch_id(project: Project, value: str, where: str, allow_names: bool) -> str:
    if allow_names:
        by_name = project.batch_by_name(value)
        if by_name is not None:
            return by_name.id
    if project.batch_by_id(value) is None:
        raise bad_request(f"{where}: batch {value!r} is not a batch id of project {project.id}")
    return value


def parse_query_batches(project: Project, raw: Any) -> list[str]:
    """``?batches=<json list of batch ids>`` of a cloud import."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad_request("Query parameter batches must be a JSON list of batch ids")
    return resolve_batch_ids(project, raw, "batches")


def import_labels(state: EmulatorState, project: Project, items: Any) -> int:
    """POST /v2/import/labels: pre-label every asset sharing each item's externalId."""
    if not isinstance(items, list) or not items:
        raise bad_request("jsonContent must be a non-empty list of {externalId, tools/objects, ...} objects")
    schema = SchemaIndex.of(project.category_schema)
    now_ms = state.clock.now_ms()
    offenders: list[str] = []
    unknown: list[str] = []
    planned: list[tuple[list[int], dict[str, Any]]] = []
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise bad_request(f"jsonContent[{position}] must be an object")
        external_id = item.get("externalId")
        if not isinstance(external_id, str) or not external_id:
            raise bad_request(f"jsonContent[{position}] has no externalId")
        where = f"jsonContent[{position}] (externalId {external_id!r})"
        rows = project.rows_for_external_id(external_id)
        if not rows:
            unknown.append(external_id)
            continue
        stage_id = project.stage_at(rows[0]).id
        answer = normalize_answer(item, schema, where, offenders, API_USER, now_ms, stage_id)
        planned.append((rows, answer))
    raise_if_offenders(offenders, "Annotations name schemaIds that are not in the project's category schema")
    raise_if_offenders([repr(name) for name in unknown], "No asset in this project has externalId")
    labelled = 0
    for rows, answer in planned:
        for row in rows:
            extra = project.extras_of(row)
            extra.answer = extra.prelabel_answer = answer
            extra.updated_by = API_USER
            project.flags[row] |= FLAG_PRELABELED
            project.updated[row] = now_ms
            labelled += 1
    return labelled


def seed_synthetic(state: EmulatorState, project: Project, spec: Any) -> int:
    """``{"count", "stage"?, "batch"?, "externalIdPrefix"?, "createdAt"?, "updatedAt"?, ...}``."""
    if not isinstance(spec, dict):
        raise bad_request("syntheticAssets must be an object with a count")
    count = spec.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise bad_request("syntheticAssets.count must be a positive integer")
    stage = project.find_stage(spec.get("stage", project.entry_stage().name))
    if stage is None:
        raise bad_request(f"syntheticAssets.stage: unknown stage; stages: {', '.join(project.stage_names())}")
    batch_ids: tuple[str, ...] = ()
    batch_name = spec.get("batch")
    if batch_name is not None:
        batch = project.batch_by_name(batch_name) or project.batch_by_id(batch_name)
        if batch is None:
            raise bad_request(f"syntheticAssets.batch {batch_name!r} is not a batch of the project")
        batch_ids = (batch.id,)
    created_ms = parse_iso_ms(spec["createdAt"], "createdAt") if "createdAt" in spec else state.clock.now_ms()
    updated_ms = parse_iso_ms(spec["updatedAt"], "updatedAt") if "updatedAt" in spec else created_ms
    task_type = spec.get("taskType", "default")
    if task_type not in TASK_TYPES:
        raise bad_request(f"syntheticAssets.taskType must be one of {list(TASK_TYPES)}")
    prefix = spec.get("externalIdPrefix", "synthetic-")
    if not isinstance(prefix, str):
        raise bad_request("syntheticAssets.externalIdPrefix must be a string")
    flags = TASK_TYPES.index(task_type) << TASK_TYPE_SHIFT
    project.add_synthetic_rows(count, prefix, created_ms, updated_ms, stage, batch_ids, flags)
    return count


def seed_numbered_assets(state: EmulatorState, project: Project, count: int) -> int:
    """``"assets": N`` in a seed: N small real assets ``asset-00001`` ... in the entry stage."""
    start = len(project)
    items = [
        {
            "data": f"https://assets.emulator.invalid/seed/asset-{number:05d}.jpg",
            "externalId": f"asset-{number:05d}",
        }
        for number in range(start + 1, start + count + 1)
    ]
    return import_cloud_assets(state, project, items, [])
