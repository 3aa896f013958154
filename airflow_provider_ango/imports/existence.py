"""The import's existence check against Ango: which of some externalIds a project already has.

Two scopes (the import operator's ``presence``):

* ``scope`` (the default): only the assets of the manifest's scope batches
  (:mod:`~airflow_provider_ango.imports.scope`), listed batch by batch with the documented
  ``batches`` filter: ``sum(ceil(batch_size / 100))`` GETs, or, when that is dearer, the first page
  of each batch and then one exact ``externalId`` look-up per id still unseen (only assets carrying
  one of those batches count, whichever way was cheaper, so the answer never depends on the cost);
* ``project``: the whole project, listed once (``ceil(project_size / 100)`` GETs), or one look-up
  per id when there are fewer ids than listing pages.

Costs and the method are in :mod:`~airflow_provider_ango.imports.presence`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_ango.hooks.ango import AngoHubHook
from airflow_provider_ango.imports.fingerprints import FingerprintSet
from airflow_provider_ango.imports.presence import (
    ScopeScan,
    asset_external_id,
    look_up,
    prefer_lookups,
    run_scan,
)
from airflow_provider_ango.models.api import Asset, Page

LOOKUP_LIMIT = 100  # assets a look-up may answer (an externalId is not unique in Ango)


@dataclass
class Presence:
    """Which of the wanted ids exist; with ``assets`` asked for, the assets of each (for the sweep
    that removes duplicates). ``method`` says how it was found, for the log."""

    found: FingerprintSet
    requests: int
    listed: int
    method: str
    assets: dict[str, list[Asset]] = field(default_factory=dict)


def _batch_refs_of(asset: Asset) -> set[str]:
    refs: set[str] = set()
    for ref in asset.batches:
        if isinstance(ref, str):
            refs.add(ref)
        elif isinstance(ref, dict):
            refs.update(str(ref[key]) for key in ("_id", "name") if ref.get(key))
    return refs


@dataclass
class ExistenceCheck:
    """The existence check of one import run.

    :param scope_batches: ``{batch id: batch name}`` of the scope batches that exist in the project
        (empty: nothing can exist yet), or ``None`` for the whole project.
    """

    hook: AngoHubHook
    project_id: str
    page_size: int
    scope_batches: dict[str, str] | None
    project_size: int = 0

    @property
    def scoped(self) -> bool:
        return self.scope_batches is not None

    def present(
        self, wanted: FingerprintSet, ids: Callable[[], Iterable[str]], *, with_assets: bool = False
    ) -> Presence:
        """Which of ``wanted`` exist; ``ids()`` gives them as text (for look-ups), read only if needed."""
        if not len(wanted):
            return Presence(FingerprintSet().freeze(), 0, 0, "nothing to check")
        if self.scope_batches is not None:
            return self._scoped(wanted, ids, with_assets)
        return self._whole_project(wanted, ids, with_assets)

    # -- scope batches ----------------------------------------------------------------------
    def _scoped(
        self, wanted: FingerprintSet, ids: Callable[[], Iterable[str]], with_assets: bool
    ) -> Presence:
        batch_ids = sorted(self.scope_batches or {})
        if not batch_ids:
            return Presence(FingerprintSet().freeze(), 0, 0, "no scope batch exists yet")
        assets: dict[str, list[Asset]] = {}
        scan = ScopeScan(
            len(batch_ids),
            asset_external_id,
            wanted,
            self.page_size,
            budget=len(wanted),
            on_match=self._collector(assets) if with_assets else None,
        )

        def fetch(listing: int, page: int, limit: int) -> Page[Asset]:
            filters = {"batches": [batch_ids[listing]]}
            return self.hook.get_assets_page(self.project_id, page, limit, filters)

        result = run_scan(scan, fetch)
        if result.complete:
            return Presence(result.found, result.requests, result.listed, "scope listing", assets)
        seen = result.found
        unseen = [external_id for external_id in ids() if external_id not in seen]
        lookups = look_up(self._fetch_one, asset_external_id, unseen)
        if not lookups.honoured:
            scan.resume()  # the filter was ignored: read the listings to the end after all
            result = run_scan(scan, fetch)
            requests = result.requests + lookups.requests
            return Presence(result.found, requests, result.listed, "scope listing", assets)
        refs = set(self.scope_batches or {}) | set((self.scope_batches or {}).values())
        found = FingerprintSet()
        for item_id in ids():
            if item_id in seen:
                found.add(item_id)
        for external_id, items in lookups.items.items():
            scoped = [asset for asset in items if _batch_refs_of(asset) & refs]
            if scoped:
                found.add(external_id)
                if with_assets:
                    assets.setdefault(external_id, []).extend(scoped)
        requests = result.requests + lookups.requests
        return Presence(
            found.freeze(), requests, result.listed, "scope batches' first pages + look-ups", assets
        )

    # -- the whole project ----------------------------------------------------------------------
    def _whole_project(
        self, wanted: FingerprintSet, ids: Callable[[], Iterable[str]], with_assets: bool
    ) -> Presence:
        assets: dict[str, list[Asset]] = {}
        if prefer_lookups(len(wanted), self.project_size, self.page_size):
            lookups = look_up(self._fetch_one, asset_external_id, ids())
            if lookups.honoured:
                found = FingerprintSet(lookups.items).freeze()
                if with_assets:
                    assets.update(lookups.items)
                return Presence(found, lookups.requests, self.project_size, "look-ups", assets)
        collect = self._collector(assets) if with_assets else None
        scan = ScopeScan(1, asset_external_id, wanted, self.page_size, on_match=collect)
        result = run_scan(
            scan, lambda _listing, page, limit: self.hook.get_assets_page(self.project_id, page, limit)
        )
        self.project_size = result.listed
        return Presence(result.found, result.requests, result.listed, "project listing", assets)

    # -- helpers ----------------------------------------------------------------------------------
    def _fetch_one(self, external_id: str) -> Page[Asset]:
        return self.hook.get_assets_page(self.project_id, 1, LOOKUP_LIMIT, {"externalId": external_id})

    @staticmethod
    def _collector(assets: dict[str, list[Asset]]) -> Callable[[int, Any], None]:
        def collect(_value: int, asset: Asset) -> None:
            if asset.external_id is not None:
                assets.setdefault(asset.external_id, []).append(asset)

        return collect


__all__ = ["ExistenceCheck", "Presence"]
