"""AngoAssetsImportedSensor against the Ango emulator: pokes until the manifest is imported; deferred,
it hands URLs and counts (no externalIds) to its trigger, which fires when the import lands."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from airflow_provider_ango.testing.triggers import first_event
from airflow_provider_ango.triggers.imports import AngoAssetsImportedTrigger
from tests.imports.helpers import Store, build, import_assets, run_context
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
