"""Layout writers: how records become files under a (temporary) prefix.

- ``raw``: the export zip itself, as ``export.zip``;
- ``ndjson``: ``part-00000.ndjson``, ... one record per line, each part at most
  ``max_rows`` records and ``max_bytes`` bytes (before compression; a single record larger
  than ``max_bytes`` gets a part of its own);
- ``json``: the same parts as JSON arrays (``part-00000.json``);
- ``split``: one JSON file per asset, named from its externalId (:mod:`.safe_keys`).

Every file is written through ``open_write`` of the store (a streamed upload that leaves
nothing behind if it fails), counted and hashed (SHA-256 of the bytes stored, so of the
compressed bytes for ``.gz``), and recorded in the landing's :class:`FileRegistry`. The split
layout writes ``max_concurrency`` files at a time on the shared ordered map (names are chosen
and recorded on the caller's thread, in record order; only the uploads run on the pool).
Records are written with orjson, so a JSON export and an NDJSON export of the same tasks
land byte-identical records.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, closing
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol

import orjson

from airflow_provider_ango.exceptions import AngoExportConfigError, AngoExportFormatError
from airflow_provider_ango.exports.registry import FileEntry, FileRegistry
from airflow_provider_ango.exports.safe_keys import asset_object_name
from airflow_provider_ango.hooks.bucket.parallel import DEFAULT_MAX_CONCURRENCY, ordered_map

Layout = Literal["raw", "ndjson", "json", "split"]
LAYOUTS: tuple[str, ...] = ("raw", "ndjson", "json", "split")
Compression = Literal["gzip"] | None
RAW_NAME = "export.zip"
COPY_CHUNK = 8 * 1024 * 1024

log = logging.getLogger(__name__)


class Writable(Protocol):
    def write(self, data: bytes, /) -> Any: ...


OpenWrite = Callable[[str], AbstractContextManager[Writable]]


class HashingWriter:
    """Passes bytes on to ``target`` while counting them and hashing them."""

    def __init__(self, target: Writable) -> None:
        self._target = target
        self._hash = hashlib.sha256()
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.bytes += len(data)
        self._target.write(data)
        return len(data)

    def flush(self) -> None:  # GzipFile calls it
        return None

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


def encode_record(record: Any) -> bytes:
    try:
        return orjson.dumps(record)
    except TypeError as error:  # e.g. an integer beyond 64 bits
        raise AngoExportFormatError(f"a record cannot be written as JSON: {error}") from error


class _OpenFile:
    """One file being written: the store's upload context, the hashing wrapper, optional gzip."""

    def __init__(self, open_write: OpenWrite, key: str, compression: Compression) -> None:
        self._context = open_write(key)
        self.hashing = HashingWriter(self._context.__enter__())
        self._gzip = (
            gzip.GzipFile(fileobj=self.hashing, mode="wb", mtime=0) if compression == "gzip" else None
        )
        self.content_bytes = 0

    def write(self, data: bytes) -> None:
        self.content_bytes += len(data)
        (self._gzip or self.hashing).write(data)

    def commit(self) -> None:
        if self._gzip is not None:
            self._gzip.close()
        self._context.__exit__(None, None, None)

    def abort(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._context.__exit__(exc_type, exc, tb)


class LayoutWriter:
    """Base: a context manager that aborts the file in progress when the landing fails."""

    def __init__(self, open_write: OpenWrite, prefix: str, registry: FileRegistry) -> None:
        self._open_write = open_write
        self._prefix = prefix
        self.registry = registry
        self._current: _OpenFile | None = None

    def add(self, record: Any) -> None:
        raise NotImplementedError

    def add_all(self, records: Iterable[Any]) -> None:
        """Every record, in order (a writer that can write several files at once overrides it)."""
        for record in records:
            self.add(record)

    def finish(self) -> None:
        """Commit what is still open (called on success)."""

    def __enter__(self) -> LayoutWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.finish()
        elif self._current is not None:
            current, self._current = self._current, None
            current.abort(exc_type, exc, tb)


class PartWriter(LayoutWriter):
    """``ndjson`` / ``json`` parts, rolled over by rows and bytes."""

    def __init__(
        self,
        open_write: OpenWrite,
        prefix: str,
        registry: FileRegistry,
        *,
        kind: Literal["ndjson", "json"],
        max_rows: int,
        max_bytes: int,
        compression: Compression = None,
    ) -> None:
        super().__init__(open_write, prefix, registry)
        if max_rows < 1 or max_bytes < 1:
            raise AngoExportConfigError("max_rows_per_part and max_bytes_per_part must be at least 1")
        self._kind = kind
        self._max_rows = max_rows
        self._max_bytes = max_bytes
        self._compression = compression
        self._suffix = f".{kind}" + (".gz" if compression == "gzip" else "")
        self._index = 0
        self._rows = 0
        self._name = ""

    def add(self, record: Any) -> None:
        encoded = encode_record(record)
        if self._current is not None and (
            self._rows >= self._max_rows or self._current.content_bytes + len(encoded) + 2 > self._max_bytes
        ):
            self._finish_part()
        if self._current is None:
            self._start_part()
        assert self._current is not None
        if self._kind == "ndjson":
            self._current.write(encoded + b"\n")
        else:
            self._current.write((b"[" if self._rows == 0 else b",\n") + encoded)
        self._rows += 1

    def _start_part(self) -> None:
        self._name = f"part-{self._index:05d}{self._suffix}"
        self._index += 1
        self._rows = 0
        self._current = _OpenFile(self._open_write, self._prefix + self._name, self._compression)

    def _finish_part(self) -> None:
        current, self._current = self._current, None
        if current is None:
            return
        if self._kind == "json":
            current.write(b"]\n")
        current.commit()
        entry = FileEntry(self._name, self._rows, current.hashing.bytes, current.hashing.sha256)
        self.registry.record(entry)
        log.info("Wrote %s: %d records, %d bytes", self._name, entry.records, entry.bytes)

    def finish(self) -> None:
        self._finish_part()


class SplitWriter(LayoutWriter):
    """One ``<safe externalId>-<hash>.json`` per asset, up to ``max_concurrency`` uploads in flight."""

    def __init__(
        self,
        open_write: OpenWrite,
        prefix: str,
        registry: FileRegistry,
        *,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    ) -> None:
        super().__init__(open_write, prefix, registry)
        self.max_concurrency = max_concurrency
        self.duplicates = 0
        self._seen = 0

    def add(self, record: Any) -> None:
        self.registry.record(self._write(self._named(record)))

    def add_all(self, records: Iterable[Any]) -> None:
        written = ordered_map(
            self._write,
            (self._named(record) for record in records),  # pulled on this thread, in order
            max_concurrency=self.max_concurrency,
            name_of=lambda named: self._prefix + named[0],
            what="write",
        )
        with closing(written):
            for entry in written:
                self.registry.record(entry)

    def _named(self, record: Any) -> tuple[str, bytes]:
        """The record's file name (claimed in the registry) and its bytes."""
        self._seen += 1
        external_id, task_id = _identity(record, self._seen)
        name = asset_object_name(external_id)
        if not self.registry.claim(name):
            # Ango allows one externalId on several assets: tell them apart by task id.
            name = asset_object_name(external_id, salt=task_id)
            if not self.registry.claim(name):
                raise AngoExportFormatError(
                    f"the export holds asset externalId={external_id!r} task={task_id!r} twice; "
                    "cannot give both a file of their own in the split layout (use ndjson)"
                )
            self.duplicates += 1
        return name, encode_record(record)

    def _write(self, named: tuple[str, bytes]) -> FileEntry:
        """Upload one file (on a worker thread); a failed upload leaves nothing at its key."""
        name, data = named
        current = _OpenFile(self._open_write, self._prefix + name, None)
        try:
            current.write(data)
        except BaseException as error:
            current.abort(type(error), error, error.__traceback__)
            raise
        current.commit()
        return FileEntry(name, 1, current.hashing.bytes, current.hashing.sha256)


def _identity(record: Any, position: int) -> tuple[str, str]:
    if not isinstance(record, dict):
        raise AngoExportFormatError(f"export record #{position} is a {type(record).__name__}, not an object")
    task = record.get("task")
    if not isinstance(task, dict):
        task = {}
    task_id = str(task.get("taskId") or record.get("assetId") or f"record-{position}")
    external_id = record.get("externalId")
    return (str(external_id) if external_id not in (None, "") else task_id), task_id


def write_raw(
    open_write: OpenWrite, prefix: str, registry: FileRegistry, zip_path: Path, records: int
) -> None:
    """Copy the export zip as ``export.zip``."""
    current = _OpenFile(open_write, prefix + RAW_NAME, None)
    try:
        with zip_path.open("rb") as source:
            for chunk in iter(lambda: source.read(COPY_CHUNK), b""):
                current.write(chunk)
    except BaseException as error:
        current.abort(type(error), error, error.__traceback__)
        raise
    current.commit()
    registry.record(FileEntry(RAW_NAME, records, current.hashing.bytes, current.hashing.sha256))


def record_writer(
    layout: str,
    open_write: OpenWrite,
    prefix: str,
    registry: FileRegistry,
    *,
    max_rows: int,
    max_bytes: int,
    compression: Compression,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
) -> LayoutWriter:
    if layout in ("ndjson", "json"):
        return PartWriter(
            open_write,
            prefix,
            registry,
            kind="ndjson" if layout == "ndjson" else "json",
            max_rows=max_rows,
            max_bytes=max_bytes,
            compression=compression,
        )
    if layout == "split":
        return SplitWriter(open_write, prefix, registry, max_concurrency=max_concurrency)
    raise AngoExportConfigError(f"layout {layout!r} has no record writer; use one of {', '.join(LAYOUTS)}")


def write_records(writer: LayoutWriter, records: Iterable[Any]) -> None:
    """Feed every record to ``writer``; the file in progress is aborted if anything fails."""
    with writer:
        writer.add_all(records)


__all__ = [
    "LAYOUTS",
    "RAW_NAME",
    "HashingWriter",
    "Layout",
    "LayoutWriter",
    "PartWriter",
    "SplitWriter",
    "encode_record",
    "record_writer",
    "write_raw",
    "write_records",
]
