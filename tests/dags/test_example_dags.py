"""The three example DAGs, parsed and run end to end with ``dag.test()`` against the emulators.

Each run is checked where its outcome lives: assets, tasks and pre-labels in the Ango emulator,
files, ``_manifest.json`` and ``_SUCCESS`` in the buckets, Asset events in Airflow's database.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import orjson
import pytest

from airflow_provider_ango.testing.dagruns import deferred_tasks, xcom
from airflow_provider_ango.testing.samples import (
    CATEGORY_SCHEMA,
    DAG_FILES,
    EXAMPLES,
    WORKFLOW,
    ndjson,
    png,
    prediction,
)

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.hooks.bucket import BucketHook
    from airflow_provider_ango.testing.plugin import TestBucket

pytestmark = pytest.mark.emulator

NewBucket = Callable[[str], "TestBucket"]
InstallDag = Callable[[str], ModuleType]

# Modules of the cloud SDKs (and the providers' hooks that import them) and of the lake tables
# that parsing must not load.
HEAVY_MODULES = (
    "pyarrow",
    "deltalake",
    "boto3",
    "botocore",
    "google.cloud.",
    "google.api_core",
    "google.auth",
    "azure",
    "airflow.providers.amazon.aws.hooks",
    "airflow.providers.google.cloud.hooks",
    "airflow.providers.microsoft.azure.hooks",
)

LAZY_IMPORT_PROBE = """
import json, runpy, sys
heavy = tuple(json.loads(sys.argv[1]))
report = {}
for path in sys.argv[2:]:
    runpy.run_path(path)
    report[path] = sorted(name for name in sys.modules if name.startswith(heavy))
