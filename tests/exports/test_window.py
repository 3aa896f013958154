"""exports/window.py: the incremental window from the data interval, and windows given as arguments."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest


def test_incremental_window_is_half_open_in_utc() -> None:
    from airflow_provider_ango.exports.window import incremental_window

    start = datetime(2024, 5, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    window = incremental_window(
        {"data_interval_start": start, "data_interval_end": start + timedelta(days=1)}
    )
    assert window.to_api() == {"$gte": "2024-05-01T00:00:00.000Z", "$lt": "2024-05-02T00:00:00.000Z"}


def test_adjacent_windows_share_their_boundary_after_flooring() -> None:
    from airflow_provider_ango.exports.window import incremental_window

    boundary = datetime(2024, 5, 2, 0, 0, 0, 999_999, tzinfo=timezone.utc)  # sub-millisecond digits
    first = incremental_window(
        {"data_interval_start": boundary - timedelta(days=1), "data_interval_end": boundary}
    )
    second = incremental_window(
        {"data_interval_start": boundary, "data_interval_end": boundary + timedelta(days=1)}
    )
    assert first.to_api()["$lt"] == second.to_api()["$gte"] == "2024-05-02T00:00:00.999Z"


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ({"gte": "2024-05-01T00:00:00"}, "AngoWindowError", r"updated_at\.gte: .* has no timezone"),
        ({"after": "2024-05-01T00:00:00Z"}, "AngoExportConfigError", "updated_at: unknown bound"),
        ({"gte": "yesterday"}, "AngoWindowError", r"updated_at\.gte: 'yesterday' is not an ISO-8601 time"),
        (
            {"gte": "2024-05-02T00:00:00Z", "lt": "2024-05-01T00:00:00Z"},
            "AngoWindowError",
            "updated_at: time window starts after it ends",
        ),
        ("2024-05-01", "AngoExportConfigError", "updated_at must be a TimeWindow or a mapping"),
    ],
)
def test_bad_windows_are_named(value: Any, error: str, message: str) -> None:
    from airflow_provider_ango import exceptions
    from airflow_provider_ango.exports.window import coerce_window

    with pytest.raises(getattr(exceptions, error), match=message):
        coerce_window(value, "updated_at")


def test_window_from_rendered_templates() -> None:
    from airflow_provider_ango.exports.window import coerce_window

    window = coerce_window({"$gte": "2024-05-01T00:00:00+00:00", "$lt": "2024-05-02T00:00:00Z"}, "w")
    assert window is not None
    assert window.to_api() == {"$gte": "2024-05-01T00:00:00.000Z", "$lt": "2024-05-02T00:00:00.000Z"}
