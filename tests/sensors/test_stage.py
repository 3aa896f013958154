"""AngoTaskStageSensor against the Ango emulator: poke mode, deferring to its trigger and resuming,
and returning at once when the wait is already over."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from airflow_provider_ango.testing.triggers import first_event
from tests.sensors.helpers import seed_stage_project, stage_sensor

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator

pytestmark = pytest.mark.emulator


def test_poke_mode_waits_for_the_batch(ango: AngoEmulator, ango_connection: str) -> None:
    project = seed_stage_project(ango)
    sensor = stage_sensor(project_id=project["_id"], batch="b1", stage="Complete", deferrable=False)
    first = sensor.poke({})
    assert not first.is_done
    assert first.xcom_value["waiting"] == 4
    assert first.xcom_value["counts"]["Label"] == 4

    ango.control.act(project["_id"], action="submit", batch="b1")
    done = sensor.poke({})
    assert done.is_done
    assert done.xcom_value == {
        "project_id": project["_id"],
        "batch_id": sensor.plan.batch_id,
        "stage": "Complete",
        "total": 4,
        "waiting": 0,
        "counts": {"Start": 0, "Label": 0, "Review": 0, "Consensus": 0, "Hold": 0, "Complete": 4},
        "done": True,
    }
    # The other batch is untouched, so the whole project is not done.
    assert not stage_sensor(project_id=project["_id"], deferrable=False).poke({}).is_done
    # execute() in poke mode returns the XCom at once when the first poke succeeds.
    assert sensor.execute({})["done"] is True


def test_deferrable_sensor_defers_then_resumes(ango: AngoEmulator, ango_connection: str) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    from airflow_provider_ango.triggers.stage import AngoTaskStageTrigger

    project = seed_stage_project(ango)
    sensor = stage_sensor(project_id=project["_id"], stage="Complete", deferrable=True, timeout=3600)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    trigger = deferred.value.trigger
    assert isinstance(trigger, AngoTaskStageTrigger)
    assert deferred.value.method_name == "execute_complete"
    # Plain values only: the kwargs survive a JSON round trip unchanged.
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_ango.triggers.stage.AngoTaskStageTrigger"
    import json

    assert json.loads(json.dumps(kwargs)) == kwargs
    assert ango.api_key not in json.dumps(kwargs)

    # Rebuilt as the triggerer would; between two counts the labelers finish the tasks.
    rebuilt = AngoTaskStageTrigger(**kwargs)
    sleeps: list[float] = []

    async def labelers_work(seconds: float) -> None:
        sleeps.append(seconds)
        await asyncio.to_thread(ango.control.act, project["_id"], action="submit")

    rebuilt._sleep = labelers_work
    event = asyncio.run(first_event(rebuilt))
    assert sleeps == [1.0]
    assert event.payload["status"] == "success"
    assert event.payload["progress"]["counts"]["Complete"] == 6

    result = sensor.execute_complete({}, event.payload)
    assert result["done"] is True
    assert result["total"] == 6


def test_deferrable_sensor_returns_at_once_when_already_done(
    ango: AngoEmulator, ango_connection: str
) -> None:
    project = seed_stage_project(ango, count=2)
    ango.control.act(project["_id"], action="submit")
    result = stage_sensor(project_id=project["_id"], deferrable=True).execute({})
    assert result["done"] is True
