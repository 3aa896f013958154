"""A real DAG run (``dag.test()``): deferrable trigger, templated destination, the Asset event in the DB."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from airflow_provider_ango.testing.dagruns import load_dag_file
from tests.exports.helpers import landed_records, manifest, seed_labeled

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.testing.plugin import TestBucket

pytestmark = pytest.mark.emulator

DAG_SOURCE = """
from datetime import datetime, timezone

from airflow.sdk import DAG, Asset

from airflow_provider_ango.operators.exports import AngoLandExportOperator, AngoTriggerExportOperator
from airflow_provider_ango.sensors.stage import AngoTaskStageSensor

with DAG(
    "ango_lake_export",
    schedule="@daily",
    start_date=datetime(2024, 5, 1, tzinfo=timezone.utc),
    params={{"project_id": "{project_id}"}},
    catchup=False,
) as dag:
    wait = AngoTaskStageSensor(
        task_id="wait_complete", project_id="{{{{ params.project_id }}}}", stage="Complete",
        deferrable=True, poke_interval=1, timeout=600,
    )
    export = AngoTriggerExportOperator(
        task_id="trigger_export",
        project_id="{{{{ params.project_id }}}}",
        staging_uri="{bucket}/staging",
        deferrable=True,
    )
    land = AngoLandExportOperator(
        task_id="land_export",
        source=export.output,
        destination_uri="{bucket}/lake/ango/project={{{{ params.project_id }}}}/dt={{{{ ds }}}}/",
        asset_partition_key="{{{{ ds }}}}",
    )
    wait >> export >> land
"""


def test_dag_run_lands_the_partition_and_emits_the_asset_event(
    ango: AngoEmulator,
    ango_connection: str,
    new_bucket: Callable[[str], TestBucket],
    airflow_db: Path,
    airflow_home: Path,
    fernet_key: str,
) -> None:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from sqlalchemy import select

    bucket = new_bucket("s3")
    project = seed_labeled(ango, [f"img-{n}.jpg" for n in range(7)])
    # dag.test() serializes the DAG from the configured DAGs folder (the session's own).
    dag_file = airflow_home / "dags" / "ango_lake_export.py"
    dag_file.write_text(textwrap.dedent(DAG_SOURCE.format(project_id=project["_id"], bucket=bucket.uri)))
    try:
        module = load_dag_file(dag_file, "ango_lake_export_dag")
        run = module.dag.test(logical_date=datetime(2024, 5, 2, tzinfo=timezone.utc))
    finally:
        dag_file.unlink()
    assert run.state == DagRunState.SUCCESS

    destination = f"{bucket.uri}/lake/ango/project={project['_id']}/dt=2024-05-02/"
    assert len(landed_records(destination, bucket.conn_id)) == 7
    assert manifest(destination, bucket.conn_id)["run_id"] == run.run_id

    with create_session() as session:
        events = session.scalars(select(AssetEvent).order_by(AssetEvent.id)).all()
        mine = [event for event in events if event.source_run_id == run.run_id]
        assert len(mine) == 1
        event = mine[0]
        assert event.asset.uri == f"{bucket.uri}/lake/ango"
        assert event.extra["destination_uri"] == destination
        assert event.extra["records"] == 7
        assert event.partition_key == "2024-05-02"
