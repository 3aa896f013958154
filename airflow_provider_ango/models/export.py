"""Export request options and the signed URL Ango answers with."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from airflow_provider_ango.models.window import TimeWindow
from airflow_provider_ango.redaction import redact_url

ExportFormat = Literal["json", "ndjson"]
ExportType = Literal["task", "issue"]
TaskType = Literal["default", "consensus", "benchmark"]


class ExportOptions(BaseModel):
    """Every option of ``GET /v2/export``, validated before anything is sent.

    Defaults follow Ango's UI: JSON, tasks, only the ``Complete`` stage. Annotation metadata
    and stage history are included, and nobody is notified or e-mailed. The query string Ango
    receives is built by :func:`airflow_provider_ango.hooks.ango.endpoints.export_query`.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    format: ExportFormat = "json"
    export_type: ExportType = Field(default="task", validation_alias="type", serialization_alias="type")
    stages: list[str] = Field(
        default_factory=lambda: ["Complete"],
        validation_alias="stage",
        serialization_alias="stage",
        min_length=1,
    )
    batches: list[str] | None = None
    task_types: list[TaskType] | None = Field(
        default=None, validation_alias="taskTypes", serialization_alias="taskTypes"
    )
    include_metadata: bool = Field(
        default=True, validation_alias="includeMetadata", serialization_alias="includeMetadata"
    )
    include_history: bool = Field(
        default=True, validation_alias="includeHistory", serialization_alias="includeHistory"
    )
    include_only_key_frames: bool = Field(
        default=False, validation_alias="includeOnlyKeyFrames", serialization_alias="includeOnlyKeyFrames"
    )
    include_idle_blur_durations: bool = Field(
        default=False,
        validation_alias="includeIdleBlurDurations",
        serialization_alias="includeIdleBlurDurations",
    )
    send_email: bool = Field(default=False, validation_alias="sendEmail", serialization_alias="sendEmail")
    do_not_notify: bool = Field(
        default=True, validation_alias="doNotNotify", serialization_alias="doNotNotify"
    )
    updated_at: TimeWindow | None = Field(
        default=None, validation_alias="updatedAt", serialization_alias="updatedAt"
    )
    created_at: TimeWindow | None = Field(
        default=None, validation_alias="createdAt", serialization_alias="createdAt"
    )

    @field_validator("updated_at", "created_at")
    @classmethod
    def _bounded(cls, window: TimeWindow | None) -> TimeWindow | None:
        if window is not None and not window.bounded:
            raise ValueError("a time window needs at least one bound (gt, gte, lt or lte)")
        return window

    @field_validator("stages", "batches")
    @classmethod
    def _no_blank_names(cls, values: list[str] | None) -> list[str] | None:
        if values is not None and any(not str(value).strip() for value in values):
            raise ValueError("stage and batch lists must not contain empty names")
        return values


class SignedUrl:
    """A signed download URL whose ``str``/``repr`` never show the query string (the signature).

    Call :meth:`get_secret_value` only where the URL is actually fetched; never push it to
    XCom or a log.
    """

    __slots__ = ("_url",)

    def __init__(self, url: str) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"not an http(s) URL: {redact_url(url)}")
        self._url = url

    def get_secret_value(self) -> str:
        return self._url

    @property
    def redacted(self) -> str:
        return redact_url(self._url)

    def __str__(self) -> str:
        return self.redacted

    def __repr__(self) -> str:
        return f"SignedUrl({self.redacted!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SignedUrl) and other._url == self._url

    def __hash__(self) -> int:
        return hash(self._url)


__all__ = ["ExportFormat", "ExportOptions", "ExportType", "SignedUrl", "TaskType"]
