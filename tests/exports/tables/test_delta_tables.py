"""layout="delta" on moto (S3) and Azurite: incremental runs, once-only commits, evolution, bad input.

Every table is read back twice: with deltalake (pyarrow) and with DuckDB over the table's
Arrow dataset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_ango.exceptions import AngoExportConfigError
from airflow_provider_ango.exports.tables import AppTransaction, commit_delta_tables
from tests.exports.tables.conftest import (
    DAY,
    START,
    Answer,
    delta_datasets,
    duckdb_rows,
    expected_boxes,
    read_delta,
    record,
    records_of,
    table_rows,
    task_id_of,
)

if TYPE_CHECKING:
    from airflow_provider_ango.testing.plugin import TestBucket

pytestmark = pytest.mark.emulator

NewBucket = Callable[[str], "TestBucket"]
STORES = ("s3", "azure")


def txn(day: int) -> AppTransaction:
    return AppTransaction.for_interval("lake_dag", "land", START + day * DAY, START + (day + 1) * DAY)


def run(
    bucket: TestBucket, day: int, entries: list[tuple[str, Answer]], *, mode: str = "merge", **kwargs: Any
) -> Any:
    """Land one interval's export: tasks updated at noon of ``day``."""
    moment = START + day * DAY + DAY / 2
    return commit_delta_tables(
        records_of(*((name, answer, moment) for name, answer in entries)),
        f"{bucket.uri}/lake/",
        conn_id=kwargs.pop("conn_id", bucket.conn_id),
        mode=mode,  # type: ignore[arg-type]
        transaction=kwargs.pop("transaction", txn(day)),
        **kwargs,
    )


# Three adjacent intervals: b is re-labeled (a truck instead of two cars), c loses its boxes
# and gets a new weather answer, d appears on day 1, a is left alone after day 0.
DAY0 = [
    ("a", Answer(boxes=[("car", 1)], weather="sunny")),
    ("b", Answer(boxes=[("car", 2), ("car", 3)], weather="rain")),
    ("c", Answer(boxes=[("person", 4)], weather="fog")),
]
DAY1 = [("b", Answer(boxes=[("truck", 20)], weather="rain")), ("d", Answer(boxes=[("bike", 5)]))]
DAY2 = [("c", Answer(boxes=[], weather="snow")), ("b", Answer(boxes=[("truck", 21), ("car", 22)]))]
LATEST = {**dict(DAY0), **dict(DAY1), **dict(DAY2)}


@pytest.mark.parametrize("store", STORES)
def test_three_incremental_merge_runs_leave_exactly_the_latest_answer_of_every_task(
    store: str, new_bucket: NewBucket
) -> None:
    bucket = new_bucket(store)
    results = [run(bucket, day, entries) for day, entries in enumerate((DAY0, DAY1, DAY2))]

    # Version 0 is each table's creation; each run then commits once.
    assert [r.table("tasks").version for r in results] == [1, 2, 3]
    assert [r.table("annotations").version for r in results] == [1, 2, 3]
    assert all(t.committed for r in results for t in r.tables)
    import pyarrow.compute as pc

    uris = results[0].uris
    assert uris == {"tasks": f"{bucket.uri}/lake/tasks", "annotations": f"{bucket.uri}/lake/annotations"}
    tasks = read_delta(uris["tasks"], bucket.conn_id)
    annotations = read_delta(uris["annotations"], bucket.conn_id)
    noon = {
        name: START + day * DAY + DAY / 2
        for day, entries in enumerate((DAY0, DAY1, DAY2))
        for name, _ in entries
    }
    assert table_rows(tasks, "task_id", "updated_at") == sorted(
        (task_id_of(name), moment) for name, moment in noon.items()
    )
    boxes = annotations.filter(pc.field("tool") == "bounding-box")
    assert table_rows(boxes, "task_id", "title", "bbox_x") == expected_boxes(LATEST)
    weather = annotations.filter(pc.field("title") == "weather")
    assert table_rows(weather, "task_id", "answer_text") == sorted(
        (task_id_of(name), answer.weather) for name, answer in LATEST.items() if answer.weather
    )
    # Each box's nested checkbox is a row of its own, pointing at its parent.
    nested = annotations.filter(pc.field("title") == "occluded")
    assert len(nested) == len(expected_boxes(LATEST))
    assert set(nested["parent_key"].to_pylist()) <= {"tools/0", "tools/1"}

    # The same answers through DuckDB, over the tables' Arrow datasets.
    datasets = delta_datasets(results[-1], bucket.conn_id)
    assert duckdb_rows(
        "SELECT a.task_id, a.title, a.bbox_x FROM annotations a JOIN tasks t USING (task_id) "
        "WHERE a.tool = 'bounding-box'",
        **datasets,
    ) == expected_boxes(LATEST)
    assert duckdb_rows("SELECT count(*), count(DISTINCT task_id) FROM tasks", **datasets) == [(4, 4)]


