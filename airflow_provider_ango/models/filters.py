"""Listing filters, written the way Ango Hub reads them (time bounds are :class:`TimeWindow`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from airflow_provider_ango.models.window import TimeWindow


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


__all__ = ["AssetFilter", "TaskFilter"]
