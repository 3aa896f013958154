"""AngoHubHook: Ango Hub's REST API for Airflow (sync, plus the async calls triggers need)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from airflow.sdk.bases.hook import BaseHook

from airflow_provider_ango.exceptions import (
    AngoAmbiguousWriteError,
    AngoApiError,
    AngoBatchNotFoundError,
    AngoNotFoundError,
)
from airflow_provider_ango.hooks.ango import endpoints
from airflow_provider_ango.hooks.ango.connection import AngoSession, user_agent
from airflow_provider_ango.hooks.ango.download import open_signed_url
from airflow_provider_ango.hooks.ango.endpoints import AssetFilterArg, ImportItem, TaskFilterArg
from airflow_provider_ango.hooks.ango.paging import STABLE_SORT, page_size, walk_for
from airflow_provider_ango.hooks.ango.transport import RetryPolicy
from airflow_provider_ango.models.api import (
    Asset,
    CategorySchema,
    ImportChunkReceipt,
    Page,
    Project,
    Storage,
    Task,
)
from airflow_provider_ango.models.export import ExportOptions, SignedUrl
from airflow_provider_ango.redaction import scrub_text

if TYPE_CHECKING:
    from types import TracebackType

    from pydantic import BaseModel

# One logger for the whole hook, stdlib so that Airflow's task log and pytest's caplog both see it.
log = logging.getLogger("airflow_provider_ango.hooks.ango")
ModelT = TypeVar("ModelT", bound="BaseModel")


class AngoHubHook(BaseHook):
    """Talk to Ango Hub (iMerit) through its REST API.

    Connection (type ``ango``): host = Ango Hub URL (default ``https://imeritapi.ango.ai``),
    password = API key. Nothing is fetched in ``__init__``; clients are built on first use and
    released by :meth:`close` / :meth:`aclose` (or ``with`` / ``async with``).

    Every request has a timeout; failures are retried with exponential backoff and full jitter,
    honouring ``Retry-After``, within ``retry_limit`` retries and ``retry_max_elapsed`` seconds
    (``retry_initial_wait`` doubling up to ``retry_max_wait``). Writes that must not be applied
    twice are retried only when the failure proves Ango did not process them; otherwise
    :class:`AngoAmbiguousWriteError` is raised at once so the caller can check Ango's state.
    The README's "Timeouts, retries and what is never sent twice" has the whole table.
    """

    conn_name_attr = "ango_conn_id"
    default_conn_name = "ango_default"
    conn_type = "ango"
    hook_name = "Ango Hub"

    def __init__(
        self,
        ango_conn_id: str = default_conn_name,
        timeout: float = 60.0,
        retry_limit: int = 5,
        retry_max_wait: float = 60.0,
        retry_max_elapsed: float = 300.0,
        retry_initial_wait: float = 1.0,
        rate_limit_timeout: float = 1800.0,
    ) -> None:
        super().__init__()
        if timeout <= 0:
            raise ValueError("timeout must be > 0 seconds")
        self.ango_conn_id = ango_conn_id
        self.timeout = timeout
        self.retry_policy = RetryPolicy(
            retry_limit, retry_initial_wait, retry_max_wait, retry_max_elapsed, rate_limit_timeout
        )
        self.session = AngoSession(
            lambda: self.get_connection(self.ango_conn_id),
            lambda: self.aget_connection(self.ango_conn_id),
            timeout=timeout,
            policy=self.retry_policy,
            log=log,
            conn_id=ango_conn_id,
        )
        self._call = self.session.call
        self._acall = self.session.acall

    @property
    def user_agent(self) -> str:
        return user_agent()

    @property
    def batch_refs(self) -> str:
        """How this connection's cloud imports name batches: ``ids`` or ``names``."""
        return self.session.settings.batch_refs

    @property
    def base_url(self) -> str:
        """The Ango Hub API's base URL of this connection (no ``/v2``, no key): read, never called."""
        return self.session.settings.base_url

    @property
    def ui_url(self) -> str | None:
        """Ango Hub's web app for this connection's links (extra ``ui_url``), None for the default."""
        return self.session.settings.ui_url

    def get_conn(self) -> httpx.Client:
        """The sync ``httpx.Client`` (built on first use, released by :meth:`close`)."""
        return self.session.client

    def close(self) -> None:
        """Close the sync client (a later call builds a new one)."""
        self.session.close()

    def shut(self, reason: str = "the task is being killed") -> None:
        """Close every client now, requests and downloads in flight included, and refuse every later
        call with :class:`~airflow_provider_ango.exceptions.AngoHookClosedError` (``on_kill``)."""
        self.session.shut(reason)

    async def aclose(self) -> None:
        """Close the async client, and the sync one if it was opened."""
        await self.session.aclose()

    def __enter__(self) -> AngoHubHook:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> AngoHubHook:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def test_connection(self) -> tuple[bool, str]:
        """Check URL and API key with one cheap authenticated call (``GET /v2/listProjects``)."""
        session = self.session
        try:
            settings = session.settings
            policy = RetryPolicy(max_retries=1, max_elapsed=15, rate_limit_timeout=15)
            transport = session.transport(settings, policy)
            data = transport.send(session.client, endpoints.list_projects(1, 1))
        except AngoApiError as error:
            return False, str(error)
        except Exception as error:
            return False, scrub_text(f"{type(error).__name__}: {error}", session.secrets())
        total = data.get("total") if isinstance(data, Mapping) else None
        return True, f"Connected to Ango Hub at {settings.base_url}; the key sees {total} project(s)"

    @staticmethod
    def _iterate(
        fetch: Callable[[int, int], Page[ModelT]], page_size: int, sort: str | None = STABLE_SORT
    ) -> Iterator[ModelT]:
        """Items of consecutive pages, each fetched only when the previous is used up (ends by ``total``;
        in the stable order, other writers' deletes never make it skip an item; see ``paging``)."""
        walk = walk_for(page_size, sort)
        while (request := walk.next_request()) is not None:
            yield from walk.take(fetch(*request))
            if not walk.more():
                return

    # -- projects, ontology and batches ---------------------------------------------------
    def get_project(self, project_id: str) -> Project:
        data = self._call(endpoints.get_project(project_id))
        return Project.model_validate(endpoints.field_of(data, "project"))

    def get_projects_page(
        self, page: int = 1, limit: int = 50, sort: str | None = STABLE_SORT
    ) -> Page[Project]:
        """One page of the projects the key can see (``limit`` capped at 100, the documented maximum)."""
        data = self._call(endpoints.list_projects(page, limit, sort))
        return endpoints.parse_page(data, "projects", Project, page, page_size(limit))

    def iter_projects(self, page_size: int = 50) -> Iterator[Project]:
        """Every project the key can see, a page (at most 100) per request, in a stable order."""
        yield from self._iterate(self.get_projects_page, page_size)

    def create_project(self, name: str, description: str = "", project_type: str | None = None) -> Project:
        """Create a project (not retried after an ambiguous failure: it could make a twin)."""
        data = self._call(endpoints.create_project(name, description, project_type))
        return Project.model_validate(endpoints.field_of(data, "project"))

    def set_category_schema(
        self, project_id: str, category_schema: CategorySchema | Mapping[str, Any]
    ) -> Project:
        """Replace the project's ontology (tools, classifications, relations)."""
        schema = category_schema.to_api() if isinstance(category_schema, CategorySchema) else category_schema
        data = self._call(endpoints.set_category_schema(project_id, schema))
        return Project.model_validate(endpoints.field_of(data, "project"))

    def resolve_batches(
        self,
        project_id: str,
        refs: Iterable[str],
        create_missing: bool = False,
        *,
        project: Project | None = None,
    ) -> dict[str, str]:
        """Batch names or ids -> ids: one project read per call (none when ``project`` is given).

        A missing name raises :class:`AngoBatchNotFoundError` listing all of them, unless
        ``create_missing``, which creates each with one POST; if the create answers do not list
        the new batches, one more project read finds them.
        """
        project = project if project is not None else self.get_project(project_id)
        found, missing = project.batch_ids(refs)
        if missing and not create_missing:
            raise AngoBatchNotFoundError.of(project, missing, "create_missing=True")
        known = project.batch_ids_by_name()
        for name in missing:
            known.update(self._create_batch(project_id, name, known))
        if any(name not in known for name in missing):
            known = self.get_project(project_id).batch_ids_by_name()
        return {**found, **{name: known[name] for name in missing}}

    def _create_batch(self, project_id: str, name: str, known: Mapping[str, str]) -> dict[str, str]:
        """Create one batch; after an ambiguous failure, re-read the batches before creating again."""
        reading = self.session.settings.api_reading
        existing = [{"_id": batch_id, "name": batch_name} for batch_name, batch_id in known.items()]
        try:
            data = self._call(endpoints.create_batch(project_id, name, reading, existing))
        except AngoAmbiguousWriteError as error:
            log.warning(
                "Creating batch %r may have failed (%s); re-reading the project's batches", name, error
            )
            now = self.get_project(project_id).batch_ids_by_name()
            if name in now:
                return now
            existing = [{"_id": batch_id, "name": batch_name} for batch_name, batch_id in now.items()]
            data = self._call(endpoints.create_batch(project_id, name, reading, existing))
        return endpoints.batches_of_answer(project_id, data)

    # -- assets and tasks -----------------------------------------------------------------
    def get_assets_page(
        self,
        project_id: str,
        page: int = 1,
        limit: int = 100,
        filters: AssetFilterArg = None,
        sort: str | None = STABLE_SORT,
    ) -> Page[Asset]:
        """One page of assets matching ``filters`` (``limit`` capped at 100, the documented maximum)."""
        data = self._call(endpoints.list_assets(project_id, page, limit, filters, sort))
        return endpoints.parse_page(data, "assets", Asset, page, page_size(limit))

    def iter_assets(
        self, project_id: str, filters: AssetFilterArg = None, page_size: int = 100
    ) -> Iterator[Asset]:
        """Assets matching ``filters`` (all keys must match), a page (at most 100) per request."""
        yield from self._iterate(
            lambda page, limit: self.get_assets_page(project_id, page, limit, filters), page_size
        )

    def delete_assets(self, project_id: str, asset_ids: Sequence[str]) -> Any:
        """Delete assets (and their tasks) by asset id: one request, all or nothing.

        Not retried after an ambiguous failure (:class:`AngoAmbiguousWriteError`): list the assets
        again to see which are gone before sending the rest.
        """
        return self._call(endpoints.delete_assets(project_id, asset_ids))

    def count_assets(self, project_id: str, filters: AssetFilterArg = None) -> int:
        return endpoints.total_of(self.get_assets_page(project_id, 1, 1, filters))

    def get_tasks_page(
        self,
        project_id: str,
        page: int = 1,
        limit: int = 100,
        task_filter: TaskFilterArg = None,
        *,
        include_answer: bool = False,
        sort: str | None = STABLE_SORT,
        fields: Sequence[str] | str | None = None,
    ) -> Page[Task]:
        """One page of tasks (``limit`` capped at 100, the documented maximum)."""
        call = endpoints.list_tasks(
            project_id, page, limit, task_filter, include_answer=include_answer, sort=sort, fields=fields
        )
        return endpoints.parse_page(self._call(call), "tasks", Task, page, page_size(limit))

    def iter_tasks(
        self,
        project_id: str,
        task_filter: TaskFilterArg = None,
        *,
        include_answer: bool = False,
        sort: str | None = STABLE_SORT,
        fields: Sequence[str] | str | None = None,
        page_size: int = 100,
    ) -> Iterator[Task]:
        """Tasks, a page (at most 100) per request, sorted by ``_id`` unless ``sort`` says otherwise.

        Pages are offsets into a live listing: when tasks can change while iterating, filter on
        a closed ``updatedAt`` window (tasks changing now fall outside it).
        """

        def fetch(page: int, limit: int) -> Page[Task]:
            answer, order = include_answer, sort
            return self.get_tasks_page(
                project_id, page, limit, task_filter, include_answer=answer, sort=order, fields=fields
            )

        yield from self._iterate(fetch, page_size, sort)

    def count_tasks(self, project_id: str, task_filter: TaskFilterArg = None) -> int:
        return endpoints.total_of(self.get_tasks_page(project_id, 1, 1, task_filter))

    def get_task(self, task_id: str, include_answer: bool = True) -> Task:
        data = self._call(endpoints.get_task(task_id, include_answer))
        return Task.model_validate(endpoints.field_of(data, "task"))

    def get_task_history(self, task_id: str) -> Any:
        """The task's stage history as a list, from the SDK's ``{"stageHistory": [...]}`` answer or the
        REST documentation's ``{"taskHistory": [...]}`` (anything else is passed through)."""
        data = self._call(endpoints.get_task_history(task_id))
        for key in ("taskHistory", "stageHistory"):
            if isinstance(data, Mapping) and isinstance(data.get(key), list):
                return data[key]
        return data

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
        filters = endpoints.requeue_selection(task_ids, external_ids, asset_ids, from_stage_ids)
        options = {
            "removeAnnotations": remove_annotations,
            "removeAssignee": remove_assignee,
            "removeStageHistory": remove_stage_history,
        }
        return self._call(endpoints.requeue_tasks(project_id, to_stage_id, filters, options))

    # -- imports ----------------------------------------------------------------------------
    def iter_import_cloud_assets(
        self,
        project_id: str,
        assets: Iterable[ImportItem],
        chunk_size: int = 500,
        batches: Sequence[str] | None = None,
        storage_id: str | None = None,
    ) -> Iterator[ImportChunkReceipt]:
        """Import assets ``chunk_size`` per POST, each chunk sent as the iterator is consumed.

        :param assets: import items (``data``, ``externalId``, ...), read lazily.
        :param batches: batch *ids* given to every asset (see :meth:`resolve_batches`).
        :param storage_id: storage integration set on items that name none (private buckets).
        :return: one receipt per accepted chunk. A receipt is Ango's acknowledgement, not proof
            that the assets exist: confirm by listing assets by externalId.
        """
        for index, payload in enumerate(endpoints.import_payloads(assets, chunk_size, "asset")):
            if storage_id:
                for asset in payload:
                    asset.setdefault("storage", storage_id)
            data = self._call(endpoints.import_cloud_assets(project_id, payload, batches))
            yield endpoints.receipt(index, payload, data)

    def import_cloud_assets(
        self,
        project_id: str,
        assets: Iterable[ImportItem],
        chunk_size: int = 500,
        batches: Sequence[str] | None = None,
        storage_id: str | None = None,
    ) -> list[ImportChunkReceipt]:
        """:meth:`iter_import_cloud_assets`, run to the end; logs what was accepted if it fails midway."""
        receipts = self.iter_import_cloud_assets(project_id, assets, chunk_size, batches, storage_id)
        return _collect("cloud import", receipts)

    def iter_import_labels(
        self, project_id: str, items: Iterable[ImportItem], chunk_size: int = 500
    ) -> Iterator[ImportChunkReceipt]:
        """Import pre-labels (Ango Import Format, one item per externalId) ``chunk_size`` per POST."""
        for index, payload in enumerate(endpoints.import_payloads(items, chunk_size, "label item")):
            data = self._call(endpoints.import_labels(project_id, payload, self.session.settings.api_reading))
            yield endpoints.receipt(index, payload, data)

    def import_labels(
        self, project_id: str, items: Iterable[ImportItem], chunk_size: int = 500
    ) -> list[ImportChunkReceipt]:
        """:meth:`iter_import_labels`, run to the end."""
        return _collect("label import", self.iter_import_labels(project_id, items, chunk_size))

    # -- export -----------------------------------------------------------------------------
    def request_export(self, project_id: str, options: ExportOptions | None = None) -> SignedUrl:
        """Ask Ango for an export; returns the zip's signed URL (its ``str``/``repr`` hide the signature)."""
        reading = self.session.settings.api_reading
        data = self._call(endpoints.request_export(project_id, options or ExportOptions(), reading))
        return endpoints.signed_url(data)

    @contextmanager
    def open_export_stream(
        self, url: SignedUrl | str, chunk_size: int = 1 << 20
    ) -> Iterator[Iterator[bytes]]:
        """Yield an iterator over the export zip's bytes, streamed and never held whole.

        A dropped connection or short body is resumed with ``Range: bytes=<received>-``, within
        the hook's retry budget. An expired URL raises :class:`AngoAuthError`.
        """
        raw_url = url.get_secret_value() if isinstance(url, SignedUrl) else url
        self.session.refuse_if_shut()
        try:
            with open_signed_url(
                raw_url,
                self.retry_policy,
                log,
                timeout=self.timeout,
                sleep=self.session.sleep,
                chunk_size=chunk_size,
                streams=self.session.streams,
            ) as chunks:
                yield chunks
        except Exception as error:
            self.session.refuse_if_shut(error)  # cut short by shut(): say so
            raise

    # -- storages and metrics -------------------------------------------------------------
    def list_storages(self, storage_id: str | None = None) -> list[Storage]:
        """The organization's storage integrations (every page), or the one with ``storage_id``."""

        def fetch(page: int, limit: int) -> Page[Storage]:
            data = self._call(endpoints.list_storages(storage_id, page, limit))
            return endpoints.parse_page(data, "storages", Storage, page, limit)

        return list(self._iterate(fetch, 100))

    def create_storage(
        self,
        name: str,
        provider: endpoints.StorageProvider,
        *,
        public_key: str | None = None,
        private_key: str | None = None,
        region: str | None = None,
        credentials: str | None = None,
        bucket: str | None = None,
    ) -> Storage:
        """Register a bucket integration; the private key and credentials are kept out of errors.

        ``bucket`` (the bucket or container name) is required by the REST documentation's form.
        """
        keys = {"public_key": public_key, "private_key": private_key, "region": region, "bucket": bucket}
        reading = self.session.settings.api_reading
        data = self._call(
            endpoints.create_storage(name, provider, credentials=credentials, reading=reading, **keys)
        )
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
        flags = {"get_signed_urls": get_signed_urls, "retry_on_slow_down": retry_on_slow_down}
        return self._call(endpoints.list_storage_files(storage_id, bucket_name, path, **flags))

    def get_metric(self, project_id: str, metric: endpoints.Metric) -> Any:
        return self._call(endpoints.get_metric(project_id, metric))

    # -- async, for triggers --------------------------------------------------------------
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
        sort: str | None = STABLE_SORT,
        fields: Sequence[str] | str | None = None,
    ) -> Page[Task]:
        call = endpoints.list_tasks(
            project_id, page, limit, task_filter, include_answer=include_answer, sort=sort, fields=fields
        )
        return endpoints.parse_page(await self._acall(call), "tasks", Task, page, page_size(limit))

    async def aiter_tasks(
        self, project_id: str, task_filter: TaskFilterArg = None, *, page_size: int = 100
    ) -> AsyncIterator[Task]:
        walk = walk_for(page_size, STABLE_SORT)
        while (request := walk.next_request()) is not None:
            for task in walk.take(await self.aget_tasks_page(project_id, *request, task_filter)):
                yield task
            if not walk.more():
                return

    async def acount_tasks(self, project_id: str, task_filter: TaskFilterArg = None) -> int:
        return endpoints.total_of(await self.aget_tasks_page(project_id, 1, 1, task_filter))

    async def arequest_export(self, project_id: str, options: ExportOptions | None = None) -> SignedUrl:
        chosen = options or ExportOptions()
        data = await self._acall(
            lambda settings: endpoints.request_export(project_id, chosen, settings.api_reading)
        )
        return endpoints.signed_url(data)


def _collect(what: str, receipts: Iterator[ImportChunkReceipt]) -> list[ImportChunkReceipt]:
    done: list[ImportChunkReceipt] = []
    try:
        for receipt in receipts:
            done.append(receipt)
            log.info(
                "Ango Hub %s: chunk %d accepted (%d items)", what, receipt.chunk_index, receipt.item_count
            )
    except AngoApiError:
        sent = sum(receipt.item_count for receipt in done)
        log.error(
            "Ango Hub %s stopped: %d chunk(s) with %d item(s) were accepted before this failure",
            what,
            len(done),
            sent,
        )
        raise
    return done


__all__ = ["AngoHubHook"]
