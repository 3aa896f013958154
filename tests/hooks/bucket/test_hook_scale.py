"""BucketHook at scale on real emulators: 10,000 objects listed page by page, 200 MiB in bounded memory.

Kept apart from test_hook.py: the GCS emulator and Azurite slow down as they fill up, so these run
last (tests/conftest.py moves every ``*_scale.py`` module to the end of the session).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_ango.hooks.bucket import BucketHook
from airflow_provider_ango.testing.plugin import TestBucket
from tests.hooks.bucket.helpers import MiB, fast_gcs_seeding, seed, seed_in_child

pytestmark = pytest.mark.emulator


# -- memory --------------------------------------------------------------------------------------

STREAM_MIB = 200
MEMORY_LIMIT = 64 * MiB


def test_a_200_mib_streamed_write_and_read_stay_under_64_mib(bucket: TestBucket, hook: BucketHook) -> None:
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.hooks.bucket.helpers",
            "stream",
            bucket.uri,
            "big/200.bin",
            str(STREAM_MIB),
        ],
        capture_output=True,
        text=True,
        env=os.environ.copy(),  # the session's AIRFLOW_HOME and emulator connections
        cwd=Path(__file__).resolve().parents[3],
        timeout=600,
        check=False,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    measured = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"\n{bucket.kind}: {json.dumps(measured)}")

    assert measured["write"]["sha256"] == measured["read"]["sha256"]
    listed = {obj.key: obj for obj in hook.iter_objects("big/")}["big/200.bin"]
    assert listed.size == STREAM_MIB * MiB
    for phase in ("write", "read"):
        assert measured[phase]["traced_peak"] < MEMORY_LIMIT, (phase, measured[phase])
        if measured[phase]["rss_growth"] is not None:
            assert measured[phase]["rss_growth"] < MEMORY_LIMIT, (phase, measured[phase])


# -- listing at scale (last: Azurite keeps the 10,000 objects, and is slower with them) ---------


class PageCounter:
    """Counts listing pages as the SDK fetches them (S3: botocore events; Azure: its page iterator)."""

    def __init__(self, hook: BucketHook, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pages = 0
        store: Any = hook._store
        if hook.kind == "s3":
            store.client.meta.events.register("after-call.s3.ListObjectsV2", self._count)
        elif hook.kind == "azure":
            container = store.container
            for name in ("list_blobs", "walk_blobs"):
                monkeypatch.setattr(container, name, self._wrap(getattr(container, name)))
        else:
            self.pages = -1  # gcp-storage-emulator answers every listing in one page (no maxResults)

    def _count(self, **_: Any) -> None:
        self.pages += 1

    def _wrap(self, listing: Callable[..., Any]) -> Callable[..., Any]:
        counter = self

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            paged = listing(*args, **kwargs)
            by_page = paged.by_page

            def counted_pages(*a: Any, **k: Any) -> Iterator[Any]:
                for page in by_page(*a, **k):
                    counter.pages += 1
                    yield page

            paged.by_page = counted_pages
            return paged

        return wrapped


def test_lists_ten_thousand_objects_page_by_page(
    bucket: TestBucket, hook: BucketHook, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = [f"many/{i:05d}.txt" for i in range(10_000)]
    started = time.perf_counter()
    with fast_gcs_seeding(bucket.kind):
        if bucket.kind == "s3":  # moto runs in this process: seed from a child to use both cores
            seed_in_child(bucket.kind, bucket.conn_id, bucket.name, "many/", 10_000)
        else:
            seed(bucket.kind, bucket.conn_id, bucket.name, keys)
        seed(bucket.kind, bucket.conn_id, bucket.name, ["many/folder/", "other/x.txt"])
    seeded = time.perf_counter() - started

    counter = PageCounter(hook, monkeypatch)
    started = time.perf_counter()
    objects = hook.iter_objects("many/", page_size=1000)
    first = next(objects)
    if counter.pages >= 0:
        assert counter.pages == 1, "the first object must come before the second page is asked for"
    listed = [first.key, *(obj.key for obj in objects)]
    took = time.perf_counter() - started

    assert sorted(listed) == keys  # every object once, the placeholder and the other prefix skipped
    if counter.pages >= 0:
        assert counter.pages >= 10
    assert first.size == 1
    assert first.last_modified.utcoffset() == timedelta(0)
    print(f"\n{bucket.kind}: seeded 10,000 objects in {seeded:.1f}s, listed them in {took:.2f}s")
    if bucket.kind == "azure":
        return  # Azurite's deletes slow down as a container grows: 10,000 took 93 s; it can keep them

    # Clean up through the hook: a streamed listing, deleted batch by batch as it goes. The GCS
    # emulator keeps every object (soft-deleted ones too) in the metadata it re-serializes on each
    # write, so 10,000 left behind would slow every later GCS test of the session.
    if bucket.kind == "gcs":
        store: Any = hook._store
        handle = store.handle
        handle.reload()
        handle.soft_delete_policy.retention_duration_seconds = 0
        handle.patch()
    with fast_gcs_seeding(bucket.kind):
        started = time.perf_counter()
        assert hook.delete_prefix("many/") == 10_001  # the placeholder as well
        print(f"{bucket.kind}: deleted them in {time.perf_counter() - started:.1f}s")
    assert list(hook.iter_objects("many/")) == []
