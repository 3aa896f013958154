"""``layout="parquet"``: the two tables as Parquet files, streamed, under Hive-style partition folders.

Files are written through the same ``open_write(key)`` stream the other layouts use (a
multipart upload that leaves nothing behind when it fails), one row group per group of
:mod:`.batches`, a new file once one passes ``Sizing.bytes_per_file`` bytes. Each file is
counted and hashed into a :class:`FileRegistry`, so the landing protocol of
:mod:`airflow_provider_ango.exports.landing` (temporary prefix, publish, ``_manifest.json``,
``_SUCCESS``) applies to each table's partition folder unchanged.

The same writer writes the data files of ``layout="delta"`` (:mod:`.delta_files`).
"""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any

from airflow_provider_ango.exceptions import AngoExportConfigError
from airflow_provider_ango.exports.landing import MANIFEST_NAME, MANIFEST_VERSION, Destination, publish
from airflow_provider_ango.exports.layouts import HashingWriter, Writable
from airflow_provider_ango.exports.registry import FileEntry, FileRegistry
from airflow_provider_ango.exports.tables.batches import FeedCounts, Sizing, feed_tables
from airflow_provider_ango.exports.tables.location import table_paths
from airflow_provider_ango.exports.tables.result import TableOutcome, TablesResult
from airflow_provider_ango.exports.tables.schema import SCHEMA_VERSION, TABLE_NAMES, table_schema

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

log = logging.getLogger(__name__)

COMPRESSIONS = ("zstd", "snappy", "gzip", "none")
PARQUET_TYPE = "application/vnd.apache.parquet"
#: Both tables' files are open at once, each holding one upload part: the smallest part S3
#: takes (and a multiple of GCS's 256 KiB) keeps that low.
UPLOAD_PART_BYTES = 5 * 1024 * 1024
OpenWrite = Callable[[str], AbstractContextManager[Writable]]


class _ParquetSink(io.RawIOBase):
    """The file object pyarrow writes into: counts and hashes, never closes the upload under it."""

    def __init__(self, target: Writable) -> None:
        super().__init__()
        self.hashing = HashingWriter(target)
        self.discarding = False  # after an abort: the writer's last bytes (its footer) go nowhere

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.discarding:
            return len(data)
        return self.hashing.write(bytes(data))

    def tell(self) -> int:
        return self.hashing.bytes


