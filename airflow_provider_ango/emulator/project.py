"""A project: settings, workflow, batches and the columns of its asset/task rows.

Why columns: a project must hold 1,000,000 assets in modest memory. Each asset and its one task
are a *row*; a project keeps one Python list or ``array`` per field (external ids, data URLs,
created/updated times, stage index, flags, batch tuple), so a row costs a few machine words plus
its externalId string. Everything rare (metadata, contextData, attachments, answers, stage
history, ...) lives in a sparse ``extras`` dict keyed by row, created only when an asset has such
data. Asset and task ids are derived from the row (see :func:`common.row_id`).

Indexes, so that a listing filtered by externalId or by batch costs what it returns, not what the
project holds: ``live`` (the rows not deleted, ascending), ``ext_index`` (externalId -> rows) and
``batch_index`` (batch id -> rows, ascending). A deleted asset keeps its row (ids stay stable) but
leaves every index. ``created_sorted`` says whether rows were created in time order, which lets a
listing sorted by ``createdAt``/``_id`` page without sorting.
"""

from __future__ import annotations

import itertools
import uuid
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from airflow_provider_ango.emulator.common import KIND_ASSET, KIND_TASK, parse_row_id, row_id

API_USER = "api-user@emulator.ango.local"
STAGE_TYPES = ("Start", "Label", "Review", "Consensus", "Hold", "Complete")
PATH_STAGE_TYPES = ("Label", "Review", "Consensus", "Hold")
DEFAULT_WORKFLOW = ("Label", "Review")
TASK_TYPES = ("default", "consensus", "benchmark")
FLAG_PRELABELED = 0x01
TASK_TYPE_SHIFT = 1  # bits 1-2 of the flags byte hold the index into TASK_TYPES


class Stage:
    __slots__ = ("id", "index", "name", "next_ids", "type")

    def __init__(self, stage_id: str, name: str, stage_type: str, index: int) -> None:
        self.id = stage_id
        self.name = name
        self.type = stage_type
        self.index = index
        self.next_ids: list[str] = []

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "type": self.type, "next": list(self.next_ids)}


class Batch:
    __slots__ = ("id", "name")

    def __init__(self, batch_id: str, name: str) -> None:
        self.id = batch_id
        self.name = name

    def to_json(self) -> dict[str, str]:
        return {"_id": self.id, "name": self.name}


class AssetExtra:
    """The rarely-present parts of an asset and its task (absent rows cost nothing)."""

    __slots__ = (
        "answer",
        "assignee",
        "attachments",
        "completed_ms",
        "context_data",
        "history",
        "judgments",
        "metadata",
        "prelabel_answer",
        "review_status",
        "storage",
        "total_duration",
        "updated_by",
    )

    def __init__(self) -> None:
        self.metadata: dict[str, Any] | None = None
        self.context_data: dict[str, Any] | None = None
        self.attachments: list[Any] | None = None
        self.storage: str | None = None
        self.answer: dict[str, Any] | None = None
        self.prelabel_answer: dict[str, Any] | None = None
        self.history: list[dict[str, Any]] | None = None
        self.updated_by: str | None = None
        self.total_duration = 0
        self.review_status: str | None = None
        self.judgments: list[dict[str, Any]] | None = None
        self.assignee: str | None = None
        self.completed_ms: int | None = None


def _remove_sorted(rows: array[int], row: int) -> None:
    position = bisect_left(rows, row)
    if position < len(rows) and rows[position] == row:
        del rows[position]


