"""GET /v2/export: every option, the seed's record format, signed URLs, expiry, Range, cleanup."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from airflow_provider_ango.emulator import AngoEmulator
from tests.emulator.helpers import SCHEMA, data_of, fail_message, read_export

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
RECORD_KEYS = {"asset", "externalId", "metadata", "batches", "dataset", "assetId", "contextData", "task"}
TASK_KEYS = {
    "taskId",
    "stage",
    "stageId",
    "updatedAt",
    "updatedBy",
    "totalDuration",
    "tools",
    "classifications",
    "relations",
}
HISTORY_KEYS = {
    "stage",
    "stageId",
    "duration",
    "completedAt",
    "completedBy",
    "reviewStatus",
    "tools",
    "classifications",
    "relations",
}
BOX = "b1c6805d054f0e44ae11500"
RADIO = "6421df1fa34ac13204ea157"


def _export(api: httpx.Client, project_id: str, **params: str) -> tuple[str, list[dict[str, Any]]]:
    path = data_of(api.get("/v2/export", params={"project": project_id, **params}))["exportPath"]
    download = httpx.get(path)
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    return read_export(download.content)


def _ids(records: list[dict[str, Any]]) -> list[str]:
    return sorted(record["externalId"] for record in records)


@pytest.fixture
def labelled(ango: AngoEmulator) -> dict[str, Any]:
    """Four assets: two Complete (one multi-page with contextData), one in Review, one in Label."""
    assets: list[dict[str, Any]] = [
        {
            "data": "https://e.com/a.jpg",
            "externalId": "a",
            "batches": ["b1"],
            "metadata": {"width": 3, "height": 4},
        },
        {
            "data": ["https://e.com/p0.jpg", "https://e.com/p1.jpg"],
            "externalId": "pages",
            "batches": ["b2"],
            "contextData": {"k": 1},
        },
        {"data": "https://e.com/r.jpg", "externalId": "in-review"},
        {"data": "https://e.com/l.jpg", "externalId": "in-label", "batches": ["b1", "b2"]},
    ]
    project = ango.control.seed_project(
        name="exp", category_schema=SCHEMA, batches=["b1", "b2"], assets=assets
    )
    answer = {
        "tools": [
            {"schemaId": BOX, "bounding-box": {"x": 1, "y": 2, "width": 3, "height": 4}, "page": 0},
            {
                "schemaId": BOX,
                "bounding-box": {"x": 2, "y": 2, "width": 3, "height": 4},
                "page": 1,
                "interpolated": True,
            },
        ],
        "classifications": [{"schemaId": RADIO, "answer": "1"}],
    }
    control = ango.control
    control.act(
        project["_id"],
        action="submit",
        externalIds=["a", "pages", "in-review"],
        answer=answer,
        at="2026-02-01T00:00:00.000Z",
    )
    control.act(
        project["_id"],
        action="review",
        externalIds=["a", "pages"],
        reviewStatus="Accepted",
        at="2026-02-02T00:00:00.000Z",
    )
    return project


def test_json_export_follows_the_seed_format(api: httpx.Client, labelled: dict[str, Any]) -> None:
    name, records = _export(api, labelled["_id"], includeMetadata="true", includeHistory="true")
    assert name == "export.json"
    assert _ids(records) == ["a", "pages"]  # default stage filter: Complete
    by_id = {record["externalId"]: record for record in records}
    for record in records:
        assert set(record) <= RECORD_KEYS
        assert set(record["task"]) == TASK_KEYS | {"stageHistory"}
        assert ISO_MS.match(record["task"]["updatedAt"])
        for entry in record["task"]["stageHistory"]:
            assert set(entry) <= HISTORY_KEYS
            assert ISO_MS.match(entry["completedAt"])
    single = by_id["a"]
    assert single["asset"] == "https://e.com/a.jpg"
    assert single["batches"] == ["b1"]
    assert single["metadata"] == {"width": 3, "height": 4}
    assert "dataset" not in single
    assert "contextData" not in single
    task = single["task"]
    assert task["stage"] == "Complete"
    assert task["stageId"] == "Complete"
    assert task["updatedAt"] == "2026-02-02T00:00:00.000Z"
    assert task["totalDuration"] == 2000
    assert task["tools"][0]["title"] == "bb"
    assert task["tools"][0]["metadata"]["createdIn"] == "Label"
    assert task["classifications"][0]["tool"] == "radio"
    assert task["classifications"][0]["title"] == "rdo"
    assert [entry["stage"] for entry in task["stageHistory"]] == ["Start", "Label", "Review"]
    assert task["stageHistory"][2]["reviewStatus"] == "Accepted"
    pages = by_id["pages"]
    assert pages["asset"] == "https://e.com/p0.jpg"
    assert pages["dataset"] == [
        "https://e.com/p0.jpg",
        "https://e.com/p1.jpg",
    ]
    assert len(pages["assetId"]) == 24
    assert pages["contextData"] == {"k": 1}
    assert pages["batches"] == ["b2"]


def test_ndjson_export_and_the_field_toggles(api: httpx.Client, labelled: dict[str, Any]) -> None:
    name, records = _export(api, labelled["_id"], format="ndjson")
    assert name == "export.ndjson"
    assert _ids(records) == ["a", "pages"]
    plain = records[0]["task"]
    assert "stageHistory" not in plain  # includeHistory absent = false
    assert all("metadata" not in tool for tool in plain["tools"])  # includeMetadata absent = false
    assert len(plain["tools"]) == 2
    _, key_frames = _export(api, labelled["_id"], includeOnlyKeyFrames="true")
    assert [tool["page"] for tool in key_frames[0]["task"]["tools"]] == [0]


def test_stage_batches_and_task_type_filters(
    ango: AngoEmulator, api: httpx.Client, labelled: dict[str, Any]
) -> None:
    project_id = labelled["_id"]
    review_id = next(stage["id"] for stage in labelled["stages"] if stage["name"] == "Review")
    b1 = next(batch["_id"] for batch in labelled["batches"] if batch["name"] == "b1")
    b2 = next(batch["_id"] for batch in labelled["batches"] if batch["name"] == "b2")
    assert _ids(_export(api, project_id, stage=f'["{review_id}", "Label"]')[1]) == ["in-label", "in-review"]
    assert _ids(
        _export(api, project_id, stage='["Review", "Label", "Complete"]', batches=f'["{b1}"]')[1]
    ) == ["a", "in-label"]
    # An asset in any of the listed batches is exported.
    everything = '["Label", "Review", "Complete"]'
    assert _ids(_export(api, project_id, stage=everything, batches=f'["{b1}", "{b2}"]')[1]) == [
        "a",
        "in-label",
        "pages",
    ]
    assert _export(api, project_id, taskTypes='["benchmark"]')[1] == []
    assert _ids(_export(api, project_id, taskTypes='["default"]')[1]) == ["a", "pages"]
    ango.control.seed_project(name="other")  # exports never mix projects
    assert _export(api, project_id, type="issue")[1] == []


@pytest.mark.parametrize(
    ("params", "expected", "status"),
    [
        ({"includeMetadata": "True"}, "includeMetadata must be 'true' or 'false'", 400),
        ({"sendEmail": "1"}, "sendEmail must be 'true' or 'false'", 400),
        ({"format": "csv"}, "format must be one of json, ndjson, split", 400),
        ({"type": "label"}, "type must be task or issue", 400),
        ({"stage": '["Done"]'}, "unknown stage 'Done'", 400),
        ({"stage": "Complete"}, "stage is not valid JSON", 400),
        ({"batches": '["0123456789abcdef01234567"]'}, "is not a batch id", 400),
        ({"taskTypes": '["gold"]'}, "taskTypes has unknown values", 400),
        ({"updatedAt": '{"$after": "2026-01-01T00:00:00Z"}'}, "unknown operators $after", 400),
        ({"createdAt": "[1]"}, "createdAt must be a JSON object", 400),
        ({"project": "0123456789abcdef01234567"}, "Project not found", 404),
        ({"project": ""}, "24-character hex", 400),
    ],
)
def test_export_rejects_bad_options(
    api: httpx.Client, labelled: dict[str, Any], params: dict[str, str], expected: str, status: int
) -> None:
    answer = api.get("/v2/export", params={"project": labelled["_id"], **params})
    assert expected in fail_message(answer, status)


def test_time_windows_are_exact_on_their_boundaries(ango: AngoEmulator, api: httpx.Client) -> None:
    project = ango.control.seed_project(name="win", assets=5)
    times = [
        "2026-11-22T04:59:59.999Z",
        "2026-11-22T05:00:00.000Z",
        "2026-11-22T05:00:00.001Z",
        "2026-11-22T06:00:00.000Z",
        "2026-11-22T07:00:00.000Z",
    ]
    for number, at in enumerate(times, start=1):
        ango.control.act(
            project["_id"], action="move", toStage="Complete", externalIds=[f"asset-{number:05d}"], at=at
        )
    a, b, c = "2026-11-22T04:00:00.000Z", "2026-11-22T05:00:00.000Z", "2026-11-22T06:00:00.000Z"

    def window(**bounds: str) -> list[str]:
        return _ids(_export(api, project["_id"], updatedAt=str(bounds).replace("'", '"'))[1])

    # Half-open windows [a,b) [b,c) [c,...) cover every task exactly once, the boundary task too.
    first, second, third = (
        window(**{"$gte": a, "$lt": b}),
        window(**{"$gte": b, "$lt": c}),
        window(**{"$gte": c}),
    )
    assert sorted(first + second + third) == [f"asset-{n:05d}" for n in range(1, 6)]
    assert "asset-00002" in second
    assert "asset-00004" in third
    # The SDK's ($gt, $lt) windows lose the task updated exactly on the shared bound b.
    lost = window(**{"$gt": a, "$lt": b}) + window(**{"$gt": b, "$lt": c})
    assert "asset-00002" not in lost
    assert window(**{"$gt": a, "$lte": b}) == ["asset-00001", "asset-00002"]
    # Bounds keep microseconds: 05:00:00.000500 lies between the .000 and .001 tasks.
    assert window(**{"$gt": "2026-11-22T05:00:00.000500Z", "$lt": c}) == ["asset-00003"]
    # A bound with an offset is the same instant in UTC.
    assert window(**{"$gte": "2026-11-22T06:00:00.000+01:00", "$lte": b}) == ["asset-00002"]
    created = _ids(_export(api, project["_id"], createdAt='{"$lt": "2000-01-01T00:00:00Z"}')[1])
    assert created == []


def test_signed_url_signature_expiry_range_and_head(
    ango: AngoEmulator, api: httpx.Client, labelled: dict[str, Any]
) -> None:
    url = data_of(api.get("/v2/export", params={"project": labelled["_id"]}))["exportPath"]
    assert re.search(r"/_files/export/[0-9a-f]{32}\.zip\?Expires=\d+&Signature=[0-9a-f]{64}$", url)
    full = httpx.get(url).content
    size = len(full)
    head = httpx.head(url)
    assert head.status_code == 200
    assert int(head.headers["content-length"]) == size
    assert head.content == b""
    part = httpx.get(url, headers={"Range": "bytes=10-29"})
    assert part.status_code == 206
    assert part.content == full[10:30]
    assert part.headers["content-range"] == f"bytes 10-29/{size}"
    assert httpx.get(url, headers={"Range": "bytes=100-"}).content == full[100:]
    assert httpx.get(url, headers={"Range": "bytes=-16"}).content == full[-16:]
    unsatisfiable = httpx.get(url, headers={"Range": f"bytes={size}-"})
    assert unsatisfiable.status_code == 416
    assert unsatisfiable.headers["content-range"] == f"bytes */{size}"
    assert httpx.get(url, headers={"Range": "bytes=0-1,5-6"}).status_code == 200  # multi-range: whole file
    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
    denied = httpx.get(tampered)
    assert denied.status_code == 403
    assert b"<Code>AccessDenied</Code>" in denied.content
    assert httpx.get(url.split("?")[0]).status_code == 403
    longer = re.sub(r"Expires=\d+", "Expires=9999999999", url)
    assert httpx.get(longer).status_code == 403  # the expiry is signed too
    ango.control.advance_clock(120_001)  # past the default 120000 s
    expired = httpx.get(url)
    assert expired.status_code == 403
    assert b"Request has expired" in expired.content


def test_url_expiry_with_an_injected_clock_and_cleanup() -> None:
    now = [1_800_000_000.0]
    with AngoEmulator(api_key="k", url_expiry=60, clock=lambda: now[0]) as hub:
        project = hub.control.seed_project(name="x", synthetic_assets={"count": 3, "stage": "Complete"})
        answer = httpx.get(
            f"{hub.url}/v2/export", params={"project": project["_id"]}, headers={"apikey": "k"}
        )
        url = answer.json()["data"]["exportPath"]
        assert f"Expires={1_800_000_060}" in url
        now[0] += 60
        assert httpx.get(url).status_code == 200  # valid up to and including Expires
        now[0] += 1
        assert httpx.get(url).status_code == 403
        directory = hub.core.files.directory if hub.core else None
        assert directory is not None
        assert len(list(directory.iterdir())) == 1
        hub.control.reset()
        assert list(directory.iterdir()) == []  # reset drops exports
    assert not directory.exists()  # stop removes the temporary directory


def test_set_url_expiry_through_the_control_api(
    ango: AngoEmulator, api: httpx.Client, labelled: dict[str, Any]
) -> None:
    ango.control.set_url_expiry(5)
    url = data_of(api.get("/v2/export", params={"project": labelled["_id"]}))["exportPath"]
    ango.control.advance_clock(6)
    assert httpx.get(url).status_code == 403