class _OpenPart:
    def __init__(self, open_write: OpenWrite, key: str, schema: pa.Schema, compression: str) -> None:
        import pyarrow.parquet as pq

        self._context = open_write(key)
        self.sink = _ParquetSink(self._context.__enter__())
        self.rows = 0
        self.writer: pq.ParquetWriter = pq.ParquetWriter(
            self.sink, schema, compression=None if compression == "none" else compression
        )

    def commit(self) -> None:
        self.writer.close()
        self._context.__exit__(None, None, None)

    def abort(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.sink.discarding = True
        self.writer.close()  # now, rather than from its __del__ into an aborted upload
        self._context.__exit__(exc_type or RuntimeError, exc, tb)


class ParquetParts:
    """``<stem>-00000.parquet``, ``<stem>-00001.parquet``, ... of one table under ``prefix``."""

    def __init__(
        self,
        open_write: OpenWrite,
        prefix: str,
        registry: FileRegistry,
        schema: pa.Schema,
        *,
        sizing: Sizing,
        compression: str = "zstd",
        stem: str = "part",
        observer: Callable[[pa.Table], None] | None = None,
    ) -> None:
        if compression not in COMPRESSIONS:
            raise AngoExportConfigError(
                f"Parquet compression {compression!r} is unknown; use one of {', '.join(COMPRESSIONS)}"
            )
        self._open_write = open_write
        self._prefix = prefix
        self.registry = registry
        self.schema = schema
        self._sizing = sizing
        self._compression = compression
        self._stem = stem
        self._observer = observer  # sees every group (Delta keeps the run's task ids this way)
        self._index = 0
        self._current: _OpenPart | None = None
        self._name = ""

    def write_group(self, group: pa.Table) -> None:
        """Write ``group`` as one row group (of the file in progress, or of a new one)."""
        if self._observer is not None:
            self._observer(group)
        if self._current is None:
            self._start()
        assert self._current is not None
        self._current.writer.write_table(group, row_group_size=max(group.num_rows, 1))
        self._current.rows += group.num_rows
        if self._current.sink.hashing.bytes >= self._sizing.bytes_per_file:
            self._finish_part()

    def _start(self) -> None:
        self._name = f"{self._stem}-{self._index:05d}.parquet"
        self._index += 1
        self._current = _OpenPart(self._open_write, self._prefix + self._name, self.schema, self._compression)

    def _finish_part(self) -> None:
        current, self._current = self._current, None
        if current is None:
            return
        current.commit()
        hashing = current.sink.hashing
        self.registry.record(FileEntry(self._name, current.rows, hashing.bytes, hashing.sha256))
        log.info("Wrote %s%s: %d rows, %d bytes", self._prefix, self._name, current.rows, hashing.bytes)

    def finish(self) -> None:
        """Close the file in progress; a table with no rows still gets one file (its schema)."""
        if self._current is None and self.registry.files == 0:
            self._start()
        self._finish_part()

    def abort(self, error: BaseException) -> None:
        current, self._current = self._current, None
        if current is not None:
            current.abort(type(error), error, error.__traceback__)


def write_table_parts(
    parts: dict[str, ParquetParts], records: Iterable[Any], sizing: Sizing, partition: dict[str, str]
) -> FeedCounts:
    try:
        counts = feed_tables(records, parts, sizing=sizing, partition=partition)
        for writer in parts.values():
            writer.finish()
    except BaseException as error:
        for writer in parts.values():
            writer.abort(error)
        raise
    return counts


def write_parquet_tables(
    records: Iterable[Any],
    destination: Destination,
    *,
    header: dict[str, Any] | None = None,
    sizing: Sizing | None = None,
    compression: str = "zstd",
    scratch_dir: str | None = None,
) -> TablesResult:
    """Land ``records`` as the ``tasks`` and ``annotations`` Parquet tables (see the package doc).

    Each table's partition folder is landed like any other layout: written under a temporary
    prefix, then published with ``_manifest.json`` and ``_SUCCESS`` (annotations first, tasks
    last). A failure before publishing leaves both folders as they were; a re-run replaces
    the partition.
    """
    sizing = sizing or Sizing()
    paths = table_paths(destination.prefix, f"destination {destination.uri}")
    partition = paths.partition_values
    bucket = destination.bucket
    token = uuid.uuid4().hex
    targets = {name: Destination(bucket, paths.table_prefix(name)) for name in TABLE_NAMES}
    temp = {name: f"{target.temp_root}{token}/" for name, target in targets.items()}
    for target in targets.values():
        leftovers = bucket.delete_prefix(target.temp_root)
        if leftovers:
            log.info("Removed %d temporary file(s) of an interrupted landing of %s", leftovers, target.uri)
    with FileRegistry(scratch_dir) as task_files, FileRegistry(scratch_dir) as annotation_files:
        registries = dict(zip(TABLE_NAMES, (task_files, annotation_files), strict=True))

        def open_write(key: str) -> AbstractContextManager[Writable]:
            return bucket.open_write(key, content_type=PARQUET_TYPE, part_size=UPLOAD_PART_BYTES)

        parts = {
            name: ParquetParts(
                open_write,
                temp[name],
                registries[name],
                table_schema(name),
                sizing=sizing,
                compression=compression,
            )
            for name in TABLE_NAMES
        }
        try:
            counts = write_table_parts(parts, records, sizing, {})
        except BaseException:
            log.error("Parquet landing failed before publishing; %s was not touched", destination.uri)
            for prefix in temp.values():
                bucket.delete_prefix(prefix)
            raise
        outcomes = []
        for name in reversed(TABLE_NAMES):  # annotations first: a task's rows never precede its annotations
            target = targets[name]
            manifest = {
                "version": MANIFEST_VERSION,
                "layout": "parquet",
                "table": name,
                "schema_version": SCHEMA_VERSION,
                "compression": compression,
                "partition": partition,
                **(header or {}),
                "destination": target.uri,
            }
            publish(target, temp[name], registries[name], manifest)
            registry = registries[name]
            outcomes.append(
                TableOutcome(
                    name=name,
                    uri=target.uri,
                    rows=counts.rows[name],
                    files=registry.files,
                    bytes=registry.bytes,
                    manifest_uri=bucket.uri_for(target.prefix + MANIFEST_NAME),
                )
            )
    log.info(
        "Landed %d record(s) as Parquet: %s",
        counts.records,
        ", ".join(f"{o.name} {o.rows} rows in {o.files} file(s) at {o.uri}" for o in outcomes),
    )
    return TablesResult("parquet", counts.records, tuple(reversed(outcomes)), partition=partition)


__all__ = ["COMPRESSIONS", "ParquetParts", "write_parquet_tables", "write_table_parts"]