print(json.dumps(report))
"""


def bucket_hook(uri: str, conn_id: str) -> BucketHook:
    from airflow_provider_ango.hooks.bucket import BucketHook

    return BucketHook.from_uri(uri, conn_id)


def read_json(hook: BucketHook, key: str) -> Any:
    return orjson.loads(hook.read_bytes(key))


def landed(hook: BucketHook) -> dict[str, int]:
    """Every object under a partition, by key, with its size."""
    return {obj.key: obj.size for obj in hook.iter_objects()}


# -- parsing ------------------------------------------------------------------------------------
def test_example_dags_parse_in_a_dagbag_without_errors(airflow_db: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=EXAMPLES, safe_mode=False)
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == [
        "ango_lake_partition_report",
        "ango_nightly_bucket_import",
        "ango_prelabel_then_export",
        "ango_scheduled_export_to_lake",
    ]
    for dag_id in bag.dag_ids:
        dag = bag.get_dag(dag_id)
        assert dag is not None
        assert dag.doc_md, f"{dag_id} has no docstring"
        assert "ango" in dag.tags


def test_parsing_the_example_dags_imports_no_cloud_sdk() -> None:
    paths = [str(EXAMPLES / name) for name in DAG_FILES]
    result = subprocess.run(
        [sys.executable, "-c", LAZY_IMPORT_PROBE, json.dumps(HEAVY_MODULES), *paths],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {path: [] for path in paths}


# -- job 2: scheduled export to the lake -------------------------------------------------------
def test_scheduled_export_merges_into_the_delta_tables_and_the_reader_dag_sees_it(
    ango: AngoEmulator,
    ango_connection: str,
    new_bucket: NewBucket,
    install_dag: InstallDag,
    fernet_key: str,
) -> None:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    bucket = new_bucket("s3")
    names = [f"cam-1/img-{n}.png" for n in range(6)]
    project = ango.control.seed_project(
        name="lake",
        category_schema=CATEGORY_SCHEMA,
        workflow=WORKFLOW,
        assets=[{"data": f"https://cdn.example.com/{name}", "externalId": name} for name in names],
    )
    project_id = project["_id"]
    day = datetime(2025, 5, 1, tzinfo=timezone.utc)
    control = ango.control
    control.act(project_id, action="submit", at=(day + timedelta(hours=9)).isoformat())
    # Accepted in the interval: exported. Accepted on the next interval's first instant: not yet.
    control.act(
        project_id,
        action="review",
        reviewStatus="Accepted",
        externalIds=names[:3],
        at=(day + timedelta(hours=12)).isoformat(),
    )
    control.act(
        project_id,
        action="review",
        reviewStatus="Accepted",
        externalIds=[names[3]],
        at=(day + timedelta(days=1) - timedelta(milliseconds=1)).isoformat(),
    )
    control.act(
        project_id,
        action="review",
        reviewStatus="Accepted",
        externalIds=[names[4]],
        at=(day + timedelta(days=1)).isoformat(),
    )
    assert control.counts(project_id)["stages"]["Complete"] == 5

    module = install_dag("scheduled_export_to_lake.py")
    conf = {
        "project_id": project_id,
        "staging_uri": f"{bucket.uri}/staging",
        "lake_uri": f"{bucket.uri}/lake/ango",
    }
    # A manual run's data interval is the last whole interval before its logical date.
    run = module.export_dag.test(logical_date=day + timedelta(days=1, hours=1), run_conf=conf)
    assert str(run.state) == "success"

    # Merged into the Delta tables under lake_uri, partitioned by project and interval day.
    destination = f"{bucket.uri}/lake/ango/project={project_id}/dt=2025-05-01/"
    tables = {name: f"{bucket.uri}/lake/ango/{name}" for name in ("tasks", "annotations")}
    landed_xcom = xcom(run, "land_export")
    assert {
        key: landed_xcom[key] for key in ("destination_uri", "layout", "mode", "records", "partition")
    } == {
        "destination_uri": destination,
        "layout": "delta",
        "mode": "merge",
        "records": 4,
        "partition": {"project": project_id, "dt": "2025-05-01"},
    }
    outcomes = landed_xcom["tables"]
    assert {
        name: (outcome["uri"], outcome["version"], outcome["committed"]) for name, outcome in outcomes.items()
    } == {
        name: (uri, 1, True)
        for name, uri in tables.items()  # version 0 created the table
    }
    keys = set(landed(bucket_hook(f"{bucket.uri}/lake/ango/", bucket.conn_id)))
    for name in tables:
        assert {f"{name}/_delta_log/{version:020d}.json" for version in (0, 1)} <= keys
        assert any(key.startswith(f"{name}/project={project_id}/dt=2025-05-01/") for key in keys), keys
    assert all(key.startswith(("tasks/", "annotations/")) for key in keys), keys  # no file layout

    from airflow_provider_ango.exports.tables import delta_dataset

    rows = delta_dataset(tables["tasks"], bucket.conn_id).to_table().to_pylist()
    assert sorted(row["external_id"] for row in rows) == names[:4]
    assert {(row["project"], row["dt"], row["stage"]) for row in rows} == {
        (project_id, "2025-05-01", "Complete")
    }

    with create_session() as session:
        events = [
            (event.asset.name, event.extra)
            for event in session.scalars(select(AssetEvent)).all()
            if event.source_run_id == run.run_id
        ]
    assert len(events) == 1
    assert events[0][0] == "ango_lake_exports"
    extra = events[0][1]
    assert extra["destination_uri"] == destination
    assert {name: (t["uri"], t["version"]) for name, t in extra["tables"].items()} == {
        name: (uri, 1) for name, uri in tables.items()
    }

    # The Asset-scheduled reader DAG finds both versions in the tables' logs.
    reader = module.report_dag.test()
    assert str(reader.state) == "success"
    report = xcom(reader, "describe_latest_partition")
    assert report == {
        "destination_uri": destination,
        "layout": "delta",
        "records": 4,
        "tables": {
            name: {"uri": uri, "version": 1, "rows": outcomes[name]["rows"], "complete": True}
            for name, uri in tables.items()
        },
        "complete": True,
    }
    assert report["tables"]["tasks"]["rows"] == 4


# -- job 1: nightly import of new bucket files ---------------------------------------------------
@pytest.mark.parametrize("kind", ["s3", "gcs", "azure"])
def test_nightly_import_turns_the_days_files_into_assets_once(
    kind: str,
    ango: AngoEmulator,
    ango_connection: str,
    new_bucket: NewBucket,
    install_dag: InstallDag,
) -> None:
    bucket = new_bucket(kind)
    source = bucket_hook(f"{bucket.uri}/incoming/", bucket.conn_id)
    sizes = {"cam-1/a.png": (16, 9), "cam-1/b.png": (8, 8), "cam-2/c d.png": (5, 7)}
    for key, (width, height) in sizes.items():
        source.write_bytes(key, png(width, height))
    source.write_bytes("cam-2/notes.txt", b"not an image")  # not an image or video: skipped
    source.write_bytes("cam-2/_done", b"")  # a marker: excluded
    newest = max(obj.last_modified for obj in source.iter_objects())
    day_start = datetime(newest.year, newest.month, newest.day, tzinfo=timezone.utc)
    day = day_start.date().isoformat()
    project = ango.control.seed_project(name="nightly", category_schema=CATEGORY_SCHEMA, workflow=WORKFLOW)
    project_id = project["_id"]

    module = install_dag("nightly_bucket_import.py")
    conf = {
        "project_id": project_id,
        "source_uri": source.uri,
        "staging_uri": f"{bucket.uri}/staging",
        "settle_minutes": 0,
        "lookback_minutes": 60,  # also covers files written just before midnight
    }
    # A manual run's data interval is the last whole day before its logical date.
    run = module.dag.test(logical_date=day_start + timedelta(days=1), run_conf=conf)
    assert str(run.state) == "success"

    counts = ango.control.counts(project_id)
    assert counts["assets"] == 3
    assert counts["duplicateExternalIds"] == {}
    batches = {name: n for name, n in counts["batches"].items() if not name.startswith("import:")}
    assert batches == {f"nightly-{day}": 3, "cam-1": 2, "cam-2": 1}
    assert len(counts["batches"]) == len(batches) + 1  # and the source's scope batch of the day
    assert counts["stages"]["Label"] == 3

    manifest = xcom(run, "build_manifest")
    assert manifest["counts"]["items"] == 3
    [manifest_uri] = manifest["manifests"]
    assert manifest_uri.startswith(f"{bucket.uri}/staging/ango_nightly_bucket_import/{day}/")
    staging = bucket_hook(f"{bucket.uri}/staging/", bucket.conn_id)
    items = [
        orjson.loads(line) for line in staging.read_bytes(manifest_uri.split("/staging/", 1)[1]).splitlines()
    ]
    by_id = {item["externalId"]: item for item in items}
    assert set(by_id) == set(sizes)
    for key, (width, height) in sizes.items():
        assert (by_id[key]["width"], by_id[key]["height"]) == (width, height)
        assert by_id[key]["contextData"]["key"] == f"incoming/{key}"
        assert by_id[key]["contextData"]["dag_run"] == run.run_id
    assert xcom(run, "report") | {"window": None} == {
        "window": None,
        "listed": 4,
        "items": 3,
        "invalid": 0,
        "submitted": 3,
        "skipped_existing": 0,
        "tasks_found": 3,
        "tasks_listed": 3,
    }

    # The same interval again (a cleared or repeated run): nothing is imported twice.
    again = module.dag.test(logical_date=day_start + timedelta(days=1), run_conf=conf)
    assert str(again.state) == "success"
    assert xcom(again, "import_assets")["skipped_existing"] == 3
    assert xcom(again, "import_assets")["submitted"] == 0
    counts = ango.control.counts(project_id)
    assert counts["assets"] == 3
    assert counts["duplicateExternalIds"] == {}


# -- job 3: pre-label, wait for the labelers, export ---------------------------------------------
CAM_1 = ["cam-1/a.png", "cam-1/b.png"]
CAM_2 = ["cam-2/c.png", "cam-2/d.png", "cam-2/e.png"]


def is_total_count(entry: dict[str, Any]) -> bool:
    """A logged count of the batch's tasks over all stages (no stage in its filter)."""
    filters = json.loads(parse_qs(entry["query"]).get("filter", ["{}"])[0])
    return "batches" in filters and "stage" not in filters


