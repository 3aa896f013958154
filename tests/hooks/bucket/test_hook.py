"""BucketHook on real emulators over loopback: one test body per behaviour, run on S3, GCS and Azure."""

from __future__ import annotations

import hashlib
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from airflow_provider_ango.hooks.bucket import (
    BucketArgumentError,
    BucketHook,
    BucketObject,
    BucketObjectNotFoundError,
)
from airflow_provider_ango.testing.plugin import TestBucket
from tests.hooks.bucket.helpers import MiB, sdk_putter, seed, write_object

pytestmark = pytest.mark.emulator


# Every character that breaks naive URL handling, non-ASCII, and a 900-byte key.
HOSTILE_KEYS = [
    "space in name.txt",
    "plus+sign.txt",
    "hash#tag.txt",
    "percent%25literal%.txt",
    "question?mark.txt",
    "amp&ersand=1.txt",
    "ünïcødé/日本語 ファイル.jpg",
    "emoji/😀 face.png",
    "mixed/a b+c#d%e?f&g;h@i=j,k'l(m)n!o~p.bin",
    "long/" + ("é" * 300) + ("x" * 295) + ".dat",  # 5 + 600 + 295 + 4 = 904 bytes of UTF-8
]


def _by_key(objects: Iterator[BucketObject]) -> dict[str, BucketObject]:
    return {obj.key: obj for obj in objects}


# -- listing -------------------------------------------------------------------------------------


def test_recursive_listing_include_exclude_and_root(bucket: TestBucket, hook: BucketHook) -> None:
    keys = ["a.jpg", "b.png", "img/c.jpg", "img/deep/d.jpg", "img/deep/e.txt", "docs/readme.md"]
    seed(bucket.kind, bucket.conn_id, bucket.name, [*keys, "img/", "img/deep/"])  # + folder placeholders

    def keys_of(**kwargs: Any) -> list[str]:
        return sorted(obj.key for obj in hook.iter_objects(**kwargs))

    assert keys_of() == sorted(keys)
    assert keys_of(page_size=2) == sorted(keys)
    assert keys_of(recursive=False) == ["a.jpg", "b.png"]
    assert keys_of(prefix="img/", recursive=False) == ["img/c.jpg"]
    assert keys_of(include="*.jpg") == ["a.jpg"]
    assert keys_of(include="**/*.jpg") == ["a.jpg", "img/c.jpg", "img/deep/d.jpg"]
    assert keys_of(prefix="img/", include="*.jpg") == ["img/c.jpg"]  # patterns see keys after the prefix
    assert keys_of(prefix="img/", include="**", exclude="**/*.txt") == ["img/c.jpg", "img/deep/d.jpg"]
    assert keys_of(include=["*.png", "docs/*"]) == ["b.png", "docs/readme.md"]
    assert keys_of(prefix="im") == ["img/c.jpg", "img/deep/d.jpg", "img/deep/e.txt"]  # a plain string prefix

    rooted = BucketHook.from_uri(bucket.uri + "/img")
    assert sorted(obj.key for obj in rooted.iter_objects()) == ["c.jpg", "deep/d.jpg", "deep/e.txt"]
    assert rooted.read_bytes("deep/d.jpg") == b"x"
    assert rooted.ango_url("deep/d.jpg") == hook.ango_url("img/deep/d.jpg")


def test_window_is_half_open_on_the_real_timestamps(bucket: TestBucket, hook: BucketHook) -> None:
    for name in ("first", "second", "third"):
        write_object(hook, f"w/{name}.txt", name.encode())
    listed = list(hook.iter_objects("w/"))
    assert len(listed) == 3
    for obj in listed:
        assert obj.last_modified.tzinfo is not None
        assert obj.last_modified.utcoffset() == timedelta(0)
    pick = listed[1]
    boundary = pick.last_modified  # the store's own timestamp, to the microsecond it reports

    def window(**kwargs: Any) -> set[str]:
        return {obj.key for obj in hook.iter_objects("w/", **kwargs)}

    at_or_after = {obj.key for obj in listed if obj.last_modified >= boundary}
    before = {obj.key for obj in listed if obj.last_modified < boundary}
    assert pick.key in window(modified_after=boundary)  # equal to the start: in
    assert window(modified_after=boundary) == at_or_after
    assert pick.key not in window(modified_before=boundary)  # equal to the end: out
    assert window(modified_before=boundary) == before
    assert window(modified_after=boundary, modified_before=boundary) == set()
    tick = timedelta(microseconds=1)
    assert pick.key in window(modified_after=boundary, modified_before=boundary + tick)
    assert pick.key not in window(modified_after=boundary + tick)
    # back-to-back windows split the objects without a gap or an overlap
    assert window(modified_before=boundary) | window(modified_after=boundary) == {obj.key for obj in listed}
    with pytest.raises(BucketArgumentError, match=r"modified_before: .* has no timezone"):
        hook.iter_objects(modified_before=boundary.replace(tzinfo=None))


