"""Time windows and listing filters, written the way Ango Hub reads them.

Ango compares times as strings of the form ``2024-05-01T00:00:00.000Z``. Its SDK writes
local times with a ``Z`` glued on; here every time is converted to UTC first, and a
datetime without a timezone is refused, because guessing its zone silently shifts a window.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_ANGO_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


def format_ango_time(moment: datetime) -> str:
    """Format an aware datetime as Ango's UTC timestamp with milliseconds (``...T12:00:00.123Z``).

    Sub-millisecond digits are dropped (floored). Both sides of a boundary shared by two
    consecutive windows are floored alike, so back-to-back windows still neither overlap nor
    leave a gap.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"naive datetime {moment.isoformat()} has no timezone; pass an aware datetime "
            "(e.g. datetime(..., tzinfo=timezone.utc) or Airflow's data_interval_start)"
        )
    in_utc = moment.astimezone(timezone.utc)
    return f"{in_utc.strftime(_ANGO_TIME_FORMAT)}.{in_utc.microsecond // 1000:03d}Z"


class TimeWindow(BaseModel):
    """Bounds on a time field, sent as ``{"$gte": ..., "$lt": ...}``.

    Use :meth:`half_open` for incremental pipelines: ``[start, end)`` windows laid end to end
    cover every instant exactly once. Ango's SDK uses ``$gt``/``$lt``, which loses any task
    updated exactly on a boundary.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    gt: datetime | None = None
    gte: datetime | None = None
    lt: datetime | None = None
    lte: datetime | None = None

    @classmethod
    def half_open(cls, start: datetime, end: datetime) -> TimeWindow:
        """The window ``start <= t < end``."""
        return cls(gte=start, lt=end)

    @field_validator("gt", "gte", "lt", "lte")
    @classmethod
    def _must_be_aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise ValueError(f"naive datetime {value.isoformat()} has no timezone; pass an aware datetime")
        return value

    @model_validator(mode="after")
    def _bounds_make_sense(self) -> TimeWindow:
        if self.gt is not None and self.gte is not None:
            raise ValueError("give either gt or gte as the lower bound, not both")
        if self.lt is not None and self.lte is not None:
            raise ValueError("give either lt or lte as the upper bound, not both")
        lower = self.gt if self.gt is not None else self.gte
        upper = self.lt if self.lt is not None else self.lte
        if lower is None and upper is None:
            raise ValueError("a time window needs at least one bound (gt, gte, lt or lte)")
        if lower is not None and upper is not None and lower > upper:
            raise ValueError(f"time window starts after it ends: {lower.isoformat()} > {upper.isoformat()}")
        return self

    def to_api(self) -> dict[str, str]:
        """The Mongo-style operator object Ango expects, times in UTC with milliseconds."""
        bounds = {"$gt": self.gt, "$gte": self.gte, "$lt": self.lt, "$lte": self.lte}
        return {
            operator: format_ango_time(moment) for operator, moment in bounds.items() if moment is not None
        }


class TaskFilter(BaseModel):
    """The ``filter`` of a task listing. Extra keys Ango understands are passed through untouched."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    stage: str | list[str] | None = None
    status: str | None = None
    batches: list[str] | None = None
    updated_at: TimeWindow | None = Field(
        default=None, validation_alias="updatedAt", serialization_alias="updatedAt"
    )

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.stage is not None:
            body["stage"] = self.stage
        if self.status is not None:
            body["status"] = self.status
        if self.batches is not None:
            body["batches"] = list(self.batches)
        if self.updated_at is not None:
            body["updatedAt"] = self.updated_at.to_api()
        body.update(self.model_extra or {})
        return body


class AssetFilter(BaseModel):
    """The ``filters`` of an asset listing; every given key must match."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str | None = Field(default=None, validation_alias="_id", serialization_alias="_id")
    external_id: str | None = Field(
        default=None, validation_alias="externalId", serialization_alias="externalId"
    )
    is_pre_labeled: bool | None = Field(
        default=None, validation_alias="isPreLabeled", serialization_alias="isPreLabeled"
    )
    batches: list[str] | None = None

    def to_api(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


__all__ = ["AssetFilter", "TaskFilter", "TimeWindow", "format_ango_time"]
