"""The export operators check their arguments before they request, defer or write: staging URI and
bucket, windows, the destination against the staging prefix and the staged zip; an empty incremental
interval requests nothing and lands an empty manifest; staged zips that are missing or unusable are
named. Real buckets (moto) and the Ango emulator."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_ango.exceptions import (
    AngoConfigError,
    AngoExportConfigError,
    AngoExportFormatError,
    AngoInputNotFoundError,
    AngoWindowError,
)
from tests.exports.helpers import START, land_op, list_keys, manifest, run_context, seed_labeled, trigger_op

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.testing.plugin import TestBucket

pytestmark = pytest.mark.emulator


def export_requests(ango: AngoEmulator) -> list[dict[str, Any]]:
    return ango.control.requests(path_pattern=r"^/v2/export")


@pytest.mark.parametrize(
    ("staging", "argument", "message"),
    [
        ("s3:/no-bucket", "staging_uri", "Bad bucket URI"),
        ("s3://{missing}/staging", "staging_uri", "does not exist for connection 'aws_default'"),
    ],
)
def test_a_deferrable_export_with_a_bad_staging_uri_fails_before_it_defers(
    ango: AngoEmulator,
    ango_connection: str,
    new_bucket: Callable[[str], TestBucket],
    staging: str,
    argument: str,
    message: str,
) -> None:
    new_bucket("s3")  # the S3 emulator and its connection, not this bucket
    project = seed_labeled(ango, ["a.jpg"])
    uri = staging.format(missing="ango-missing-bucket-0123")
    with pytest.raises(AngoConfigError) as refused:
        trigger_op(project["_id"], uri, deferrable=True).execute(run_context())
    assert argument in str(refused.value)
    assert message in str(refused.value)
    assert export_requests(ango) == []  # Ango never built an export for nothing


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        (
            {"gte": "2024-05-02T00:00:00Z", "lt": "2024-05-01T00:00:00Z"},
            "updated_at: time window starts after it ends: the lower bound 2024-05-02T00:00:00+00:00",
        ),
        ({"gte": "2024-05-01T00:00:00Z", "lt": "2024-05-01T00:00:00Z"}, "holds no time"),
    ],
)
def test_inverted_and_empty_windows_fail_naming_the_argument_and_the_fix(
    ango: AngoEmulator,
    ango_connection: str,
    new_bucket: Callable[[str], TestBucket],
    window: dict[str, str],
    expected: str,
) -> None:
    bucket = new_bucket("s3")
    project = seed_labeled(ango, ["a.jpg"])
    with pytest.raises(AngoWindowError) as refused:
        trigger_op(project["_id"], f"{bucket.uri}/s", updated_at=window, deferrable=True).execute(
            run_context()
        )
    assert expected in str(refused.value)
    assert "give" in str(refused.value)  # the fix
    assert export_requests(ango) == []


def test_an_empty_incremental_interval_requests_nothing_and_lands_an_empty_manifest(
    ango: AngoEmulator,
    ango_connection: str,
    new_bucket: Callable[[str], TestBucket],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    bucket = new_bucket("s3")
    project = seed_labeled(ango, ["a.jpg", "b.jpg"])
    destination = f"{bucket.uri}/lake/dt=2024-05-01/"
    # An earlier landing of the partition: replaced by the empty one.
    staged = trigger_op(project["_id"], f"{bucket.uri}/staging").execute(run_context(run_id="earlier"))
    land_op(staged, destination, emit_asset=False).execute(run_context())
    ango.control.clear_requests()

    empty = run_context(START, START)  # data_interval_start == data_interval_end
    result = trigger_op(project["_id"], f"{bucket.uri}/staging", incremental=True, deferrable=True).execute(
        empty
    )
    assert result["staging_uri"] is None
    assert result["empty"] is True
    assert export_requests(ango) == []
    assert "CronDataIntervalTimetable" in caplog.text + capfd.readouterr().out

    landed = land_op(result, destination, emit_asset=False).execute(empty)
    assert landed["records"] == 0
    assert landed["files"] == 0
    assert list_keys(destination, bucket.conn_id) == ["_SUCCESS", "_manifest.json"]
    assert manifest(destination, bucket.conn_id)["files"] == []


@pytest.mark.parametrize(
    "destination",
    [
        "{zip_folder}",  # the staged zip's own folder
        "{staging}/lake/",  # inside the staging prefix
        "{bucket}/",  # a bucket root holding the staging prefix
    ],
)
def test_a_destination_overlapping_the_staging_area_is_refused_and_the_zip_kept(
    ango: AngoEmulator, ango_connection: str, new_bucket: Callable[[str], TestBucket], destination: str
) -> None:
    bucket = new_bucket("s3")
    project = seed_labeled(ango, ["a.jpg"])
    staging = f"{bucket.uri}/staging"
    staged = trigger_op(project["_id"], staging).execute(run_context())
    zip_folder = staged["staging_uri"].removesuffix("export.zip")
    target = destination.format(staging=staging, bucket=bucket.uri, zip_folder=zip_folder)
    before = list_keys(bucket.uri, bucket.conn_id)
    with pytest.raises(AngoExportConfigError) as refused:
        land_op(staged, target, emit_asset=False).execute(run_context())
    assert "destination" in str(refused.value)
    assert "land under another prefix" in str(refused.value)
    assert list_keys(bucket.uri, bucket.conn_id) == before
    assert any(key.endswith("export.zip") for key in before)


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "error", "expected"),
    [
        (None, AngoInputNotFoundError, "does not exist"),
        (b"<html>not a zip</html>", AngoExportFormatError, "is not a readable zip"),
        (zip_of({"export.json": b"[]" * 4000})[:-30], AngoExportFormatError, "is not a readable zip"),
        (zip_of({"readme.txt": b"hello"}), AngoExportFormatError, "holds no .json or .ndjson file"),
    ],
    ids=["missing", "not-a-zip", "truncated", "json-less"],
)
def test_unusable_staged_zips_are_named_and_nothing_is_landed(
    new_bucket: Callable[[str], TestBucket], content: bytes | None, error: type[Exception], expected: str
) -> None:
    from airflow_provider_ango.hooks.bucket import BucketHook

    bucket = new_bucket("s3")
    staged_uri = f"{bucket.uri}/staging/run/export.zip"
    if content is not None:
        BucketHook.from_uri(bucket.uri, bucket.conn_id).write_bytes("staging/run/export.zip", content)
    destination = f"{bucket.uri}/lake/dt=2024-05-01/"
    with pytest.raises(error) as refused:
        land_op(staged_uri, destination, emit_asset=False).execute(run_context())
    message = str(refused.value)
    assert staged_uri in message
    assert expected in message
    assert "clear the trigger task" in message
    assert not [key for key in list_keys(bucket.uri, bucket.conn_id) if key.startswith("lake/")]


def test_a_destination_bucket_that_does_not_exist_is_named_before_anything_is_read(
    new_bucket: Callable[[str], TestBucket],
) -> None:
    bucket = new_bucket("s3")
    source = f"{bucket.uri}/staging/run/export.zip"
    with pytest.raises(
        AngoConfigError, match=r"destination_uri='s3://ango-no-such-lake-42/dt=1/'.*does not exist"
    ):
        land_op(source, "s3://ango-no-such-lake-42/dt=1/", emit_asset=False).execute(
            run_context(START, START + timedelta(days=1))
        )
