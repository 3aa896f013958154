"""imports/presence.py: the existence check pages through a listing that caps its pages, refuses one
that stops short, and prefers look-ups only when cheaper."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from airflow_provider_ango.exceptions import AngoIncompleteListingError
from airflow_provider_ango.imports.fingerprints import FingerprintSet
from airflow_provider_ango.imports.presence import list_present, prefer_lookups
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
