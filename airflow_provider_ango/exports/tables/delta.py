"""``layout="delta"``: the two tables as Delta Lake tables, one data commit per table per run.

Order of work, so that bad input fails before anything is written and a crash leaves the
tables as they were:

1. resolve the storage options from the connection (:mod:`.storage`) and open both targets
   (:mod:`.delta_checks`): a location with files that is not a table, or a table that cannot
   take the rows, is refused here;
2. if both tables already hold this run's application transaction (a retry, a re-run), stop:
   nothing is read and nothing is written;
3. write the run's rows of both tables, in one pass over the records, as Parquet files in
   the tables' folders (:mod:`.delta_files`): invisible until committed;
4. commit ``tasks``, then ``annotations``: one commit each, naming the files, carrying the
   application transaction and the run's metadata. A commit that loses a race to a concurrent
   writer is worked out again on the new snapshot (after checking the transaction again).

``mode="append"`` adds the run's rows. ``mode="merge"`` keeps one row per task, its latest
state (a task whose stored ``updated_at`` is newer than the run's is left alone, in both
tables: the task table, committed first, is where newer states are found), and replaces all
annotation rows of each task of the run: every committed file holding rows of those tasks is
rewritten without them and removed in the same commit that adds the new rows. Every merge
commit also replaces the table's *merge guard* (an empty file), so two merges at once always
conflict and the later one is worked out again, even when both only insert new tasks.

Two commits may come before the data commit: the table's creation (version 0, schema and
partitioning) on the first run, and ``ADD COLUMNS`` when the lake tables have columns an
older table lacks. Neither carries rows nor the transaction, so either is harmless to repeat.
Files written for a commit that never happens (a crash, a lost race) are in no version:
readers never see them; a lost attempt removes its own, ``VACUUM`` the rest.
"""

from __future__ import annotations

import logging
import random
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_ango.exceptions import (
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
    load_table,
    open_table,
)
from airflow_provider_ango.exports.tables.delta_files import (
    DataFile,
    delete_files,
    files_holding,
    guard_files,
    rewrite_without,
    stale_tasks,
    write_guard,
    write_run_files,
)
from airflow_provider_ango.exports.tables.location import delta_rs_uri, table_paths
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
_PARTITION_VALUE = re.compile(r"[A-Za-z0-9._-]+")


def _holds(table: DeltaTable | None, transaction: AppTransaction | None) -> bool:
    if table is None or transaction is None:
        return False
    found = table.transaction_version(transaction.app_id)
    return found is not None and found >= transaction.version


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


@dataclass
class _Run:
    """What every table's commit of this run shares."""

    mode: str
    transaction: AppTransaction | None
    metadata: dict[str, str]
    options: StorageOptions
    partition: tuple[str, ...]
    sizing: Sizing
    bucket: BucketHook
    token: str
    run_tasks: pa.Table  # task_id, updated_at of every task of the run
    tasks: TableState

    def properties(self) -> Any:
        from deltalake import CommitProperties, Transaction

        transaction = self.transaction
        apps = [Transaction(transaction.app_id, transaction.version)] if transaction else None
        return CommitProperties(custom_metadata=dict(self.metadata), app_transactions=apps)


def _prepared(state: TableState, table: DeltaTable | None, run: _Run) -> DeltaTable:
    """The table, created when missing and given the columns it lacks (commits without rows)."""
    import pyarrow as pa
    from deltalake import DeltaTable
    from deltalake import Schema as DeltaSchema

    ours = table_schema(state.name, run.partition)
    if table is None:
        description = f"Ango Hub {state.name} (airflow-provider-ango lake tables, schema {SCHEMA_VERSION})"
        table = DeltaTable.create(
            state.delta_uri,
            ours,
            mode="ignore",
            partition_by=list(run.partition) or None,
            description=description,
            storage_options=run.options.as_dict(),
        )
        table = load_table(state.delta_uri, run.options) or table
    if check_compatible(state, table, ours, run.partition):
        missing = [
            field for field in ours if field.name not in set(pa.schema(table.schema().to_arrow()).names)
        ]
        log.info("Adding column(s) %s to %s", ", ".join(f.name for f in missing), state.uri)
        table.alter.add_columns(DeltaSchema.from_arrow(pa.schema(missing)).fields)
        table.update_incremental()
    return table


