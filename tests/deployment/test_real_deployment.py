"""The example DAGs on a real deployment, driven through the REST API only.

``airflow api-server``, ``scheduler`` (LocalExecutor), ``dag-processor`` and ``triggerer`` run as
separate processes on one metadata database (PostgreSQL in CI), with ``dags_examples/`` as the DAGs
folder, the connections as ``AIRFLOW_CONN_*`` variables and the Ango Hub emulator and moto on
loopback (see conftest). The DAG files are used as they are; the deployment's cluster policy only
turns their minutes of retry delay and check interval into seconds. Every wait polls the API or the
emulator's request log for a state, with a deadline.
"""

from __future__ import annotations

import json
import os
import signal
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_ango.testing.deployment import COMPONENTS, poll, task_runner_pid
from airflow_provider_ango.testing.samples import CATEGORY_SCHEMA, WORKFLOW, ndjson, png, prediction
from tests.deployment.support import EXPORT, NIGHTLY, PRELABEL, READER, Stack, day_start, parse_time

pytestmark = [pytest.mark.deployment, pytest.mark.emulator]

TRIGGER_CLASS = "airflow_provider_ango.triggers.stage.AngoTaskStageTrigger"
# How long the emulator holds the import's second chunk before applying it: time enough to find
# and kill the task runner, and well below the retry delay, so the chunk is in before the retry
# looks (as a real service applies a request long before a retry minutes later).
HOLD_SECONDS = 3.0


def test_four_components_run_as_separate_processes_and_the_connection_test_is_on(stack: Stack) -> None:
    components = stack.deployment.components
    assert set(components) == set(COMPONENTS)
    assert len({component.pid for component in components.values()}) == 4
    assert all(component.running() for component in components.values())
    tested = stack.api.call(
        "POST",
        "/connections/test",
        json={
            "connection_id": "ango_check",
            "conn_type": "ango",
            "host": stack.ango_url,
            "password": stack.api_key,
        },
    )
    assert tested["status"] is True, tested
    assert "Connected to Ango Hub" in tested["message"]
    assert stack.api_key not in json.dumps(tested)


# -- job 1 ------------------------------------------------------------------------------------
def test_nightly_import_makes_each_file_of_the_window_an_asset_once(stack: Stack) -> None:
    project = stack.control.seed_project(name="nightly", category_schema=CATEGORY_SCHEMA, workflow=WORKFLOW)[
        "_id"
    ]
    images = {f"incoming/cam-{cam}/frame-{n}.png": png(8 + n, 6 + cam) for cam in (1, 2) for n in range(3)}
    newest = stack.put("ango-raw", {**images, "incoming/cam-1/_done": b""})  # the marker is no asset
    start, end = day_start(newest), datetime.now(timezone.utc) + timedelta(seconds=1)

    stack.unpause(NIGHTLY)
    scheduled = stack.scheduled_run_on_unpause(NIGHTLY)
    run_id = stack.trigger_window(NIGHTLY, start, end, {"project_id": project, "settle_minutes": 0})
    stack.api.wait_for_run(NIGHTLY, scheduled["dag_run_id"])
    stack.api.wait_for_run(NIGHTLY, run_id)
    stack.assert_first_try(NIGHTLY, run_id)

    # Unpausing ran the previous day (this is the scheduled run of the default project): nothing in it.
    assert stack.single_xcom(NIGHTLY, scheduled["dag_run_id"], "report")["items"] == 0

    external_ids = sorted(key.removeprefix("incoming/") for key in images)
    counts = stack.control.counts(project)
    assert counts["assets"] == len(images)
    assert counts["duplicateExternalIds"] == {}
    assert sorted(stack.external_ids(project)) == external_ids  # each externalId once
    day = start.date().isoformat()
    # The run's own batches, and the import's scope batch (what later runs check existence against).
    assert counts["batches"] == {
        f"nightly-{day}": 6,
        "cam-1": 3,
        "cam-2": 3,
        f"import:ango-raw/incoming:{day}": 6,
    }

    # What the secret check reads as rendered templates is rendered (the key itself may change).
    rendered = stack.api.task_instances(NIGHTLY, run_id)["build_manifest"]["rendered_fields"]
    assert rendered["manifest_uri"].startswith(f"s3://ango-staging/imports/{NIGHTLY}/")
    assert "{{" not in json.dumps(rendered)
    manifest = stack.api.xcom(NIGHTLY, run_id, "build_manifest")
    items = [json.loads(line) for uri in manifest["manifests"] for line in stack.read(uri).splitlines()]
    assert sorted(item["externalId"] for item in items) == external_ids
    assert {item["contextData"]["dag_run"] for item in items} == {run_id}
    report = stack.single_xcom(NIGHTLY, run_id, "report")
    assert parse_time(report["window"]["end"]) == end
    assert {
        key: report[key] for key in ("listed", "items", "submitted", "skipped_existing", "tasks_found")
    } == {
        "listed": 6,  # the marker is excluded before it is counted
        "items": 6,
        "submitted": 6,
        "skipped_existing": 0,
        "tasks_found": 6,
    }

    # The Airflow CLI's trigger takes no interval: whatever its logical date, the run covers the last
    # whole day before now (the README says so), so it finds none of today's files.
    cli_conf = json.dumps({"project_id": project, "settle_minutes": 0})
    logical = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    printed = stack.deployment.airflow(
        "dags", "trigger", NIGHTLY, "-l", logical, "-c", cli_conf, "-o", "json"
    )
    [cli_run] = json.loads(next(line for line in printed.stdout.splitlines() if line.startswith("[")))
    cli = stack.api.wait_for_run(NIGHTLY, cli_run["dag_run_id"])
    midnight = day_start(parse_time(cli["run_after"]))
    assert (parse_time(cli["data_interval_start"]), parse_time(cli["data_interval_end"])) == (
        midnight - timedelta(days=1),
        midnight,
    )
    assert stack.single_xcom(NIGHTLY, cli["dag_run_id"], "report")["items"] == 0
    assert stack.control.counts(project)["assets"] == len(images)
    stack.assert_no_secrets(
        [(NIGHTLY, run_id), (NIGHTLY, scheduled["dag_run_id"]), (NIGHTLY, cli["dag_run_id"])]
    )


