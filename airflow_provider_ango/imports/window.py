"""Which files a run takes: the half-open time window over ``last_modified``.

The rule, for a run whose data interval is ``[start, end)``::

    window_start = start - settle_delay - lookback
    window_end   = end   - settle_delay
    a file is taken  <=>  window_start <= last_modified < window_end        (all in UTC)

* Back-to-back intervals give back-to-back windows (both ends move by the same settle
  delay), so every instant belongs to exactly one run's window: a file whose
  ``last_modified`` is exactly on a boundary goes to the later run, never to both.
* ``settle_delay`` leaves files younger than the delay for the next run: an upload still
  in progress when the run starts (S3 stamps a multipart upload with its *start* time) is
  not missed, and not taken half-written.
* ``lookback`` re-reads an extra stretch before the window, for files that show up late
  in listings or carry a time stamp from a clock that lags. Files seen twice that way are
  dropped at import time, because their externalIds already exist in the project.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow_provider_ango.exceptions import AngoWindowError
from airflow_provider_ango.models.window import TimeWindow, to_utc


def to_timedelta(value: timedelta | float | int | str | None, what: str) -> timedelta:
    """A duration from a timedelta or a number of seconds (templates render numbers as strings)."""
    if value is None:
        return timedelta(0)
    if isinstance(value, timedelta):
        result = value
    else:
        try:
            result = timedelta(seconds=float(value))
        except (TypeError, ValueError):
            raise AngoWindowError(f"{what}: expected a timedelta or seconds, got {value!r}") from None
    if result < timedelta(0):
        raise AngoWindowError(f"{what} must not be negative, got {result}")
    return result


def compute_window(
    data_interval_start: Any,
    data_interval_end: Any,
    *,
    settle_delay: timedelta | float | str | None = None,
    lookback: timedelta | float | str | None = None,
    window_start: datetime | str | None = None,
    window_end: datetime | str | None = None,
) -> TimeWindow:
    """The window of one run (see the module docstring for the rule).

    ``window_start`` / ``window_end`` replace the data interval's ends when given (a backfill
    of a chosen range, or a run without data interval); settle delay and look-back still apply.
    """
    raw_start = window_start if window_start not in (None, "") else data_interval_start
    raw_end = window_end if window_end not in (None, "") else data_interval_end
    if raw_start is None or raw_end is None:
        raise AngoWindowError(
            "this run has no data interval (a manual or asset-triggered run?); give window_start and "
            "window_end, e.g. window_start='{{ macros.ds_add(ds, -1) }}T00:00:00Z'"
        )
    start, end = to_utc(raw_start, "window start"), to_utc(raw_end, "window end")
    TimeWindow.half_open(start, end)  # refuses a start after the end, naming both
    settle = to_timedelta(settle_delay, "settle_delay")
    back = to_timedelta(lookback, "lookback")
    if start == end and back == timedelta(0):
        raise AngoWindowError(
            f"the window [{start.isoformat()}, {end.isoformat()}) is empty: this run's data interval has no "
            "length. Airflow 3 schedules cron strings with CronTriggerTimetable, whose runs have "
            "data_interval_start == data_interval_end; use schedule=CronDataIntervalTimetable('@daily', "
            "timezone='UTC') (or DeltaDataIntervalTimetable), give window_start/window_end, or set lookback"
        )
    return TimeWindow.half_open(start - settle - back, end - settle)


__all__ = ["compute_window", "to_timedelta"]
