"""Pydantic models: Ango Hub answers, listing filters, time windows, export options, import items. No I/O."""

from __future__ import annotations

from airflow_provider_ango.models.api import (
    AngoModel,
    Asset,
    Batch,
    CategorySchema,
    CategorySchemaItem,
    ImportChunkReceipt,
    Page,
    Project,
    SchemaOption,
    Stage,
    Storage,
    Task,
)
from airflow_provider_ango.models.export import ExportOptions, SignedUrl
from airflow_provider_ango.models.filters import AssetFilter, TaskFilter
from airflow_provider_ango.models.window import TimeWindow, format_ango_time, to_utc

__all__ = [
    "AngoModel",
    "Asset",
    "AssetFilter",
    "Batch",
    "CategorySchema",
    "CategorySchemaItem",
    "ExportOptions",
    "ImportChunkReceipt",
    "Page",
    "Project",
    "SchemaOption",
    "SignedUrl",
    "Stage",
    "Storage",
    "Task",
    "TaskFilter",
    "TimeWindow",
    "format_ango_time",
    "to_utc",
]
