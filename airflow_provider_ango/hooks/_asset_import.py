"""The writing side of AngoHubHook: batches by name, chunked cloud-asset and pre-label imports."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from airflow_provider_ango.exceptions import AngoAmbiguousWriteError, AngoApiError, AngoNotFoundError
from airflow_provider_ango.hooks import _endpoints as endpoints
from airflow_provider_ango.hooks._core import AngoHubHookBase, log
from airflow_provider_ango.models.api import ImportChunkReceipt, Project

ItemT = TypeVar("ItemT")
ImportItem = Mapping[str, Any] | BaseModel


def chunked(items: Iterable[ItemT], size: int) -> Iterator[list[ItemT]]:
    """Lists of up to ``size`` items pulled lazily from ``items``: one chunk in memory at a time."""
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, got {size}")
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def import_item_payload(item: ImportItem, kind: str, position: int) -> dict[str, Any]:
    """The JSON object of one import item; refuses an item without ``externalId`` up front."""
    if isinstance(item, BaseModel):
        payload = item.model_dump(by_alias=True, exclude_none=True, mode="json")
    else:
        payload = dict(item)
    if not payload.get("externalId"):
        raise ValueError(
            f"{kind} #{position} has no externalId; every {kind} needs one (got {str(payload)[:200]})"
        )
    return payload


def _receipt(index: int, payload: list[dict[str, Any]], data: Any) -> ImportChunkReceipt:
    return ImportChunkReceipt(
        chunk_index=index,
        item_count=len(payload),
        first_external_id=payload[0].get("externalId"),
        last_external_id=payload[-1].get("externalId"),
        response=data,
    )


class AssetImportMixin(AngoHubHookBase):
    def resolve_batches(
        self,
        project_id: str,
        names: Iterable[str],
        create_missing: bool = False,
        *,
        known_batches: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """Batch name -> id: one project read per call, then one create per missing name.

        Without ``create_missing`` a missing name raises :class:`AngoNotFoundError` listing all of
        them. If the create answers do not list the new batches, one more project read finds them.
        ``known_batches`` (name -> id, from a project the caller has just read) saves the first read.
        """
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return {}
        known = (
            dict(known_batches)
            if known_batches is not None
            else self.get_project(project_id).batch_ids_by_name()
        )
        missing = [name for name in wanted if name not in known]
        if missing and not create_missing:
            raise AngoNotFoundError(
                None,
                "GET",
                f"/v2/project/{project_id}",
                f"batch(es) not in the project: {', '.join(map(repr, missing))}; "
                "create them in Ango Hub or pass create_missing=True",
            )
        for name in missing:
            known.update(self._create_batch(project_id, name))
        if any(name not in known for name in wanted):
            known = self.get_project(project_id).batch_ids_by_name()
        return {name: known[name] for name in wanted}

    def _create_batch(self, project_id: str, name: str) -> dict[str, str]:
        """Create one batch; after an ambiguous failure, re-read the batches before creating again."""
        try:
            data = self._call(endpoints.create_batch(project_id, name))
        except AngoAmbiguousWriteError as error:
            log.warning(
                "Creating batch %r may have failed (%s); re-reading the project's batches", name, error
            )
            existing = self.get_project(project_id).batch_ids_by_name()
            if name in existing:
                return existing
            data = self._call(endpoints.create_batch(project_id, name))
        project = data.get("project") if isinstance(data, Mapping) else None
        batches = project.get("batches") if isinstance(project, Mapping) else None
        return Project.model_validate(
            {"_id": project_id, "name": "", "batches": batches or []}
        ).batch_ids_by_name()

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
        position = itertools.count()
        for index, chunk in enumerate(chunked(assets, chunk_size)):
            payload = [import_item_payload(item, "asset", next(position)) for item in chunk]
            if storage_id:
                for asset in payload:
                    asset.setdefault("storage", storage_id)
            data = self._call(endpoints.import_cloud_assets(project_id, payload, batches))
            yield _receipt(index, payload, data)

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
        position = itertools.count()
        for index, chunk in enumerate(chunked(items, chunk_size)):
            payload = [import_item_payload(item, "label item", next(position)) for item in chunk]
            yield _receipt(index, payload, self._call(endpoints.import_labels(project_id, payload)))

    def import_labels(
        self, project_id: str, items: Iterable[ImportItem], chunk_size: int = 500
    ) -> list[ImportChunkReceipt]:
        """:meth:`iter_import_labels`, run to the end."""
        return _collect("label import", self.iter_import_labels(project_id, items, chunk_size))


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