class Project:
    def __init__(
        self,
        number: int,
        project_id: str,
        name: str,
        description: str,
        project_type: str,
        created_ms: int,
        workflow: Iterable[str] = DEFAULT_WORKFLOW,
        consensus_count: int = 2,
    ) -> None:
        self.number = number
        self.id = project_id
        self.name = name
        self.description = description
        self.type = project_type
        self.created_ms = created_ms
        self.consensus_count = consensus_count
        self.category_schema: dict[str, Any] = {"tools": [], "classifications": [], "relations": []}
        self.batches: list[Batch] = []
        self.stages: list[Stage] = []
        self._stage_by_key: dict[str, Stage] = {}
        for index, stage_type in enumerate(STAGE_TYPES):
            # Start, Label and Complete keep their names as ids (as in Ango's export samples);
            # added stages get uuids.
            stage_id = stage_type if stage_type in ("Start", "Label", "Complete") else str(uuid.uuid4())
            stage = Stage(stage_id, stage_type, stage_type, index)
            self.stages.append(stage)
            self._stage_by_key[stage_id] = stage
            self._stage_by_key.setdefault(stage_type, stage)
        self.path: list[Stage] = [self.stage("Start")]
        self.path += [self.stage(name) for name in workflow] + [self.stage("Complete")]
        for current, following in itertools.pairwise(self.path):
            current.next_ids = [following.id]
        # Row columns.
        self.ext_ids: list[str] = []
        self.data: list[Any] = []  # str URL, list of page URLs, or None (synthetic)
        self.created = array("q")
        self.updated = array("q")
        self.stage_of = array("B")
        self.flags = array("B")
        self.batch_refs: list[tuple[str, ...]] = []
        self.extras: dict[int, AssetExtra] = {}
        self._batch_tuples: dict[tuple[str, ...], tuple[str, ...]] = {(): ()}
        # Indexes.
        self.deleted = bytearray()
        self.live = array("q")
        self.ext_index: dict[str, int | list[int]] = {}
        self.batch_index: dict[str, array[int]] = {}
        self.created_sorted = True

    # -- workflow -----------------------------------------------------------------------
    def stage(self, key: str) -> Stage:
        """Stage by id or name; KeyError if unknown."""
        return self._stage_by_key[key]

    def find_stage(self, key: Any) -> Stage | None:
        return self._stage_by_key.get(key) if isinstance(key, str) else None

    def stage_names(self) -> list[str]:
        return [stage.name for stage in self.stages]

    def entry_stage(self) -> Stage:
        """Where a new task lands: the first stage after Start."""
        return self.path[1]

    def next_stage(self, stage: Stage) -> Stage:
        if stage in self.path and stage.type != "Complete":
            return self.path[self.path.index(stage) + 1]
        return self.stage("Complete")

    def labeling_stage_before(self, stage: Stage) -> Stage:
        """Where a rejected review sends a task back: the closest Label/Consensus before it."""
        position = self.path.index(stage) if stage in self.path else len(self.path) - 1
        for candidate in reversed(self.path[:position]):
            if candidate.type in ("Label", "Consensus"):
                return candidate
        return self.entry_stage()

    # -- batches ------------------------------------------------------------------------
    def batch_by_id(self, batch_id: str) -> Batch | None:
        return next((batch for batch in self.batches if batch.id == batch_id), None)

    def batches_named(self, name: str) -> list[Batch]:
        return [batch for batch in self.batches if batch.name == name]

    def batch_by_name(self, name: str) -> Batch | None:
        return next(iter(self.batches_named(name)), None)

    def intern_batches(self, batch_ids: Iterable[str]) -> tuple[str, ...]:
        """One shared tuple per distinct batch set, so a million rows share a few tuples."""
        key = tuple(dict.fromkeys(batch_ids))
        return self._batch_tuples.setdefault(key, key)

    def batch_ids_of(self, row: int) -> list[str]:
        """The row's batches that still exist (a batch update may have removed some)."""
        known = {batch.id for batch in self.batches}
        return [batch_id for batch_id in self.batch_refs[row] if batch_id in known]

    def batch_names(self, batch_ids: Iterable[str]) -> list[str]:
        names = {batch.id: batch.name for batch in self.batches}
        return [names[batch_id] for batch_id in batch_ids if batch_id in names]

    # -- rows ---------------------------------------------------------------------------
    def __len__(self) -> int:
        """Rows ever added, deleted ones included (``live`` holds the others)."""
        return len(self.ext_ids)

    def _note_created(self, created_ms: int) -> None:
        if self.created and created_ms < self.created[-1]:
            self.created_sorted = False

    def add_row(
        self,
        external_id: str,
        data: Any,
        created_ms: int,
        stage: Stage,
        batch_ids: tuple[str, ...],
        flags: int = 0,
        extra: AssetExtra | None = None,
    ) -> int:
        row = len(self.ext_ids)
        self._note_created(created_ms)
        refs = self.intern_batches(batch_ids)
        self.ext_ids.append(external_id)
        self.data.append(data)
        self.created.append(created_ms)
        self.updated.append(created_ms)
        self.stage_of.append(stage.index)
        self.flags.append(flags)
        self.batch_refs.append(refs)
        self.deleted.append(0)
        self.live.append(row)
        for batch_id in refs:
            self.batch_index.setdefault(batch_id, array("q")).append(row)
        if extra is not None:
            self.extras[row] = extra
        self._index_external_id(external_id, row)
        return row

    def add_synthetic_rows(
        self,
        count: int,
        prefix: str,
        created_ms: int,
        updated_ms: int,
        stage: Stage,
        batch_ids: tuple[str, ...],
        flags: int,
    ) -> range:
        """Append ``count`` bare rows at once (the fast path for million-asset projects)."""
        start = len(self.ext_ids)
        self._note_created(created_ms)
        rows = range(start, start + count)
        width = max(7, len(str(start + count)))
        new_ids = [f"{prefix}{number:0{width}d}" for number in rows]
        refs = self.intern_batches(batch_ids)
        self.ext_ids.extend(new_ids)
        self.data.extend(itertools.repeat(None, count))
        self.created.extend(array("q", [created_ms]) * count)
        self.updated.extend(array("q", [updated_ms]) * count)
        self.stage_of.extend(array("B", [stage.index]) * count)
        self.flags.extend(array("B", [flags]) * count)
        self.batch_refs.extend(itertools.repeat(refs, count))
        self.deleted.extend(bytes(count))
        self.live.extend(array("q", rows))
        for batch_id in refs:
            self.batch_index.setdefault(batch_id, array("q")).extend(array("q", rows))
        index = self.ext_index
        for row, external_id in zip(rows, new_ids, strict=True):
            if external_id in index:
                self._index_external_id(external_id, row)
            else:
                index[external_id] = row
        return rows

    def delete_row(self, row: int) -> None:
        """Soft delete: the row keeps its number (and ids), and leaves every index."""
        if self.deleted[row]:
            return
        self.deleted[row] = 1
        _remove_sorted(self.live, row)
        for batch_id in self.batch_refs[row]:
            _remove_sorted(self.batch_index[batch_id], row)
        found = self.ext_index.get(self.ext_ids[row])
        if isinstance(found, list):
            found.remove(row)
            if len(found) == 1:
                self.ext_index[self.ext_ids[row]] = found[0]
        else:
            del self.ext_index[self.ext_ids[row]]

    def is_live(self, row: int) -> bool:
        return 0 <= row < len(self.ext_ids) and not self.deleted[row]

    def _index_external_id(self, external_id: str, row: int) -> None:
        existing = self.ext_index.get(external_id)
        if existing is None:
            self.ext_index[external_id] = row
        elif isinstance(existing, list):
            existing.append(row)
        else:
            self.ext_index[external_id] = [existing, row]

    def rows_for_external_id(self, external_id: str) -> list[int]:
        found = self.ext_index.get(external_id)
        if found is None:
            return []
        return list(found) if isinstance(found, list) else [found]

    def extras_of(self, row: int) -> AssetExtra:
        """The row's extras, created on first need."""
        found = self.extras.get(row)
        if found is None:
            found = self.extras[row] = AssetExtra()
        return found

    def row_for_id(self, any_id: str, kind: int) -> int | None:
        """The live row whose asset (``KIND_ASSET``) or task (``KIND_TASK``) id is ``any_id``."""
        parsed = parse_row_id(any_id) if isinstance(any_id, str) else None
        if parsed is None or parsed[0] != kind or parsed[1] != self.number or not self.is_live(parsed[2]):
            return None
        row = parsed[2]
        wanted = self.task_id(row) if kind == KIND_TASK else self.asset_id(row)
        return row if wanted == any_id else None

    def asset_id(self, row: int) -> str:
        return row_id(self.created[row], KIND_ASSET, self.number, row)

    def task_id(self, row: int) -> str:
        return row_id(self.created[row], KIND_TASK, self.number, row)

    def data_url(self, row: int) -> str:
        data = self.data[row]
        if data is None:
            return f"https://assets.emulator.invalid/p{self.number}/{quote(self.ext_ids[row], safe='')}.jpg"
        if isinstance(data, list):
            return str(data[0])
        return str(data)

    def stage_at(self, row: int) -> Stage:
        return self.stages[self.stage_of[row]]

    def set_stage(self, row: int, stage: Stage, at_ms: int) -> None:
        """Move a task; reaching Complete records when (the REST task's ``completedAt``)."""
        self.stage_of[row] = stage.index
        if stage.type == "Complete":
            self.extras_of(row).completed_ms = at_ms
        elif row in self.extras:
            self.extras[row].completed_ms = None

    def task_status(self, row: int) -> str:
        return "Completed" if self.stage_at(row).type == "Complete" else "TODO"

    def task_type(self, row: int) -> str:
        return TASK_TYPES[(self.flags[row] >> TASK_TYPE_SHIFT) & 0x03]

    def is_prelabeled(self, row: int) -> bool:
        return bool(self.flags[row] & FLAG_PRELABELED)
