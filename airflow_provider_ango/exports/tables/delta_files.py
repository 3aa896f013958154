"""The data files of a Delta commit, written by the provider and committed as file actions.

delta-rs's own writer and MERGE hold far more than a row group in memory (measured: about
160 MiB for a 40 MiB stream, and MERGE's hash join holds the whole source and cannot spill), so
the provider writes the Parquet files itself, as for ``layout="parquet"``: streamed through
the bucket hook, one bounded row group at a time, straight into the table's folder. They stay
invisible until a commit names them (``DeltaTable.create_write_transaction``):

- the run's rows: one pass over the records, both tables at once (:func:`write_run_files`),
  ``part-<token>-NNNNN.parquet`` under the table (and its partition folder);
- merge: each committed file holding rows of a task the run replaces is rewritten without
  them (:func:`rewrite_without`) and removed in the same commit; the run's new files are
  rewritten only when some of their tasks turned out older than the table's (rare).

Files are read back through the provider's bucket hook with ranged reads (:class:`BucketFile`),
and their rows conformed to the table's columns (files delta-rs itself rewrote tag strings as
``string_view``; older files may lack newer columns).
"""

from __future__ import annotations

import gc
import io
import json
import logging
import time
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from airflow_provider_ango.exports.layouts import Writable
from airflow_provider_ango.exports.registry import FileRegistry
from airflow_provider_ango.exports.tables.batches import FeedCounts, Sizing
from airflow_provider_ango.exports.tables.parquet import (
    PARQUET_TYPE,
    UPLOAD_PART_BYTES,
    ParquetParts,
    write_table_parts,
)
from airflow_provider_ango.exports.tables.schema import TABLE_NAMES, TASKS, table_schema

if TYPE_CHECKING:
    import pyarrow as pa
    from deltalake import DeltaTable

    from airflow_provider_ango.hooks.bucket import BucketHook

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataFile:
    """A Parquet file in a table's folder: ``path`` relative to the table root."""

    path: str
    rows: int
    bytes: int
    partition: tuple[tuple[str, str | None], ...] = ()

    def add_action(self) -> Any:
        from deltalake.transaction import AddAction

        stats = json.dumps({"numRecords": self.rows})
        return AddAction(self.path, self.bytes, dict(self.partition), int(time.time() * 1000), True, stats)


class _RunColumns:
    """Keeps (task_id, updated_at) of every task group written: the tasks a merge replaces."""

    def __init__(self) -> None:
        self.parts: list[pa.Table] = []

    def __call__(self, group: pa.Table) -> None:
        self.parts.append(group.select(["task_id", "updated_at"]))

    def table(self) -> pa.Table:
        import pyarrow as pa

        schema = table_schema(TASKS)
        empty = pa.schema([schema.field("task_id"), schema.field("updated_at")]).empty_table()
        return pa.concat_tables(self.parts) if self.parts else empty


class _Files:
    """One table's files being written under ``folder`` (a whole key prefix), as :class:`DataFile`."""

    def __init__(
        self, bucket: BucketHook, table_prefix: str, folder: str, partition: Mapping[str, str | None]
    ):
        self.bucket = bucket
        self.table_prefix = table_prefix
        self.folder = folder  # relative to the table root: "" or "dt=2024-05-01/"
        self.partition = tuple(partition.items())
        self.registry = FileRegistry()

    def open_write(self, name: str) -> AbstractContextManager[Writable]:
        key = self.table_prefix + self.folder + name
        return self.bucket.open_write(key, content_type=PARQUET_TYPE, part_size=UPLOAD_PART_BYTES)

    def done(self) -> list[DataFile]:
        files = [
            DataFile(self.folder + entry.name, entry.records or 0, entry.bytes, self.partition)
            for entry in self.registry
        ]
        self.registry.close()
        return files


def write_run_files(
    records: Iterable[Any],
    bucket: BucketHook,
    table_prefixes: Mapping[str, str],
    partition: Mapping[str, str],
    *,
    sizing: Sizing,
    token: str,
) -> tuple[dict[str, list[DataFile]], FeedCounts, pa.Table]:
    """Write the run's rows of both tables into their folders; (files, counts, run's task ids and times)."""
    folder = "".join(f"{key}={value}/" for key, value in partition.items())
    writers = {name: _Files(bucket, table_prefixes[name], folder, partition) for name in TABLE_NAMES}
    tasks = _RunColumns()
    parts = {
        name: ParquetParts(
            writers[name].open_write,
            "",
            writers[name].registry,
            table_schema(name),
            sizing=sizing,
            stem=f"part-{token}",
            observer=tasks if name == TASKS else None,
        )
        for name in TABLE_NAMES
    }
    try:
        counts = write_table_parts(parts, records, sizing, {})
    except BaseException:
        for name in TABLE_NAMES:  # files finished before the failure: no commit will name them
            delete_files(bucket, table_prefixes[name], writers[name].done())
        raise
    files = {name: writers[name].done() for name in TABLE_NAMES}
    gc.collect()  # the records' Python objects, before the commit phase reads files back
    release_memory()
    return files, counts, tasks.table()


