"""Trigger + land against the Ango emulator and the S3, GCS and Azure emulators, over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from tests.exports.helpers import (
    land_op,
    landed_records,
    list_keys,
    make_dag,
    manifest,
    run_context,
    seed_labeled,
    trigger_op,
)

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.testing.plugin import TestBucket

pytestmark = pytest.mark.emulator
KINDS = ["s3", "gcs", "azure"]
NASTY_IDS = [
    "plain.jpg",
    "../../etc/passwd",
    "folder/sub/image 1.png",
    "Ça va? #1",
    " ",
    ".hidden",
    "a" * 300,
    "dup.jpg",
    "dup.jpg",
]


@pytest.mark.parametrize("kind", KINDS)
def test_json_and_ndjson_exports_land_the_same_records(
    kind: str, ango: AngoEmulator, ango_connection: str, new_bucket: Callable[[str], TestBucket]
) -> None:
    bucket = new_bucket(kind)
    project = seed_labeled(ango, [f"img-{n:03d}.jpg" for n in range(25)] + NASTY_IDS)
    dag = make_dag()
    landed: dict[str, list[dict[str, Any]]] = {}
    for export_format in ("json", "ndjson"):
        context = run_context(run_id=f"manual__{export_format}")
        staged = trigger_op(
            project["_id"],
            f"{bucket.uri}/staging",
            export_format=export_format,
            dag=dag,
            task_id=f"trigger_{export_format}",
        ).execute(context)
        assert staged["format"] == export_format
        assert (
            staged["staging_uri"]
            == f"{bucket.uri}/staging/ango_export_test/manual__{export_format}/export.zip"
        )
        assert staged["members"] == [f"export.{export_format}"]
        destination = f"{bucket.uri}/lake/format={export_format}/"
        land = land_op(staged, destination, max_rows_per_part=10, dag=dag, task_id=f"land_{export_format}")
        result = land.execute(context)
        assert result["records"] == 34
        assert result["files"] == 4  # 10 + 10 + 10 + 4 records
        landed[export_format] = landed_records(destination, bucket.conn_id)
        keys = list_keys(destination, bucket.conn_id)
        assert keys == sorted([*(f"part-{n:05d}.ndjson" for n in range(4)), "_SUCCESS", "_manifest.json"])
        summary = manifest(destination, bucket.conn_id)
        assert summary["records"] == 34
        assert [entry["records"] for entry in summary["files"]] == [10, 10, 10, 4]
        assert summary["source"]["sha256"] == staged["sha256"]
    assert landed["json"] == landed["ndjson"]
    assert len(landed["json"]) == 34
    assert sorted(record["externalId"] for record in landed["json"]) == sorted(
        [f"img-{n:03d}.jpg" for n in range(25)] + NASTY_IDS
    )


@pytest.mark.parametrize("kind", KINDS)
def test_crash_mid_landing_leaves_nothing_and_the_retry_lands_everything(
    kind: str,
    ango: AngoEmulator,
    ango_connection: str,
    new_bucket: Callable[[str], TestBucket],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_provider_ango.exports import layouts

    bucket = new_bucket(kind)
    project = seed_labeled(ango, [f"img-{n:03d}.jpg" for n in range(40)])
    context = run_context()
    staged = trigger_op(project["_id"], f"{bucket.uri}/staging").execute(context)
    destination = f"{bucket.uri}/lake/dt=2024-05-01/"

    finish_part = layouts.PartWriter._finish_part
    finished: list[int] = []

    def crash_after_two_parts(self: layouts.PartWriter) -> None:
        if len(finished) == 2:
            raise RuntimeError("worker lost in the middle of landing")
        finish_part(self)
        finished.append(1)

    monkeypatch.setattr(layouts.PartWriter, "_finish_part", crash_after_two_parts)
    with pytest.raises(RuntimeError, match="worker lost"):
        land_op(staged, destination, max_rows_per_part=10).execute(context)
    assert len(finished) == 2
    assert list_keys(f"{bucket.uri}/lake/", bucket.conn_id) == []  # not even temporary parts

    monkeypatch.setattr(layouts.PartWriter, "_finish_part", finish_part)
    result = land_op(staged, destination, max_rows_per_part=10).execute(context)
    assert result["records"] == 40
    records = landed_records(destination, bucket.conn_id)
    assert sorted(record["externalId"] for record in records) == [f"img-{n:03d}.jpg" for n in range(40)]

    # Re-running the interval replaces the partition: the old parts past the new count go away.
    again = land_op(staged, destination, max_rows_per_part=25).execute(context)
    assert again["files"] == 2
    assert list_keys(destination, bucket.conn_id) == [
        "_SUCCESS",
        "_manifest.json",
        "part-00000.ndjson",
        "part-00001.ndjson",
    ]
    assert len(landed_records(destination, bucket.conn_id)) == 40
    assert list_keys(f"{bucket.uri}/lake/", bucket.conn_id) == [
        f"dt=2024-05-01/{key}" for key in list_keys(destination, bucket.conn_id)
    ]


def test_crash_while_publishing_hides_the_partition_until_the_retry(
    ango: AngoEmulator,
    ango_connection: str,
    new_bucket: Callable[[str], TestBucket],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_provider_ango.hooks.bucket import BucketHook

    bucket = new_bucket("s3")
    project = seed_labeled(ango, [f"img-{n:03d}.jpg" for n in range(30)])
    context = run_context()
    staged = trigger_op(project["_id"], f"{bucket.uri}/staging").execute(context)
    destination = f"{bucket.uri}/lake/dt=2024-05-01/"
    land_op(staged, destination, max_rows_per_part=10).execute(context)

    publish = BucketHook.publish
    calls: list[str] = []

    def fail_on_second(self: BucketHook, tmp_key: str, final_key: str) -> None:
        calls.append(final_key)
        if len(calls) == 2:
            raise OSError("connection reset while publishing")
        publish(self, tmp_key, final_key)

    monkeypatch.setattr(BucketHook, "publish", fail_on_second)
    with pytest.raises(OSError, match="connection reset"):
        land_op(staged, destination, max_rows_per_part=10).execute(context)
    keys = list_keys(destination, bucket.conn_id)
    assert "_SUCCESS" not in keys
    assert "_manifest.json" not in keys

    monkeypatch.setattr(BucketHook, "publish", publish)
    land_op(staged, destination, max_rows_per_part=10).execute(context)
    assert "_SUCCESS" in list_keys(destination, bucket.conn_id)
    assert len(landed_records(destination, bucket.conn_id)) == 30
    assert not [key for key in list_keys(f"{bucket.uri}/lake/", bucket.conn_id) if "_ango_tmp" in key]


@pytest.mark.parametrize("kind", KINDS)
def test_fifty_thousand_tasks_land_as_fifty_thousand_records(
    kind: str, ango: AngoEmulator, ango_connection: str, new_bucket: Callable[[str], TestBucket]
) -> None:
    bucket = new_bucket(kind)
    project = ango.control.seed_project(
        name="big", synthetic_assets={"count": 50_000, "stage": "Complete", "externalIdPrefix": "big-"}
    )
    context = run_context()
    staged = trigger_op(project["_id"], f"{bucket.uri}/staging").execute(context)
    destination = f"{bucket.uri}/lake/big/"
    result = land_op(staged, destination, compression="gzip").execute(context)
    assert result["records"] == 50_000
    assert result["files"] == 1
    summary = manifest(destination, bucket.conn_id)
    assert summary["records"] == 50_000
    assert summary["files"][0]["name"] == "part-00000.ndjson.gz"
    records = landed_records(destination, bucket.conn_id)
    assert len(records) == 50_000
    assert len({record["task"]["taskId"] for record in records}) == 50_000


def test_empty_export_lands_an_empty_manifest(
    ango: AngoEmulator, ango_connection: str, new_bucket: Callable[[str], TestBucket]
) -> None:
    bucket = new_bucket("s3")
    project = seed_labeled(ango, [])
    context = run_context()
    staged = trigger_op(project["_id"], f"{bucket.uri}/staging").execute(context)
    for layout in ("ndjson", "json", "split", "raw"):
        destination = f"{bucket.uri}/lake/{layout}/"
        result = land_op(staged, destination, layout=layout, task_id=f"land_{layout}").execute(context)
        assert result["records"] == 0
        summary = manifest(destination, bucket.conn_id)
        assert summary["records"] == 0
        expected = ["_SUCCESS", "_manifest.json"] + (["export.zip"] if layout == "raw" else [])
        assert list_keys(destination, bucket.conn_id) == expected
        assert len(summary["files"]) == (1 if layout == "raw" else 0)
