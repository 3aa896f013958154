"""Helpers of the sensor tests, shared with the trigger and stage tests: the two sensors, built as a
DAG author would, and a project seeded for the stage sensor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.sensors.imports import AngoAssetsImportedSensor
    from tests.imports.helpers import Store


def make_sensor(store: Store, project_id: str, manifest: Any, **kwargs: Any) -> AngoAssetsImportedSensor:
    from airflow_provider_ango.sensors.imports import AngoAssetsImportedSensor

    return AngoAssetsImportedSensor(
        task_id="wait",
        project_id=project_id,
        manifest=manifest,
        manifest_conn_id=store.bucket.conn_id,
        poke_interval=5,
        timeout=600,
        **kwargs,
    )


def seed_stage_project(ango: AngoEmulator, count: int = 6) -> dict[str, Any]:
    assets = [
        {
            "data": f"https://example.com/{n}.jpg",
            "externalId": f"img-{n}",
            "batches": ["b1" if n < 4 else "b2"],
        }
        for n in range(count)
    ]
    return ango.control.seed_project(
        name="stage-wait", batches=["b1", "b2"], assets=assets, workflow=["Label"]
    )


def stage_sensor(**kwargs: Any) -> Any:
    from airflow_provider_ango.sensors.stage import AngoTaskStageSensor

    options: dict[str, Any] = {"task_id": "wait", "poke_interval": 1, "timeout": 60, **kwargs}
    return AngoTaskStageSensor(**options)
