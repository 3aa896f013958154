"""AngoAssetsImportedSensor: wait until a manifest's externalIds exist as tasks in a project."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from airflow_provider_ango.imports.presence import DEFAULT_PAGE_SIZE
from airflow_provider_ango.imports.scope import ManifestScope
from airflow_provider_ango.imports.sources import (
    BucketFiles,
    manifest_scope,
    manifest_uris,
    missing_external_ids,
)
from airflow_provider_ango.imports.watch import DEFAULT_MARGIN, ImportWatch, run_check
from airflow_provider_ango.sensors.base import AngoDeferrableSensor
from airflow_provider_ango.triggers.imports import AngoAssetsImportedTrigger

_SUMMARY_KEYS = ("expected", "found", "requests", "listed")
#: Seconds between two checks by default: an idle check costs a request or two, so a wait takes
#: about 1% of the Standard plan's 100 requests a minute (the README has the arithmetic).
DEFAULT_POKE_INTERVAL = 120.0


class AngoAssetsImportedSensor(AngoDeferrableSensor[dict[str, int]]):
    """Wait until every valid item of an import manifest has a task in the Ango project.

    Each check asks only about what is still missing (:mod:`~airflow_provider_ango.imports.watch`):
    the first lists the tasks of the manifest's scope batches (``sum(ceil(batch_tasks / 100))``
    GETs); later ones list only the tasks of those batches updated since the previous check began
    (less ``updated_margin`` seconds), or look the few missing externalIds up, whichever is cheaper,
    so they cost ``O(missing / 100)`` requests whatever the project holds. The state (one bit per
    expected id, the time of the last check) lives in the sensor in ``poke`` mode and in the
    trigger when deferred (its kwargs hold only the manifest URIs and counts; it re-reads the
    manifest and starts with a full check of its own); in ``reschedule`` mode every poke starts
    over with a full check. A manifest without scope batches lists the whole project at the first
    check. Invalid manifest lines, which are never imported, are not waited for.

    :param project_id: Ango project id (templated).
    :param manifest: the build operator's output, a manifest URI or a list of URIs (templated).
    :param manifest_conn_id: the bucket connection of the manifest.
    :param page_size: tasks per listing request (at most 100).
    :param updated_margin: seconds subtracted from the previous check's start in ``updatedAt``.
    :param poke_interval: seconds between checks (default 120).
    :param ango_conn_id: the Ango Hub connection.
    :param deferrable: wait in the triggerer.
    :return: ``{"expected", "found", "requests", "listed"}`` (the last check's cost)
    """

    template_fields: Sequence[str] = ("project_id", "manifest")
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        project_id: str,
        manifest: Any,
        manifest_conn_id: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        updated_margin: float = DEFAULT_MARGIN,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", DEFAULT_POKE_INTERVAL)
        super().__init__(**kwargs)
        if updated_margin < 0:
            raise ValueError(f"updated_margin must be >= 0 seconds, got {updated_margin!r}")
        self.project_id = project_id
        self.manifest = manifest
        self.manifest_conn_id = manifest_conn_id
        self.page_size = page_size
        self.updated_margin = updated_margin

    @cached_property
    def uris(self) -> list[str]:
        return manifest_uris(self.manifest)

    @cached_property
    def files(self) -> BucketFiles:
        return BucketFiles(self.manifest_conn_id)

    @cached_property
    def scope(self) -> ManifestScope:
        return manifest_scope(self.files, self.uris)

    @cached_property
    def watch(self) -> ImportWatch:
        return ImportWatch(self.scope, self.page_size, self.updated_margin)

    def check(self) -> dict[str, int]:
        watch = self.watch
        if not watch.expected:
            return watch.summary()
        summary = run_check(
            watch,
            self.hook,
            self.project_id,
            lambda limit: missing_external_ids(self.files, self.uris, watch.is_missing, limit),
        )
        self.log.info(
            "%d of %d imported externalIds have tasks in project %s (this check: %d request(s), %d "
            "task(s) listed)",
            summary["found"],
            summary["expected"],
            self.project_id,
            summary["requests"],
            summary["listed"],
        )
        return summary

    def is_done(self, summary: dict[str, int]) -> bool:
        return summary["found"] >= summary["expected"]

    def result(self, summary: dict[str, int]) -> dict[str, int]:
        return summary

    def trigger(self, summary: dict[str, int], timeout_at: float) -> AngoAssetsImportedTrigger:
        return AngoAssetsImportedTrigger(
            project_id=self.project_id,
            manifest_uris=self.uris,
            manifest_conn_id=self.manifest_conn_id,
            expected=summary["expected"],
            poke_interval=float(self.poke_interval),
            timeout_at=timeout_at,
            page_size=self.page_size,
            ango_conn_id=self.ango_conn_id,
            updated_margin=self.updated_margin,
        )

    def event_result(self, event: Mapping[str, Any]) -> dict[str, Any]:
        summary = {key: event.get(key) for key in _SUMMARY_KEYS}
        self.log.info("Every imported externalId has a task: %s", summary)
        return summary

    def timeout_message(self, event: Mapping[str, Any]) -> str:
        return (
            f"Timed out after {self.timeout} s waiting for the imported assets of project "
            f"{self.project_id}: {event.get('found')} of {event.get('expected')} externalIds have tasks. "
            "Check the import task's counts (invalid items are never imported) and Ango's import "
            "status, or raise `timeout`."
        )

    def what(self) -> str:
        return f"the imported assets of project {self.project_id}"


__all__ = ["DEFAULT_POKE_INTERVAL", "AngoAssetsImportedSensor"]
