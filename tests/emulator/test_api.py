"""Ango API endpoints over HTTP: auth, envelopes, 400/404, projects, batches, storages, tasks."""

from __future__ import annotations

import json

import httpx
import pytest

from airflow_provider_ango.emulator import AngoEmulator
from tests.emulator.helpers import SCHEMA, data_of, fail_message

MISSING_ID = "0123456789abcdef01234567"


def test_missing_or_wrong_key_is_401_with_a_json_error(ango: AngoEmulator) -> None:
    with httpx.Client(base_url=ango.url) as client:
        assert fail_message(client.get("/v2/listProjects"), 401) == "Invalid API KEY"
        wrong = client.get("/v2/listProjects", headers={"apikey": "not-the-key"})
        assert fail_message(wrong, 401) == "Invalid API KEY"
        # A 401 is answered before routing: unknown paths under /v2 do not leak existence.
        assert client.get("/v2/nothing/here").status_code == 401
    logged = ango.control.requests()
    assert [entry["apikeyValid"] for entry in logged] == [False, False, False]
    assert logged[1]["headers"]["apikey"] == "REDACTED"
    assert "not-the-key" not in json.dumps(logged)


def test_unknown_ids_are_404_and_malformed_ids_400(api: httpx.Client) -> None:
    assert "Project not found" in fail_message(api.get(f"/v2/project/{MISSING_ID}"), 404)
    assert "Task not found" in fail_message(api.get(f"/v2/task/{MISSING_ID}"), 404)
    assert "Storage not found" in fail_message(api.delete(f"/v2/storages/{MISSING_ID}"), 404)
    assert "24-character hex" in fail_message(api.get("/v2/project/not-an-id"), 400)
    assert "24-character hex" in fail_message(api.get("/v2/task/ABCDEF0123456789ABCDEF01"), 400)
    assert "Cannot GET /v2/unknown" in fail_message(api.get("/v2/unknown"), 404)


def test_create_get_and_list_projects_with_paging(api: httpx.Client) -> None:
    created = [
        data_of(api.post("/v2/project", json={"name": f"p{number}", "description": "d"}), 201)["project"]
        for number in range(5)
    ]
    project = data_of(api.get(f"/v2/project/{created[0]['_id']}"))["project"]
    assert project["name"] == "p0"
    assert project["type"] == "ango"
    assert [stage["name"] for stage in project["stages"]] == [
        "Start",
        "Label",
        "Review",
        "Consensus",
        "Hold",
        "Complete",
    ]
    assert all(len(stage["id"]) > 0 for stage in project["stages"])
    assert project["categorySchema"] == {"tools": [], "classifications": [], "relations": []}
    assert project["batches"] == []
    oldest_first = {"sort": "createdAt,_id", "limit": 2}
    page = data_of(api.get("/v2/listProjects", params={"page": 2, **oldest_first}))
    assert page["total"] == 5
    assert [item["name"] for item in page["projects"]] == ["p2", "p3"]
    last = data_of(api.get("/v2/listProjects", params={"page": 3, **oldest_first}))
    assert [item["name"] for item in last["projects"]] == ["p4"]
    assert "page must be >= 1" in fail_message(api.get("/v2/listProjects", params={"page": 0}), 400)
    assert "limit must be an integer" in fail_message(api.get("/v2/listProjects", params={"limit": "x"}), 400)


def test_create_project_validates_its_body(api: httpx.Client) -> None:
    assert "name is required" in fail_message(api.post("/v2/project", json={"description": "x"}), 400)
    assert "type must be one of" in fail_message(
        api.post("/v2/project", json={"name": "a", "type": "video"}), 400
    )
    not_json = api.post("/v2/project", content=b"{oops", headers={"content-type": "application/json"})
    assert "not valid JSON" in fail_message(not_json, 400)
    no_type = api.post("/v2/project", content=b'{"name": "a"}', headers={"content-type": "text/plain"})
    assert "Content-Type must be application/json" in fail_message(no_type, 400)


def test_category_schema_is_validated_and_stored(api: httpx.Client) -> None:
    project_id = data_of(api.post("/v2/project", json={"name": "s"}), 201)["project"]["_id"]
    stored = data_of(api.post(f"/v2/project/{project_id}", json={"categorySchema": SCHEMA}))["project"]
    assert stored["categorySchema"] == SCHEMA
    bad_tool = {"tools": [{"tool": "laser", "title": "x", "schemaId": "s1"}]}
    message = fail_message(api.post(f"/v2/project/{project_id}", json={"categorySchema": bad_tool}), 400)
    assert "categorySchema.tools[0]" in message
    assert "laser" in message
    twice = {
        "tools": [{"tool": "point", "schemaId": "same"}],
        "classifications": [{"tool": "text", "schemaId": "same"}],
    }
    assert "used twice" in fail_message(
        api.post(f"/v2/project/{project_id}", json={"categorySchema": twice}), 400
    )
    no_id = {"relations": [{"tool": "group", "title": "g"}]}
    assert "has no schemaId" in fail_message(
        api.post(f"/v2/project/{project_id}", json={"categorySchema": no_id}), 400
    )
    assert "Unsupported project fields: owner" in fail_message(
        api.post(f"/v2/project/{project_id}", json={"owner": "me"}), 400
    )


