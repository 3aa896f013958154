"""hooks/bucket/s3.py on moto: the region lookup of the AWS URL form, part-by-part copies past the limit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_ango.hooks.bucket import BucketHook
from airflow_provider_ango.hooks.bucket import s3 as _bucket_s3
from airflow_provider_ango.testing.plugin import TestBucket
from tests.hooks.bucket.helpers import MiB

pytestmark = pytest.mark.emulator


def test_s3_region_is_looked_up_once_for_the_aws_form(new_bucket: Callable[[str], TestBucket]) -> None:
    made = new_bucket("s3")
    hook = BucketHook.from_uri(f"s3://{made.name}-eu")
    store: Any = hook._store
    store.client.create_bucket(
        Bucket=f"{made.name}-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
    )
    calls: list[str] = []
    store.client.meta.events.register("after-call.s3.GetBucketLocation", lambda **_: calls.append("x"))
    store.endpoint = None  # as if the connection had no endpoint_url: the client talks to AWS itself
    assert hook.ango_url("x y.jpg") == f"https://{made.name}-eu.s3.eu-west-2.amazonaws.com/x%20y.jpg"
    assert hook.ango_url("z.jpg") == f"https://{made.name}-eu.s3.eu-west-2.amazonaws.com/z.jpg"
    assert calls == ["x"]

    default_region = BucketHook.from_uri(made.uri)
    other: Any = default_region._store
    other.endpoint = None
    assert default_region.ango_url("k") == f"https://{made.name}.s3.us-east-1.amazonaws.com/k"


def test_s3_publish_past_the_single_copy_limit_goes_part_by_part(
    new_bucket: Callable[[str], TestBucket], monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = BucketHook.from_uri(new_bucket("s3").uri)
    monkeypatch.setattr(_bucket_s3, "COPY_SINGLE_LIMIT", 5 * MiB)
    monkeypatch.setattr(_bucket_s3, "COPY_PART_SIZE", 5 * MiB)
    data = b"".join(i.to_bytes(4, "big") * (MiB // 4) for i in range(11))
    with hook.open_write("tmp/big.jsonl", content_type="application/jsonl") as out:
        out.write(data)
    calls: list[str] = []
    store: Any = hook._store

    def refuse_as_s3_does(**_: Any) -> None:
        # moto copies any size; S3 refuses CopyObject past 5 GiB with this answer (the limit is
        # patched down to 5 MiB here), and only then does the hook look up the size and go by parts.
        from botocore.exceptions import ClientError

        calls.append("copy")
        error = {"Code": "InvalidRequest", "Message": "The specified copy source is larger than the maximum"}
        raise ClientError({"Error": error}, "CopyObject")

    store.client.meta.events.register("before-call.s3.CopyObject", refuse_as_s3_does)
    store.client.meta.events.register("after-call.s3.HeadObject", lambda **_: calls.append("head"))
    store.client.meta.events.register("after-call.s3.UploadPartCopy", lambda **_: calls.append("part"))

    hook.publish("tmp/big.jsonl", "big.jsonl")

    assert calls == ["copy", "head", "part", "part", "part"]
    assert hook.read_bytes("big.jsonl") == data
    assert store.client.head_object(Bucket=hook.bucket, Key="big.jsonl")["ContentType"] == "application/jsonl"
    assert not hook.exists("tmp/big.jsonl")


def test_s3_publish_of_an_object_within_the_copy_limit_is_one_copy_and_one_delete(
    new_bucket: Callable[[str], TestBucket],
) -> None:
    hook = BucketHook.from_uri(new_bucket("s3").uri)
    hook.write_bytes("tmp/small.json", b"{}")
    store: Any = hook._store
    calls: list[str] = []
    store.client.meta.events.register("after-call.s3.*", lambda event_name, **_: calls.append(event_name))

    hook.publish("tmp/small.json", "small.json")

    assert [name.rsplit(".", 1)[1] for name in calls] == ["CopyObject", "DeleteObject"]
    assert hook.read_bytes("small.json") == b"{}"
