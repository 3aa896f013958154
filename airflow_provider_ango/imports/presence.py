"""Which externalIds already exist in a project, found without loading the project.

**Method.** The ids wanted (a manifest's) are held as 64-bit fingerprints
(:class:`~airflow_provider_ango.imports.fingerprints.FingerprintSet`, 8 bytes per id). The
project's assets (or tasks) are paged through once (``GET .../assets?page&limit``, the
documented listing) and each listed externalId is looked up in that set. Memory is
O(manifest), never O(project); the cost is ``ceil(project_size / page_size)`` GETs, one
listing per run (at 1,000 per page: 1,000 GETs for a million-asset project).

Ango documents the ``externalId`` asset filter as an exact match of one value, so a
"which of these 500 ids exist" query is not available; checking a *few* ids one by one
(``filters={"externalId": id}``, one GET each) is cheaper than a full listing when there are
fewer of them than listing pages, which is how the re-check after an ambiguous import
failure chooses between the two (the import sensor always pages through the listing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airflow_provider_ango.hooks.ango.paging import MAX_PAGE_SIZE, PageWalk, pages_for
from airflow_provider_ango.imports.fingerprints import FingerprintSet, fingerprint
from airflow_provider_ango.models.api import Asset, Page, Task

DEFAULT_PAGE_SIZE = MAX_PAGE_SIZE


def task_external_id(task: Task) -> str | None:
    if task.external_id:
        return task.external_id
    asset = task.asset
    if isinstance(asset, dict):
        value = asset.get("externalId")
        return value if isinstance(value, str) else None
    return None


@dataclass
class ListingResult:
    found: FingerprintSet
    total: int
    requests: int


class _PresenceScan:
    """One pass over a listing (sync or async): the next page to ask for, and the fingerprints of
    ``wanted`` seen on the pages so far."""

    def __init__(
        self, external_id_of: Callable[[Any], str | None], wanted: FingerprintSet, page_size: int
    ) -> None:
        self.external_id_of = external_id_of
        self.wanted = wanted
        self.found = FingerprintSet()
        self.walk = PageWalk(page_size)

    def take(self, page: Page[Any]) -> bool:
        """Note the wanted ids on ``page``; ``False`` when the listing is over."""
        for item in self.walk.take(page):
            external_id = self.external_id_of(item)
            if external_id is not None:
                value = fingerprint(external_id)
                if self.wanted.contains_fingerprint(value):
                    self.found.add_fingerprint(value)
        return self.walk.more()

    def result(self) -> ListingResult:
        walk = self.walk
        return ListingResult(
            self.found.freeze(), walk.total if walk.total is not None else walk.seen, walk.requests
        )


def list_present(
    fetch_page: Callable[[int, int], Page[Any]],
    external_id_of: Callable[[Any], str | None],
    wanted: FingerprintSet,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> ListingResult:
    """Page through a listing once; the fingerprints of ``wanted`` that appear in it."""
    scan = _PresenceScan(external_id_of, wanted, page_size)
    while (request := scan.walk.next_request()) is not None:
        if not scan.take(fetch_page(*request)):
            break
    return scan.result()


async def alist_present(
    fetch_page: Callable[[int, int], Any],
    external_id_of: Callable[[Any], str | None],
    wanted: FingerprintSet,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> ListingResult:
    """:func:`list_present` for async ``fetch_page`` (the triggerer's event loop)."""
    scan = _PresenceScan(external_id_of, wanted, page_size)
    while (request := scan.walk.next_request()) is not None:
        if not scan.take(await fetch_page(*request)):
            break
    return scan.result()


def prefer_lookups(id_count: int, project_size: int, page_size: int) -> bool:
    """One GET per id beats one listing when there are fewer ids than listing pages."""
    return id_count < pages_for(project_size, page_size)


def asset_external_id(asset: Asset) -> str | None:
    return asset.external_id


__all__ = [
    "DEFAULT_PAGE_SIZE",
    "ListingResult",
    "alist_present",
    "asset_external_id",
    "list_present",
    "prefer_lookups",
    "task_external_id",
]
