"""AngoAssetsImportedTrigger: waits in the triggerer until a manifest's externalIds are tasks.

Its kwargs stay small whatever the manifest's size: the manifest shard URIs, the expected
count and plain settings, never the ids. ``run()`` reads the manifest once (in a thread, as
8-byte fingerprints), then pages through the project's tasks every ``poke_interval``
seconds until every externalId has a task. It fires exactly one event:

- ``{"status": "success", "expected", "found", "project_tasks"}`` when all are there;
- ``{"status": "timeout", "expected", "found", ...}`` at the deadline;
- ``{"status": "error", "error": <class>, "message": <text>}`` when Ango or the bucket keeps
  failing (messages from the hooks are already free of secrets).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import TriggerEvent

from airflow_provider_ango.exceptions import AngoApiError
from airflow_provider_ango.hooks.ango import AngoHubHook
from airflow_provider_ango.hooks.bucket import BucketError
from airflow_provider_ango.imports.presence import DEFAULT_PAGE_SIZE, alist_present, task_external_id
from airflow_provider_ango.imports.sources import BucketFiles, manifest_fingerprints
from airflow_provider_ango.redaction import scrub_text
from airflow_provider_ango.triggers._polling import PollingTrigger


class AngoAssetsImportedTrigger(PollingTrigger):
    """See :class:`~airflow_provider_ango.sensors.imports.AngoAssetsImportedSensor`.

    :param project_id: the Ango project.
    :param manifest_uris: the manifest shard URIs.
    :param manifest_conn_id: the bucket connection (None: the store's default connection).
    :param expected: how many distinct externalIds the sensor found in the manifest (logged).
    :param poke_interval: seconds between two checks.
    :param timeout_at: absolute deadline (seconds since the epoch), or None.
    :param page_size: tasks per listing request.
    :param ango_conn_id: the Ango Hub connection.
    """

    def __init__(
        self,
        project_id: str,
        manifest_uris: list[str],
        manifest_conn_id: str | None = None,
        expected: int | None = None,
        poke_interval: float = 60.0,
        timeout_at: float | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        ango_conn_id: str = "ango_default",
    ) -> None:
        super().__init__(poke_interval, timeout_at)
        self.project_id = project_id
        self.manifest_uris = list(manifest_uris)
        self.manifest_conn_id = manifest_conn_id
        self.expected = expected
        self.page_size = int(page_size)
        self.ango_conn_id = ango_conn_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "project_id": self.project_id,
                "manifest_uris": self.manifest_uris,
                "manifest_conn_id": self.manifest_conn_id,
                "expected": self.expected,
                "poke_interval": self.poke_interval,
                "timeout_at": self.timeout_at,
                "page_size": self.page_size,
                "ango_conn_id": self.ango_conn_id,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = AngoHubHook(ango_conn_id=self.ango_conn_id)
        try:
            try:
                ids = await asyncio.to_thread(
                    manifest_fingerprints, BucketFiles(self.manifest_conn_id), self.manifest_uris
                )
            except (BucketError, OSError, ValueError) as error:
                yield _error_event(error)
                return
            expected = len(ids)
            while True:
                try:
                    result = await alist_present(
                        lambda page, limit: hook.aget_tasks_page(self.project_id, page, limit),
                        task_external_id,
                        ids,
                        self.page_size,
                    )
                except AngoApiError as error:
                    yield _error_event(error)
                    return
                found = len(result.found)
                summary = {"expected": expected, "found": found, "project_tasks": result.total}
                self.log.info(
                    "%d of %d imported externalIds have tasks in project %s",
                    found,
                    expected,
                    self.project_id,
                )
                if found >= expected:
                    yield TriggerEvent({"status": "success", **summary})
                    return
                if not await self.wait_for_next_check():
                    yield TriggerEvent({"status": "timeout", **summary})
                    return
        finally:
            await hook.aclose()


def _error_event(error: Exception) -> TriggerEvent:
    return TriggerEvent(
        {"status": "error", "error": type(error).__name__, "message": scrub_text(str(error))[:1000]}
    )


__all__ = ["AngoAssetsImportedTrigger"]
