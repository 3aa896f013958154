"""imports/labels.py ``read_label_files`` on each store's emulator: files fetched several at once give
the items one at a time gives, in the same order; a file past the whole-file size is streamed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
import pytest

from airflow_provider_ango.imports import labels
from airflow_provider_ango.imports.labels import read_label_files
from airflow_provider_ango.imports.sources import BucketFiles

if TYPE_CHECKING:
    from tests.imports.helpers import Store

pytestmark = pytest.mark.emulator


def item(name: str, pad: int = 0) -> dict[str, Any]:
    return {"externalId": name, "tools": [], "classifications": [{"schemaId": "note", "answer": "x" * pad}]}


def test_files_read_concurrently_give_the_serial_items_in_order(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(labels, "WHOLE_FILE_BYTES", 4096)  # so that a test-sized file is "large"
    uris = []
    for number in range(40):
        key = f"labels/{number:03d}.json"
        if number % 3 == 0:
            data = orjson.dumps([item(f"{number}-{n}.jpg") for n in range(3)])  # a JSON array
        else:
            data = b"\n".join(orjson.dumps(item(f"{number}-{n}.jpg")) for n in range(2))  # NDJSON
        store.hook.write_bytes(key, data)
        uris.append(store.hook.uri_for(key))
    big = b"\n".join(orjson.dumps(item(f"big-{n}.jpg", pad=100)) for n in range(200))  # about 30 KB
    store.hook.write_bytes("labels/zz-big.ndjson", big)
    uris.insert(20, store.hook.uri_for("labels/zz-big.ndjson"))  # streamed, in its place
    store.hook.write_bytes("labels/broken.ndjson", b'{"externalId": "a.jpg"}\n{not json\n')
    uris.append(store.hook.uri_for("labels/broken.ndjson"))

    def read(concurrency: int) -> list[tuple[str, Any]]:
        found = read_label_files(BucketFiles(store.bucket.conn_id), uris, max_concurrency=concurrency)
        return [(where, repr(value) if isinstance(value, Exception) else value) for where, value in found]

    serial = read(1)
    assert read(8) == serial
    assert len(serial) == 14 * 3 + 26 * 2 + 200 + 2
    wheres = [where for where, _ in serial]
    assert sum("zz-big.ndjson:" in where for where in wheres) == 200
    assert wheres.index(f"{uris[19]}:1") < wheres.index(f"{uris[20]}:1") < wheres.index(f"{uris[21]}:1")
    assert serial[-1][0].endswith("broken.ndjson:2")
    assert "not JSON" in serial[-1][1]


def test_a_missing_file_fails_naming_it(store: Store) -> None:
    from airflow_provider_ango.exceptions import AngoInputNotFoundError

    store.hook.write_bytes("labels/a.ndjson", orjson.dumps(item("a.jpg")))
    uris = [store.hook.uri_for("labels/a.ndjson"), store.hook.uri_for("labels/gone.ndjson")]
    with pytest.raises(AngoInputNotFoundError, match=r"label file \S+/labels/gone\.ndjson does not exist"):
        list(read_label_files(BucketFiles(store.bucket.conn_id), uris, max_concurrency=4))