def test_append_mode_keeps_every_interval_and_a_retried_or_re_run_interval_commits_nothing(
    s3_bucket: TestBucket,
) -> None:
    first = [run(s3_bucket, day, entries, mode="append") for day, entries in enumerate((DAY0, DAY1))]
    retried = run(s3_bucket, 1, DAY1, mode="append")  # the same interval again (a retry, a cleared task)

    assert [r.table("tasks").version for r in first] == [1, 2]
    assert not any(t.committed for t in retried.tables)
    assert retried.versions == {"tasks": 2, "annotations": 2}  # the version that holds the interval
    assert retried.records == 0  # nothing was even read: both tables held the transaction
    tasks = read_delta(first[0].uris["tasks"], s3_bucket.conn_id)
    assert len(tasks) == len(DAY0) + len(DAY1)  # b appears once per interval, as append promises
    assert sorted(tasks["task_id"].to_pylist()).count(task_id_of("b")) == 2

    # An earlier interval that failed and is retried after a later one committed still lands.
    late = run(s3_bucket, 5, [("e", Answer(boxes=[("car", 9)]))], mode="append")
    early = run(s3_bucket, 3, [("f", Answer(boxes=[("car", 8)]))], mode="append")
    assert late.table("tasks").committed
    assert early.table("tasks").committed
    assert early.table("tasks").version == 4
    from deltalake import DeltaTable

    from airflow_provider_ango.exports.tables.location import delta_rs_uri
    from airflow_provider_ango.exports.tables.storage import storage_options
    from airflow_provider_ango.hooks.bucket import parse_bucket_uri

    location = parse_bucket_uri(early.uris["tasks"])
    table = DeltaTable(
        delta_rs_uri(location, location.prefix),
        storage_options=storage_options(location, s3_bucket.conn_id).as_dict(),
    )
    assert table.transaction_version(txn(3).app_id) == txn(3).version
    assert table.transaction_version(txn(1).app_id) == txn(1).version


def test_merge_leaves_a_newer_stored_state_alone_when_an_older_interval_lands_late(
    s3_bucket: TestBucket,
) -> None:
    run(s3_bucket, 0, DAY0)
    run(s3_bucket, 2, [("b", Answer(boxes=[("truck", 30)], weather="clear"))])
    # Day 1's landing failed and is retried now, from the export it staged then: b's older state.
    late = run(
        s3_bucket, 1, [("b", Answer(boxes=[("car", 10), ("car", 11)])), ("d", Answer(boxes=[("bike", 1)]))]
    )

    assert late.table("tasks").committed
    assert late.table("tasks").rows == 1  # d only: b's stored state is newer
    annotations = read_delta(late.uris["annotations"], s3_bucket.conn_id)
    boxes = table_rows(annotations, "task_id", "title", "bbox_x", "kind")
    assert [row[:3] for row in boxes if row[3] == "tool"] == sorted(
        [
            (task_id_of("a"), "car", 1.0),
            (task_id_of("b"), "truck", 30.0),
            (task_id_of("c"), "person", 4.0),
            (task_id_of("d"), "bike", 1.0),
        ]
    )
    tasks = read_delta(late.uris["tasks"], s3_bucket.conn_id)
    assert table_rows(tasks, "task_id", "updated_at")[1] == (task_id_of("b"), START + 2 * DAY + DAY / 2)


