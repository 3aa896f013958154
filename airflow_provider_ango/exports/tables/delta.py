"""``layout="delta"``: the two tables as Delta Lake tables (delta-rs), one commit per table per run.

Order of work, so that bad input fails before anything is written and a crash leaves the
tables as they were:

1. resolve the storage options from the connection (:mod:`.storage`) and open both targets
   (:mod:`.delta_checks`): a location with files that is not a table, or a table that
   cannot take the rows, is refused here;
2. if both tables already hold this run's application transaction (a retry, a re-run), stop:
   nothing is read and nothing is committed;
3. spool the records once into local Parquet files (both tables, row group by row group);
4. commit ``annotations``, then ``tasks``, each in one Delta commit carrying the application
   transaction and the run's metadata. A commit that loses a race to a concurrent writer is
   retried from the spool on the new snapshot (after checking the transaction again).

``mode="append"`` adds the run's rows. ``mode="merge"`` keeps one row per task, its latest
state (a task whose stored ``updated_at`` is newer than the run's is left alone), and replaces
all annotation rows of each task of the run: the merge source carries one marker row per task
(``annotation_key`` null) that deletes the task's stored rows, plus the new rows, which are
inserted, all in the same commit.

Data files written before a commit that never happens (a crash, a lost race) are not part of
any version: readers never see them, and ``VACUUM`` removes them later.
"""

from __future__ import annotations

import logging
import random
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_ango.exports.errors import (
    AngoExportConfigError,
    AngoExportFormatError,
    AngoLandingError,
)
from airflow_provider_ango.exports.tables.batches import Sizing
from airflow_provider_ango.exports.tables.delta_checks import (
    CommitConflictError,
    TableState,
    check_compatible,
    delta_calls,
    open_table,
)
from airflow_provider_ango.exports.tables.location import delta_rs_uri, table_paths
from airflow_provider_ango.exports.tables.parquet import Spool, spool_tables
from airflow_provider_ango.exports.tables.result import AppTransaction, TableOutcome, TablesResult
from airflow_provider_ango.exports.tables.schema import (
    ANNOTATIONS,
    SCHEMA_VERSION,
    TABLE_NAMES,
    TASKS,
    table_schema,
)
from airflow_provider_ango.exports.tables.storage import StorageOptions, storage_options
from airflow_provider_ango.hooks.bucket import BucketHook, BucketUriError, parse_bucket_uri

if TYPE_CHECKING:
    import pyarrow as pa
    from deltalake import DeltaTable

log = logging.getLogger(__name__)

MODES = ("append", "merge")
HISTORY_SEARCHED = 100  # commits searched for the version that holds a transaction
TASK_MERGE = "t.task_id = s.task_id"
# A newer stored state wins; a state without a time is taken (nothing to compare).
TASK_NEWER = "s.updated_at IS NULL OR t.updated_at IS NULL OR s.updated_at >= t.updated_at"
ANNOTATION_MERGE = "s.annotation_key IS NULL AND t.task_id = s.task_id"


def _holds(table: DeltaTable | None, transaction: AppTransaction | None) -> bool:
    if table is None or transaction is None:
        return False
    found = table.transaction_version(transaction.app_id)
    return found is not None and found >= transaction.version


def _version_holding(table: DeltaTable, app_id: str) -> int | None:
    for commit in table.history(HISTORY_SEARCHED):
        if commit.get("ango.app_id") == app_id:
            return int(commit["version"])
    return None


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
        [field.with_nullable(field.name == "task_id") for field in schema], metadata=schema.metadata
    )


class _Commit:
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
        merger.when_matched_delete().when_not_matched_insert_all(
            predicate="s.annotation_key IS NOT NULL"
        ).execute()

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


