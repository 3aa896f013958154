"""hooks/bucket/azure.py: the account in the URI, and no SAS token or account key in URLs, errors or logs."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from airflow_provider_ango.hooks.bucket import BucketError, BucketHook, BucketLocation, BucketUriError
from airflow_provider_ango.testing.plugin import TestBucket
from tests.hooks.bucket.helpers import write_object


def test_azure_urls_and_errors_never_carry_a_sas_token() -> None:
    from types import SimpleNamespace

    from azure.core.exceptions import ServiceRequestError

    from airflow_provider_ango.hooks.bucket.azure import AzureStore

    store = AzureStore(BucketLocation("azure", "box", account="acct1"), "wasb_sas")
    # a connection given as a SAS URL leaves the token in the client's endpoint
    store.__dict__["service"] = SimpleNamespace(
        primary_endpoint="https://acct1.blob.core.windows.net/?sv=2024-01-01&sig=S3CRETsignature%3D"
    )
    assert store.url_base() == "https://acct1.blob.core.windows.net/box/"

    def fail() -> None:
        with store._calls("read", "k.jpg"):
            raise ServiceRequestError(
                "GET https://acct1.blob.core.windows.net/box/k.jpg?sv=1&sig=S3CRETsignature"
            )

    with pytest.raises(BucketError) as caught:
        fail()
    assert "S3CRET" not in str(caught.value)
    assert "wasb://box@acct1/k.jpg" in str(caught.value)


@pytest.mark.emulator
def test_azure_uri_must_name_the_connection_account(new_bucket: Callable[[str], TestBucket]) -> None:
    made = new_bucket("azure")
    with pytest.raises(BucketUriError, match="otheraccount"):
        BucketHook.from_uri(f"wasb://{made.name}@otheraccount").ango_url("k")
    # az:// takes the account from the connection
    assert BucketHook.from_uri(f"az://{made.name}").ango_url("k") == BucketHook.from_uri(made.uri).ango_url(
        "k"
    )


@pytest.mark.emulator
def test_the_azure_account_key_never_reaches_logs_or_errors(
    new_bucket: Callable[[str], TestBucket], caplog: pytest.LogCaptureFixture
) -> None:
    from airflow_provider_ango.testing.servers import AZURITE_KEY

    caplog.set_level(logging.DEBUG)
    made = new_bucket("azure")
    hook = BucketHook.from_uri(made.uri)
    write_object(hook, "tmp/a b.txt", b"data")
    hook.publish("tmp/a b.txt", "a b.txt")
    messages = [hook.ango_url("a b.txt"), repr(hook)]
    for failing in (
        lambda: hook.open_read("missing"),
        lambda: list(BucketHook.from_uri(made.uri + "-gone").iter_objects()),
        lambda: BucketHook.from_uri(f"wasb://{made.name}@otheraccount").ango_url("k"),
    ):
        with pytest.raises(Exception) as caught:  # noqa: PT011 - any error, checked for the key below
            failing()
        messages.append(str(caught.value))
        messages.append(str(caught.value.__cause__))
    assert AZURITE_KEY not in caplog.text
    assert not [message for message in messages if AZURITE_KEY in message]
    assert "AccountKey" not in caplog.text
    assert "/devstoreaccount1/" in caplog.text  # the capture works: the SDK's request lines are in it
