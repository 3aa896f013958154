"""The export request in the triggerer, the sealed link, expired links, and every export option."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_ango.testing.triggers import first_event
from tests.exports.helpers import land_op, landed_records, run_context, seed_labeled, trigger_op

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.testing.plugin import TestBucket

pytestmark = pytest.mark.emulator


def _defer(operator: Any, context: dict[str, Any]) -> Any:
    from airflow.sdk.exceptions import TaskDeferred

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    assert deferred.value.method_name == "execute_complete"
    return deferred.value.trigger


def _export_requests(ango: AngoEmulator) -> list[dict[str, Any]]:
    return ango.control.requests(path_pattern=r"^/v2/export")


def _file_requests(ango: AngoEmulator) -> list[dict[str, Any]]:
    return ango.control.requests(path_pattern=r"^/_files/")


def test_deferred_export_recovers_from_an_expired_link(
    ango: AngoEmulator,
    ango_connection: str,
    new_bucket: Callable[[str], TestBucket],
    fernet_key: str,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from airflow_provider_ango.triggers.exports import AngoExportTrigger

    bucket = new_bucket("s3")
    project = seed_labeled(ango, [f"img-{n}.jpg" for n in range(12)])
    context = run_context()
    operator = trigger_op(project["_id"], f"{bucket.uri}/staging", deferrable=True)
    trigger = _defer(operator, context)
    assert isinstance(trigger, AngoExportTrigger)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_ango.triggers.exports.AngoExportTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs  # plain values only

    event = asyncio.run(first_event(AngoExportTrigger(**kwargs)))
    payload = event.payload
    assert payload["status"] == "success"
    assert payload["sealed_url"]  # encrypted with the Fernet key
    assert "Signature" not in json.dumps(payload)
    assert payload["url"].endswith("?<redacted>")

    # The link expires before the worker picks the event up (the triggerer was slow, say).
    ango.control.advance_clock(200_000)
    staged = operator.execute_complete(context, payload)
    assert staged["bytes"] > 0
    statuses = [entry["status"] for entry in _file_requests(ango)]
    assert statuses == [403, 200]  # the sealed link was tried, refused, and a new one worked
    assert len(_export_requests(ango)) == 2
    assert "Signature" not in json.dumps(staged)

    destination = f"{bucket.uri}/lake/"
    land_op(staged, destination).execute(context)
    assert len(landed_records(destination, bucket.conn_id)) == 12
    captured = capfd.readouterr()
    for text in (captured.out + captured.err, caplog.text):
        assert "Signature=" not in text
        assert ango.api_key not in text
    assert "requesting a new export link" in caplog.text


def test_without_a_fernet_key_the_link_is_not_passed_on(
    ango: AngoEmulator,
    ango_connection: str,
    new_bucket: Callable[[str], TestBucket],
    no_fernet_key: None,
) -> None:
    bucket = new_bucket("gcs")
    project = seed_labeled(ango, ["a.jpg", "b.jpg"])
    context = run_context()
    operator = trigger_op(project["_id"], f"{bucket.uri}/staging", deferrable=True)
    event = asyncio.run(first_event(_defer(operator, context)))
    assert event.payload["status"] == "success"
    assert event.payload["sealed_url"] is None
    staged = operator.execute_complete(context, event.payload)
    assert len(_export_requests(ango)) == 2  # asked again from the worker
    assert staged["sha256"]


def test_links_that_keep_expiring_fail_with_a_bounded_number_of_requests(
    ango: AngoEmulator, ango_connection: str, new_bucket: Callable[[str], TestBucket]
) -> None:
    from airflow_provider_ango.exceptions import AngoExportError

    bucket = new_bucket("s3")
    project = seed_labeled(ango, ["a.jpg"])
    ango.control.add_fault(r"^/_files/", "status", count=5, status=403)  # every link refused
    operator = trigger_op(project["_id"], f"{bucket.uri}/staging", max_url_refreshes=2)
    with pytest.raises(AngoExportError, match="gave up after 3 export requests") as raised:
        operator.execute(run_context())
    assert "Signature" not in str(raised.value)
    assert len(_export_requests(ango)) == 3
    assert not [key for key in _keys(bucket) if key.startswith("staging/")]


def _keys(bucket: TestBucket) -> list[str]:
    from tests.exports.helpers import list_keys

    return list_keys(bucket.uri, bucket.conn_id)


def test_trigger_error_event_fails_the_task_with_the_hooks_message(
    ango: AngoEmulator, ango_connection: str, new_bucket: Callable[[str], TestBucket]
) -> None:
    from airflow_provider_ango.exceptions import AngoExportError

    bucket = new_bucket("s3")
    operator = trigger_op("0123456789abcdef01234567", f"{bucket.uri}/staging", deferrable=True)
    event = asyncio.run(first_event(_defer(operator, run_context())))
    assert event.payload["status"] == "error"
    assert event.payload["http_status"] == 404
    with pytest.raises(AngoExportError, match="failed in the triggerer: AngoNotFoundError"):
        operator.execute_complete(run_context(), event.payload)


def test_every_export_option_reaches_ango(
    ango: AngoEmulator, ango_connection: str, new_bucket: Callable[[str], TestBucket]
) -> None:
    bucket = new_bucket("s3")
    project = seed_labeled(ango, ["a.jpg", "b.jpg"], batches=["night", "day"])
    operator = trigger_op(
        project["_id"],
        f"{bucket.uri}/staging",
        export_format="ndjson",
        export_type="task",
        stages=["Complete", "Label"],
        batches=["night"],  # a name: resolved to its id
        task_types=["default"],
        include_metadata=False,
        include_history=False,
        include_only_key_frames=True,
        include_idle_blur_durations=True,
        send_email=False,
        do_not_notify=True,
        updated_at={"gte": "2024-05-01T02:00:00+02:00", "lt": "2030-01-01T00:00:00Z"},
        created_at={"$gt": "2020-01-01T00:00:00Z"},
    )
    staged = operator.execute(run_context())
    night = next(batch["_id"] for batch in project["batches"] if batch["name"] == "night")
    expected = {
        "project": project["_id"],
        "format": "ndjson",
        "type": "task",
        "stage": '["Complete","Label"]',
        "batches": f'["{night}"]',
        "taskTypes": '["default"]',
        "includeMetadata": "false",
        "includeHistory": "false",
        "includeOnlyKeyFrames": "true",
        "includeIdleBlurDurations": "true",
        "sendEmail": "false",
        "doNotNotify": "true",
        "updatedAt": '{"$gte":"2024-05-01T00:00:00.000Z","$lt":"2030-01-01T00:00:00.000Z"}',
        "createdAt": '{"$gt":"2020-01-01T00:00:00.000Z"}',
    }
    assert staged["options"] == expected
    assert _export_requests(ango)[-1]["queryParams"] == expected
    assert staged["window"] == {
        "updatedAt": {"$gte": "2024-05-01T00:00:00.000Z", "$lt": "2030-01-01T00:00:00.000Z"},
        "createdAt": {"$gt": "2020-01-01T00:00:00.000Z"},
    }


def test_bad_arguments_fail_early_naming_the_fix(ango: AngoEmulator, ango_connection: str) -> None:
    from airflow_provider_ango.exceptions import (
        AngoBatchNotFoundError,
        AngoExportConfigError,
        AngoWindowError,
    )

    project = seed_labeled(ango, ["a.jpg"], batches=["night"])
    with pytest.raises(ValueError, match="do not pass both"):
        trigger_op(
            project["_id"], "s3://x/staging", incremental=True, updated_at={"gte": "2024-01-01T00:00Z"}
        )
    with pytest.raises(AngoWindowError, match=r"updated_at\.gte: .* has no timezone"):
        trigger_op(project["_id"], "s3://x/s", updated_at={"gte": "2024-01-01T00:00:00"}).execute(
            run_context()
        )
    with pytest.raises(AngoBatchNotFoundError, match=r"batch\(es\) 'weekend' are not batches of .*'night'"):
        trigger_op(project["_id"], "s3://x/s", batches=["weekend"]).execute(run_context())
    with pytest.raises(AngoExportConfigError, match="needs the run's data interval"):
        trigger_op(project["_id"], "s3://x/s", incremental=True).execute({"run_id": "manual__1"})
    with pytest.raises(AngoExportConfigError, match="staging_uri: Bad bucket URI"):
        trigger_op(project["_id"], "ftp://x/s").execute(run_context())
