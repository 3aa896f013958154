"""`make demo`: the three example DAGs, run with ``dag.test()`` against emulators on loopback.

What it does, all on 127.0.0.1 and under one temporary folder removed at the end:

1. an isolated Airflow home (SQLite, the example DAGs in its DAGs folder, a fresh Fernet key),
   migrated once with ``airflow db migrate``;
2. the Ango Hub emulator and an S3 emulator (moto) standing in for MinIO, with the buckets of
   ``docker/compose.yaml``; sample PNG images it draws itself (no downloads) land in
   ``s3://ango-raw/incoming/cam-1/`` and ``.../cam-2/``; an Ango project is seeded with a
   category schema and the workflow Label -> Review -> Complete;
3. job 1 imports the day's images as assets; simulated labelers and reviewers work on cam-1;
   job 2 merges the day's completed tasks into the Delta tables ``s3://ango-lake/ango/tasks`` and
   ``.../annotations`` and the Asset-scheduled reader checks the versions committed; job 3
   imports model predictions for cam-2 as pre-labels, waits (deferred) while the simulated team
   labels cam-2 in a background thread, then exports it;
4. a short report: assets, pre-labels, tasks per stage, a DuckDB query over the Delta tables
   (tasks per stage, boxes per class), files landed with sizes, time taken.

Airflow's own output goes to a log file, kept (and named) only when something fails.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import parse_qs

# The package's testing helpers import no Airflow at import time: AIRFLOW_HOME is set later.
if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator

from airflow_provider_ango.testing.dagruns import deferred_tasks, isolated_airflow_env, load_dag_file, xcom
from airflow_provider_ango.testing.samples import (
    CATEGORY_SCHEMA,
    DAG_FILES,
    EXAMPLES,
    WORKFLOW,
    ndjson,
    png,
    prediction,
)
from airflow_provider_ango.testing.servers import run_moto, stop_process

BUCKETS = ("ango-raw", "ango-staging", "ango-lake", "ango-predictions")  # as in docker/compose.yaml
CAMERAS = {"cam-1": 6, "cam-2": 5}  # images per camera folder
SHOWN_STAGES = ("Label", "Review", "Complete")
WAIT_SECONDS = 180.0
LAKE_TABLES = "s3://ango-lake/ango"  # where the export DAG's Delta tables are (its lake_uri param)


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which."""


# -- output ---------------------------------------------------------------------------------------
class Console:
    """The terminal, kept aside while file descriptors 1 and 2 go to the Airflow log file."""

    def __init__(self) -> None:
        sys.stdout.flush()
        self._stream: IO[str] = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)

    def say(self, text: str = "") -> None:
        self._stream.write(text + "\n")
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()


@contextmanager
def output_to(log_path: Path) -> Iterator[None]:
    """Send everything written to stdout/stderr (Airflow, moto, warnings) to ``log_path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    with log_path.open("ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024 or unit == "MiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


# -- sample data ----------------------------------------------------------------------------------
def sample_images() -> dict[str, bytes]:
    """``cam-N/frame-000K.png`` -> PNG bytes, sizes varying a little per image."""
    images = {}
    for camera, count in CAMERAS.items():
        for number in range(count):
            width, height = 48 + 8 * number, 32 + 4 * (number % 3)
            images[f"{camera}/frame-{number:04d}.png"] = png(width, height, seed=number + len(camera))
    return images


def predictions(external_ids: list[str]) -> bytes:
    """NDJSON pre-labels in the Ango import format, one vehicle box per image."""
    return ndjson(
        prediction(
            external_id,
            kind="truck" if number % 2 else "car",
            x=4 + number,
            note="detector v1, confidence 0.8",
        )
        for number, external_id in enumerate(external_ids)
    )


# -- Airflow --------------------------------------------------------------------------------------
def airflow_env(home: Path) -> dict[str, str]:
    """An Airflow that keeps everything under ``home`` and never calls out, with a fresh Fernet key."""
    fernet_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    return {**isolated_airflow_env(home), "AIRFLOW__CORE__FERNET_KEY": fernet_key}


@dataclass
class Job:
    name: str
    seconds: float
    lines: list[str] = field(default_factory=list)


def run_dag(dag: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.monotonic()
    run = dag.test(**kwargs)
    seconds = time.monotonic() - started
    if str(run.state) != "success":
        raise DemoError(f"{dag.dag_id} ended {run.state}")
    return run, seconds


def day_of(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, moment.day, tzinfo=timezone.utc)


def answer(number: int) -> dict[str, Any]:
    """A labeler's answer for :data:`CATEGORY_SCHEMA`: one vehicle box, every third one a truck."""
    given = prediction("", kind="truck" if number % 3 == 2 else "car", x=2 + number, note="labeled")
    return {key: value for key, value in given.items() if key != "externalId"}


