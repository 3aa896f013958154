"""Three adjacent incremental exports from the Ango emulator, merged into Delta tables on moto's S3.

The export path is the production one: ``AngoHubHook`` asks the emulator for the tasks updated
in each ``[start, end)`` interval, streams the zip, and :func:`iter_zip_records` reads it. Tasks
are re-labeled between intervals (sent back to Label and submitted with another answer), so
the tables must end with exactly the latest answer of every task.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_ango.exports.records import iter_zip_records
from airflow_provider_ango.exports.tables import AppTransaction, commit_delta_tables
from airflow_provider_ango.testing.samples import CATEGORY_SCHEMA
from tests.exports.tables.conftest import delta_datasets, duckdb_rows, read_delta

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.testing.plugin import TestBucket

pytestmark = pytest.mark.emulator

DAY0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def answer(*vehicles: tuple[str, int], note: str | None = None) -> dict[str, Any]:
    """A labeler's answer: vehicle boxes (kind, x) and the note."""
    return {
        "tools": [
            {
                "schemaId": "vehicle",
                "bounding-box": {"x": x, "y": 6, "width": 20, "height": 12},
                "classifications": [{"schemaId": "kind", "answer": kind}],
            }
            for kind, x in vehicles
        ],
        "classifications": [{"schemaId": "note", "answer": note}] if note else [],
        "relations": [],
    }


def label(
    ango: AngoEmulator, project_id: str, name: str, given: dict[str, Any], moment: datetime, *, again: bool
) -> None:
    if again:  # re-labeling: the task goes back to Label first
        ango.control.act(
            project_id,
            action="move",
            toStage="Label",
            externalIds=[f"{name}.jpg"],
            at=_iso(moment - HOUR / 2),
        )
    ango.control.act(project_id, action="submit", externalIds=[f"{name}.jpg"], answer=given, at=_iso(moment))


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def land_interval(hook: Any, project_id: str, bucket: TestBucket, day: int, scratch: Path) -> Any:
    from airflow_provider_ango.models import ExportOptions, TimeWindow

    start, end = DAY0 + day * DAY, DAY0 + (day + 1) * DAY
    url = hook.request_export(project_id, ExportOptions(updated_at=TimeWindow.half_open(start, end)))
    zip_path = scratch / f"export-{day}.zip"
    with hook.open_export_stream(url) as chunks, zip_path.open("wb") as out:
        for chunk in chunks:
            out.write(chunk)
    return commit_delta_tables(
        iter_zip_records(zip_path),
        f"{bucket.uri}/ango/",
        conn_id=bucket.conn_id,
        mode="merge",
        transaction=AppTransaction.for_interval("export_dag", "land", start, end),
        commit_metadata={"dag_id": "export_dag", "interval_start": start.isoformat()},
    )


def test_three_incremental_emulator_exports_leave_the_latest_answer_of_every_task(
    ango: AngoEmulator, ango_connection: str, s3_bucket: TestBucket, tmp_path: Path
) -> None:
    from airflow_provider_ango.hooks.ango import AngoHubHook

    assets = [{"data": f"https://example.com/{name}.jpg", "externalId": f"{name}.jpg"} for name in "abcd"]
    project = ango.control.seed_project(
        name="lake", category_schema=CATEGORY_SCHEMA, assets=assets, workflow=["Label"]
    )
    project_id = project["_id"]
    hook = AngoHubHook(ango_conn_id=ango_connection)
    plan = {  # day -> [(task, answer, re-labeled?)]
        0: [
            ("a", answer(("car", 1))),
            ("b", answer(("car", 2), ("car", 3), note="two")),
            ("c", answer(("truck", 4))),
        ],
        1: [("b", answer(("truck", 20), note="one truck")), ("d", answer(("car", 5)))],
        2: [("c", answer(note="empty road")), ("a", answer(("truck", 30), ("truck", 31)))],
    }
    seen: set[str] = set()
    results = []
    for day, work in plan.items():
        for hour, (name, given) in enumerate(work, start=1):
            label(ango, project_id, name, given, DAY0 + day * DAY + hour * HOUR, again=name in seen)
            seen.add(name)
        results.append(land_interval(hook, project_id, s3_bucket, day, tmp_path))

    assert [result.records for result in results] == [3, 2, 2]
    assert [result.table("tasks").version for result in results] == [1, 2, 3]
    # The latest answer of each task, through DuckDB over both tables' Arrow datasets:
    boxes = duckdb_rows(
        "SELECT t.external_id, a.bbox_x, k.answer_text FROM annotations a "
        "JOIN tasks t USING (task_id) "
        "JOIN annotations k ON k.task_id = a.task_id AND k.parent_key = a.annotation_key "
        "WHERE a.tool = 'bounding-box'",
        **delta_datasets(results[-1], s3_bucket.conn_id),
    )
    assert boxes == [
        ("a.jpg", 30.0, "truck"),
        ("a.jpg", 31.0, "truck"),
        ("b.jpg", 20.0, "truck"),
        ("d.jpg", 5.0, "car"),
    ]
    notes = duckdb_rows(
        "SELECT t.external_id, a.answer_text, a.title FROM annotations a JOIN tasks t USING (task_id) "
        "WHERE a.kind = 'classification' AND a.parent_key IS NULL",
        **delta_datasets(results[-1], s3_bucket.conn_id),
    )
    assert notes == [("b.jpg", "one truck", "Note"), ("c.jpg", "empty road", "Note")]
    # ... and through deltalake: one row per task, in its latest stage, with the history of labels.
    tasks = read_delta(results[-1].uris["tasks"], s3_bucket.conn_id).to_pylist()
    assert sorted((row["external_id"], row["stage"]) for row in tasks) == [
        (f"{n}.jpg", "Complete") for n in "abcd"
    ]
    latest = {row["external_id"]: row for row in tasks}
    assert latest["a.jpg"]["updated_at"] == DAY0 + 2 * DAY + 2 * HOUR
    assert latest["a.jpg"]["tool_count"] == 2
