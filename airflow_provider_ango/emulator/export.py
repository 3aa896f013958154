"""GET /v2/export: options, records in Ango's export format, and the streamed zip.

Record shape (seeds: export-format-asset, exporting-annotations): ``asset`` (URL; first
page of a multi-page asset), ``externalId``, ``metadata`` (asset metadata; the import's
``frameCount`` appears as ``frameTotal``), ``batches`` (batch *names*), ``assetId`` and
``dataset`` (multi-page assets only), ``contextData`` (when imported; returned untouched),
and ``task`` {taskId, stage, stageId, updatedAt, updatedBy, totalDuration, tools,
classifications, relations, stageHistory (only with includeHistory)}.

Options, as the emulator reads them:
- booleans must be the strings ``true``/``false`` (400 otherwise); an absent one is false.
  includeMetadata keeps each annotation's ``metadata``; includeHistory adds stageHistory;
  includeOnlyKeyFrames drops tool annotations marked ``"interpolated": true``;
  includeIdleBlurDurations, sendEmail and doNotNotify are validated and otherwise inert.
- ``stage``: JSON list of stage names or ids (default ``["Complete"]``); unknown -> 400.
- ``batches``: JSON list of batch ids of the project; a task matches if it is in any.
- ``taskTypes``: JSON list of default/consensus/benchmark; absent means all.
- ``updatedAt``/``createdAt``: JSON object with $gt/$gte/$lt/$lte, compared exactly.
- ``type=issue``: the emulator has no issues, so the file holds an empty list.

The zip is written record by record through ``ZipFile.open(..., force_zip64=True)`` into a
temporary file; rows are read in chunks under the state lock, so the server's memory does
not grow with the size of the export.
"""

from __future__ import annotations

import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from airflow_provider_ango.emulator.common import bad_request, format_ms, parse_bool_param, parse_json
from airflow_provider_ango.emulator.state import API_USER, TASK_TYPES, EmulatorState, Project
from airflow_provider_ango.emulator.views import (
    EMPTY_ANSWER,
    TimeRange,
    parse_time_range,
    resolve_batch_ids,
    resolve_stage_indexes,
    stage_history,
    without_metadata,
)

FORMATS = ("json", "ndjson")
EXPORT_TYPES = ("task", "issue")
BOOLEAN_OPTIONS = (
    "includeMetadata",
    "includeHistory",
    "includeOnlyKeyFrames",
    "includeIdleBlurDurations",
    "sendEmail",
    "doNotNotify",
)
ROWS_PER_LOCK = 2000  # rows serialised per lock hold, so API calls interleave with an export
COMPRESS_LEVEL = 1  # fast deflate: exports are large and tests are timed


@dataclass(frozen=True)
class ExportOptions:
    format: str
    export_type: str
    stage_indexes: frozenset[int]
    batch_ids: frozenset[str] | None
    task_types: frozenset[str] | None
    updated_at: TimeRange | None
    created_at: TimeRange | None
    include_metadata: bool
    include_history: bool
    include_only_key_frames: bool


def _json_list(raw: str, name: str) -> list[Any]:
    value = parse_json(raw, f"Query parameter {name}")
    if not isinstance(value, list):
        raise bad_request(f"Query parameter {name} must be a JSON list")
    return value


def parse_export_options(project: Project, params: dict[str, str]) -> ExportOptions:
    export_format = params.get("format", "json")
    if export_format not in FORMATS:
        raise bad_request(f"format must be json or ndjson, got {export_format!r}")
    export_type = params.get("type", "task")
    if export_type not in EXPORT_TYPES:
        raise bad_request(f"type must be task or issue, got {export_type!r}")
    flags = {name: parse_bool_param(params.get(name), name, False) for name in BOOLEAN_OPTIONS}
    stages = _json_list(params["stage"], "stage") if "stage" in params else ["Complete"]
    if not stages:
        raise bad_request("stage must name at least one stage")
    stage_indexes = resolve_stage_indexes(project, stages, "stage")
    batch_ids = None
    if "batches" in params:
        batch_ids = frozenset(resolve_batch_ids(project, _json_list(params["batches"], "batches"), "batches"))
    task_types = None
    if "taskTypes" in params:
        listed = _json_list(params["taskTypes"], "taskTypes")
        unknown = [value for value in listed if value not in TASK_TYPES]
        if unknown:
            raise bad_request(f"taskTypes has unknown values {unknown}; use {list(TASK_TYPES)}")
        task_types = frozenset(listed)
    return ExportOptions(
        format=export_format,
        export_type=export_type,
        stage_indexes=frozenset(stage_indexes),
        batch_ids=batch_ids,
        task_types=task_types,
        updated_at=parse_time_range(params["updatedAt"], "updatedAt") if "updatedAt" in params else None,
        created_at=parse_time_range(params["createdAt"], "createdAt") if "createdAt" in params else None,
        include_metadata=flags["includeMetadata"],
        include_history=flags["includeHistory"],
        include_only_key_frames=flags["includeOnlyKeyFrames"],
    )


