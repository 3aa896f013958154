"""What the imported sensor and its trigger ask Ango at each check: only what is still missing.

The **first check** lists the tasks of the manifest's scope batches (the task filter's
``batches``, pages of 100; one project read resolves the names) and marks each of the manifest's
externalIds it sees: one bit per id. Every **later check** asks only about the ids still missing,
whichever is cheaper of:

* the tasks of those batches updated since the previous check began, minus ``margin`` seconds
  (clock skew, and a task stamped a moment before it shows in listings): the filter
  ``updatedAt {"$gte": ...}``, a request parameter (REST-shape task answers carry no
  ``updatedAt``; none is needed). A task created since has its ``updatedAt`` from its creation;
* one exact look-up per missing externalId (read back from the manifest).

It reads the first page of each batch's updated listing, which tells its size, then goes on with
the cheaper: a later check costs about ``B + min(ceil(changed / 100), missing)`` requests (``B``
scope batches, usually one or two; ``changed`` the tasks of those batches created or updated
since), whatever the project holds. A manifest without scope batches lists the whole project at the
first check and uses ``updatedAt`` on the whole project afterwards.

The check is a generator of :data:`Step` requests, so the sync sensor and the async trigger
share it; :func:`run_check` and :func:`arun_check` answer the steps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_ango.hooks.ango import AngoHubHook
from airflow_provider_ango.imports.fingerprints import fingerprint
from airflow_provider_ango.imports.presence import DEFAULT_PAGE_SIZE, LookupCheck, ScopeScan, task_external_id
from airflow_provider_ango.imports.scope import ManifestScope
from airflow_provider_ango.models.window import TimeWindow

DEFAULT_MARGIN = 60.0
LOOKUP_LIMIT = 100


@dataclass(frozen=True)
class ReadProject:
    """Answer with the project (:class:`~airflow_provider_ango.models.api.Project`)."""


@dataclass(frozen=True)
class ReadTasks:
    """Answer with this page of the task listing."""

    page: int
    limit: int
    task_filter: dict[str, Any]


@dataclass(frozen=True)
class ReadMissing:
    """Answer with up to ``limit`` of the manifest's externalIds still missing (from the bucket)."""

    limit: int


