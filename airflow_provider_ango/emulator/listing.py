"""Paging and ordering of every list endpoint, as Ango's REST documentation states them.

- ``page`` counts from 1 (default 1); ``limit`` defaults to 10 and is capped (100 documented):
  above the cap it is clamped, or answered 400 (``page_limit_mode="reject"``);
- ``sort`` is field names joined by commas, a leading ``-`` for descending (default
  ``-createdAt``, newest first; the ``default_sort`` setting); an unknown field is a 400 naming
  the sortable ones;
- items whose sort keys tie come in an order nobody may rely on: under ``tie_order="shuffle"`` a
  new one on every request (MongoDB promises none), unless the sort includes ``_id`` (unique);
- ``total`` is the number of items the filters select, whatever the page.

Rows of a project are created in time order (``Project.created_sorted``) unless a seed or a
moved clock says otherwise; then a sort by ``createdAt`` and/or ``_id`` needs no sorting at all:
the page is cut from the ascending row index directly, and a group of tied rows is permuted
arithmetically (an affine map with per-request coefficients), so listing a page of a
million-row project costs what the page holds.
"""

from __future__ import annotations

import math
import random
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from airflow_provider_ango.emulator.common import bad_request, parse_positive_int
from airflow_provider_ango.emulator.project import Project
from airflow_provider_ango.emulator.settings import EmulatorSettings

ItemT = TypeVar("ItemT")
DEFAULT_LIMIT = 10
DEFAULT_SORT = "-createdAt"


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool


@dataclass(frozen=True)
class PageRequest:
    page: int
    limit: int
    sort: tuple[SortKey, ...]
    shuffle_ties: bool

    @property
    def start(self) -> int:
        return (self.page - 1) * self.limit

    @property
    def end(self) -> int:
        return self.page * self.limit


def parse_sort(
    text: str | None, sortable: Collection[str], default: str = DEFAULT_SORT
) -> tuple[SortKey, ...]:
    parts = [part.strip() for part in (text or default).split(",")]
    if not all(parts):
        raise bad_request(f"Query parameter sort has an empty field: {text!r}")
    keys = []
    for part in parts:
        name = part[1:] if part[0] in "-+" else part
        if name not in sortable:
            raise bad_request(f"Cannot sort by {name!r}; sortable fields: {', '.join(sortable)}")
        keys.append(SortKey(name, part.startswith("-")))
    return tuple(keys)


def page_request(
    params: Mapping[str, str | None], settings: EmulatorSettings, sortable: Collection[str]
) -> PageRequest:
    """``page``, ``limit`` (capped as the settings say) and ``sort`` of a list request."""
    page = parse_positive_int(params.get("page"), "page", 1)
    limit = parse_positive_int(params.get("limit"), "limit", DEFAULT_LIMIT)
    cap = settings.page_limit
    if cap is not None and limit > cap:
        if settings.page_limit_mode == "reject":
            raise bad_request(f"Query parameter limit must be at most {cap}, got {limit}")
        limit = cap
    sort = parse_sort(params.get("sort"), sortable, settings.default_sort)
    return PageRequest(page, limit, sort, settings.tie_order == "shuffle")


def _has_unique_key(sort: Sequence[SortKey]) -> bool:
    return any(key.field == "_id" for key in sort)


def order_page(
    items: Sequence[ItemT], request: PageRequest, keys: Mapping[str, Callable[[ItemT], Any]]
) -> list[ItemT]:
    """The page of ``items`` (given oldest first) in the requested order; sorts everything."""
    ordered = list(items)
    if request.shuffle_ties and not _has_unique_key(request.sort):
        random.shuffle(ordered)
    for key in reversed(request.sort):  # stable sorts, least significant key first
        ordered.sort(key=keys[key.field], reverse=key.descending)
    return ordered[request.start : request.end]


ROW_SORT_KEYS: dict[str, Callable[[Project], Callable[[int], Any]]] = {
    "createdAt": lambda project: project.created.__getitem__,
    "updatedAt": lambda project: project.updated.__getitem__,
    "_id": lambda project: project.task_id,
    "externalId": lambda project: project.ext_ids.__getitem__,
    "stage": lambda project: lambda row: project.stage_at(row).name,
}
ASSET_SORT_FIELDS = ("createdAt", "_id", "externalId")
TASK_SORT_FIELDS = tuple(ROW_SORT_KEYS)


def _fast_plan(project: Project, sort: Sequence[SortKey]) -> tuple[bool, bool | None] | None:
    """(groups descending, within a createdAt group descending; None: ties) when rows need no sort.

    With rows in creation order, row order *is* ``_id`` order (an id starts with its creation
    second, then the row), and within one ``createdAt`` millisecond too.
    """
    if not project.created_sorted:
        return None
    first = sort[0]
    if first.field == "_id":
        return first.descending, first.descending
    if first.field != "createdAt":
        return None
    if len(sort) == 1:
        return first.descending, None
    if sort[1].field == "_id":
        return first.descending, sort[1].descending
    return None


def _permutation(size: int, seed: int, group_start: int) -> Callable[[int], int]:
    """A per-request permutation of ``range(size)``: ``(a * k + b) % size`` with ``gcd(a, size) == 1``."""
    if size == 1:
        return lambda offset: 0
    chooser = random.Random(seed ^ group_start)  # noqa: S311 (an order to not rely on, not a secret)
    shift = chooser.randrange(size)
    factor = chooser.randrange(1, size)
    while math.gcd(factor, size) != 1:
        factor = chooser.randrange(1, size)
    return lambda offset: (factor * offset + shift) % size


def _row_order(offset: int) -> int:
    return offset


def _reversed_order(size: int) -> Callable[[int], int]:
    return lambda offset: size - 1 - offset


def order_rows_page(project: Project, rows: Sequence[int], request: PageRequest) -> list[int]:
    """The page of ``rows`` (ascending row numbers) in the requested order."""
    plan = _fast_plan(project, request.sort)
    if plan is None:
        keys = {name: make(project) for name, make in ROW_SORT_KEYS.items()}
        return order_page(rows, request, keys)
    groups_descending, within_descending = plan
    created = project.created
    count = len(rows)
    seed = random.getrandbits(64)
    page: list[int] = []
    position = request.start
    end = min(request.end, count)
    while position < end:
        probe = count - 1 - position if groups_descending else position
        value = created[rows[probe]]
        low = bisect_left(rows, value, key=created.__getitem__)
        high = bisect_right(rows, value, key=created.__getitem__)
        size = high - low
        group_first_position = count - high if groups_descending else low
        if within_descending:
            pick = _reversed_order(size)
        elif within_descending is None and request.shuffle_ties:
            pick = _permutation(size, seed, low)
        else:
            pick = _row_order  # ascending, or stable ties: tied rows in row order
        stop = min(end, group_first_position + size)
        page.extend(rows[low + pick(offset - group_first_position)] for offset in range(position, stop))
        position = stop
    return page


def rows_page(project: Project, rows: Sequence[int], request: PageRequest) -> tuple[list[int], int]:
    """(the rows of the page, the total number selected)."""
    if not isinstance(rows, (array, list, range)):
        rows = list(rows)
    return order_rows_page(project, rows, request), len(rows)
