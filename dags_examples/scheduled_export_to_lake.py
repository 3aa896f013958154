"""Scheduled export of labeled Ango Hub tasks to a data lake (job 2), and a DAG that reads it.

``ango_scheduled_export_to_lake`` runs once a day for the previous day:

1. ``trigger_export`` asks Ango Hub for the tasks in stage ``params.stage`` (default
   ``Complete``) *updated in the run's data interval* (``incremental=True``: adjacent runs
   neither lose nor double a task updated exactly on a boundary). The export request waits in
   the triggerer (``deferrable=True``), then the zip is streamed to ``staging_uri``;
2. ``land_export`` writes it as NDJSON parts under
   ``<lake_uri>/project=<project_id>/dt=<interval day>/``, all or nothing, with
   ``_manifest.json`` and ``_SUCCESS`` last, and emits an event for the Asset
   ``ango_lake_exports`` whose extra names the partition and its counts.

``ango_lake_partition_report`` is scheduled on that Asset: it starts when a partition has
landed, checks its ``_SUCCESS`` marker and reports what it holds.

Params: ``project_id`` (empty: the Airflow Variable ``ango_project_id``), ``stage``,
``staging_uri``, ``lake_uri``. Connections: ``ango_default`` for Ango Hub, ``aws_default``
for S3 / MinIO. Change ``LAYOUT`` to ``json``, ``split`` or ``raw`` for another file layout.
The Asset is named, not addressed by an ``s3://`` URI: Airflow normalizes an ``s3://`` URI
through the Amazon provider, which would import boto3 every time this file is parsed.

Unpausing the export DAG runs the previous day at once (an empty partition if nothing changed).
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
LAYOUT: Literal["raw", "ndjson", "json", "split"] = "ndjson"
PROJECT_ID = "{{ params.project_id or var.value.ango_project_id }}"

with DAG(
    dag_id="ango_scheduled_export_to_lake",
    description="Tasks changed in the interval become a partition of the lake, with a manifest",
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
        "lake_uri": Param("s3://ango-lake/ango", type="string", description="Root of the lake partitions"),
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
        staging_conn_id=AWS_CONN_ID,
        destination_conn_id=AWS_CONN_ID,
        asset=LAKE_EXPORTS,
    )
    trigger_export >> land_export


with DAG(
    dag_id="ango_lake_partition_report",
    description="Starts when an export partition lands in the lake and reports on it",
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
        """The newest partition of the Asset: complete (``_SUCCESS``), with its counts from the event."""
        from airflow_provider_ango.hooks.bucket import BucketHook

        events = inlet_events[LAKE_EXPORTS]
        if not len(events):
            print(f"No event of the Asset {LAKE_EXPORTS.name} yet: nothing has landed")
            return {"destination_uri": None, "records": 0, "files": 0, "bytes": 0, "complete": False}
        extra = events[-1].extra
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
