"""BucketHook shared by threads, on each store's emulator: connection pools fitted to the concurrency,
one SDK client however many threads start at once, header reads in one request, no pool overflow."""

from __future__ import annotations

import copy
import json
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_ango.testing.proxy import LatencyProxy
from airflow_provider_ango.testing.servers import AZURITE_ACCOUNT, StoreEmulator
from tests.hooks.bucket.helpers import seed

if TYPE_CHECKING:
    from airflow_provider_ango.hooks.bucket import BucketHook
    from airflow_provider_ango.testing.plugin import TestBucket

pytestmark = pytest.mark.emulator
ProxyFactory = Callable[..., LatencyProxy]


def pool_size(hook: BucketHook) -> int:
    """How many connections per host the hook's SDK client keeps."""
    store: Any = hook._store
    if hook.kind == "s3":
        return int(store.client.meta.config.max_pool_connections)
    session = store.client._http if hook.kind == "gcs" else store.service._pipeline._transport.session
    sizes = {adapter._pool_maxsize for adapter in session.adapters.values()}
    assert len(sizes) == 1, sizes
    return int(sizes.pop())


def test_pools_fit_the_concurrency_and_grow_with_it(bucket: TestBucket) -> None:
    from airflow_provider_ango.hooks.bucket import BucketHook

    hook = BucketHook.from_uri(bucket.uri, max_concurrency=24)
    assert hook.reserve_connections() == 24
    assert pool_size(hook) == 24
    hook.write_bytes("a.txt", b"a")
    assert hook.reserve_connections(40) == 40  # a client built already gets a wider pool
    assert pool_size(hook) == 40
    assert hook.read_bytes("a.txt") == b"a"
    assert hook.reserve_connections(8) == 8  # a smaller step keeps the wider pool
    assert pool_size(hook) == 40
    assert BucketHook.from_uri(bucket.uri).reserve_connections() == 16  # the default


