"""AngoTaskStageTrigger against the Ango emulator: past its deadline it ends with a timeout event, which
the sensor turns into AirflowSensorTimeout naming what still waits."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from airflow_provider_ango.testing.triggers import first_event
from tests.sensors.helpers import seed_stage_project, stage_sensor

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator

pytestmark = pytest.mark.emulator


def test_trigger_timeout_ends_cleanly(ango: AngoEmulator, ango_connection: str) -> None:
    from airflow.sdk.exceptions import AirflowSensorTimeout

    from airflow_provider_ango.triggers.stage import AngoTaskStageTrigger

    project = seed_stage_project(ango, count=3)
    sensor = stage_sensor(project_id=project["_id"], deferrable=True, timeout=5)
    trigger = AngoTaskStageTrigger(plan=sensor.plan.to_json(), poke_interval=1, timeout_at=100.0)
    trigger._clock = lambda: 200.0  # past the deadline at the first count
    event = asyncio.run(first_event(trigger))
    assert event.payload["status"] == "timeout"
    with pytest.raises(AirflowSensorTimeout, match=r"3 task\(s\) \[Label=3\], 3 still waiting"):
        sensor.execute_complete({}, event.payload)
