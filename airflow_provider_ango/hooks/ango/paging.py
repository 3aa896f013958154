"""Paging through Ango's listings within its documented rules. Pure logic, no I/O.

Every list endpoint takes ``page`` (from 1) and ``limit`` (at most 100, the REST documentation
says) and answers ``total``. So the client asks for at most :data:`MAX_PAGE_SIZE` items a page,
sorts by a unique key (the default order, newest first, shifts under inserts, and ties in it
are in no stable order), and decides that a listing is over by ``total``, never by a short page:
a server that clamps ``limit`` answers short pages that are not the last.
"""

from __future__ import annotations

import math
from typing import Any

from airflow_provider_ango.exceptions import AngoIncompleteListingError
from airflow_provider_ango.models.api import Page

#: The most items a page the REST documentation allows.
MAX_PAGE_SIZE = 100
#: A unique sort key: pages of one listing never overlap or skip because of ties, and items
#: created while the listing runs sort after the ones that existed when it started.
STABLE_SORT = "_id"


def page_size(requested: int) -> int:
    """``requested`` capped to :data:`MAX_PAGE_SIZE` (and at least 1)."""
    if requested < 1:
        raise ValueError(f"page_size must be >= 1, got {requested}")
    return min(requested, MAX_PAGE_SIZE)


class PageWalk:
    """Offsets into a listing, shrinking the page size to what the server actually returns.

    A server that caps ``limit`` below what was asked answers short pages; taken naively a short
    page looks like the last one, and every item after it would be missed (for the import's
    existence check: imported twice). Here a short page before ``total`` is reached is taken for
    the server's real page size, and paging goes on from the right offset.
    """

    def __init__(self, requested: int) -> None:
        self.limit = page_size(requested)
        self.seen = 0
        self.total: int | None = None
        self.requests = 0

    def next_request(self) -> tuple[int, int] | None:
        """``(page, limit)`` of the next call, or ``None`` when the listing is complete."""
        if self.total is not None and self.seen >= self.total:
            return None
        if self.seen % self.limit:
            # The previous page came back short: continue with pages the size it really is.
            self.limit = math.gcd(self.seen, self.limit)
        return self.seen // self.limit + 1, self.limit

    def record(self, page: Page[Any]) -> bool:
        """Take a page; ``False`` when the listing is over."""
        self.requests += 1
        if page.total is not None:
            self.total = page.total
        count = len(page.items)
        self.seen += count
        if count == 0:
            if self.total is not None and self.seen < self.total:
                raise AngoIncompleteListingError(
                    f"the listing stopped at {self.seen} of {self.total} items (an empty page before "
                    "the total); the project changed while it was listed: retry the task"
                )
            return False
        if self.total is None:
            # No total to go by (the documented answers always carry one): a short page ends it.
            return count >= self.limit
        return self.seen < self.total


def pages_for(items: int, size: int = MAX_PAGE_SIZE) -> int:
    """Requests a full listing of ``items`` takes (at least one)."""
    return max(1, math.ceil(items / size))


__all__ = ["MAX_PAGE_SIZE", "STABLE_SORT", "PageWalk", "page_size", "pages_for"]
