"""hooks/ango/paging.py: pages of at most 100, a server's own smaller cap, the end by total, and a
listing that other writers change while it runs (every item that existed throughout, exactly once)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_ango.exceptions import AngoIncompleteListingError
from airflow_provider_ango.hooks.ango.paging import PageWalk, page_size
from airflow_provider_ango.models.api import Page

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.hooks.ango import AngoHubHook


@dataclass(frozen=True)
class Item:
    id: str


class LiveListing:
    """A listing sorted by id that ``mutate`` changes before every request (as other writers would)."""

    def __init__(self, count: int, mutate: Callable[[LiveListing, int], None] | None = None) -> None:
        self.ids = [f"{n:06d}" for n in range(0, count * 10, 10)]
        self.next_id = count * 10
        self.mutate = mutate
        self.requests: list[tuple[int, int]] = []
        self.deleted: set[str] = set()
        self.original = set(self.ids)

    def fetch(self, page: int, limit: int) -> Page[Any]:
        if self.mutate is not None:
            self.mutate(self, len(self.requests))
        self.requests.append((page, limit))
        start = (page - 1) * limit
        items = [Item(value) for value in self.ids[start : start + limit]]
        return Page[Any](items=items, total=len(self.ids), page=page, limit=limit)

    def delete(self, *positions: int) -> None:
        for position in sorted(positions, reverse=True):
            if position < len(self.ids):
                self.deleted.add(self.ids.pop(position))

    def insert(self, count: int) -> None:
        for _ in range(count):
            self.ids.append(f"{self.next_id:06d}")  # new ids sort last, as ObjectIds do
            self.next_id += 1

    def existed_throughout(self) -> set[str]:
        return self.original - self.deleted


def walk(listing: LiveListing, size: int, walker: PageWalk | None = None) -> list[str]:
    walker = walker or PageWalk(size)
    taken: list[str] = []
    while (request := walker.next_request()) is not None:
        taken.extend(item.id for item in walker.take(listing.fetch(*request)))
        if not walker.more():
            break
    return taken


def test_page_size_is_capped_at_the_documented_hundred() -> None:
    assert page_size(1000) == 100
    assert page_size(7) == 7
    with pytest.raises(ValueError, match=">= 1"):
        page_size(0)


def test_a_quiet_listing_takes_one_request_a_page_and_no_bridge() -> None:
    listing = LiveListing(250)
    walker = PageWalk(100)
    assert walk(listing, 100, walker) == sorted(listing.ids)
    assert listing.requests == [(1, 100), (2, 100), (3, 100)]
    assert walker.bridges == 0


def test_a_short_page_that_is_not_the_last_is_the_servers_own_cap() -> None:
    listing = LiveListing(95)

    def capped(page: int, limit: int) -> Page[Any]:
        answer = listing.fetch(page, limit)
        return Page[Any](items=answer.items[:30], total=answer.total, page=page, limit=limit)

    walker = PageWalk(100)
    taken: list[str] = []
    while (request := walker.next_request()) is not None:
        taken.extend(item.id for item in walker.take(capped(*request)))
        if not walker.more():
            break
    assert taken == listing.ids
    # 30 came back for 100 asked: pages of gcd(30, 100) = 10 from offset 30 on.
    assert listing.requests[:2] == [(1, 100), (4, 10)]


def test_an_empty_page_before_the_total_is_an_error_not_an_end() -> None:
    walker = PageWalk(10)
    walker.take(Page[Any](items=[Item("a")] * 10, total=50, page=1, limit=10))
    with pytest.raises(AngoIncompleteListingError, match="stopped at 10 of 50"):
        walker.take(Page[Any](items=[], total=50, page=2, limit=10))


def test_deletes_before_the_position_are_bridged() -> None:
    def other_writer(listing: LiveListing, request: int) -> None:
        if request == 1:  # after the first page was read: three of its items go away
            listing.delete(5, 6, 7)
        if request == 3:
            listing.delete(0)
            listing.insert(4)

    listing = LiveListing(320, other_writer)
    walker = PageWalk(100)
    taken = walk(listing, 100, walker)

    assert len(taken) == len(set(taken))  # nothing twice
    assert listing.existed_throughout() <= set(taken)  # nothing that existed throughout missed
    assert walker.bridges >= 2


def test_without_the_bridge_the_same_deletes_lose_items() -> None:
    """The control: offset pages alone skip what the deletes carried back."""

    def other_writer(listing: LiveListing, request: int) -> None:
        if request == 1:
            listing.delete(5, 6, 7)

    listing = LiveListing(320, other_writer)
    taken = walk(listing, 100, PageWalk(100, id_of=None))
    assert listing.existed_throughout() - set(taken)  # three items never seen


@pytest.mark.parametrize("seed", range(40))
def test_random_inserts_and_deletes_never_lose_or_double_an_item(seed: int) -> None:
    rng = random.Random(seed)

    def other_writer(listing: LiveListing, request: int) -> None:
        if request and rng.random() < 0.6:
            count = rng.randint(1, 30)  # sometimes more than a bridge of 10, even than a page
            positions = rng.sample(range(len(listing.ids)), min(count, len(listing.ids)))
            listing.delete(*positions)
        if rng.random() < 0.4:
            listing.insert(rng.randint(1, 25))

    listing = LiveListing(rng.randint(150, 900), other_writer)
    taken = walk(listing, rng.choice([7, 50, 100]), PageWalk(rng.choice([7, 50, 100])))

    assert len(taken) == len(set(taken))  # nothing twice
    assert listing.existed_throughout() <= set(taken)  # nothing that existed throughout missed


@pytest.mark.emulator
def test_a_hook_listing_while_another_writer_inserts_and_deletes(
    ango: AngoEmulator, hook: AngoHubHook
) -> None:
    project = ango.control.seed_project(name="moving", synthetic_assets={"count": 250})
    listing = hook.iter_assets(project["_id"], page_size=100)
    first = [next(listing) for _ in range(100)]
    # Another writer deletes three assets already listed and adds four, between two pages.
    ango.control.delete_assets(project["_id"], asset_ids=[asset.id for asset in first[10:13]])
    ango.control.insert_assets(project["_id"], count=4, externalIdPrefix="late-")
    rest = list(listing)

    seen = [asset.id for asset in [*first, *rest]]
    assert len(seen) == len(set(seen))
    existing = {asset.id for asset in hook.iter_assets(project["_id"])}
    throughout = existing - {asset.id for asset in rest if (asset.external_id or "").startswith("late-")}
    assert throughout <= set(seen)
    assert len(throughout) == 247  # 250 - 3 deleted
