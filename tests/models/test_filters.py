"""models/filters.py: task and asset filters in Ango's wire names."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow_provider_ango.models import TaskFilter, TimeWindow
from airflow_provider_ango.models.filters import AssetFilter

UTC = timezone.utc


class TestFilters:
    def test_task_filter(self) -> None:
        window = TimeWindow.half_open(datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 2, tzinfo=UTC))
        # Keys the model does not name (externalId) pass through to Ango untouched.
        task_filter = TaskFilter.model_validate(
            {
                "stage": ["Label", "Review"],
                "status": "TODO",
                "batches": ["b1"],
                "updated_at": window,
                "externalId": "a.jpg",
            }
        )
        assert task_filter.to_api() == {
            "stage": ["Label", "Review"],
            "status": "TODO",
            "batches": ["b1"],
            "updatedAt": {"$gte": "2026-05-01T00:00:00.000Z", "$lt": "2026-05-02T00:00:00.000Z"},
            "externalId": "a.jpg",
        }

    def test_empty_task_filter(self) -> None:
        assert TaskFilter().to_api() == {}

    def test_asset_filter_uses_wire_names(self) -> None:
        assert AssetFilter(external_id="a.jpg", is_pre_labeled=False, batches=["b"]).to_api() == {
            "externalId": "a.jpg",
            "isPreLabeled": False,
            "batches": ["b"],
        }
