"""Each storage emulator answers Airflow's own hook for its store, hostile key names included."""

from __future__ import annotations

import pytest

from airflow_provider_ango.testing.plugin import TestBucket

# A space, +, #, %, ? and non-ASCII letters: the characters that break naive URL handling.
HOSTILE_KEYS = [
    "folder one/a b+c#d%e?f.txt",
    "ünïcødé/日本語 ファイル.jpg",
    "percent/100%25 real %.bin",
    "q/what?why#where.json",
]


def _payload(key: str) -> bytes:
    return f"content of {key}".encode()


def test_s3_roundtrip_through_s3hook(new_bucket) -> None:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    bucket: TestBucket = new_bucket("s3")
    hook = S3Hook(aws_conn_id=bucket.conn_id)
    for key in HOSTILE_KEYS:
        hook.load_bytes(_payload(key), key=key, bucket_name=bucket.name)

    assert sorted(hook.list_keys(bucket_name=bucket.name)) == sorted(HOSTILE_KEYS)
    for key in HOSTILE_KEYS:
        assert hook.get_key(key, bucket_name=bucket.name).get()["Body"].read() == _payload(key)


def test_gcs_roundtrip_through_gcshook(new_bucket) -> None:
    from airflow.providers.google.cloud.hooks.gcs import GCSHook

    bucket: TestBucket = new_bucket("gcs")
    hook = GCSHook(gcp_conn_id=bucket.conn_id)
    for key in HOSTILE_KEYS:
        hook.upload(bucket_name=bucket.name, object_name=key, data=_payload(key))

    assert sorted(hook.list(bucket.name)) == sorted(HOSTILE_KEYS)
    for key in HOSTILE_KEYS:
        assert hook.download(bucket_name=bucket.name, object_name=key) == _payload(key)


def test_azure_roundtrip_through_wasbhook(new_bucket) -> None:
    from airflow.providers.microsoft.azure.hooks.wasb import WasbHook

    bucket: TestBucket = new_bucket("azure")
    hook = WasbHook(wasb_conn_id=bucket.conn_id)
    for key in HOSTILE_KEYS:
        hook.load_string(_payload(key).decode(), container_name=bucket.name, blob_name=key)

    # Without a delimiter the listing is flat (WasbHook lists one level by default).
    listed = hook.get_blobs_list(container_name=bucket.name, delimiter="")
    assert sorted(listed) == sorted(HOSTILE_KEYS)
    for key in HOSTILE_KEYS:
        assert hook.read_file(container_name=bucket.name, blob_name=key) == _payload(key).decode()


@pytest.mark.parametrize("kind", ["s3", "gcs", "azure"])
def test_buckets_are_isolated_between_tests(new_bucket, kind: str) -> None:
    first, second = new_bucket(kind), new_bucket(kind)
    assert first.name != second.name
    assert first.uri.startswith({"s3": "s3://", "gcs": "gs://", "azure": "wasb://"}[kind])