Step = ReadProject | ReadTasks | ReadMissing
Check = Generator[Step, Any, dict[str, int]]


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class ImportWatch:
    """The state of one wait: which expected ids were seen, and when the previous check began."""

    scope: ManifestScope
    page_size: int = DEFAULT_PAGE_SIZE
    margin: float = DEFAULT_MARGIN
    clock: Callable[[], datetime] = _utc_now
    since: datetime | None = field(default=None, init=False)
    found: int = field(default=0, init=False)
    _seen: bytearray = field(init=False)
    _batch_ids: dict[str, str] = field(default_factory=dict, init=False)
    _lookups_work: bool = field(default=True, init=False)

    def __post_init__(self) -> None:
        self._seen = bytearray(len(self.scope.ids))

    @property
    def expected(self) -> int:
        return len(self.scope.ids)

    @property
    def missing(self) -> int:
        return self.expected - self.found

    def is_missing(self, external_id: str) -> bool:
        index = self.scope.ids.index_of(fingerprint(external_id))
        return index is not None and not self._seen[index]

    def _mark(self, value: int, _item: Any = None) -> None:
        index = self.scope.ids.index_of(value)
        if index is not None and not self._seen[index]:
            self._seen[index] = 1
            self.found += 1

    def summary(self, requests: int = 0, listed: int = 0) -> dict[str, int]:
        return {"expected": self.expected, "found": self.found, "requests": requests, "listed": listed}

    def check(self) -> Check:
        """One check (see the module docstring); its value is :meth:`summary` with its cost."""
        started = self.clock()
        requests = listed = 0
        scope = self.scope
        if scope.scoped and len(self._batch_ids) < len(scope.scope_batches) and self.missing:
            project = yield ReadProject()
            requests += 1
            self._batch_ids.update(project.batch_ids(scope.scope_batches)[0])
        filters: list[dict[str, Any]]
        if scope.scoped:
            filters = [{"batches": [batch_id]} for batch_id in sorted(set(self._batch_ids.values()))]
        else:
            filters = [{}]
        if self.missing and filters:
            if self.since is not None:
                bound = TimeWindow(gte=self.since - timedelta(seconds=self.margin)).to_api()
                filters = [{**task_filter, "updatedAt": bound} for task_filter in filters]
            incremental = self.since is not None and self._lookups_work
            scan = ScopeScan(
                len(filters),
                task_external_id,
                scope.ids,
                self.page_size,
                budget=self.missing if incremental else None,
                on_match=self._mark,
            )
            if not (incremental and self.missing <= len(filters)):
                listed, cost = yield from self._list(scan, filters)
                requests += cost
            if scan.stopped or (incremental and self.missing <= len(filters)):
                honoured, cost = yield from self._look_up()
                requests += cost
                if not honoured:  # the service ignored the filter: read the listings through
                    self._lookups_work = False
                    scan.resume()
                    listed, cost = yield from self._list(scan, filters)
                    requests += cost
        self.since = started
        return self.summary(requests, listed)

    def _list(self, scan: ScopeScan, filters: list[dict[str, Any]]) -> Generator[Step, Any, tuple[int, int]]:
        before = scan.requests
        while (request := scan.next_request()) is not None:
            listing, page, limit = request
            scan.take(listing, (yield ReadTasks(page, limit, filters[listing])))
        return sum(part.total for part in scan.scans), scan.requests - before

    def _look_up(self) -> Generator[Step, Any, tuple[bool, int]]:
        if not self.missing:
            return True, 0
        external_ids = yield ReadMissing(self.missing)
        check = LookupCheck(task_external_id)
        for external_id in external_ids:
            answer = yield ReadTasks(1, LOOKUP_LIMIT, {"externalId": external_id})
            if not check.take(external_id, answer):
                return False, check.result.requests
            if external_id in check.result.items:
                self._mark(fingerprint(external_id))
        return True, check.result.requests


def _step(hook: AngoHubHook, project_id: str, step: Step, read_missing: Callable[[int], list[str]]) -> Any:
    if isinstance(step, ReadProject):
        return hook.get_project(project_id)
    if isinstance(step, ReadTasks):
        return hook.get_tasks_page(project_id, step.page, step.limit, step.task_filter)
    return read_missing(step.limit)


def run_check(
    watch: ImportWatch, hook: AngoHubHook, project_id: str, read_missing: Callable[[int], list[str]]
) -> dict[str, int]:
    """One check of ``watch`` with the sync hook; ``read_missing(limit)`` reads the manifest."""
    steps = watch.check()
    answer: Any = None
    try:
        while True:
            answer = _step(hook, project_id, steps.send(answer), read_missing)
    except StopIteration as stop:
        summary: dict[str, int] = stop.value
        return summary


async def arun_check(
    watch: ImportWatch, hook: AngoHubHook, project_id: str, read_missing: Callable[[int], list[str]]
) -> dict[str, int]:
    """:func:`run_check` with the async hook (the manifest is read in a thread)."""
    steps = watch.check()
    answer: Any = None
    try:
        while True:
            step = steps.send(answer)
            if isinstance(step, ReadProject):
                answer = await hook.aget_project(project_id)
            elif isinstance(step, ReadTasks):
                answer = await hook.aget_tasks_page(project_id, step.page, step.limit, step.task_filter)
            else:
                answer = await asyncio.to_thread(read_missing, step.limit)
    except StopIteration as stop:
        summary: dict[str, int] = stop.value
        return summary


__all__ = [
    "DEFAULT_MARGIN",
    "ImportWatch",
    "ReadMissing",
    "ReadProject",
    "ReadTasks",
    "arun_check",
    "run_check",
]
