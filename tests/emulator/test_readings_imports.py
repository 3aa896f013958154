"""Both sources' forms for writes: cloud import (batch refs, answer), labels, batches, storages."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from airflow_provider_ango.emulator import AngoEmulator, EmulatorSettings
from tests.emulator.helpers import SCHEMA, data_of, fail_message

STRICT = EmulatorSettings()
SDK = STRICT.with_changes(answer_shapes="sdk", batch_refs="ids")
pytestmark = pytest.mark.ango_settings(STRICT)


def _seed(ango: AngoEmulator) -> dict[str, Any]:
    return ango.control.seed_project(name="r", batches=["Batch1", "Batch2"], category_schema=SCHEMA)


def _batch_id(project: dict[str, Any], name: str) -> str:
    return str(next(batch["_id"] for batch in project["batches"] if batch["name"] == name))


def _cloud(
    api: httpx.Client, project: dict[str, Any], items: list[dict[str, Any]], **params: Any
) -> httpx.Response:
    return api.post(f"/v2/project/{project['_id']}/cloud", params=params, json={"assets": items})


PRELABELS = {"classifications": [{"schemaId": "6421df1fa34ac13204ea157", "answer": "1"}]}


def test_cloud_import_reads_batch_names_and_answers_the_documented_counts(
    ango: AngoEmulator, api: httpx.Client
) -> None:
    project = _seed(ango)
    items = [
        {"data": "https://e.com/a.jpg", "externalId": "a", "batches": ["Batch2"], "preLabels": PRELABELS},
        {"data": "https://e.com/b.jpg", "externalId": "b"},
    ]
    receipt = data_of(_cloud(api, project, items, batches=json.dumps(["Batch1"])), 201)
    assert receipt == {
        "assets": {"assetsCreated": 2, "tasksCreated": 2, "preLabelsCount": 1, "validPreLabelsCount": 1}
    }
    counts = ango.control.counts(project["_id"])
    assert counts["batches"] == {"Batch1": 2, "Batch2": 1}
    assert counts["preLabeled"] == 1
    # Under the names reading a batch id is an unknown reference, named in the 400; nothing is written.
    by_id = _batch_id(project, "Batch1")
    message = fail_message(_cloud(api, project, items, batches=json.dumps([by_id])), 400)
    assert f"'{by_id}' is not a batch name" in message
    message = fail_message(_cloud(api, project, [{**items[1], "batches": ["Nope"]}]), 400)
    assert "assets[0] (externalId 'b') batches: 'Nope' is not a batch name" in message
    assert ango.control.counts(project["_id"])["assets"] == 2


@pytest.mark.ango_settings(SDK)
def test_cloud_import_under_the_sdk_reading_takes_batch_ids(ango: AngoEmulator, api: httpx.Client) -> None:
    project = _seed(ango)
    item = {"data": "https://e.com/a.jpg", "externalId": "a", "batches": [_batch_id(project, "Batch2")]}
    receipt = data_of(_cloud(api, project, [item], batches=json.dumps([_batch_id(project, "Batch1")])), 201)
    assert receipt == {"assets": "Successfully created."}
    assert ango.control.counts(project["_id"])["batches"] == {"Batch1": 1, "Batch2": 1}
    message = fail_message(_cloud(api, project, [item], batches=json.dumps(["Batch1"])), 400)
    assert "'Batch1' is not a batch id" in message


def test_label_import_in_both_forms(ango: AngoEmulator, api: httpx.Client) -> None:
    project = ango.control.seed_project(name="labels", category_schema=SCHEMA, assets=3)
    assets = data_of(api.get(f"/v2/project/{project['_id']}/assets", params={"sort": "externalId"}))["assets"]
    labels = [
        {"externalId": "asset-00001", "answer": {"objects": [], **PRELABELS}, "status": "Completed"},
        {"assetId": assets[1]["_id"], "answer": {"objects": [{"schemaId": "b1c6805d054f0e44ae11500"}]}},
    ]
    answer = data_of(api.post("/v2/import/labels", json={"project": project["_id"], "labels": labels}))
    assert answer == {"project": "2 / 2 tasks are labeled."}
    sdk_form = [{"externalId": "asset-00003", **PRELABELS}]
    answer = data_of(api.post("/v2/import/labels", json={"project": project["_id"], "jsonContent": sdk_form}))
    assert answer == {"project": "1 / 1 tasks are labeled."}
    assert ango.control.counts(project["_id"])["preLabeled"] == 3
    tasks = data_of(api.get(f"/v2/project/{project['_id']}/tasks", params={"includeAnswer": "true"}))["tasks"]
    by_external_id = {task["externalId"]: task["answer"] for task in tasks}
    assert by_external_id["asset-00002"]["tools"][0]["title"] == "bb"
    for body, expected in (
        ({"labels": labels, "jsonContent": sdk_form}, "not both"),
        ({"labels": [{"externalId": "asset-00001"}]}, "needs answer"),
        ({"labels": [{"externalId": "ghost", "answer": {}}]}, "has: externalId 'ghost'"),
        ({"labels": [{"answer": {}}]}, "exactly one of externalId or assetId"),
        ({"labels": [{"externalId": "asset-00001", "answer": {}, "status": 3}]}, "status must be a string"),
    ):
        assert expected in fail_message(
            api.post("/v2/import/labels", json={"project": project["_id"], **body}), 400
        )


def _batches(answer: httpx.Response) -> list[str]:
    return [batch["name"] for batch in data_of(answer)["project"]["batches"]]


def test_create_batch_replaces_the_list_by_default(ango: AngoEmulator, api: httpx.Client) -> None:
    project = _seed(ango)
    path = f"/v2/batches/{project['_id']}"
    assert _batches(api.post(path, json={"name": "Batch3"})) == ["Batch1", "Batch2", "Batch3"]
    kept = {"_id": _batch_id(project, "Batch2"), "name": "Renamed"}
    assert _batches(api.post(path, json={"batches": [kept, {"name": "New"}]})) == ["Renamed", "New"]
    assert "Body must be" in fail_message(api.post(path, json={"name": "x", "batches": []}), 400)


@pytest.mark.ango_settings(STRICT, batch_update="merge")
def test_create_batch_merge_keeps_what_is_not_listed(ango: AngoEmulator, api: httpx.Client) -> None:
    project = _seed(ango)
    path = f"/v2/batches/{project['_id']}"
    listed = [{"name": "Batch1"}, {"name": "New"}, {"_id": _batch_id(project, "Batch2"), "name": "Two"}]
    assert _batches(api.post(path, json={"batches": listed})) == ["Batch1", "Two", "New"]


def test_storages_in_both_forms_never_echo_secrets_and_page(ango: AngoEmulator, api: httpx.Client) -> None:
    rest = {
        "name": "lake",
        "type": "aws",
        "bucket": "my-bucket",
        "region": "eu-west-1",
        "credentials": {"accessKeyId": "AKIA", "secretAccessKey": "s3cr3t"},
    }
    made = data_of(api.post("/v2/storages/", json=rest), 201)["storage"]
    assert (made["provider"], made["type"], made["bucket"]) == ("AWS", "aws", "my-bucket")
    sdk = {"name": "old", "provider": "GCP", "privateKey": "pr1vate", "publicKey": "pub"}
    assert data_of(api.post("/v2/storages/", json=sdk), 201)["storage"]["type"] == "gcs"
    for number in range(10):
        data_of(api.post("/v2/storages/", json={**rest, "name": f"more-{number}"}), 201)
    listing = data_of(api.get("/v2/storages"))
    assert listing["total"] == 12
    assert len(listing["storages"]) == 10  # paged, default 10
    assert "s3cr3t" not in json.dumps(listing)
    assert "pr1vate" not in json.dumps(data_of(api.get("/v2/storages", params={"page": 2})))
    for body, expected in (
        ({**rest, "provider": "AWS"}, "one of them"),
        ({key: value for key, value in rest.items() if key != "bucket"}, "bucket is required"),
        ({**rest, "credentials": {"accessKeyId": "AKIA"}}, "accessKeyId, secretAccessKey"),
        ({**rest, "type": "dropbox"}, "type must be one of aws, gcs, azure"),
    ):
        assert expected in fail_message(api.post("/v2/storages/", json=body), 400)


@pytest.mark.ango_settings(SDK)
def test_storage_listing_under_the_sdk_shapes_is_unpaged_without_page_params(
    ango: AngoEmulator, api: httpx.Client
) -> None:
    for number in range(12):
        data_of(api.post("/v2/storages/", json={"name": f"s{number}", "provider": "AWS"}), 201)
    assert len(data_of(api.get("/v2/storages"))["storages"]) == 12
    assert len(data_of(api.get("/v2/storages", params={"limit": 5}))["storages"]) == 5
