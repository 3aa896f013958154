"""GET /v2/export: options, records in Ango's export format, and the streamed zip.

Record shape (seeds: export-format-asset, exporting-annotations): ``asset`` (URL; first
page of a multi-page asset), ``externalId``, ``metadata`` (asset metadata; the import's
``frameCount`` appears as ``frameTotal``), ``batches`` (batch *names*), ``assetId`` and
``dataset`` (multi-page assets only), ``contextData`` (when imported; returned untouched),
and ``task`` {taskId, stage, stageId, updatedAt, updatedBy, totalDuration, tools,
classifications, relations, stageHistory (only with includeHistory)}.

Options, as the emulator reads them:
- ``format``: ``json`` (one array), ``ndjson`` (one record a line) or ``split`` (the REST
  documentation's "NDJSON (Split)": several ``.ndjson`` files of at most ``split_part_records``
  records each, in one zip).
- booleans must be the strings ``true``/``false`` (400 otherwise); an absent one is false, but
  includeAssets (the REST documentation's), which is true when absent.
  includeMetadata keeps each annotation's ``metadata``; includeHistory adds stageHistory;
  includeOnlyKeyFrames drops tool annotations marked ``"interpolated": true``; includeAssets=false
  leaves out the asset URL (``asset``, ``dataset``);
  includeIdleBlurDurations, sendEmail and doNotNotify are validated and otherwise inert.
- ``stage``: JSON list of stage names or ids (default ``["Complete"]``); unknown -> 400.
- ``status``: task statuses (``TODO``, ``Completed``), a JSON list or comma-separated.
- ``batches``: a JSON list of batch ids (the SDK's form) or comma-separated batch ids or names
  (the REST documentation's); a task matches if it is in any.
- ``taskTypes``: JSON list of default/consensus/benchmark; absent means all.
- ``updatedAt``/``createdAt``: JSON object with $gt/$gte/$lt/$lte, compared exactly.
- ``type=issue``: the emulator has no issues, so the file holds an empty list.

Only the rows selected are visited (a batch filter reads the batch index). The zip is written
record by record through ``ZipFile.open(..., force_zip64=True)`` into a
temporary file; rows are read in chunks under the state lock, so the server's memory does
not grow with the size of the export.
"""

from __future__ import annotations

import tempfile
import zipfile
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from airflow_provider_ango.emulator.common import bad_request, format_ms, parse_bool_param, parse_json
from airflow_provider_ango.emulator.filters import (
    TASK_STATUSES,
    TimeRange,
    parse_time_range,
    resolve_batch_ids,
    resolve_batch_names,
    resolve_stage_indexes,
)
from airflow_provider_ango.emulator.project import API_USER, TASK_TYPES, Project
from airflow_provider_ango.emulator.state import EmulatorState
from airflow_provider_ango.emulator.views import EMPTY_ANSWER, stage_history, without_metadata

FORMATS = ("json", "ndjson", "split")
EXPORT_TYPES = ("task", "issue")
BOOLEAN_OPTIONS = (
    "includeMetadata",
    "includeHistory",
    "includeOnlyKeyFrames",
    "includeIdleBlurDurations",
    "sendEmail",
    "doNotNotify",
    "includeAssets",
)
TRUE_WHEN_ABSENT = ("includeAssets",)
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
    include_assets: bool
    statuses: frozenset[str] | None
    part_records: int


def _json_list(raw: str, name: str) -> list[Any]:
    value = parse_json(raw, f"Query parameter {name}")
    if not isinstance(value, list):
        raise bad_request(f"Query parameter {name} must be a JSON list")
    return value


def _listed(raw: str, name: str) -> tuple[list[str], bool]:
    """A JSON list, or comma-separated values; (values, whether it was JSON)."""
    if raw.lstrip().startswith("["):
        values = _json_list(raw, name)
        if not all(isinstance(value, str) for value in values):
            raise bad_request(f"Query parameter {name} must list strings")
        return values, True
    return [value.strip() for value in raw.split(",") if value.strip()], False


def _export_batches(project: Project, raw: str) -> frozenset[str]:
    values, is_json = _listed(raw, "batches")
    if is_json:
        return frozenset(resolve_batch_ids(project, values, "batches"))
    ids = [
        value
        if project.batch_by_id(value) is not None
        else resolve_batch_names(project, [value], "batches")[0]
        for value in values
    ]
    return frozenset(ids)