def _stale_tasks(table: DeltaTable | None, run: pa.Table) -> pa.Array | None:
    """Task ids of the run whose stored state in the task table is newer than the run's."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if table is None or not run.num_rows:
        return None
    incoming = run.rename_columns(["task_id", "run_updated_at"])
    found: list[pa.Array] = []
    for batch in table.to_pyarrow_dataset().to_batches(columns=["task_id", "updated_at"]):
        joined = pa.Table.from_batches([batch]).join(incoming, keys="task_id", join_type="inner")
        newer = joined.filter(pc.greater(joined["updated_at"], joined["run_updated_at"]))
        if newer.num_rows:
            found.append(newer["task_id"].combine_chunks())
    if not found:
        return None
    stale = pa.concat_arrays(found)
    log.info("%d task(s) of this run are older than the state the table holds; left alone", len(stale))
    return stale


def _check_unique_tasks(run: pa.Table) -> None:
    import pyarrow.compute as pc

    counts = pc.value_counts(run["task_id"])
    repeated = counts.filter(pc.greater(counts.field("counts"), 1))
    if len(repeated):
        first = repeated[0].as_py()
        raise AngoExportFormatError(
            f"the export holds task {first['values']!r} {first['counts']} times ({len(repeated)} task(s) "
            "repeat); merge keeps one row per task - land this export with mode='append'"
        )


def _commit_table(commit: _Commit, run: pa.Table | None, max_attempts: int) -> TableOutcome:
    state = commit.state
    for attempt in range(1, max_attempts + 1):
        from deltalake import DeltaTable

        with delta_calls("commit to", state.uri, commit.options):
            table = (
                DeltaTable(state.delta_uri, storage_options=commit.options.as_dict())
                if DeltaTable.is_deltatable(state.delta_uri, storage_options=commit.options.as_dict())
                else None
            )
            if _holds(table, commit.transaction):
                assert table is not None
                assert commit.transaction is not None
                version = _version_holding(table, commit.transaction.app_id)
                log.info(
                    "%s already holds %s (version %s): nothing committed",
                    state.uri,
                    commit.transaction.app_id,
                    version,
                )
                return TableOutcome(
                    state.name, state.uri, 0, version=version, committed=False, attempts=attempt
                )
        try:
            with delta_calls("commit to", state.uri, commit.options):
                stale = _stale_tasks(table, run) if commit.mode == "merge" and run is not None else None
                commit.attempt(table, stale)
                version = (
                    int(table.version())
                    if table is not None
                    else int(DeltaTable(state.delta_uri, storage_options=commit.options.as_dict()).version())
                )
        except CommitConflictError as conflict:
            if attempt == max_attempts:
                raise AngoLandingError(
                    f"Delta table {state.uri}: {max_attempts} commit attempts lost to concurrent writers "
                    f"({conflict}); retry the task"
                ) from None
            pause = min(5.0, 0.2 * 2**attempt) * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not crypto
            log.info("Commit to %s lost to a concurrent writer; retrying in %.1fs", state.uri, pause)
            time.sleep(pause)
            continue
        log.info("Committed %d row(s) to %s as version %d", commit.rows, state.uri, version)
        return TableOutcome(state.name, state.uri, commit.rows, version=version, attempts=attempt)
    raise AssertionError("unreachable")


def commit_delta_tables(
    records: Iterable[Any],
    destination_uri: str,
    *,
    conn_id: str | None = None,
    mode: Literal["append", "merge"] = "append",
    transaction: AppTransaction | None = None,
    commit_metadata: Mapping[str, str] | None = None,
    sizing: Sizing | None = None,
    scratch_dir: str | None = None,
    options: StorageOptions | None = None,
    max_attempts: int = 5,
) -> TablesResult:
    """Commit ``records`` to the ``tasks`` and ``annotations`` Delta tables under ``destination_uri``.

    See the package documentation for the tables, the modes and what a retry does.
    """
    if mode not in MODES:
        raise AngoExportConfigError(f"mode {mode!r} is unknown; use 'append' or 'merge'")
    if max_attempts < 1:
        raise AngoExportConfigError(f"max_attempts must be at least 1, got {max_attempts}")
    try:
        location = parse_bucket_uri(destination_uri)
    except BucketUriError as error:
        raise AngoExportConfigError(f"destination_uri: {error}") from error
    paths = table_paths(location.prefix, f"destination {destination_uri}")
    partition = tuple(paths.partition_values)
    bucket = BucketHook(replace(location, prefix=""), conn_id)
    options = options or storage_options(location, conn_id)
    states = {
        name: open_table(
            name,
            location.uri_for(paths.table_root(name)).rstrip("/"),
            delta_rs_uri(location, paths.table_root(name)),
            bucket,
            paths.table_root(name),
            options,
        )
        for name in TABLE_NAMES
    }
    for state in states.values():  # a table that cannot take the rows fails before they are read
        if state.table is not None:
            check_compatible(state, state.table, table_schema(state.name, partition), partition)
    if all(_holds(state.table, transaction) for state in states.values()):
        assert transaction is not None
        log.info(
            "Both tables already hold %s: this run was committed before; nothing to do", transaction.app_id
        )
        outcomes = tuple(
            TableOutcome(
                name,
                state.uri,
                0,
                version=_version_holding(state.table, transaction.app_id)
                if state.table is not None
                else None,
                committed=False,
                attempts=0,
            )
            for name, state in states.items()
        )
        return TablesResult(
            "delta", 0, outcomes, mode=mode, app_id=transaction.app_id, partition=paths.partition_values
        )
    sizing = sizing or Sizing()
    metadata = {
        "ango.schema_version": str(SCHEMA_VERSION),
        "ango.mode": mode,
        **({"ango.app_id": transaction.app_id} if transaction else {}),
        **{str(key): str(value) for key, value in (commit_metadata or {}).items()},
    }
    with tempfile.TemporaryDirectory(prefix="ango-delta-spool-", dir=scratch_dir) as scratch:
        spool = spool_tables(records, Path(scratch), sizing=sizing, partition=paths.partition_values)
        metadata["ango.records"] = str(spool.counts.records)
        run = spool.read_columns(TASKS, ["task_id", "updated_at"]) if mode == "merge" else None
        if run is not None:
            _check_unique_tasks(run)
        committed: dict[str, TableOutcome] = {}
        for name in (ANNOTATIONS, TASKS):  # a task's new state is visible only once its annotations are
            commit = _Commit(
                states[name],
                spool,
                mode=mode,
                transaction=transaction,
                metadata=metadata,
                options=options,
                partition=partition,
                sizing=sizing,
            )
            committed[name] = _commit_table(commit, run, max_attempts)
        records_count = spool.counts.records
    return TablesResult(
        "delta",
        records_count,
        tuple(committed[name] for name in TABLE_NAMES),
        mode=mode,
        app_id=transaction.app_id if transaction else None,
        partition=paths.partition_values,
    )


__all__ = ["MODES", "commit_delta_tables"]