def row_selected(project: Project, row: int, options: ExportOptions) -> bool:
    if project.stage_of[row] not in options.stage_indexes:
        return False
    if options.batch_ids is not None and options.batch_ids.isdisjoint(project.batch_refs[row]):
        return False
    if options.task_types is not None and project.task_type(row) not in options.task_types:
        return False
    if options.updated_at is not None and not options.updated_at.contains_ms(project.updated[row]):
        return False
    return options.created_at is None or options.created_at.contains_ms(project.created[row])


def export_record(project: Project, row: int, options: ExportOptions) -> dict[str, Any]:
    extra = project.extras.get(row)
    stage = project.stage_at(row)
    data = project.data[row]
    record: dict[str, Any] = {
        "asset": project.data_url(row),
        "externalId": project.ext_ids[row],
        "metadata": dict(extra.metadata) if extra is not None and extra.metadata else {},
        "batches": project.batch_names(project.batch_refs[row]),
    }
    if isinstance(data, list):
        record["assetId"] = project.asset_id(row)
        record["dataset"] = list(data)
    if extra is not None and extra.context_data is not None:
        record["contextData"] = extra.context_data
    answer = (extra.answer if extra is not None else None) or EMPTY_ANSWER
    tools = answer.get("tools", [])
    if options.include_only_key_frames:
        tools = [tool for tool in tools if not tool.get("interpolated")]
    classifications = answer.get("classifications", [])
    relations = answer.get("relations", [])
    if not options.include_metadata:
        tools, classifications, relations = (
            without_metadata(tools),
            without_metadata(classifications),
            without_metadata(relations),
        )
    task: dict[str, Any] = {
        "taskId": project.task_id(row),
        "stage": stage.name,
        "stageId": stage.id,
        "updatedAt": format_ms(project.updated[row]),
        # A task nobody touched yet was last updated by the API user who imported it.
        "updatedBy": (extra.updated_by if extra is not None else None) or API_USER,
        "totalDuration": extra.total_duration if extra is not None else 0,
        "tools": tools,
        "classifications": classifications,
        "relations": relations,
    }
    if options.include_history:
        task["stageHistory"] = stage_history(project, row)
    record["task"] = task
    return record


def write_export(
    state: EmulatorState, project: Project, options: ExportOptions, directory: Path
) -> tuple[Path, int]:
    """Stream the export zip into a new file under ``directory``; (path, record count)."""
    handle = tempfile.NamedTemporaryFile(dir=directory, prefix="export-", suffix=".zip", delete=False)  # noqa: SIM115
    path = Path(handle.name)
    member_name = f"export.{options.format}"
    count = 0
    is_json = options.format == "json"
    with state.lock:
        row_count = len(project)  # rows added while the export runs are not part of it
    try:
        with (
            handle,
            zipfile.ZipFile(
                handle, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL
            ) as archive,
            archive.open(member_name, "w", force_zip64=True) as member,
        ):
            if is_json:
                member.write(b"[")
            if options.export_type == "task":
                for start in range(0, row_count, ROWS_PER_LOCK):
                    with state.lock:
                        chunk = [
                            orjson.dumps(export_record(project, row, options))
                            for row in range(start, min(start + ROWS_PER_LOCK, row_count))
                            if row_selected(project, row, options)
                        ]
                    for encoded in chunk:
                        if is_json:
                            member.write(b"," + encoded if count else encoded)
                        else:
                            member.write(encoded + b"\n")
                        count += 1
            if is_json:
                member.write(b"]")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, count
