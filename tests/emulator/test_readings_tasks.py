"""Both sources' forms for reads: task listing filters, task and history shapes, requeue, export."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import httpx
import pytest

from airflow_provider_ango.emulator import AngoEmulator, EmulatorSettings
from tests.emulator.helpers import data_of, fail_message, read_export

STRICT = EmulatorSettings()
SDK = STRICT.with_changes(answer_shapes="sdk", batch_refs="ids")
pytestmark = pytest.mark.ango_settings(STRICT)


def _seed(ango: AngoEmulator) -> dict[str, Any]:
    """Six assets: three in Batch1, three in Batch2; two of Batch1 labelled (now in Review)."""
    project = ango.control.seed_project(
        name="tasks",
        batches=["Batch1", "Batch2"],
        assets=[
            {
                "data": f"https://e.com/{n}.jpg",
                "externalId": f"e{n}",
                "batches": ["Batch1" if n < 3 else "Batch2"],
            }
            for n in range(6)
        ],
    )
    ango.control.act(project["_id"], action="submit", externalIds=["e0", "e1"])
    ango.control.act(project["_id"], action="assign", externalIds=["e2"], assignee="ann@example.com")
    return project


def _names(api: httpx.Client, project: dict[str, Any], **params: Any) -> list[str]:
    answer = data_of(api.get(f"/v2/project/{project['_id']}/tasks", params={"sort": "externalId", **params}))
    return [task["externalId"] for task in answer["tasks"]]


def test_task_listing_reads_filter_filters_and_top_level_parameters(
    ango: AngoEmulator, api: httpx.Client
) -> None:
    project = _seed(ango)
    batch2 = next(batch["_id"] for batch in project["batches"] if batch["name"] == "Batch2")
    review = next(stage["id"] for stage in project["stages"] if stage["name"] == "Review")
    assert _names(api, project, filter=json.dumps({"stage": "Review"})) == ["e0", "e1"]
    assert _names(api, project, filters=json.dumps({"stage": {"$in": ["Review"]}})) == ["e0", "e1"]
    assert _names(api, project, filters=json.dumps({"batches": {"$in": [batch2]}})) == ["e3", "e4", "e5"]
    assert _names(api, project, filters=json.dumps({"externalId": {"$regex": "^e[34]$"}})) == ["e3", "e4"]
    assert _names(api, project, filters=json.dumps({"stage": {"$nin": ["Label"]}})) == ["e0", "e1"]
    assert _names(api, project, stage=review) == ["e0", "e1"]
    assert _names(api, project, status="TODO", batches="Batch2") == ["e3", "e4", "e5"]
    assert _names(api, project, **{"status[eq]": "TODO"}, assignee="ann@example.com") == ["e2"]
    assert _names(api, project, batches=json.dumps([batch2])) == ["e3", "e4", "e5"]  # the SDK's form: ids
    assert _names(api, project, batches="Batch1,Batch2", limit=2) == ["e0", "e1"]
    same = {"filter": json.dumps({"stage": "Review"}), "filters": json.dumps({"stage": "Review"})}
    assert _names(api, project, **same) == ["e0", "e1"]  # both names, one filter: either reading reads it
    differ = {"filter": "{}", "filters": json.dumps({"stage": "Review"})}
    assert "disagree" in fail_message(api.get(f"/v2/project/{project['_id']}/tasks", params=differ), 400)
    unknown = api.get(f"/v2/project/{project['_id']}/tasks", params={"batches": "Nope"})
    assert "'Nope' is not a batch name" in fail_message(unknown, 400)
    bad = api.get(
        f"/v2/project/{project['_id']}/tasks", params={"filters": json.dumps({"stage": {"$gt": 1}})}
    )
    assert "unsupported operators ['$gt']" in fail_message(bad, 400)


def test_task_objects_and_history_in_the_rest_shape(ango: AngoEmulator, api: httpx.Client) -> None:
    project = _seed(ango)
    ango.control.act(
        project["_id"], action="review", externalIds=["e0"], reviewStatus="Accepted", duration=700
    )
    tasks = data_of(api.get(f"/v2/project/{project['_id']}/tasks", params={"sort": "externalId"}))["tasks"]
    done = tasks[0]
    assert isinstance(done["asset"], str)
    assert done["externalId"] == "e0"
    assert done["stage"] == "Complete"
    assert done["completedAt"] is not None
    assert done["duration"] == 1700
    assert "updatedAt" not in done
    assert "totalDuration" not in done
    assert tasks[1]["completedAt"] is None
    history = data_of(api.get(f"/v2/task/{done['_id']}/history"))
    assert [entry["stage"] for entry in history["taskHistory"]] == ["Start", "Label", "Review"]
    fields = data_of(api.get(f"/v2/project/{project['_id']}/tasks", params={"fields": "stage", "limit": 1}))
    assert set(fields["tasks"][0]) == {"_id", "project", "asset", "stage"}


@pytest.mark.ango_settings(SDK)
def test_task_objects_and_history_in_the_sdk_shape(ango: AngoEmulator, api: httpx.Client) -> None:
    project = _seed(ango)
    task = data_of(api.get(f"/v2/project/{project['_id']}/tasks", params={"limit": 1}))["tasks"][0]
    assert set(task["asset"]) == {"_id", "externalId", "data"}
    assert "updatedAt" in task
    assert "completedAt" not in task
    history = data_of(api.get(f"/v2/task/{task['_id']}/history"))
    assert set(history) == {"taskId", "stageHistory"}
    answer = {"toStageId": "Label", "filters": {"externalIds": ["e0"]}}
    assert data_of(api.post(f"/v2/project/{project['_id']}/requeueTasks", json=answer)) == {"requeued": 1}


def test_requeue_by_batches_and_without_filters(ango: AngoEmulator, api: httpx.Client) -> None:
    project = _seed(ango)
    batch1 = next(batch["_id"] for batch in project["batches"] if batch["name"] == "Batch1")
    path = f"/v2/project/{project['_id']}/requeueTasks"
    body = {"toStageId": "Complete", "filters": {"batches": [batch1]}, "options": {"removeAssignee": True}}
    assert data_of(api.post(path, json=body)) == {"modifiedCount": {"modified": 3, "toStageId": "Complete"}}
    assert ango.control.counts(project["_id"])["stages"]["Complete"] == 3
    assert _names(api, project, assignee="ann@example.com") == []
    everything = data_of(api.post(path, json={"toStageId": "Label"}))
    assert everything == {"modifiedCount": {"modified": 6, "toStageId": "Label"}}
    assert ango.control.counts(project["_id"])["stages"]["Label"] == 6
    unknown = {"toStageId": "Label", "filters": {"batches": ["Batch1"]}}  # ids, not names
    assert "is not a batch id" in fail_message(api.post(path, json=unknown), 400)


def _export(
    api: httpx.Client, project: dict[str, Any], **params: str
) -> tuple[list[str], list[dict[str, Any]]]:
    url = data_of(api.get("/v2/export", params={"project": project["_id"], **params}))["exportPath"]
    content = httpx.get(url).content
    if params.get("format") != "split":
        name, records = read_export(content)
        return [name], records
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = archive.namelist()
        records = [json.loads(line) for name in names for line in archive.read(name).splitlines()]
    return names, records


@pytest.mark.ango_settings(STRICT, split_part_records=2)
def test_export_split_status_batches_and_include_assets(ango: AngoEmulator, api: httpx.Client) -> None:
    project = _seed(ango)
    every_stage = json.dumps(["Label", "Review"])
    names, records = _export(api, project, format="split", stage=every_stage)
    assert names == ["export-00001.ndjson", "export-00002.ndjson", "export-00003.ndjson"]
    assert sorted(record["externalId"] for record in records) == [f"e{n}" for n in range(6)]
    _, by_name = _export(api, project, stage=every_stage, batches="Batch2")
    assert sorted(record["externalId"] for record in by_name) == ["e3", "e4", "e5"]
    batch1 = next(batch["_id"] for batch in project["batches"] if batch["name"] == "Batch1")
    _, by_id = _export(api, project, stage=every_stage, batches=json.dumps([batch1]), status="TODO")
    assert sorted(record["externalId"] for record in by_id) == ["e0", "e1", "e2"]
    _, bare = _export(api, project, stage=every_stage, includeAssets="false", includeHistory="true")
    assert all("asset" not in record and "stageHistory" in record["task"] for record in bare)
    assert "asset" in _export(api, project, stage=every_stage)[1][0]
    bad = api.get("/v2/export", params={"project": project["_id"], "status": "Done"})
    assert "status has unknown values ['Done']" in fail_message(bad, 400)


def test_soft_deleted_assets_leave_every_listing(ango: AngoEmulator, api: httpx.Client) -> None:
    project = _seed(ango)
    assets = data_of(api.get(f"/v2/project/{project['_id']}/assets", params={"sort": "externalId"}))["assets"]
    gone = [assets[0]["_id"], assets[4]["_id"]]
    path = f"/v2/project/{project['_id']}/assets"
    answer = api.request("DELETE", path, json={"project": project["_id"], "assets": gone})
    assert data_of(answer) == {"deletedCount": 2}
    assert data_of(api.get(path))["total"] == 4
    assert _names(api, project) == ["e1", "e2", "e3", "e5"]
    assert api.get(f"/v2/task/{assets[0]['task']['_id']}").status_code == 404
    again = api.request("DELETE", path, json={"assets": gone})
    assert "deleted already" in fail_message(again, 400)
    assert ango.control.counts(project["_id"])["deleted"] == 2
