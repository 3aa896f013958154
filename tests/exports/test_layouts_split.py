"""exports/layouts.py, split layout: files written several at once are the serial ones, in order."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

WAIT = 5.0


class ConcurrentMemoryStore:
    """open_write into a dict from many threads; an exception inside the ``with`` leaves nothing.

    Uploads of the keys in ``held`` wait until ``release_after`` other objects are stored, so
    later files overtake them.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.objects: dict[str, bytes] = {}
        self.in_flight = 0
        self.most_in_flight = 0
        self.held: set[str] = set()
        self.release_after = 0
        self.release = threading.Event()
        self.fail: set[str] = set()
        self.order: list[str] = []

    @contextmanager
    def open_write(self, key: str) -> Iterator[Any]:
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            buffer = io.BytesIO()
            yield buffer
            if key in self.held:
                assert self.release.wait(WAIT)
            if key in self.fail:
                raise OSError(f"upload of {key} reset")
            with self.lock:
                self.objects[key] = buffer.getvalue()
                self.order.append(key)
                if len(self.objects) >= self.release_after:
                    self.release.set()
        finally:
            with self.lock:
                self.in_flight -= 1


def records(count: int) -> list[dict[str, Any]]:
    out = [{"externalId": f"img-{n:04d}.jpg", "task": {"taskId": f"t{n}"}, "n": n} for n in range(count)]
    out.append(
        {"externalId": "img-0003.jpg", "task": {"taskId": "t-dup"}, "n": -1}
    )  # a second asset, same id
    return out


def land_split(store: ConcurrentMemoryStore, tmp_path: Path, concurrency: int, items: list[Any]) -> list[Any]:
    from airflow_provider_ango.exports.layouts import record_writer, write_records
    from airflow_provider_ango.exports.registry import FileRegistry

    tmp_path.mkdir(exist_ok=True)
    with FileRegistry(tmp_path) as registry:
        writer = record_writer(
            "split",
            store.open_write,
            "tmp/",
            registry,
            max_rows=1,
            max_bytes=1,
            compression=None,
            max_concurrency=concurrency,
        )
        write_records(writer, items)
        return [entry.to_json() for entry in registry]


def test_split_files_written_concurrently_are_the_serial_ones(tmp_path: Path) -> None:
    items = records(300)
    serial_store = ConcurrentMemoryStore()
    serial = land_split(serial_store, tmp_path / "serial", 1, items)

    store = ConcurrentMemoryStore()
    store.held = {f"tmp/{entry['name']}" for entry in serial[:2]}  # the first two finish late
    store.release_after = 8  # fewer than the window holds, so the map can get there
    concurrent = land_split(store, tmp_path / "concurrent", 8, items)

    assert store.order[:2] != serial_store.order[:2]  # they did finish out of order
    assert concurrent == serial  # names, sizes, hashes, in record order
    assert store.objects == serial_store.objects
    assert serial_store.most_in_flight == 1
    assert 1 < store.most_in_flight <= 8
    assert len(serial) == 301
    duplicate = [entry for entry in serial if entry["name"].startswith("img-0003.jpg")]
    assert len(duplicate) == 2  # the second asset with that id got a file of its own


def test_a_failed_upload_stops_new_writes_and_is_raised_after_the_ones_in_flight(tmp_path: Path) -> None:
    store = ConcurrentMemoryStore()
    items = records(200)
    store.fail = {"tmp/" + _name_of(items[40])}
    with pytest.raises(OSError, match="reset"):
        land_split(store, tmp_path, 4, items)
    assert store.in_flight == 0  # nothing still uploading once the error reached the landing
    assert "tmp/" + _name_of(items[40]) not in store.objects
    assert len(store.objects) < 40 + 2 * 4  # no new uploads past the window once it failed
    assert all(orjson.loads(data)["n"] >= 0 for data in store.objects.values())


def _name_of(record: dict[str, Any]) -> str:
    from airflow_provider_ango.exports.safe_keys import asset_object_name

    return asset_object_name(record["externalId"])
