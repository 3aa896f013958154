"""Lake tables: an Ango export as two typed tables, ``tasks`` and ``annotations``, in Parquet or Delta Lake.

Public API (everything an operator needs; importing this package imports neither pyarrow
nor deltalake nor a cloud SDK - they load on the first call)::

    from airflow_provider_ango.exports.tables import (
        AppTransaction, Sizing, TablesResult, commit_delta_tables, write_parquet_tables,
    )

    # layout="parquet": land under a Destination (bucket hook at the root + key prefix)
    result = write_parquet_tables(records, destination, header={"dag_id": ..., "run_id": ...})

    # layout="delta": commit to the tables under a destination URI, through an Airflow connection
    result = commit_delta_tables(
        records,
        "s3://lake/ango/",                      # -> s3://lake/ango/tasks, s3://lake/ango/annotations
        conn_id="aws_default",                  # aws_default / google_cloud_default / wasb_default
        mode="merge",                           # or "append"
        transaction=AppTransaction.for_interval(dag_id, task_id, interval_start, interval_end),
        commit_metadata={"dag_id": dag_id, "run_id": run_id},
    )
    result.to_xcom()   # {"layout", "mode", "records", "app_id", "partition",
                       #  "tables": {"tasks": {"uri", "version", "committed", "rows", ...}, ...}}

    # reading a Delta table back (DuckDB, pyarrow), with the same connection's credentials
    dataset = delta_dataset("s3://lake/ango/tasks", conn_id="aws_default")

``records`` is any iterable of export records (dicts, one Ango asset with its ``task`` each),
such as :func:`airflow_provider_ango.exports.records.iter_zip_records`; it is read once, and
memory stays flat: rows are gathered into bounded batches (:class:`Sizing`) that become
Parquet row groups.

Where the tables go (:mod:`.location`): the destination's trailing ``key=value`` folders are
a Hive-style partition; the tables live beside each other under the part before them::

    destination s3://lake/ango/dt=2024-05-01/
      parquet -> s3://lake/ango/tasks/dt=2024-05-01/part-00000.parquet (+ _manifest.json, _SUCCESS)
                 s3://lake/ango/annotations/dt=2024-05-01/part-00000.parquet
      delta   -> Delta tables s3://lake/ango/tasks and s3://lake/ango/annotations,
                 partitioned by the string column dt (this run's rows: dt = "2024-05-01")

The schema (:mod:`.schema`, every column described there and in the columns' ``comment``):

- ``tasks``: one row per task (key ``task_id``): ids, externalId, asset URL, dataset pages,
  batches, stage, review status, timestamps (``timestamp[us, UTC]``), durations, the stage
  history as ``list<struct>``, typed asset metadata, ``metadata_json`` and
  ``context_data_json`` (JSON strings), counts, and the raw record as ``record_json``;
- ``annotations``: one row per tool, classification (nested ones with ``parent_key``) and
  relation (key ``task_id`` + ``annotation_key``): object id, schemaId, title, ``kind`` and
  ``tool`` type, page or frame, typed geometry per tool (``bbox_*``, ``rbox_*``, ``points``
  as ``list<struct<x, y>>``, ``point_*``, ``ner_*``), classification answers
  (``answer_text`` / ``answer_values``), relation ends, annotation metadata, and
  ``geometry_json`` for any shape (or new tool type) without typed columns.

Delta (:mod:`.delta`): one data commit per table per run, tasks first. ``mode="append"``
adds the run's rows; ``mode="merge"`` keeps each task's latest state (by ``updated_at``) and
replaces a task's annotation rows with the run's. The :class:`AppTransaction` is checked and
set through Delta's ``txn`` action, so a retried or re-run interval commits nothing twice; a
commit that loses a race to a concurrent writer is worked out again on the new snapshot. Columns a
table lacks are added (schema evolution); a table that cannot take the rows, or a location
holding files that are not a Delta table, is refused before anything is written.
Credentials come from the Airflow connection (:mod:`.storage`) and never reach logs,
results or error messages.
"""

from __future__ import annotations

from airflow_provider_ango.exports.tables.batches import Sizing
from airflow_provider_ango.exports.tables.delta import MODES, commit_delta_tables
from airflow_provider_ango.exports.tables.location import TablePaths, table_paths
from airflow_provider_ango.exports.tables.parquet import COMPRESSIONS, write_parquet_tables
from airflow_provider_ango.exports.tables.reading import delta_dataset
from airflow_provider_ango.exports.tables.result import AppTransaction, TableOutcome, TablesResult
from airflow_provider_ango.exports.tables.schema import (
    ANNOTATIONS,
    SCHEMA_VERSION,
    TABLE_NAMES,
    TASKS,
    describe_columns,
    table_schema,
)
from airflow_provider_ango.exports.tables.storage import StorageOptions, storage_options

__all__ = [
    "ANNOTATIONS",
    "COMPRESSIONS",
    "MODES",
    "SCHEMA_VERSION",
    "TABLE_NAMES",
    "TASKS",
    "AppTransaction",
    "Sizing",
    "StorageOptions",
    "TableOutcome",
    "TablePaths",
    "TablesResult",
    "commit_delta_tables",
    "delta_dataset",
    "describe_columns",
    "storage_options",
    "table_paths",
    "table_schema",
    "write_parquet_tables",
]
