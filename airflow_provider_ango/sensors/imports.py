"""AngoAssetsImportedSensor: wait until a manifest's externalIds exist as tasks in a project."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from airflow_provider_ango.imports.fingerprints import FingerprintSet
from airflow_provider_ango.imports.presence import DEFAULT_PAGE_SIZE, list_present, task_external_id
from airflow_provider_ango.imports.sources import BucketFiles, manifest_fingerprints, manifest_uris
from airflow_provider_ango.sensors.base import AngoDeferrableSensor
from airflow_provider_ango.triggers.imports import AngoAssetsImportedTrigger

_SUMMARY_KEYS = ("expected", "found", "project_tasks")


class AngoAssetsImportedSensor(AngoDeferrableSensor[dict[str, int]]):
    """Wait until every valid item of an import manifest has a task in the Ango project.

    Each check pages through the project's tasks once (``ceil(tasks / page_size)`` GETs) and
    looks their externalIds up among the manifest's, held as 8-byte fingerprints (the manifest
    is read once per worker process; invalid lines, which are never imported, are not waited
    for). Deferrable (default from ``[operators] default_deferrable``): the first check runs on
    the worker; if the wait is not over, :class:`AngoAssetsImportedTrigger` goes on in the
    triggerer with only the manifest's URIs and counts in its kwargs, and re-reads the manifest
    itself. Otherwise it pokes (``poke`` or ``reschedule`` mode).

    :param project_id: Ango project id (templated).
    :param manifest: the build operator's output, a manifest URI or a list of URIs (templated).
    :param manifest_conn_id: the bucket connection of the manifest.
    :param page_size: tasks per listing request.
    :param ango_conn_id: the Ango Hub connection.
    :param deferrable: wait in the triggerer.
    :return: ``{"expected", "found", "project_tasks"}``
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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.project_id = project_id
        self.manifest = manifest
        self.manifest_conn_id = manifest_conn_id
        self.page_size = page_size

    @cached_property
    def uris(self) -> list[str]:
        return manifest_uris(self.manifest)

    @cached_property
    def expected(self) -> FingerprintSet:
        return manifest_fingerprints(BucketFiles(self.manifest_conn_id), self.uris)

    def check(self) -> dict[str, int]:
        wanted = self.expected
        if not len(wanted):
            return {"expected": 0, "found": 0, "project_tasks": 0}
        result = list_present(
            lambda page, limit: self.hook.get_tasks_page(self.project_id, page, limit),
            task_external_id,
            wanted,
            self.page_size,
        )
        summary = {"expected": len(wanted), "found": len(result.found), "project_tasks": result.total}
        self.log.info(
            "%d of %d imported externalIds have tasks in project %s (%d tasks listed)",
            summary["found"],
            summary["expected"],
            self.project_id,
            result.total,
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


__all__ = ["AngoAssetsImportedSensor"]
