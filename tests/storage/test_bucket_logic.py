"""BucketHook's pure logic: URIs, URL encoding, globs, time windows and the part writer (no I/O)."""

from __future__ import annotations

import contextlib
import gc
import io
import os
import random
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote, urlsplit

import pytest

from airflow_provider_ango.hooks.bucket import (
    BucketArgumentError,
    BucketError,
    BucketHook,
    BucketLocation,
    BucketUriError,
    BucketWriter,
    encode_key,
    parse_bucket_uri,
    s3_object_url,
)
from airflow_provider_ango.hooks.bucket.base import Upload
from airflow_provider_ango.hooks.bucket.select import KeyFilter
from airflow_provider_ango.models.window import TimeWindow

# -- URIs ----------------------------------------------------------------------------------------


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


# -- URLs ----------------------------------------------------------------------------------------


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


def test_chunk_reader_reads_any_way_it_is_asked() -> None:
    from airflow_provider_ango.hooks.bucket.streams import ChunkReader

    def stream() -> io.BufferedReader:
        return io.BufferedReader(ChunkReader(iter([b"ab", b"", b"cdef", b"g"])), buffer_size=3)

    assert stream().read() == b"abcdefg"
    with stream() as reader:
        assert reader.read(3) == b"abc"
        assert reader.read() == b"defg"
    with stream() as reader:
        assert b"".join(iter(lambda: reader.read(2), b"")) == b"abcdefg"
    closed: list[bool] = []

    def chunks() -> Iterator[bytes]:
        try:
            yield b"x"
            yield b"y"
        finally:
            closed.append(True)  # where a store releases its connection

    reader = io.BufferedReader(ChunkReader(chunks()))
    assert reader.read(1) == b"x"
    reader.close()
    assert closed == [True]


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


# -- globs ---------------------------------------------------------------------------------------

KEYS = ["a.jpg", "b.png", "img/c.jpg", "img/deep/d.jpg", "img/deep/e.txt", "x[1].jpg", "Upper.JPG"]


@pytest.mark.parametrize(
    ("include", "exclude", "kept"),
    [
        (None, None, KEYS),
        ("*.jpg", None, ["a.jpg", "x[1].jpg"]),
        ("**/*.jpg", None, ["a.jpg", "img/c.jpg", "img/deep/d.jpg", "x[1].jpg"]),
        ("img/**", "**/*.txt", ["img/c.jpg", "img/deep/d.jpg"]),
        ("img/*", None, ["img/c.jpg"]),
        ("**", "img/**", ["a.jpg", "b.png", "x[1].jpg", "Upper.JPG"]),
        (["*.png", "img/deep/*"], None, ["b.png", "img/deep/d.jpg", "img/deep/e.txt"]),
        ("?.jpg", None, ["a.jpg"]),
        ("[ab].*", None, ["a.jpg", "b.png"]),
        ("[!ab]*.jpg", None, ["x[1].jpg"]),
        ("x[[]1].jpg", None, ["x[1].jpg"]),
        ("img?c.jpg", None, []),  # ? never matches /
        ("*.JPG", None, ["Upper.JPG"]),  # case-sensitive
        (None, "*", ["img/c.jpg", "img/deep/d.jpg", "img/deep/e.txt"]),
        ("img/**/*.jpg", None, ["img/c.jpg", "img/deep/d.jpg"]),
    ],
)
def test_glob_filters(include: object, exclude: object, kept: list[str]) -> None:
    keep = KeyFilter(include, exclude)  # type: ignore[arg-type]
    assert [key for key in KEYS if keep(key)] == kept


def test_bad_patterns_are_refused() -> None:
    with pytest.raises(BucketArgumentError):
        KeyFilter([""], None)
    with pytest.raises(BucketArgumentError):
        KeyFilter(None, [3])  # type: ignore[list-item]


# -- time windows --------------------------------------------------------------------------------


def test_window_is_half_open() -> None:
    t = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)
    window = TimeWindow.half_open(t, t + timedelta(hours=1))
    assert t in window
    assert t + timedelta(hours=1) not in window
    assert t - timedelta(microseconds=1) not in window
    assert t + timedelta(minutes=59, seconds=59, microseconds=999999) in window
    assert t not in TimeWindow.half_open(t, t)  # empty, and allowed
    assert t in TimeWindow.half_open(None, None)