# -- job 2 ------------------------------------------------------------------------------------
def reader_run_of(stack: Stack, export_run_id: str) -> dict[str, Any]:
    """The reader DAG's run that the export run's Asset event started."""

    def started() -> dict[str, Any] | None:
        # Only runs that have started: Airflow 3.3.2 answers 500 for the events of a run not
        # started yet (its serializer requires the run's start_date).
        for run in (run for run in stack.api.dag_runs(READER) if run["start_date"]):
            events = stack.api.call("GET", f"/dags/{READER}/dagRuns/{run['dag_run_id']}/upstreamAssetEvents")
            if any(event["source_run_id"] == export_run_id for event in events["asset_events"]):
                return run
        return None

    return poll(started, timeout=120, what=f"the Asset event of {export_run_id} to start {READER}")


def delta_rows(stack: Stack, table_uri: str) -> list[dict[str, Any]]:
    """The Delta table's current rows, read by deltalake with moto's endpoint (as any reader would)."""
    from deltalake import DeltaTable

    options = {
        "AWS_ENDPOINT_URL": stack.s3.meta.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
    }
    rows: list[dict[str, Any]] = DeltaTable(table_uri, storage_options=options).to_pyarrow_table().to_pylist()
    return rows


def test_scheduled_export_merges_into_delta_tables_and_its_asset_event_starts_the_reader(
    stack: Stack,
) -> None:
    names = [f"cam-1/img-{n}.png" for n in range(5)]
    project = stack.control.seed_project(
        name="lake",
        category_schema=CATEGORY_SCHEMA,
        workflow=WORKFLOW,
        assets=[{"data": f"https://cdn.example.com/{name}", "externalId": name} for name in names],
    )["_id"]
    stack.control.act(project, action="submit")
    stack.control.act(project, action="review", reviewStatus="Accepted", externalIds=names[:4])
    start, end = day_start(datetime.now(timezone.utc)), datetime.now(timezone.utc) + timedelta(seconds=1)

    stack.unpause(READER)
    stack.unpause(EXPORT)
    scheduled = stack.scheduled_run_on_unpause(EXPORT)
    stack.api.wait_for_run(EXPORT, scheduled["dag_run_id"])
    # Unpausing exported the previous day of the default project: a commit of no rows to each table.
    empty = stack.api.xcom(EXPORT, scheduled["dag_run_id"], "land_export")
    assert (empty["layout"], empty["mode"], empty["records"]) == ("delta", "merge", 0)
    assert {name: (table["rows"], table["committed"]) for name, table in empty["tables"].items()} == {
        "tasks": (0, True),
        "annotations": (0, True),
    }
    empty_reader = reader_run_of(stack, scheduled["dag_run_id"])
    stack.api.wait_for_run(READER, empty_reader["dag_run_id"])

    run_id = stack.trigger_window(EXPORT, start, end, {"project_id": project})
    stack.api.wait_for_run(EXPORT, run_id)
    stack.assert_first_try(EXPORT, run_id)
    landed = stack.single_xcom(EXPORT, run_id, "land_export")
    day = start.date().isoformat()
    destination = f"s3://ango-lake/ango/project={project}/dt={day}/"
    assert (landed["destination_uri"], landed["records"]) == (destination, 4)
    tables = {name: f"s3://ango-lake/ango/{name}" for name in ("tasks", "annotations")}
    versions = {name: empty["tables"][name]["version"] + 1 for name in tables}  # the next commit
    assert {
        name: (table["uri"], table["version"], table["committed"]) for name, table in landed["tables"].items()
    } == {name: (uri, versions[name], True) for name, uri in tables.items()}
    for name, uri in tables.items():  # the run's commit: its files in the run's partition
        commit = [
            json.loads(line)
            for line in stack.read(f"{uri}/_delta_log/{versions[name]:020d}.json").splitlines()
        ]
        added = [action["add"]["path"] for action in commit if "add" in action]
        assert any(path.startswith(f"project={project}/dt={day}/") for path in added), added
        [info] = [action["commitInfo"] for action in commit if "commitInfo" in action]
        assert info["run_id"] == run_id
    rows = delta_rows(stack, tables["tasks"])
    assert sorted(row["external_id"] for row in rows if row["project"] == project) == names[:4]
    assert {row["stage"] for row in rows if row["project"] == project} == {"Complete"}

    reader = reader_run_of(stack, run_id)
    stack.api.wait_for_run(READER, reader["dag_run_id"])
    assert stack.api.xcom(READER, reader["dag_run_id"], "describe_latest_partition") == {
        "destination_uri": destination,
        "layout": "delta",
        "records": 4,
        "tables": {
            name: {
                "uri": uri,
                "version": versions[name],
                "rows": landed["tables"][name]["rows"],
                "complete": True,
            }
            for name, uri in tables.items()
        },
        "complete": True,
    }
    stack.assert_no_secrets(
        [(EXPORT, run_id), (EXPORT, scheduled["dag_run_id"]), (READER, reader["dag_run_id"])]
    )


