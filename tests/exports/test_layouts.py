"""exports/layouts.py: part files roll over by rows and bytes; a failing record aborts the part."""

from __future__ import annotations

import io
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest


class MemoryStore:
    """open_write into a dict; an exception inside the ``with`` leaves nothing (like BucketWriter)."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    @contextmanager
    def open_write(self, key: str) -> Any:
        buffer = io.BytesIO()
        yield buffer
        self.objects[key] = buffer.getvalue()


def test_parts_roll_over_by_rows_and_bytes(tmp_path: Path) -> None:
    from airflow_provider_ango.exports.layouts import PartWriter, write_records
    from airflow_provider_ango.exports.registry import FileRegistry

    store = MemoryStore()
    records = [{"n": n, "pad": "x" * (200 if n == 5 else 10)} for n in range(12)]
    with FileRegistry(tmp_path) as registry:
        writer = PartWriter(store.open_write, "tmp/", registry, kind="ndjson", max_rows=4, max_bytes=100)
        write_records(writer, records)
        entries = list(registry)
        assert registry.records == 12
    assert [entry.records for entry in entries] == [3, 2, 1, 3, 3]  # 3 short rows fit 100 bytes; n=5 alone
    lines = [line for key in sorted(store.objects) for line in store.objects[key].splitlines()]
    assert [orjson.loads(line) for line in lines] == records


def test_a_failing_record_aborts_the_part_in_progress(tmp_path: Path) -> None:
    from airflow_provider_ango.exceptions import AngoExportFormatError
    from airflow_provider_ango.exports.layouts import PartWriter, write_records
    from airflow_provider_ango.exports.registry import FileRegistry

    store = MemoryStore()
    with FileRegistry(tmp_path) as registry:
        writer = PartWriter(store.open_write, "tmp/", registry, kind="json", max_rows=2, max_bytes=10**6)
        with pytest.raises(AngoExportFormatError, match="cannot be written as JSON"):
            write_records(writer, [{"a": 1}, {"a": 2}, {"a": 3}, {"a": 2**70}])
    assert list(store.objects) == ["tmp/part-00000.json"]
    assert orjson.loads(store.objects["tmp/part-00000.json"]) == [{"a": 1}, {"a": 2}]
