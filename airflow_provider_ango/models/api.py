"""Pydantic models of Ango Hub API answers (the ``data`` part of ``{"status", "data"}``).

Every model keeps fields it does not know (``extra="allow"``): Ango adds fields over time and
a pipeline must pass them on rather than drop them. Python names are snake_case; the wire
names (``_id``, ``externalId``, ...) are aliases, and models accept either on input.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class AngoModel(BaseModel):
    """Base of every API model: unknown fields survive, wire names and Python names both accepted."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_api(self) -> dict[str, Any]:
        """Dump with Ango's field names, leaving out fields that were never set."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class Batch(AngoModel):
    id: str = Field(validation_alias="_id", serialization_alias="_id")
    name: str


class SchemaOption(AngoModel):
    value: str
    schema_id: str | None = Field(default=None, validation_alias="schemaId", serialization_alias="schemaId")


class CategorySchemaItem(AngoModel):
    """A tool, classification or relation of a project's ontology."""

    tool: str
    title: str
    schema_id: str = Field(validation_alias="schemaId", serialization_alias="schemaId")
    required: bool | None = None
    color: str | None = None
    classifications: list[CategorySchemaItem] = Field(default_factory=list)
    options: list[SchemaOption] = Field(default_factory=list)


class CategorySchema(AngoModel):
    tools: list[CategorySchemaItem] = Field(default_factory=list)
    classifications: list[CategorySchemaItem] = Field(default_factory=list)
    relations: list[CategorySchemaItem] = Field(default_factory=list)


class Stage(AngoModel):
    """A workflow stage (Start, Label, Review, Consensus, Hold, Complete, ...)."""

    id: str | None = None
    name: str | None = None
    type: str | None = None


class Project(AngoModel):
    id: str = Field(validation_alias="_id", serialization_alias="_id")
    name: str
    description: str | None = None
    type: str | None = None
    batches: list[Batch] = Field(default_factory=list)
    category_schema: CategorySchema | None = Field(
        default=None, validation_alias="categorySchema", serialization_alias="categorySchema"
    )
    stages: list[Stage] = Field(default_factory=list)

    def batch_ids_by_name(self) -> dict[str, str]:
        """Batch name -> id; when two batches share a name the first one wins."""
        ids: dict[str, str] = {}
        for batch in self.batches:
            ids.setdefault(batch.name, batch.id)
        return ids

    def batch_ids(self, refs: Iterable[str]) -> tuple[dict[str, str], list[str]]:
        """``(ref -> batch id, refs the project lacks)`` for batch ids or names, in order, once each.

        A ref that is the id of one of the project's batches stands for itself; otherwise it is a
        name. This is the one place where batch references are resolved (import, export, stage wait).
        """
        ids = {batch.id for batch in self.batches}
        by_name = self.batch_ids_by_name()
        found: dict[str, str] = {}
        missing: list[str] = []
        for ref in dict.fromkeys(refs):
            if ref in ids:
                found[ref] = ref
            elif ref in by_name:
                found[ref] = by_name[ref]
            else:
                missing.append(ref)
        return found, missing

    def describe_batches(self) -> str:
        """The project's batch names for an error message (``none`` when it has none)."""
        return ", ".join(repr(batch.name) for batch in self.batches) or "none"


class Asset(AngoModel):
    id: str = Field(validation_alias="_id", serialization_alias="_id")
    external_id: str | None = Field(
        default=None, validation_alias="externalId", serialization_alias="externalId"
    )
    data: Any = None
    batches: list[Any] = Field(default_factory=list)
    is_pre_labeled: bool | None = Field(
        default=None, validation_alias="isPreLabeled", serialization_alias="isPreLabeled"
    )
    metadata: dict[str, Any] | None = None
    context_data: dict[str, Any] | None = Field(
        default=None, validation_alias="contextData", serialization_alias="contextData"
    )
    created_at: datetime | None = Field(
        default=None, validation_alias="createdAt", serialization_alias="createdAt"
    )


class Task(AngoModel):
    id: str = Field(validation_alias="_id", serialization_alias="_id")
    stage: str | None = None
    stage_id: str | None = Field(default=None, validation_alias="stageId", serialization_alias="stageId")
    status: str | None = None
    project: Any = None
    asset: Any = None
    external_id: str | None = Field(
        default=None, validation_alias="externalId", serialization_alias="externalId"
    )
    batches: list[Any] = Field(default_factory=list)
    answer: Any = None
    stage_history: list[dict[str, Any]] | None = Field(
        default=None, validation_alias="stageHistory", serialization_alias="stageHistory"
    )
    updated_at: datetime | None = Field(
        default=None, validation_alias="updatedAt", serialization_alias="updatedAt"
    )
    created_at: datetime | None = Field(
        default=None, validation_alias="createdAt", serialization_alias="createdAt"
    )


class Storage(AngoModel):
    id: str = Field(validation_alias="_id", serialization_alias="_id")
    name: str | None = None
    provider: str | None = None


ItemT = TypeVar("ItemT", bound=BaseModel)


class Page(BaseModel, Generic[ItemT]):
    """One page of a listing; ``page`` counts from 1 as Ango does."""

    items: list[ItemT]
    total: int | None = None
    page: int
    limit: int

    @property
    def is_last(self) -> bool:
        """No page after this one: it came back short, or it reaches ``total``."""
        if len(self.items) < self.limit:
            return True
        return self.total is not None and self.page * self.limit >= self.total


class ImportChunkReceipt(BaseModel):
    """What one import POST sent and what Ango answered (an opaque receipt, not a confirmation)."""

    chunk_index: int
    item_count: int
    first_external_id: str | None = None
    last_external_id: str | None = None
    response: Any = None


__all__ = [
    "AngoModel",
    "Asset",
    "Batch",
    "CategorySchema",
    "CategorySchemaItem",
    "ImportChunkReceipt",
    "Page",
    "Project",
    "SchemaOption",
    "Stage",
    "Storage",
    "Task",
]
