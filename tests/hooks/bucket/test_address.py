"""hooks/bucket/address.py: bucket URIs parsed, object URLs built, keys percent-encoded, content types."""

from __future__ import annotations

import random
from urllib.parse import unquote, urlsplit

import pytest

from airflow_provider_ango.hooks.bucket import (
    BucketHook,
    BucketLocation,
    BucketUriError,
    encode_key,
    parse_bucket_uri,
    s3_object_url,
)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket", BucketLocation("s3", "bucket")),
        ("s3://bucket/", BucketLocation("s3", "bucket")),
        ("s3://bucket/incoming", BucketLocation("s3", "bucket", "incoming/")),
        ("s3a://bucket/a/b/", BucketLocation("s3", "bucket", "a/b/")),
        ("gs://bucket/x y/#1", BucketLocation("gcs", "bucket", "x y/#1/")),
        ("gcs://bucket", BucketLocation("gcs", "bucket")),
        ("wasb://box@acct1/p", BucketLocation("azure", "box", "p/", "acct1")),
        ("wasbs://box@acct1.blob.core.windows.net/", BucketLocation("azure", "box", "", "acct1")),
        ("az://box/deep/er", BucketLocation("azure", "box", "deep/er/")),
        ("abfss://box@acct1.dfs.core.windows.net/lake", BucketLocation("azure", "box", "lake/", "acct1")),
        ("S3://bucket", BucketLocation("s3", "bucket")),
    ],
)
def test_parse_bucket_uri(uri: str, expected: BucketLocation) -> None:
    assert parse_bucket_uri(uri) == expected


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("", "empty"),
        ("bucket/prefix", "no '<scheme>://'"),
        ("ftp://bucket/x", "unknown scheme 'ftp'"),
        ("s3://", "name is missing"),
        ("s3:///key", "name is missing"),
        ("s3://user@bucket/x", "bare bucket name"),
        ("s3://bucket:9000/x", "bare bucket name"),
        ("s3://bu cket/x", "not a valid bucket"),
        ("s3://bucket?versionId=1", "query string"),
        ("wasb://container/prefix", "needs '<container>@<account>'"),
        ("wasb://box@Not_An_Account/x", "not a storage account name"),
    ],
)
def test_bad_uris_name_the_problem_and_the_accepted_forms(uri: str, why: str) -> None:
    with pytest.raises(BucketUriError) as caught:
        BucketHook.from_uri(uri)
    message = str(caught.value)
    assert why in message
    for form in ("s3://<bucket>", "gs://<bucket>", "wasb://<container>@<account>", "az://", "abfs://"):
        assert form in message
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("bucket", "key", "region", "url"),
    [
        ("photos", "a b/c.jpg", None, "https://photos.s3.us-east-1.amazonaws.com/a%20b/c.jpg"),
        ("photos", "x", "", "https://photos.s3.us-east-1.amazonaws.com/x"),
        ("photos", "x", "EU", "https://photos.s3.eu-west-1.amazonaws.com/x"),
        (
            "photos",
            "1+1=2#?.png",
            "eu-central-1",
            "https://photos.s3.eu-central-1.amazonaws.com/1%2B1%3D2%23%3F.png",
        ),
        ("photos", "ü.jpg", "cn-north-1", "https://photos.s3.cn-north-1.amazonaws.com.cn/%C3%BC.jpg"),
    ],
)
def test_s3_url_uses_the_virtual_host_form_with_the_region(
    bucket: str, key: str, region: str, url: str
) -> None:
    assert s3_object_url(bucket, key, region) == url


def test_custom_endpoint_urls_never_carry_credentials_or_queries() -> None:
    from airflow_provider_ango.hooks.bucket.address import endpoint_base

    assert endpoint_base("http://user:secret@minio.local:9000/", "b") == "http://minio.local:9000/b/"
    assert endpoint_base("https://h.example/sub/?sig=abc#x", "b") == "https://h.example/sub/b/"


def test_content_type_is_guessed_from_the_extension_only() -> None:
    from airflow_provider_ango.hooks.bucket.address import content_type_for

    assert content_type_for("a/b.jpg") == "image/jpeg"
    assert content_type_for("q?x.json") == "application/json"
    assert content_type_for("data:image/png,xx") == "application/octet-stream"
    assert content_type_for("no-extension") == "application/octet-stream"


def _hostile_key(rng: random.Random) -> str:
    alphabet = (
        "abcXYZ019 -_.~/+#?%&=;:@!$'()*,[]{}<>|^`\"\\"
        "\t\u00e9\u00fc\u00df\u65e5\u672c\u8a9e\u0416\u05d0\u0627\U0001f600\U0001f4a9\u200b\ufeff"
    )
    length = rng.randint(1, 60)
    return "".join(rng.choice(alphabet) for _ in range(length))


def test_encode_key_round_trips_and_never_leaves_a_reserved_character() -> None:
    rng = random.Random(20240601)
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~/%")
    keys = [_hostile_key(rng) for _ in range(3000)] + [
        "a b",
        "+",
        "%",
        "%2B",
        "%%20",
        "/",
        "//x//",
        "a" * 900,
    ]
    for key in keys:
        encoded = encode_key(key)
        assert unquote(encoded, encoding="utf-8", errors="strict") == key
        assert set(encoded) <= allowed, key
        assert encoded.count("/") == key.count("/")
        assert "+" not in encoded
        assert (
            urlsplit("https://h/b/" + encoded).path == "/b/" + encoded
        )  # nothing leaks into ?query or #frag
    assert encode_key("a b+c#d%e?f&g ü") == "a%20b%2Bc%23d%25e%3Ff%26g%20%C3%BC"