# -- querying the lake ----------------------------------------------------------------------------
def lake_query() -> list[str]:
    """Tasks per stage and boxes per class, by DuckDB over the Delta tables of the export DAG."""
    try:
        import duckdb
    except ImportError:
        return ["duckdb is not installed here (it comes with the 'test' extra): lake query skipped"]
    from airflow_provider_ango.exports.tables import delta_dataset

    connection = duckdb.connect()
    try:
        for table in ("tasks", "annotations"):
            connection.register(table, delta_dataset(f"{LAKE_TABLES}/{table}", "aws_default"))
        stages = connection.execute(
            "SELECT stage, count(*) FROM tasks GROUP BY stage ORDER BY stage"
        ).fetchall()
        boxes = connection.execute(
            "SELECT b.title || coalesce(' (' || k.answer_text || ')', ''), count(*) FROM annotations b "
            "LEFT JOIN annotations k ON k.task_id = b.task_id AND k.parent_key = b.annotation_key "
            "AND k.tool = 'radio' WHERE b.tool = 'bounding-box' GROUP BY 1 ORDER BY 1"
        ).fetchall()
    finally:
        connection.close()
    return [
        "tasks per stage: " + (", ".join(f"{stage} {count}" for stage, count in stages) or "none"),
        "boxes per class: " + (", ".join(f"{title} {count}" for title, count in boxes) or "none"),
    ]


# -- simulated labeling team ----------------------------------------------------------------------
def sensor_counted_batch(entry: dict[str, Any]) -> bool:
    """A logged count of a batch's tasks over all stages: the last request of a stage check."""
    if entry["method"] != "GET" or entry.get("status") != 200:
        return False
    filters = json.loads(parse_qs(entry["query"]).get("filter", ["{}"])[0])
    return "batches" in filters and "stage" not in filters


def label_when_checked(ango: AngoEmulator, project_id: str, batch: str, since: int, done: list[str]) -> None:
    """Background labelers: once the sensor has counted the batch (and deferred), label and accept it."""
    from airflow_provider_ango.emulator.control import EmulatorControl

    try:
        with EmulatorControl(ango.control.base_url) as control:
            ango.wait_until(
                lambda: any(
                    sensor_counted_batch(entry)
                    for entry in control.requests(path_pattern=r"/tasks$", since=since)
                ),
                timeout=WAIT_SECONDS,
                what="the sensor counting the batch",
            )
            submitted = control.act(project_id, action="submit", batch=batch)["count"]
            accepted = control.act(project_id, action="review", reviewStatus="Accepted", batch=batch)["count"]
            done.append(f"{submitted} submitted, {accepted} accepted")
    except Exception as error:  # reported by the main thread
        done.append(f"error: {type(error).__name__}: {error}")


# -- the demo -------------------------------------------------------------------------------------
def main() -> int:
    started = time.monotonic()
    console = Console()
    handle, log_name = tempfile.mkstemp(prefix="ango-demo-", suffix=".log")
    os.close(handle)
    log_path = Path(log_name)
    ok = False
    try:
        # Everything but the console lines goes to the log; the emulators stop and the temporary
        # folder goes before the output is restored, whatever happened.
        with output_to(log_path), ExitStack() as stack:
            demo(stack, console, log_path, started)
        ok = True
    except Exception as error:
        console.say(f"\nDemo failed: {type(error).__name__}: {error}")
        console.say(f"Airflow's and the emulators' output: {log_path}")
    except KeyboardInterrupt:
        console.say("\nInterrupted; emulators stopped and temporary files removed.")
    finally:
        if ok:
            log_path.unlink(missing_ok=True)
        console.close()
    return 0 if ok else 1


