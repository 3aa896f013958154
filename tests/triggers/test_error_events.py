"""Every trigger turns any exception (not only Ango's errors) into one error event whose message is
scrubbed of the secrets it carried; and every deferring task handles a resume without an event."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_ango.testing.triggers import first_event
from tests.imports.helpers import Store, build, run_context
from tests.sensors.helpers import make_sensor, seed_stage_project, stage_sensor

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator

pytestmark = pytest.mark.emulator

PASSWORD = "pw-Planted-7731"
SIGNATURE = "SigPlanted0123456789abcdef"
SECRET_URL = f"https://user:{PASSWORD}@bucket.example.com/x.zip?X-Amz-Signature={SIGNATURE}"


def assert_scrubbed_error(payload: dict[str, Any], error: str) -> None:
    assert payload["status"] == "error"
    assert payload["error"] == error
    assert payload["message"]
    assert PASSWORD not in json.dumps(payload)
    assert SIGNATURE not in json.dumps(payload)


def test_export_trigger_turns_a_malformed_option_into_a_scrubbed_error_event(ango_connection: str) -> None:
    from airflow_provider_ango.triggers.exports import AngoExportTrigger

    trigger = AngoExportTrigger(project_id="0" * 24, options={"format": SECRET_URL})
    payload = asyncio.run(first_event(trigger)).payload
    assert_scrubbed_error(payload, "ValidationError")
    assert "format" in payload["message"]


def test_stage_trigger_turns_a_malformed_plan_into_a_scrubbed_error_event(
    ango: AngoEmulator, ango_connection: str
) -> None:
    from airflow_provider_ango.triggers.stage import AngoTaskStageTrigger

    project = seed_stage_project(ango, count=1)
    plan = stage_sensor(project_id=project["_id"]).plan.to_json()
    trigger = AngoTaskStageTrigger(plan={**plan, "min_tasks": SECRET_URL}, poke_interval=1)
    payload = asyncio.run(first_event(trigger)).payload
    assert_scrubbed_error(payload, "ValueError")
    assert "invalid literal for int()" in payload["message"]


def test_imports_trigger_turns_a_malformed_manifest_list_into_an_error_event(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    from airflow_provider_ango.triggers.imports import AngoAssetsImportedTrigger

    trigger = AngoAssetsImportedTrigger(project["_id"], [42], s3_store.bucket.conn_id)  # type: ignore[list-item]
    payload = asyncio.run(first_event(trigger)).payload
    assert_scrubbed_error(payload, "AttributeError")


def test_imports_trigger_scrubs_userinfo_of_a_connection_host_from_its_error_event(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_ango.triggers.imports import AngoAssetsImportedTrigger

    s3_store.put("only.jpg")
    built = build(s3_store, "run", *s3_store.interval_around_all())
    host = ango.url.replace("http://", f"http://user:{PASSWORD}@")
    connection = {"conn_type": "ango", "host": host, "password": "k" * 20}
    monkeypatch.setenv("AIRFLOW_CONN_ANGO_USERINFO", json.dumps(connection))
    trigger = AngoAssetsImportedTrigger(
        project["_id"], built["manifests"], s3_store.bucket.conn_id, ango_conn_id="ango_userinfo"
    )
    payload = asyncio.run(first_event(trigger)).payload
    assert_scrubbed_error(payload, "AngoConfigError")
    assert "ango_userinfo" in payload["message"]


def test_deferred_tasks_resumed_without_an_event_say_so(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    from airflow_provider_ango.exceptions import AngoExportError, AngoProviderError
    from airflow_provider_ango.operators.exports import AngoTriggerExportOperator

    export = AngoTriggerExportOperator(task_id="export", project_id=project["_id"], staging_uri="s3://b/s")
    with pytest.raises(AngoExportError, match=r"ended without an event from the trigger.*clear the task"):
        export.execute_complete({}, None)
    imported = make_sensor(s3_store, project["_id"], [f"{s3_store.bucket.uri}/m/a-00000.ndjson"])
    with pytest.raises(AngoProviderError, match=r"ended without an event from the trigger.*clear the task"):
        imported.execute_complete(run_context(None, None), None)  # type: ignore[arg-type]
    staged = stage_sensor(project_id=project["_id"])
    with pytest.raises(AngoProviderError, match=r"ended without an event from the trigger.*clear the task"):
        staged.execute_complete({}, None)
