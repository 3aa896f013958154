"""layout="delta" on moto (S3) and Azurite: incremental runs, once-only commits, evolution, bad input.

Every table is read back twice: with deltalake (pyarrow) and with DuckDB over the table's
Arrow dataset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_ango.exports.tables import AppTransaction, commit_delta_tables
from tests.exports.tables.conftest import (
    DAY,
    START,
    Answer,
    delta_datasets,
    duckdb_rows,
    expected_boxes,
    read_delta,
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
        conn_id=bucket.conn_id,
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

    assert [r.table("tasks").version for r in results] == [0, 1, 2]
    assert [r.table("annotations").version for r in results] == [0, 1, 2]
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