def parse_export_options(project: Project, params: dict[str, str], part_records: int) -> ExportOptions:
    export_format = params.get("format", "json")
    if export_format not in FORMATS:
        raise bad_request(f"format must be one of {', '.join(FORMATS)}, got {export_format!r}")
    export_type = params.get("type", "task")
    if export_type not in EXPORT_TYPES:
        raise bad_request(f"type must be task or issue, got {export_type!r}")
    flags = {
        name: parse_bool_param(params.get(name), name, name in TRUE_WHEN_ABSENT) for name in BOOLEAN_OPTIONS
    }
    stages = _json_list(params["stage"], "stage") if "stage" in params else ["Complete"]
    if not stages:
        raise bad_request("stage must name at least one stage")
    stage_indexes = resolve_stage_indexes(project, stages, "stage")
    batch_ids = _export_batches(project, params["batches"]) if "batches" in params else None
    task_types = None
    if "taskTypes" in params:
        listed = _json_list(params["taskTypes"], "taskTypes")
        unknown = [value for value in listed if value not in TASK_TYPES]
        if unknown:
            raise bad_request(f"taskTypes has unknown values {unknown}; use {list(TASK_TYPES)}")
        task_types = frozenset(listed)
    statuses = None
    if "status" in params:
        statuses = frozenset(_listed(params["status"], "status")[0])
        if statuses - set(TASK_STATUSES):
            raise bad_request(
                f"status has unknown values {sorted(statuses - set(TASK_STATUSES))}; "
                f"use {list(TASK_STATUSES)}"
            )
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
        include_assets=flags["includeAssets"],
        statuses=statuses,
        part_records=part_records,
    )


def row_selected(project: Project, row: int, options: ExportOptions) -> bool:
    if project.deleted[row] or project.stage_of[row] not in options.stage_indexes:
        return False
    if options.batch_ids is not None and options.batch_ids.isdisjoint(project.batch_refs[row]):
        return False
    if options.task_types is not None and project.task_type(row) not in options.task_types:
        return False
    if options.statuses is not None and project.task_status(row) not in options.statuses:
        return False
    if options.updated_at is not None and not options.updated_at.contains_ms(project.updated[row]):
        return False
    return options.created_at is None or options.created_at.contains_ms(project.created[row])


def export_record(project: Project, row: int, options: ExportOptions) -> dict[str, Any]:
    extra = project.extras.get(row)
    stage = project.stage_at(row)
    data = project.data[row]
    record: dict[str, Any] = {"asset": project.data_url(row)} if options.include_assets else {}
    record["externalId"] = project.ext_ids[row]
    record["metadata"] = dict(extra.metadata) if extra is not None and extra.metadata else {}
    record["batches"] = project.batch_names(project.batch_refs[row])
    if isinstance(data, list):
        record["assetId"] = project.asset_id(row)
        if options.include_assets:
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


def _rows_to_visit(project: Project, options: ExportOptions) -> Sequence[int]:
    """A snapshot of the rows that can be selected: a batch filter reads only its batches' rows."""
    if options.batch_ids is None:
        return array("q", project.live)
    index = project.batch_index
    return sorted({row for batch_id in options.batch_ids for row in index.get(batch_id, ())})


class _Members:
    """Writes records into the zip: one member, or parts of ``part_records`` for ``split``."""

    def __init__(self, archive: zipfile.ZipFile, options: ExportOptions) -> None:
        self._archive = archive
        self._options = options
        self._member: IO[bytes] | None = None
        self._in_member = 0
        self._parts = 0
        self.count = 0

    def _open(self) -> IO[bytes]:
        if self._options.format == "split":
            self._parts += 1
            name = f"export-{self._parts:05d}.ndjson"
        else:
            name = f"export.{self._options.format}"
        member = self._archive.open(name, "w", force_zip64=True)
        if self._options.format == "json":
            member.write(b"[")
        self._in_member = 0
        return member

    def write(self, encoded: bytes) -> None:
        split = self._options.format == "split"
        if self._member is not None and split and self._in_member >= self._options.part_records:
            self._member.close()
            self._member = None
        if self._member is None:
            self._member = self._open()
        if self._options.format == "json":
            self._member.write(b"," + encoded if self._in_member else encoded)
        else:
            self._member.write(encoded + b"\n")
        self._in_member += 1
        self.count += 1

    def close(self) -> None:
        if self._member is None and (self._options.format != "split" or self._parts == 0):
            self._member = self._open()  # an empty export still holds its (empty) file
        if self._member is not None:
            if self._options.format == "json":
                self._member.write(b"]")
            self._member.close()
            self._member = None


def write_export(
    state: EmulatorState, project: Project, options: ExportOptions, directory: Path
) -> tuple[Path, int]:
    """Stream the export zip into a new file under ``directory``; (path, record count)."""
    handle = tempfile.NamedTemporaryFile(dir=directory, prefix="export-", suffix=".zip", delete=False)  # noqa: SIM115
    path = Path(handle.name)
    with state.lock:
        # Rows added while the export runs are not part of it.
        rows = _rows_to_visit(project, options) if options.export_type == "task" else []
    try:
        with (
            handle,
            zipfile.ZipFile(
                handle, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL
            ) as archive,
        ):
            members = _Members(archive, options)
            for start in range(0, len(rows), ROWS_PER_LOCK):
                with state.lock:
                    chunk = [
                        orjson.dumps(export_record(project, row, options))
                        for row in rows[start : start + ROWS_PER_LOCK]
                        if row_selected(project, row, options)
                    ]
                for encoded in chunk:
                    members.write(encoded)
            members.close()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, members.count
