"""The documented list limits, at the emulator's strict defaults: page cap, paging, sort, tie order."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from airflow_provider_ango.emulator import AngoEmulator, EmulatorSettings
from tests.emulator.helpers import data_of, fail_message

STRICT = EmulatorSettings()
pytestmark = pytest.mark.ango_settings(STRICT)


def _list_paths(ango: AngoEmulator, api: httpx.Client, count: int) -> dict[str, str]:
    """One project with ``count`` assets, ``count`` projects, ``count`` storages: every list endpoint."""
    project = ango.control.seed_project(name="big", synthetic_assets={"count": count})
    for number in range(count - 1):
        ango.control.seed_project(name=f"extra-{number}")
    for number in range(count):
        data_of(api.post("/v2/storages/", json={"name": f"s{number}", "provider": "AWS"}), 201)
    return {
        "/v2/listProjects": "projects",
        f"/v2/project/{project['_id']}/assets": "assets",
        f"/v2/project/{project['_id']}/tasks": "tasks",
        "/v2/storages": "storages",
    }


def test_the_strict_defaults_are_the_documented_ones() -> None:
    assert STRICT.page_limit == 100
    assert STRICT.page_limit_mode == "clamp"
    assert str(STRICT.limiter) == "100/min"
    assert STRICT.retry_after is True
    assert (STRICT.answer_shapes, STRICT.batch_refs, STRICT.default_sort) == ("rest", "names", "-createdAt")
    assert STRICT.tie_order == "shuffle"


@pytest.mark.ango_settings(STRICT, rate_limit="1000/s")  # 130 storages to create: more than 100 a minute
def test_every_list_endpoint_clamps_limit_to_100_and_defaults_to_10(
    ango: AngoEmulator, api: httpx.Client
) -> None:
    for path, key in _list_paths(ango, api, 130).items():
        clamped = data_of(api.get(path, params={"limit": 1000}))
        assert len(clamped[key]) == 100, path  # a short page that is not the last
        assert clamped["total"] == 130, path
        assert len(data_of(api.get(path))[key]) == 10, path
        second = data_of(api.get(path, params={"page": 2, "limit": 100, "sort": "createdAt,_id"}))
        assert len(second[key]) == 30, path
        assert "page must be >= 1" in fail_message(api.get(path, params={"page": 0}), 400)


@pytest.mark.ango_settings(STRICT, page_limit_mode="reject")
def test_reject_mode_answers_400_above_the_cap(ango: AngoEmulator, api: httpx.Client) -> None:
    for path, key in _list_paths(ango, api, 3).items():
        message = fail_message(api.get(path, params={"limit": 101}), 400)
        assert message == "Query parameter limit must be at most 100, got 101", path
        assert len(data_of(api.get(path, params={"limit": 100}))[key]) == 3, path


def _import(api: httpx.Client, project_id: str, names: list[str]) -> None:
    items = [{"data": f"https://e.com/{name}.jpg", "externalId": name} for name in names]
    data_of(api.post(f"/v2/project/{project_id}/cloud", json={"assets": items}), 201)


def test_default_order_is_newest_first_and_sort_is_honoured(ango: AngoEmulator, api: httpx.Client) -> None:
    project = ango.control.seed_project(name="order")
    path = f"/v2/project/{project['_id']}/assets"
    for name in ("first", "second", "third"):
        ango.control.advance_clock(1)  # three distinct createdAt values
        _import(api, project["_id"], [name])

    def names(**params: Any) -> list[str]:
        return [asset["externalId"] for asset in data_of(api.get(path, params=params))["assets"]]

    assert names() == ["third", "second", "first"]
    assert names(sort="createdAt") == ["first", "second", "third"]
    assert names(sort="-externalId") == ["third", "second", "first"]
    assert names(sort="externalId") == ["first", "second", "third"]
    assert names(sort="-createdAt,_id", limit=2, page=2) == ["first"]
    tasks = data_of(api.get(f"/v2/project/{project['_id']}/tasks", params={"sort": "_id"}))["tasks"]
    assert [task["externalId"] for task in tasks] == ["first", "second", "third"]
    assert "Cannot sort by 'colour'" in fail_message(api.get(path, params={"sort": "colour"}), 400)
    assert "empty field" in fail_message(api.get(path, params={"sort": "createdAt,"}), 400)


def _pages(api: httpx.Client, path: str, sort: str | None, requests: int) -> list[list[str]]:
    params = {"limit": 10, **({"sort": sort} if sort else {})}
    return [
        [a["externalId"] for a in data_of(api.get(path, params=params))["assets"]] for _ in range(requests)
    ]


def test_tied_items_come_in_a_new_order_each_request_unless_the_sort_has_id(
    ango: AngoEmulator, api: httpx.Client
) -> None:
    # One synthetic batch: 50 assets with one createdAt, a tie for every sort by createdAt.
    project = ango.control.seed_project(name="ties", synthetic_assets={"count": 50})
    path = f"/v2/project/{project['_id']}/assets"
    shuffled = _pages(api, path, None, 6)
    assert len({tuple(page) for page in shuffled}) > 1, "tied items kept one order across requests"
    assert len({tuple(page) for page in _pages(api, path, "createdAt", 6)}) > 1
    by_id = _pages(api, path, "createdAt,_id", 4)
    assert len({tuple(page) for page in by_id}) == 1
    assert by_id[0] == [f"synthetic-{number:07d}" for number in range(10)]
    assert _pages(api, path, "-_id", 1)[0] == [f"synthetic-{number:07d}" for number in range(49, 39, -1)]
    # Paging a tie with a stable sort visits every item exactly once.
    seen = []
    for page in range(1, 6):
        params = {"page": page, "limit": 10, "sort": "-createdAt,_id"}
        seen += [a["externalId"] for a in data_of(api.get(path, params=params))["assets"]]
    assert len(seen) == len(set(seen)) == 50


@pytest.mark.ango_settings(STRICT, tie_order="stable")
def test_stable_tie_order_keeps_row_order(ango: AngoEmulator, api: httpx.Client) -> None:
    project = ango.control.seed_project(name="ties", synthetic_assets={"count": 30})
    pages = _pages(api, f"/v2/project/{project['_id']}/assets", None, 3)
    assert pages[0] == pages[1] == pages[2] == [f"synthetic-{number:07d}" for number in range(10)]


def test_total_is_the_filtered_count(ango: AngoEmulator, api: httpx.Client) -> None:
    project = ango.control.seed_project(
        name="totals",
        batches=["a", "b"],
        synthetic_assets=[{"count": 120, "batch": "a"}, {"count": 7, "batch": "b", "externalIdPrefix": "b-"}],
    )
    batch_b = next(batch["_id"] for batch in project["batches"] if batch["name"] == "b")
    assets = data_of(
        api.get(
            f"/v2/project/{project['_id']}/assets", params={"filters": json.dumps({"batches": [batch_b]})}
        )
    )
    assert assets["total"] == 7
    assert len(assets["assets"]) == 7
    tasks = data_of(api.get(f"/v2/project/{project['_id']}/tasks", params={"batches": "a", "limit": 5}))
    assert tasks["total"] == 120
    assert len(tasks["tasks"]) == 5
