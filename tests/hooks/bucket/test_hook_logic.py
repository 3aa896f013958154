"""BucketHook without a store: default connections, keys under the root, arguments checked before
anything is sent, and no cloud SDK imported until first use."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import datetime, timezone

import pytest

from airflow_provider_ango.hooks.bucket import BucketArgumentError, BucketHook


def test_hook_defaults_to_the_store_connection_and_builds_nothing() -> None:
    for uri, conn_id in [
        ("s3://b1x/p", "aws_default"),
        ("gs://b1x", "google_cloud_default"),
        ("wasb://b1x@acct1", "wasb_default"),
    ]:
        hook = BucketHook.from_uri(uri)
        assert hook.conn_id == conn_id
        assert "_store" not in vars(hook)  # nothing built, nothing sent
    assert BucketHook.from_uri("gs://b1x", conn_id="mine").conn_id == "mine"


def test_keys_are_relative_to_the_root() -> None:
    hook = BucketHook.from_uri("wasb://box@acct1/lake")
    assert hook.uri == "wasb://box@acct1/lake/"
    assert hook.full_key("a/b.json") == "lake/a/b.json"
    assert hook.uri_for("a b.json") == "wasb://box@acct1/lake/a b.json"
    assert BucketHook.from_uri("az://box").uri_for("k") == "az://box/k"
    with pytest.raises(BucketArgumentError):
        hook.full_key("")


def test_naive_or_reversed_windows_fail_at_the_call() -> None:
    hook = BucketHook.from_uri("s3://never-contacted")
    with pytest.raises(BucketArgumentError, match=r"modified_after: .* has no timezone"):
        hook.iter_objects(modified_after=datetime(2024, 1, 1))
    with pytest.raises(BucketArgumentError, match=r"modified_after .* is later than modified_before"):
        hook.iter_objects(
            modified_after=datetime(2024, 1, 2, tzinfo=timezone.utc),
            modified_before=datetime(2024, 1, 1, tzinfo=timezone.utc),
        )
    with pytest.raises(BucketArgumentError):
        hook.iter_objects(page_size=0)
    assert "_store" not in vars(hook)


def test_ranges_and_keys_are_checked_before_anything_is_sent() -> None:
    hook = BucketHook.from_uri("gs://never-contacted")
    with pytest.raises(BucketArgumentError, match="before start"):
        hook.open_read("k", 10, 5)
    with pytest.raises(BucketArgumentError):
        hook.open_read("k", -1)
    with pytest.raises(BucketArgumentError, match="ends with '/'"):
        hook.open_write("folder/")
    with pytest.raises(BucketArgumentError, match="5 MiB"):
        BucketHook.from_uri("s3://never-contacted").open_write("k", part_size=1024)
    with pytest.raises(BucketArgumentError, match="non-empty prefix"):
        hook.delete_prefix("")
    with pytest.raises(BucketArgumentError, match="two different keys"):
        hook.publish("same", "same")
    assert "_store" not in vars(hook)


def test_importing_the_hook_imports_no_cloud_sdk() -> None:
    code = textwrap.dedent(
        """
        import sys
        import airflow_provider_ango.hooks.bucket as bucket
        hook = bucket.BucketHook.from_uri("s3://lazy-bucket/p")
        hook.iter_objects  # attribute access builds nothing
        heavy = ("boto3", "botocore", "google.cloud.storage", "google.api_core", "google.auth",
                 "azure.storage", "azure.core", "azure.identity", "airflow.providers.amazon.aws.hooks",
                 "airflow.providers.google.cloud.hooks", "airflow.providers.microsoft.azure.hooks")
        loaded = sorted(m for m in sys.modules if m.startswith(heavy))
        print(",".join(loaded))
        hook.get_conn()  # the control: first use builds the Airflow hook, and only then imports it
        print("airflow.providers.amazon.aws.hooks.s3" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
        check=True,
    )
    at_import, after_use = result.stdout.split("\n")[:2]
    assert at_import == "", f"imported at module load: {at_import}"
    assert after_use == "True"