def _attempt(
    state: TableState, table: DeltaTable, files: list[DataFile], run: _Run, attempt: int
) -> tuple[list[DataFile], list[DataFile]]:
    """Work out and commit this table's actions: (the run's files committed, the rewritten files)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from deltalake.transaction import RemoveAction

    ours, rewritten, removes = list(files), [], []
    if run.mode == "merge":
        tasks = table if state.name == TASKS else load_table(run.tasks.delta_uri, run.options)
        stale = stale_tasks(tasks, run.bucket, run.tasks.prefix, run.run_tasks) if tasks is not None else None
        replaced = run.run_tasks["task_id"].combine_chunks()
        stem = f"part-{run.token}-{attempt}"
        if stale is not None:  # the run's own files lose the tasks the table holds newer states of
            replaced = replaced.filter(pc.invert(pc.is_in(replaced, value_set=stale)))
            ours = []
            for index, data_file in enumerate(files):
                source = (data_file.path, data_file.bytes, dict(data_file.partition))
                ours += rewrite_without(
                    table,
                    run.bucket,
                    state.prefix,
                    source,
                    stale,
                    sizing=run.sizing,
                    stem=f"{stem}-run{index}",
                )
        now = int(time.time() * 1000)
        holding = files_holding(table, run.bucket, state.prefix, replaced)
        for index, (path, size, values) in enumerate(holding):
            rewritten += rewrite_without(
                table,
                run.bucket,
                state.prefix,
                (path, size, values),
                replaced,
                sizing=run.sizing,
                stem=f"{stem}-rw{index}",
            )
            removes.append(RemoveAction(path, True, now, size, values))
        for path, size, values in guard_files(table):
            removes.append(RemoveAction(path, True, now, size, values))
        rewritten.append(write_guard(table, run.bucket, state.prefix, stem))
    copies = [data_file for data_file in ours if data_file not in files]
    try:
        table.create_write_transaction(
            [*removes, *(data_file.add_action() for data_file in (*ours, *rewritten))],
            "append",
            pa.schema(table.schema().to_arrow()),
            partition_by=list(run.partition) or None,
            commit_properties=run.properties(),
        )
    except BaseException:
        delete_files(run.bucket, state.prefix, [*copies, *rewritten])
        raise
    if copies:  # the originals were replaced by their filtered copies
        delete_files(run.bucket, state.prefix, files)
    return ours, rewritten


def _commit_table(state: TableState, files: list[DataFile], run: _Run, max_attempts: int) -> TableOutcome:
    """Check the transaction, commit, and on a lost race work the commit out again."""
    for attempt in range(1, max_attempts + 1):
        try:
            with delta_calls("commit to", state.uri, run.options):
                table = load_table(state.delta_uri, run.options)
                if _holds(table, run.transaction):
                    assert table is not None
                    assert run.transaction is not None
                    version = state.version_holding(run.transaction.app_id, int(table.version()))
                    log.info("%s already holds this run's commit (version %s)", state.uri, version)
                    delete_files(run.bucket, state.prefix, files)
                    return TableOutcome(
                        state.name, state.uri, 0, version=version, committed=False, attempts=attempt
                    )
                table = _prepared(state, table, run)
                committed, rewritten = _attempt(state, table, files, run, attempt)
                table.update_incremental()
                newest = int(table.version())
                found = state.version_holding(run.transaction.app_id, newest) if run.transaction else None
        except CommitConflictError as conflict:
            if attempt == max_attempts:
                delete_files(run.bucket, state.prefix, files)
                raise AngoLandingError(
                    f"Delta table {state.uri}: {max_attempts} commit attempts lost to concurrent writers "
                    f"({conflict}); retry the task"
                ) from None
            pause = min(5.0, 0.2 * 2**attempt) * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not crypto
            log.info("Commit to %s lost to a concurrent writer; retrying in %.1fs", state.uri, pause)
            time.sleep(pause)
            continue
        rows = sum(f.rows for f in committed)
        version = found if found is not None else newest
        log.info(
            "Committed %d new row(s) to %s as version %d (%d file(s) rewritten)",
            rows,
            state.uri,
            version,
            len(rewritten),
        )
        return TableOutcome(
            state.name,
            state.uri,
            rows,
            files=len(committed) + len(rewritten),
            bytes=sum(f.bytes for f in (*committed, *rewritten)),
            version=version,
            attempts=attempt,
        )
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
    for key, value in paths.partition:
        if not _PARTITION_VALUE.fullmatch(value):
            raise AngoExportConfigError(
                f"destination {destination_uri}: partition value {key}={value!r} has characters Delta paths "
                "would have to escape; use letters, digits, '.', '_' and '-' (dt={{ ds }}, say)"
            )
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
        log.info("Both tables already hold %s: this run was committed before", transaction.app_id)
        skipped = tuple(
            TableOutcome(
                name, state.uri, 0, version=_held_version(state, transaction), committed=False, attempts=0
            )
            for name, state in states.items()
        )
        return TablesResult(
            "delta", 0, skipped, mode=mode, app_id=transaction.app_id, partition=paths.partition_values
        )
    sizing = sizing or Sizing()
    token = uuid.uuid4().hex[:16]
    prefixes = {name: state.prefix for name, state in states.items()}
    files, counts, run_tasks = write_run_files(
        records, bucket, prefixes, paths.partition_values, sizing=sizing, token=token
    )
    metadata = {
        "ango.schema_version": str(SCHEMA_VERSION),
        "ango.mode": mode,
        "ango.records": str(counts.records),
        **({"ango.app_id": transaction.app_id} if transaction else {}),
        **{str(key): str(value) for key, value in (commit_metadata or {}).items()},
    }
    run = _Run(
        mode, transaction, metadata, options, partition, sizing, bucket, token, run_tasks, states[TASKS]
    )
    outcomes: dict[str, TableOutcome] = {}
    try:
        if mode == "merge":
            _check_unique_tasks(run_tasks)
        # Tasks first: a merge tells stale tasks by the task table, which must hold the newest.
        for name in (TASKS, ANNOTATIONS):
            outcomes[name] = _commit_table(states[name], files[name], run, max_attempts)
    except BaseException:
        for name in TABLE_NAMES:
            if name not in outcomes:
                delete_files(bucket, states[name].prefix, files[name])
        raise
    return TablesResult(
        "delta",
        counts.records,
        tuple(outcomes[name] for name in TABLE_NAMES),
        mode=mode,
        app_id=transaction.app_id if transaction else None,
        partition=paths.partition_values,
    )


def _held_version(state: TableState, transaction: AppTransaction) -> int | None:
    if state.table is None:
        return None
    return state.version_holding(transaction.app_id, int(state.table.version()))


__all__ = ["MODES", "commit_delta_tables"]
