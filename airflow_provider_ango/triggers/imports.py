"""AngoAssetsImportedTrigger: waits in the triggerer until a manifest's externalIds are tasks.

Its kwargs stay small whatever the manifest's size: the manifest shard URIs, the expected
count and plain settings, never the ids. ``run()`` reads the manifest once (in a thread, as
8-byte fingerprints and the scope batches its items carry), then checks every ``poke_interval``
seconds, asking only about what is still missing (:mod:`~airflow_provider_ango.imports.watch`: a
full listing of the scope batches' tasks first, then only tasks updated since, or look-ups),
until every externalId has a task. It fires exactly one event:

- ``{"status": "success", "expected", "found", "requests", "listed"}`` when all are there;
- ``{"status": "timeout", "expected", "found", ...}`` at the deadline;
- ``{"status": "error", "error": <class>, "message": <text>, "http_status": <int or None>}`` when
  Ango or the bucket keeps failing, or anything else goes wrong (the message is scrubbed).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from airflow.triggers.base import TriggerEvent

from airflow_provider_ango.hooks.ango import AngoHubHook
from airflow_provider_ango.imports.presence import DEFAULT_PAGE_SIZE
from airflow_provider_ango.imports.sources import BucketFiles, manifest_scope, missing_external_ids
from airflow_provider_ango.imports.watch import DEFAULT_MARGIN, ImportWatch, arun_check
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
    :param updated_margin: seconds subtracted from the previous check's start in ``updatedAt``.
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
        "updated_margin",
    )

    def __init__(
        self,
        project_id: str,
        manifest_uris: list[str],
        manifest_conn_id: str | None = None,
        expected: int | None = None,
        poke_interval: float = 120.0,
        timeout_at: float | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        ango_conn_id: str = "ango_default",
        updated_margin: float = DEFAULT_MARGIN,
    ) -> None:
        super().__init__(poke_interval, timeout_at)
        self.project_id = project_id
        self.manifest_uris = list(manifest_uris)
        self.manifest_conn_id = manifest_conn_id
        self.expected = expected
        self.page_size = int(page_size)
        self.ango_conn_id = ango_conn_id
        self.updated_margin = float(updated_margin)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = AngoHubHook(ango_conn_id=self.ango_conn_id)
        files = BucketFiles(self.manifest_conn_id)
        try:
            try:
                scope = await asyncio.to_thread(manifest_scope, files, self.manifest_uris)
            except Exception as error:
                yield error_event(error)
                return
            watch = ImportWatch(scope, self.page_size, self.updated_margin)

            def read_missing(limit: int) -> list[str]:
                return missing_external_ids(files, self.manifest_uris, watch.is_missing, limit)

            async def check() -> CheckResult:
                summary = watch.summary()
                if watch.expected:
                    summary = await arun_check(watch, hook, self.project_id, read_missing)
                self.log.info(
                    "%d of %d imported externalIds have tasks in project %s (%d request(s))",
                    summary["found"],
                    summary["expected"],
                    self.project_id,
                    summary["requests"],
                )
                return summary["found"] >= summary["expected"], dict(summary)

            async for event in self.poll(check):
                yield event
        finally:
            await hook.aclose()


__all__ = ["AngoAssetsImportedTrigger"]
