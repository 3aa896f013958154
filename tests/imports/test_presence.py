"""imports/presence.py: the existence check pages through a listing that caps its pages, refuses one
that stops short, and prefers look-ups only when cheaper."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from airflow_provider_ango.exceptions import AngoIncompleteListingError
from airflow_provider_ango.imports.fingerprints import FingerprintSet
from airflow_provider_ango.imports.presence import ScopeScan, list_present, look_up, prefer_lookups, run_scan
from airflow_provider_ango.models.api import Page


@dataclass
class Item:
    external_id: str


def capped_listing(ids: list[str], cap: int, calls: list[tuple[int, int]]) -> Any:
    def fetch(page: int, limit: int) -> Page[Any]:
        calls.append((page, limit))
        size = min(limit, cap)
        start = (page - 1) * limit
        return Page[Any](
            items=[Item(i) for i in ids[start : start + size]], total=len(ids), page=page, limit=limit
        )

    return fetch


def test_listing_survives_a_server_that_caps_the_page_size() -> None:
    project = [f"id-{n}" for n in range(2_345)]
    wanted = FingerprintSet(["id-0", "id-1500", "id-2344", "missing"]).freeze()
    calls: list[tuple[int, int]] = []
    result = list_present(capped_listing(project, 30, calls), lambda item: item.external_id, wanted, 1000)
    assert len(result.found) == 3
    assert "missing" not in result.found
    assert result.total == 2_345
    assert calls[0] == (1, 100)  # 1000 asked, 100 sent: the documented maximum
    assert calls[1][1] == 10  # the server's own cap, found from its short page
    assert len(calls) == 1 + (2_345 - 30) // 10 + 1


def test_listing_that_stops_short_of_its_total_is_an_error() -> None:
    def fetch(page: int, limit: int) -> Page[Any]:
        items = [Item("x")] * limit if page == 1 else []
        return Page[Any](items=items, total=10 * limit, page=page, limit=limit)

    with pytest.raises(AngoIncompleteListingError, match="stopped at"):
        list_present(fetch, lambda item: item.external_id, FingerprintSet(["x"]).freeze(), 5)


def test_lookups_are_chosen_only_when_cheaper_than_a_listing() -> None:
    assert prefer_lookups(3, 1_000_000, 1000)
    assert not prefer_lookups(500, 20_000, 1000)


def batch_listings(batches: list[list[str]], calls: list[tuple[int, int, int]]) -> Any:
    def fetch(listing: int, page: int, limit: int) -> Page[Any]:
        calls.append((listing, page, limit))
        ids = batches[listing]
        start = (page - 1) * limit
        items = [Item(i) for i in ids[start : start + limit]]
        return Page[Any](items=items, total=len(ids), page=page, limit=limit)

    return fetch


def test_a_scope_scan_reads_every_batch_to_the_end_when_that_is_cheaper_than_lookups() -> None:
    batches = [[f"a-{n}" for n in range(250)], [f"b-{n}" for n in range(30)]]
    wanted = FingerprintSet(["a-0", "a-249", "b-29", "new-1", *(f"new-{n}" for n in range(2, 10))]).freeze()
    calls: list[tuple[int, int, int]] = []
    scan = ScopeScan(2, lambda item: item.external_id, wanted, 100, budget=len(wanted))
    result = run_scan(scan, batch_listings(batches, calls))
    assert result.complete
    assert len(result.found) == 3
    assert "a-249" in result.found
    assert result.listed == 280
    # First pages of both batches first (they tell the sizes), then the rest of the first batch.
    assert calls == [(0, 1, 100), (1, 1, 100), (0, 2, 100), (0, 3, 100)]


def test_a_scope_scan_stops_after_the_first_pages_when_lookups_are_cheaper() -> None:
    batches = [[f"a-{n}" for n in range(10_000)]]
    wanted = FingerprintSet(["a-5", "a-9999", "new"]).freeze()
    calls: list[tuple[int, int, int]] = []
    scan = ScopeScan(1, lambda item: item.external_id, wanted, 100, budget=len(wanted))
    result = run_scan(scan, batch_listings(batches, calls))
    assert not result.complete
    assert calls == [(0, 1, 100)]  # 99 pages left, 2 ids unseen: two look-ups are cheaper
    assert "a-5" in result.found
    scan.resume()  # e.g. the look-up filter turned out to be ignored
    result = run_scan(scan, batch_listings(batches, calls))
    assert result.complete
    assert len(calls) == 100
    assert "a-9999" in result.found


def test_a_lookup_answer_with_another_external_id_means_the_filter_was_ignored() -> None:
    project = {"x": [Item("x")], "y": []}

    def honouring(external_id: str) -> Page[Any]:
        items = project[external_id]
        return Page[Any](items=items, total=len(items), page=1, limit=100)

    found = look_up(honouring, lambda item: item.external_id, ["x", "y"])
    assert found.honoured
    assert set(found.items) == {"x"}
    assert found.requests == 2

    def ignoring(external_id: str) -> Page[Any]:
        items = [Item("y"), Item("x")]  # the first page of the whole listing
        return Page[Any](items=items, total=5000, page=1, limit=100)

    ignored = look_up(ignoring, lambda item: item.external_id, ["x", "y"])
    assert not ignored.honoured
    assert ignored.requests == 1
