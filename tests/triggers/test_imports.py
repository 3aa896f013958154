"""AngoAssetsImportedTrigger against the Ango emulator: a timeout and an error are events, which the
sensor turns into the right failure."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_ango.testing.triggers import first_event
from airflow_provider_ango.triggers.imports import AngoAssetsImportedTrigger
from tests.imports.helpers import T0, Obj, Store, build, last_seq, run_context, synthetic_manifest
from tests.sensors.helpers import make_sensor

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator

pytestmark = pytest.mark.emulator


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
    assert timed_out == {"status": "timeout", "expected": 1, "found": 0, "requests": 1, "listed": 0}
    missing = AngoAssetsImportedTrigger("0" * 24, built["manifests"], s3_store.bucket.conn_id)
    failed = asyncio.run(first_event(missing)).payload
    assert failed["status"] == "error"
    assert failed["error"] == "AngoNotFoundError"
    sensor = make_sensor(s3_store, project["_id"], built)
    with pytest.raises(AirflowSensorTimeout, match="0 of 1 externalIds have tasks"):
        sensor.execute_complete(run_context(None, None), timed_out)  # type: ignore[arg-type]
    with pytest.raises(AirflowException, match="AngoNotFoundError"):
        sensor.execute_complete(run_context(None, None), failed)  # type: ignore[arg-type]


def test_the_trigger_asks_each_time_only_about_what_is_still_missing(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    from airflow_provider_ango.hooks.ango import AngoHubHook

    objects = [Obj(f"cam/{n:03d}.jpg", last_modified=T0 + timedelta(seconds=n)) for n in range(250)]
    manifest = synthetic_manifest(s3_store, "night", objects)
    (scope_batch,) = manifest["scope_batches"]
    with AngoHubHook() as hook:
        hook.resolve_batches(project["_id"], [scope_batch], create_missing=True)
    items = [
        {"data": f"https://cdn.example.com/{obj.key}", "externalId": obj.key, "batches": [scope_batch]}
        for obj in objects
    ]
    trigger = AngoAssetsImportedTrigger(
        project["_id"], manifest["manifests"], s3_store.bucket.conn_id, updated_margin=0, poke_interval=1
    )
    landed = iter([items[:150], items[150:]])  # Ango makes 150 tasks, then the other 100
    checks: list[int] = []

    async def tasks_land_meanwhile(seconds: float) -> None:
        checks.append(last_seq(ango))
        await asyncio.to_thread(ango.control.insert_assets, project["_id"], next(landed))

    trigger._sleep = tasks_land_meanwhile
    start = last_seq(ango)
    event = asyncio.run(first_event(trigger)).payload
    # The last check listed only the 100 tasks made since the check before began: one page.
    assert event == {"status": "success", "expected": 250, "found": 250, "requests": 1, "listed": 100}
    first, second = checks

    def paths(after: int, until: int | None = None) -> list[str]:
        entries = ango.control.requests(since=after)
        return [
            entry["path"].rsplit("/", 1)[-1] for entry in entries if until is None or entry["seq"] <= until
        ]

    assert paths(start, first) == [project["_id"], "tasks"]  # batch names to ids, one empty page
    assert paths(first, second) == ["tasks", "tasks"]  # the 150 tasks updated since: two pages
    assert paths(second) == ["tasks"]
