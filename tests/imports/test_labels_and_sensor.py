"""Pre-label imports and the import sensor (poke and deferred) against the Ango emulator."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from airflow_provider_ango.imports.labels import LabelValidationError
from airflow_provider_ango.operators.imports import AngoImportLabelsOperator
from airflow_provider_ango.sensors.imports import AngoAssetsImportedSensor
from airflow_provider_ango.testing.triggers import first_event
from airflow_provider_ango.triggers.imports import AngoAssetsImportedTrigger
from tests.imports.conftest import Store, run_context
from tests.imports.test_imports_e2e import build, import_assets, last_seq

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator

pytestmark = pytest.mark.emulator


def label(external_id: str, tool: str = "car", note: str = "note") -> dict[str, Any]:
    return {
        "externalId": external_id,
        "tools": [
            {
                "schemaId": tool,
                "bounding-box": {"x": 1, "y": 2, "width": 30, "height": 40},
                "classifications": [{"schemaId": "color", "answer": "red"}],
            }
        ],
        "classifications": [{"schemaId": note, "answer": "from the model"}],
        "relations": [],
    }


def seed_assets(ango: AngoEmulator, project_id: str, names: list[str]) -> None:
    from airflow_provider_ango.hooks.ango import AngoHubHook

    items = [{"data": f"https://cdn.example.com/{name}", "externalId": name} for name in names]
    hook = AngoHubHook()
    try:
        hook.import_cloud_assets(project_id, items)
    finally:
        hook.close()


def import_labels(store: Store, project_id: str, source: Any, **kwargs: Any) -> dict[str, Any]:
    operator = AngoImportLabelsOperator(
        task_id="labels", project_id=project_id, source=source, source_conn_id=store.bucket.conn_id, **kwargs
    )
    result: dict[str, Any] = operator.execute(run_context(None, None))  # type: ignore[arg-type]
    return result


# -- pre-labels --------------------------------------------------------------------------------
def test_labels_from_json_array_and_ndjson_files_are_imported_in_chunks(
    store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    names = [f"img-{n}.jpg" for n in range(7)]
    seed_assets(ango, project["_id"], names)
    array = orjson.dumps([label(name) for name in names[:4]], option=orjson.OPT_INDENT_2)
    ndjson = b"\n".join(orjson.dumps(label(name)) for name in names[4:]) + b"\n"
    store.hook.write_bytes("predictions/batch-1.json", array)
    store.hook.write_bytes("predictions/batch-2.ndjson", ndjson)
    store.hook.write_bytes("predictions/README.txt", b"not a label file")
    since = last_seq(ango)
    result = import_labels(store, project["_id"], f"{store.bucket.uri}/predictions/", chunk_size=3)
    assert result == {"items": 7, "annotations": 21, "submitted": 7, "chunks": 3}
    posts = [entry for entry in ango.control.requests(since=since) if entry["method"] == "POST"]
    assert [len(entry["body"]["jsonContent"]) for entry in posts] == [3, 3, 1]
    assert ango.control.counts(project["_id"])["preLabeled"] == 7


def test_unknown_schema_ids_and_external_ids_fail_listing_them_and_post_nothing(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    seed_assets(ango, project["_id"], ["a.jpg", "b.jpg", "c.jpg"])
    lines = [
        label("a.jpg"),
        label("b.jpg", tool="truck"),  # no such tool in the ontology
        label("c.jpg", note="mood"),  # no such classification
        label("ghost.jpg"),  # no such asset
        {"externalId": "a.jpg", "tools": [{"bounding-box": {}}]},  # no schemaId at all
    ]
    s3_store.hook.write_bytes("labels.ndjson", b"\n".join(orjson.dumps(line) for line in lines))
    since = last_seq(ango)
    with pytest.raises(LabelValidationError) as caught:
        import_labels(s3_store, project["_id"], f"{s3_store.bucket.uri}/labels.ndjson")
    message = str(caught.value)
    assert "4 problem(s)" in message
    assert "nothing was imported" in message
    assert "labels.ndjson:2: externalId 'b.jpg': unknown schemaId 'truck' (tools)" in message
    assert "labels.ndjson:3: externalId 'c.jpg': unknown schemaId 'mood' (classifications)" in message
    assert "labels.ndjson:5: externalId 'a.jpg': tools.0.schemaId: Field required" in message
    assert "labels.ndjson:4: unknown externalId 'ghost.jpg' (no such asset)" in message
    writes = [entry for entry in ango.control.requests(since=since) if entry["method"] == "POST"]
    assert writes == []
    assert ango.control.counts(project["_id"])["preLabeled"] == 0


def test_an_externalid_twice_in_the_labels_is_refused(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    seed_assets(ango, project["_id"], ["a.jpg"])
    s3_store.hook.write_bytes("l.json", orjson.dumps([label("a.jpg"), label("a.jpg")]))
    with pytest.raises(LabelValidationError, match=r"l.json#1: externalId 'a.jpg' appears more than once"):
        import_labels(s3_store, project["_id"], f"{s3_store.bucket.uri}/l.json")


# -- the sensor ----------------------------------------------------------------------------------
def make_sensor(store: Store, project_id: str, manifest: Any, **kwargs: Any) -> AngoAssetsImportedSensor:
    return AngoAssetsImportedSensor(
        task_id="wait",
        project_id=project_id,
        manifest=manifest,
        manifest_conn_id=store.bucket.conn_id,
        poke_interval=5,
        timeout=600,
        **kwargs,
    )


def test_sensor_pokes_until_the_manifest_is_imported(
    store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    for number in range(5):
        store.put(f"{number}.jpg")
    built = build(store, "run", *store.interval_around_all())
    sensor = make_sensor(store, project["_id"], built, deferrable=False, mode="poke")
    first = sensor.poke(run_context(None, None))  # type: ignore[arg-type]
    assert not first.is_done  # type: ignore[union-attr]
    assert first.xcom_value == {"expected": 5, "found": 0, "project_tasks": 0}  # type: ignore[union-attr]
    import_assets(store, project["_id"], built)
    done = sensor.poke(run_context(None, None))  # type: ignore[arg-type]
    assert done.is_done  # type: ignore[union-attr]
    assert done.xcom_value == {"expected": 5, "found": 5, "project_tasks": 5}  # type: ignore[union-attr]


def test_deferred_sensor_hands_over_urls_and_counts_and_the_trigger_fires(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    for number in range(6):
        s3_store.put(f"{number}.jpg")
    built = build(s3_store, "run", *s3_store.interval_around_all())
    sensor = make_sensor(s3_store, project["_id"], built, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(run_context(None, None))  # type: ignore[arg-type]
    trigger = deferred.value.trigger
    assert isinstance(trigger, AngoAssetsImportedTrigger)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_ango.triggers.imports.AngoAssetsImportedTrigger"
    assert kwargs["manifest_uris"] == built["manifests"]
    assert kwargs["expected"] == 6
    assert "0.jpg" not in orjson.dumps(kwargs).decode()  # no externalIds in the kwargs
    assert deferred.value.method_name == "execute_complete"

    # Rebuilt from its kwargs, as the triggerer does; between two checks the import happens.
    revived = AngoAssetsImportedTrigger(**kwargs)
    sleeps: list[float] = []

    async def import_while_waiting(seconds: float) -> None:
        sleeps.append(seconds)
        await asyncio.to_thread(import_assets, s3_store, project["_id"], built)

    revived._sleep = import_while_waiting

    event = asyncio.run(first_event(revived))
    assert event.payload == {"status": "success", "expected": 6, "found": 6, "project_tasks": 6}
    assert sleeps == [5.0]
    assert sensor.execute_complete(run_context(None, None), event.payload) == {  # type: ignore[arg-type]
        "expected": 6,
        "found": 6,
        "project_tasks": 6,
    }


def test_trigger_reports_timeout_and_errors_as_events(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout

    s3_store.put("only.jpg")
    built = build(s3_store, "run", *s3_store.interval_around_all())

    late = AngoAssetsImportedTrigger(
        project["_id"], built["manifests"], s3_store.bucket.conn_id, timeout_at=0.0
    )
    timed_out = asyncio.run(first_event(late)).payload
    assert timed_out == {"status": "timeout", "expected": 1, "found": 0, "project_tasks": 0}
    missing = AngoAssetsImportedTrigger("0" * 24, built["manifests"], s3_store.bucket.conn_id)
    failed = asyncio.run(first_event(missing)).payload
    assert failed["status"] == "error"
    assert failed["error"] == "AngoNotFoundError"
    sensor = make_sensor(s3_store, project["_id"], built)
    with pytest.raises(AirflowSensorTimeout, match="0 of 1 externalIds have tasks"):
        sensor.execute_complete(run_context(None, None), timed_out)  # type: ignore[arg-type]
    with pytest.raises(AirflowException, match="AngoNotFoundError"):
        sensor.execute_complete(run_context(None, None), failed)  # type: ignore[arg-type]
