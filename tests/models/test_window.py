"""models/window.py: Ango's time format, and the one TimeWindow (half-open, UTC, every bound)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from airflow_provider_ango.models import TimeWindow, format_ango_time

UTC = timezone.utc


PLUS_TWO = timezone(timedelta(hours=2))


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

    def test_iso_strings_with_an_offset_are_accepted(self) -> None:
        window = TimeWindow.model_validate({"gte": "2026-05-01T02:00:00+02:00"})
        assert window.to_api() == {"$gte": "2026-05-01T00:00:00.000Z"}


def test_window_is_half_open() -> None:
    t = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)
    window = TimeWindow.half_open(t, t + timedelta(hours=1))
    assert t in window
    assert t + timedelta(hours=1) not in window
    assert t - timedelta(microseconds=1) not in window
    assert t + timedelta(minutes=59, seconds=59, microseconds=999999) in window
    assert t not in TimeWindow.half_open(t, t)  # empty, and allowed
    assert t in TimeWindow.half_open(None, None)


def test_window_compares_instants_across_time_zones() -> None:
    plus_two = timezone(timedelta(hours=2))
    window = TimeWindow.half_open(datetime(2024, 6, 1, 14, 0, tzinfo=plus_two), None)
    assert window.start == datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)
    assert datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc) in window
