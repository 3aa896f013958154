"""layout="parquet" on moto (S3), gcp-storage-emulator (GCS) and Azurite: Hive partitions, row groups.

What landed is read back with pyarrow (a Hive-partitioned dataset over the downloaded objects,
and on S3 straight from the bucket through pyarrow's own S3 filesystem) and with DuckDB.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from airflow_provider_ango.exceptions import AngoExportFormatError
from airflow_provider_ango.exports.landing import Destination
from airflow_provider_ango.exports.tables import Sizing, write_parquet_tables
from tests.exports.tables.conftest import (
    DAY,
    START,
    Answer,
    bucket_root,
    duckdb_rows,
    expected_boxes,
    record,
    records_of,
    task_id_of,
)

if TYPE_CHECKING:
    from airflow_provider_ango.testing.plugin import TestBucket

pytestmark = pytest.mark.emulator

NewBucket = Callable[[str], "TestBucket"]
ENTRIES = [
    ("a", Answer(boxes=[("car", 1), ("car", 2)], weather="sunny")),
    ("b", Answer(boxes=[("truck", 3)])),
    ("c", Answer(weather="fog")),
]


def destination(bucket: TestBucket, prefix: str) -> Destination:
    return Destination(bucket_root(bucket), prefix)


def land(bucket: TestBucket, day: int, entries: list[tuple[str, Answer]], **kwargs: Any) -> Any:
    moment = START + day * DAY
    prefix = f"lake/dt={moment.date()}/"
    return write_parquet_tables(
        records_of(*((name, answer, moment) for name, answer in entries)),
        destination(bucket, prefix),
        **kwargs,
    )


def download(bucket: TestBucket, prefix: str, target: Path) -> list[str]:
    """Every object under ``prefix``, copied to ``target`` with the same relative keys."""
    hook = bucket_root(bucket)
    keys = sorted(obj.key for obj in hook.iter_objects(prefix))
    for key in keys:
        path = target / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(hook.read_bytes(key))
    return keys


def hive(path: Path) -> Any:
    import pyarrow.dataset as ds

    return ds.dataset(path, format="parquet", partitioning="hive", exclude_invalid_files=True)


@pytest.mark.parametrize("store", ["s3", "gcs", "azure"])
def test_parquet_tables_land_in_hive_partitions_with_a_manifest_each(
    store: str, new_bucket: NewBucket, tmp_path: Path
) -> None:
    bucket = new_bucket(store)
    first = land(bucket, 0, ENTRIES, header={"dag_id": "lake_dag"})
    second = land(bucket, 1, [("b", Answer(boxes=[("bus", 9)]))])

    assert first.uris == {
        "tasks": f"{bucket.uri}/lake/tasks/dt=2024-05-01/",
        "annotations": f"{bucket.uri}/lake/annotations/dt=2024-05-01/",
    }
    assert first.partition == {"dt": "2024-05-01"}
    assert (first.table("tasks").rows, first.table("annotations").rows) == (3, 8)  # boxes + nested + radio
    keys = download(bucket, "lake/", tmp_path)
    assert keys == [
        f"lake/{table}/dt={day}/{name}"
        for table in ("annotations", "tasks")
        for day in ("2024-05-01", "2024-05-02")
        for name in ("_SUCCESS", "_manifest.json", "part-00000.parquet")
    ]
    manifest = orjson.loads((tmp_path / "lake/tasks/dt=2024-05-01/_manifest.json").read_bytes())
    assert (manifest["layout"], manifest["table"], manifest["dag_id"], manifest["records"]) == (
        "parquet",
        "tasks",
        "lake_dag",
        3,
    )
    assert manifest["files"][0]["name"] == "part-00000.parquet"
    assert second.table("tasks").manifest_uri == f"{bucket.uri}/lake/tasks/dt=2024-05-02/_manifest.json"

    tasks, annotations = hive(tmp_path / "lake/tasks"), hive(tmp_path / "lake/annotations")
    assert sorted(
        tasks.to_table(columns=["task_id", "dt"]).to_pylist(), key=lambda r: (r["dt"], r["task_id"])
    ) == [
        {"task_id": task_id_of("a"), "dt": "2024-05-01"},
        {"task_id": task_id_of("b"), "dt": "2024-05-01"},
        {"task_id": task_id_of("c"), "dt": "2024-05-01"},
        {"task_id": task_id_of("b"), "dt": "2024-05-02"},
    ]
    # DuckDB over the Arrow datasets: the boxes of the first day, and the weather of every task.
    rows = duckdb_rows(
        "SELECT task_id, title, bbox_x FROM annotations WHERE tool = 'bounding-box' AND dt = '2024-05-01'",
        annotations=annotations,
    )
    assert rows == expected_boxes(dict(ENTRIES))
    assert duckdb_rows(
        "SELECT t.external_id, a.answer_text FROM tasks t JOIN annotations a USING (task_id, dt) "
        "WHERE a.title = 'weather'",
        tasks=tasks,
        annotations=annotations,
    ) == [("a.jpg", "sunny"), ("c.jpg", "fog")]


def test_a_re_run_replaces_its_partition_and_the_rows_are_typed(
    s3_bucket: TestBucket, tmp_path: Path
) -> None:
    import pyarrow as pa

    land(s3_bucket, 0, ENTRIES)
    again = land(s3_bucket, 0, ENTRIES[:1])

    assert again.table("tasks").rows == 1
    download(s3_bucket, "lake/", tmp_path)
    table = hive(tmp_path / "lake/tasks").to_table()
    assert table["task_id"].to_pylist() == [task_id_of("a")]
    assert table.schema.field("updated_at").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("batches").type == pa.list_(pa.string())
    row = table.to_pylist()[0]
    assert (row["asset_width"], row["context_data_json"], row["tool_count"]) == (640.0, '{"camera":"A"}', 2)
    assert orjson.loads(row["record_json"]) == record("a", ENTRIES[0][1], START)
    comment = table.schema.field("record_json").metadata[b"comment"].decode()
    assert "whole export record" in comment


def test_row_groups_and_files_are_sized_and_counted(s3_bucket: TestBucket, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    entries = [(f"t{n:03d}", Answer(boxes=[("car", n)] * 3)) for n in range(40)]
    result = land(s3_bucket, 0, entries, sizing=Sizing(rows_per_group=16, bytes_per_file=1))

    tasks = result.table("tasks")
    assert (tasks.rows, tasks.files) == (40, 3)  # 16 + 16 + 8: a file per row group at this size
    download(s3_bucket, "lake/", tmp_path)
    folder = tmp_path / "lake/annotations/dt=2024-05-01"
    groups = [
        pq.ParquetFile(path).metadata.row_group(index).num_rows
        for path in sorted(folder.glob("*.parquet"))
        for index in range(pq.ParquetFile(path).num_row_groups)
    ]
    assert max(groups) <= 16
    assert sum(groups) == 40 * 6  # three boxes, each with its nested checkbox
    manifest = orjson.loads((folder / "_manifest.json").read_bytes())
    assert sum(entry["records"] for entry in manifest["files"]) == 240
    import hashlib

    for entry in manifest["files"]:
        assert hashlib.sha256((folder / entry["name"]).read_bytes()).hexdigest() == entry["sha256"]


def test_a_failed_landing_leaves_the_partition_as_it_was(s3_bucket: TestBucket, tmp_path: Path) -> None:
    land(s3_bucket, 0, ENTRIES)
    before = download(s3_bucket, "lake/", tmp_path / "before")

    def records() -> Any:
        yield record("z", Answer(boxes=[("car", 1)]), START)
        yield {"task": {"taskId": ""}, "externalId": "broken.jpg"}

    with pytest.raises(AngoExportFormatError, match="record #2"):
        write_parquet_tables(
            records(), destination(s3_bucket, "lake/dt=2024-05-01/"), sizing=Sizing(rows_per_group=1)
        )

    after = download(s3_bucket, "lake/", tmp_path / "after")
    assert after == before  # no temporary files left, the old partition untouched
    for key in before:
        assert (tmp_path / "after" / key).read_bytes() == (tmp_path / "before" / key).read_bytes()


def test_an_empty_export_still_lands_a_readable_schema(s3_bucket: TestBucket, tmp_path: Path) -> None:
    result = land(s3_bucket, 0, [])

    assert result.records == 0
    download(s3_bucket, "lake/", tmp_path)
    for table in ("tasks", "annotations"):
        dataset = hive(tmp_path / "lake" / table)
        assert dataset.count_rows() == 0
        assert "task_id" in dataset.schema.names


def test_s3_tables_read_straight_from_the_bucket_with_pyarrow(s3_bucket: TestBucket) -> None:
    import pyarrow.dataset as ds
    import pyarrow.fs as pafs

    land(s3_bucket, 0, ENTRIES)
    land(s3_bucket, 1, [("d", Answer(boxes=[("bike", 4)]))])
    endpoint = s3_bucket.emulator.endpoint
    filesystem = pafs.S3FileSystem(
        access_key="testing",
        secret_key="testing",
        endpoint_override=endpoint,
        scheme="http",
        region="us-east-1",
    )
    dataset = ds.dataset(
        f"{s3_bucket.name}/lake/annotations",
        filesystem=filesystem,
        format="parquet",
        partitioning="hive",
        exclude_invalid_files=True,
    )
    assert duckdb_rows(
        "SELECT dt, count(*) FROM annotations WHERE tool = 'bounding-box' GROUP BY dt", annotations=dataset
    ) == [("2024-05-01", 3), ("2024-05-02", 1)]
