"""imports/manifest.py: the NDJSON sink shards, publishes at the end, and leaves nothing when aborted."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

import orjson

from airflow_provider_ango.imports.manifest import NdjsonSink, delete_stale_shards, shard_key


class FakeStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.published: list[tuple[str, str]] = []

    @contextmanager
    def open_write(self, key: str) -> Iterator[io.BytesIO]:
        buffer = io.BytesIO()
        yield buffer  # an exception leaves nothing, as BucketWriter does
        self.objects[key] = buffer.getvalue()

    def publish(self, tmp_key: str, final_key: str) -> None:
        self.objects[final_key] = self.objects.pop(tmp_key)
        self.published.append((tmp_key, final_key))

    def exists(self, key: str) -> bool:
        return key in self.objects

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)


def test_sink_shards_by_rows_and_bytes_and_publishes_at_the_end() -> None:
    store = FakeStore()
    sink = NdjsonSink(store, lambda i: shard_key("m/assets", i), max_rows=3, max_bytes=40, token="t")
    for number in range(7):
        sink.write(orjson.dumps({"n": number}))
        assert not any(key.startswith("m/assets-") and ".tmp-" not in key for key in store.objects)
    sink.write(b'{"big": "' + b"x" * 50 + b'"}')  # bigger than max_bytes: alone in its shard
    keys = sink.finish(at_least_one=True)
    assert keys == [shard_key("m/assets", i) for i in range(4)]
    assert [store.objects[key].count(b"\n") for key in keys] == [3, 3, 1, 1]
    assert all(".tmp-t" in tmp for tmp, _ in store.published)
    assert not any(".tmp-" in key for key in store.objects)


def test_sink_abort_leaves_no_temp_files_and_stale_shards_are_removed() -> None:
    store = FakeStore()
    store.objects.update({shard_key("m/a", i): b"old\n" for i in range(5)})
    sink = NdjsonSink(store, lambda i: shard_key("m/a", i), max_rows=1)
    sink.write(b"1")
    sink.write(b"2")
    sink.abort()
    assert not any(".tmp-" in key for key in store.objects)
    assert delete_stale_shards(store, "m/a", 2) == 3
    assert sorted(store.objects) == [shard_key("m/a", 0), shard_key("m/a", 1)]
    empty = NdjsonSink(store, lambda i: shard_key("m/e", i))
    assert empty.finish(at_least_one=True) == [shard_key("m/e", 0)]
    assert store.objects[shard_key("m/e", 0)] == b""
