"""The one time-window type, and the one conversion of a time to UTC, used everywhere.

A :class:`TimeWindow` bounds a time on either side (``gt``/``gte`` below, ``lt``/``lte`` above;
an open end is ``None``). The bucket listing filters ``last_modified`` with it, the import takes
the files of a run's window with it, and the export sends it to Ango as ``updatedAt`` /
``createdAt``. Pipelines use half-open windows ``[start, end)``: windows laid end to end then
hold every instant exactly once.

Every bound is converted to UTC by :func:`to_utc`, which refuses a datetime without a timezone
(guessing its zone would silently shift a window). Ango compares times as strings of the form
``2024-05-01T00:00:00.000Z``; its SDK writes local times with a ``Z`` glued on, so here
:func:`format_ango_time` converts first.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from airflow_provider_ango.exceptions import AngoWindowError

_ANGO_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


def to_utc(value: datetime | str, what: str) -> datetime:
    """An aware datetime, or ISO-8601 text with an offset or ``Z``, as a plain UTC datetime.

    Raises :class:`AngoWindowError` naming ``what`` for naive times and unreadable text. The
    result is a stdlib ``datetime`` even for pendulum input (Airflow's data interval), which
    loses a stdlib tzinfo when a timedelta is subtracted from it.
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            # Python 3.10's fromisoformat does not read "Z".
            value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise AngoWindowError(
                f"{what}: {text!r} is not an ISO-8601 time; use e.g. '2024-05-01T00:00:00+00:00' "
                "or '{{ data_interval_start }}'"
            ) from None
    if not isinstance(value, datetime):
        raise AngoWindowError(f"{what}: expected a datetime or ISO-8601 text, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise AngoWindowError(
            f"{what}: {value.isoformat()} has no timezone; pass an aware datetime (e.g. "
            "datetime(..., tzinfo=timezone.utc), or Airflow's data_interval_start) or text with an "
            "offset such as '2024-05-01T00:00:00Z'"
        )
    moment = value.astimezone(timezone.utc)
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


def format_ango_time(moment: datetime) -> str:
    """Ango's UTC timestamp with milliseconds (``...T12:00:00.123Z``); sub-millisecond digits floored.

    Both sides of a boundary shared by two consecutive windows are floored alike, so back-to-back
    windows still neither overlap nor leave a gap.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"naive datetime {moment.isoformat()} has no timezone; pass an aware datetime "
            "(e.g. datetime(..., tzinfo=timezone.utc) or Airflow's data_interval_start)"
        )
    in_utc = moment.astimezone(timezone.utc)
    return f"{in_utc.strftime(_ANGO_TIME_FORMAT)}.{in_utc.microsecond // 1000:03d}Z"


class TimeWindow(BaseModel):
    """Bounds on a time; each end open (``None``), inclusive (``gte``/``lte``) or exclusive."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gt: datetime | None = None
    gte: datetime | None = None
    lt: datetime | None = None
    lte: datetime | None = None

    @classmethod
    def half_open(
        cls,
        start: datetime | str | None,
        end: datetime | str | None,
        names: tuple[str, str] = ("window start", "window end"),
    ) -> TimeWindow:
        """``start <= t < end``; either end may be open. Errors name the bound by ``names``."""
        lower = None if start is None else to_utc(start, names[0])
        upper = None if end is None else to_utc(end, names[1])
        if lower is not None and upper is not None and lower > upper:
            raise AngoWindowError(_reversed(names, lower, upper))
        return cls(gte=lower, lt=upper)

    @field_validator("gt", "gte", "lt", "lte", mode="before")
    @classmethod
    def _in_utc(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, datetime) and (value.tzinfo is None or value.utcoffset() is None):
            raise ValueError(f"naive datetime {value.isoformat()} has no timezone; pass an aware datetime")
        return to_utc(value, "time window bound")

    @model_validator(mode="after")
    def _bounds_make_sense(self) -> TimeWindow:
        if self.gt is not None and self.gte is not None:
            raise ValueError("give either gt or gte as the lower bound, not both")
        if self.lt is not None and self.lte is not None:
            raise ValueError("give either lt or lte as the upper bound, not both")
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError(_reversed(("the lower bound", "the upper bound"), self.start, self.end))
        return self

    @property
    def start(self) -> datetime | None:
        """The lower bound (inclusive or not), or ``None``."""
        return self.gt if self.gt is not None else self.gte

    @property
    def end(self) -> datetime | None:
        """The upper bound (inclusive or not), or ``None``."""
        return self.lt if self.lt is not None else self.lte

    @property
    def bounded(self) -> bool:
        return self.start is not None or self.end is not None

    def contains(self, moment: datetime) -> bool:
        """Whether ``moment`` (aware) falls in the window."""
        if moment.tzinfo is not timezone.utc:  # listings hand out UTC already; skip the conversion
            moment = to_utc(moment, "time")
        if (self.gt is not None and moment <= self.gt) or (self.gte is not None and moment < self.gte):
            return False
        return not (
            (self.lt is not None and moment >= self.lt) or (self.lte is not None and moment > self.lte)
        )

    def __contains__(self, moment: object) -> bool:
        return isinstance(moment, datetime) and self.contains(moment)

    def to_api(self) -> dict[str, str]:
        """The Mongo-style operator object Ango expects, times in UTC with milliseconds."""
        bounds = {"$gt": self.gt, "$gte": self.gte, "$lt": self.lt, "$lte": self.lte}
        return {
            operator: format_ango_time(moment) for operator, moment in bounds.items() if moment is not None
        }

    def to_xcom(self) -> dict[str, str | None]:
        """``{"start", "end"}`` as ISO-8601 UTC text (``None`` for an open end)."""
        return {
            "start": self.start.isoformat() if self.start is not None else None,
            "end": self.end.isoformat() if self.end is not None else None,
        }

    def __str__(self) -> str:
        left = "(" if self.gt is not None or self.start is None else "["
        right = "]" if self.lte is not None else ")"
        start = self.start.isoformat() if self.start is not None else "-inf"
        end = self.end.isoformat() if self.end is not None else "+inf"
        return f"{left}{start}, {end}{right}"


def _reversed(names: tuple[str, str], start: datetime, end: datetime) -> str:
    return (
        f"time window starts after it ends: {names[0]} {start.isoformat()} is later than {names[1]} "
        f"{end.isoformat()}; give the earlier time first (windows are [start, end))"
    )


__all__ = ["TimeWindow", "format_ango_time", "to_utc"]