def demo(stack: ExitStack, console: Console, log_path: Path, started: float) -> None:
    root = Path(tempfile.mkdtemp(prefix="ango-demo-"))
    stack.callback(shutil.rmtree, root, ignore_errors=True)
    home = root / "airflow"
    (home / "dags").mkdir(parents=True)
    for name in DAG_FILES:
        shutil.copyfile(EXAMPLES / name, home / "dags" / name)
    os.environ.update(airflow_env(home))  # before anything imports Airflow

    console.say("Ango Hub provider demo: the three example DAGs on emulators (loopback only)")
    with log_path.open("ab") as log:
        migrate = subprocess.Popen(
            [sys.executable, "-m", "airflow", "db", "migrate"], stdout=log, stderr=log, env=os.environ.copy()
        )
    stack.callback(stop_process, migrate)

    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.testing.ango import FIXTURE_SETTINGS, connection_extra

    # Ango Hub's documented limits (100 a page, 100 requests a minute), as in the tests.
    ango = stack.enter_context(AngoEmulator(api_key=secrets.token_urlsafe(24), settings=FIXTURE_SETTINGS))
    s3 = stack.enter_context(run_moto())
    os.environ.update(s3.env)
    os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = s3.connection_json()
    os.environ["AIRFLOW_CONN_ANGO_DEFAULT"] = json.dumps(
        {
            "conn_type": "ango",
            "host": ango.url,
            "password": ango.api_key,
            "extra": connection_extra(ango.settings),
        }
    )
    console.say(f"  Ango Hub emulator {ango.url}, S3 emulator (moto) {s3.endpoint}")
    images = sample_images()
    if migrate.wait(timeout=600) != 0:
        raise DemoError(f"`airflow db migrate` failed (exit {migrate.returncode})")
    console.say(f"  Airflow home {home} migrated (SQLite); {len(images)} sample PNGs generated")

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from airflow_provider_ango.hooks.bucket import BucketHook

    s3_hook = S3Hook(aws_conn_id="aws_default")
    for bucket in BUCKETS:
        s3_hook.create_bucket(bucket_name=bucket)
    raw = BucketHook.from_uri("s3://ango-raw/incoming/", "aws_default")
    for key, data in images.items():
        raw.write_bytes(key, data, content_type="image/png")
    newest = max(obj.last_modified for obj in raw.iter_objects())
    # Retries off, so that a failure shows at once.
    dags = {
        name: load_dag_file(home / "dags" / name, f"ango_demo_{Path(name).stem}", retries=0)
        for name in DAG_FILES
    }
    control = ango.control
    project = control.seed_project(
        name="Street cameras (demo)", category_schema=CATEGORY_SCHEMA, workflow=WORKFLOW
    )
    project_id = project["_id"]
    os.environ["AIRFLOW_VAR_ANGO_PROJECT_ID"] = project_id  # the DAGs' fallback for params.project_id
    console.say(f"  Buckets {', '.join(BUCKETS)}; project '{project['name']}' (Label -> Review -> Complete)")
    console.say("")

    jobs = []
    # Job 1: the day's files become assets.
    import_day = day_of(newest)
    run, seconds = run_dag(
        dags["nightly_bucket_import.py"].dag,
        logical_date=import_day + timedelta(days=1),  # a manual run covers the whole day before
        run_conf={"settle_minutes": 0},  # the sample files are seconds old
    )
    report = xcom(run, "report")
    job = Job("ango_nightly_bucket_import", seconds)
    job.lines.append(
        f"{report['items']} new file(s) in s3://ango-raw/incoming/ ({import_day.date()}) -> "
        f"{report['submitted']} asset(s) imported, {report['skipped_existing']} already there; "
        f"{report['tasks_found']} task(s) ready"
    )
    jobs.append(job)
    console.say(f"[1/3] {job.name:<32} success in {seconds:.1f} s")
    for line in job.lines:
        console.say(f"      {line}")

    # The team works on cam-1 during the day: every task labeled (a box each), most accepted, one rejected.
    acted = datetime.now(timezone.utc)
    cam_1 = sorted(key for key in images if key.startswith("cam-1/"))
    submitted = sum(
        control.act(
            project_id, action="submit", externalIds=[key], answer=answer(number), at=acted.isoformat()
        )["count"]
        for number, key in enumerate(cam_1)
    )
    accepted = control.act(
        project_id, action="review", reviewStatus="Accepted", externalIds=cam_1[:-1], at=acted.isoformat()
    )["count"]
    rejected = control.act(
        project_id, action="review", reviewStatus="Rejected", externalIds=cam_1[-1:], at=acted.isoformat()
    )["count"]
    console.say(
        f"      simulated labelers submitted {submitted} cam-1 task(s); reviewers accepted {accepted}, "
        f"rejected {rejected}"
    )

    # Job 2: the day's completed tasks are merged into the Delta tables; the reader DAG starts on the Asset.
    export_module = dags["scheduled_export_to_lake.py"]
    run, seconds = run_dag(export_module.export_dag, logical_date=day_of(acted) + timedelta(days=1))
    landed = xcom(run, "land_export")
    reader, reader_seconds = run_dag(export_module.report_dag)
    checked = xcom(reader, "describe_latest_partition")
    job = Job("ango_scheduled_export_to_lake", seconds)
    job.lines.append(
        f"{landed['records']} task(s) completed on {day_of(acted).date()} -> "
        f"{'merged' if landed['mode'] == 'merge' else 'appended'} into "
        + ", ".join(f"{table['uri']} v{table['version']}" for table in landed["tables"].values())
    )
    job.lines.append(
        f"Asset event ango_lake_exports -> ango_lake_partition_report ({reader_seconds:.1f} s): versions "
        f"{'committed' if checked['complete'] else 'NOT FOUND'}, {checked['records']} record(s)"
    )
    jobs.append(job)
    console.say(f"[2/3] {job.name:<32} success in {seconds:.1f} s")
    for line in job.lines:
        console.say(f"      {line}")

    # Job 3: predictions for cam-2 become pre-labels; the DAG waits deferred while the team labels.
    cam_2 = sorted(key for key in images if key.startswith("cam-2/"))
    BucketHook.from_uri("s3://ango-predictions/", "aws_default").write_bytes(
        "cam-2/predictions.ndjson", predictions(cam_2)
    )
    prelabel_dag = dags["prelabel_then_export.py"].dag
    sensor = prelabel_dag.get_task("wait_for_stage")
    sensor.poke_interval = 1.0  # the example counts every 5 minutes
    sensor.timeout = WAIT_SECONDS  # and waits up to a week
    since = max((entry["seq"] for entry in control.requests()), default=0)
    team: list[str] = []
    thread = threading.Thread(
        target=label_when_checked,
        args=(ango, project_id, "cam-2", since, team),
        name="simulated-labelers",
        daemon=True,
    )
    thread.start()
    run, seconds = run_dag(
        prelabel_dag,
        run_conf={"batch": "cam-2", "predictions_uri": "s3://ango-predictions/cam-2/"},
    )
    thread.join(timeout=WAIT_SECONDS)
    if not team or team[0].startswith("error"):
        raise DemoError(f"the simulated labelers did not finish: {team[0] if team else 'still running'}")
    summary = xcom(run, "report")
    job = Job("ango_prelabel_then_export", seconds)
    job.lines.append(
        f"{summary['prelabels']} prediction(s) from s3://ango-predictions/cam-2/ imported as pre-labels"
    )
    waited = "deferred" if "wait_for_stage" in deferred_tasks(run) else "did not need to defer"
    job.lines.append(
        f"wait_for_stage {waited}; meanwhile the simulated team labeled cam-2 ({team[0]}); "
        f"{summary['tasks']} task(s) reached {summary['stage']}"
    )
    job.lines.append(
        f"{summary['records']} record(s) landed as {summary['files']} split file(s) under "
        f"{summary['destination_uri']}"
    )
    jobs.append(job)
    console.say(f"[3/3] {job.name:<32} success in {seconds:.1f} s")
    for line in job.lines:
        console.say(f"      {line}")

    # The report.
    counts = control.counts(project_id)
    lake = BucketHook.from_uri("s3://ango-lake", "aws_default")
    files = [(obj.key, obj.size) for obj in lake.iter_objects()]
    stages = counts["stages"]
    shown = [name for name in SHOWN_STAGES if name in stages] + [
        name for name, count in stages.items() if count and name not in SHOWN_STAGES
    ]
    console.say("")
    console.say("Report")
    console.say(f"  Assets imported: {counts['assets']} (duplicates: {len(counts['duplicateExternalIds'])})")
    console.say(
        "  Batches: " + ", ".join(f"{name} {count}" for name, count in sorted(counts["batches"].items()))
    )
    console.say(f"  Pre-labels applied: {counts['preLabeled']}")
    console.say("  Tasks per stage: " + ", ".join(f"{name} {stages[name]}" for name in shown))
    console.say(f"  Lake query (DuckDB over the Delta tables {LAKE_TABLES}/tasks and .../annotations):")
    for line in lake_query():
        console.say(f"    {line}")
    console.say(f"  Files landed: {len(files)} in s3://ango-lake")
    width = max((len(key) for key, _ in files), default=0)
    for key, size in files:
        console.say(f"    s3://ango-lake/{key:<{width}}  {human_size(size):>9}")
    console.say(
        f"  Time taken: {time.monotonic() - started:.1f} s (DAG runs {sum(j.seconds for j in jobs):.1f} s)"
    )


if __name__ == "__main__":
    sys.exit(main())
