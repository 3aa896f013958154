"""Pre-label a batch with model predictions, wait for the labelers, then export it (job 3).

Triggered with a batch (from the UI form, the REST API, or a ``TriggerDagRunOperator`` at the end
of a model's inference DAG):

1. ``import_prelabels`` imports the predictions under ``predictions_uri`` (``.json`` arrays or
   ``.ndjson`` files in the Ango import format, keyed by ``externalId``) as pre-labels, after
   checking every ``schemaId`` against the project's category schema and every externalId
   against its assets (nothing is sent when anything is wrong);
2. ``wait_for_stage`` waits until every task of ``batch`` has reached ``stage`` (default
   ``Complete``). Labeling takes hours or days, so the wait is deferred: the triggerer counts
   the tasks per stage every few minutes and no worker slot is held;
3. ``trigger_export`` exports the batch's tasks in that stage (deferred too) and stages the zip;
4. ``land_export`` writes one JSON file per asset (``split`` layout) under
   ``<lake_uri>/project=<project_id>/batch=<batch>/`` with ``_manifest.json`` and ``_SUCCESS``,
   and emits an event for the Asset ``ango_prelabeled_batches``;
5. ``report`` (TaskFlow) sums it up.

Params: ``project_id`` (empty: the Airflow Variable ``ango_project_id``), ``batch`` (required),
``predictions_uri``, ``stage``, ``staging_uri``, ``lake_uri``. Connections: ``ango_default``, ``aws_default``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import DAG, Asset, Param, task

from airflow_provider_ango.operators.exports import AngoLandExportOperator, AngoTriggerExportOperator
from airflow_provider_ango.operators.imports import AngoImportLabelsOperator
from airflow_provider_ango.sensors.stage import AngoTaskStageSensor

ANGO_CONN_ID = "ango_default"
AWS_CONN_ID = "aws_default"
# Named, not s3://-addressed: an s3:// Asset URI makes Airflow import boto3 at parse time.
PRELABELED = Asset(name="ango_prelabeled_batches")
PROJECT_ID = "{{ params.project_id or var.value.ango_project_id }}"

with DAG(
    dag_id="ango_prelabel_then_export",
    description="Model predictions become pre-labels; the labeled batch is exported to the lake",
    doc_md=__doc__,
    schedule=None,  # triggered per batch, with its params
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    params={
        "project_id": Param(
            "", type="string", description="Ango project id; empty: Variable ango_project_id"
        ),
        "batch": Param("", type="string", minLength=1, description="The batch (name or id) to pre-label"),
        "predictions_uri": Param(
            "s3://ango-predictions/",
            type="string",
            description="A predictions file, or a folder of .json / .ndjson files",
        ),
        "stage": Param("Complete", type="string", description="Export once every task reached this stage"),
        "staging_uri": Param(
            "s3://ango-staging/exports", type="string", description="Where export zips are staged"
        ),
        "lake_uri": Param(
            "s3://ango-lake/prelabeled", type="string", description="Root of the landed batches"
        ),
    },
    tags=["ango", "pre-label", "export", "example"],
) as dag:
    import_prelabels = AngoImportLabelsOperator(
        task_id="import_prelabels",
        project_id=PROJECT_ID,
        source="{{ params.predictions_uri }}",
        source_conn_id=AWS_CONN_ID,
        ango_conn_id=ANGO_CONN_ID,
    )
    wait_for_stage = AngoTaskStageSensor(
        task_id="wait_for_stage",
        project_id=PROJECT_ID,
        batch="{{ params.batch }}",
        stage="{{ params.stage }}",
        ango_conn_id=ANGO_CONN_ID,
        deferrable=True,  # days of labeling cost no worker slot
        poke_interval=timedelta(minutes=5).total_seconds(),
        timeout=timedelta(days=7).total_seconds(),
    )
    trigger_export = AngoTriggerExportOperator(
        task_id="trigger_export",
        project_id=PROJECT_ID,
        staging_uri="{{ params.staging_uri }}",
        batches=["{{ params.batch }}"],
        stages=["{{ params.stage }}"],
        ango_conn_id=ANGO_CONN_ID,
        staging_conn_id=AWS_CONN_ID,
        deferrable=True,
    )
    land_export = AngoLandExportOperator(
        task_id="land_export",
        source=trigger_export.output,
        destination_uri=f"{{{{ params.lake_uri }}}}/project={PROJECT_ID}/batch={{{{ params.batch }}}}/",
        layout="split",
        staging_conn_id=AWS_CONN_ID,
        destination_conn_id=AWS_CONN_ID,
        asset=PRELABELED,
    )

    # One XCom holding the dict: with a dict return annotation Airflow would push every key too.
    @task(multiple_outputs=False)
    def report(prelabels: dict[str, Any], waited: dict[str, Any], landed: dict[str, Any]) -> dict[str, Any]:
        """Pre-labels sent, tasks waited for, files landed: one line and one small XCom."""
        summary = {
            "prelabels": prelabels.get("submitted", 0),
            "tasks": waited.get("total", 0),
            "stage": waited.get("stage"),
            "records": landed["records"],
            "files": landed["files"],
            "bytes": landed["bytes"],
            "destination_uri": landed["destination_uri"],
        }
        print(
            f"{summary['prelabels']} pre-label(s) imported; {summary['tasks']} task(s) reached "
            f"{summary['stage']}; {summary['records']} record(s) landed as {summary['files']} file(s) "
            f"({summary['bytes']} bytes) under {summary['destination_uri']}"
        )
        return summary

    import_prelabels >> wait_for_stage >> trigger_export >> land_export
    report(import_prelabels.output, wait_for_stage.output, land_export.output)
