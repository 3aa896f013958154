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

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any


class WindowError(ValueError):
    """The window cannot be computed (no data interval, naive times, start after end)."""


def to_utc(value: datetime | str, what: str) -> datetime:
    """An aware datetime (or ISO-8601 string with offset or ``Z``) converted to UTC."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError as error:
            raise WindowError(f"{what}: {text!r} is not an ISO-8601 time ({error})") from None
    if not isinstance(value, datetime):
        raise WindowError(f"{what}: expected a datetime or ISO-8601 string, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise WindowError(
            f"{what}: {value.isoformat()} has no timezone; give an offset (e.g. '2024-05-01T00:00:00Z')"
        )
    moment = value.astimezone(timezone.utc)
    # A plain datetime: pendulum's DateTime (Airflow's data interval) loses a stdlib tzinfo
    # when a timedelta is subtracted from it.
    return datetime(
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond,
        tzinfo=timezone.utc,
    )


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
            raise WindowError(f"{what}: expected a timedelta or seconds, got {value!r}") from None
    if result < timedelta(0):
        raise WindowError(f"{what} must not be negative, got {result}")
    return result


@dataclass(frozen=True)
class ImportWindow:
    """``start <= last_modified < end``, both UTC."""

    start: datetime
    end: datetime

    def contains(self, moment: datetime) -> bool:
        return self.start <= to_utc(moment, "last_modified") < self.end

    def to_xcom(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"


def compute_window(
    data_interval_start: Any,
    data_interval_end: Any,
    *,
    settle_delay: timedelta | float | str | None = None,
    lookback: timedelta | float | str | None = None,
    window_start: datetime | str | None = None,
    window_end: datetime | str | None = None,
) -> ImportWindow:
    """The window of one run (see the module docstring for the rule).

    ``window_start`` / ``window_end`` replace the data interval's ends when given (a backfill
    of a chosen range, or a run without data interval); settle delay and look-back still apply.
    """
    raw_start = window_start if window_start not in (None, "") else data_interval_start
    raw_end = window_end if window_end not in (None, "") else data_interval_end
    if raw_start is None or raw_end is None:
        raise WindowError(
            "this run has no data interval (a manual or asset-triggered run?); give window_start and "
            "window_end, e.g. window_start='{{ macros.ds_add(ds, -1) }}T00:00:00Z'"
        )
    start = to_utc(raw_start, "window start")
    end = to_utc(raw_end, "window end")
    if start > end:
        raise WindowError(f"window start {start.isoformat()} is after its end {end.isoformat()}")
    settle = to_timedelta(settle_delay, "settle_delay")
    back = to_timedelta(lookback, "lookback")
    if start == end and back == timedelta(0):
        raise WindowError(
            f"the window [{start.isoformat()}, {end.isoformat()}) is empty: this run's data interval has no "
            "length. Airflow 3 schedules cron strings with CronTriggerTimetable, whose runs have "
            "data_interval_start == data_interval_end; use schedule=CronDataIntervalTimetable('@daily', "
            "timezone='UTC') (or DeltaDataIntervalTimetable), give window_start/window_end, or set lookback"
        )
    return ImportWindow(start - settle - back, end - settle)


__all__ = ["ImportWindow", "WindowError", "compute_window", "to_timedelta", "to_utc"]
