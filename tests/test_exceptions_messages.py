"""One test per error type of the README's "Errors" table: provoked through the public operators and
hooks (against the emulators where there is I/O), its message names the item and the fix."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from airflow_provider_ango import exceptions
from tests.exports.helpers import land_op, run_context, seed_labeled, trigger_op
from tests.imports.helpers import Store, build, import_assets

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.testing.plugin import TestBucket

pytestmark = pytest.mark.emulator

#: Types the tests below provoke, by name; checked against the table at the end.
COVERED: set[str] = set()
#: Bases (tested through their subclasses) and a type this version never raises.
NOT_RAISED_DIRECTLY = {"AngoProviderError", "AngoApiError", "AngoLandingError"}


def named(error: BaseException, cls: type[BaseException], *fragments: str) -> str:
    """Assert ``error`` is a ``cls`` whose text holds every fragment (item and fix); its text."""
    assert isinstance(error, cls), f"{type(error).__name__}: {error}"
    message = str(error)
    missing = [fragment for fragment in fragments if fragment not in message]
    assert not missing, f"{missing} not in: {message}"
    COVERED.add(cls.__name__)
    return message


def raised(action: Callable[[], Any]) -> BaseException:
    try:
        action()
    except Exception as error:  # what the tests inspect
        return error
    raise AssertionError("no error was raised")


UTC = timezone.utc


# -- configuration: the task fails at once, nothing written ------------------------------------------
def test_config_error_on_invalid(s3_store: Store) -> None:
    from airflow_provider_ango.operators.imports import AngoImportAssetsOperator

    error = raised(
        lambda: AngoImportAssetsOperator(task_id="i", project_id="p", manifest=[], on_invalid="ignore")
    )
    named(error, exceptions.AngoConfigError, "on_invalid='ignore'", "'fail'", "'skip'")


def test_connection_not_found_for_a_bucket(s3_store: Store) -> None:
    from airflow_provider_ango.hooks.bucket import BucketHook

    error = raised(lambda: list(BucketHook.from_uri(s3_store.bucket.uri, "aws_typo").iter_objects()))
    named(error, exceptions.AngoConnectionNotFoundError, "'aws_typo'", "AIRFLOW_CONN_AWS_TYPO=", "Create it")


def test_window_error(s3_store: Store) -> None:
    s3_store.put("a.jpg")
    start = datetime(2024, 5, 2, tzinfo=UTC)
    error = raised(lambda: build(s3_store, "w", start, start - timedelta(days=1)))
    named(error, exceptions.AngoWindowError, "window start 2024-05-02", "give the earlier time first")


def test_stage_error(ango: AngoEmulator, ango_connection: str) -> None:
    from tests.sensors.helpers import seed_stage_project, stage_sensor

    project = seed_stage_project(ango, count=1)
    error = raised(lambda: stage_sensor(project_id=project["_id"], stage="Shipped").plan)
    named(
        error, exceptions.AngoStageError, "'Shipped'", project["_id"], "stages: ", "give a stage name or id"
    )


def test_batch_not_found(
    ango: AngoEmulator, ango_connection: str, new_bucket: Callable[[str], TestBucket]
) -> None:
    project = seed_labeled(ango, ["a.jpg"], batches=["night"])
    error = raised(lambda: trigger_op(project["_id"], "s3://x/s", batches=["weekend"]).execute(run_context()))
    named(error, exceptions.AngoBatchNotFoundError, "'weekend'", "'night'", "give batch names or ids")


def test_storage_not_found(s3_store: Store, ango: AngoEmulator, project: dict[str, Any]) -> None:
    s3_store.put("a.jpg")
    built = build(s3_store, "st", *s3_store.interval_around_all())
    error = raised(
        lambda: import_assets(s3_store, project["_id"], built, storage_id="0123456789abcdef01234567")
    )
    named(
        error,
        exceptions.AngoStorageNotFoundError,
        "storage_id='0123456789abcdef01234567'",
        "'ango_default'",
        "Use one of those ids",
    )
    assert ango.control.counts(project["_id"])["assets"] == 0


def test_manifest_error(s3_store: Store, ango: AngoEmulator, project: dict[str, Any]) -> None:
    s3_store.hook.write_bytes("m/assets-00000.ndjson", b'{"data": "https://x.example/a.jpg"}\n')
    uri = f"{s3_store.bucket.uri}/m/assets-00000.ndjson"
    error = raised(lambda: import_assets(s3_store, project["_id"], [uri]))
    named(
        error,
        exceptions.AngoManifestError,
        f"{uri}:1",
        "externalId",
        "give every item a non-empty externalId",
    )


def test_manifest_provenance_error(s3_store: Store, ango: AngoEmulator, project: dict[str, Any]) -> None:
    s3_store.put("a.jpg")
    built = build(s3_store, "pv", *s3_store.interval_around_all(), project_id="f" * 24)
    error = raised(lambda: import_assets(s3_store, project["_id"], built))
    named(
        error,
        exceptions.AngoManifestProvenanceError,
        "'" + "f" * 24 + "'",
        project["_id"],
        "Point the import at",
    )


def test_label_validation_error(s3_store: Store, ango: AngoEmulator, project: dict[str, Any]) -> None:
    from airflow_provider_ango.operators.imports import AngoImportLabelsOperator

    item = {
        "externalId": "a.jpg",
        "tools": [{"schemaId": "car", "classifications": [{"schemaId": "color", "answer": 42}]}],
    }
    s3_store.hook.write_bytes("preds/l.ndjson", orjson.dumps(item) + b"\n")
    uri = f"{s3_store.bucket.uri}/preds/l.ndjson"
    operator = AngoImportLabelsOperator(
        task_id="labels", project_id=project["_id"], source=uri, source_conn_id=s3_store.bucket.conn_id
    )
    error = raised(lambda: operator.execute({}))
    named(
        error,
        exceptions.AngoLabelValidationError,
        f"{uri}:1",
        "radio 'Color' (color) is answered with int 42",
        "Fix the input",
    )


def test_input_not_found(s3_store: Store, ango: AngoEmulator, project: dict[str, Any]) -> None:
    uri = f"{s3_store.bucket.uri}/gone/assets-00000.ndjson"
    error = raised(lambda: import_assets(s3_store, project["_id"], [uri]))
    named(error, exceptions.AngoInputNotFoundError, uri, "clear the build task")


def test_export_config_error() -> None:
    error = raised(lambda: land_op("s3://b/x/export.zip", "s3://lake/dt=1/", layout="csv"))
    named(
        error,
        exceptions.AngoExportConfigError,
        "'csv'",
        "use one of raw, ndjson, json, split, parquet, delta",
    )


# -- Ango Hub's answers ----------------------------------------------------------------------------
def _hook(**kwargs: Any) -> Any:
    from airflow_provider_ango.hooks.ango import AngoHubHook

    hook = AngoHubHook(
        retry_limit=1, retry_initial_wait=0, retry_max_wait=0, rate_limit_timeout=0.01, **kwargs
    )
    hook.session.sleep = lambda _seconds: None
    return hook


def test_auth_error(ango: AngoEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    connection = {"conn_type": "ango", "host": ango.url, "password": "wrong-key-0000000000"}
    monkeypatch.setenv("AIRFLOW_CONN_ANGO_BAD", json.dumps(connection))
    error = raised(lambda: _hook(ango_conn_id="ango_bad").get_project("0" * 24))
    named(error, exceptions.AngoAuthError, "'ango_bad'", ango.url, "put a valid key")


def test_not_found_error(ango: AngoEmulator, ango_connection: str) -> None:
    error = raised(lambda: _hook().get_project("0" * 24))
    named(error, exceptions.AngoNotFoundError, "'000000000000000000000000'", ango.url, "check the id")


def test_validation_error(ango: AngoEmulator, ango_connection: str) -> None:
    project = ango.control.seed_project(name="v")
    bad = [{"data": "https://x.example/a b.jpg", "externalId": "a"}]
    error = raised(lambda: _hook().import_cloud_assets(project["_id"], bad))
    named(error, exceptions.AngoValidationError, "'a'", "change what its message names")


def test_hook_closed_error(ango: AngoEmulator, ango_connection: str) -> None:
    hook = _hook()
    hook.shut("task import was killed")
    error = raised(lambda: hook.get_project("0" * 24))
    named(
        error, exceptions.AngoHookClosedError, "'ango_default'", "task import was killed", "Airflow retries"
    )


def test_rate_limit_error(ango: AngoEmulator, ango_connection: str) -> None:
    ango.control.add_fault("^/v2/project/", "status", status=429, retry_after=5, count=5)
    error = raised(lambda: _hook().get_project("0" * 24))
    named(error, exceptions.AngoRateLimitError, "'ango_default'", "requests_per_minute", "rate_limit_timeout")


def test_server_error(ango: AngoEmulator, ango_connection: str) -> None:
    ango.control.add_fault("^/v2/project/", "status", status=500, count=5)
    error = raised(lambda: _hook().get_project("0" * 24))
    named(error, exceptions.AngoServerError, "/v2/project/", ango.url, "let the task's retries try again")


def test_connection_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_ango.testing.servers import free_port

    host = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv(
        "AIRFLOW_CONN_ANGO_DOWN", json.dumps({"conn_type": "ango", "host": host, "password": "k" * 20})
    )
    error = raised(lambda: _hook(ango_conn_id="ango_down").get_project("0" * 24))
    named(error, exceptions.AngoConnectionError, host, "'ango_down'", "check the host and port")


def test_ambiguous_write_error(ango: AngoEmulator, ango_connection: str) -> None:
    project = ango.control.seed_project(name="amb")
    ango.control.add_fault("/cloud$", "status", status=502, count=1)
    items = [{"data": "https://x.example/a.jpg", "externalId": "a"}]
    error = raised(lambda: _hook().import_cloud_assets(project["_id"], items))
    named(
        error,
        exceptions.AngoAmbiguousWriteError,
        f"/v2/project/{project['_id']}/cloud",
        "Check the project's state",
    )


def test_export_error(ango: AngoEmulator, ango_connection: str) -> None:
    operator = trigger_op("0" * 24, "s3://b/s")
    error = raised(
        lambda: operator.execute_complete({}, {"status": "error", "error": "X", "message": "boom"})
    )
    named(
        error,
        exceptions.AngoExportError,
        "project 000000000000000000000000",
        "failed in the triggerer: X: boom",
    )


def test_incomplete_listing_error() -> None:
    from airflow_provider_ango.hooks.ango.paging import walk_for
    from airflow_provider_ango.models.api import Page

    walk = walk_for(2, "_id")
    walk.take(Page(items=[{"_id": "a"}, {"_id": "b"}], total=5, page=1, limit=2))
    error = raised(lambda: walk.take(Page(items=[], total=5, page=2, limit=2)))
    named(error, exceptions.AngoIncompleteListingError, "stopped at 2 of 5 items", "retry the task")


# -- the export's files ----------------------------------------------------------------------------
def test_export_integrity_error(
    ango: AngoEmulator, ango_connection: str, new_bucket: Callable[[str], TestBucket]
) -> None:
    bucket = new_bucket("s3")
    project = seed_labeled(ango, ["a.jpg"])
    staged = trigger_op(project["_id"], f"{bucket.uri}/staging").execute(run_context())
    error = raised(
        lambda: land_op(
            {**staged, "bytes": staged["bytes"] + 1}, f"{bucket.uri}/lake/", emit_asset=False
        ).execute(run_context())
    )
    named(error, exceptions.AngoExportIntegrityError, staged["staging_uri"], "re-run the trigger task")


def test_export_format_error(new_bucket: Callable[[str], TestBucket]) -> None:
    from airflow_provider_ango.hooks.bucket import BucketHook

    bucket = new_bucket("s3")
    BucketHook.from_uri(bucket.uri, bucket.conn_id).write_bytes("s/export.zip", b"not a zip")
    source = f"{bucket.uri}/s/export.zip"
    error = raised(lambda: land_op(source, f"{bucket.uri}/lake/", emit_asset=False).execute(run_context()))
    named(error, exceptions.AngoExportFormatError, source, "clear the trigger task")


# -- buckets ---------------------------------------------------------------------------------------
def test_bucket_uri_error() -> None:
    from airflow_provider_ango.hooks.bucket import BucketHook

    error = raised(lambda: BucketHook.from_uri("ftp://bucket/x"))
    named(error, exceptions.BucketUriError, "ftp://bucket/x", "s3://")


def test_bucket_argument_error(s3_store: Store) -> None:
    error = raised(lambda: list(s3_store.hook.iter_objects(page_size=0)))
    named(error, exceptions.BucketArgumentError, "page_size", "at least 1")


def test_bucket_not_found(s3_store: Store) -> None:
    from airflow_provider_ango.hooks.bucket import BucketHook

    error = raised(
        lambda: list(
            BucketHook.from_uri("s3://ango-no-such-bucket-7", s3_store.bucket.conn_id).iter_objects()
        )
    )
    named(error, exceptions.BucketNotFoundError, "'ango-no-such-bucket-7'", "create it, or fix the bucket")


def test_bucket_object_not_found(s3_store: Store) -> None:
    error = raised(lambda: s3_store.hook.read_bytes("nope.bin"))
    named(error, exceptions.BucketObjectNotFoundError, f"{s3_store.bucket.uri}/nope.bin", "check the key")


def test_bucket_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_ango.hooks.bucket import BucketHook
    from airflow_provider_ango.testing.servers import free_port

    extra = {
        "endpoint_url": f"http://127.0.0.1:{free_port()}",
        "config_kwargs": {"retries": {"max_attempts": 1}},
    }
    monkeypatch.setenv(
        "AIRFLOW_CONN_S3_DOWN",
        json.dumps({"conn_type": "aws", "login": "k", "password": "s", "extra": extra}),
    )
    error = raised(lambda: list(BucketHook.from_uri("s3://b", "s3_down").iter_objects()))
    named(error, exceptions.BucketError, "s3://b", "'s3_down'", "check the connection's endpoint_url")


def test_trigger_error_events_carry_the_same_messages(ango: AngoEmulator, ango_connection: str) -> None:
    from airflow_provider_ango.testing.triggers import first_event
    from airflow_provider_ango.triggers.exports import AngoExportTrigger

    payload = asyncio.run(first_event(AngoExportTrigger("0" * 24, {"format": "json"}))).payload
    assert payload["error"] == "AngoNotFoundError"
    assert "check the id" in payload["message"]


def test_every_error_type_of_the_table_has_a_test_here() -> None:
    expected = {
        name
        for name in exceptions.__all__
        if isinstance(getattr(exceptions, name), type) and name not in NOT_RAISED_DIRECTLY
    }
    assert expected - COVERED == set()