def test_a_table_written_with_fewer_columns_takes_the_new_ones(s3_bucket: TestBucket) -> None:
    """Schema evolution: an annotations table from before rotated boxes and NER had columns."""
    import pyarrow as pa
    from deltalake import write_deltalake

    from airflow_provider_ango.exports.tables.location import delta_rs_uri
    from airflow_provider_ango.exports.tables.schema import table_schema
    from airflow_provider_ango.exports.tables.storage import storage_options
    from airflow_provider_ango.hooks.bucket import parse_bucket_uri

    dropped = {"rbox_x", "rbox_y", "rbox_width", "rbox_height", "rbox_rotation", "ner_start", "ner_end"}
    full = table_schema("annotations")
    older = pa.schema([field for field in full if field.name not in dropped])
    location = parse_bucket_uri(f"{s3_bucket.uri}/lake/annotations")
    options = storage_options(location, s3_bucket.conn_id)
    old_row = {
        "task_id": task_id_of("old"),
        "annotation_key": "tools/0",
        "kind": "tool",
        "tool": "bounding-box",
    }
    write_deltalake(
        delta_rs_uri(location, location.prefix),
        pa.Table.from_pylist([old_row], schema=older),
        storage_options=options.as_dict(),
    )
    rotated = {
        "rotated-bounding-box": {"x": 5, "y": 6, "width": 7, "height": 8, "rotation": -12.5},
        "objectId": "r1",
        "schemaId": "schema-rotated",
        "title": "sign",
    }
    spline = {"spline": {"controlPoints": [[1, 2], [3, 4]]}, "objectId": "s1", "title": "curve"}
    result = run(s3_bucket, 0, [("n", Answer(extra_tools=(rotated, spline)))], mode="append")

    assert result.table("annotations").version == 2  # 1 added the columns, 2 holds the rows
    table = read_delta(result.uris["annotations"], s3_bucket.conn_id)
    assert dropped <= set(table.schema.names)
    rows = {
        row["annotation_key"] if row["task_id"] != old_row["task_id"] else "old": row
        for row in table.to_pylist()
    }
    assert rows["old"]["rbox_rotation"] is None
    assert (rows["tools/0"]["tool"], rows["tools/0"]["rbox_rotation"], rows["tools/0"]["rbox_width"]) == (
        "rotated-bounding-box",
        -12.5,
        7.0,
    )
    # A tool type this version has no columns for lands whole in geometry_json.
    assert rows["tools/1"]["tool"] == "spline"
    assert rows["tools/1"]["geometry_json"] == '{"controlPoints":[[1,2],[3,4]]}'


def test_partition_folders_of_the_destination_become_delta_partition_columns(s3_bucket: TestBucket) -> None:
    results = [
        commit_delta_tables(
            records_of(*((name, answer, START + day * DAY) for name, answer in entries)),
            f"{s3_bucket.uri}/lake/dt={(START + day * DAY).date()}/",
            conn_id=s3_bucket.conn_id,
            mode="merge",
            transaction=txn(day),
        )
        for day, entries in enumerate((DAY0, DAY1))
    ]

    assert results[1].partition == {"dt": "2024-05-02"}
    assert results[1].uris["tasks"] == f"{s3_bucket.uri}/lake/tasks"
    tasks = read_delta(results[1].uris["tasks"], s3_bucket.conn_id)
    # b moved to the partition of the interval that last changed it; the others stayed.
    assert table_rows(tasks, "task_id", "dt") == sorted(
        [
            (task_id_of("a"), "2024-05-01"),
            (task_id_of("b"), "2024-05-02"),
            (task_id_of("c"), "2024-05-01"),
            (task_id_of("d"), "2024-05-02"),
        ]
    )
    from deltalake import DeltaTable

    from airflow_provider_ango.exports.tables.location import delta_rs_uri
    from airflow_provider_ango.exports.tables.storage import storage_options
    from airflow_provider_ango.hooks.bucket import parse_bucket_uri

    location = parse_bucket_uri(results[1].uris["tasks"])
    table = DeltaTable(
        delta_rs_uri(location, location.prefix),
        storage_options=storage_options(location, s3_bucket.conn_id).as_dict(),
    )
    assert table.metadata().partition_columns == ["dt"]


