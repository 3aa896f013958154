"""stages.py, through the stage sensor on the Ango emulator: tasks past the target stage count as done
(unless told otherwise), an empty batch is not done, and unknown stage or batch names are named."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.sensors.helpers import stage_sensor

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator

pytestmark = pytest.mark.emulator


def test_review_stage_counts_tasks_past_it_as_done(ango: AngoEmulator, ango_connection: str) -> None:
    project = ango.control.seed_project(name="review", assets=4, workflow=["Label", "Review"])
    ango.control.act(project["_id"], action="submit", limit=2)  # 2 to Review
    sensor = stage_sensor(project_id=project["_id"], stage="Review", deferrable=False)
    assert not sensor.poke({}).is_done
    ango.control.act(project["_id"], action="submit")  # the rest to Review
    ango.control.act(project["_id"], action="review", reviewStatus="Accepted", limit=1)  # one to Complete
    assert sensor.poke({}).is_done
    strict = stage_sensor(
        project_id=project["_id"], stage="Review", accept_later_stages=False, deferrable=False
    )
    assert not strict.poke({}).is_done


def test_empty_batch_is_not_done_and_bad_names_are_named(ango: AngoEmulator, ango_connection: str) -> None:
    from airflow_provider_ango.exceptions import AngoBatchNotFoundError, AngoStageError

    project = ango.control.seed_project(name="empty", batches=["later"], assets=0)
    assert not stage_sensor(project_id=project["_id"], batch="later", deferrable=False).poke({}).is_done
    assert (
        stage_sensor(project_id=project["_id"], batch="later", min_tasks=0, deferrable=False).poke({}).is_done
    )
    with pytest.raises(AngoStageError, match=r"stage 'Shipped' is not a stage .*Complete"):
        stage_sensor(project_id=project["_id"], stage="Shipped", deferrable=False).poke({})
    with pytest.raises(
        AngoBatchNotFoundError, match=r"batch\(es\) 'nope' are not batches of project .*'later'"
    ):
        stage_sensor(project_id=project["_id"], batch="nope", deferrable=False).poke({})