def delete_files(bucket: BucketHook, table_prefix: str, files: Iterable[DataFile]) -> None:
    """Remove files no commit will name (a skipped run, a lost attempt): best effort, VACUUM would too."""
    for data_file in files:
        try:
            bucket.delete(table_prefix + data_file.path)
        except Exception as error:  # cleaning up must not hide what happened
            log.warning("Could not remove uncommitted file %s: %s", data_file.path, type(error).__name__)


def _data_schema(table: DeltaTable) -> pa.Schema:
    """The table's columns as files hold them: partition columns left out, strings as string."""
    import pyarrow as pa

    partitions = set(table.metadata().partition_columns)
    arrow = pa.schema(table.schema().to_arrow())
    return pa.schema([field for field in arrow if field.name not in partitions])


class BucketFile(io.RawIOBase):
    """A seekable, read-only view of one object, read by ranged GETs through the bucket hook.

    What pyarrow reads a Parquet file from (footer first, then the column chunks it needs), so
    memory holds what pyarrow asks for, never the file. It goes through the provider's own
    hook: delta-rs's pyarrow filesystem keeps the GIL on some of its calls (see
    :func:`~.delta_checks.load_table`).
    """

    def __init__(self, bucket: BucketHook, key: str, size: int) -> None:
        super().__init__()
        self._bucket, self._key, self._size, self._position = bucket, key, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        end = min(self._size, self._position + len(buffer))
        if end <= self._position:
            return 0
        data = self._bucket.read_bytes(self._key, self._position, end)
        memoryview(buffer).cast("B")[: len(data)] = data
        self._position += len(data)
        return len(data)


def _parquet(bucket: BucketHook, table_prefix: str, path: str, size: int) -> Any:
    import pyarrow.parquet as pq

    return pq.ParquetFile(BucketFile(bucket, table_prefix + unquote(path), size))