# -- job 3 ------------------------------------------------------------------------------------
CAM_1 = ["cam-1/a.png", "cam-1/b.png"]
CAM_2 = ["cam-2/c.png", "cam-2/d.png", "cam-2/e.png"]


def seed_prelabel_project(stack: Stack, name: str) -> tuple[str, dict[str, Any]]:
    """A project with batches cam-1 and cam-2, and the model's predictions for cam-2 in S3."""
    project = stack.control.seed_project(
        name=name,
        category_schema=CATEGORY_SCHEMA,
        workflow=WORKFLOW,
        batches=["cam-1", "cam-2"],
        assets=[
            {"data": f"https://cdn.example.com/{key}", "externalId": key, "batches": [key.split("/")[0]]}
            for key in CAM_1 + CAM_2
        ],
    )["_id"]
    stack.put(
        "ango-predictions",
        {f"{project}/cam-2.ndjson": ndjson(prediction(key, kind="truck") for key in CAM_2)},
    )
    return project, {
        "project_id": project,
        "batch": "cam-2",
        "predictions_uri": f"s3://ango-predictions/{project}/",
    }


def wait_deferred_and_counting(stack: Stack, run_id: str, project: str) -> dict[str, Any]:
    """Until ``wait_for_stage`` is deferred and the triggerer has counted the batch once since."""
    ti = stack.api.wait_for_task(PRELABEL, run_id, "wait_for_stage", {"deferred"})
    assert ti["trigger"]["classpath"] == TRIGGER_CLASS
    since = stack.last_seq()
    poll(
        lambda: stack.batch_counts_since(since, project), timeout=60, what="the triggerer to count the batch"
    )
    deferred: dict[str, Any] = stack.api.task_instances(PRELABEL, run_id)["wait_for_stage"]
    assert deferred["state"] == "deferred"
    assert deferred["triggerer_job"] is not None, "the trigger is assigned to no triggerer"
    return deferred


