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
from collections.abc import Iterable, Mapping
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
    check_compatible,
    delta_calls,
    load_table,
    open_table,
)
from airflow_provider_ango.exports.tables.delta_commit import TableCommit
from airflow_provider_ango.exports.tables.location import delta_rs_uri, table_paths
from airflow_provider_ango.exports.tables.parquet import spool_tables
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


def _holds(table: DeltaTable | None, transaction: AppTransaction | None) -> bool:
    if table is None or transaction is None:
        return False
    found = table.transaction_version(transaction.app_id)
    return found is not None and found >= transaction.version


def stale_tasks(table: DeltaTable | None, run: pa.Table) -> pa.Array | None:
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


def _committed_version(commit: TableCommit, table: DeltaTable | None) -> int:
    """The version this commit made: the updated table object's, or found by its transaction."""
    if table is not None:
        return int(table.version())
    created = load_table(commit.state.delta_uri, commit.options)
    assert created is not None
    newest = int(created.version())
    if commit.transaction is not None:
        found = commit.state.version_holding(commit.transaction.app_id, newest)
        if found is not None:
            return found
    return newest


def _commit_table(
    commit: TableCommit, tasks_uri: str, run: pa.Table | None, max_attempts: int
) -> TableOutcome:
    """Check the transaction, commit, and on a lost race start over from the spool."""
    state = commit.state
    for attempt in range(1, max_attempts + 1):
        try:
            with delta_calls("commit to", state.uri, commit.options):
                table = load_table(state.delta_uri, commit.options)
                if _holds(table, commit.transaction):
                    assert table is not None
                    assert commit.transaction is not None
                    version = state.version_holding(commit.transaction.app_id, int(table.version()))
                    log.info("%s already holds this run's commit (version %s)", state.uri, version)
                    return TableOutcome(
                        state.name, state.uri, 0, version=version, committed=False, attempts=attempt
                    )
                stale = None
                if run is not None:  # merge: against the task table as it is now
                    tasks = table if state.name == TASKS else load_table(tasks_uri, commit.options)
                    stale = stale_tasks(tasks, run)
                commit.attempt(table, stale)
                version = _committed_version(commit, table)
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
                version=state.version_holding(transaction.app_id, int(state.table.version()))
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
            commit = TableCommit(
                states[name],
                spool,
                mode=mode,
                transaction=transaction,
                metadata=metadata,
                options=options,
                partition=partition,
                sizing=sizing,
            )
            committed[name] = _commit_table(commit, states[TASKS].delta_uri, run, max_attempts)
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
