"""hooks/ango/endpoints.py, pure: request building, chunking, import payloads, export query parameters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import BaseModel, Field

from airflow_provider_ango.hooks.ango import endpoints
from airflow_provider_ango.hooks.ango.endpoints import chunked, import_item_payload
from airflow_provider_ango.models import ExportOptions, TimeWindow

UTC = timezone.utc


PLUS_TWO = timezone(timedelta(hours=2))


PROJECT = "65a1b2c3d4e5f60718293a4b"


class TestChunked:
    def test_pulls_one_chunk_at_a_time(self) -> None:
        pulled: list[int] = []

        def source() -> Iterator[int]:
            for number in range(7):
                pulled.append(number)
                yield number

        chunks = chunked(source(), 3)
        assert next(chunks) == [0, 1, 2]
        assert pulled == [0, 1, 2]
        assert list(chunks) == [[3, 4, 5], [6]]

    def test_empty_and_invalid(self) -> None:
        assert list(chunked([], 5)) == []
        with pytest.raises(ValueError, match="chunk size"):
            list(chunked([1], 0))


class CloudAsset(BaseModel):
    data: str
    external_id: str = Field(alias="externalId")
    batches: list[str] | None = None


class TestImportPayload:
    def test_models_dump_with_wire_names_without_nones(self) -> None:
        item = CloudAsset(data="https://x/a.jpg", externalId="a.jpg")
        assert import_item_payload(item, "asset", 0) == {"data": "https://x/a.jpg", "externalId": "a.jpg"}

    def test_missing_external_id_names_the_item(self) -> None:
        with pytest.raises(ValueError, match=r"asset #12 has no externalId"):
            import_item_payload({"data": "https://x/a.jpg"}, "asset", 12)


class TestEndpoints:
    def test_ids_cannot_escape_their_path_segment(self) -> None:
        assert endpoints.get_project("../listProjects").path == "/v2/project/..%2FlistProjects"
        with pytest.raises(ValueError, match="empty"):
            endpoints.get_task("", include_answer=False)

    def test_list_tasks_query(self) -> None:
        call = endpoints.list_tasks(
            "p", 2, 50, {"stage": "Label"}, include_answer=True, sort="-updatedAt", fields=["stage", "answer"]
        )
        assert call.params == {
            "page": "2",
            "limit": "50",
            "includeAnswer": "true",
            "filter": '{"stage":"Label"}',
            "filters": '{"stage":"Label"}',
            "sort": "-updatedAt",
            "fields": "stage,answer",
        }

    def test_listings_cap_the_page_and_sort_stably_by_default(self) -> None:
        assert endpoints.list_tasks("p", 1, 1000, {}).params["limit"] == "100"
        assert endpoints.list_assets("p", 1, 250, {}).params == {
            "page": "1",
            "limit": "100",
            "sort": "_id",
            "filters": "{}",
        }
        assert endpoints.list_projects(3, 7).params == {"page": "3", "limit": "7", "sort": "_id"}
        assert "sort" not in endpoints.list_tasks("p", 1, 10, {}, sort=None).params

    def test_writes_are_marked_non_idempotent(self) -> None:
        assert not endpoints.import_cloud_assets("p", [], None).idempotent
        assert not endpoints.import_labels("p", []).idempotent
        assert not endpoints.create_project("n", "", None).idempotent
        assert not endpoints.requeue_tasks("p", "Label", {}, {}).idempotent
        assert not endpoints.create_batch("p", "b").idempotent
        assert endpoints.set_category_schema("p", {}).idempotent
        assert endpoints.delete_storage("s").idempotent

    def test_storage_secrets_are_registered_for_scrubbing(self) -> None:
        call = endpoints.create_storage(
            "s", "AWS", public_key="AKIAPUBLIC", private_key="private-secret", region=None, credentials=None
        )
        assert call.secrets == ("private-secret",)
        assert "private-secret" not in repr(call)
        assert "region" not in call.body


class TestExportOptions:
    """ExportOptions as the query parameters of ``GET /v2/export``."""

    def test_defaults(self) -> None:
        assert endpoints.export_query(PROJECT, ExportOptions()) == {
            "project": PROJECT,
            "format": "json",
            "type": "task",
            "stage": '["Complete"]',
            "includeMetadata": "true",
            "includeHistory": "true",
            "includeOnlyKeyFrames": "false",
            "includeIdleBlurDurations": "false",
            "sendEmail": "false",
            "doNotNotify": "true",
        }

    def test_every_option(self) -> None:
        options = ExportOptions(
            format="ndjson",
            export_type="issue",
            stages=["Review", "Complete"],
            batches=["b1", "b2"],
            task_types=["default", "consensus"],
            include_metadata=False,
            include_history=False,
            include_only_key_frames=True,
            include_idle_blur_durations=True,
            send_email=True,
            do_not_notify=False,
            updated_at=TimeWindow(gt=datetime(2026, 5, 1, 2, tzinfo=PLUS_TWO)),
            created_at=TimeWindow(lte=datetime(2026, 5, 3, tzinfo=UTC)),
        )
        params = endpoints.export_query(PROJECT, options)
        assert params == {
            "project": PROJECT,
            "format": "ndjson",
            "type": "issue",
            "stage": '["Review","Complete"]',
            "batches": '["b1","b2"]',
            "taskTypes": '["default","consensus"]',
            "includeMetadata": "false",
            "includeHistory": "false",
            "includeOnlyKeyFrames": "true",
            "includeIdleBlurDurations": "true",
            "sendEmail": "true",
            "doNotNotify": "false",
            "updatedAt": '{"$gt":"2026-05-01T00:00:00.000Z"}',
            "createdAt": '{"$lte":"2026-05-03T00:00:00.000Z"}',
        }
        assert json.loads(params["updatedAt"]) == {"$gt": "2026-05-01T00:00:00.000Z"}