def test_metadata_of_listed_objects(bucket: TestBucket, hook: BucketHook) -> None:
    write_object(hook, "meta/pic.jpg", b"\xff\xd8jpeg")
    with hook.open_write("meta/data.bin", content_type="application/x-custom") as out:
        out.write(b"12345")
    found = _by_key(hook.iter_objects("meta/"))
    assert found["meta/pic.jpg"].size == 6
    assert found["meta/data.bin"].size == 5
    assert all(obj.etag for obj in found.values())
    if bucket.kind == "s3":
        assert found["meta/pic.jpg"].content_type is None  # ListObjectsV2 carries no content type
    else:
        assert found["meta/pic.jpg"].content_type == "image/jpeg"
        assert found["meta/data.bin"].content_type == "application/x-custom"

    one = hook.stat("meta/data.bin")  # one metadata request, content type on every store
    assert one is not None
    assert one.content_type == "application/x-custom"
    listed = found["meta/data.bin"]
    assert (one.key, one.size, one.etag, one.last_modified) == (
        listed.key,
        5,
        listed.etag,
        listed.last_modified,
    )
    assert hook.stat("meta/missing") is None
    rooted = BucketHook.from_uri(bucket.uri + "/meta").stat("pic.jpg")
    assert rooted is not None
    assert rooted.key == "pic.jpg"


# -- keys and URLs -------------------------------------------------------------------------------


def _fetch(url: str) -> bytes:
    assert url.startswith("http://127.0.0.1:"), url  # loopback only
    with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 - an http URL on loopback
        return bytes(answer.read())


def test_hostile_keys_round_trip_through_write_list_read_and_url(
    bucket: TestBucket, hook: BucketHook
) -> None:
    assert len(HOSTILE_KEYS[-1].encode()) > 900
    for key in HOSTILE_KEYS:
        write_object(hook, key, f"content of {key}".encode())

    assert sorted(obj.key for obj in hook.iter_objects()) == sorted(HOSTILE_KEYS)
    store: Any = hook._store  # let the emulator serve anonymous reads, as a public bucket would
    if bucket.kind == "azure":
        store.container.set_container_access_policy(signed_identifiers={}, public_access="blob")
    elif bucket.kind == "s3":
        for key in HOSTILE_KEYS:
            store.client.put_object_acl(Bucket=bucket.name, Key=key, ACL="public-read")
    for key in HOSTILE_KEYS:
        assert hook.exists(key)
        assert hook.read_bytes(key) == f"content of {key}".encode()
        url = hook.ango_url(key)
        path = urlsplit(url).path
        assert not set(" +#?&") & set(url)
        assert url.isascii()
        assert unquote(path, errors="strict").endswith(f"/{bucket.name}/{key}")
        assert _fetch(url) == f"content of {key}".encode()  # the URL really addresses the object


def test_url_forms_per_store(bucket: TestBucket, hook: BucketHook) -> None:
    endpoint = bucket.emulator.endpoint.rstrip("/")
    # every emulator is a custom endpoint: MinIO-style <endpoint>/<bucket>/<key>
    assert hook.ango_url("a b/c+d.jpg") == f"{endpoint}/{bucket.name}/a%20b/c%2Bd.jpg"


# -- reading -------------------------------------------------------------------------------------

DATA = bytes(range(256)) * 4  # 1024 bytes, every position distinguishable


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (None, None),
        (0, None),
        (0, 1),
        (1, 2),
        (1023, None),
        (1023, 1024),
        (1000, 5000),  # past the end: cut at the end
        (1024, None),  # at the end: empty
        (5000, None),  # past the end: empty
        (5000, 6000),
        (0, 0),
        (17, 17),
        (None, 10),
        (256, 768),
    ],
)
def test_ranged_reads_at_the_edges(
    bucket: TestBucket, hook: BucketHook, start: int | None, end: int | None
) -> None:
    write_object(hook, "range.bin", DATA)
    assert hook.read_bytes("range.bin", start, end) == DATA[start:end]


