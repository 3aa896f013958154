"""One export record (an Ango asset with its task) -> one task row and its annotation rows.

Pure Python, no pyarrow: rows are plain dicts keyed by the column names of :mod:`.schema`
(a missing key is a null). Timestamps come out as integer microseconds since the epoch, UTC.

What is read where (seeds: export-format-asset, exporting-annotations; Ango's docs of the
tools, classifications and relations objects):

- a tool holds its shape under the tool type's key (``"bounding-box": {x, y, width, height}``,
  ``"polygon": [[x, y], ...]``, ``"point": [x, y]``, ``"ner": {start, end}``, ...); anything
  of the shape that has no typed column lands in ``geometry_json``, and a tool type this
  version does not know lands there whole, so a growing category schema never breaks a row;
- classifications carry ``tool`` (radio, checkbox, ...) and ``answer`` (one value or a list);
- every annotation may nest ``classifications``: they become rows with ``parent_key``;
- annotation ``metadata.createdAt`` is ISO 8601 in some exports and epoch milliseconds in
  others: both are read.

The export is taken as it is: a value of an unexpected type becomes a null in its typed
column (the record is still whole in ``tasks.record_json``); only a record without a task id
is refused, since both tables are keyed by it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from airflow_provider_ango.exceptions import AngoExportFormatError

Row = dict[str, Any]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)

# Keys of a tool object that are not its shape.
_TOOL_FIELDS = frozenset(
    {
        "objectId",
        "schemaId",
        "classifications",
        "metadata",
        "title",
        "page",
        "interpolated",
        "interpolationStopped",
        "tool",
        "medical-brush",
        "lock",
        "masks",
        "color",
        "columnField",
    }
)
# Shape keys with typed columns, and the keys of each shape those columns hold.
_TYPED_SHAPES: dict[str, frozenset[str] | None] = {
    "bounding-box": frozenset({"x", "y", "width", "height"}),
    "rotated-bounding-box": frozenset({"x", "y", "width", "height", "rotation", "corners"}),
    "polygon": None,  # a list of [x, y]: nothing beside the points
    "polyline": None,
    "point": None,
    "ner": frozenset({"start", "end"}),
}


# -- scalar readers -----------------------------------------------------------------------------
def to_micros(value: Any) -> int | None:
    """ISO 8601 text or epoch milliseconds -> microseconds since the epoch (UTC); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value * 1000)
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # Ango writes UTC
    return (moment - _EPOCH) // _MICROSECOND


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def text(value: Any) -> str | None:
    """A string as is; a number or boolean as its JSON text; an object or list as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json_text(value)


def json_text(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError as error:  # an integer beyond 64 bits, say
        raise AngoExportFormatError(f"a value of the export cannot be written as JSON: {error}") from error


def texts(value: Any) -> list[str | None] | None:
    if not isinstance(value, list):
        return None
    return [text(item) for item in value]


def points(value: Any) -> list[dict[str, float]] | None:
    """``[[x, y], ...]`` (or ``[{x, y}, ...]``) -> ``[{"x": .., "y": ..}, ...]``; None if malformed."""
    if not isinstance(value, list):
        return None
    result = []
    for item in value:
        if isinstance(item, (list, tuple)) and len(item) >= 2:
            x, y = number(item[0]), number(item[1])
        elif isinstance(item, Mapping):
            x, y = number(item.get("x")), number(item.get("y"))
        else:
            return None
        if x is None or y is None:
            return None
        result.append({"x": x, "y": y})
    return result


# -- tasks --------------------------------------------------------------------------------------
def record_task(record: Any, position: int) -> tuple[str, Mapping[str, Any]]:
    """(task id, task object) of a record, or a clear error naming the record."""
    if not isinstance(record, Mapping):
        raise AngoExportFormatError(
            f"export record #{position} is a {type(record).__name__}, not an object; "
            "lake tables are made from Ango's task export (type=task)"
        )
    task = record.get("task")
    task_id = task.get("taskId") if isinstance(task, Mapping) else None
    if isinstance(task_id, int) and not isinstance(task_id, bool):
        task_id = str(task_id)
    if not isinstance(task_id, str) or not task_id:
        external_id = record.get("externalId")
        raise AngoExportFormatError(
            f"export record #{position} (externalId {external_id!r}) has no task.taskId; both lake "
            "tables are keyed by task id. Is the export of type=task, in Ango's current (v3) format?"
        )
    assert isinstance(task, Mapping)
    return task_id, task


def _tools(task: Mapping[str, Any]) -> list[Any]:
    tools = task.get("tools", task.get("objects"))
    return tools if isinstance(tools, list) else []


def _listed(task: Mapping[str, Any], key: str) -> list[Any]:
    items = task.get(key)
    return items if isinstance(items, list) else []


def _history(task: Mapping[str, Any]) -> list[Row]:
    entries = []
    for entry in _listed(task, "stageHistory"):
        if not isinstance(entry, Mapping):
            continue
        entries.append(
            {
                "stage": text(entry.get("stage", entry.get("stageName"))),
                "stage_id": text(entry.get("stageId")),
                "duration_ms": integer(entry.get("duration", entry.get("duration(ms)"))),
                "completed_at": to_micros(entry.get("completedAt")),
                "completed_by": text(entry.get("completedBy")),
                "review_status": text(entry.get("reviewStatus")),
            }
        )
    return entries


def task_row(record: Mapping[str, Any], task_id: str, task: Mapping[str, Any]) -> Row:
    history = _history(task)
    review_status = text(task.get("reviewStatus"))
    completed: Row | None = None
    for entry in history:
        if entry["review_status"] is not None:
            review_status = entry["review_status"]
        if entry["completed_at"] is not None and (
            completed is None or entry["completed_at"] >= completed["completed_at"]
        ):
            completed = entry
    metadata = record.get("metadata")
    meta = metadata if isinstance(metadata, Mapping) else {}
    row: Row = {
        "task_id": task_id,
        "asset_id": text(record.get("assetId")),
        "external_id": text(record.get("externalId")),
        "asset_url": text(record.get("asset")),
        "dataset": texts(record.get("dataset")),
        "batches": texts(record.get("batches")),
        "stage": text(task.get("stage")),
        "stage_id": text(task.get("stageId")),
        "review_status": review_status,
        "updated_at": to_micros(task.get("updatedAt")),
        "updated_by": text(task.get("updatedBy")),
        "completed_at": completed["completed_at"] if completed else None,
        "completed_by": completed["completed_by"] if completed else None,
        "total_duration_ms": integer(task.get("totalDuration")),
        "stage_history": history if "stageHistory" in task else None,
        "asset_width": number(meta.get("width")),
        "asset_height": number(meta.get("height")),
        "frame_total": integer(meta.get("frameTotal", meta.get("frameCount"))),
        "frame_rate": number(meta.get("frameRate")),
        "metadata_json": json_text(metadata) if metadata is not None else None,
        "context_data_json": json_text(record["contextData"]) if "contextData" in record else None,
        "tool_count": len(_tools(task)),
        "classification_count": len(_listed(task, "classifications")),
        "relation_count": len(_listed(task, "relations")),
        "record_json": orjson.dumps(record),  # bytes: Arrow takes UTF-8 bytes for a string column
    }
    return row


# -- annotations --------------------------------------------------------------------------------
def _common(item: Mapping[str, Any], row: Row) -> None:
    row["object_id"] = text(item.get("objectId"))
    row["schema_id"] = text(item.get("schemaId"))
    row["title"] = text(item.get("title"))
    row["page"] = integer(item.get("page"))
    interpolated = item.get("interpolated")
    row["interpolated"] = interpolated if isinstance(interpolated, bool) else None
    metadata = item.get("metadata")
    if isinstance(metadata, Mapping):
        row["created_at"] = to_micros(metadata.get("createdAt"))
        row["created_by"] = text(metadata.get("createdBy"))
        row["created_in"] = text(metadata.get("createdIn"))
        row["updated_at"] = to_micros(metadata.get("updatedAt"))
        row["updated_by"] = text(metadata.get("updatedBy"))


def _shape_key(tool: Mapping[str, Any]) -> str | None:
    for key in _TYPED_SHAPES:
        if key in tool:
            return key
    for key, value in tool.items():
        if key not in _TOOL_FIELDS and isinstance(value, (Mapping, list)):
            return str(key)
    return None


def _shape_columns(kind: str, shape: Any, row: Row) -> bool:
    """Fill the typed columns of ``shape``; True when they hold all of it."""
    if kind == "bounding-box" and isinstance(shape, Mapping):
        row.update(
            bbox_x=number(shape.get("x")),
            bbox_y=number(shape.get("y")),
            bbox_width=number(shape.get("width")),
            bbox_height=number(shape.get("height")),
        )
    elif kind == "rotated-bounding-box" and isinstance(shape, Mapping):
        row.update(
            rbox_x=number(shape.get("x")),
            rbox_y=number(shape.get("y")),
            rbox_width=number(shape.get("width")),
            rbox_height=number(shape.get("height")),
            rbox_rotation=number(shape.get("rotation")),
        )
        if "corners" in shape:
            row["points"] = points(shape["corners"])
            if row["points"] is None:
                return False
    elif kind in ("polygon", "polyline"):
        row["points"] = points(shape)
        return row["points"] is not None
    elif kind == "point":
        pair = points([shape])
        if pair is None:
            return False
        row["point_x"], row["point_y"] = pair[0]["x"], pair[0]["y"]
        return isinstance(shape, list) and len(shape) == 2
    elif kind == "ner" and isinstance(shape, Mapping):
        row["ner_start"], row["ner_end"] = number(shape.get("start")), number(shape.get("end"))
    else:
        return False
    allowed = _TYPED_SHAPES[kind]
    return allowed is None or set(shape) <= allowed


def _answer(answer: Any, row: Row) -> None:
    if isinstance(answer, list):
        row["answer_values"] = texts(answer)
    elif isinstance(answer, bool):
        row["answer_text"] = "true" if answer else "false"
    elif answer is not None:
        row["answer_text"] = text(answer)


def annotation_rows(task_id: str, task: Mapping[str, Any], task_updated_at: int | None) -> Iterator[Row]:
    """Every tool, classification (nested ones too) and relation of ``task``, in export order."""

    def base(kind: str, key: str, item: Mapping[str, Any], parent: tuple[str, Any] | None) -> Row:
        row: Row = {
            "task_id": task_id,
            "annotation_key": key,
            "kind": kind,
            "task_updated_at": task_updated_at,
        }
        if parent is not None:
            row["parent_key"], row["parent_object_id"] = parent
        _common(item, row)
        return row

    def nested(item: Mapping[str, Any], key: str) -> Iterator[Row]:
        children = item.get("classifications")
        if not isinstance(children, list):
            return
        parent = (key, text(item.get("objectId")))
        for index, child in enumerate(children):
            if isinstance(child, Mapping):
                yield from classification(child, f"{key}/classifications/{index}", parent)

    def classification(item: Mapping[str, Any], key: str, parent: tuple[str, Any] | None) -> Iterator[Row]:
        row = base("classification", key, item, parent)
        row["tool"] = text(item.get("tool"))
        _answer(item.get("answer"), row)
        yield row
        yield from nested(item, key)

    for index, tool in enumerate(_tools(task)):
        if not isinstance(tool, Mapping):
            continue
        key = f"tools/{index}"
        row = base("tool", key, tool, None)
        shape_key = _shape_key(tool)
        row["tool"] = text(tool.get("tool")) or shape_key
        if shape_key is not None:
            shape = tool[shape_key]
            if not _shape_columns(shape_key, shape, row):
                row["geometry_json"] = json_text(shape)
        yield row
        yield from nested(tool, key)
    for index, item in enumerate(_listed(task, "classifications")):
        if isinstance(item, Mapping):
            yield from classification(item, f"classifications/{index}", None)
    for index, relation in enumerate(_listed(task, "relations")):
        if not isinstance(relation, Mapping):
            continue
        key = f"relations/{index}"
        row = base("relation", key, relation, None)
        row["tool"] = text(relation.get("tool"))
        row["relation_from"] = text(relation.get("from"))
        row["relation_to"] = text(relation.get("to"))
        row["relation_group"] = texts(relation.get("group"))
        row["relation_direction"] = text(relation.get("direction"))
        yield row
        yield from nested(relation, key)


def split_record(record: Any, position: int) -> tuple[Row, Iterator[Row]]:
    """The task row of a record and an iterator over its annotation rows."""
    task_id, task = record_task(record, position)
    row = task_row(record, task_id, task)
    return row, annotation_rows(task_id, task, row["updated_at"])


__all__ = [
    "Row",
    "annotation_rows",
    "integer",
    "number",
    "points",
    "record_task",
    "split_record",
    "task_row",
    "to_micros",
]
