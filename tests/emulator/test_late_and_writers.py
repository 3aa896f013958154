"""Writes applied late, other writers during a listing, and indexed listings of a million assets."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from airflow_provider_ango.emulator import AngoEmulator, EmulatorControlError, EmulatorSettings
from tests.emulator.helpers import data_of

STRICT = EmulatorSettings()
pytestmark = pytest.mark.ango_settings(STRICT)
ITEM = {"data": "https://e.com/late.jpg", "externalId": "late"}


def _count(ango: AngoEmulator, project_id: str) -> int:
    return int(ango.control.counts(project_id)["assets"])


def test_apply_late_holds_the_answer_past_the_client_timeout_and_applies_the_write_later(
    ango: AngoEmulator, api: httpx.Client
) -> None:
    project = ango.control.seed_project(name="late")
    ango.control.add_fault("/cloud$", "apply_late", apply_after=1.0, method="POST")
    with pytest.raises(httpx.ReadTimeout):
        api.post(f"/v2/project/{project['_id']}/cloud", json={"assets": [ITEM]}, timeout=0.3)
    # The client gave up; the write is not there yet and the request is logged without a status.
    (entry,) = ango.control.requests(path_pattern="/cloud$")
    assert entry["fault"] == "apply_late"
    assert entry["status"] is None
    assert _count(ango, project["_id"]) == 0
    ango.wait_until(lambda: _count(ango, project["_id"]) == 1, timeout=15, what="the late write")
    (entry,) = ango.control.requests(path_pattern="/cloud$")
    assert entry["status"] == 201
    assert entry["appliedAt"] >= entry["at"]
    # The fault is used up: the next POST is applied and answered at once.
    data_of(api.post(f"/v2/project/{project['_id']}/cloud", json={"assets": [ITEM]}), 201)
    assert _count(ango, project["_id"]) == 2


def test_apply_late_with_a_dropped_connection_for_the_next_k_requests(
    ango: AngoEmulator, api: httpx.Client
) -> None:
    project = ango.control.seed_project(name="dropped")
    ango.control.add_fault("/cloud$", "apply_late", apply_after=0.5, answer="drop", count=2)
    for _ in range(2):
        with pytest.raises(httpx.TransportError):
            api.post(f"/v2/project/{project['_id']}/cloud", json={"assets": [ITEM]})
    data_of(api.post(f"/v2/project/{project['_id']}/cloud", json={"assets": [ITEM]}), 201)
    ango.wait_until(lambda: _count(ango, project["_id"]) == 3, timeout=15, what="two late writes")
    assert ango.control.stats()["pendingLateWrites"] == 0
    assert [entry["status"] for entry in ango.control.requests(path_pattern="/cloud$")] == [201, 201, 201]


def test_reset_cancels_late_writes_and_the_fault_is_validated(ango: AngoEmulator, api: httpx.Client) -> None:
    project = ango.control.seed_project(name="cancelled")
    ango.control.add_fault("/cloud$", "apply_late", apply_after=600, answer="drop")
    with pytest.raises(httpx.TransportError):
        api.post(f"/v2/project/{project['_id']}/cloud", json={"assets": [ITEM]})
    assert ango.control.stats()["pendingLateWrites"] == 1
    ango.control.reset()
    assert ango.control.stats()["pendingLateWrites"] == 0
    with pytest.raises(EmulatorControlError, match="applyAfter"):
        ango.control.add_fault("/cloud$", "apply_late")
    with pytest.raises(EmulatorControlError, match="answer must be one of late, drop"):
        ango.control.add_fault("/cloud$", "apply_late", apply_after=1, answer="never")


def _page(api: httpx.Client, project_id: str, page: int, **params: Any) -> list[str]:
    answer = data_of(
        api.get(f"/v2/project/{project_id}/assets", params={"page": page, "limit": 10, **params})
    )
    return [asset["externalId"] for asset in answer["assets"]]


def test_other_writers_shift_offset_pages_as_on_the_real_service(
    ango: AngoEmulator, api: httpx.Client
) -> None:
    project = ango.control.seed_project(name="moving", synthetic_assets={"count": 30})
    oldest_first = {"sort": "createdAt,_id"}
    # Newest first (the default): assets added meanwhile push seen ones onto the next page.
    first = _page(api, project["_id"], 1, sort="-createdAt,-_id")
    ango.control.advance_clock(1)
    inserted = ango.control.insert_assets(project["_id"], count=4, externalIdPrefix="new-")
    assert len(inserted["assetIds"]) == 4
    second = _page(api, project["_id"], 2, sort="-createdAt,-_id")
    assert len(set(first) & set(second)) == 4
    # Oldest first: new assets land at the end, but deleting seen ones makes unseen ones skip a page.
    first = _page(api, project["_id"], 1, **oldest_first)
    deleted = ango.control.delete_assets(project["_id"], external_ids=first[:3])
    assert deleted == {"deleted": 3, "assetCount": 31}
    second = _page(api, project["_id"], 2, **oldest_first)
    everything = [f"synthetic-{number:07d}" for number in range(30)]
    assert second == everything[13:23]  # synthetic 10-12 existed throughout and were never listed
    with pytest.raises(EmulatorControlError, match="No live asset"):
        ango.control.delete_assets(project["_id"], external_ids=first[:1])


def test_listings_of_a_million_assets_by_external_id_and_batch(ango: AngoEmulator, api: httpx.Client) -> None:
    project = ango.control.seed_project(
        name="million",
        batches=["night-1", "night-2"],
        synthetic_assets=[
            {"count": 999_000, "batch": "night-1"},
            {"count": 1_000, "batch": "night-2", "externalIdPrefix": "n2-"},
        ],
    )
    assert project["assetCount"] == 1_000_000
    night_2 = next(batch["_id"] for batch in project["batches"] if batch["name"] == "night-2")
    path = f"/v2/project/{project['_id']}/assets"
    seen: list[str] = []
    for page in range(1, 11):
        params = {
            "page": page,
            "limit": 100,
            "sort": "createdAt,_id",
            "filters": json.dumps({"batches": [night_2]}),
        }
        answer = data_of(api.get(path, params=params))
        assert answer["total"] == 1_000
        seen += [asset["externalId"] for asset in answer["assets"]]
    assert len(set(seen)) == 1_000
    assert all(name.startswith("n2-") for name in seen)
    wanted = ["synthetic-0000000", "synthetic-0500000", "n2-0999999"]
    found = data_of(api.get(path, params={"filters": json.dumps({"externalId": {"$in": wanted}})}))
    assert found["total"] == 3
    assert sorted(asset["externalId"] for asset in found["assets"]) == sorted(wanted)
    tasks = data_of(
        api.get(
            f"/v2/project/{project['_id']}/tasks",
            params={
                "filters": json.dumps({"externalId": "synthetic-0123456", "batches": {"$in": [night_2]}})
            },
        )
    )
    assert tasks["total"] == 0  # in night-1, not night-2
    newest = data_of(api.get(path, params={"limit": 100}))
    assert newest["total"] == 1_000_000
    assert len(newest["assets"]) == 100