def wait_for_trigger_log(stack: Stack, run_id: str, triggerer_job_id: int, text: str) -> None:
    """Until one triggerer has written ``text`` in its log of the wait's trigger (a file of its
    own beside the task's log, named after the triggerer's job)."""
    folder = (
        stack.deployment.home / "logs" / f"dag_id={PRELABEL}" / f"run_id={run_id}" / "task_id=wait_for_stage"
    )
    path = folder / f"attempt=1.log.trigger.{triggerer_job_id}.log"
    poll(
        lambda: path.exists() and text in path.read_text(),
        timeout=30,
        what=f"{text!r} in the log of triggerer job {triggerer_job_id}",
    )


def label_batch(stack: Stack, project: str) -> None:
    """The simulated labelers submit the batch (keeping the pre-label); the reviewers accept it."""
    assert stack.control.act(project, action="submit", batch="cam-2")["count"] == 3
    assert stack.control.act(project, action="review", reviewStatus="Accepted", batch="cam-2")["count"] == 3


def check_landed_batch(stack: Stack, project: str, run_id: str) -> None:
    stack.assert_first_try(PRELABEL, run_id)  # resumed after the wait, never retried
    counts = stack.control.counts(project)
    assert (counts["preLabeled"], counts["stages"]["Complete"], counts["stages"]["Label"]) == (3, 3, 2)
    waited = stack.single_xcom(PRELABEL, run_id, "wait_for_stage")
    assert (waited["done"], waited["total"], waited["waiting"]) == (True, 3, 0)
    partition = f"s3://ango-lake/prelabeled/project={project}/batch=cam-2/"
    keys = set(stack.file_names(partition))
    assert {"_manifest.json", "_SUCCESS"} <= keys
    records = [json.loads(stack.read(partition + key)) for key in keys if not key.startswith("_")]
    assert sorted(record["externalId"] for record in records) == CAM_2
    assert {record["task"]["tools"][0]["classifications"][0]["answer"] for record in records} == {"truck"}
    report = stack.single_xcom(PRELABEL, run_id, "report")
    assert (report["prelabels"], report["records"], report["destination_uri"]) == (3, 3, partition)
    # Through the API, the try's log holds the worker's part and, in between, the triggerer's.
    log = stack.api.task_log(PRELABEL, run_id, "wait_for_stage", 1)
    assert "Deferring: the triggerer checks again" in log
    assert "3 task(s) [Complete=3]; done" in log
    assert "Wait over" in log


def test_prelabel_waits_deferred_in_the_triggerer_then_lands_the_labeled_batch(stack: Stack) -> None:
    project, conf = seed_prelabel_project(stack, "prelabel")
    stack.unpause(PRELABEL)
    run_id = stack.api.trigger(PRELABEL, conf=conf)["dag_run_id"]
    deferred = wait_deferred_and_counting(stack, run_id, project)
    # The triggerer's own count of the batch, in its log.
    wait_for_trigger_log(stack, run_id, deferred["triggerer_job"]["id"], "3 task(s) not yet at Complete")

    label_batch(stack, project)
    stack.api.wait_for_run(PRELABEL, run_id)
    check_landed_batch(stack, project, run_id)
    stack.assert_no_secrets([(PRELABEL, run_id)])


