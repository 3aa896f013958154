"""Export options -> query parameters, time windows in UTC, and the signed URL wrapper."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from airflow_provider_ango.hooks.ango import endpoints
from airflow_provider_ango.models import ExportOptions, SignedUrl, TaskFilter, TimeWindow, format_ango_time
from airflow_provider_ango.models.filters import AssetFilter

UTC = timezone.utc
PLUS_TWO = timezone(timedelta(hours=2))
PROJECT = "65a1b2c3d4e5f60718293a4b"


class TestAngoTime:
    def test_utc_with_milliseconds_and_z(self) -> None:
        assert (
            format_ango_time(datetime(2026, 5, 1, 8, 30, 5, 123456, tzinfo=UTC)) == "2026-05-01T08:30:05.123Z"
        )

    def test_converts_to_utc_first(self) -> None:
        # The SDK would write 10:00 local as "10:00...Z": two hours off.
        assert format_ango_time(datetime(2026, 5, 1, 10, 0, tzinfo=PLUS_TWO)) == "2026-05-01T08:00:00.000Z"

    def test_conversion_can_cross_midnight(self) -> None:
        assert format_ango_time(datetime(2026, 1, 1, 1, 0, tzinfo=PLUS_TWO)) == "2025-12-31T23:00:00.000Z"

    def test_sub_millisecond_digits_are_floored(self) -> None:
        assert format_ango_time(datetime(2026, 5, 1, tzinfo=UTC) + timedelta(microseconds=999)) == (
            "2026-05-01T00:00:00.000Z"
        )

    def test_naive_datetimes_are_refused(self) -> None:
        with pytest.raises(ValueError, match="naive datetime"):
            format_ango_time(datetime(2026, 5, 1, 8, 0))


class TestTimeWindow:
    def test_half_open_window(self) -> None:
        window = TimeWindow.half_open(datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 2, tzinfo=UTC))
        assert window.to_api() == {"$gte": "2026-05-01T00:00:00.000Z", "$lt": "2026-05-02T00:00:00.000Z"}

    def test_back_to_back_windows_share_the_boundary_string(self) -> None:
        boundary = datetime(2026, 5, 2, 0, 0, 0, 400, tzinfo=UTC)
        first = TimeWindow.half_open(datetime(2026, 5, 1, tzinfo=UTC), boundary).to_api()
        second = TimeWindow.half_open(boundary, datetime(2026, 5, 3, tzinfo=UTC)).to_api()
        assert first["$lt"] == second["$gte"]

    def test_every_operator(self) -> None:
        start, end = datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 2, tzinfo=UTC)
        assert set(TimeWindow(gt=start, lte=end).to_api()) == {"$gt", "$lte"}
        assert set(TimeWindow(gte=start).to_api()) == {"$gte"}
        assert set(TimeWindow(lt=end).to_api()) == {"$lt"}

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"gte": datetime(2026, 5, 1)}, "naive datetime"),
            ({"gt": datetime(2026, 5, 1, tzinfo=UTC), "gte": datetime(2026, 5, 1, tzinfo=UTC)}, "not both"),
            ({"lt": datetime(2026, 5, 1, tzinfo=UTC), "lte": datetime(2026, 5, 1, tzinfo=UTC)}, "not both"),
            (
                {"gte": datetime(2026, 5, 2, tzinfo=UTC), "lt": datetime(2026, 5, 1, tzinfo=UTC)},
                "starts after",
            ),
        ],
    )
    def test_invalid_windows(self, kwargs: dict[str, datetime], message: str) -> None:
        with pytest.raises(ValidationError, match=message):
            TimeWindow(**kwargs)

    def test_an_export_window_needs_a_bound(self) -> None:
        with pytest.raises(ValidationError, match="at least one bound"):
            ExportOptions(updated_at=TimeWindow())

    def test_iso_strings_with_an_offset_are_accepted(self) -> None:
        window = TimeWindow.model_validate({"gte": "2026-05-01T02:00:00+02:00"})
        assert window.to_api() == {"$gte": "2026-05-01T00:00:00.000Z"}


class TestExportOptions:
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

    def test_wire_names_are_accepted_too(self) -> None:
        options = ExportOptions.model_validate(
            {"type": "issue", "stage": ["Label"], "taskTypes": ["benchmark"]}
        )
        assert (options.export_type, options.stages, options.task_types) == (
            "issue",
            ["Label"],
            ["benchmark"],
        )

    @pytest.mark.parametrize(
        "bad",
        [{"format": "csv"}, {"stages": []}, {"stages": [" "]}, {"task_types": ["other"]}, {"unknown": 1}],
    )
    def test_invalid_options_fail_before_sending(self, bad: dict[str, object]) -> None:
        with pytest.raises(ValidationError):
            ExportOptions.model_validate(bad)


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


class TestSignedUrl:
    URL = "https://exports.example/_files/export/abc.zip?Expires=99&Signature=0123456789abcdef"

    def test_str_and_repr_hide_the_signature(self) -> None:
        url = SignedUrl(self.URL)
        for shown in (str(url), repr(url), f"{url}", f"{[url]}"):
            assert "0123456789abcdef" not in shown
            assert "Expires" not in shown
        assert str(url) == "https://exports.example/_files/export/abc.zip?<redacted>"
        assert url.get_secret_value() == self.URL

    def test_equality_uses_the_full_url(self) -> None:
        assert SignedUrl(self.URL) == SignedUrl(self.URL)
        assert SignedUrl(self.URL) != SignedUrl(self.URL + "0")

    def test_only_http_urls(self) -> None:
        with pytest.raises(ValueError, match="not an http"):
            SignedUrl("file:///etc/passwd?x=1")