def test_batches_by_name_and_by_full_list(api: httpx.Client) -> None:
    project_id = data_of(api.post("/v2/project", json={"name": "b"}), 201)["project"]["_id"]
    first = data_of(api.post(f"/v2/batches/{project_id}", json={"name": "night-1"}))["project"]["batches"]
    assert [batch["name"] for batch in first] == ["night-1"]
    # The SDK's form: the whole list, existing entries keep their ids, new ones get one.
    full = data_of(api.post(f"/v2/batches/{project_id}", json={"batches": [*first, {"name": "night-2"}]}))
    batches = full["project"]["batches"]
    assert batches[0] == first[0]
    assert batches[1]["name"] == "night-2"
    assert len(batches[1]["_id"]) == 24
    assert data_of(api.get(f"/v2/project/{project_id}"))["project"]["batches"] == batches
    unknown = {"batches": [{"_id": MISSING_ID, "name": "x"}]}
    assert "is not a batch of project" in fail_message(
        api.post(f"/v2/batches/{project_id}", json=unknown), 400
    )
    assert "Body must be" in fail_message(api.post(f"/v2/batches/{project_id}", json={}), 400)


def test_storages_never_echo_secrets_and_list_bucket_files(ango: AngoEmulator, api: httpx.Client) -> None:
    body = {
        "name": "lake",
        "provider": "AWS",
        "publicKey": "AKIA",
        "privateKey": "s3cr3t",
        "region": "eu-west-1",
    }
    storage = data_of(api.post("/v2/storages/", json=body), 201)["storage"]
    assert storage["provider"] == "AWS"
    assert "privateKey" not in storage
    listed = data_of(api.get("/v2/storages"))["storages"]
    assert [item["_id"] for item in listed] == [storage["_id"]]
    assert "s3cr3t" not in json.dumps(listed)
    assert data_of(api.get("/v2/storages", params={"_id": storage["_id"]}))["storages"][0]["name"] == "lake"
    bad_provider = {"name": "x", "provider": "DROPBOX"}
    assert "provider must be one of" in fail_message(api.post("/v2/storages/", json=bad_provider), 400)
    ango.control.add_storage_files(storage["_id"], "bucket-a", ["in/a.jpg", "in/b.jpg", "other/c.jpg"])
    files = data_of(
        api.get(f"/v2/storages/{storage['_id']}/files", params={"bucketName": "bucket-a", "path": "in/"})
    )
    assert [item["key"] for item in files["files"]] == ["in/a.jpg", "in/b.jpg"]
    assert files["files"][0]["url"] == "https://bucket-a.s3.eu-west-1.amazonaws.com/in/a.jpg"
    assert "bucketName is required" in fail_message(api.get(f"/v2/storages/{storage['_id']}/files"), 400)
    assert data_of(api.delete(f"/v2/storages/{storage['_id']}"))["storage"]["deleted"] is True
    assert data_of(api.get("/v2/storages"))["storages"] == []


@pytest.mark.ango_settings(answer_shapes="sdk")  # the SDK's answers (the REST ones: test_readings_tasks)
def test_get_task_history_metrics_and_requeue(ango: AngoEmulator, api: httpx.Client) -> None:
    project = ango.control.seed_project(name="t", category_schema=SCHEMA, assets=3)
    tasks = data_of(api.get(f"/v2/project/{project['_id']}/tasks"))["tasks"]
    answer = {"classifications": [{"schemaId": "6421df1fa34ac13204ea157", "answer": "1"}]}
    ango.control.act(project["_id"], action="submit", taskIds=[tasks[0]["_id"]], answer=answer)
    task = data_of(api.get(f"/v2/task/{tasks[0]['_id']}", params={"includeAnswer": "true"}))["task"]
    assert task["stage"] == "Review"
    assert task["project"] == project["_id"]
    assert task["asset"]["externalId"] == tasks[0]["asset"]["externalId"]
    assert task["answer"]["classifications"][0]["title"] == "rdo"
    # The SDK's get_task sends Python's bool spelling; it is read the same way.
    assert (
        "answer"
        not in data_of(api.get(f"/v2/task/{tasks[0]['_id']}", params={"includeAnswer": "False"}))["task"]
    )
    history = data_of(api.get(f"/v2/task/{tasks[0]['_id']}/history"))["stageHistory"]
    assert [entry["stage"] for entry in history] == ["Start", "Label"]
    groups = data_of(api.get(f"/v2/{project['_id']}/overview/LabelStageGroups"))["values"]
    assert {group["stage"]: group["count"] for group in groups}["Label"] == 2
    assert "Unknown metric" in fail_message(api.get(f"/v2/{project['_id']}/overview/Nope"), 400)
    label_id = next(stage["id"] for stage in project["stages"] if stage["name"] == "Label")
    review_id = next(stage["id"] for stage in project["stages"] if stage["name"] == "Review")
    requeued = api.post(
        f"/v2/project/{project['_id']}/requeueTasks",
        json={
            "toStageId": label_id,
            "filters": {"fromStageIds": [review_id]},
            "options": {"removeAnnotations": True},
        },
    )
    assert data_of(requeued)["requeued"] == 1
    back = data_of(api.get(f"/v2/task/{tasks[0]['_id']}", params={"includeAnswer": "true"}))["task"]
    assert back["stage"] == "Label"
    assert back["answer"]["classifications"] == []
    bad = api.post(f"/v2/project/{project['_id']}/requeueTasks", json={"toStageId": "Review"})
    assert "is not a stage id" in fail_message(bad, 400)


@pytest.mark.parametrize("path", ["/v2/listProjects", "/v2/storages"])
def test_every_answer_is_a_success_envelope(api: httpx.Client, path: str) -> None:
    payload = api.get(path).json()
    assert set(payload) == {"status", "data"}
    assert payload["status"] == "success"