def test_window_compares_instants_across_time_zones() -> None:
    plus_two = timezone(timedelta(hours=2))
    window = TimeWindow.half_open(datetime(2024, 6, 1, 14, 0, tzinfo=plus_two), None)
    assert window.start == datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)
    assert datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc) in window


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


# -- the part writer (with a recording Upload; the stores are tested on emulators) ---------------


class RecordingUpload(Upload):
    def __init__(self, fail_on_part: int | None = None) -> None:
        self.parts: list[bytes] = []
        self.completed: bytes | None = None
        self.aborted = 0
        self.fail_on_part = fail_on_part

    def upload_part(self, data: bytes) -> None:
        if self.fail_on_part is not None and len(self.parts) + 1 == self.fail_on_part:
            raise ConnectionError("network down")
        self.parts.append(data)

    def complete(self, last: bytes) -> None:
        self.completed = last

    def abort(self) -> None:
        self.aborted += 1


def test_writer_sends_whole_parts_and_the_rest_at_commit() -> None:
    upload = RecordingUpload()
    with BucketWriter(upload, part_size=10, max_parts=None, name="t") as writer:
        writer.write(b"abc")
        writer.write(memoryview(b"defghijklmnopqrstuvw"))  # crosses two part boundaries
        writer.write(bytearray(b"xyz"))
        assert writer.tell() == 26
    assert upload.parts == [b"abcdefghij", b"klmnopqrst"]
    assert upload.completed == b"uvwxyz"
    assert upload.aborted == 0
    assert writer.state == "committed"


def test_writer_grows_parts_to_stay_under_the_part_limit() -> None:
    upload = RecordingUpload()
    with BucketWriter(upload, part_size=4, max_parts=20, name="t") as writer:  # doubles every 2 parts
        writer.write(b"x" * 100)
    assert [len(part) for part in upload.parts] == [4, 4, 8, 8, 16, 16, 32]
    assert upload.completed == b"x" * 12


def test_writer_aborts_on_an_exception_and_never_commits() -> None:
    upload = RecordingUpload()
    writer = BucketWriter(upload, part_size=4, max_parts=None, name="t")

    def fail_inside() -> None:
        with writer:
            writer.write(b"123456789")
            raise RuntimeError("the caller failed")

    with pytest.raises(RuntimeError):
        fail_inside()
    assert upload.completed is None
    assert upload.aborted == 1
    assert writer.state == "aborted"


def test_a_failed_part_cannot_be_committed_even_if_the_caller_swallows_it() -> None:
    upload = RecordingUpload(fail_on_part=2)
    writer = BucketWriter(upload, part_size=4, max_parts=None, name="s3://b/k")

    def swallow_the_error() -> None:
        with writer, contextlib.suppress(ConnectionError):  # a careless caller carries on
            writer.write(b"0123456789")

    with pytest.raises(BucketError, match="earlier part failed"):
        swallow_the_error()
    assert upload.completed is None
    assert upload.aborted == 1


def test_close_from_a_wrapper_does_not_decide_the_outcome() -> None:
    ok = RecordingUpload()
    with BucketWriter(ok, part_size=64, max_parts=None, name="t") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8")
        text.write("héllo\n")
        text.close()  # closes raw too; still not committed
        assert ok.completed is None
    assert ok.completed == "héllo\n".encode()

    failed = RecordingUpload()

    def fail_through_a_wrapper() -> None:
        raw = BucketWriter(failed, part_size=64, max_parts=None, name="t")
        with raw, io.TextIOWrapper(raw, encoding="utf-8") as text:
            text.write("partial")
            raise ValueError("bad row")

    with pytest.raises(ValueError, match="bad row"):
        fail_through_a_wrapper()
    assert failed.completed is None
    assert failed.aborted == 1


def test_a_dropped_writer_is_aborted_not_committed() -> None:
    upload = RecordingUpload()
    writer = BucketWriter(upload, part_size=4, max_parts=None, name="t")
    writer.write(b"123456")
    del writer
    gc.collect()
    assert upload.completed is None
    assert upload.aborted == 1


def test_writes_after_the_outcome_are_refused() -> None:
    writer = BucketWriter(RecordingUpload(), part_size=4, max_parts=None, name="t")
    writer.commit()
    writer.commit()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        writer.write(b"x")


# -- imports -------------------------------------------------------------------------------------


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


# -- secrets -------------------------------------------------------------------------------------


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
