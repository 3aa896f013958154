"""Pure logic of the lake tables: record -> rows, the schemas, destinations, transactions, options.

The record below has the shape of the sample in Ango's export documentation (seed
export-format-asset): a video asset with boxes and polygons on two frames, one answer per
classification type and a stage history that ends in an accepted review.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_ango.exceptions import AngoExportConfigError, AngoExportFormatError
from airflow_provider_ango.exports.tables.location import delta_rs_uri, table_paths
from airflow_provider_ango.exports.tables.result import AppTransaction, TableOutcome, TablesResult
from airflow_provider_ango.exports.tables.rows import split_record, to_micros
from airflow_provider_ango.exports.tables.schema import column_names, table_schema
from airflow_provider_ango.exports.tables.storage import StorageOptions
from airflow_provider_ango.hooks.bucket import parse_bucket_uri

UTC = timezone.utc
META = {"createdAt": "2023-08-23T11:20:32.792Z", "createdBy": "lab@example.com", "createdIn": "Label"}


def classification(tool: str, answer: Any, index: int) -> dict[str, Any]:
    return {
        "objectId": f"c{index}",
        "schemaId": f"s-{tool}",
        "tool": tool,
        "title": tool[:3],
        "answer": answer,
        "classifications": [],
    }


def video_record() -> dict[str, Any]:
    box = {"x": 301.5, "y": 429.0, "height": 173.75, "width": 118.0}
    polygon = [[593.5, 1121.0], [443.25, 1349.5], [576.0, 1375.0]]
    tools = [
        {
            "bounding-box": box,
            "objectId": "bb1",
            "classifications": [],
            "metadata": META,
            "schemaId": "s-bb",
            "page": 504,
            "title": "bb",
        },
        {
            "polygon": polygon,
            "objectId": "pg1",
            "classifications": [],
            "schemaId": "s-pg",
            "page": 504,
            "title": "gon",
        },
        {
            "bounding-box": dict(box, x=801.0),
            "objectId": "bb1",
            "schemaId": "s-bb",
            "page": 506,
            "title": "bb",
            "classifications": [],
            "interpolated": True,
        },
    ]
    answers = [
        ("radio", "1"),
        ("checkbox", ["1"]),
        ("single-dropdown", "1"),
        ("multi-dropdown", ["1", "2"]),
        ("tree-dropdown", ["1", "1 / 2"]),
        ("text", "2"),
        ("boolean", True),
    ]
    history = [
        {"stage": "Start", "stageId": "Start", "duration": 0, "completedAt": "2023-08-23T10:55:53.495Z"},
        {
            "stage": "Label",
            "stageId": "Label",
            "duration": 46753,
            "completedAt": "2023-08-23T11:21:04.393Z",
            "completedBy": "lab@example.com",
        },
        {
            "stage": "Review",
            "stageId": "5e8f",
            "duration": 2843,
            "reviewStatus": "Accepted",
            "completedAt": "2023-08-23T11:36:38.074Z",
            "completedBy": "rev@example.com",
        },
    ]
    return {
        "asset": "https://private.example.com/video.webm?X-Amz-Signature=abc",
        "externalId": "video-webm.webm",
        "metadata": {"width": 1200, "height": 1200, "frameTotal": 507, "frameRate": 30},
        "batches": [],
        "task": {
            "taskId": "64e5e5b985eb730015b4ebd9",
            "stage": "Complete",
            "stageId": "Complete",
            "updatedAt": "2023-08-23T11:36:38.027Z",
            "updatedBy": "rev@example.com",
            "totalDuration": 49596,
            "tools": tools,
            "classifications": [classification(tool, answer, n) for n, (tool, answer) in enumerate(answers)],
            "relations": [
                {
                    "from": "bb1",
                    "to": "pg1",
                    "objectId": "r1",
                    "schemaId": "s-rel",
                    "direction": "straight",
                    "page": 0,
                    "title": "sng",
                },
                {"group": ["bb1", "pg1"], "objectId": "r2", "schemaId": "s-grp", "title": "grp"},
            ],
            "stageHistory": history,
        },
    }


def at(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def test_a_task_row_holds_ids_stage_review_times_durations_metadata_and_the_record() -> None:
    task, _ = split_record(video_record(), 1)

    assert (task["task_id"], task["external_id"], task["stage"], task["review_status"]) == (
        "64e5e5b985eb730015b4ebd9",
        "video-webm.webm",
        "Complete",
        "Accepted",
    )
    assert task["updated_at"] == at("2023-08-23T11:36:38.027Z")
    assert (task["completed_at"], task["completed_by"]) == (at("2023-08-23T11:36:38.074Z"), "rev@example.com")
    assert task["total_duration_ms"] == 49596
    assert [entry["duration_ms"] for entry in task["stage_history"]] == [0, 46753, 2843]
    assert (task["asset_width"], task["frame_total"], task["frame_rate"]) == (1200.0, 507, 30.0)
    assert json.loads(task["metadata_json"]) == video_record()["metadata"]
    assert task["context_data_json"] is None
    assert (task["tool_count"], task["classification_count"], task["relation_count"]) == (3, 7, 2)
    assert json.loads(task["record_json"]) == video_record()


def test_annotation_rows_type_geometry_answers_frames_and_relations() -> None:
    _, annotations = split_record(video_record(), 1)
    rows = list(annotations)
    by_key = {row["annotation_key"]: row for row in rows}

    box = by_key["tools/0"]
    assert (box["kind"], box["tool"], box["page"], box["object_id"]) == ("tool", "bounding-box", 504, "bb1")
    assert (box["bbox_x"], box["bbox_y"], box["bbox_width"], box["bbox_height"]) == (
        301.5,
        429.0,
        118.0,
        173.75,
    )
    assert (box["created_at"], box["created_by"], box["created_in"]) == (
        at(META["createdAt"]),
        "lab@example.com",
        "Label",
    )
    assert box.get("geometry_json") is None
    assert by_key["tools/1"]["points"] == [
        {"x": 593.5, "y": 1121.0},
        {"x": 443.25, "y": 1349.5},
        {"x": 576.0, "y": 1375.0},
    ]
    assert (by_key["tools/2"]["page"], by_key["tools/2"]["interpolated"]) == (506, True)
    answers = {
        row["tool"]: (row.get("answer_text"), row.get("answer_values"))
        for row in rows
        if row["kind"] == "classification"
    }
    assert answers == {
        "radio": ("1", None),
        "checkbox": (None, ["1"]),
        "single-dropdown": ("1", None),
        "multi-dropdown": (None, ["1", "2"]),
        "tree-dropdown": (None, ["1", "1 / 2"]),
        "text": ("2", None),
        "boolean": ("true", None),
    }
    single, group = by_key["relations/0"], by_key["relations/1"]
    assert (single["relation_from"], single["relation_to"], single["relation_direction"]) == (
        "bb1",
        "pg1",
        "straight",
    )
    assert group["relation_group"] == ["bb1", "pg1"]
    assert {row["task_updated_at"] for row in by_key.values()} == {at("2023-08-23T11:36:38.027Z")}


def test_other_shapes_nested_classifications_and_unknown_tools() -> None:
    record = video_record()
    record["task"]["tools"] = [
        {
            "rotated-bounding-box": {
                "x": 1,
                "y": 2,
                "width": 3,
                "height": 4,
                "rotation": -41,
                "corners": [[1, 2], [3, 4], [5, 6], [7, 8]],
            },
            "objectId": "r",
            "classifications": [
                {**classification("radio", "car", 0), "classifications": [classification("text", "blue", 1)]},
            ],
        },
        {"point": [318.5, 182.25], "objectId": "p"},
        {"ner": {"start": 3, "end": 7}, "objectId": "n"},
        {"ner": {"start": 2.05, "end": 6.06, "selection": "text"}, "objectId": "audio"},
        {"pdf": {"position": {"pageNumber": 1}, "content": {"text": "Deutsche Post AG"}}, "objectId": "pdf"},
        {"spline": {"controlPoints": [[0, 0]]}, "objectId": "sp", "tool": "spline"},
        {"polygon": [[1, "x"]], "objectId": "bad"},
    ]
    record["task"]["classifications"] = []
    record["task"]["relations"] = []
    _, rows = split_record(record, 1)
    by_key = {row["annotation_key"]: row for row in rows}

    rotated = by_key["tools/0"]
    assert (rotated["rbox_rotation"], rotated["rbox_width"], len(rotated["points"])) == (-41.0, 3.0, 4)
    nested, deeper = (
        by_key["tools/0/classifications/0"],
        by_key["tools/0/classifications/0/classifications/0"],
    )
    assert (nested["parent_key"], nested["parent_object_id"], nested["answer_text"]) == (
        "tools/0",
        "r",
        "car",
    )
    assert (deeper["parent_key"], deeper["parent_object_id"], deeper["answer_text"]) == (
        "tools/0/classifications/0",
        "c0",
        "blue",
    )
    assert (by_key["tools/1"]["point_x"], by_key["tools/1"]["point_y"]) == (318.5, 182.25)
    assert (
        by_key["tools/2"]["ner_start"],
        by_key["tools/2"]["ner_end"],
        by_key["tools/2"].get("geometry_json"),
    ) == (3.0, 7.0, None)
    assert json.loads(by_key["tools/3"]["geometry_json"]) == {"start": 2.05, "end": 6.06, "selection": "text"}
    assert by_key["tools/4"]["tool"] == "pdf"
    assert json.loads(by_key["tools/4"]["geometry_json"])["content"]["text"] == "Deutsche Post AG"
    assert (by_key["tools/5"]["tool"], by_key["tools/5"]["geometry_json"]) == (
        "spline",
        '{"controlPoints":[[0,0]]}',
    )
    assert (by_key["tools/6"]["points"], by_key["tools/6"]["geometry_json"]) == (None, '[[1,"x"]]')


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ([1, 2], r"export record #3 is a list, not an object"),
        ({"externalId": "a.jpg"}, r"export record #3 \(externalId 'a.jpg'\) has no task.taskId"),
        ({"task": {"taskId": ""}}, r"has no task.taskId"),
    ],
)
def test_records_that_cannot_be_keyed_are_refused_by_position(record: Any, message: str) -> None:
    with pytest.raises(AngoExportFormatError, match=message):
        split_record(record, 3)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T00:00:00.000Z", 1714521600000000),
        ("2024-05-01T02:00:00.123+02:00", 1714521600123000),
        ("2024-05-01T00:00:00", 1714521600000000),
        (1686656626604, 1686656626604000),  # epoch milliseconds, as some annotation metadata has
        ("yesterday", None),
        (True, None),
        (None, None),
    ],
)
def test_times_are_read_from_iso_text_and_epoch_milliseconds(value: Any, expected: int | None) -> None:
    assert to_micros(value) == expected


def test_schemas_key_columns_partitions_and_comments() -> None:
    tasks = table_schema("tasks")
    annotations = table_schema("annotations", ("dt",))

    assert [f.name for f in tasks if not f.nullable] == ["task_id"]
    assert [f.name for f in annotations if not f.nullable] == ["task_id", "annotation_key"]
    assert annotations.names[-1] == "dt"
    assert str(annotations.field("points").type) == "list<item: struct<x: double, y: double>>"
    assert all(field.metadata and b"comment" in field.metadata for field in tasks)
    assert tasks.metadata == {b"ango.tables.schema_version": b"1"}
    with pytest.raises(ValueError, match="partition column 'stage' is also a column"):
        table_schema("tasks", ("stage",))
    assert set(column_names("tasks")) & set(column_names("annotations")) == {
        "task_id",
        "updated_at",
        "updated_by",
    }


@pytest.mark.parametrize(
    ("prefix", "root", "partition"),
    [
        ("lake/ango/dt=2024-05-01/", "lake/ango/", (("dt", "2024-05-01"),)),
        ("lake/year=2024/month=05/", "lake/", (("year", "2024"), ("month", "05"))),
        ("lake/ango/", "lake/ango/", ()),
        ("dt=2024-05-01/", "", (("dt", "2024-05-01"),)),
        ("lake/hour=2024-05-01%2010%3A00/", "lake/", (("hour", "2024-05-01 10:00"),)),
    ],
)
def test_destinations_split_into_a_root_and_hive_partitions(prefix: str, root: str, partition: Any) -> None:
    paths = table_paths(prefix)
    assert (paths.root, paths.partition) == (root, partition)
    assert paths.table_prefix("tasks") == f"{root}tasks/" + "".join(f"{k}={v}/" for k, v in partition)


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("lake/stage=Complete/", "'stage' as a partition folder, but it is a column"),
        ("lake/dt=1/dt=2/", "names partition 'dt' twice"),
        ("lake/tasks/", r"ends in a table folder \(tasks/\)"),
    ],
)
def test_destinations_that_would_mix_tables_or_columns_are_refused(prefix: str, message: str) -> None:
    with pytest.raises(AngoExportConfigError, match=message):
        table_paths(prefix)


def test_delta_rs_uris() -> None:
    assert delta_rs_uri(parse_bucket_uri("s3://b"), "lake/tasks/") == "s3://b/lake/tasks"
    assert delta_rs_uri(parse_bucket_uri("gs://b"), "lake/tasks/") == "gs://b/lake/tasks"
    assert delta_rs_uri(parse_bucket_uri("wasb://c@acct/x"), "x/tasks/") == "az://c/x/tasks"


def test_an_interval_gets_its_own_application_transaction() -> None:
    start = datetime(2024, 5, 1, tzinfo=UTC)
    first = AppTransaction.for_interval("dag", "land", start, start + timedelta(days=1))
    again = AppTransaction.for_interval("dag", "land", start, start + timedelta(days=1))
    later = AppTransaction.for_interval("dag", "land", start + timedelta(days=1), start + timedelta(days=2))

    assert first == again
    assert (
        first.app_id == "airflow-provider-ango/dag/land/2024-05-01T00:00:00+00:00--2024-05-02T00:00:00+00:00"
    )
    assert first.version == 1714608000000
    assert later.app_id != first.app_id
    assert AppTransaction.for_interval("dag", "land", None, None, run_id="manual__1").app_id.endswith(
        "run:manual__1"
    )
    with pytest.raises(AngoExportConfigError, match="data interval or its run_id"):
        AppTransaction.for_interval("dag", "land", None, None)
    with pytest.raises(AngoExportConfigError, match="timezone-aware"):
        AppTransaction.for_interval("dag", "land", datetime(2024, 5, 1), datetime(2024, 5, 2))
    with pytest.raises(AngoExportConfigError, match="version must be an int >= 0"):
        AppTransaction("x", -1)


def test_results_carry_uris_and_versions_for_xcom() -> None:
    result = TablesResult(
        "delta",
        3,
        (
            TableOutcome("tasks", "s3://b/lake/tasks", 3, version=4),
            TableOutcome("annotations", "s3://b/lake/annotations", 9, version=7),
        ),
        mode="merge",
        app_id="a",
    )
    assert result.versions == {"tasks": 4, "annotations": 7}
    xcom = result.to_xcom()
    assert xcom["tables"]["annotations"]["uri"] == "s3://b/lake/annotations"
    assert json.loads(json.dumps(xcom)) == xcom


def test_storage_options_never_show_their_secrets() -> None:
    options = StorageOptions(
        {"aws_secret_access_key": "s3cr3t-value-123", "aws_region": "eu-west-1"}, ("s3cr3t-value-123",)
    )

    assert "s3cr3t" not in repr(options)
    assert "s3cr3t" not in str(options)
    assert (
        options.scrub("denied for s3cr3t-value-123 at https://x/y?sig=abc")
        == "denied for *** at https://x/y?<redacted>"
    )


def test_importing_the_tables_package_loads_no_pyarrow_deltalake_or_cloud_sdk() -> None:
    probe = (
        "import sys, json\n"
        "import airflow_provider_ango.exports.tables as t\n"
        "from airflow_provider_ango.exports.tables import delta, delta_files, reading, storage\n"
        "heavy = ('pyarrow', 'deltalake', 'duckdb', 'boto3', 'botocore', 'azure', 'google.cloud.storage')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(heavy))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
