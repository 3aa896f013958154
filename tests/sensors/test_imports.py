"""AngoAssetsImportedSensor against the Ango emulator: pokes until the manifest is imported; deferred,
it hands URLs and counts (no externalIds) to its trigger, which fires when the import lands."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from airflow_provider_ango.testing.triggers import first_event
from airflow_provider_ango.triggers.imports import AngoAssetsImportedTrigger
from tests.imports.helpers import T0, Obj, Store, build, import_assets, last_seq, run_context
from tests.sensors.helpers import make_sensor

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator

pytestmark = pytest.mark.emulator


def test_sensor_pokes_until_the_manifest_is_imported(
    store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    for number in range(5):
        store.put(f"{number}.jpg")
    built = build(store, "run", *store.interval_around_all())
    sensor = make_sensor(store, project["_id"], built, deferrable=False, mode="poke")
    first = sensor.poke(run_context(None, None))  # type: ignore[arg-type]
    assert not first.is_done  # type: ignore[union-attr]
    # The scope batch does not exist yet: one project read, nothing to list.
    assert first.xcom_value == {"expected": 5, "found": 0, "requests": 1, "listed": 0}  # type: ignore[union-attr]
    import_assets(store, project["_id"], built)
    done = sensor.poke(run_context(None, None))  # type: ignore[arg-type]
    assert done.is_done  # type: ignore[union-attr]
    # The batch now exists (one project read); the tasks updated since the first check: one page.
    assert done.xcom_value == {"expected": 5, "found": 5, "requests": 2, "listed": 5}  # type: ignore[union-attr]


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
    assert event.payload == {"status": "success", "expected": 6, "found": 6, "requests": 2, "listed": 6}
    assert sleeps == [5.0]
    assert sensor.execute_complete(run_context(None, None), event.payload) == {  # type: ignore[arg-type]
        "expected": 6,
        "found": 6,
        "requests": 2,
        "listed": 6,
    }


def seed_nights(ango: AngoEmulator, store: Store, earlier_nights: int, night_size: int) -> tuple[str, str]:
    """A project of ``earlier_nights`` nights of ``night_size`` tasks each, in their scope batches, plus
    an empty scope batch for tonight's (day 2's) files: ``(project id, tonight's batch name)``."""
    from airflow_provider_ango.imports.scope import default_scope_prefix, scope_batch_name

    prefix = default_scope_prefix(store.bucket.name, "incoming/")
    tonight = scope_batch_name(prefix, T0 + timedelta(days=1))
    names = [scope_batch_name(prefix, T0 - timedelta(days=day)) for day in range(earlier_nights)]
    specs = [
        {"count": night_size, "batch": name, "externalIdPrefix": f"old-{n}-"} for n, name in enumerate(names)
    ]
    project = ango.control.seed_project(name="nights", batches=[*names, tonight], synthetic_assets=specs)
    return str(project["_id"]), tonight


def tonights_manifest(store: Store, count: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A manifest of ``count`` files of day 2, and the import items Ango would hold for them."""
    from tests.imports.helpers import synthetic_manifest

    objects = [Obj(f"cam/{n:06d}.jpg", last_modified=T0 + timedelta(days=1, seconds=n)) for n in range(count)]
    manifest = synthetic_manifest(store, "tonight", objects)
    items = [
        {"data": f"https://cdn.example.com/incoming/{obj.key}", "externalId": obj.key} for obj in objects
    ]
    return manifest, items


@pytest.mark.ango_settings(rate_limit="100/s")
def test_a_poke_after_the_first_asks_only_about_what_is_missing(
    s3_store: Store, ango: AngoEmulator, ango_connection: str
) -> None:
    """A 10,000-item night into a 1,000,000-task project: the first poke lists tonight's scope batch,
    the next one only the tasks created since, O(missing / 100) requests."""
    project_id, tonight = seed_nights(ango, s3_store, earlier_nights=99, night_size=10_000)
    manifest, items = tonights_manifest(s3_store, 10_000)
    for item in items:
        item["batches"] = [tonight]
    ango.control.insert_assets(project_id, assets=items[:9_000])  # Ango has made 9,000 tasks so far
    sensor = make_sensor(s3_store, project_id, manifest, deferrable=False, mode="poke", updated_margin=0)
    first = sensor.poke(run_context(None, None))  # type: ignore[arg-type]
    assert not first.is_done  # type: ignore[union-attr]
    # One project read (batch names to ids), then tonight's 9,000 tasks in pages of 100.
    assert first.xcom_value == {"expected": 10_000, "found": 9_000, "requests": 91, "listed": 9_000}  # type: ignore[union-attr]
    ango.control.insert_assets(project_id, assets=items[9_000:])
    since = last_seq(ango)
    done = sensor.poke(run_context(None, None))  # type: ignore[arg-type]
    assert done.is_done  # type: ignore[union-attr]
    assert done.xcom_value == {"expected": 10_000, "found": 10_000, "requests": 10, "listed": 1_000}  # type: ignore[union-attr]
    filters = [orjson.loads(entry["queryParams"]["filter"]) for entry in ango.control.requests(since=since)]
    assert all(set(task_filter) == {"batches", "updatedAt"} for task_filter in filters)


@pytest.mark.ango_settings(rate_limit="100/s")
def test_a_few_missing_ids_are_looked_up_when_many_tasks_changed_meanwhile(
    s3_store: Store, ango: AngoEmulator, ango_connection: str
) -> None:
    project_id, tonight = seed_nights(ango, s3_store, earlier_nights=1, night_size=10_000)
    manifest, items = tonights_manifest(s3_store, 2_000)
    for item in items:
        item["batches"] = [tonight]
    ango.control.insert_assets(project_id, assets=items[:1_997])
    sensor = make_sensor(s3_store, project_id, manifest, deferrable=False, mode="poke", updated_margin=0)
    first = sensor.poke(run_context(None, None))  # type: ignore[arg-type]
    assert first.xcom_value["found"] == 1_997  # type: ignore[union-attr]
    # Labelers submit 1,500 of tonight's tasks (their updatedAt moves), and Ango makes the last 3.
    ango.control.act(project_id, action="submit", batch=tonight, limit=1_500)
    ango.control.insert_assets(project_id, assets=items[1_997:])
    since = last_seq(ango)
    done = sensor.poke(run_context(None, None))  # type: ignore[arg-type]
    assert done.is_done  # type: ignore[union-attr]
    # The first page of the updated listing (1,503 tasks: 15 more pages) costs more than 3 look-ups.
    assert done.xcom_value["requests"] == 1 + 3  # type: ignore[union-attr]
    lookups = [orjson.loads(entry["queryParams"]["filter"]) for entry in ango.control.requests(since=since)][
        1:
    ]
    assert lookups == [{"externalId": item["externalId"]} for item in items[1_997:]]


def test_a_manifest_without_scope_batches_is_watched_across_the_whole_project(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    ango.control.insert_assets(project["_id"], count=150)  # other assets of the project
    items = [{"data": f"https://cdn.example.com/{n}.jpg", "externalId": f"hand-{n}"} for n in range(3)]
    s3_store.hook.write_bytes("manifests/hand/a.ndjson", b"\n".join(orjson.dumps(item) for item in items))
    manifest = f"{s3_store.bucket.uri}/manifests/hand/a.ndjson"
    sensor = make_sensor(s3_store, project["_id"], manifest, deferrable=False, mode="poke", updated_margin=0)
    first = sensor.poke(run_context(None, None))  # type: ignore[arg-type]
    assert first.xcom_value == {"expected": 3, "found": 0, "requests": 2, "listed": 150}  # type: ignore[union-attr]
    ango.control.insert_assets(project["_id"], assets=items)
    since = last_seq(ango)
    done = sensor.poke(run_context(None, None))  # type: ignore[arg-type]
    # The whole project, but only its tasks updated since the first check: the 3 new ones.
    assert done.xcom_value == {"expected": 3, "found": 3, "requests": 1, "listed": 3}  # type: ignore[union-attr]
    (listing,) = ango.control.requests(since=since)
    assert set(orjson.loads(listing["queryParams"]["filter"])) == {"updatedAt"}
