"""One table's Delta commit for one run: the source stream read from the spool and the operation.

- a table that does not exist yet, and every ``mode="append"`` commit: ``write_deltalake``
  in append mode (``schema_mode="merge"`` when the table lacks columns);
- ``mode="merge"`` on ``tasks``: ``MERGE ... ON t.task_id = s.task_id``, matched rows updated
  unless the stored state is newer, others inserted;
- ``mode="merge"`` on ``annotations``: the source is one *marker* row per task of the run
  (``annotation_key`` null) followed by the new rows; ``MERGE ... ON s.annotation_key IS NULL
  AND t.task_id = s.task_id`` deletes every stored row of those tasks (each stored row meets
  exactly one marker) and inserts the new rows (which never match): a task's annotations are
  replaced in the same commit, whatever changed in its answer.

Every operation passes the table object the caller checked the transaction on, so its commit
is based on that snapshot and delta-rs's conflict check sees any writer that came after.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from airflow_provider_ango.exports.tables.batches import Sizing
from airflow_provider_ango.exports.tables.delta_checks import TableState, check_compatible
from airflow_provider_ango.exports.tables.parquet import Spool
from airflow_provider_ango.exports.tables.result import AppTransaction
from airflow_provider_ango.exports.tables.schema import SCHEMA_VERSION, TASKS
from airflow_provider_ango.exports.tables.storage import StorageOptions

if TYPE_CHECKING:
    import pyarrow as pa
    from deltalake import DeltaTable

TASK_MERGE = "t.task_id = s.task_id"
# A newer stored state wins; a state without a time is taken (nothing to compare).
TASK_NEWER = "s.updated_at IS NULL OR t.updated_at IS NULL OR s.updated_at >= t.updated_at"
ANNOTATION_MERGE = "s.annotation_key IS NULL AND t.task_id = s.task_id"
NEW_ANNOTATION = "s.annotation_key IS NOT NULL"


def _conformed(batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """Batches in ``schema``'s column order, columns they lack as nulls."""
    import pyarrow as pa

    for batch in batches:
        names = set(batch.schema.names)
        arrays = [
            batch.column(field.name) if field.name in names else pa.nulls(batch.num_rows, field.type)
            for field in schema
        ]
        yield pa.RecordBatch.from_arrays(arrays, schema=schema)


def _without(batches: Iterable[pa.RecordBatch], task_ids: pa.Array | None) -> Iterator[pa.RecordBatch]:
    import pyarrow.compute as pc

    for batch in batches:
        if task_ids is not None and len(task_ids):
            batch = batch.filter(pc.invert(pc.is_in(batch.column("task_id"), value_set=task_ids)))
        if batch.num_rows:
            yield batch


def _relaxed(schema: pa.Schema) -> pa.Schema:
    """The merge source's schema: every column nullable but task_id (marker rows are mostly null)."""
    import pyarrow as pa

    return pa.schema(
        [field.with_nullable(field.name != "task_id") for field in schema], metadata=schema.metadata
    )


class TableCommit:
    """One table's commit for this run: the spool, the mode, the transaction and how to retry."""

    def __init__(
        self,
        state: TableState,
        spool: Spool,
        *,
        mode: str,
        transaction: AppTransaction | None,
        metadata: dict[str, str],
        options: StorageOptions,
        partition: tuple[str, ...],
        sizing: Sizing,
    ) -> None:
        self.state = state
        self.spool = spool
        self.mode = mode
        self.transaction = transaction
        self.metadata = metadata
        self.options = options
        self.partition = partition
        self.sizing = sizing
        self.rows = 0

    def properties(self) -> Any:
        from deltalake import CommitProperties, Transaction

        transactions = (
            [Transaction(self.transaction.app_id, self.transaction.version)] if self.transaction else None
        )
        return CommitProperties(custom_metadata=dict(self.metadata), app_transactions=transactions)

    def writer_properties(self) -> Any:
        from deltalake import WriterProperties

        per_row = max(self.spool.counts.bytes_per_row(self.state.name), 1.0)
        rows = int(min(self.sizing.rows_per_group, max(1024, self.sizing.bytes_per_group / per_row)))
        return WriterProperties(compression="ZSTD", max_row_group_size=rows)

    def attempt(self, table: DeltaTable | None, stale: pa.Array | None) -> None:
        import pyarrow as pa
        from deltalake import write_deltalake

        name = self.state.name
        ours = self.spool.schemas[name]
        schema, evolve = (
            (ours, False) if table is None else check_compatible(self.state, table, ours, self.partition)
        )
        counted = self._counted(_without(self.spool.batches(name), stale))
        if table is None or self.mode == "append":
            reader = pa.RecordBatchReader.from_batches(schema, _conformed(counted, schema))
            write_deltalake(
                table if table is not None else self.state.delta_uri,
                reader,
                mode="append",
                partition_by=list(self.partition) or None,
                schema_mode="merge" if evolve else None,
                storage_options=self.options.as_dict(),
                writer_properties=self.writer_properties(),
                commit_properties=self.properties(),
                description=f"Ango Hub {name} (airflow-provider-ango lake tables, schema {SCHEMA_VERSION})"
                if table is None
                else None,
            )
            return
        source_schema = _relaxed(schema)
        if name == TASKS:
            source = _conformed(counted, source_schema)
            merger = table.merge(
                pa.RecordBatchReader.from_batches(source_schema, source),
                TASK_MERGE,
                source_alias="s",
                target_alias="t",
                merge_schema=evolve,
                writer_properties=self.writer_properties(),
                commit_properties=self.properties(),
            )
            merger.when_matched_update_all(predicate=TASK_NEWER).when_not_matched_insert_all().execute()
            return
        markers = self._markers(source_schema, stale)
        rows = _conformed(counted, source_schema)
        merger = table.merge(
            pa.RecordBatchReader.from_batches(source_schema, _chain(markers, rows)),
            ANNOTATION_MERGE,
            source_alias="s",
            target_alias="t",
            merge_schema=evolve,
            writer_properties=self.writer_properties(),
            commit_properties=self.properties(),
        )
        merger.when_matched_delete().when_not_matched_insert_all(predicate=NEW_ANNOTATION).execute()

    def _counted(self, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        self.rows = 0
        for batch in batches:
            self.rows += batch.num_rows
            yield batch

    def _markers(self, schema: pa.Schema, stale: pa.Array | None) -> Iterator[pa.RecordBatch]:
        """One row per task of the run (not stale): task_id, its time and partition, the rest null."""
        import pyarrow as pa

        for batch in _without(self.spool.batches(TASKS), stale):
            columns = {
                "task_id": batch.column("task_id"),
                "task_updated_at": batch.column("updated_at"),
                **{key: batch.column(key) for key in self.partition},
            }
            arrays = [columns.get(field.name, pa.nulls(batch.num_rows, field.type)) for field in schema]
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)


def _chain(*parts: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for part in parts:
        yield from part


__all__ = ["ANNOTATION_MERGE", "TASK_MERGE", "TASK_NEWER", "TableCommit"]
