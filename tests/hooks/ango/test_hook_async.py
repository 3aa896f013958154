"""Fidelity of the async calls triggers use: same requests as the sync side, same retry rules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_ango.exceptions import AngoNotFoundError, AngoServerError
from airflow_provider_ango.hooks.ango import endpoints
from airflow_provider_ango.models import ExportOptions, SignedUrl, TaskFilter
from tests.hooks.ango.helpers import logged

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.hooks.ango import AngoHubHook
    from tests.hooks.ango.conftest import RecordedWaits

pytestmark = pytest.mark.emulator


def same_request(first: dict[str, Any], second: dict[str, Any]) -> None:
    for key in ("method", "path", "query", "body", "apikeyValid"):
        assert first[key] == second[key], key
    assert first["headers"]["user-agent"] == second["headers"]["user-agent"]
    assert first["headers"]["accept"] == second["headers"]["accept"]


async def test_aget_project_sends_what_get_project_sends(
    ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any]
) -> None:
    synced = hook.get_project(project["_id"])
    awaited = await hook.aget_project(project["_id"])
    await hook.aclose()

    assert awaited == synced
    sync_entry, async_entry = logged(ango, f"/v2/project/{project['_id']}")
    same_request(sync_entry, async_entry)
    assert async_entry["apikeyValid"] is True


async def test_tasks_page_count_and_iteration(
    ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any]
) -> None:
    task_filter = TaskFilter(stage=["Label", "Review"])
    synced = hook.get_tasks_page(project["_id"], 1, 2, task_filter, include_answer=True, sort="externalId")
    awaited = await hook.aget_tasks_page(
        project["_id"], 1, 2, task_filter, include_answer=True, sort="externalId"
    )
    count = await hook.acount_tasks(project["_id"], task_filter)
    every = [task async for task in hook.aiter_tasks(project["_id"], task_filter, page_size=2)]
    await hook.aclose()

    assert [task.id for task in awaited.items] == [task.id for task in synced.items]
    assert (awaited.total, count, len(every)) == (5, 5, 5)
    entries = logged(ango, f"/v2/project/{project['_id']}/tasks")
    same_request(entries[0], entries[1])
    assert entries[2]["queryParams"]["limit"] == "1"
    assert [entry["queryParams"]["page"] for entry in entries[3:]] == ["1", "2", "3"]


async def test_aget_task(ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any]) -> None:
    task_id = hook.get_tasks_page(project["_id"], 1, 1).items[0].id

    task = await hook.aget_task(task_id, include_answer=False)
    await hook.aclose()

    assert (task.id, task.stage, task.answer) == (task_id, "Label", None)
    assert logged(ango, f"/v2/task/{task_id}")[0]["queryParams"] == {"includeAnswer": "false"}


async def test_arequest_export(ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any]) -> None:
    options = ExportOptions(stages=["Label"], format="ndjson")

    url = await hook.arequest_export(project["_id"], options)
    await hook.aclose()

    assert isinstance(url, SignedUrl)
    assert logged(ango, "/v2/export")[0]["queryParams"] == endpoints.export_query(project["_id"], options)
    with hook.open_export_stream(url) as chunks:
        assert b"".join(chunks).startswith(b"PK")


async def test_async_retries_honour_retry_after(
    ango: AngoEmulator, hook: AngoHubHook, waits: RecordedWaits, project: dict[str, Any]
) -> None:
    ango.control.add_fault("^/v2/project/", "status", status=503, retry_after=4)
    ango.control.add_fault("/tasks$", "reset")

    project_model = await hook.aget_project(project["_id"])
    count = await hook.acount_tasks(project["_id"])

    assert (project_model.id, count) == (project["_id"], 5)
    assert waits[0] == 4.0
    assert len(waits) == 2
    ango.control.add_fault("^/v2/project/", "status", status=500, count=10)
    with pytest.raises(AngoServerError):
        await hook.aget_project(project["_id"])
    with pytest.raises(AngoNotFoundError):
        await hook.aget_task("0123456789abcdef01234567")
    await hook.aclose()