def test_reads_stream_in_chunks_and_fail_fast(bucket: TestBucket, hook: BucketHook) -> None:
    write_object(hook, "chunks.bin", DATA)
    write_object(hook, "empty.bin", b"")
    with hook.open_read("chunks.bin", 3, 1000, chunk_size=7) as stream:
        pieces = iter(lambda: stream.read(5), b"")
        assert b"".join(pieces) == DATA[3:1000]
    assert hook.read_bytes("empty.bin") == b""
    assert hook.read_bytes("empty.bin", 0, 10) == b""
    with pytest.raises(BucketObjectNotFoundError, match=r"missing\.bin"):
        hook.open_read("missing.bin")  # at the call, not at the first read
    with pytest.raises(BucketObjectNotFoundError):
        hook.open_read("missing.bin", 0, 0)
    with pytest.raises(BucketArgumentError):
        hook.open_read("chunks.bin", 10, 5)


# -- writing and publishing ----------------------------------------------------------------------


def test_multipart_write_and_publish(bucket: TestBucket, hook: BucketHook) -> None:
    digest = hashlib.sha256()
    with hook.open_write("tmp/export.ndjson", part_size=5 * MiB, content_type="application/x-ndjson") as out:
        for i in range(12):  # 12 MiB in 1 MiB writes: two full parts and a remainder
            block = i.to_bytes(4, "big") * (MiB // 4)
            digest.update(block)
            out.write(block)
    write_object(hook, "final/export.ndjson", b"an older version")

    hook.publish("tmp/export.ndjson", "final/export.ndjson")

    assert not hook.exists("tmp/export.ndjson")
    with hook.open_read("final/export.ndjson") as stream:
        copied = hashlib.sha256()
        for chunk in iter(lambda: stream.read(MiB), b""):
            copied.update(chunk)
    assert copied.hexdigest() == digest.hexdigest()
    final = _by_key(hook.iter_objects("final/"))["final/export.ndjson"]
    assert final.size == 12 * MiB
    if bucket.kind != "s3":  # S3 listings carry no content type
        assert final.content_type == "application/x-ndjson"  # kept by the copy

    with pytest.raises(BucketObjectNotFoundError):
        hook.publish("tmp/never-written", "final/export.ndjson")
    assert hook.read_bytes("final/export.ndjson", 0, 4) == (0).to_bytes(4, "big")  # left as it was


def test_a_failed_write_leaves_nothing(bucket: TestBucket, hook: BucketHook) -> None:
    def fail_after(key: str, size: int) -> None:
        with hook.open_write(key, part_size=5 * MiB) as out:
            out.write(b"p" * size)
            raise RuntimeError("the export broke half-way")

    for key, size in [("small.bin", 100), ("big.bin", 11 * MiB)]:  # one request / multipart started
        with pytest.raises(RuntimeError, match="half-way"):
            fail_after(key, size)
        assert not hook.exists(key)
    assert list(hook.iter_objects()) == []

    write_object(hook, "kept.bin", b"old and whole")
    with pytest.raises(RuntimeError):
        fail_after("kept.bin", 11 * MiB)
    assert hook.read_bytes("kept.bin") == b"old and whole"  # the earlier object is untouched

    if bucket.kind == "s3":  # the multipart uploads were aborted, not left to cost storage
        store: Any = hook._store
        assert store.client.list_multipart_uploads(Bucket=hook.bucket).get("Uploads", []) == []


def test_exists_delete_and_delete_prefix(bucket: TestBucket, hook: BucketHook) -> None:
    seed(bucket.kind, bucket.conn_id, bucket.name, [f"old/{i}.txt" for i in range(25)] + ["keep/a.txt"])
    assert hook.exists("old/3.txt")
    hook.delete("old/3.txt")
    hook.delete("old/3.txt")  # idempotent
    assert not hook.exists("old/3.txt")
    assert hook.delete_prefix("old/") == 24
    assert [obj.key for obj in hook.iter_objects()] == ["keep/a.txt"]


def test_missing_bucket_errors_name_it_and_the_fix(bucket: TestBucket) -> None:
    missing = BucketHook.from_uri(bucket.uri.replace(bucket.name, bucket.name + "-missing"))
    with pytest.raises(Exception, match=f"{bucket.name}-missing.*(does not exist|create it)"):
        list(missing.iter_objects())


def test_the_sdk_seeder_writes_what_the_hook_reads(bucket: TestBucket, hook: BucketHook) -> None:
    sdk_putter(bucket.kind, bucket.conn_id, bucket.name)("from-sdk.txt", b"written by the SDK")
    assert hook.read_bytes("from-sdk.txt") == b"written by the SDK"
