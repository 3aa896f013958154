"""Adding assets to a project: the cloud import and the control API's seeds.

Imports are all-or-nothing: every item is validated before the first row is written, so a
400 leaves the project untouched.

Re-importing an externalId that already exists creates a second asset: Ango's import
format page says "External IDs do not have to be unique. You can have more than one asset
with the same external ID". Batch references are read as the ``batch_refs`` setting says:
batch ids (the SDK sends them) or batch names (the REST documentation); an unknown one is a
400 naming it, never a batch created on the fly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airflow_provider_ango.emulator.common import bad_request, parse_iso_ms
from airflow_provider_ango.emulator.filters import resolve_batch_ids, resolve_batch_names
from airflow_provider_ango.emulator.project import (
    API_USER,
    FLAG_PRELABELED,
    TASK_TYPE_SHIFT,
    TASK_TYPES,
    AssetExtra,
    Project,
)
from airflow_provider_ango.emulator.state import EmulatorState
from airflow_provider_ango.emulator.validation import (
    AnswerContext,
    SchemaIndex,
    normalize_answer,
    validate_import_item,
)


def _video_metadata_for_export(metadata: dict[str, Any]) -> dict[str, Any]:
    """The import JSON says ``frameCount``; the export format calls it ``frameTotal``."""
    if "frameCount" in metadata and "frameTotal" not in metadata:
        metadata = {("frameTotal" if key == "frameCount" else key): value for key, value in metadata.items()}
    return metadata


BatchReader = Callable[[list[str], str], list[str]]


def batch_reader(project: Project, reading: str) -> BatchReader:
    """How a cloud import's batch references are read: ``ids``, ``names``, or ``either`` (seeds)."""

    def read(values: list[str], where: str) -> list[str]:
        if reading == "ids":
            return resolve_batch_ids(project, values, where)
        if reading == "names":
            return resolve_batch_names(project, values, where)
        return [
            by_name.id
            if (by_name := project.batch_by_name(value))
            else resolve_batch_ids(project, [value], where)[0]
            for value in values
        ]

    return read


@dataclass(frozen=True)
class ImportReceipt:
    assets_created: int
    prelabels: int
    valid_prelabels: int


def import_cloud_assets(
    state: EmulatorState,
    project: Project,
    assets: Any,
    query_batch_ids: list[str],
    read_batches: BatchReader,
) -> ImportReceipt:
    """Validate then append ``assets`` (the ``assets`` list of POST /v2/project/{id}/cloud)."""
    if not isinstance(assets, list) or not assets:
        raise bad_request("assets must be a non-empty list of {data, externalId} objects")
    context = AnswerContext(SchemaIndex.of(project.category_schema), API_USER, state.clock.now_ms())
    now_ms = context.at_ms
    entry_stage = project.entry_stage()
    prepared = []
    for position, raw in enumerate(assets):
        item = validate_import_item(raw, position)
        where = f"assets[{position}] (externalId {item.external_id!r})"
        own_batches = read_batches(item.batch_ids, f"{where} batches") if item.batch_ids else []
        if item.storage is not None and item.storage not in state.storages:
            raise bad_request(
                f"{where}: storage {item.storage!r} is not a storage integration of this organization"
            )
        answer = None
        if item.prelabels is not None:
            answer = normalize_answer(item.prelabels, context, where, entry_stage.id)
        prepared.append((item, tuple(query_batch_ids + own_batches), answer))
    context.raise_if_offenders("preLabels name schemaIds that are not in the project's category schema")
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
    prelabels = sum(1 for _, _, answer in prepared if answer is not None)
    return ImportReceipt(len(prepared), prelabels, prelabels)


def parse_query_batches(raw: Any, read_batches: BatchReader) -> list[str]:
    """``?batches=<JSON list>`` of a cloud import, read as ids or names (``batch_refs``)."""
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise bad_request("Query parameter batches must be a JSON list of batch references")
    return read_batches(raw, "Query parameter batches")


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
    return import_cloud_assets(state, project, items, [], batch_reader(project, "either")).assets_created
