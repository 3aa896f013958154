"""exports/records.py: records streamed out of the export zip (JSON array or NDJSON), bad exports named."""

from __future__ import annotations

import zipfile
from pathlib import Path

import orjson
import pytest


def _zip(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, content)
    return path


def test_json_array_records_stream_with_numbers_intact(tmp_path: Path) -> None:
    from airflow_provider_ango.exports.records import iter_zip_records

    records = [{"externalId": f"e{n}", "x": 559.1259640102828, "n": n, "big": 2**53 + 1} for n in range(3)]
    path = _zip(tmp_path, "export.json", b"\xef\xbb\xbf  \n" + orjson.dumps(records))
    assert list(iter_zip_records(path)) == records


def test_ndjson_records_skip_blank_lines(tmp_path: Path) -> None:
    from airflow_provider_ango.exports.records import iter_zip_records

    path = _zip(tmp_path, "export.ndjson", b'{"a":1}\n\n{"a":2}\r\n')
    assert list(iter_zip_records(path)) == [{"a": 1}, {"a": 2}]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("export.json", b'{"not": "a list"}', "is not a JSON array"),
        ("export.json", b'[{"a": 1}, {"a":', "is not valid JSON"),
        ("export.json", b"", "is empty"),
        ("export.ndjson", b'{"a":1}\n{oops}\n', "line 2 is not valid JSON"),
        ("readme.txt", b"hello", "holds no .json or .ndjson file"),
    ],
)
def test_bad_exports_are_named(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    from airflow_provider_ango.exceptions import AngoExportFormatError
    from airflow_provider_ango.exports.records import iter_zip_records

    with pytest.raises(AngoExportFormatError, match=message):
        list(iter_zip_records(_zip(tmp_path, name, content)))
