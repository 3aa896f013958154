"""LatencyProxy in front of each emulator the plugin starts: the real clients, every request counted.

Each store is reached through Airflow's own hook and the provider's ``BucketHook`` with the
endpoint moved to the proxy; a 20 MiB object goes up and comes back intact, streamed. The Ango
emulator is reached through ``AngoHubHook`` with the connection's host set to the proxy's URL.
"""

from __future__ import annotations

import copy
import hashlib
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from airflow_provider_ango.emulator import AngoEmulator
from airflow_provider_ango.testing.plugin import TestBucket
from airflow_provider_ango.testing.proxy import LatencyProxy
from airflow_provider_ango.testing.servers import AZURITE_ACCOUNT, StoreEmulator
from tests.testing.line_server import blob

pytestmark = pytest.mark.emulator

DELAY = 0.02
BIG = 20 << 20
WRITE_CHUNK = 1 << 20
ProxyFactory = Callable[..., LatencyProxy]


def _round_trip_big_object(uri: str, conn_id: str, proxy: LatencyProxy) -> tuple[int, int]:
    """Upload and download BIG bytes through BucketHook's streams; (requests up, requests down)."""
    from airflow_provider_ango.hooks.bucket import BucketHook

    data = blob(BIG)
    hook = BucketHook.from_uri(uri, conn_id=conn_id)
    before = proxy.requests
    with hook.open_write("big/object.bin") as stream:
        for start in range(0, BIG, WRITE_CHUNK):
            stream.write(data[start : start + WRITE_CHUNK])
    uploaded = proxy.requests - before

    before = proxy.requests
    digest, size = hashlib.sha256(), 0
    with hook.open_read("big/object.bin") as stream:
        for chunk in iter(lambda: stream.read(WRITE_CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    downloaded = proxy.requests - before
    assert (size, digest.hexdigest()) == (BIG, hashlib.sha256(data).hexdigest())
    return uploaded, downloaded


def _set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, connection: dict[str, object]) -> str:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
    return conn_id


# -- S3 (moto) ------------------------------------------------------------------------------
def test_s3_through_the_proxy(
    s3_emulator: StoreEmulator,
    new_bucket: Callable[[str], TestBucket],
    latency_proxy: ProxyFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    bucket = new_bucket("s3")
    proxy = latency_proxy(s3_emulator.endpoint, delay=DELAY)
    connection = copy.deepcopy(s3_emulator.connection)
    connection["extra"]["endpoint_url"] = proxy.url
    conn_id = _set_connection(monkeypatch, "aws_proxied", connection)

    hook = S3Hook(aws_conn_id=conn_id)
    hook.load_bytes(b"small", key="small.txt", bucket_name=bucket.name)
    assert proxy.requests >= 1
    before = proxy.requests
    for _ in range(5):
        assert hook.check_for_key("small.txt", bucket_name=bucket.name)
    assert proxy.requests - before == 5  # one HEAD each (moto answers `Connection: close`: a new one each)

    uploaded, downloaded = _round_trip_big_object(bucket.uri, conn_id, proxy)
    # Multipart in 8 MiB parts: create, three parts, complete (100-continue may add a burst a part).
    assert uploaded >= 5
    assert downloaded >= 1


# -- GCS (gcp-storage-emulator) -----------------------------------------------------------
def test_gcs_through_the_proxy_media_links_included(
    gcs_emulator: StoreEmulator,
    new_bucket: Callable[[str], TestBucket],
    latency_proxy: ProxyFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The emulator writes mediaLink and the resumable upload URL from the request's Host header,
    which through the proxy is the proxy's address: downloads and uploads stay on the proxy."""
    from airflow.providers.google.cloud.hooks.gcs import GCSHook

    bucket = new_bucket("gcs")
    proxy = latency_proxy(gcs_emulator.endpoint, delay=DELAY)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)  # where google-cloud-storage sends requests

    hook = GCSHook(gcp_conn_id=bucket.conn_id)
    hook.upload(bucket_name=bucket.name, object_name="small.txt", data=b"small")
    assert proxy.requests >= 1
    stored = hook.get_conn().bucket(bucket.name).get_blob("small.txt")
    assert stored is not None
    assert urlsplit(stored.media_link).netloc == f"127.0.0.1:{proxy.port}"
    before = proxy.requests
    assert stored.download_as_bytes() == b"small"  # by its mediaLink
    assert proxy.requests - before == 1

    uploaded, downloaded = _round_trip_big_object(bucket.uri, bucket.conn_id, proxy)
    assert uploaded >= 3  # resumable: start the session, then 8 MiB at a time
    assert downloaded >= 1


# -- Azure Blob (Azurite) -----------------------------------------------------------------
def test_azure_through_the_proxy(
    azure_emulator: StoreEmulator,
    new_bucket: Callable[[str], TestBucket],
    latency_proxy: ProxyFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.providers.microsoft.azure.hooks.wasb import WasbHook

    bucket = new_bucket("azure")
    proxy = latency_proxy(azure_emulator.endpoint, delay=DELAY)
    direct = azure_emulator.connection["extra"]["connection_string"]
    proxied = direct.replace(
        f"BlobEndpoint={azure_emulator.endpoint};", f"BlobEndpoint={proxy.via(azure_emulator.endpoint)};"
    )
    assert proxied != direct
    conn_id = _set_connection(
        monkeypatch, "wasb_proxied", {"conn_type": "wasb", "extra": {"connection_string": proxied}}
    )

    hook = WasbHook(wasb_conn_id=conn_id)
    hook.load_string("small", container_name=bucket.name, blob_name="small.txt")
    assert proxy.requests >= 1
    before = proxy.requests
    for _ in range(5):
        assert hook.check_for_blob(container_name=bucket.name, blob_name="small.txt")
    assert proxy.requests - before == 5

    uploaded, downloaded = _round_trip_big_object(f"wasb://{bucket.name}@{AZURITE_ACCOUNT}", conn_id, proxy)
    assert uploaded >= 4  # staged blocks of 8 MiB, then the block list
    assert downloaded >= 1


# -- Ango Hub (the project's emulator) ------------------------------------------------------
def test_ango_through_the_proxy_export_download_included(
    latency_proxy: ProxyFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With ``public_url`` set to the proxy, the signed export link leads through it as well."""
    from airflow_provider_ango.exports.records import iter_zip_records
    from airflow_provider_ango.hooks.ango import AngoHubHook

    proxy = latency_proxy(delay=DELAY)  # the emulator must know the proxy's URL before it starts
    with AngoEmulator(api_key="proxied-key", public_url=proxy.url) as hub:
        proxy.target = ("127.0.0.1", hub.port)
        connection = {"conn_type": "ango", "password": hub.api_key, "host": proxy.url}
        conn_id = _set_connection(monkeypatch, "ango_proxied", connection)
        project = hub.control.seed_project(name="proxied", assets=3, workflow=["Label"])
        hub.control.act(project["_id"], action="submit")

        hook = AngoHubHook(ango_conn_id=conn_id)
        before = proxy.requests
        assert [found.id for found in hook.get_projects_page().items] == [project["_id"]]
        link = hook.request_export(project["_id"])
        assert proxy.requests - before == 2
        assert len(hub.control.requests("^/v2/")) == 2

        assert urlsplit(link.get_secret_value()).netloc == f"127.0.0.1:{proxy.port}"
        before = proxy.requests
        with hook.open_export_stream(link) as chunks:
            (tmp_path / "export.zip").write_bytes(b"".join(chunks))
        assert proxy.requests - before == 1
    assert zipfile.is_zipfile(tmp_path / "export.zip")
    assert len(list(iter_zip_records(tmp_path / "export.zip"))) == 3


def test_ango_export_links_go_around_a_proxy_the_emulator_does_not_know(
    ango: AngoEmulator, latency_proxy: ProxyFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_ango.hooks.ango import AngoHubHook

    proxy = latency_proxy(ango.url, delay=DELAY)
    connection = {"conn_type": "ango", "password": ango.api_key, "host": proxy.url}
    conn_id = _set_connection(monkeypatch, "ango_proxied", connection)
    project = ango.control.seed_project(name="direct", assets=1, workflow=["Label"])

    link = AngoHubHook(ango_conn_id=conn_id).request_export(project["_id"])
    assert proxy.requests == 1
    assert urlsplit(link.get_secret_value()).netloc == f"127.0.0.1:{ango.port}"  # not the proxy
