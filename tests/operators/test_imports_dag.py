"""The import job as a DAG run with ``dag.test()``: templating, XComArg wiring, XCom sizes."""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_ango.testing.dagruns import load_dag_file
from tests.imports.helpers import Store

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator

pytestmark = pytest.mark.emulator

DAG_FILE = textwrap.dedent(
    '''
    """Nightly import of new bucket files (the first job of DESIGN.md), as the tests run it."""
    from datetime import datetime, timedelta, timezone

    from airflow.sdk import DAG, CronDataIntervalTimetable

    from airflow_provider_ango.operators.imports import AngoBuildImportOperator, AngoImportAssetsOperator
    from airflow_provider_ango.sensors.imports import AngoAssetsImportedSensor

    with DAG(
        "ango_nightly_import_test",
        # Data intervals: Airflow 3 runs a plain "@daily" with CronTriggerTimetable (no interval).
        schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
        start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
        catchup=False,
        max_active_runs=1,
    ) as dag:
        build = AngoBuildImportOperator(
            task_id="build_manifest",
            source_uri="{{ var.value.ango_test_source }}",
            manifest_uri="{{ var.value.ango_test_staging }}/{{ data_interval_start | ds }}/assets.ndjson",
            include="**/*.jpg",
            settle_delay=timedelta(minutes=0),
            lookback=timedelta(hours=1),
            batches=["nightly-{{ data_interval_start | ds }}", "{folder}"],
            context_data={"run": "{{ run_id }}"},
        )
        load = AngoImportAssetsOperator(
            task_id="import_assets",
            project_id="{{ var.value.ango_test_project }}",
            manifest=build.output,
            max_active_tis_per_dag=1,
        )
        wait = AngoAssetsImportedSensor(
            task_id="wait_for_tasks",
            project_id="{{ var.value.ango_test_project }}",
            manifest=build.output,
            poke_interval=1,
            timeout=60,
        )
        build >> load >> wait
    '''
)


def load_dag(path: Path) -> Any:
    return load_dag_file(path, "ango_nightly_import_test_dag").dag


def test_nightly_import_dag_runs_end_to_end(
    s3_store: Store,
    ango: AngoEmulator,
    project: dict[str, Any],
    airflow_db: Path,
    airflow_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in ("cam-1/a.jpg", "cam-1/b.jpg", "cam-2/c d.jpg", "cam-2/skip.txt"):
        s3_store.put(key)
    newest = max(s3_store.modified().values())
    day_start = datetime(newest.year, newest.month, newest.day, tzinfo=timezone.utc)
    # A manual run's interval is the last whole day before its logical date: [day_start, +1 day).
    logical_date = day_start + timedelta(days=1)
    monkeypatch.setenv("AIRFLOW_VAR_ANGO_TEST_SOURCE", s3_store.source_uri)
    monkeypatch.setenv("AIRFLOW_VAR_ANGO_TEST_STAGING", f"{s3_store.bucket.uri}/staging")
    monkeypatch.setenv("AIRFLOW_VAR_ANGO_TEST_PROJECT", project["_id"])
    dag_file = airflow_home / "dags" / "ango_nightly_import_test.py"
    dag_file.write_text(DAG_FILE)
    dag = load_dag(dag_file)

    run = dag.test(logical_date=logical_date)
    assert str(run.state) == "success"
    counts = ango.control.counts(project["_id"])
    assert counts["assets"] == 3
    assert counts["duplicateExternalIds"] == {}
    day = day_start.date().isoformat()
    scope_batch = f"import:{s3_store.bucket.name}/incoming:{newest.date().isoformat()}"
    assert counts["batches"] == {f"nightly-{day}": 3, "cam-1": 2, "cam-2": 1, scope_batch: 3}

    # The same interval again (a cleared run): nothing new, still each once.
    again = dag.test(logical_date=logical_date)
    assert str(again.state) == "success"
    assert ango.control.counts(project["_id"])["assets"] == 3
    assert day_start <= newest < logical_date