def seed_prelabel_project(ango: AngoEmulator, bucket: TestBucket) -> tuple[str, dict[str, Any]]:
    """A project with batches cam-1 and cam-2, and the model's predictions for cam-2 in the bucket."""
    assets = [
        {"data": f"https://cdn.example.com/{name}", "externalId": name, "batches": [name.split("/")[0]]}
        for name in CAM_1 + CAM_2
    ]
    project = ango.control.seed_project(
        name="prelabel",
        category_schema=CATEGORY_SCHEMA,
        workflow=WORKFLOW,
        batches=["cam-1", "cam-2"],
        assets=assets,
    )
    predictions = ndjson(prediction(name, kind="truck") for name in CAM_2)
    bucket_hook(bucket.uri, bucket.conn_id).write_bytes("predictions/cam-2.ndjson", predictions)
    conf = {
        "project_id": project["_id"],
        "batch": "cam-2",
        "predictions_uri": f"{bucket.uri}/predictions/",
        "staging_uri": f"{bucket.uri}/staging",
        "lake_uri": f"{bucket.uri}/lake/prelabeled",
    }
    return project["_id"], conf


def label_and_accept(control: Any, project_id: str, batch: str) -> None:
    """The simulated labelers submit (keeping the pre-label) and the reviewers accept."""
    assert control.act(project_id, action="submit", batch=batch)["count"] > 0
    assert control.act(project_id, action="review", reviewStatus="Accepted", batch=batch)["count"] > 0


