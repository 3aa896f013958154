"""Rows -> Arrow record batches of a bounded size, for both tables in one pass over the records.

Records are read once, in order; each gives one task row and its annotation rows, which
collect column by column until a table's batch reaches ``rows_per_group`` rows or about
``bytes_per_group`` bytes of column data, and is then handed to that table's sink. Memory
therefore holds at most one batch per table (plus the writer's own buffers), whatever the
size of the export. One batch becomes one Parquet row group, so the same two bounds size
the row groups readers scan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_ango.exports.errors import AngoExportConfigError
from airflow_provider_ango.exports.tables.rows import Row, split_record
from airflow_provider_ango.exports.tables.schema import ANNOTATIONS, TASKS, table_schema

if TYPE_CHECKING:
    import pyarrow as pa

MIB = 1024 * 1024


@dataclass(frozen=True)
class Sizing:
    """How big row groups and files get (bytes are of uncompressed column data, estimated).

    The defaults keep a worker's peak memory for both tables together within about 64 MiB
    (see ``benchmarks/bench_tables.py``) while giving scans row groups of up to 128 Ki rows
    or 16 MiB and files of up to 512 MiB before compression.
    """

    rows_per_group: int = 128 * 1024
    bytes_per_group: int = 16 * MIB
    bytes_per_file: int = 512 * MIB

    def __post_init__(self) -> None:
        for name in ("rows_per_group", "bytes_per_group", "bytes_per_file"):
            if getattr(self, name) < 1:
                raise AngoExportConfigError(f"{name} must be at least 1, got {getattr(self, name)}")


class BatchSink(Protocol):
    def write_batch(self, batch: pa.RecordBatch) -> None: ...


def _task_size(row: Row) -> int:
    return len(row["record_json"]) + 512


def _annotation_size(row: Row) -> int:
    shape = row.get("points")
    return 256 + (16 * len(shape) if shape else 0) + len(row.get("geometry_json") or "")


_SIZES = {TASKS: _task_size, ANNOTATIONS: _annotation_size}


class ColumnBuffer:
    """Rows of one table gathered column by column, turned into a batch when full."""

    def __init__(self, table: str, sizing: Sizing, partition: Mapping[str, str]) -> None:
        self.table = table
        self.schema = table_schema(table, tuple(partition))
        self._partition = dict(partition)
        self._names = [name for name in self.schema.names if name not in partition]
        self._columns: dict[str, list[Any]] = {name: [] for name in self._names}
        self._size = _SIZES[table]
        self._sizing = sizing
        self.rows = 0
        self.bytes = 0
        self.total_rows = 0
        self.total_bytes = 0

    def add(self, row: Row) -> bool:
        """Add a row; True when the batch is full and should be taken."""
        for name in self._names:
            self._columns[name].append(row.get(name))
        size = self._size(row)
        self.rows += 1
        self.bytes += size
        self.total_rows += 1
        self.total_bytes += size
        return self.rows >= self._sizing.rows_per_group or self.bytes >= self._sizing.bytes_per_group

    def take(self) -> pa.RecordBatch | None:
        """The rows gathered so far as one record batch (None when there are none)."""
        import pyarrow as pa

        if not self.rows:
            return None
        arrays = [pa.array(self._columns[name], type=self.schema.field(name).type) for name in self._names]
        arrays.extend(pa.array([value] * self.rows, type=pa.string()) for value in self._partition.values())
        batch = pa.RecordBatch.from_arrays(arrays, schema=self.schema)
        self._columns = {name: [] for name in self._names}
        self.rows = 0
        self.bytes = 0
        return batch


@dataclass
class FeedCounts:
    records: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)

    def bytes_per_row(self, table: str) -> float:
        rows = self.rows.get(table, 0)
        return self.bytes.get(table, 0) / rows if rows else 0.0


def feed_tables(
    records: Iterable[Any],
    sinks: Mapping[str, BatchSink],
    *,
    sizing: Sizing,
    partition: Mapping[str, str] | None = None,
) -> FeedCounts:
    """Read every record once and hand each table's batches to ``sinks[table]``."""
    buffers = {table: ColumnBuffer(table, sizing, partition or {}) for table in (TASKS, ANNOTATIONS)}
    tasks, annotations = buffers[TASKS], buffers[ANNOTATIONS]
    counts = FeedCounts()

    def flush(buffer: ColumnBuffer) -> None:
        batch = buffer.take()
        if batch is not None:
            sinks[buffer.table].write_batch(batch)

    for position, record in enumerate(records, start=1):
        task, rows = split_record(record, position)
        for row in rows:
            if annotations.add(row):
                flush(annotations)
        if tasks.add(task):
            flush(tasks)
        counts.records = position
    flush(tasks)
    flush(annotations)
    for table, buffer in buffers.items():
        counts.rows[table] = buffer.total_rows
        counts.bytes[table] = buffer.total_bytes
    return counts


__all__ = ["MIB", "BatchSink", "ColumnBuffer", "FeedCounts", "Sizing", "feed_tables"]
