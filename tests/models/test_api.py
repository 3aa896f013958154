"""API answer models: wire names, unknown fields kept, paging arithmetic."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from airflow_provider_ango.models import CategorySchema, Page, Project, Task

PROJECT_JSON = {
    "_id": "65a1b2c3d4e5f60718293a4b",
    "name": "Cats",
    "type": "ango",
    "organization": "0000000000000000000000aa",
    "batches": [
        {"_id": "65a1b2c3d4e5f60718293a01", "name": "night-1"},
        {"_id": "65a1b2c3d4e5f60718293a02", "name": "night-2"},
        {"_id": "65a1b2c3d4e5f60718293a03", "name": "night-1"},
    ],
    "categorySchema": {
        "tools": [
            {
                "tool": "bounding-box",
                "title": "Cat",
                "schemaId": "s1",
                "classifications": [
                    {"tool": "radio", "title": "Colour", "schemaId": "s2", "options": [{"value": "black"}]}
                ],
            }
        ],
        "classifications": [],
        "relations": [{"tool": "one-to-one", "title": "Mother", "schemaId": "s3"}],
    },
    "stages": [{"id": "Start", "name": "Start", "type": "Start", "next": ["Label"]}],
}


def test_project_keeps_unknown_fields_and_reads_wire_names() -> None:
    project = Project.model_validate(PROJECT_JSON)
    assert project.id == PROJECT_JSON["_id"]
    assert project.model_extra == {"organization": "0000000000000000000000aa"}
    assert project.category_schema is not None
    nested = project.category_schema.tools[0].classifications[0]
    assert (nested.tool, nested.schema_id, nested.options[0].value) == ("radio", "s2", "black")
    assert project.stages[0].model_extra == {"next": ["Label"]}
    assert project.to_api()["categorySchema"]["relations"][0]["schemaId"] == "s3"


def test_batch_ids_by_name_keeps_the_first_of_duplicate_names() -> None:
    project = Project.model_validate(PROJECT_JSON)
    assert project.batch_ids_by_name() == {
        "night-1": "65a1b2c3d4e5f60718293a01",
        "night-2": "65a1b2c3d4e5f60718293a02",
    }


def test_category_schema_round_trips_by_alias() -> None:
    schema = CategorySchema.model_validate(PROJECT_JSON["categorySchema"])
    assert CategorySchema.model_validate(schema.to_api()) == schema


def test_task_times_are_aware_utc() -> None:
    task = Task.model_validate(
        {
            "_id": "t1",
            "stage": "Label",
            "stageId": "Label",
            "updatedAt": "2026-05-01T08:00:00.123Z",
            "extra": 1,
        }
    )
    assert task.updated_at == datetime(2026, 5, 1, 8, 0, 0, 123000, tzinfo=timezone.utc)
    assert task.model_extra == {"extra": 1}


@pytest.mark.parametrize(
    ("count", "total", "page", "limit", "last"),
    [
        (10, 25, 1, 10, False),
        (10, 25, 2, 10, False),
        (5, 25, 3, 10, True),
        (10, 20, 2, 10, True),
        (0, 0, 1, 10, True),
        (10, None, 7, 10, False),
        (3, None, 7, 10, True),
    ],
)
def test_page_is_last(count: int, total: int | None, page: int, limit: int, last: bool) -> None:
    items = [Task.model_validate({"_id": str(n)}) for n in range(count)]
    assert Page[Task](items=items, total=total, page=page, limit=limit).is_last is last