def release_memory() -> None:
    """Hand Arrow's freed memory back to the system between batches.

    mimalloc (Arrow's default pool) keeps freed pages for reuse; when batch sizes vary (a
    tasks file after an annotations file) it reuses them poorly and the process grows batch by
    batch (measured: +14 MiB a batch while rewriting).
    """
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def _arrow_row_bytes(schema: pa.Schema) -> int:
    """Bytes a row takes in Arrow even when every value is null (fixed-width buffers, offsets)."""
    import pyarrow as pa

    def width(data_type: pa.DataType) -> int:
        if pa.types.is_struct(data_type):
            return sum(width(field.type) for field in data_type)
        if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
            return 8
        if pa.types.is_string(data_type) or pa.types.is_binary(data_type):
            return 8
        return max(1, data_type.bit_width // 8) if hasattr(data_type, "bit_width") else 8

    return sum(width(field.type) for field in schema)


def _batch_rows(parquet: Any, data: pa.Schema, sizing: Sizing) -> int:
    """Rows per batch so that a batch holds about a group's bytes in memory.

    The file's own sizes count values as encoded (a column of nulls costs nothing there), while
    Arrow allocates every fixed-width column in full: both bound the rows.
    """
    meta = parquet.metadata
    rows = sum(meta.row_group(i).num_rows for i in range(meta.num_row_groups))
    encoded = (
        sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)) / rows if rows else 0.0
    )
    per_row = max(encoded, float(_arrow_row_bytes(data)), 1.0)
    # Half a group: a batch is held twice while it is conformed and filtered.
    return int(max(1, min(sizing.rows_per_group, sizing.bytes_per_group // 2 // per_row)))


def _conformed(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` in ``schema``: its column order and types (string_view -> string), missing ones null."""
    import pyarrow as pa

    names = set(batch.schema.names)
    arrays = [
        batch.column(field.name).cast(field.type)
        if field.name in names
        else pa.nulls(batch.num_rows, field.type)
        for field in schema
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


GUARD_STEM = "merge-guard"


def guard_files(table: DeltaTable) -> list[tuple[str, int, dict[str, str | None]]]:
    """The merge guards the table holds (see :func:`write_guard`)."""
    import pyarrow as pa

    actions = pa.table(table.get_add_actions(flatten=True))
    partition_columns = [name for name in actions.schema.names if name.startswith("partition.")]
    return [
        (
            action["path"],
            int(action["size_bytes"]),
            {name.removeprefix("partition."): action[name] for name in partition_columns},
        )
        for action in actions.to_pylist()
        if action["path"].rpartition("/")[2].startswith(GUARD_STEM)
    ]


def write_guard(table: DeltaTable, bucket: BucketHook, table_prefix: str, stem: str) -> DataFile:
    """An empty data file that every merge commit removes and replaces with a new one.

    A merge's own file actions make it a blind append to delta-rs's conflict check, so two
    merges inserting the same new task at once would both land. Both also remove the guard,
    and two commits removing one file conflict: the later one is worked out again.
    """
    partitions = table.metadata().partition_columns
    writer = _Files(bucket, table_prefix, "", dict.fromkeys(partitions))
    parts = ParquetParts(
        writer.open_write,
        "",
        writer.registry,
        _data_schema(table),
        sizing=Sizing(),
        stem=f"{GUARD_STEM}-{stem}",
    )
    parts.finish()  # no rows: one file with the schema
    return writer.done()[0]


def files_holding(
    table: DeltaTable, bucket: BucketHook, table_prefix: str, task_ids: pa.Array
) -> list[tuple[str, int, dict[str, str | None]]]:
    """(path, size, partition values) of every committed file with a row of ``task_ids``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(task_ids):
        return []
    actions = pa.table(table.get_add_actions(flatten=True))
    partition_columns = [name for name in actions.schema.names if name.startswith("partition.")]
    holding = []
    for action in actions.to_pylist():
        if action["path"].rpartition("/")[2].startswith(GUARD_STEM):
            continue
        size = int(action["size_bytes"])
        ids = _parquet(bucket, table_prefix, action["path"], size).read(
            columns=["task_id"], use_threads=False
        )["task_id"]
        if pc.any(pc.is_in(ids.cast(pa.string()), value_set=task_ids)).as_py():
            values = {name.removeprefix("partition."): action[name] for name in partition_columns}
            holding.append((action["path"], size, values))
        del ids
        release_memory()
    return holding


def stale_tasks(table: DeltaTable, bucket: BucketHook, table_prefix: str, run: pa.Table) -> pa.Array | None:
    """Task ids of the run whose state in the task ``table`` is newer than the run's (None: none)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not run.num_rows:
        return None
    incoming = run.rename_columns(["task_id", "run_updated_at"])
    keys = pa.schema([pa.field("task_id", pa.string()), pa.field("updated_at", run.schema.field(1).type)])
    found: list[pa.Array] = []
    for action in pa.table(table.get_add_actions(flatten=True)).select(["path", "size_bytes"]).to_pylist():
        stored = _parquet(bucket, table_prefix, action["path"], int(action["size_bytes"]))
        for batch in stored.iter_batches(columns=["task_id", "updated_at"], use_threads=False):
            times = pa.Table.from_batches([batch]).cast(keys)  # files delta-rs rewrote hold string_view
            joined = times.join(incoming, keys="task_id", join_type="inner")
            newer = joined.filter(pc.greater(joined["updated_at"], joined["run_updated_at"]))
            if newer.num_rows:
                found.append(newer["task_id"].combine_chunks())
        release_memory()
    if not found:
        return None
    stale = pa.concat_arrays(found)
    log.info("%d task(s) of this run are older than the state the table holds; left alone", len(stale))
    return stale


def rewrite_without(
    table: DeltaTable,
    bucket: BucketHook,
    table_prefix: str,
    source: tuple[str, int, Mapping[str, str | None]],
    task_ids: pa.Array,
    *,
    sizing: Sizing,
    stem: str,
) -> list[DataFile]:
    """A file (path, size, partition values) rewritten beside itself without the rows of ``task_ids``."""
    import pyarrow.compute as pc

    path, size, partition = source
    data = _data_schema(table)
    folder = path.rpartition("/")[0]
    writer = _Files(bucket, table_prefix, f"{folder}/" if folder else "", partition)
    parts = ParquetParts(writer.open_write, "", writer.registry, data, sizing=sizing, stem=stem)
    kept = 0
    try:
        parquet = _parquet(bucket, table_prefix, path, size)
        # One thread: with several, pyarrow decodes row groups ahead (measured: 2.5x the memory).
        for batch in parquet.iter_batches(batch_size=_batch_rows(parquet, data, sizing), use_threads=False):
            plain = _conformed(batch, data)
            survivors = plain.filter(pc.invert(pc.is_in(plain.column("task_id"), value_set=task_ids)))
            del batch, plain
            if survivors.num_rows:
                kept += survivors.num_rows
                parts.write_group(_as_table(survivors))
            del survivors
            release_memory()
        if kept:
            parts.finish()
    except BaseException as error:
        parts.abort(error)
        writer.registry.close()
        raise
    return writer.done()


def _as_table(batch: pa.RecordBatch) -> pa.Table:
    import pyarrow as pa

    return pa.Table.from_batches([batch])


__all__ = [
    "BucketFile",
    "DataFile",
    "delete_files",
    "files_holding",
    "guard_files",
    "rewrite_without",
    "stale_tasks",
    "write_guard",
    "write_run_files",
]
