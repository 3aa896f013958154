"""Records streamed out of an Ango export zip, one at a time, in constant memory.

Ango's zip holds one ``.json`` file (a JSON array of assets) or one ``.ndjson`` file (one
asset per line). The JSON array is parsed with ijson's push interface: the member is read
in 256 KiB chunks and each complete array element comes out as soon as its closing brace is
read, so memory follows the size of one record, never the file. Numbers with a fraction
come back as ``float`` (``use_float``), which orjson writes back with the same digits.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import ijson
import orjson

from airflow_provider_ango.exceptions import AngoExportFormatError

READ_CHUNK = 256 * 1024
_JSON_SUFFIXES = (".json",)
_NDJSON_SUFFIXES = (".ndjson", ".jsonl")
_WHITESPACE = b" \t\r\n"
_BOM = b"\xef\xbb\xbf"


def member_format(name: str) -> str | None:
    lowered = name.lower()
    if lowered.endswith(_NDJSON_SUFFIXES):
        return "ndjson"
    if lowered.endswith(_JSON_SUFFIXES):
        return "json"
    return None


def data_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The export files in the zip (``.json`` / ``.ndjson``), in name order; macOS debris skipped."""
    members = [
        info
        for info in archive.infolist()
        if not info.is_dir()
        and not info.filename.startswith("__MACOSX/")
        and not Path(info.filename).name.startswith("._")
        and member_format(info.filename) is not None
    ]
    return sorted(members, key=lambda info: info.filename)


class _Prefixed:
    """A read-only stream that gives ``head`` first, then the rest of ``stream``."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self._head = head
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson probes the stream's type with read(0)
            return b""
        if self._head:
            head, self._head = self._head, b""
            return head
        return self._stream.read(size)


def iter_json_array(stream: IO[bytes], where: str) -> Iterator[Any]:
    """Elements of the JSON array in ``stream``; a top level that is not an array is an error."""
    head = stream.read(READ_CHUNK).removeprefix(_BOM).lstrip(_WHITESPACE)
    while not head:
        chunk = stream.read(READ_CHUNK)
        if not chunk:
            raise AngoExportFormatError(f"{where} is empty; an empty Ango JSON export is '[]'")
        head = chunk.lstrip(_WHITESPACE)
    if not head.startswith(b"["):
        raise AngoExportFormatError(
            f"{where} is not a JSON array (it starts with {head[:20]!r}); Ango's JSON export "
            "is a list of assets. Was the export format set to something else?"
        )
    # ijson's C backend pulls READ_CHUNK bytes at a time from the stream and hands out each
    # array element as soon as it is complete (the file-based interface is about twice as
    # fast as the push one).
    items = ijson.items(_Prefixed(head, stream), "item", use_float=True, buf_size=READ_CHUNK)
    try:
        yield from items
    except ijson.JSONError as error:
        raise AngoExportFormatError(f"{where} is not valid JSON: {error}") from error


def iter_ndjson(stream: IO[bytes], where: str) -> Iterator[Any]:
    """One record per non-blank line."""
    for number, line in enumerate(stream, start=1):
        text = line.strip()
        if number == 1:
            text = text.removeprefix(_BOM)
        if not text:
            continue
        try:
            yield orjson.loads(text)
        except orjson.JSONDecodeError as error:
            raise AngoExportFormatError(f"{where} line {number} is not valid JSON: {error}") from error


def iter_zip_records(zip_path: Path) -> Iterator[Any]:
    """Every record of every export file in the zip at ``zip_path``, in order."""
    try:
        archive = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as error:
        raise AngoExportFormatError(f"the staged export is not a readable zip: {error}") from error
    with archive:
        members = data_members(archive)
        if not members:
            names = ", ".join(info.filename for info in archive.infolist()[:5]) or "nothing"
            raise AngoExportFormatError(
                f"the export zip holds no .json or .ndjson file (it holds {names}); is it an Ango export?"
            )
        for info in members:
            where = f"export member {info.filename!r}"
            with archive.open(info) as stream:
                if member_format(info.filename) == "ndjson":
                    yield from iter_ndjson(stream, where)
                else:
                    yield from iter_json_array(stream, where)


def zip_formats(zip_path: Path) -> list[str]:
    """Formats of the export files in the zip (``json`` / ``ndjson``)."""
    with zipfile.ZipFile(zip_path) as archive:
        return [member_format(info.filename) or "?" for info in data_members(archive)]


__all__ = [
    "data_members",
    "iter_json_array",
    "iter_ndjson",
    "iter_zip_records",
    "member_format",
    "zip_formats",
]
