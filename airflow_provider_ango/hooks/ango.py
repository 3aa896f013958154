"""AngoHubHook: Ango Hub's REST API for Airflow (sync, plus the async calls triggers need)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import httpx

from airflow_provider_ango.exceptions import AngoApiError, AngoExportError, AngoNotFoundError, scrub_text
from airflow_provider_ango.hooks import _endpoints as endpoints
from airflow_provider_ango.hooks._asset_import import AssetImportMixin, chunked
from airflow_provider_ango.hooks._core import (
    DEFAULT_HOST,
    AngoConnectionSettings,
    base_url_from_host,
    log,
)
from airflow_provider_ango.hooks._download import iter_signed_url
from airflow_provider_ango.hooks._transport import ApiCall, RetryPolicy
from airflow_provider_ango.models.api import Asset, CategorySchema, Page, Project, Storage, Task
from airflow_provider_ango.models.export import ExportOptions, SignedUrl
from airflow_provider_ango.models.filters import AssetFilter, TaskFilter

TaskFilterArg = TaskFilter | Mapping[str, Any] | None
AssetFilterArg = AssetFilter | Mapping[str, Any] | None


class AngoHubHook(AssetImportMixin):
    """Talk to Ango Hub (iMerit) through its REST API.

    Connection (type ``ango``): host = Ango Hub URL (default ``https://imeritapi.ango.ai``,
    scheme optional), password = API key, extra ``organization_id`` (optional). Nothing is
    fetched in ``__init__``; the HTTP client is built on first use and released by
    :meth:`close` (or ``with hook:``; ``aclose`` / ``async with`` on the async side).

    Every request has a timeout. Failures are retried with exponential backoff and full
    jitter, honouring ``Retry-After`` (seconds or HTTP date), bounded by ``retry_limit``
    retries and ``retry_max_elapsed`` seconds. Whether a call is repeated depends on whether
    it may already have been applied:

    * **Safe to repeat** - every GET (projects, assets, tasks, task history, export request,
      storages, bucket files, metrics), DELETE storage, set category schema (it replaces
      the whole ontology): retried on 429, 500, 502, 503, 504, connection errors, timeouts
      and dropped connections.
    * **Not safe to repeat** - cloud import, label import, create project, create storage,
      requeue: retried only when the failure proves Ango did not process the request (429;
      503 with ``Retry-After``; connection refused or connect timeout). After a failure that
      may have come after processing (read timeout, connection dropped after sending,
      500/502/504, 503 without ``Retry-After``) :class:`AngoAmbiguousWriteError` is raised
      at once, so that the caller re-checks Ango's state before sending again.
    * **Create batch** (inside :meth:`resolve_batches`) - as the unsafe writes, but after an
      ambiguous failure the hook re-reads the project's batches and creates the batch again
      only if it is still missing.

    When the budget is spent the error is typed: :class:`AngoRateLimitError`,
    :class:`AngoServerError`, :class:`AngoConnectionError`; other statuses raise at once
    (:class:`AngoAuthError`, :class:`AngoNotFoundError`, :class:`AngoValidationError`).

    :param ango_conn_id: Airflow connection id.
    :param timeout: seconds allowed for each request (connecting gets at most 10 of them).
    :param retry_limit: retries after the first attempt.
    :param retry_max_wait: ceiling of one backoff wait in seconds (a longer ``Retry-After``
        is still honoured if the elapsed-time budget allows it).
    :param retry_max_elapsed: no retry starts whose wait would end later than this many
        seconds after the first attempt.
    :param retry_initial_wait: ceiling of the first backoff wait; it doubles each retry.
    """

    conn_name_attr = "ango_conn_id"
    default_conn_name = "ango_default"
    conn_type = "ango"
    hook_name = "Ango Hub"

    def test_connection(self) -> tuple[bool, str]:
        """Check URL and API key with one cheap authenticated call (``GET /v2/listProjects``)."""
        try:
            settings = self.settings
            transport = self._make_transport(settings, RetryPolicy(max_retries=1, max_elapsed=15))
            data = transport.send(self.client, endpoints.list_projects(1, 1))
        except AngoApiError as error:
            return False, str(error)
        except Exception as error:
            secrets = (self.settings.api_key,) if "settings" in self.__dict__ else ()
            return False, scrub_text(f"{type(error).__name__}: {error}", secrets)
        total = data.get("total") if isinstance(data, Mapping) else None
        return True, f"Connected to Ango Hub at {settings.base_url}; the key sees {total} project(s)"

    # -- projects and ontology -----------------------------------------------------------
    def get_projects_page(self, page: int = 1, limit: int = 50) -> Page[Project]:
        data = self._call(endpoints.list_projects(page, limit))
        return endpoints.parse_page(data, "projects", Project, page, limit)

    def iter_projects(self, page_size: int = 50) -> Iterator[Project]:
        """Every project the key can see, one page request at a time."""
        yield from self._iterate(lambda page: self.get_projects_page(page, page_size))

    def create_project(self, name: str, description: str = "", project_type: str | None = None) -> Project:
        """Create a project (not retried after an ambiguous failure: it could make a twin)."""
        data = self._call(endpoints.create_project(name, description, project_type))
        return Project.model_validate(endpoints.field_of(data, "project"))

    def set_category_schema(
        self, project_id: str, category_schema: CategorySchema | Mapping[str, Any]
    ) -> Project:
        """Replace the project's ontology (tools, classifications, relations)."""
        if isinstance(category_schema, CategorySchema):
            schema: Mapping[str, Any] = category_schema.to_api()
        else:
            schema = category_schema
        data = self._call(endpoints.set_category_schema(project_id, schema))
        return Project.model_validate(endpoints.field_of(data, "project"))

    # -- assets and tasks ----------------------------------------------------------------
    def get_assets_page(
        self, project_id: str, page: int = 1, limit: int = 100, filters: AssetFilterArg = None
    ) -> Page[Asset]:
        body = filters.to_api() if isinstance(filters, AssetFilter) else dict(filters or {})
        data = self._call(endpoints.list_assets(project_id, page, limit, body))
        return endpoints.parse_page(data, "assets", Asset, page, limit)

    def iter_assets(
        self, project_id: str, filters: AssetFilterArg = None, page_size: int = 100
    ) -> Iterator[Asset]:
        """Assets matching ``filters`` (all keys must match), one page request at a time."""
        yield from self._iterate(lambda page: self.get_assets_page(project_id, page, page_size, filters))

    def count_assets(self, project_id: str, filters: AssetFilterArg = None) -> int:
        return _total(self.get_assets_page(project_id, 1, 1, filters))

    def get_tasks_page(
        self,
        project_id: str,
        page: int = 1,
        limit: int = 100,
        task_filter: TaskFilterArg = None,
        *,
        include_answer: bool = False,
        sort: str | None = None,
        fields: Sequence[str] | str | None = None,
    ) -> Page[Task]:
        call = _tasks_call(project_id, page, limit, task_filter, include_answer, sort, fields)
        return endpoints.parse_page(self._call(call), "tasks", Task, page, limit)

    def iter_tasks(
        self,
        project_id: str,
        task_filter: TaskFilterArg = None,
        *,
        include_answer: bool = False,
        sort: str | None = None,
        fields: Sequence[str] | str | None = None,
        page_size: int = 100,
    ) -> Iterator[Task]:
        """Tasks one page request at a time.

        Pages are offsets into a live listing: when tasks can change while iterating, filter on
        a closed ``updatedAt`` window (tasks changing now fall outside it) and pass a ``sort``.
        """

        def fetch(page: int) -> Page[Task]:
            return self.get_tasks_page(
                project_id,
                page,
                page_size,
                task_filter,
                include_answer=include_answer,
                sort=sort,
                fields=fields,
            )

        yield from self._iterate(fetch)

    def count_tasks(self, project_id: str, task_filter: TaskFilterArg = None) -> int:
        return _total(self.get_tasks_page(project_id, 1, 1, task_filter))

    def get_task(self, task_id: str, include_answer: bool = True) -> Task:
        data = self._call(endpoints.get_task(task_id, include_answer))
        return Task.model_validate(endpoints.field_of(data, "task"))

    def get_task_history(self, task_id: str) -> Any:
        """The task's stage history as Ango answers it (shape not documented; passed through)."""
        return self._call(endpoints.get_task_history(task_id))

    def requeue_tasks(
        self,
        project_id: str,
        to_stage_id: str,
        *,
        task_ids: Sequence[str] = (),
        external_ids: Sequence[str] = (),
        asset_ids: Sequence[str] = (),
        from_stage_ids: Sequence[str] = (),
        remove_annotations: bool = False,
        remove_assignee: bool = False,
        remove_stage_history: bool = False,
    ) -> Any:
        """Send the selected tasks to stage ``to_stage_id``; at least one selector is required."""
        selectors = {
            "taskIds": list(task_ids),
            "externalIds": list(external_ids),
            "assetIds": list(asset_ids),
            "fromStageIds": list(from_stage_ids),
        }
        # Selectors combine with AND, so an empty list would match nothing: only given ones are sent.
        filters = {key: values for key, values in selectors.items() if values}
        if not filters:
            # No selector at all could mean "every task" to the server; never send that by accident.
            raise ValueError("requeue_tasks needs task_ids, external_ids, asset_ids or from_stage_ids")
        options = {
            "removeAnnotations": remove_annotations,
            "removeAssignee": remove_assignee,
            "removeStageHistory": remove_stage_history,
        }
        return self._call(endpoints.requeue_tasks(project_id, to_stage_id, filters, options))

    # -- export --------------------------------------------------------------------------
    def request_export(self, project_id: str, options: ExportOptions | None = None) -> SignedUrl:
        """Ask Ango for an export; returns the zip's signed URL (its ``str``/``repr`` hide the signature)."""
        return _signed_url(self._call(endpoints.request_export(project_id, options or ExportOptions())))

    @contextmanager
    def open_export_stream(
        self, url: SignedUrl | str, chunk_size: int = 1 << 20
    ) -> Iterator[Iterator[bytes]]:
        """Yield an iterator over the export zip's bytes, streamed and never held whole.

        A dropped connection or short body is resumed with ``Range: bytes=<received>-``, within
        the hook's retry budget. An expired URL raises :class:`AngoAuthError`.
        """
        raw_url = url.get_secret_value() if isinstance(url, SignedUrl) else url
        # No apikey header here: the URL signs itself and may point at a third-party bucket.
        headers = {"User-Agent": self.user_agent}
        with httpx.Client(headers=headers, timeout=self.http_timeout, follow_redirects=True) as client:
            chunks = iter_signed_url(
                client, raw_url, policy=self.retry_policy, log=log, sleep=self._sleep, chunk_size=chunk_size
            )
            try:
                yield chunks
            finally:
                chunks.close()  # type: ignore[attr-defined]

    # -- storages and metrics ------------------------------------------------------------
    def list_storages(self, storage_id: str | None = None) -> list[Storage]:
        data = self._call(endpoints.list_storages(storage_id))
        return [Storage.model_validate(item) for item in endpoints.field_of(data, "storages") or []]

    def create_storage(
        self,
        name: str,
        provider: endpoints.StorageProvider,
        *,
        public_key: str | None = None,
        private_key: str | None = None,
        region: str | None = None,
        credentials: str | None = None,
    ) -> Storage:
        """Register a bucket integration; the private key and credentials are kept out of errors."""
        call = endpoints.create_storage(
            name,
            provider,
            public_key=public_key,
            private_key=private_key,
            region=region,
            credentials=credentials,
        )
        data = self._call(call)
        storage = data.get("storage", data) if isinstance(data, Mapping) else data
        return Storage.model_validate(storage)

    def delete_storage(self, storage_id: str, missing_ok: bool = False) -> None:
        """Delete a storage integration.

        DELETE is retried like a read, so if a first attempt went through unseen, the retry
        answers 404; ``missing_ok=True`` treats "already gone" as done.
        """
        try:
            self._call(endpoints.delete_storage(storage_id))
        except AngoNotFoundError:
            if not missing_ok:
                raise

    def list_storage_files(
        self,
        storage_id: str,
        bucket_name: str,
        path: str = "",
        *,
        get_signed_urls: bool = False,
        retry_on_slow_down: bool = True,
    ) -> Any:
        call = endpoints.list_storage_files(
            storage_id,
            bucket_name,
            path,
            get_signed_urls=get_signed_urls,
            retry_on_slow_down=retry_on_slow_down,
        )
        return self._call(call)

    def get_metric(self, project_id: str, metric: endpoints.Metric) -> Any:
        return self._call(endpoints.get_metric(project_id, metric))

    # -- async, for triggers -------------------------------------------------------------
    async def aget_project(self, project_id: str) -> Project:
        data = await self._acall(endpoints.get_project(project_id))
        return Project.model_validate(endpoints.field_of(data, "project"))

    async def aget_task(self, task_id: str, include_answer: bool = True) -> Task:
        data = await self._acall(endpoints.get_task(task_id, include_answer))
        return Task.model_validate(endpoints.field_of(data, "task"))

    async def aget_tasks_page(
        self,
        project_id: str,
        page: int = 1,
        limit: int = 100,
        task_filter: TaskFilterArg = None,
        *,
        include_answer: bool = False,
        sort: str | None = None,
        fields: Sequence[str] | str | None = None,
    ) -> Page[Task]:
        call = _tasks_call(project_id, page, limit, task_filter, include_answer, sort, fields)
        return endpoints.parse_page(await self._acall(call), "tasks", Task, page, limit)

    async def aiter_tasks(
        self, project_id: str, task_filter: TaskFilterArg = None, *, page_size: int = 100
    ) -> AsyncIterator[Task]:
        for page_number in itertools.count(1):
            page = await self.aget_tasks_page(project_id, page_number, page_size, task_filter)
            for task in page.items:
                yield task
            if page.is_last:
                return

    async def acount_tasks(self, project_id: str, task_filter: TaskFilterArg = None) -> int:
        return _total(await self.aget_tasks_page(project_id, 1, 1, task_filter))

    async def arequest_export(self, project_id: str, options: ExportOptions | None = None) -> SignedUrl:
        return _signed_url(
            await self._acall(endpoints.request_export(project_id, options or ExportOptions()))
        )


def _tasks_call(
    project_id: str,
    page: int,
    limit: int,
    task_filter: TaskFilterArg,
    include_answer: bool,
    sort: str | None,
    fields: Sequence[str] | str | None,
) -> ApiCall:
    body = task_filter.to_api() if isinstance(task_filter, TaskFilter) else dict(task_filter or {})
    return endpoints.list_tasks(
        project_id, page, limit, body, include_answer=include_answer, sort=sort, fields=fields
    )


def _total(page: Page[Any]) -> int:
    if page.total is None:
        raise AngoApiError(None, "GET", "-", "Ango Hub answered without 'total'; cannot count")
    return page.total


def _signed_url(data: Any) -> SignedUrl:
    export_path = data.get("exportPath") if isinstance(data, Mapping) else None
    if not isinstance(export_path, str) or not export_path:
        raise AngoExportError(200, "GET", "/v2/export", "the export answer has no exportPath")
    return SignedUrl(export_path)


__all__ = [
    "DEFAULT_HOST",
    "AngoConnectionSettings",
    "AngoHubHook",
    "base_url_from_host",
    "chunked",
]
