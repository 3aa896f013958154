"""AngoTaskStageSensor and its trigger against the Ango emulator over HTTP."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_ango.testing.triggers import first_event

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator

pytestmark = pytest.mark.emulator


def _seed(ango: AngoEmulator, count: int = 6) -> dict[str, Any]:
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


def _sensor(**kwargs: Any) -> Any:
    from airflow_provider_ango.sensors.stage import AngoTaskStageSensor

    options: dict[str, Any] = {"task_id": "wait", "poke_interval": 1, "timeout": 60, **kwargs}
    return AngoTaskStageSensor(**options)


def test_poke_mode_waits_for_the_batch(ango: AngoEmulator, ango_connection: str) -> None:
    project = _seed(ango)
    sensor = _sensor(project_id=project["_id"], batch="b1", stage="Complete", deferrable=False)
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
    assert not _sensor(project_id=project["_id"], deferrable=False).poke({}).is_done
    # execute() in poke mode returns the XCom at once when the first poke succeeds.
    assert sensor.execute({})["done"] is True


def test_deferrable_sensor_defers_then_resumes(ango: AngoEmulator, ango_connection: str) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    from airflow_provider_ango.triggers.stage import AngoTaskStageTrigger

    project = _seed(ango)
    sensor = _sensor(project_id=project["_id"], stage="Complete", deferrable=True, timeout=3600)
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
    project = _seed(ango, count=2)
    ango.control.act(project["_id"], action="submit")
    result = _sensor(project_id=project["_id"], deferrable=True).execute({})
    assert result["done"] is True


def test_trigger_timeout_ends_cleanly(ango: AngoEmulator, ango_connection: str) -> None:
    from airflow.sdk.exceptions import AirflowSensorTimeout

    from airflow_provider_ango.triggers.stage import AngoTaskStageTrigger

    project = _seed(ango, count=3)
    sensor = _sensor(project_id=project["_id"], deferrable=True, timeout=5)
    trigger = AngoTaskStageTrigger(plan=sensor.plan.to_json(), poke_interval=1, timeout_at=100.0)
    trigger._clock = lambda: 200.0  # past the deadline at the first count
    event = asyncio.run(first_event(trigger))
    assert event.payload["status"] == "timeout"
    with pytest.raises(AirflowSensorTimeout, match=r"3 task\(s\) \[Label=3\], 3 still waiting"):
        sensor.execute_complete({}, event.payload)


def test_review_stage_counts_tasks_past_it_as_done(ango: AngoEmulator, ango_connection: str) -> None:
    project = ango.control.seed_project(name="review", assets=4, workflow=["Label", "Review"])
    ango.control.act(project["_id"], action="submit", limit=2)  # 2 to Review
    sensor = _sensor(project_id=project["_id"], stage="Review", deferrable=False)
    assert not sensor.poke({}).is_done
    ango.control.act(project["_id"], action="submit")  # the rest to Review
    ango.control.act(project["_id"], action="review", reviewStatus="Accepted", limit=1)  # one to Complete
    assert sensor.poke({}).is_done
    strict = _sensor(project_id=project["_id"], stage="Review", accept_later_stages=False, deferrable=False)
    assert not strict.poke({}).is_done


def test_empty_batch_is_not_done_and_bad_names_are_named(ango: AngoEmulator, ango_connection: str) -> None:
    from airflow_provider_ango.exceptions import AngoBatchNotFoundError, AngoStageError

    project = ango.control.seed_project(name="empty", batches=["later"], assets=0)
    assert not _sensor(project_id=project["_id"], batch="later", deferrable=False).poke({}).is_done
    assert _sensor(project_id=project["_id"], batch="later", min_tasks=0, deferrable=False).poke({}).is_done
    with pytest.raises(AngoStageError, match=r"stage 'Shipped' is not a stage .*Complete"):
        _sensor(project_id=project["_id"], stage="Shipped", deferrable=False).poke({})
    with pytest.raises(
        AngoBatchNotFoundError, match=r"batch\(es\) 'nope' are not batches of project .*'later'"
    ):
        _sensor(project_id=project["_id"], batch="nope", deferrable=False).poke({})
