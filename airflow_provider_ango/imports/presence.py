"""Which externalIds already exist in a project, found without loading the project.

**Method.** The ids wanted (a manifest's) are held as 64-bit fingerprints
(:class:`~airflow_provider_ango.imports.fingerprints.FingerprintSet`, 8 bytes per id). A listing
(``GET .../assets`` or ``.../tasks``, pages of at most 100, sorted by ``_id``, ended by ``total``)
is paged through once and each listed externalId is looked up in that set. Memory is O(manifest),
never O(project).

**What is listed.** :class:`ScopeScan` reads several listings as one: the assets (or tasks) of
each *scope batch* (:mod:`~airflow_provider_ango.imports.scope`) the manifest's items carry, with
the listing's ``batches`` filter. That costs ``sum(ceil(batch_size / 100))`` GETs, whatever the
project holds. :func:`list_present` reads one listing, the whole project's (``presence="project"``:
``ceil(project_size / 100)`` GETs).

**Look-ups.** Ango documents the ``externalId`` filter as an exact match of one value, so checking
a *few* ids costs one GET each. A scan given a ``budget`` (the number of look-ups that would
replace it) reads the first page of every listing, which tells their sizes, and stops there when
the rest would cost more than the look-ups; :func:`look_up` then checks the ids still unseen.
A look-up answer holding an asset of another externalId means the service did not apply the
filter: :attr:`LookupResult.honoured` is False and the caller lists instead.
"""

from __future__ import annotations

from array import array
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from airflow_provider_ango.hooks.ango.paging import MAX_PAGE_SIZE, PageWalk, pages_for
from airflow_provider_ango.imports.fingerprints import FingerprintSet, fingerprint
from airflow_provider_ango.models.api import Asset, Page, Task

DEFAULT_PAGE_SIZE = MAX_PAGE_SIZE
#: ``on_match(fingerprint, item)``: called for every listed item whose externalId is wanted.
OnMatch = Callable[[int, Any], None]


def task_external_id(task: Task) -> str | None:
    if task.external_id:
        return task.external_id
    asset = task.asset
    if isinstance(asset, dict):
        value = asset.get("externalId")
        return value if isinstance(value, str) else None
    return None


def asset_external_id(asset: Asset) -> str | None:
    return asset.external_id


@dataclass
class ListingResult:
    found: FingerprintSet
    total: int
    requests: int


class _PresenceScan:
    """One pass over a listing (sync or async): the next page to ask for, and the fingerprints of
    ``wanted`` seen on the pages so far (appended to ``found``, which may be shared)."""

    def __init__(
        self,
        external_id_of: Callable[[Any], str | None],
        wanted: FingerprintSet,
        page_size: int,
        found: array[int] | None = None,
        on_match: OnMatch | None = None,
    ) -> None:
        self.external_id_of = external_id_of
        self.wanted = wanted
        self.found = array("Q") if found is None else found
        self.on_match = on_match
        self.walk = PageWalk(page_size)
        self.matches = 0
        self.open = True

    def take(self, page: Page[Any]) -> bool:
        """Note the wanted ids on ``page``; ``False`` when the listing is over."""
        for item in self.walk.take(page):
            external_id = self.external_id_of(item)
            if external_id is not None:
                value = fingerprint(external_id)
                if self.wanted.contains_fingerprint(value):
                    self.found.append(value)
                    self.matches += 1
                    if self.on_match is not None:
                        self.on_match(value, item)
        self.open = self.walk.more()
        return self.open

    @property
    def total(self) -> int:
        walk = self.walk
        return walk.total if walk.total is not None else walk.seen

    def pages_left(self) -> int:
        if not self.open:
            return 0
        walk = self.walk
        if walk.total is None:
            return 1
        return pages_for(walk.total - walk.seen, walk.limit) if walk.total > walk.seen else 0

    def result(self) -> ListingResult:
        return ListingResult(_frozen(self.found), self.total, self.walk.requests)


def _frozen(values: array[int]) -> FingerprintSet:
    found = FingerprintSet()
    for value in values:
        found.add_fingerprint(value)
    return found.freeze()


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


@dataclass
class ScanResult:
    """What a :class:`ScopeScan` saw. ``complete`` is False when it stopped after the first pages
    because look-ups of the ids still unseen are cheaper than the rest of the listings."""

    found: FingerprintSet
    listed: int
    requests: int
    complete: bool