def test_an_explicit_s3_pool_setting_in_the_connection_is_kept(
    s3_emulator: StoreEmulator,
    new_bucket: Callable[[str], TestBucket],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from airflow_provider_ango.hooks.bucket import BucketHook

    bucket = new_bucket("s3")
    connection = copy.deepcopy(s3_emulator.connection)
    connection["extra"]["config_kwargs"] = {"max_pool_connections": 5, "connect_timeout": 7}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_SMALL_POOL", json.dumps(connection))
    hook = BucketHook.from_uri(bucket.uri, conn_id="aws_small_pool")
    with caplog.at_level(logging.WARNING):
        hook.reserve_connections(16)
    assert pool_size(hook) == 5
    store: Any = hook._store
    assert store.client.meta.config.connect_timeout == 7  # the rest of config_kwargs too
    assert any("max_pool_connections=5" in record.getMessage() for record in caplog.records)


def test_threads_starting_at_once_share_one_client(bucket: TestBucket) -> None:
    from airflow_provider_ango.hooks.bucket import BucketHook

    seed(bucket.kind, bucket.conn_id, bucket.name, ["k.txt"])
    hook = BucketHook.from_uri(bucket.uri)
    start = threading.Barrier(16, timeout=30)
    clients: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            start.wait()
            assert hook.exists("k.txt")
            store: Any = hook._store
            clients.append(id(store.client if hook.kind != "azure" else store.service))
        except BaseException as error:  # reported below, on the test's thread
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(clients) == 16
    assert len(set(clients)) == 1


def _read_all_concurrently(hook: BucketHook, keys: list[str], threads: int) -> list[bytes]:
    from airflow_provider_ango.hooks.bucket import ordered_map

    hook.reserve_connections(hook.max_concurrency)  # the hook's own setting, whatever the threads
    return list(ordered_map(hook.read_bytes, keys, max_concurrency=threads, name_of=hook.uri_for))


def test_no_connection_is_thrown_away_when_the_pool_fits(
    azure_emulator: StoreEmulator,
    new_bucket: Callable[[str], TestBucket],
    latency_proxy: ProxyFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pool narrower than the threads opens a connection for each request past it and throws it
    away after: a new handshake per request. With the pool fitted, a second round of reads opens
    no connection at all.

    Azurite keeps connections alive (moto and gcp-storage-emulator close each one, so nothing is
    pooled there); 20 ms a request through the proxy keeps all 16 threads in flight at once.
    """
    bucket = new_bucket("azure")
    keys = [f"obj-{number:03d}.txt" for number in range(64)]
    seed("azure", bucket.conn_id, bucket.name, keys, b"payload")

    opened: dict[int, list[int]] = {}
    for setting in (16, 2):  # 2: the hook leaves the SDK's own pool of 10 as it is
        proxy = latency_proxy(azure_emulator.endpoint, delay=0.02)
        hook = _proxied_hook("azure", bucket, azure_emulator, proxy, monkeypatch, max_concurrency=setting)
        rounds = []
        for _ in range(2):
            before = proxy.connections
            assert _read_all_concurrently(hook, keys, 16) == [b"payload"] * len(keys)
            rounds.append(proxy.connections - before)
        opened[setting] = rounds
    assert opened[16][0] <= 16
    assert opened[16][1] == 0  # every connection was kept and used again
    assert opened[2][1] > 0  # the control: connections past the pool of 10 were thrown away


def _proxied_hook(
    kind: str,
    bucket: TestBucket,
    emulator: StoreEmulator,
    proxy: LatencyProxy,
    monkeypatch: pytest.MonkeyPatch,
    max_concurrency: int = 16,
) -> BucketHook:
    from airflow_provider_ango.hooks.bucket import BucketHook

    if kind == "gcs":
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
        return BucketHook.from_uri(bucket.uri, conn_id=bucket.conn_id, max_concurrency=max_concurrency)
    if kind == "s3":
        s3_connection = copy.deepcopy(emulator.connection)
        s3_connection["extra"]["endpoint_url"] = proxy.url
        monkeypatch.setenv("AIRFLOW_CONN_AWS_PROXIED", json.dumps(s3_connection))
        return BucketHook.from_uri(bucket.uri, conn_id="aws_proxied", max_concurrency=max_concurrency)
    direct = emulator.connection["extra"]["connection_string"]
    proxied = direct.replace(
        f"BlobEndpoint={emulator.endpoint};", f"BlobEndpoint={proxy.via(emulator.endpoint)};"
    )
    connection = {"conn_type": "wasb", "extra": {"connection_string": proxied}}
    monkeypatch.setenv("AIRFLOW_CONN_WASB_PROXIED", json.dumps(connection))
    uri = f"wasb://{bucket.name}@{AZURITE_ACCOUNT}"
    return BucketHook.from_uri(uri, conn_id="wasb_proxied", max_concurrency=max_concurrency)


@pytest.mark.parametrize("kind", ["gcs", "azure"])
def test_a_header_read_is_one_request_and_ranges_end_where_the_object_does(
    kind: str,
    new_bucket: Callable[[str], TestBucket],
    latency_proxy: ProxyFactory,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_provider_ango.hooks.bucket import BucketObjectNotFoundError

    emulator: StoreEmulator = request.getfixturevalue(f"{kind}_emulator")
    bucket = new_bucket(kind)
    seed(kind, bucket.conn_id, bucket.name, ["small.bin"], bytes(range(200)))
    seed(kind, bucket.conn_id, bucket.name, ["empty.bin"], b"")
    proxy = latency_proxy(emulator.endpoint, delay=0)
    hook = _proxied_hook(kind, bucket, emulator, proxy, monkeypatch)
    hook.reserve_connections()

    before = proxy.requests
    for _ in range(5):
        assert hook.read_bytes("small.bin", 0, 64 * 1024) == bytes(range(200))  # shorter than asked
    # One GET each; google-cloud-storage (3.17) also reads the bucket's metadata once per client, in
    # a thread of its own, for its tracing attributes.
    assert 5 <= proxy.requests - before <= 5 + (kind == "gcs")
    assert hook.read_bytes("small.bin", 100, 150) == bytes(range(100, 150))
    assert hook.read_bytes("small.bin", 300, 400) == b""  # past the end
    assert hook.read_bytes("empty.bin", 0, 1024) == b""
    with pytest.raises(BucketObjectNotFoundError, match=r"missing\.bin"):
        hook.read_bytes("missing.bin", 0, 1024)
    assert hook.read_bytes("small.bin") == bytes(range(200))  # unbounded: metadata, then chunks


@pytest.fixture
def counted(
    kind: str,
    new_bucket: Callable[[str], TestBucket],
    latency_proxy: ProxyFactory,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[BucketHook, LatencyProxy]:
    """A hook on a new bucket of ``kind`` whose every request goes through a proxy (no delay: to count)."""
    emulator: StoreEmulator = request.getfixturevalue(f"{kind}_emulator")
    bucket = new_bucket(kind)
    proxy = latency_proxy(emulator.endpoint, delay=0)
    hook = _proxied_hook(kind, bucket, emulator, proxy, monkeypatch)
    hook.reserve_connections()
    return hook, proxy


@pytest.mark.parametrize("kind", ["s3", "gcs", "azure"])
def test_a_small_write_is_one_round_trip(kind: str, counted: tuple[BucketHook, LatencyProxy]) -> None:
    """botocore sends ``Expect: 100-continue`` before every PUT body, a round trip of its own; the
    S3 store sends bodies of up to 1 MiB with their headers, and keeps the header above that."""
    from airflow_provider_ango.hooks.bucket.s3 import SEND_AT_ONCE_LIMIT

    hook, proxy = counted
    hook.write_bytes("warm.txt", b"warm")  # google-cloud-storage's one bucket read goes with it

    before = proxy.requests
    for number in range(5):
        hook.write_bytes(f"small-{number}.txt", b"x" * 1000)
    assert proxy.requests - before == 5
    assert hook.read_bytes("small-4.txt") == b"x" * 1000
    if kind == "s3":
        big = bytes(range(256)) * (SEND_AT_ONCE_LIMIT // 256 + 1)
        before = proxy.requests
        hook.write_bytes("big.bin", big)
        assert proxy.requests - before == 2  # headers, then the body after the server's 100 Continue
        assert hook.read_bytes("big.bin") == big


@pytest.mark.parametrize("kind", ["s3", "gcs", "azure"])
def test_a_publish_is_a_copy_and_a_delete_and_nothing_more(
    kind: str, counted: tuple[BucketHook, LatencyProxy]
) -> None:
    """Two round trips per published part (no existence check before the copy); a missing source
    is still an error naming it, and the destination is left as it was."""
    from airflow_provider_ango.hooks.bucket import BucketObjectNotFoundError

    hook, proxy = counted
    for number in range(3):
        hook.write_bytes(f"tmp/part-{number}.json", b"{}")

    before = proxy.requests
    for number in range(3):
        hook.publish(f"tmp/part-{number}.json", f"final/part-{number}.json")
    assert proxy.requests - before == 6
    assert hook.read_bytes("final/part-2.json") == b"{}"
    assert not hook.exists("tmp/part-2.json")

    with pytest.raises(BucketObjectNotFoundError, match=r"tmp/never-written.*does not exist"):
        hook.publish("tmp/never-written", "final/part-0.json")
    assert hook.read_bytes("final/part-0.json") == b"{}"


def test_a_gcs_delete_batch_whose_connection_dropped_is_done_one_by_one(
    new_bucket: Callable[[str], TestBucket], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The emulator (like any server) may reset a connection under a burst; a batch of deletes lost
    that way is not an error to raise: the deletes are idempotent and are sent again one by one."""
    from contextlib import contextmanager

    import requests

    from airflow_provider_ango.hooks.bucket import BucketHook

    bucket = new_bucket("gcs")
    hook = BucketHook.from_uri(bucket.uri, conn_id=bucket.conn_id)
    keys = [f"drop/{number}.txt" for number in range(5)]
    for key in keys:
        hook.write_bytes(key, b"x")
    store: Any = hook._store

    @contextmanager
    def dropped_batch() -> Any:
        yield
        raise requests.exceptions.ConnectionError("Connection aborted: reset by peer")

    monkeypatch.setattr(store.client, "batch", dropped_batch)
    assert hook.delete_prefix("drop/") == 5
    assert list(hook.iter_objects("drop/")) == []
