"""AngoBuildImportOperator with header and sidecar reads in flight, on each store's emulator: the
manifest (and its errors file) is byte-identical to the one built a read at a time."""

from __future__ import annotations

from typing import Any

import pytest

from tests.imports.helpers import Store, build, jpeg, png

pytestmark = pytest.mark.emulator


def manifest_bytes(store: Store, result: dict[str, Any]) -> list[bytes]:
    from airflow_provider_ango.imports.sources import BucketFiles

    files = BucketFiles(store.bucket.conn_id)
    uris = [*result["manifests"], *([result["errors"]] if result["errors"] else [])]
    return [hook.read_bytes(key) for hook, key in map(files.hook_for, uris)]


def test_the_manifest_built_concurrently_is_the_serial_one(store: Store) -> None:
    for number in range(30):
        store.put(f"img/{number:02d} é+#.png", png(number + 1, 2 * number + 1))
    store.put("img/exif.jpg", jpeg(1200, 800, exif_bytes=100_000))  # a second, longer read
    store.put("img/unread.tif", b"II*\x00 no size read from TIFFs")  # no size: a warning, no error
    for number in range(6):
        store.put(f"vid/{number}.mp4")
        if number % 3 == 0:
            store.put(f"vid/{number}.mp4.json", b'{"frameRate": 30, "frameCount": %d}' % (number + 10))
        elif number % 3 == 1:
            store.put(f"vid/{number}.mp4.json", b'{"frameRate": "fast"}')  # invalid: to the errors file
    start, end = store.interval_around_all()
    # on_invalid="skip": the errors file is compared too (strict would publish no shard).
    options: dict[str, Any] = {
        "image_dimensions": True,
        "video_sidecar": "{relative_key}.json",
        "on_invalid": "skip",
    }

    serial = build(store, "serial", start, end, max_concurrency=1, max_manifest_rows=10, **options)
    concurrent = build(store, "concurrent", start, end, max_concurrency=16, max_manifest_rows=10, **options)

    assert concurrent["counts"] == serial["counts"]
    assert serial["counts"]["items"] == 30 + 2 + 4
    assert serial["counts"]["invalid"] == 2
    assert serial["counts"]["image_size_unknown"] == 1
    assert len(serial["manifests"]) == 4
    assert manifest_bytes(store, concurrent) == manifest_bytes(store, serial)
    assert b'"width":1200,"height":800' in b"".join(manifest_bytes(store, serial))
