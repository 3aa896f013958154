"""Extra links to the Ango Hub project and batch: recorded while a task runs, rendered after it.

A ``dag.test()`` run goes through Airflow's own task runner, which renders every extra link of a
finished task (``get_link``) into XCom ``_link_<class>``; the API server then shows it through the
deserialized DAG (``XComOperatorLink``). Both are read back here, and no secret may be in them.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_ango.testing.ango import connection_extra
from airflow_provider_ango.testing.dagruns import load_dag_file
from tests.imports.helpers import FakeTI, Store, build

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator

pytestmark = pytest.mark.emulator

UI_URL = "https://links-user:ui-secret@hub.example.test/app/?token=ui-token#frag"
SHOWN_UI = "https://hub.example.test/app"

DAG_FILE = textwrap.dedent(
    """
    from datetime import datetime, timezone

    from airflow.sdk import DAG

    from airflow_provider_ango.operators.exports import AngoTriggerExportOperator

    with DAG("ango_links_test", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)) as dag:
        AngoTriggerExportOperator(
            task_id="export",
            project_id="{{ var.value.ango_links_project }}",
            staging_uri="{{ var.value.ango_links_staging }}",
            batches=["nightly"],
            deferrable=False,
        )
    """
)


@pytest.fixture
def ui_connection(ango: AngoEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """The emulator's connection with a ``ui_url`` extra that carries secrets in every part a URL can."""
    extra = {**connection_extra(ango.settings), "ui_url": UI_URL}
    connection = {"conn_type": "ango", "password": ango.api_key, "host": ango.url, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_ANGO_DEFAULT", json.dumps(connection))
    return "ango_default"


def stored_xcoms(run: Any, task_id: str) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, task_ids=task_id))
        return {row.key: XComModel.deserialize_value(row) for row in rows}


def links_as_the_api_server_shows_them(run: Any, task_id: str) -> dict[str, str | None]:
    """What ``GET /api/v2/dags/<dag>/dagRuns/<run>/taskInstances/<task>/links`` answers: the API
    server's own route, over the DAG as the run serialized it into the database."""
    from airflow.api_fastapi.core_api.routes.public.extra_links import get_extra_links
    from airflow.models.dagbag import DBDagBag
    from airflow.utils.session import create_session

    with create_session() as session:
        answer = get_extra_links(
            dag_id=run.dag_id, dag_run_id=run.run_id, task_id=task_id, session=session, dag_bag=DBDagBag()
        )
    return dict(answer.extra_links)


def test_a_dag_run_renders_the_project_and_batch_links_without_secrets(
    ango: AngoEmulator,
    ui_connection: str,
    new_bucket: Any,
    airflow_db: Path,
    airflow_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_provider_ango.hooks.ango import AngoHubHook

    bucket = new_bucket("s3")
    project_id = ango.control.seed_project(name="links", batches=["nightly"], assets=2, workflow=["Label"])[
        "_id"
    ]
    with AngoHubHook() as hook:
        batch_id = hook.get_project(project_id).batch_ids_by_name()["nightly"]
    monkeypatch.setenv("AIRFLOW_VAR_ANGO_LINKS_PROJECT", project_id)
    monkeypatch.setenv("AIRFLOW_VAR_ANGO_LINKS_STAGING", f"{bucket.uri}/staging")
    dag_file = airflow_home / "dags" / "ango_links_test.py"
    dag_file.write_text(DAG_FILE)
    dag = load_dag_file(dag_file, "ango_links_test_dag").dag

    run = dag.test()
    assert str(run.state) == "success"
    project_link = f"{SHOWN_UI}/projects/{project_id}"
    batch_link = f"{project_link}?batch={batch_id}"
    xcoms = stored_xcoms(run, "export")
    # Rendered by the task runner when the task finished (get_link on a real task instance key) ...
    assert xcoms["_link_AngoProjectLink"] == project_link
    assert xcoms["_link_AngoBatchLink"] == batch_link
    # ... and served from there, as the UI asks for them.
    assert links_as_the_api_server_shows_them(run, "export") == {
        "Ango Hub batch": batch_link,
        "Ango Hub project": project_link,
    }
    everything = json.dumps(xcoms, default=str)
    for secret in (ango.api_key, "ui-secret", "links-user", "ui-token", "frag"):
        assert secret not in everything


def test_the_import_links_its_scope_batch_and_the_build_only_a_given_project(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    from airflow_provider_ango.hooks.ango import AngoHubHook
    from airflow_provider_ango.links import AngoBatchLink, AngoProjectLink
    from airflow_provider_ango.operators.imports import AngoBuildImportOperator, AngoImportAssetsOperator

    s3_store.put("a.jpg")
    built = build(s3_store, "run", *s3_store.interval_around_all())
    (scope_batch,) = built["scope_batches"]
    operator = AngoImportAssetsOperator(
        task_id="import", project_id=project["_id"], manifest=built, manifest_conn_id=s3_store.bucket.conn_id
    )
    assert [type(link) for link in operator.operator_extra_links] == [AngoProjectLink, AngoBatchLink]
    ti = FakeTI()
    operator.execute({"ti": ti})  # type: ignore[arg-type]
    with AngoHubHook() as hook:
        scope_id = hook.get_project(project["_id"]).batch_ids_by_name()[scope_batch]
    base = f"https://hub.ango.ai/projects/{project['_id']}"  # no ui_url extra: Ango's web app
    assert ti.pushed["ango_links"] == {"project": base, "batch": f"{base}?batch={scope_id}"}

    with_project = AngoBuildImportOperator(
        task_id="b", source_uri="s3://b/in/", manifest_uri="s3://b/m.ndjson", project_id="p"
    )
    without = AngoBuildImportOperator(task_id="c", source_uri="s3://b/in/", manifest_uri="s3://b/m.ndjson")
    assert [type(link) for link in with_project.operator_extra_links] == [AngoProjectLink]
    assert list(without.operator_extra_links) == []
