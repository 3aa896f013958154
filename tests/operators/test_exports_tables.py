"""``layout="parquet"`` and ``layout="delta"`` through ``AngoLandExportOperator``: the wiring.

The tables themselves (schema, merge, races, crashes, every store) are tested in
``tests/exports/tables/``; here the operator's part: the staged export from the trigger operator
reaches the tables, ``mode`` and the run's interval reach the Delta commit (so a retried run
commits nothing twice), and the XCom names the tables and their versions.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_ango.testing.samples import CATEGORY_SCHEMA, prediction
from tests.exports.helpers import land_op, list_keys, make_dag, manifest, read_object, run_context, trigger_op

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.testing.plugin import TestBucket

pytestmark = pytest.mark.emulator
DAY0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def labeled_project(ango: AngoEmulator, kinds: dict[str, str], at: datetime) -> str:
    """A project whose tasks ``<name>.jpg`` were submitted with one vehicle box of ``kinds[name]``."""
    assets = [{"data": f"https://example.com/{name}.jpg", "externalId": f"{name}.jpg"} for name in kinds]
    project_id: str = ango.control.seed_project(
        name="tables", category_schema=CATEGORY_SCHEMA, assets=assets, workflow=["Label"]
    )["_id"]
    for name, kind in kinds.items():
        relabel(ango, project_id, name, kind, at, again=False)
    return project_id


def relabel(ango: AngoEmulator, project_id: str, name: str, kind: str, at: datetime, *, again: bool) -> None:
    answer = {
        key: value for key, value in prediction(f"{name}.jpg", kind=kind).items() if key != "externalId"
    }
    if again:  # back to Label first, as a reviewer sending it back would
        ango.control.act(project_id, action="move", toStage="Label", externalIds=[f"{name}.jpg"], at=_iso(at))
    ango.control.act(project_id, action="submit", externalIds=[f"{name}.jpg"], answer=answer, at=_iso(at))


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def boxes_by_task(tables: dict[str, Any], conn_id: str) -> list[tuple[str, str]]:
    """(externalId, kind of each box) of both Delta tables, through DuckDB."""
    import duckdb

    from airflow_provider_ango.exports.tables import delta_dataset

    connection = duckdb.connect()
    try:
        for name, table in tables.items():
            connection.register(name, delta_dataset(table["uri"], conn_id))
        rows = connection.execute(
            "SELECT t.external_id, k.answer_text FROM annotations b JOIN tasks t USING (task_id) "
            "JOIN annotations k ON k.task_id = b.task_id AND k.parent_key = b.annotation_key "
            "WHERE b.tool = 'bounding-box'"
        ).fetchall()
    finally:
        connection.close()
    return sorted(rows)


def test_parquet_layout_lands_both_tables_from_the_staged_export(
    ango: AngoEmulator, ango_connection: str, new_bucket: Callable[[str], TestBucket]
) -> None:
    import pyarrow.parquet as pq

    bucket = new_bucket("s3")
    project_id = labeled_project(ango, {"a": "car", "b": "truck", "c": "car"}, DAY0 + timedelta(hours=3))
    context = run_context(DAY0, DAY0 + DAY)
    staged = trigger_op(project_id, f"{bucket.uri}/staging", incremental=True).execute(context)

    result = land_op(staged, f"{bucket.uri}/lake/dt=2024-05-01/", layout="parquet").execute(context)

    assert (result["destination_uri"], result["layout"], result["records"]) == (
        f"{bucket.uri}/lake/dt=2024-05-01/",
        "parquet",
        3,
    )
    assert result["partition"] == {"dt": "2024-05-01"}
    rows = {}
    for name, expected_rows in (("tasks", 3), ("annotations", 9)):  # a box, its Kind, the Note
        table = result["tables"][name]
        folder = f"{bucket.uri}/lake/{name}/dt=2024-05-01/"
        assert (table["uri"], table["rows"], table["files"], table["version"]) == (
            folder,
            expected_rows,
            1,
            None,
        )
        assert list_keys(folder, bucket.conn_id) == ["_SUCCESS", "_manifest.json", "part-00000.parquet"]
        assert manifest(folder, bucket.conn_id)["run_id"] == context["run_id"]
        data = read_object(folder, "part-00000.parquet", bucket.conn_id)
        rows[name] = pq.read_table(io.BytesIO(data)).to_pylist()
    assert sorted(row["external_id"] for row in rows["tasks"]) == ["a.jpg", "b.jpg", "c.jpg"]
    kinds = sorted(row["answer_text"] for row in rows["annotations"] if row["title"] == "Kind")
    assert kinds == ["car", "car", "truck"]


@pytest.mark.parametrize("kind", ["s3", "azure"])
def test_delta_merge_keeps_the_latest_answer_and_a_rerun_interval_commits_nothing(
    kind: str, ango: AngoEmulator, ango_connection: str, new_bucket: Callable[[str], TestBucket]
) -> None:
    bucket = new_bucket(kind)
    project_id = labeled_project(ango, {"a": "car", "b": "car"}, DAY0 + timedelta(hours=3))

    def land_interval(day: int) -> dict[str, Any]:
        start = DAY0 + day * DAY
        context = run_context(start, start + DAY)
        dag = make_dag("ango_tables_test")
        staged = trigger_op(project_id, f"{bucket.uri}/staging", incremental=True, dag=dag).execute(context)
        destination = f"{bucket.uri}/lake/dt={start.date()}/"
        land = land_op(staged, destination, layout="delta", mode="merge", dag=dag)
        result: dict[str, Any] = land.execute(context)
        return result

    first = land_interval(0)
    relabel(ango, project_id, "b", "truck", DAY0 + DAY + timedelta(hours=2), again=True)
    second = land_interval(1)
    again = land_interval(1)  # the same interval once more (a cleared task, a re-run)

    tables = second["tables"]
    uris = {name: f"{bucket.uri}/lake/{name}" for name in ("tasks", "annotations")}
    assert {name: table["uri"] for name, table in tables.items()} == uris
    assert [first["records"], second["records"], again["records"]] == [2, 1, 0]
    assert (second["mode"], second["partition"]) == ("merge", {"dt": "2024-05-02"})
    assert second["app_id"] == (
        "airflow-provider-ango/ango_tables_test/land_export/2024-05-02T00:00:00+00:00--2024-05-03T00:00:00+00:00"
    )
    versions = [{name: table["version"] for name, table in run["tables"].items()} for run in (first, second)]
    assert versions == [{"tasks": 1, "annotations": 1}, {"tasks": 2, "annotations": 2}]
    assert {name: (table["version"], table["committed"]) for name, table in again["tables"].items()} == {
        "tasks": (2, False),
        "annotations": (2, False),
    }
    # One row per task, its latest answer: b's car was replaced by its truck, once.
    assert boxes_by_task(tables, bucket.conn_id) == [("a.jpg", "car"), ("b.jpg", "truck")]


def test_mode_is_checked_against_the_layout_before_anything_is_read() -> None:
    with pytest.raises(ValueError, match=r"mode='merge' applies to layout='delta'.*not 'parquet'"):
        land_op("s3://staging/export.zip", "s3://lake/ango/", layout="parquet", mode="merge")
    with pytest.raises(ValueError, match=r"mode 'upsert' is unknown; use 'append' or 'merge'"):
        land_op("s3://staging/export.zip", "s3://lake/ango/", layout="delta", mode="upsert")
    # Templated: stored as given, checked when the task runs, before the source is looked at.
    land = land_op("not a uri", "s3://lake/ango/", layout="delta", mode="{{ params.mode }}")
    land.mode = "upsert"  # as rendered
    with pytest.raises(ValueError, match=r"mode 'upsert' is unknown"):
        land.execute(run_context())
