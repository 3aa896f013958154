"""Rows -> Arrow row groups of a bounded size, for both tables in one pass over the records.

Records are read once, in order; each gives one task row and its annotation rows. Rows wait
as Python values only in small chunks (``rows_per_chunk``: Python objects cost several times
the bytes they hold), which become compact Arrow record batches; those gather until a table's
group reaches ``bytes_per_group`` bytes of Arrow data (exact: ``RecordBatch.nbytes``) or
``rows_per_group`` rows, and the group goes to that table's sink as one table. One group is
one Parquet row group. Memory therefore holds one chunk and at most one group per table,
whatever the size of the export.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_ango.exceptions import AngoExportConfigError
from airflow_provider_ango.exports.tables.rows import Row, split_record
from airflow_provider_ango.exports.tables.schema import ANNOTATIONS, TASKS, table_schema

if TYPE_CHECKING:
    import pyarrow as pa

MIB = 1024 * 1024


@dataclass(frozen=True)
class Sizing:
    """How big row groups and files get.

    The defaults keep a worker's peak memory for both tables together within 64 MiB at 50,000
    records (``benchmarks/bench_tables.py``) while giving readers row groups of up to 4 MiB
    of Arrow data (128 Ki rows at most) and files of up to ``bytes_per_file`` bytes as stored
    (a file is closed after the row group that passes it). The Delta layout writes its data
    files with the same bounds.
    """

    rows_per_group: int = 128 * 1024
    bytes_per_group: int = 4 * MIB
    bytes_per_file: int = 128 * MIB
    rows_per_chunk: int = 256

    def __post_init__(self) -> None:
        for name in (
            "rows_per_group",
            "bytes_per_group",
            "bytes_per_file",
            "rows_per_chunk",
        ):
            if getattr(self, name) < 1:
                raise AngoExportConfigError(f"{name} must be at least 1, got {getattr(self, name)}")


class GroupSink(Protocol):
    def write_group(self, group: pa.Table) -> None: ...


class ColumnBuffer:
    """Rows of one table: a small chunk of Python values, then Arrow batches up to one group."""

    def __init__(self, table: str, sizing: Sizing, partition: Mapping[str, str]) -> None:
        self.table = table
        self.schema = table_schema(table, tuple(partition))
        self._partition = dict(partition)
        self._names = [name for name in self.schema.names if name not in partition]
        self._columns: dict[str, list[Any]] = {name: [] for name in self._names}
        self._sizing = sizing
        self._chunk_rows = 0
        self._batches: list[pa.RecordBatch] = []
        self._group_rows = 0
        self._group_bytes = 0
        self.total_rows = 0
        self.total_bytes = 0

    def add(self, row: Row) -> bool:
        """Add a row; True when the group is full and should be taken."""
        for name in self._names:
            self._columns[name].append(row.get(name))
        self._chunk_rows += 1
        self.total_rows += 1
        limit = min(self._sizing.rows_per_chunk, self._sizing.rows_per_group - self._group_rows)
        if self._chunk_rows >= limit:
            self._seal()
        return (
            self._group_rows >= self._sizing.rows_per_group
            or self._group_bytes >= self._sizing.bytes_per_group
        )

    def _seal(self) -> None:
        """The chunk of Python values -> one Arrow record batch."""
        import pyarrow as pa

        if not self._chunk_rows:
            return
        count = self._chunk_rows
        arrays = [pa.array(self._columns[name], type=self.schema.field(name).type) for name in self._names]
        arrays.extend(pa.array([value] * count, type=pa.string()) for value in self._partition.values())
        batch = pa.RecordBatch.from_arrays(arrays, schema=self.schema)
        self._columns = {name: [] for name in self._names}
        self._chunk_rows = 0
        self._batches.append(batch)
        self._group_rows += count
        self._group_bytes += batch.nbytes
        self.total_bytes += batch.nbytes

    def take(self) -> pa.Table | None:
        """The group gathered so far (None when empty)."""
        import pyarrow as pa

        self._seal()
        if not self._batches:
            return None
        group = pa.Table.from_batches(self._batches, schema=self.schema)
        self._batches = []
        self._group_rows = 0
        self._group_bytes = 0
        return group


@dataclass
class FeedCounts:
    records: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)  # Arrow bytes

    def bytes_per_row(self, table: str) -> float:
        rows = self.rows.get(table, 0)
        return self.bytes.get(table, 0) / rows if rows else 0.0


def feed_tables(
    records: Iterable[Any],
    sinks: Mapping[str, GroupSink],
    *,
    sizing: Sizing,
    partition: Mapping[str, str] | None = None,
) -> FeedCounts:
    """Read every record once and hand each table's row groups to ``sinks[table]``."""
    buffers = {table: ColumnBuffer(table, sizing, partition or {}) for table in (TASKS, ANNOTATIONS)}
    tasks, annotations = buffers[TASKS], buffers[ANNOTATIONS]
    counts = FeedCounts()

    def flush(buffer: ColumnBuffer) -> None:
        group = buffer.take()
        if group is not None:
            sinks[buffer.table].write_group(group)

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


__all__ = ["MIB", "ColumnBuffer", "FeedCounts", "GroupSink", "Sizing", "feed_tables"]
