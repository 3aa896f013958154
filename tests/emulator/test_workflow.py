"""The control API's labelers and reviewers: submit, review (accept/reject), consensus, move."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from airflow_provider_ango.emulator import AngoEmulator, EmulatorControlError
from tests.emulator.helpers import SCHEMA, data_of

RADIO = "6421df1fa34ac13204ea157"


# These tests cover the SDK's reading (batch ids, the SDK's answer shapes) and read listings in the
# order items were made; the REST documentation's reading and the default order (newest first, ties
# shuffled) are covered in test_readings_imports.py, test_readings_tasks.py and test_limits.py.
pytestmark = pytest.mark.ango_settings(
    answer_shapes="sdk", batch_refs="ids", default_sort="createdAt", tie_order="stable"
)


def _task(api: httpx.Client, task_id: str) -> dict[str, Any]:
    return dict(data_of(api.get(f"/v2/task/{task_id}", params={"includeAnswer": "true"}))["task"])


def _history(api: httpx.Client, task_id: str) -> list[dict[str, Any]]:
    return list(data_of(api.get(f"/v2/task/{task_id}/history"))["stageHistory"])


def test_submit_review_accept_and_reject(ango: AngoEmulator, api: httpx.Client) -> None:
    project = ango.control.seed_project(name="wf", category_schema=SCHEMA, assets=2)
    answer = {"classifications": [{"schemaId": RADIO, "answer": "1"}]}
    submitted = ango.control.act(
        project["_id"], action="submit", answer=answer, at="2026-03-01T10:00:00.000Z"
    )
    assert submitted["count"] == 2
    first, second = submitted["taskIds"]
    assert _task(api, first)["stage"] == "Review"
    ango.control.act(project["_id"], action="review", taskIds=[first], reviewStatus="Accepted", by="rev@x.io")
    ango.control.act(
        project["_id"],
        action="review",
        taskIds=[second],
        reviewStatus="Rejected",
        at="2026-03-01T11:00:00.000Z",
    )
    accepted, rejected = _task(api, first), _task(api, second)
    assert accepted["stage"] == "Complete"
    assert accepted["stageId"] == "Complete"
    assert accepted["updatedBy"] == "rev@x.io"
    assert accepted["review"]["status"] == "Accepted"
    assert accepted["totalDuration"] == 2000
    assert rejected["stage"] == "Label"
    assert rejected["updatedAt"] == "2026-03-01T11:00:00.000Z"
    history = _history(api, second)
    assert [entry["stage"] for entry in history] == ["Start", "Label", "Review"]
    assert history[1]["completedAt"] == "2026-03-01T10:00:00.000Z"
    assert history[2]["reviewStatus"] == "Rejected"
    assert history[1]["classifications"][0]["answer"] == "1"
    assert "metadata" not in history[1]["classifications"][0]
    # A rejected task can be submitted again and goes back to review.
    ango.control.act(project["_id"], action="submit", taskIds=[second])
    assert _task(api, second)["stage"] == "Review"


def test_consensus_collects_judgments_before_moving_on(ango: AngoEmulator, api: httpx.Client) -> None:
    project = ango.control.seed_project(
        name="cons", category_schema=SCHEMA, assets=1, workflow=["Consensus", "Review"], consensusCount=2
    )
    task_id = data_of(api.get(f"/v2/project/{project['_id']}/tasks"))["tasks"][0]["_id"]
    assert _task(api, task_id)["stage"] == "Consensus"
    ango.control.act(
        project["_id"], action="submit", answer={"classifications": [{"schemaId": RADIO, "answer": "1"}]}
    )
    assert _task(api, task_id)["stage"] == "Consensus"
    ango.control.act(
        project["_id"], action="submit", answer={"classifications": [{"schemaId": RADIO, "answer": "2"}]}
    )
    task = _task(api, task_id)
    assert task["stage"] == "Review"
    assert task["answer"]["classifications"][0]["answer"] == "2"
    stages = [entry["stage"] for entry in _history(api, task_id)]
    assert stages == ["Start", "Consensus_1", "Consensus_2"]
    ango.control.act(project["_id"], action="review", reviewStatus="Rejected")
    assert _task(api, task_id)["stage"] == "Consensus"  # back to the labeling stage before review


def test_move_and_selection_by_batch_stage_and_limit(ango: AngoEmulator, api: httpx.Client) -> None:
    project = ango.control.seed_project(
        name="mv",
        batches=["b1"],
        assets=[
            {"data": f"https://e.com/{n}", "externalId": f"m{n}", "batches": ["b1"] if n < 4 else []}
            for n in range(6)
        ],
    )
    moved = ango.control.act(project["_id"], action="move", toStage="Hold", batch="b1", limit=3)
    assert moved["count"] == 3
    counts = ango.control.counts(project["_id"])
    assert counts["stages"]["Hold"] == 3
    assert counts["stages"]["Label"] == 3
    assert counts["batches"] == {"b1": 4}
    again = ango.control.act(
        project["_id"], action="move", toStage="Complete", fromStage="Hold", at="2026-05-05T05:05:05.005Z"
    )
    assert again["count"] == 3
    assert _task(api, again["taskIds"][0])["updatedAt"] == "2026-05-05T05:05:05.005Z"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"action": "dance"}, "action must be one of"),
        ({"action": "review", "reviewStatus": "Maybe"}, "reviewStatus must be"),
        ({"action": "move", "toStage": "Nowhere"}, "toStage 'Nowhere' is unknown"),
        ({"action": "submit", "answer": {"tools": [{"schemaId": "zzz"}]}}, "schemaId zzz"),
        ({"action": "submit", "at": "not a time"}, "not an ISO-8601 date"),
        (
            {"action": "review", "reviewStatus": "Accepted", "externalIds": ["asset-00001"]},
            "where this action does not apply",
        ),
    ],
)
def test_act_refuses_bad_requests(ango: AngoEmulator, body: dict[str, Any], expected: str) -> None:
    project = ango.control.seed_project(name="bad", category_schema=SCHEMA, assets=1)
    with pytest.raises(EmulatorControlError) as caught:
        ango.control.act(project["_id"], **body)
    assert caught.value.status == 400
    assert expected in caught.value.message
