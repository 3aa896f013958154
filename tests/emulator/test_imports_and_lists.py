"""Cloud import, label import, asset and task listing with every filter, paging and sorting."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from airflow_provider_ango.emulator import AngoEmulator
from tests.emulator.helpers import SCHEMA, data_of, fail_message

# These tests cover the SDK's reading (batch ids, the SDK's answer shapes) and read listings in the
# order items were made; the REST documentation's reading and the default order (newest first, ties
# shuffled) are covered in test_readings_imports.py, test_readings_tasks.py and test_limits.py.
pytestmark = pytest.mark.ango_settings(
    answer_shapes="sdk", batch_refs="ids", default_sort="createdAt", tie_order="stable"
)


def _seed(ango: AngoEmulator, **extra: Any) -> dict[str, Any]:
    return ango.control.seed_project(name="imports", category_schema=SCHEMA, batches=["b1", "b2"], **extra)


def _batch(project: dict[str, Any], name: str) -> str:
    return str(next(batch["_id"] for batch in project["batches"] if batch["name"] == name))


def _assets(api: httpx.Client, project_id: str, **filters: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": 100, "filters": json.dumps(filters)}
    return dict(data_of(api.get(f"/v2/project/{project_id}/assets", params=params)))


def _tasks(api: httpx.Client, project_id: str, filter_: dict[str, Any], **params: Any) -> dict[str, Any]:
    return dict(
        data_of(
            api.get(
                f"/v2/project/{project_id}/tasks",
                params={"limit": 100, "filter": json.dumps(filter_), **params},
            )
        )
    )


def test_cloud_import_appends_assets_with_everything_they_carry(
    ango: AngoEmulator, api: httpx.Client
) -> None:
    project = _seed(ango)
    storage = data_of(api.post("/v2/storages/", json={"name": "s", "provider": "GCP"}), 201)["storage"]
    items = [
        {
            "data": "https://bucket.s3.eu-central-1.amazonaws.com/a%20b.mp4",
            "externalId": "a b.mp4",
            "metadata": {"frameRate": 29.97, "frameCount": 150, "width": 640, "height": 480},
            "batches": [_batch(project, "b2")],
            "contextData": {"camera": 7, "tags": ["x"]},
            "attachments": [{"type": "TEXT", "value": "note"}],
            "storage": storage["_id"],
        },
        {"data": "https://example.com/c.jpg", "externalId": "c.jpg", "width": 10, "height": 20},
    ]
    query = {"batches": json.dumps([_batch(project, "b1")])}
    body = {"assets": items, "uploadLocal": None, "priority": 0}
    receipt = data_of(api.post(f"/v2/project/{project['_id']}/cloud", params=query, json=body), 201)
    assert receipt == {"assets": "Successfully created."}
    assets = _assets(api, project["_id"])
    assert assets["total"] == 2
    video, image = assets["assets"]
    assert video["externalId"] == "a b.mp4"
    assert video["data"] == items[0]["data"]
    assert video["batches"] == [_batch(project, "b1"), _batch(project, "b2")]
    assert video["contextData"] == {"camera": 7, "tags": ["x"]}
    assert video["storage"] == storage["_id"]
    assert video["attachments"] == items[0]["attachments"]
    assert video["metadata"]["frameTotal"] == 150  # the export's name for the import's frameCount
    assert image["metadata"] == {"width": 10, "height": 20}
    assert image["batches"] == [_batch(project, "b1")]
    assert video["task"]["stage"] == "Label"


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"externalId": "x"}, "assets[0] (externalId 'x') has no data URL"),
        ({"data": "https://e.com/x.jpg"}, "assets[0] has no externalId"),
        ({"data": "https://e.com/a b.jpg", "externalId": "x"}, "not an absolute, percent-encoded"),
        ({"data": "s3://bucket/x.jpg", "externalId": "x"}, "not an absolute, percent-encoded"),
        (
            {"data": "https://e.com/x.jpg", "externalId": "x", "batches": ["0123456789abcdef01234567"]},
            "is not a batch id",
        ),
        (
            {"data": "https://e.com/x.jpg", "externalId": "x", "metadata": {"frameCount": 1.5}},
            "frameCount must be an integer",
        ),
        (
            {"data": "https://e.com/x.jpg", "externalId": "x", "storage": "0123456789abcdef01234567"},
            "storage",
        ),
    ],
)
def test_cloud_import_rejects_bad_items_and_applies_nothing(
    ango: AngoEmulator, api: httpx.Client, item: dict[str, Any], expected: str
) -> None:
    project = _seed(ango)
    good = {"data": "https://e.com/ok.jpg", "externalId": "ok"}
    answer = api.post(f"/v2/project/{project['_id']}/cloud", json={"assets": [*[item, good][:1], good]})
    assert expected in fail_message(answer, 400)
    assert ango.control.counts(project["_id"])["assets"] == 0


def test_cloud_import_checks_the_query_batches_and_the_list(ango: AngoEmulator, api: httpx.Client) -> None:
    project = _seed(ango)
    path = f"/v2/project/{project['_id']}/cloud"
    good = {"assets": [{"data": "https://e.com/a.jpg", "externalId": "a"}]}
    assert "is not a batch id" in fail_message(api.post(path, params={"batches": '["nope"]'}, json=good), 400)
    assert "not valid JSON" in fail_message(api.post(path, params={"batches": "[oops"}, json=good), 400)
    assert "non-empty list" in fail_message(api.post(path, json={"assets": []}), 400)


def test_reimport_of_an_external_id_creates_a_second_asset(ango: AngoEmulator, api: httpx.Client) -> None:
    project = _seed(ango)
    body = {"assets": [{"data": "https://e.com/a.jpg", "externalId": "a.jpg"}]}
    data_of(api.post(f"/v2/project/{project['_id']}/cloud", json=body), 201)
    data_of(api.post(f"/v2/project/{project['_id']}/cloud", json=body), 201)
    counts = ango.control.counts(project["_id"])
    assert counts["assets"] == 2
    assert counts["distinctExternalIds"] == 1
    assert counts["duplicateExternalIds"] == {"a.jpg": 2}


def test_multi_page_asset_keeps_its_pages(ango: AngoEmulator, api: httpx.Client) -> None:
    project = _seed(ango)
    pages = [{"data": "https://e.com/p0.jpg"}, {"data": "https://e.com/p1.jpg"}]
    data_of(
        api.post(
            f"/v2/project/{project['_id']}/cloud", json={"assets": [{"data": pages, "externalId": "doc"}]}
        ),
        201,
    )
    asset = _assets(api, project["_id"])["assets"][0]
    assert asset["data"] == ["https://e.com/p0.jpg", "https://e.com/p1.jpg"]


def test_asset_filters_and_paging(ango: AngoEmulator, api: httpx.Client) -> None:
    project = _seed(ango)
    b1, b2 = _batch(project, "b1"), _batch(project, "b2")
    items = [
        {"data": f"https://e.com/{n}.jpg", "externalId": f"e{n}", "batches": [b1, b2] if n % 2 else [b1]}
        for n in range(7)
    ]
    data_of(api.post(f"/v2/project/{project['_id']}/cloud", json={"assets": items}), 201)
    page = data_of(api.get(f"/v2/project/{project['_id']}/assets", params={"page": 3, "limit": 3}))
    assert page["total"] == 7
    assert [asset["externalId"] for asset in page["assets"]] == ["e6"]
    assert _assets(api, project["_id"], batches=[b1, b2])["total"] == 3  # both batches required
    assert _assets(api, project["_id"], batches=[b1])["total"] == 7
    one = _assets(api, project["_id"], externalId="e4")["assets"]
    assert [asset["externalId"] for asset in one] == ["e4"]
    assert _assets(api, project["_id"], _id=one[0]["_id"])["assets"] == one
    data_of(
        api.post("/v2/import/labels", json={"project": project["_id"], "jsonContent": [{"externalId": "e4"}]})
    )
    assert [a["externalId"] for a in _assets(api, project["_id"], isPreLabeled=True)["assets"]] == ["e4"]
    bad = api.get(f"/v2/project/{project['_id']}/assets", params={"filters": "{not json"})
    assert "filters is not valid JSON" in fail_message(bad, 400)
    unknown = api.get(f"/v2/project/{project['_id']}/assets", params={"filters": '{"colour": "red"}'})
    assert "Unknown asset filter 'colour'" in fail_message(unknown, 400)


def test_import_labels_validates_schema_ids_and_marks_prelabelled(
    ango: AngoEmulator, api: httpx.Client
) -> None:
    project = _seed(ango, assets=2)
    good = {
        "externalId": "asset-00001",
        "objects": [
            {
                "schemaId": "b1c6805d054f0e44ae11500",
                "bounding-box": {"x": 1, "y": 2, "width": 3, "height": 4},
                "classifications": [{"schemaId": "nested-radio", "answer": "red"}],
            }
        ],
        "classifications": [{"title": "chk", "answer": ["1"]}],  # title-only reference
    }
    bad = {
        "externalId": "asset-00002",
        "tools": [{"schemaId": "nope", "point": [1, 2]}],
        "relations": [{"schemaId": "r?"}],
    }
    message = fail_message(
        api.post("/v2/import/labels", json={"project": project["_id"], "jsonContent": [good, bad]}), 400
    )
    assert "schemaId nope" in message
    assert "schemaId r?" in message
    assert "asset-00002" in message
    unknown = {"project": project["_id"], "jsonContent": [{"externalId": "ghost"}]}
    assert "has: externalId 'ghost'" in fail_message(api.post("/v2/import/labels", json=unknown), 400)
    assert ango.control.counts(project["_id"])["preLabeled"] == 0  # nothing applied
    data_of(api.post("/v2/import/labels", json={"project": project["_id"], "jsonContent": [good]}))
    task = _tasks(api, project["_id"], {"isPreLabeled": True}, includeAnswer="true")["tasks"][0]
    assert task["isPreLabeled"] is True
    assert task["asset"]["externalId"] == "asset-00001"
    tool = task["answer"]["tools"][0]
    assert tool["title"] == "bb"
    assert len(tool["objectId"]) == 23
    assert tool["classifications"][0]["title"] == "colour"
    assert task["answer"]["classifications"][0]["schemaId"] == "1ea7a275ce5c9cf30a6f148"
    assert "project" in fail_message(api.post("/v2/import/labels", json={"jsonContent": []}), 400)


def test_prelabels_inside_a_cloud_import(ango: AngoEmulator, api: httpx.Client) -> None:
    project = _seed(ango)
    item = {
        "data": "https://e.com/a.jpg",
        "externalId": "a",
        "preLabels": {"classifications": [{"schemaId": "6421df1fa34ac13204ea157", "answer": "2"}]},
    }
    data_of(api.post(f"/v2/project/{project['_id']}/cloud", json={"assets": [item]}), 201)
    assert _assets(api, project["_id"])["assets"][0]["isPreLabeled"] is True
    item["preLabels"] = {"classifications": [{"schemaId": "unknown"}]}
    assert "schemaId unknown" in fail_message(
        api.post(f"/v2/project/{project['_id']}/cloud", json={"assets": [item]}), 400
    )


def test_task_filters_sort_fields_and_paging(ango: AngoEmulator, api: httpx.Client) -> None:
    project = _seed(ango)
    b1 = _batch(project, "b1")
    items = [
        {"data": f"https://e.com/{n}.jpg", "externalId": f"t{n}", "batches": [b1] if n < 3 else []}
        for n in range(6)
    ]
    data_of(api.post(f"/v2/project/{project['_id']}/cloud", json={"assets": items}), 201)
    ango.control.act(
        project["_id"], action="submit", externalIds=["t0", "t1", "t4"], at="2026-01-01T00:00:01.000Z"
    )
    ango.control.act(
        project["_id"],
        action="review",
        externalIds=["t0"],
        reviewStatus="Accepted",
        at="2026-01-01T00:00:02.000Z",
    )
    review_id = next(stage["id"] for stage in project["stages"] if stage["name"] == "Review")
    assert {t["asset"]["externalId"] for t in _tasks(api, project["_id"], {"stage": "Review"})["tasks"]} == {
        "t1",
        "t4",
    }
    assert _tasks(api, project["_id"], {"stage": [review_id, "Complete"]})["total"] == 3
    assert [
        t["asset"]["externalId"] for t in _tasks(api, project["_id"], {"status": "Completed"})["tasks"]
    ] == ["t0"]
    assert _tasks(api, project["_id"], {"batches": [b1], "stage": "Review"})["total"] == 1
    assert _tasks(api, project["_id"], {"externalId": ["t2", "t5"]})["total"] == 2
    assert _tasks(api, project["_id"], {"taskType": "default"})["total"] == 6
    window = {"updatedAt": {"$gte": "2026-01-01T00:00:01.000Z", "$lt": "2026-01-01T00:00:02.000Z"}}
    assert {t["asset"]["externalId"] for t in _tasks(api, project["_id"], window)["tasks"]} == {"t1", "t4"}
    ordered = _tasks(api, project["_id"], {}, sort="-updatedAt,externalId")["tasks"]
    assert [t["asset"]["externalId"] for t in ordered][:3] == ["t2", "t3", "t5"]
    slim = _tasks(api, project["_id"], {}, fields="stage", limit=2, page=2)
    assert slim["total"] == 6
    assert set(slim["tasks"][0]) == {"_id", "project", "asset", "stage"}
    assert "unknown stage 'Done'" in fail_message(
        api.get(f"/v2/project/{project['_id']}/tasks", params={"filter": '{"stage": "Done"}'}), 400
    )
    assert "Unknown task filter 'owner'" in fail_message(
        api.get(f"/v2/project/{project['_id']}/tasks", params={"filter": '{"owner": 1}'}), 400
    )
    assert "unknown operators $ne" in fail_message(
        api.get(
            f"/v2/project/{project['_id']}/tasks", params={"filter": '{"updatedAt": {"$ne": "2026-01-01"}}'}
        ),
        400,
    )
    assert "not an ISO-8601 date" in fail_message(
        api.get(
            f"/v2/project/{project['_id']}/tasks", params={"filter": '{"updatedAt": {"$gt": "yesterday"}}'}
        ),
        400,
    )
    assert "Cannot sort by 'colour'" in fail_message(
        api.get(f"/v2/project/{project['_id']}/tasks", params={"sort": "colour"}), 400
    )


def test_concurrent_imports_all_land_once(ango: AngoEmulator) -> None:
    project = _seed(ango)

    def import_batch(worker: int) -> None:
        with httpx.Client(base_url=ango.url, headers={"apikey": ango.api_key}) as client:
            for number in range(10):
                item = {"data": f"https://e.com/{worker}-{number}.jpg", "externalId": f"w{worker}-{number}"}
                data_of(client.post(f"/v2/project/{project['_id']}/cloud", json={"assets": [item]}), 201)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(import_batch, range(8)))
    counts = ango.control.counts(project["_id"])
    assert counts["assets"] == 80
    assert counts["distinctExternalIds"] == 80