def check_landed_batch(bucket: TestBucket, project_id: str, run: Any) -> None:
    partition = f"{bucket.uri}/lake/prelabeled/project={project_id}/batch=cam-2/"
    hook = bucket_hook(partition, bucket.conn_id)
    files = landed(hook)
    assert {"_manifest.json", "_SUCCESS"} <= set(files)
    records = [read_json(hook, key) for key in files if key.endswith(".json") and not key.startswith("_")]
    assert sorted(record["externalId"] for record in records) == CAM_2  # one file per asset
    manifest = read_json(hook, "_manifest.json")
    assert manifest["records"] == 3
    assert manifest["files_count"] == 3
    assert manifest["run_id"] == run.run_id
    for record in records:  # the model's pre-label went through review into the lake
        [tool] = record["task"]["tools"]
        assert tool["schemaId"] == "vehicle"
        assert tool["classifications"][0]["answer"] == "truck"
    report = xcom(run, "report")
    assert report["prelabels"] == 3
    assert report["records"] == 3
    assert report["destination_uri"] == partition


def test_prelabel_then_export_a_batch_labeled_before_the_run(
    ango: AngoEmulator,
    ango_connection: str,
    new_bucket: NewBucket,
    install_dag: InstallDag,
    fernet_key: str,
) -> None:
    bucket = new_bucket("s3")
    project_id, conf = seed_prelabel_project(ango, bucket)
    label_and_accept(ango.control, project_id, "cam-2")

    module = install_dag("prelabel_then_export.py")
    run = module.dag.test(run_conf=conf)
    assert str(run.state) == "success"

    counts = ango.control.counts(project_id)
    assert counts["preLabeled"] == 3
    assert counts["stages"]["Complete"] == 3
    assert counts["stages"]["Label"] == 2  # cam-1 is untouched
    assert xcom(run, "wait_for_stage")["waiting"] == 0
    check_landed_batch(bucket, project_id, run)


def test_prelabel_then_export_waits_deferred_while_the_batch_is_labeled(
    ango: AngoEmulator,
    ango_connection: str,
    new_bucket: NewBucket,
    install_dag: InstallDag,
    fernet_key: str,
) -> None:
    from airflow_provider_ango.emulator.control import EmulatorControl

    bucket = new_bucket("s3")
    project_id, conf = seed_prelabel_project(ango, bucket)
    module = install_dag("prelabel_then_export.py")
    sensor = module.dag.get_task("wait_for_stage")
    sensor.poke_interval = 0.5  # the triggerer re-counts often here
    sensor.timeout = 120  # and gives up in minutes, not days, if the labelers never come
    start = max((entry["seq"] for entry in ango.control.requests()), default=0)
    acted_after: list[int] = []
    errors: list[BaseException] = []

    def labelers() -> None:
        """Once the sensor's first check is answered (tasks still in Label), label the batch."""
        try:
            with EmulatorControl(ango.url) as control:
                checks: list[dict[str, Any]] = []

                def sensor_checked_the_batch() -> bool:
                    checks[:] = [
                        entry
                        for entry in control.requests(path_pattern=r"/tasks$", since=start)
                        if entry["method"] == "GET" and entry.get("status") == 200
                    ]
                    # A check counts the tasks per stage, then all of them (no stage filter) last.
                    return any(is_total_count(entry) for entry in checks)

                ango.wait_until(sensor_checked_the_batch, timeout=120, what="the sensor's check of the batch")
                acted_after.append(max(entry["seq"] for entry in checks))
                label_and_accept(control, project_id, "cam-2")
        except BaseException as error:  # reported by the test thread
            errors.append(error)

    thread = threading.Thread(target=labelers, name="simulated-labelers", daemon=True)
    thread.start()
    run = module.dag.test(run_conf=conf)
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert errors == []
    assert str(run.state) == "success"

    # The first check found the batch not done; a later one (in the trigger) found it done.
    later_checks = [
        entry
        for entry in ango.control.requests(path_pattern=r"/tasks$", since=acted_after[0])
        if entry["method"] == "GET"
    ]
    assert later_checks, "no check after the labelers acted"
    assert deferred_tasks(run) == {"trigger_export", "wait_for_stage"}
    waited = xcom(run, "wait_for_stage")
    assert waited["done"] is True
    assert waited["total"] == 3
    counts = ango.control.counts(project_id)
    assert counts["preLabeled"] == 3
    assert counts["stages"]["Complete"] == 3
    check_landed_batch(bucket, project_id, run)
