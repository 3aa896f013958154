"""Nightly import of new bucket files into an Ango Hub project (job 1).

Every night the images and videos that landed under ``source_uri`` during the run's data
interval become Ango assets, each exactly once however often a task is retried or the run
cleared and repeated:

1. ``build_manifest`` lists the files modified in ``[start - settle - lookback, end - settle)``
   and writes a validated NDJSON import manifest to
   ``<staging_uri>/<dag_id>/<day>/<run_id>/assets.ndjson`` (externalId = the key under the source
   prefix; batches ``nightly-<day>`` and the file's folder; ``contextData`` with the bucket, key,
   size, etag and the run; image width/height from a small ranged read). The key is the run's own,
   and the manifest's provenance names the project and the run: a second run of the same day
   (other params, say) writes beside it, and a cleared import of the first run refuses any
   manifest but its own. A file that cannot become an asset (an empty or broken image) fails the
   task naming it;
2. ``import_assets`` imports the manifest, skipping externalIds the project already has;
3. ``wait_for_tasks`` waits, deferred in the triggerer, until every item has a task;
4. ``report`` (TaskFlow) puts the counts of the three steps in one line and one small XCom.

Params: ``project_id`` (empty: the Airflow Variable ``ango_project_id``), ``source_uri``,
``staging_uri``, ``settle_minutes``, ``lookback_minutes``. Any of ``s3://`` (or MinIO),
``gs://`` and ``wasb://`` works: each bucket URI uses its store's default connection
(``aws_default``, ``google_cloud_default``, ``wasb_default``); Ango Hub is ``ango_default``.

To import today's files now (or any window), trigger a run through the REST API with
``logical_date`` (the moment of the trigger), ``data_interval_start`` and ``data_interval_end``,
and ``settle_minutes`` 0 in its conf: ``dags_examples/README.md`` shows the call. Unpausing the DAG
runs the previous day at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import DAG, CronDataIntervalTimetable, Param, task

from airflow_provider_ango.operators.imports import AngoBuildImportOperator, AngoImportAssetsOperator
from airflow_provider_ango.sensors.imports import AngoAssetsImportedSensor

ANGO_CONN_ID = "ango_default"
PROJECT_ID = "{{ params.project_id or var.value.ango_project_id }}"
DAY = "{{ data_interval_start | ds }}"
# One manifest per run: two runs of one day never share (or overwrite) a manifest.
MANIFEST_URI = f"{{{{ params.staging_uri }}}}/{{{{ dag.dag_id }}}}/{DAY}/{{{{ run_id }}}}/assets.ndjson"

with DAG(
    dag_id="ango_nightly_bucket_import",
    description="New bucket files of the day become Ango Hub assets, exactly once",
    doc_md=__doc__,
    # Cron with data intervals: each run covers the whole previous day, [00:00, 24:00) UTC.
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,  # one import per project at a time: two could both find a file missing
    default_args={
        "retries": 3,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
    },
    params={
        "project_id": Param(
            "", type="string", description="Ango project id; empty: Variable ango_project_id"
        ),
        "source_uri": Param(
            "s3://ango-raw/incoming/", type="string", description="Folder the new files land in"
        ),
        "staging_uri": Param(
            "s3://ango-staging/imports", type="string", description="Where import manifests are written"
        ),
        "settle_minutes": Param(
            15, type="integer", minimum=0, description="Files younger than this wait for the next run"
        ),
        "lookback_minutes": Param(
            60, type="integer", minimum=0, description="Re-read this much before the interval for late files"
        ),
    },
    tags=["ango", "import", "example"],
) as dag:
    build_manifest = AngoBuildImportOperator(
        task_id="build_manifest",
        source_uri="{{ params.source_uri }}",
        manifest_uri=MANIFEST_URI,
        project_id=PROJECT_ID,  # recorded in the manifest's provenance, checked by the import
        asset_types=["image", "video"],
        exclude=["**/_*", "**/.*"],  # markers and hidden files are not assets
        settle_delay="{{ params.settle_minutes * 60 }}",
        lookback="{{ params.lookback_minutes * 60 }}",
        batches=[f"nightly-{DAY}", "{folder}"],
        context_data={"dag_run": "{{ run_id }}"},
        image_dimensions=True,
    )
    import_assets = AngoImportAssetsOperator(
        task_id="import_assets",
        project_id=PROJECT_ID,
        manifest=build_manifest.output,
        ango_conn_id=ANGO_CONN_ID,
        max_active_tis_per_dag=1,
    )
    wait_for_tasks = AngoAssetsImportedSensor(
        task_id="wait_for_tasks",
        project_id=PROJECT_ID,
        manifest=build_manifest.output,
        ango_conn_id=ANGO_CONN_ID,
        deferrable=True,  # the wait runs in the triggerer: no worker slot held
        poke_interval=60,
        timeout=timedelta(hours=2).total_seconds(),
    )

    # One XCom holding the dict: with a dict return annotation Airflow would push every key too.
    @task(multiple_outputs=False)
    def report(manifest: dict[str, Any], imported: dict[str, Any], tasks: dict[str, Any]) -> dict[str, Any]:
        """One line and one small XCom for the night: what was listed, imported and is ready."""
        counts = manifest["counts"]
        summary = {
            "window": manifest["window"],
            "listed": counts.get("listed", 0),
            "items": counts.get("items", 0),
            "invalid": counts.get("invalid", 0),
            "submitted": imported.get("submitted", 0),
            "skipped_existing": imported.get("skipped_existing", 0),
            "tasks_found": tasks.get("found", 0),
            "tasks_listed": tasks.get("listed", 0),
        }
        print(
            f"Window {summary['window']['start']} .. {summary['window']['end']}: {summary['items']} new "
            f"file(s) of {summary['listed']} listed, {summary['submitted']} imported, "
            f"{summary['skipped_existing']} already there, {summary['invalid']} invalid; "
            f"{summary['tasks_found']} task(s) ready"
        )
        return summary

    report(build_manifest.output, import_assets.output, wait_for_tasks.output)
    build_manifest >> import_assets >> wait_for_tasks
