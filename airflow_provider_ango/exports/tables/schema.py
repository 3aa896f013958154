"""The two tables' Arrow schemas, with every column described where it is declared.

One home for the column list: :mod:`.rows` fills these columns, the Parquet and Delta writers
take the schemas from here, and each column's description travels with the data as the
field's ``comment`` metadata (Spark, Databricks and delta-rs show it as the column comment).

Types are chosen to read the same in Spark, Databricks, Athena/Trino, BigQuery and DuckDB:
strings, 64-bit integers and doubles, booleans, ``timestamp[us, UTC]``, lists and structs of
those; free-form objects (``metadata``, ``contextData``, a geometry without typed columns,
the whole record) are JSON strings, so every engine reads them with its JSON functions.

pyarrow is imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

#: Bumped when a column is added or changes meaning; tables record it (Parquet key-value
#: metadata, Delta commit metadata). New columns are always nullable, so a table written by
#: an older version takes the new ones by schema evolution.
SCHEMA_VERSION = 1
SCHEMA_VERSION_KEY = "ango.tables.schema_version"

TASKS = "tasks"
ANNOTATIONS = "annotations"
TABLE_NAMES = (TASKS, ANNOTATIONS)

#: The columns that identify a row (never null).
TASK_KEY = ("task_id",)
ANNOTATION_KEY = ("task_id", "annotation_key")

# (name, type, description). Types are spelled as short names resolved by _arrow_type, so
# the table can be read (and documented) without pyarrow.
TASK_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("task_id", "string", "Ango task id (24 hex digits); the key of the table"),
    ("asset_id", "string", "Ango asset id (the export gives it for multi-page assets only)"),
    ("external_id", "string", "the asset's externalId, as imported"),
    ("asset_url", "string", "the asset URL; Ango-hosted files get a signed URL valid 120,000 s"),
    ("dataset", "list<string>", "URLs of every page of a multi-page asset, page 0 first"),
    ("batches", "list<string>", "names of the batches the asset belongs to"),
    ("stage", "string", "workflow stage the task is in (name)"),
    ("stage_id", "string", "workflow stage the task is in (id)"),
    ("review_status", "string", "reviewStatus of the latest review in the stage history (Accepted, ...)"),
    ("updated_at", "timestamp", "when the task was last updated (UTC)"),
    ("updated_by", "string", "who last updated the task"),
    ("completed_at", "timestamp", "completedAt of the latest stage-history entry (UTC)"),
    ("completed_by", "string", "completedBy of the latest stage-history entry"),
    ("total_duration_ms", "int64", "time spent on the task over all stages, milliseconds"),
    ("stage_history", "stage_history", "stages the task went through (with includeHistory)"),
    ("asset_width", "double", "metadata.width of the asset, pixels"),
    ("asset_height", "double", "metadata.height of the asset, pixels"),
    ("frame_total", "int64", "metadata.frameTotal: frames of a video, pages of a PDF or DICOM"),
    ("frame_rate", "double", "metadata.frameRate of a video"),
    ("metadata_json", "string", "the asset's metadata object, as JSON"),
    ("context_data_json", "string", "the asset's contextData, as JSON (as imported)"),
    ("tool_count", "int32", "top-level tool annotations of the task"),
    ("classification_count", "int32", "top-level classification answers of the task"),
    ("relation_count", "int32", "relations of the task"),
    ("record_json", "string", "the whole export record, as JSON: nothing of the export is lost"),
)

ANNOTATION_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("task_id", "string", "the task the annotation belongs to (tasks.task_id)"),
    (
        "annotation_key",
        "string",
        "position in the task's answer, unique per task: tools/0, tools/0/classifications/1, "
        "classifications/2, relations/0",
    ),
    ("kind", "string", "tool, classification or relation"),
    (
        "tool",
        "string",
        "tool type (bounding-box, polygon, ...), classification type (radio, ...) or relation type",
    ),
    ("object_id", "string", "objectId of the annotation (a video object keeps it across frames)"),
    ("schema_id", "string", "schemaId of its class in the project's category schema"),
    ("title", "string", "title of its class"),
    ("parent_key", "string", "annotation_key of the annotation a nested classification belongs to"),
    ("parent_object_id", "string", "objectId of that parent"),
    ("page", "int64", "page (0-based) of a multi-page asset or PDF, or frame of a video"),
    ("interpolated", "bool", "true on video frames Ango interpolated (not key frames)"),
    ("task_updated_at", "timestamp", "tasks.updated_at of the task state this row belongs to"),
    ("bbox_x", "double", "bounding-box: x of the first corner placed, pixels"),
    ("bbox_y", "double", "bounding-box: y of that corner"),
    ("bbox_width", "double", "bounding-box: width (negative when drawn right to left)"),
    ("bbox_height", "double", "bounding-box: height (negative when drawn bottom to top)"),
    ("rbox_x", "double", "rotated-bounding-box: x of its origin point"),
    ("rbox_y", "double", "rotated-bounding-box: y of its origin point"),
    ("rbox_width", "double", "rotated-bounding-box: width"),
    ("rbox_height", "double", "rotated-bounding-box: height"),
    ("rbox_rotation", "double", "rotated-bounding-box: rotation, degrees in [-180, 180]"),
    ("points", "points", "polygon or polyline vertices in order, or a rotated box's four corners"),
    ("point_x", "double", "point: x"),
    ("point_y", "double", "point: y"),
    ("ner_start", "double", "ner: start of the span (characters in text, seconds in audio)"),
    ("ner_end", "double", "ner: end of the span"),
    ("answer_text", "string", "classification answer with one value (radio, single-dropdown, text, ...)"),
    (
        "answer_values",
        "list<string>",
        "classification answer with several values (checkbox, multi-dropdown, ...)",
    ),
    ("relation_from", "string", "relation: objectId it starts from"),
    ("relation_to", "string", "relation: objectId it points to"),
    ("relation_group", "list<string>", "group relation: objectIds of its members"),
    ("relation_direction", "string", "relation: straight or bidirectional"),
    ("created_at", "timestamp", "annotation metadata.createdAt (with includeMetadata)"),
    ("created_by", "string", "annotation metadata.createdBy"),
    ("created_in", "string", "annotation metadata.createdIn (stage)"),
    ("updated_at", "timestamp", "annotation metadata.updatedAt"),
    ("updated_by", "string", "annotation metadata.updatedBy"),
    (
        "geometry_json",
        "string",
        "the shape as exported, as JSON, when part of it has no typed column (segmentation, pdf, "
        "spline, a tool type this version does not know, extra keys)",
    ),
)

COLUMNS = {TASKS: TASK_COLUMNS, ANNOTATIONS: ANNOTATION_COLUMNS}
KEYS = {TASKS: TASK_KEY, ANNOTATIONS: ANNOTATION_KEY}


def column_names(table: str) -> tuple[str, ...]:
    return tuple(name for name, _, _ in COLUMNS[table])


def _arrow_type(spelling: str) -> pa.DataType:
    import pyarrow as pa

    timestamp = pa.timestamp("us", tz="UTC")
    simple: dict[str, Any] = {
        "string": pa.string(),
        "int64": pa.int64(),
        "int32": pa.int32(),
        "double": pa.float64(),
        "bool": pa.bool_(),
        "timestamp": timestamp,
        "list<string>": pa.list_(pa.string()),
        "points": pa.list_(pa.struct([("x", pa.float64()), ("y", pa.float64())])),
        "stage_history": pa.list_(
            pa.struct(
                [
                    ("stage", pa.string()),
                    ("stage_id", pa.string()),
                    ("duration_ms", pa.int64()),
                    ("completed_at", timestamp),
                    ("completed_by", pa.string()),
                    ("review_status", pa.string()),
                ]
            )
        ),
    }
    return simple[spelling]


@cache
def table_schema(table: str, partition_columns: tuple[str, ...] = ()) -> pa.Schema:
    """The Arrow schema of ``table`` (``tasks`` or ``annotations``), partition columns last.

    Key columns are non-null; every other column is nullable (an export that lacks a field
    leaves it null). Partition columns (Delta tables under a ``key=value`` destination) are
    strings.
    """
    import pyarrow as pa

    keys = KEYS[table]
    fields = [
        pa.field(name, _arrow_type(kind), nullable=name not in keys, metadata={"comment": text})
        for name, kind, text in COLUMNS[table]
    ]
    taken = set(column_names(table))
    for name in partition_columns:
        if name in taken:
            raise ValueError(f"partition column {name!r} is also a column of the {table} table")
        fields.append(pa.field(name, pa.string(), metadata={"comment": "partition value of the run"}))
    return pa.schema(fields, metadata={SCHEMA_VERSION_KEY: str(SCHEMA_VERSION)})


def describe_columns(table: str) -> list[tuple[str, str, str]]:
    """(name, type as documented, description) of every column, for docs and error messages."""
    return list(COLUMNS[table])


__all__ = [
    "ANNOTATIONS",
    "ANNOTATION_KEY",
    "SCHEMA_VERSION",
    "SCHEMA_VERSION_KEY",
    "TABLE_NAMES",
    "TASKS",
    "TASK_KEY",
    "column_names",
    "describe_columns",
    "table_schema",
]
