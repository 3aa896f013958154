"""AngoExportTrigger: ask Ango Hub for an export in the triggerer, where the long wait costs no worker.

``GET /v2/export`` answers once Ango has built the zip, which takes minutes on a big
project; the trigger holds that request open (with the hook's retries) and fires one event:

- ``{"status": "success", "sealed_url": <Fernet token or None>, "url": <redacted URL>,
  "options": {...}}``. The signed URL is a secret until it expires, and event payloads
  are stored in Airflow's database, so it travels only encrypted with the deployment's
  Fernet key (see :mod:`airflow_provider_ango.exports.sealing`); without a Fernet key it
  is left out and the worker requests the export again.
- ``{"status": "error", "error": <class name>, "message": <text>, "http_status": <int or None>}``
  for any failure (the message scrubbed of keys and signatures).

The kwargs are plain values: project id, the export options as JSON, connection id and
timeouts. Nothing secret is serialized.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import TriggerEvent

from airflow_provider_ango.exports.sealing import seal_url
from airflow_provider_ango.hooks.ango import AngoHubHook
from airflow_provider_ango.models.export import ExportOptions
from airflow_provider_ango.triggers.base import AngoTrigger, error_event


class AngoExportTrigger(AngoTrigger):
    """Request an export of ``project_id`` with ``options`` (``ExportOptions`` as JSON, by alias).

    :param request_timeout: seconds one export request may take (Ango answers when the zip
        is ready).
    :param retry_limit: retries of the request after a 5xx, 429 or dropped connection.
    """

    serialized = ("project_id", "options", "ango_conn_id", "request_timeout", "retry_limit")

    def __init__(
        self,
        project_id: str,
        options: dict[str, Any],
        ango_conn_id: str = "ango_default",
        request_timeout: float = 3600.0,
        retry_limit: int = 3,
    ) -> None:
        super().__init__()
        self.project_id = project_id
        self.options = options
        self.ango_conn_id = ango_conn_id
        self.request_timeout = float(request_timeout)
        self.retry_limit = int(retry_limit)

    def make_hook(self) -> AngoHubHook:
        return AngoHubHook(
            ango_conn_id=self.ango_conn_id,
            timeout=self.request_timeout,
            retry_limit=self.retry_limit,
            retry_max_elapsed=max(300.0, self.request_timeout * (self.retry_limit + 1)),
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = self.make_hook()
        try:
            options = ExportOptions.model_validate(self.options)
            self.log.info(
                "Requesting an export of project %s; Ango answers when it is ready", self.project_id
            )
            url = await hook.arequest_export(self.project_id, options)
        except Exception as error:
            yield error_event(error)
            return
        finally:
            await hook.aclose()
        self.log.info("Export of project %s is ready at %s", self.project_id, url.redacted)
        yield TriggerEvent(
            {"status": "success", "sealed_url": seal_url(url), "url": url.redacted, "options": self.options}
        )


__all__ = ["AngoExportTrigger"]
