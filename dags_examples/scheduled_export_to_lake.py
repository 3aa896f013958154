"""Scheduled export of labeled Ango Hub tasks to a data lake (job 2), and a DAG that reads it.

``ango_scheduled_export_to_lake`` runs once a day for the previous day:

1. ``trigger_export`` asks Ango Hub for the tasks in stage ``params.stage`` (default
   ``Complete``) *updated in the run's data interval* (``incremental=True``: adjacent runs
   neither lose nor double a task updated exactly on a boundary). The export request waits in
   the triggerer (``deferrable=True``), then the zip is streamed to ``staging_uri``;
2. ``land_export`` merges it into two Delta Lake tables, ``<lake_uri>/tasks`` (one row per task,
   its latest state) and ``<lake_uri>/annotations`` (one row per box, polygon, answer, ...),
   partitioned by ``project`` and ``dt`` (the day of the interval that last changed the task):
   one commit per table, which a retried or re-run interval does not repeat. It emits an event
   for the Asset ``ango_lake_exports`` whose extra names the tables and the versions committed.

``ango_lake_partition_report`` is scheduled on that Asset: it starts when a run has landed,
checks that the versions of the event are in the tables' logs (for a file layout: that the
partition has its ``_SUCCESS`` marker) and reports what the run landed.

Params: ``project_id`` (empty: the Airflow Variable ``ango_project_id``), ``stage``,
``staging_uri``, ``lake_uri``. Connections: ``ango_default`` for Ango Hub, ``aws_default``
for S3 / MinIO. Change ``MODE`` to ``append`` to keep every landed state of a task, or ``LAYOUT``
to ``parquet`` (the same two tables as Parquet partition folders, with ``_manifest.json`` and
``_SUCCESS``) or ``ndjson``, ``json``, ``split``, ``raw`` (files of export records under
``<lake_uri>/project=<project_id>/dt=<interval day>/``).
The Asset is named, not addressed by an ``s3://`` URI: Airflow normalizes an ``s3://`` URI
through the Amazon provider, which would import boto3 every time this file is parsed.

Unpausing the export DAG runs the previous day at once (a commit of no rows if nothing changed).
To export another window now, trigger a run through the REST API with ``logical_date``,
``data_interval_start`` and ``data_interval_end`` (see ``dags_examples/README.md``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from airflow.sdk import DAG, Asset, CronDataIntervalTimetable, Param, task

from airflow_provider_ango.operators.exports import AngoLandExportOperator, AngoTriggerExportOperator

ANGO_CONN_ID = "ango_default"
AWS_CONN_ID = "aws_default"
LAKE_EXPORTS = Asset(name="ango_lake_exports")
LAYOUT: Literal["delta", "parquet", "ndjson", "json", "split", "raw"] = "delta"
MODE: Literal["merge", "append"] = "merge"  # layout="delta" only
PROJECT_ID = "{{ params.project_id or var.value.ango_project_id }}"

with DAG(
    dag_id="ango_scheduled_export_to_lake",
    description="Tasks changed in the interval are merged into the lake's Delta tables",
    doc_md=__doc__,
    # Data intervals back to back: every change is exported by exactly one run.
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    params={
        "project_id": Param(
            "", type="string", description="Ango project id; empty: Variable ango_project_id"
        ),
        "stage": Param("Complete", type="string", description="Export the tasks in this stage"),
        "staging_uri": Param(
            "s3://ango-staging/exports", type="string", description="Where export zips are staged"
        ),
        "lake_uri": Param("s3://ango-lake/ango", type="string", description="Root of the lake tables"),
    },
    tags=["ango", "export", "lake", "example"],
) as export_dag:
    trigger_export = AngoTriggerExportOperator(
        task_id="trigger_export",
        project_id=PROJECT_ID,
        staging_uri="{{ params.staging_uri }}",
        stages=["{{ params.stage }}"],
        export_format="ndjson",
        incremental=True,
        ango_conn_id=ANGO_CONN_ID,
        staging_conn_id=AWS_CONN_ID,
        deferrable=True,  # Ango answers when the zip is built; the wait runs in the triggerer
    )
    land_export = AngoLandExportOperator(
        task_id="land_export",
        source=trigger_export.output,
        destination_uri=(
            f"{{{{ params.lake_uri }}}}/project={PROJECT_ID}/dt={{{{ data_interval_start | ds }}}}/"
        ),
        layout=LAYOUT,
        mode=MODE if LAYOUT == "delta" else "append",
        staging_conn_id=AWS_CONN_ID,
        destination_conn_id=AWS_CONN_ID,
        asset=LAKE_EXPORTS,
    )
    trigger_export >> land_export


def describe_tables(extra: dict[str, Any]) -> dict[str, Any]:
    """The tables of an event of ``layout="delta"`` (or ``"parquet"``), each checked in the lake.

    A Delta version is in the table once its commit file is in the table's log; a Parquet
    partition once it has its ``_SUCCESS``.
    """
    from airflow_provider_ango.hooks.bucket import BucketHook

    tables = {}
    for name, table in extra["tables"].items():
        version = table["version"]
        if extra["layout"] == "delta":
            marker = None if version is None else f"_delta_log/{version:020d}.json"
        else:
            marker = "_SUCCESS"
        complete = marker is not None and BucketHook.from_uri(table["uri"], AWS_CONN_ID).exists(marker)
        tables[name] = {"uri": table["uri"], "version": version, "rows": table["rows"], "complete": complete}
        where = f"version {version}" if extra["layout"] == "delta" else "partition"
        again = "" if table["committed"] else " (landed by an earlier try)"
        print(f"{table['uri']}: {table['rows']} row(s), {where} {'' if complete else 'NOT '}complete{again}")
    return {
        "destination_uri": extra["destination_uri"],
        "layout": extra["layout"],
        "records": extra["records"],
        "tables": tables,
        "complete": all(table["complete"] for table in tables.values()),
    }


with DAG(
    dag_id="ango_lake_partition_report",
    description="Starts when an export lands in the lake and reports on it",
    doc_md=__doc__,
    schedule=[LAKE_EXPORTS],
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    tags=["ango", "lake", "example"],
) as report_dag:
    # One XCom holding the dict: with a dict return annotation Airflow would push every key too.
    @task(inlets=[LAKE_EXPORTS], multiple_outputs=False)
    def describe_latest_partition(*, inlet_events: Any = None) -> dict[str, Any]:
        """The newest landing of the Asset, complete or not, with its counts from the event."""
        from airflow_provider_ango.hooks.bucket import BucketHook

        events = inlet_events[LAKE_EXPORTS]
        if not len(events):
            print(f"No event of the Asset {LAKE_EXPORTS.name} yet: nothing has landed")
            return {"destination_uri": None, "records": 0, "files": 0, "bytes": 0, "complete": False}
        extra = events[-1].extra
        if "tables" in extra:  # layout="delta" or "parquet": the tables ``tasks`` and ``annotations``
            return describe_tables(extra)
        partition = BucketHook.from_uri(extra["destination_uri"], AWS_CONN_ID)
        complete = partition.exists("_SUCCESS")
        print(
            f"{extra['destination_uri']}: {extra['records']} record(s) in {extra['files']} file(s), "
            f"{extra['bytes']} bytes, {'complete' if complete else 'NOT complete (no _SUCCESS)'}"
        )
        return {name: extra[name] for name in ("destination_uri", "records", "files", "bytes")} | {
            "complete": complete
        }

    describe_latest_partition()
