"""AngoAssetsImportedTrigger: waits in the triggerer until a manifest's externalIds are tasks.

Its kwargs stay small whatever the manifest's size: the manifest shard URIs, the expected
count and plain settings, never the ids. ``run()`` reads the manifest once (in a thread, as
8-byte fingerprints), then pages through the project's tasks every ``poke_interval``
seconds until every externalId has a task. It fires exactly one event:

- ``{"status": "success", "expected", "found", "project_tasks"}`` when all are there;
- ``{"status": "timeout", "expected", "found", ...}`` at the deadline;
- ``{"status": "error", "error": <class>, "message": <text>, "http_status": <int or None>}`` when
  Ango or the bucket keeps failing, or anything else goes wrong (the message is scrubbed).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from airflow.triggers.base import TriggerEvent

from airflow_provider_ango.hooks.ango import AngoHubHook
from airflow_provider_ango.imports.presence import DEFAULT_PAGE_SIZE, alist_present, task_external_id
from airflow_provider_ango.imports.sources import BucketFiles, manifest_fingerprints
from airflow_provider_ango.triggers.base import CheckResult, PollingTrigger, error_event


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

    serialized = (
        "project_id",
        "manifest_uris",
        "manifest_conn_id",
        "expected",
        "poke_interval",
        "timeout_at",
        "page_size",
        "ango_conn_id",
    )

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

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = AngoHubHook(ango_conn_id=self.ango_conn_id)
        try:
            try:
                ids = await asyncio.to_thread(
                    manifest_fingerprints, BucketFiles(self.manifest_conn_id), self.manifest_uris
                )
            except Exception as error:
                yield error_event(error)
                return

            async def check() -> CheckResult:
                result = await alist_present(
                    lambda page, limit: hook.aget_tasks_page(self.project_id, page, limit),
                    task_external_id,
                    ids,
                    self.page_size,
                )
                found, expected = len(result.found), len(ids)
                self.log.info(
                    "%d of %d imported externalIds have tasks in project %s", found, expected, self.project_id
                )
                return found >= expected, {
                    "expected": expected,
                    "found": found,
                    "project_tasks": result.total,
                }

            async for event in self.poll(check):
                yield event
        finally:
            await hook.aclose()


__all__ = ["AngoAssetsImportedTrigger"]