def test_a_restarted_triggerer_takes_over_the_deferred_wait(stack: Stack) -> None:
    project, conf = seed_prelabel_project(stack, "triggerer restart")
    stack.unpause(PRELABEL)
    run_id = stack.api.trigger(PRELABEL, conf=conf)["dag_run_id"]
    first = wait_deferred_and_counting(stack, run_id, project)

    stack.deployment.stop("triggerer")
    stopped_at = stack.last_seq()
    assert stack.api.task_instances(PRELABEL, run_id)["wait_for_stage"]["state"] == "deferred"
    assert stack.batch_counts_since(stopped_at, project) == []  # nobody counts while it is down
    restarted = stack.deployment.start("triggerer")
    second = wait_deferred_and_counting(stack, run_id, project)
    assert second["triggerer_job"]["id"] != first["triggerer_job"]["id"]
    wait_for_trigger_log(stack, run_id, second["triggerer_job"]["id"], "3 task(s) not yet at Complete")
    assert restarted.running()

    label_batch(stack, project)
    stack.api.wait_for_run(PRELABEL, run_id)
    check_landed_batch(stack, project, run_id)
    stack.assert_no_secrets([(PRELABEL, run_id)])


# -- a worker killed mid-import ---------------------------------------------------------------
def test_an_import_killed_with_sigkill_is_retried_by_airflow_without_duplicates(stack: Stack) -> None:
    project = stack.control.seed_project(name="killed", category_schema=CATEGORY_SCHEMA, workflow=WORKFLOW)[
        "_id"
    ]
    clips = {f"bulk/cam-{n % 5}/clip-{n:05d}.mp4": b"\0" for n in range(2500)}
    newest = stack.put("ango-raw", clips)
    start, end = day_start(newest), datetime.now(timezone.utc) + timedelta(seconds=1)
    cloud = rf"^/v2/project/{project}/cloud$"
    stack.control.add_fault(cloud, "slow", delay=0, method="POST")  # the first chunk goes through
    stack.control.add_fault(cloud, "slow", delay=HOLD_SECONDS, method="POST")  # the second is held
    conf = {
        "project_id": project,
        "source_uri": "s3://ango-raw/bulk/",
        "staging_uri": "s3://ango-staging/killed",
        "settle_minutes": 0,
    }
    stack.unpause(NIGHTLY)
    run_id = stack.trigger_window(NIGHTLY, start, end, conf)

    def second_chunk_arrived() -> list[dict[str, Any]] | None:
        posts = [entry for entry in stack.control.requests(path_pattern=cloud) if entry["method"] == "POST"]
        return posts if len(posts) >= 2 else None

    first, held = poll(second_chunk_arrived, timeout=240, interval=0.05, what="the import's second chunk")[:2]
    assert held.get("status") is None, "the second chunk was answered before the kill: hold it longer"
    ti = stack.api.task_instances(NIGHTLY, run_id)["import_assets"]
    assert (ti["state"], ti["try_number"]) == ("running", 1)
    pid = task_runner_pid(ti["id"])
    assert pid is not None, f"no task runner process for {ti['id']}"
    os.kill(pid, signal.SIGKILL)

    def noticed() -> dict[str, Any] | None:
        now = stack.api.task_instances(NIGHTLY, run_id)["import_assets"]
        return now if now["state"] == "up_for_retry" or now["try_number"] > 1 else None

    poll(noticed, timeout=60, what="Airflow to notice the killed import")
    poll(
        lambda: next(
            (e for e in stack.control.requests(path_pattern=cloud) if e["seq"] == held["seq"]), {}
        ).get("status"),
        timeout=30,
        what="the held chunk to be applied",
    )
    stack.api.wait_for_run(NIGHTLY, run_id, timeout=300)

    tries = stack.api.task_tries(NIGHTLY, run_id, "import_assets")
    # The killed try is kept in the history as failed (it was up for retry); the retry succeeded.
    assert [t["state"] for t in tries] == ["failed", "success"], tries
    killed_log = stack.api.task_log(NIGHTLY, run_id, "import_assets", 1)
    assert "Imported: 500/2500 assets" in killed_log  # it was killed mid-import
    assert "SIGKILL" in killed_log  # and the supervisor said how
    applied_before_retry = len(first["body"]["assets"]) + len(held["body"]["assets"])
    imported = stack.api.xcom(NIGHTLY, run_id, "import_assets")
    assert (imported["skipped_existing"], imported["submitted"]) == (
        applied_before_retry,
        2500 - applied_before_retry,
    )
    counts = stack.control.counts(project)
    assert (counts["assets"], counts["distinctExternalIds"], counts["duplicateExternalIds"]) == (
        2500,
        2500,
        {},
    )
    stack.assert_no_secrets([(NIGHTLY, run_id)])
