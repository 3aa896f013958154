"""exports/zipcheck.py: the streamed zip's tail proves it whole, or names why not."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest


def _zip_bytes(members: int = 1) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for number in range(members):
            archive.writestr(f"export-{number}.json", b"[" + b",".join([b'{"a":1}'] * 5000) + b"]")
    return buffer.getvalue()


def _tail_of(data: bytes, keep: int = 4096, step: int = 1000) -> Any:
    from airflow_provider_ango.exports.zipcheck import ZipTail

    tail = ZipTail(keep)
    for start in range(0, len(data), step):
        tail.feed(data[start : start + step])
    return tail


def test_zip_tail_accepts_a_whole_zip() -> None:
    from airflow_provider_ango.exports.zipcheck import check_zip_tail

    members = check_zip_tail(_tail_of(_zip_bytes(2)), "test zip")
    assert [member.filename for member in members] == ["export-0.json", "export-1.json"]


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda data: data[:-30], "not a complete zip"),
        (lambda data: data[: len(data) // 2], "not a complete zip"),
        (lambda data: b"<html>AccessDenied</html>", "does not start like a zip"),
        (lambda data: b"", "is empty"),
    ],
)
def test_zip_tail_rejects_cut_or_foreign_bodies(mangle: Any, message: str) -> None:
    from airflow_provider_ango.exceptions import AngoExportIntegrityError
    from airflow_provider_ango.exports.zipcheck import check_zip_tail

    with pytest.raises(AngoExportIntegrityError, match=message):
        check_zip_tail(_tail_of(mangle(_zip_bytes())), "test zip")