def _keys(bucket: TestBucket, prefix: str) -> list[str]:
    from airflow_provider_ango.hooks.bucket import BucketHook

    return sorted(obj.key for obj in BucketHook.from_uri(bucket.uri, bucket.conn_id).iter_objects(prefix))


def test_a_location_holding_files_that_are_not_a_table_is_refused_before_any_write(
    s3_bucket: TestBucket,
) -> None:
    from airflow_provider_ango.hooks.bucket import BucketHook

    BucketHook.from_uri(s3_bucket.uri, s3_bucket.conn_id).write_bytes("lake/tasks/export.csv", b"a,b\n")
    read: list[int] = []

    def records() -> Any:
        read.append(1)
        yield record("a", Answer(boxes=[("car", 1)]), START)

    with pytest.raises(AngoExportConfigError) as raised:
        commit_delta_tables(records(), f"{s3_bucket.uri}/lake/", conn_id=s3_bucket.conn_id)

    message = str(raised.value)
    assert f"{s3_bucket.uri}/lake/tasks holds files" in message
    assert "is not a Delta table" in message
    assert "empty location or an existing Delta table" in message
    assert read == []  # refused before the export was read
    assert _keys(s3_bucket, "lake/") == ["lake/tasks/export.csv"]


@pytest.mark.parametrize(
    ("column", "arrow_type", "expected"),
    [
        ("task_id", "int64", "column 'task_id' of type"),
        ("frame_total", "string", "column 'frame_total' of type"),
        ("owner", "string not null", "non-null column(s) owner"),
    ],
)
def test_a_table_that_cannot_take_the_rows_is_refused_before_any_write(
    s3_bucket: TestBucket, column: str, arrow_type: str, expected: str
) -> None:
    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    from airflow_provider_ango.exports.tables.location import delta_rs_uri
    from airflow_provider_ango.exports.tables.storage import storage_options
    from airflow_provider_ango.hooks.bucket import parse_bucket_uri

    fields = [
        pa.field("task_id", pa.string(), nullable=False),
        pa.field("updated_at", pa.timestamp("us", "UTC")),
    ]
    kind = pa.int64() if arrow_type == "int64" else pa.string()
    field = pa.field(column, kind, nullable=not arrow_type.endswith("not null"))
    fields = [f for f in fields if f.name != column] + [field]
    location = parse_bucket_uri(f"{s3_bucket.uri}/lake/tasks")
    options = storage_options(location, s3_bucket.conn_id).as_dict()
    row = {"task_id": 7 if column == "task_id" else "x", column: 7 if arrow_type == "int64" else "x"}
    write_deltalake(
        delta_rs_uri(location, location.prefix),
        pa.Table.from_pylist([row], schema=pa.schema(fields)),
        storage_options=options,
    )

    with pytest.raises(AngoExportConfigError) as raised:
        run(s3_bucket, 0, DAY0)

    assert f"Delta table {s3_bucket.uri}/lake/tasks" in str(raised.value)
    assert expected in str(raised.value)
    assert DeltaTable(delta_rs_uri(location, location.prefix), storage_options=options).version() == 0
    assert not [key for key in _keys(s3_bucket, "lake/") if not key.startswith("lake/tasks/")]


def test_a_bad_record_fails_the_run_before_either_table_is_written(s3_bucket: TestBucket) -> None:
    from airflow_provider_ango.exceptions import AngoExportFormatError

    good = record("a", Answer(boxes=[("car", 1)]), START)
    broken = {
        "asset": "https://assets.example.com/x.jpg",
        "externalId": "x.jpg",
        "task": {"stage": "Complete"},
    }

    with pytest.raises(
        AngoExportFormatError, match=r"export record #2 \(externalId 'x.jpg'\) has no task.taskId"
    ):
        commit_delta_tables(iter([good, broken]), f"{s3_bucket.uri}/lake/", conn_id=s3_bucket.conn_id)

    assert _keys(s3_bucket, "lake/") == []