class ScopeScan:
    """Several listings read as one: the first page of each, then the rest of them, unless that
    would cost more than ``budget`` requests (look-ups of the wanted ids not seen yet).

    Drive it with :meth:`next_request` -> ``(listing, page, limit)`` and :meth:`take`, or with
    :func:`run_scan` / :func:`arun_scan`.
    """

    def __init__(
        self,
        listings: int,
        external_id_of: Callable[[Any], str | None],
        wanted: FingerprintSet,
        page_size: int = DEFAULT_PAGE_SIZE,
        *,
        budget: int | None = None,
        on_match: OnMatch | None = None,
    ) -> None:
        self.found: array[int] = array("Q")
        self.wanted = wanted
        self.scans = [
            _PresenceScan(external_id_of, wanted, page_size, self.found, on_match) for _ in range(listings)
        ]
        self.budget = budget
        self.stopped = False
        self._decided = budget is None

    def next_request(self) -> tuple[int, int, int] | None:
        for index, scan in enumerate(self.scans):
            if scan.walk.requests == 0:
                request = scan.walk.next_request()
                if request is not None:
                    return (index, *request)
        if not self._decided:
            self._decided = True
            matched = sum(scan.matches for scan in self.scans)
            lookups = max(0, (self.budget or 0) - matched)
            self.stopped = self.pages_left() > lookups
        if self.stopped:
            return None
        for index, scan in enumerate(self.scans):
            if scan.open and (request := scan.walk.next_request()) is not None:
                return (index, *request)
        return None

    def take(self, listing: int, page: Page[Any]) -> None:
        self.scans[listing].take(page)

    def pages_left(self) -> int:
        return sum(scan.pages_left() for scan in self.scans)

    @property
    def requests(self) -> int:
        return sum(scan.walk.requests for scan in self.scans)

    def resume(self) -> None:
        """Read the listings to the end after all (look-ups turned out not to work)."""
        self.stopped = False
        self.budget = None
        self._decided = True

    def result(self) -> ScanResult:
        """What was seen so far (the scan may be resumed afterwards)."""
        listed = sum(scan.total for scan in self.scans)
        return ScanResult(_frozen(self.found), listed, self.requests, not self.stopped)


def run_scan(scan: ScopeScan, fetch: Callable[[int, int, int], Page[Any]]) -> ScanResult:
    """Drive ``scan`` with ``fetch(listing, page, limit)``."""
    while (request := scan.next_request()) is not None:
        scan.take(request[0], fetch(*request))
    return scan.result()


async def arun_scan(scan: ScopeScan, fetch: Callable[[int, int, int], Awaitable[Page[Any]]]) -> ScanResult:
    """:func:`run_scan` for an async ``fetch``."""
    while (request := scan.next_request()) is not None:
        scan.take(request[0], await fetch(*request))
    return scan.result()


@dataclass
class LookupResult:
    """Per id looked up, the items found with exactly that externalId; ``honoured`` is False when an
    answer held another externalId (the service ignored the filter: list instead)."""

    items: dict[str, list[Any]]
    requests: int
    honoured: bool = True


class LookupCheck:
    """Reads the answers of one-id look-ups (``filters={"externalId": id}``, pages of 100)."""

    def __init__(self, external_id_of: Callable[[Any], str | None]) -> None:
        self.external_id_of = external_id_of
        self.result = LookupResult({}, 0)

    def take(self, external_id: str, page: Page[Any]) -> bool:
        """Note one answer; ``False`` when it shows that the filter was not applied."""
        self.result.requests += 1
        matching = []
        for item in page.items:
            if self.external_id_of(item) != external_id:
                self.result.honoured = False
                return False
            matching.append(item)
        if matching:
            self.result.items[external_id] = matching
        return True


def look_up(
    fetch: Callable[[str], Page[Any]], external_id_of: Callable[[Any], str | None], ids: Iterable[str]
) -> LookupResult:
    """One GET per id (``fetch(external_id)``: the first page of the exact-match filter)."""
    check = LookupCheck(external_id_of)
    for external_id in ids:
        if not check.take(external_id, fetch(external_id)):
            break
    return check.result


async def alook_up(
    fetch: Callable[[str], Awaitable[Page[Any]]],
    external_id_of: Callable[[Any], str | None],
    ids: Iterable[str],
) -> LookupResult:
    check = LookupCheck(external_id_of)
    for external_id in ids:
        if not check.take(external_id, await fetch(external_id)):
            break
    return check.result


def prefer_lookups(id_count: int, project_size: int, page_size: int) -> bool:
    """One GET per id beats one listing when there are fewer ids than listing pages."""
    return id_count < pages_for(project_size, page_size)


__all__ = [
    "DEFAULT_PAGE_SIZE",
    "ListingResult",
    "LookupCheck",
    "LookupResult",
    "OnMatch",
    "ScanResult",
    "ScopeScan",
    "alist_present",
    "alook_up",
    "arun_scan",
    "asset_external_id",
    "list_present",
    "look_up",
    "prefer_lookups",
    "run_scan",
    "task_external_id",
]
