"""delta-rs storage options from the Airflow connections of the emulators, and secrets kept out of errors."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING

import pytest

from airflow_provider_ango.exceptions import AngoExportConfigError, AngoLandingError
from airflow_provider_ango.exports.tables import commit_delta_tables, storage_options
from airflow_provider_ango.hooks.bucket import parse_bucket_uri
from airflow_provider_ango.testing.servers import AZURITE_ACCOUNT, AZURITE_KEY
from tests.exports.tables.conftest import START, Answer, records_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_ango.testing.plugin import TestBucket

pytestmark = pytest.mark.emulator


def test_s3_options_come_from_the_aws_connection_with_its_endpoint(s3_bucket: TestBucket) -> None:
    options = storage_options(parse_bucket_uri(s3_bucket.uri), s3_bucket.conn_id)

    assert options.as_dict() == {
        "aws_conditional_put": "etag",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "aws_endpoint": s3_bucket.emulator.endpoint,
        "allow_http": "true",
        "aws_region": "us-east-1",
    }
    assert "testing" not in repr(options)


def test_azure_options_come_from_the_wasb_connection_string(new_bucket: Callable[[str], TestBucket]) -> None:
    bucket = new_bucket("azure")
    options = storage_options(parse_bucket_uri(bucket.uri), bucket.conn_id)

    assert options.as_dict() == {
        "azure_storage_account_name": AZURITE_ACCOUNT,
        "azure_storage_endpoint": bucket.emulator.endpoint,
        "allow_http": "true",
        "azure_storage_account_key": AZURITE_KEY,
    }
    assert options.secrets == (AZURITE_KEY,)


def test_a_destination_for_another_account_than_the_connection_is_refused(
    new_bucket: Callable[[str], TestBucket],
) -> None:
    bucket = new_bucket("azure")
    with pytest.raises(AngoExportConfigError, match="names storage account 'otheraccount'"):
        storage_options(parse_bucket_uri(f"wasb://{bucket.name}@otheraccount/lake/"), bucket.conn_id)


def test_a_rejected_key_is_named_by_connection_never_shown(
    new_bucket: Callable[[str], TestBucket], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    bucket = new_bucket("azure")
    wrong_key = base64.b64encode(b"not the account key of devstoreaccount1!").decode()
    connection = json.loads(bucket.emulator.connection_json())
    connection["extra"]["connection_string"] = connection["extra"]["connection_string"].replace(
        AZURITE_KEY, wrong_key
    )
    monkeypatch.setenv("AIRFLOW_CONN_WASB_WRONG", json.dumps(connection))

    with pytest.raises(AngoLandingError) as raised:
        commit_delta_tables(
            records_of(("a", Answer(boxes=[("car", 1)]), START)), f"{bucket.uri}/lake/", conn_id="wasb_wrong"
        )

    message = str(raised.value)
    assert f"Could not open Delta table {bucket.uri}/lake/tasks" in message
    assert "403" in message
    assert "access denied" in message
    assert raised.value.__cause__ is None  # delta-rs's own error (and its text) is not chained
    for text in (message, caplog.text):
        assert wrong_key not in text
        assert wrong_key[:20] not in text
