"""imports/window.py: the listing window from the data interval (settle delay, look-back, overrides)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from airflow_provider_ango.exceptions import AngoWindowError
from airflow_provider_ango.imports.window import compute_window
from tests.imports.helpers import T0, UTC


def test_adjacent_windows_take_a_boundary_instant_exactly_once() -> None:
    day = timedelta(days=1)
    first = compute_window(T0, T0 + day, settle_delay=timedelta(minutes=15))
    second = compute_window(T0 + day, T0 + 2 * day, settle_delay=timedelta(minutes=15))
    boundary = first.end
    assert boundary == second.start == T0 + day - timedelta(minutes=15)
    assert not first.contains(boundary)
    assert second.contains(boundary)
    just_before = boundary - timedelta(microseconds=1)
    assert first.contains(just_before)
    assert not second.contains(just_before)


def test_lookback_widens_the_start_only_and_settle_delay_shifts_both_ends() -> None:
    window = compute_window(T0, T0 + timedelta(hours=1), settle_delay=300, lookback=timedelta(hours=2))
    assert window.start == T0 - timedelta(hours=2, minutes=5)
    assert window.end == T0 + timedelta(minutes=55)
    assert window.to_xcom() == {"start": "2024-04-30T21:55:00+00:00", "end": "2024-05-01T00:55:00+00:00"}


def test_a_pendulum_data_interval_stays_aware_after_the_shifts() -> None:
    import pendulum

    window = compute_window(
        pendulum.datetime(2024, 5, 1, tz="Europe/Paris"),
        pendulum.datetime(2024, 5, 2, tz="Europe/Paris"),
        settle_delay=60,
        lookback=60,
    )
    assert window.start == datetime(2024, 4, 30, 21, 58, tzinfo=UTC)
    assert window.start.utcoffset() == timedelta(0)
    assert window.end.utcoffset() == timedelta(0)
    # An empty data interval (CronTriggerTimetable) works with a look-back: [end - lookback, end).
    assert compute_window(T0, T0, lookback=timedelta(days=1)).start == T0 - timedelta(days=1)


def test_window_overrides_strings_and_utc_conversion() -> None:
    window = compute_window(
        None, None, window_start="2024-05-01T02:00:00+02:00", window_end="2024-05-02T00:00:00Z"
    )
    assert window.start == T0
    assert window.end == T0 + timedelta(days=1)
    assert window.start.tzinfo == UTC


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data_interval_start": None, "data_interval_end": None}, "no data interval"),
        ({"data_interval_start": datetime(2024, 5, 1), "data_interval_end": T0}, "no timezone"),
        ({"data_interval_start": T0 + timedelta(1), "data_interval_end": T0}, "starts after it ends"),
        ({"data_interval_start": T0, "data_interval_end": T0, "lookback": -5}, "negative"),
        ({"data_interval_start": "yesterday", "data_interval_end": T0}, "ISO-8601"),
        ({"data_interval_start": T0, "data_interval_end": T0}, "CronDataIntervalTimetable"),
    ],
)
def test_window_errors_say_what_to_do(kwargs: dict[str, Any], message: str) -> None:
    start = kwargs.pop("data_interval_start")
    end = kwargs.pop("data_interval_end")
    with pytest.raises(AngoWindowError, match=message):
        compute_window(start, end, **kwargs)
