"""Fidelity: every endpoint driven through AngoHubHook against the Ango emulator over HTTP.

Each test checks, from the emulator's request log, the method, path, query, headers and
body that Ango's API (SDK source and REST documentation) prescribes, and that the answer parses
into the provider's models.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_ango.exceptions import AngoAuthError, AngoNotFoundError, AngoValidationError
from airflow_provider_ango.hooks.ango import endpoints
from airflow_provider_ango.models import (
    AssetFilter,
    CategorySchema,
    ExportOptions,
    ImportChunkReceipt,
    Project,
    SignedUrl,
    Storage,
    Task,
    TaskFilter,
    TimeWindow,
)
from tests.hooks.ango.helpers import logged

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.hooks.ango import AngoHubHook
    from tests.hooks.ango.conftest import HookFactory

pytestmark = pytest.mark.emulator

UTC = timezone.utc
SDK_READING = pytest.mark.ango_settings(answer_shapes="sdk", batch_refs="ids")
#: The emulator playing the SDK's reading, and its default: the REST documentation's.
READINGS = [pytest.param("sdk", marks=SDK_READING, id="sdk"), pytest.param("rest", id="rest")]


def only(ango: AngoEmulator, path_regex: str, method: str) -> dict[str, Any]:
    entries = logged(ango, path_regex, method)
    assert len(entries) == 1, [(entry["method"], entry["path"], entry["query"]) for entry in entries]
    return entries[0]


def assert_hook_headers(entry: dict[str, Any], hook: AngoHubHook, *, json_body: bool) -> None:
    headers = entry["headers"]
    assert entry["apikeyValid"] is True
    assert hook.session.settings.api_key not in json.dumps(entry)  # the log redacts it
    assert headers["user-agent"] == hook.user_agent
    assert headers["user-agent"].startswith("airflow-provider-ango/")
    assert headers["accept"] == "application/json"
    if json_body:
        assert headers["content-type"] == "application/json"
    else:
        assert "content-type" not in headers
        assert entry["body"] is None


# -- projects and ontology ---------------------------------------------------------------
def test_get_project(ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any]) -> None:
    fetched = hook.get_project(project["_id"])

    entry = only(ango, f"/v2/project/{project['_id']}", "GET")
    assert entry["query"] == ""
    assert_hook_headers(entry, hook, json_body=False)
    assert isinstance(fetched, Project)
    assert fetched.id == project["_id"]
    assert fetched.batch_ids_by_name() == {batch["name"]: batch["_id"] for batch in project["batches"]}
    assert fetched.category_schema is not None
    assert [tool.schema_id for tool in fetched.category_schema.tools] == ["cat"]
    assert {stage.type for stage in fetched.stages} >= {"Start", "Label", "Review", "Complete"}


def test_iter_projects_pages_lazily(ango: AngoEmulator, hook: AngoHubHook) -> None:
    for number in range(3):
        ango.control.seed_project(name=f"p{number}")

    projects = hook.iter_projects(page_size=2)
    first = next(projects)
    assert len(logged(ango, "/v2/listProjects")) == 1  # the second page is not fetched yet
    rest = list(projects)

    assert [p.name for p in [first, *rest]] == ["p0", "p1", "p2"]
    entries = logged(ango, "/v2/listProjects", "GET")
    # Two a page as asked, in a stable order; the listing ends by its total, not a short page.
    assert [entry["query"] for entry in entries] == ["page=1&limit=2&sort=_id", "page=2&limit=2&sort=_id"]
    assert_hook_headers(entries[0], hook, json_body=False)


def test_create_project(ango: AngoEmulator, hook: AngoHubHook) -> None:
    created = hook.create_project("Nightly cats", description="from Airflow", project_type="ango")

    entry = only(ango, "/v2/project", "POST")
    assert_hook_headers(entry, hook, json_body=True)
    assert entry["query"] == ""
    assert entry["body"] == {"name": "Nightly cats", "description": "from Airflow", "type": "ango"}
    assert len(created.id) == 24
    assert hook.get_project(created.id).name == "Nightly cats"


def test_set_category_schema(ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any]) -> None:
    schema = CategorySchema.model_validate(
        {
            "tools": [{"tool": "polygon", "title": "Dog", "schemaId": "dog", "color": "#ff0000"}],
            "classifications": [
                {
                    "tool": "checkbox",
                    "title": "Tags",
                    "schemaId": "tags",
                    "options": [{"value": "cute", "schemaId": "cute"}],
                }
            ],
            "relations": [{"tool": "one-to-one", "title": "Owner", "schemaId": "owner"}],
        }
    )
    updated = hook.set_category_schema(project["_id"], schema)

    entry = only(ango, f"/v2/project/{project['_id']}", "POST")
    assert_hook_headers(entry, hook, json_body=True)
    assert entry["body"] == {"categorySchema": schema.to_api()}
    assert updated.category_schema is not None
    assert [tool.schema_id for tool in updated.category_schema.tools] == ["dog"]
    assert updated.category_schema.relations[0].tool == "one-to-one"


def test_unknown_project_is_a_typed_not_found(ango: AngoEmulator, hook: AngoHubHook) -> None:
    with pytest.raises(AngoNotFoundError, match="Project not found") as raised:
        hook.get_project("0123456789abcdef01234567")
    assert raised.value.status == 404
    assert raised.value.path == "/v2/project/0123456789abcdef01234567"
    assert len(logged(ango, "/v2/project/.*")) == 1  # a 404 is not retried


def test_refused_body_is_a_typed_validation_error(ango: AngoEmulator, hook: AngoHubHook) -> None:
    with pytest.raises(AngoValidationError, match="type must be one of") as raised:
        hook.create_project("x", project_type="spreadsheet")
    assert (raised.value.status, raised.value.method) == (400, "POST")


# -- batches ----------------------------------------------------------------------------
def test_resolve_batches_reads_the_project_once_and_creates_only_missing(
    ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any]
) -> None:
    names = ["b2", "new-night", "b1", "b2"]
    resolved = hook.resolve_batches(project["_id"], names, create_missing=True)

    assert len(logged(ango, f"/v2/project/{project['_id']}", "GET")) == 1
    create = only(ango, f"/v2/batches/{project['_id']}", "POST")
    assert_hook_headers(create, hook, json_body=True)
    assert create["body"] == {"name": "new-night"}
    after = hook.get_project(project["_id"]).batch_ids_by_name()
    assert resolved == {name: after[name] for name in ("b2", "new-night", "b1")}


def test_resolve_batches_with_a_project_just_read_reads_no_project(
    ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any]
) -> None:
    read = hook.get_project(project["_id"])
    ango.control.clear_requests()

    resolved = hook.resolve_batches(project["_id"], ["b1", "fresh"], create_missing=True, project=read)

    assert logged(ango, f"/v2/project/{project['_id']}", "GET") == []
    assert only(ango, f"/v2/batches/{project['_id']}", "POST")["body"] == {"name": "fresh"}
    assert resolved == {
        name: hook.get_project(project["_id"]).batch_ids_by_name()[name] for name in ("b1", "fresh")
    }


def test_resolve_batches_takes_ids_and_names_alike(
    ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any]
) -> None:
    by_name = hook.get_project(project["_id"]).batch_ids_by_name()
    ango.control.clear_requests()

    resolved = hook.resolve_batches(project["_id"], [by_name["b2"], "b1"])

    assert resolved == {by_name["b2"]: by_name["b2"], "b1": by_name["b1"]}
    assert len(logged(ango, f"/v2/project/{project['_id']}", "GET")) == 1
    assert logged(ango, f"/v2/batches/{project['_id']}", "POST") == []


def test_resolve_batches_without_create_names_every_missing_batch(
    ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any]
) -> None:
    with pytest.raises(AngoNotFoundError, match=r"'x1', 'x2'.*create_missing=True"):
        hook.resolve_batches(project["_id"], ["b1", "x1", "x2"])
    assert logged(ango, f"/v2/batches/{project['_id']}") == []


# -- assets and tasks -------------------------------------------------------------------
def test_iter_assets_with_filters(ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any]) -> None:
    b1 = hook.resolve_batches(project["_id"], ["b1"])["b1"]
    ango.control.clear_requests()

    assets = list(
        hook.iter_assets(project["_id"], AssetFilter(batches=[b1], is_pre_labeled=False), page_size=2)
    )

    assert sorted(asset.external_id or "" for asset in assets) == [f"cat-{n}.jpg" for n in range(5)]
    assert all(asset.batches == [b1] for asset in assets)
    entries = logged(ango, f"/v2/project/{project['_id']}/assets", "GET")
    assert [entry["queryParams"]["page"] for entry in entries] == ["1", "2", "3"]
    assert entries[0]["queryParams"] == {
        "page": "1",
        "limit": "2",
        "sort": "_id",
        "filters": json.dumps({"isPreLabeled": False, "batches": [b1]}, separators=(",", ":")),
    }
    assert_hook_headers(entries[0], hook, json_body=False)
    assert hook.count_assets(project["_id"], {"externalId": "cat-3.jpg"}) == 1
    assert logged(ango, f"/v2/project/{project['_id']}/assets")[-1]["queryParams"]["limit"] == "1"


@SDK_READING  # the SDK's task carries updatedAt; the REST documentation's does not
def test_iter_tasks_sends_filter_sort_fields_and_include_answer(
    ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any]
) -> None:
    b1 = hook.resolve_batches(project["_id"], ["b1"])["b1"]
    window = TimeWindow.half_open(
        datetime.now(UTC) - timedelta(days=1), datetime.now(UTC) + timedelta(days=1)
    )
    task_filter = TaskFilter(stage="Label", status="TODO", batches=[b1], updated_at=window)
    ango.control.clear_requests()

    tasks = list(
        hook.iter_tasks(
            project["_id"],
            task_filter,
            include_answer=True,
            sort="-externalId",
            fields=["stage", "answer", "updatedAt"],
            page_size=3,
        )
    )

    assert len(tasks) == 5
    assert all(isinstance(task, Task) and task.stage == "Label" for task in tasks)
    assert all(task.answer is not None and task.updated_at is not None for task in tasks)
    entries = logged(ango, f"/v2/project/{project['_id']}/tasks", "GET")
    assert len(entries) == 2
    query = json.dumps(task_filter.to_api(), separators=(",", ":"))
    assert entries[0]["queryParams"] == {
        "page": "1",
        "limit": "3",
        "includeAnswer": "true",
        "filter": query,  # the SDK's name
        "filters": query,  # the REST documentation's name
        "sort": "-externalId",
        "fields": "stage,answer,updatedAt",
    }
    assert json.loads(entries[0]["queryParams"]["filter"])["updatedAt"] == window.to_api()
    assert_hook_headers(entries[0], hook, json_body=False)


def test_count_tasks_asks_for_one_task(
    ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any]
) -> None:
    assert hook.count_tasks(project["_id"], {"stage": "Label"}) == 5
    assert hook.count_tasks(project["_id"], TaskFilter(stage="Complete")) == 0
    entries = logged(ango, f"/v2/project/{project['_id']}/tasks", "GET")
    assert [entry["queryParams"]["limit"] for entry in entries] == ["1", "1"]
    assert entries[0]["queryParams"]["includeAnswer"] == "false"


@pytest.mark.parametrize("reading", READINGS)
def test_get_task_and_its_history(
    ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any], reading: str
) -> None:
    first = next(hook.iter_tasks(project["_id"], page_size=1))
    ango.control.clear_requests()

    task = hook.get_task(first.id)
    history = hook.get_task_history(first.id)

    entry = only(ango, f"/v2/task/{first.id}", "GET")
    assert entry["queryParams"] == {"includeAnswer": "true"}
    assert_hook_headers(entry, hook, json_body=False)
    assert (task.id, task.stage, task.stage_id) == (first.id, "Label", "Label")
    assert task.answer == {"tools": [], "classifications": [], "relations": []}
    history_entry = only(ango, f"/v2/task/{first.id}/history", "GET")
    assert history_entry["query"] == ""
    # The SDK's {"stageHistory": [...]} and the REST documentation's {"taskHistory": [...]} alike.
    assert isinstance(history, list)
    assert history[0]["stage"] == "Start"


@pytest.mark.parametrize("reading", READINGS)
def test_requeue_tasks(ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any], reading: str) -> None:
    ango.control.act(project["_id"], action="submit", externalIds=["cat-0.jpg", "cat-1.jpg"])
    review = next(stage for stage in hook.get_project(project["_id"]).stages if stage.type == "Review")
    ango.control.clear_requests()

    answer = hook.requeue_tasks(
        project["_id"],
        "Label",
        external_ids=["cat-0.jpg"],
        from_stage_ids=[review.id or ""],
        remove_assignee=True,
    )

    entry = only(ango, f"/v2/project/{project['_id']}/requeueTasks", "POST")
    assert_hook_headers(entry, hook, json_body=True)
    assert entry["body"] == {
        "toStageId": "Label",
        "filters": {"externalIds": ["cat-0.jpg"], "fromStageIds": [review.id]},
        "options": {"removeAnnotations": False, "removeAssignee": True, "removeStageHistory": False},
    }
    expected = (
        {"requeued": 1} if reading == "sdk" else {"modifiedCount": {"modified": 1, "toStageId": "Label"}}
    )
    assert answer == expected  # Ango's answer, passed through
    assert hook.count_tasks(project["_id"], {"stage": "Review"}) == 1


# -- imports ----------------------------------------------------------------------------
@pytest.mark.parametrize("reading", READINGS)
def test_import_cloud_assets_in_chunks(
    ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any], reading: str
) -> None:
    storage = hook.create_storage(
        "private", "AWS", public_key="AKIAEXAMPLE", private_key="s3cr3t-value", region="eu-west-1"
    )
    b2 = hook.resolve_batches(project["_id"], ["b2"])["b2"]
    assert hook.batch_refs == ("ids" if reading == "sdk" else "names")  # the fixture fits the emulator
    ref = b2 if reading == "sdk" else "b2"  # the SDK names batches by id, the REST documentation by name
    pulled: list[int] = []

    def items() -> Any:
        for number in range(7):
            pulled.append(number)
            yield {
                "data": f"https://bucket.s3.eu-west-1.amazonaws.com/dog%20{number}.jpg",
                "externalId": f"dog-{number}",
            }

    ango.control.clear_requests()
    receipts = hook.iter_import_cloud_assets(
        project["_id"], items(), chunk_size=3, batches=[ref], storage_id=storage.id
    )
    first = next(receipts)
    assert len(pulled) <= 4  # the iterable is streamed, not read whole up front
    all_receipts = [first, *receipts]

    assert [(r.chunk_index, r.item_count, r.first_external_id, r.last_external_id) for r in all_receipts] == [
        (0, 3, "dog-0", "dog-2"),
        (1, 3, "dog-3", "dog-5"),
        (2, 1, "dog-6", "dog-6"),
    ]
    assert all(isinstance(r, ImportChunkReceipt) for r in all_receipts)
    entries = logged(ango, f"/v2/project/{project['_id']}/cloud", "POST")
    assert len(entries) == 3
    assert_hook_headers(entries[0], hook, json_body=True)
    assert entries[0]["queryParams"] == {"batches": json.dumps([ref])}
    assert entries[0]["body"] == {
        "assets": [
            {
                "data": f"https://bucket.s3.eu-west-1.amazonaws.com/dog%20{number}.jpg",
                "externalId": f"dog-{number}",
                "storage": storage.id,
            }
            for number in range(3)
        ],
        "uploadLocal": None,
        "priority": 0,
    }
    dogs = list(hook.iter_assets(project["_id"], {"batches": [b2]}))
    assert sorted(asset.external_id or "" for asset in dogs) == [f"dog-{n}" for n in range(7)]


def test_import_cloud_assets_default_chunk_is_500(
    ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any]
) -> None:
    items = ({"data": f"https://img.example/{n}.jpg", "externalId": f"bulk-{n}"} for n in range(1001))

    receipts = hook.import_cloud_assets(project["_id"], items)

    assert [receipt.item_count for receipt in receipts] == [500, 500, 1]
    entries = logged(ango, f"/v2/project/{project['_id']}/cloud", "POST")
    assert [len(entry["body"]["assets"]) for entry in entries] == [500, 500, 1]
    assert all(entry["query"] == "" for entry in entries)
    assert hook.count_assets(project["_id"]) == 1006


def test_import_labels_in_chunks(ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any]) -> None:
    labels = [
        {
            "externalId": f"cat-{n}.jpg",
            "tools": [{"schemaId": "cat", "bounding-box": {"x": 1, "y": 2, "width": 3, "height": 4}}],
            "classifications": [{"schemaId": "colour", "answer": "black"}],
        }
        for n in range(3)
    ]

    receipts = hook.import_labels(project["_id"], labels, chunk_size=2)

    assert [receipt.item_count for receipt in receipts] == [2, 1]
    entries = logged(ango, "/v2/import/labels", "POST")
    assert len(entries) == 2
    assert_hook_headers(entries[0], hook, json_body=True)
    assert entries[0]["query"] == ""
    assert entries[0]["body"] == {"project": project["_id"], "jsonContent": labels[:2]}
    assert hook.count_assets(project["_id"], AssetFilter(is_pre_labeled=True)) == 3


# -- export -----------------------------------------------------------------------------
def test_request_export_and_stream_it(ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any]) -> None:
    b1 = hook.resolve_batches(project["_id"], ["b1"])["b1"]
    window = TimeWindow.half_open(
        datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1)
    )
    options = ExportOptions(
        format="ndjson",
        stages=["Label"],
        batches=[b1],
        task_types=["default"],
        include_history=False,
        updated_at=window,
    )
    ango.control.clear_requests()

    url = hook.request_export(project["_id"], options)

    entry = only(ango, "/v2/export", "GET")
    assert_hook_headers(entry, hook, json_body=False)
    assert entry["queryParams"] == endpoints.export_query(project["_id"], options)
    assert isinstance(url, SignedUrl)
    assert "Signature" not in str(url)
    assert "Signature" not in repr(url)
    assert "Signature=" in url.get_secret_value()

    with hook.open_export_stream(url, chunk_size=256) as chunks:
        payload = b"".join(chunks)
    download = only(ango, "/_files/export/.*", "GET")
    assert "apikey" not in download["headers"]  # a signed URL is never sent the API key
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        (name,) = archive.namelist()
        assert name.endswith(".ndjson")
        records = [json.loads(line) for line in archive.read(name).splitlines() if line.strip()]
    assert sorted(record["externalId"] for record in records) == [f"cat-{n}.jpg" for n in range(5)]
    assert all(record["task"]["stage"] == "Label" for record in records)


def test_export_defaults_to_complete_stage(
    ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any]
) -> None:
    url = hook.request_export(project["_id"])

    entry = only(ango, "/v2/export", "GET")
    assert entry["queryParams"]["stage"] == '["Complete"]'
    assert entry["queryParams"]["format"] == "json"
    with hook.open_export_stream(url) as chunks, zipfile.ZipFile(io.BytesIO(b"".join(chunks))) as archive:
        (name,) = archive.namelist()
        assert json.loads(archive.read(name)) == []


# -- storages and metrics ---------------------------------------------------------------
def test_storages_create_list_delete(ango: AngoEmulator, hook: AngoHubHook) -> None:
    created = hook.create_storage(
        "lake",
        "GCP",
        public_key="svc@example.iam",
        private_key="-----PRIVATE KEY-----",
        region="europe-west1",
    )
    listed = hook.list_storages()
    one = hook.list_storages(created.id)
    hook.delete_storage(created.id)

    create = only(ango, "/v2/storages/", "POST")
    assert_hook_headers(create, hook, json_body=True)
    assert create["body"] == {
        "name": "lake",
        "provider": "GCP",
        "publicKey": "svc@example.iam",
        "privateKey": "-----PRIVATE KEY-----",
        "region": "europe-west1",
    }
    assert isinstance(created, Storage)
    assert (created.name, created.provider) == ("lake", "GCP")
    assert "privateKey" not in created.model_dump(by_alias=True)
    assert [storage.id for storage in listed] == [created.id] == [storage.id for storage in one]
    gets = logged(ango, "/v2/storages", "GET")
    # Pages of 100 in a stable order: the REST documentation pages this listing (10 by default).
    assert [entry["query"] for entry in gets] == [
        "page=1&limit=100&sort=_id",
        f"page=1&limit=100&sort=_id&_id={created.id}",
    ]
    delete = only(ango, f"/v2/storages/{created.id}", "DELETE")
    assert_hook_headers(delete, hook, json_body=False)
    assert hook.list_storages() == []
    with pytest.raises(AngoNotFoundError):
        hook.delete_storage(created.id)
    hook.delete_storage(created.id, missing_ok=True)  # what a retried DELETE that went through needs


def test_list_storage_files(ango: AngoEmulator, hook: AngoHubHook) -> None:
    storage = hook.create_storage(
        "raw", "AWS", public_key="AKIA", private_key="secret-key-1", region="us-east-2"
    )
    ango.control.add_storage_files(storage.id, "raw-bucket", ["in/a.jpg", "in/b.jpg", "other/c.jpg"])

    files = hook.list_storage_files(storage.id, "raw-bucket", "in/")

    entry = only(ango, f"/v2/storages/{storage.id}/files", "GET")
    assert_hook_headers(entry, hook, json_body=False)
    assert entry["queryParams"] == {
        "bucketName": "raw-bucket",
        "path": "in/",
        "getSignedUrls": "false",
        "retryOnSlowDown": "true",
    }
    assert [file["key"] for file in files["files"]] == ["in/a.jpg", "in/b.jpg"]


def test_get_metric(ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any]) -> None:
    metric = hook.get_metric(project["_id"], "LabelStageGroups")

    entry = only(ango, f"/v2/{project['_id']}/overview/LabelStageGroups", "GET")
    assert_hook_headers(entry, hook, json_body=False)
    assert {value["stage"]: value["count"] for value in metric["values"]}["Label"] == 5


# -- connection -------------------------------------------------------------------------
def test_test_connection(ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any]) -> None:
    ok, message = hook.test_connection()

    assert ok, message
    assert "1 project" in message
    entry = only(ango, "/v2/listProjects", "GET")
    assert entry["query"] == "page=1&limit=1&sort=_id"
    assert_hook_headers(entry, hook, json_body=False)


def test_wrong_key_fails_fast_and_never_shows_the_key(
    ango: AngoEmulator, monkeypatch: pytest.MonkeyPatch, waits: list[float], make_hook: HookFactory
) -> None:
    wrong_key = "wrong-key-9f8e7d6c5b4a"
    monkeypatch.setenv(
        "AIRFLOW_CONN_ANGO_WRONG", json.dumps({"conn_type": "ango", "password": wrong_key, "host": ango.url})
    )
    hook = make_hook(ango_conn_id="ango_wrong")

    ok, message = hook.test_connection()
    with pytest.raises(AngoAuthError) as raised:
        hook.get_projects_page()

    assert not ok
    assert "HTTP 401" in message
    assert "Invalid API KEY" in message
    assert wrong_key not in message
    assert wrong_key not in str(raised.value)
    assert [entry["apikeyValid"] for entry in logged(ango, "/v2/listProjects")] == [False, False]
    assert waits == []
