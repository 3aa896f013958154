"""List filters: what a client may ask for, compiled to a :class:`Selection` of rows.

A selection starts from an index where a filter names one (``_id``, ``assetId``, ``externalId``,
``batches``), so a filtered listing of a million-row project touches only the rows it can return;
the other filters become row predicates. A filter value is a string, a list, or a MongoDB-style
condition (``$eq``, ``$ne``, ``$in``, ``$nin``, ``$regex``), the forms the SDK's ``TaskFilter``
writes. ``batches`` as a plain list means *all* of them (the SDK's asset filter documents that);
``{"$in": [...]}`` means any.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_ango.emulator.common import KIND_ASSET, KIND_TASK, bad_request, parse_iso_us, parse_json
from airflow_provider_ango.emulator.project import TASK_TYPES, Project

RowPredicate = Callable[[int], bool]
TIME_OPERATORS = ("$gt", "$gte", "$lt", "$lte")
STRING_OPERATORS = ("$eq", "$ne", "$in", "$nin", "$regex")
TASK_STATUSES = ("TODO", "Completed")


# -- time ranges -----------------------------------------------------------------------
@dataclass(frozen=True)
class TimeRange:
    """Bounds in epoch microseconds; a stored time (ms) matches when inside all bounds."""

    lower_us: int | None = None
    lower_inclusive: bool = True
    upper_us: int | None = None
    upper_inclusive: bool = True

    def contains_ms(self, stored_ms: int) -> bool:
        value = stored_ms * 1000
        if self.lower_us is not None and (
            value < self.lower_us or (value == self.lower_us and not self.lower_inclusive)
        ):
            return False
        return not (
            self.upper_us is not None
            and (value > self.upper_us or (value == self.upper_us and not self.upper_inclusive))
        )


def parse_time_range(raw: Any, name: str) -> TimeRange:
    """``{"$gt"|"$gte"|"$lt"|"$lte": iso}``; several bounds on one side keep the strictest."""
    if isinstance(raw, (str, bytes)):
        raw = parse_json(raw, name)
    if not isinstance(raw, dict) or not raw:
        raise bad_request(f"{name} must be a JSON object with $gt, $gte, $lt or $lte")
    unknown = sorted(set(raw) - set(TIME_OPERATORS))
    if unknown:
        raise bad_request(f"{name} has unknown operators {', '.join(unknown)}; use $gt, $gte, $lt, $lte")
    lower: tuple[int, bool] | None = None
    upper: tuple[int, bool] | None = None
    for operator, value in raw.items():
        bound = parse_iso_us(value, f"{name}.{operator}")
        inclusive = operator.endswith("e")
        if operator in ("$gt", "$gte"):
            # Strictest lower bound: the larger value; on a tie, exclusive beats inclusive.
            if lower is None or bound > lower[0] or (bound == lower[0] and not inclusive):
                lower = (bound, inclusive)
        elif upper is None or bound < upper[0] or (bound == upper[0] and not inclusive):
            upper = (bound, inclusive)
    return TimeRange(
        lower[0] if lower else None,
        lower[1] if lower else True,
        upper[0] if upper else None,
        upper[1] if upper else True,
    )


# -- string conditions ------------------------------------------------------------------
@dataclass
class StringCondition:
    """``any_of`` (None: no such constraint), ``all_of``, ``none_of`` and ``pattern``, all ANDed."""

    any_of: set[str] | None = None
    all_of: set[str] = field(default_factory=set)
    none_of: set[str] = field(default_factory=set)
    pattern: re.Pattern[str] | None = None

    def matches(self, value: str | None) -> bool:
        if self.any_of is not None and value not in self.any_of:
            return False
        if value in self.none_of:
            return False
        return self.pattern is None or (value is not None and self.pattern.search(value) is not None)

    def matches_set(self, values: Iterable[str]) -> bool:
        """For multi-valued fields (batches): $in any, a plain list all, $nin none."""
        present = set(values)
        if self.any_of is not None and present.isdisjoint(self.any_of):
            return False
        return self.all_of.issubset(present) and present.isdisjoint(self.none_of)

    def values(self) -> set[str]:
        return (self.any_of or set()) | self.all_of | self.none_of


def _strings(value: Any, name: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise bad_request(f"filter {name} must be a string or a list of strings")


def parse_condition(value: Any, name: str, list_means_all: bool = False) -> StringCondition:
    if not isinstance(value, dict):
        listed = _strings(value, name)
        if list_means_all and isinstance(value, list):
            return StringCondition(all_of=set(listed))
        return StringCondition(any_of=set(listed))
    unknown = sorted(set(value) - set(STRING_OPERATORS))
    if unknown or not value:
        raise bad_request(
            f"filter {name}: unsupported operators {unknown}; use {', '.join(STRING_OPERATORS)}"
        )
    condition = StringCondition()
    for operator, operand in value.items():
        if operator == "$regex":
            if not isinstance(operand, str):
                raise bad_request(f"filter {name}.$regex must be a string")
            try:
                condition.pattern = re.compile(operand)
            except re.error as exc:
                raise bad_request(f"filter {name}.$regex is not a valid expression: {exc}") from None
        elif operator in ("$eq", "$in"):
            wanted = set(_strings(operand, f"{name}.{operator}"))
            condition.any_of = wanted if condition.any_of is None else condition.any_of & wanted
        else:
            condition.none_of |= set(_strings(operand, f"{name}.{operator}"))
    return condition


def _as_bool(value: Any, name: str) -> bool:
    if isinstance(value, dict) and set(value) == {"$eq"}:
        value = value["$eq"]
    if isinstance(value, bool):
        return value
    raise bad_request(f"filter {name} must be true or false")


# -- references to batches and stages ---------------------------------------------------
def _batch_listing(project: Project) -> str:
    return ", ".join(f"{batch.id}={batch.name}" for batch in project.batches) or "none"


def resolve_batch_ids(project: Project, values: Iterable[str], name: str) -> list[str]:
    """Batch ids named by a client: each must be the id of a batch of this project."""
    ids = list(values)
    for batch_id in ids:
        if project.batch_by_id(batch_id) is None:
            raise bad_request(
                f"{name}: batch {batch_id!r} is not a batch id of project {project.id} "
                f"(batches: {_batch_listing(project)})"
            )
    return ids


def resolve_batch_names(project: Project, values: Iterable[str], name: str) -> list[str]:
    """Batch names -> ids; unknown or ambiguous (two batches of that name) is a 400."""
    ids = []
    for batch_name in values:
        found = project.batches_named(batch_name)
        if len(found) != 1:
            problem = "is not a batch name" if not found else f"names {len(found)} batches"
            raise bad_request(
                f"{name}: {batch_name!r} {problem} of project {project.id} "
                f"(batches: {_batch_listing(project)})"
            )
        ids.append(found[0].id)
    return ids


def resolve_stage_indexes(project: Project, value: Any, name: str) -> set[int]:
    """Stage names or ids; an unknown one is a 400 that lists the project's stages."""
    indexes = set()
    for key in _strings(value, name):
        stage = project.find_stage(key)
        if stage is None:
            raise bad_request(
                f"{name}: unknown stage {key!r}; stages of this project: {', '.join(project.stage_names())}"
            )
        indexes.add(stage.index)
    return indexes


# -- selections ---------------------------------------------------------------------------
@dataclass
class Selection:
    """Rows to list: ``candidates`` from an index (None: every live row) narrowed by ``checks``."""

    project: Project
    candidates: Sequence[int] | None = None
    checks: list[RowPredicate] = field(default_factory=list)

    def narrow(self, rows: Iterable[int]) -> None:
        found = set(rows)
        if self.candidates is not None:
            found &= set(self.candidates)
        self.candidates = sorted(found)

    def narrow_to_index(self, index: Sequence[int]) -> None:
        """Narrow to an ascending index; the first narrowing keeps the index itself (no copy)."""
        if self.candidates is None:
            self.candidates = index
        else:
            self.narrow(index)

    def rows(self) -> Sequence[int]:
        """The selected live rows, ascending (an index itself when no predicate is left)."""
        base: Sequence[int] = self.project.live if self.candidates is None else self.candidates
        if not self.checks:
            return base
        checks = self.checks
        return array("q", [row for row in base if all(check(row) for check in checks)])

    def by_ids(self, value: Any, name: str, kind: int) -> None:
        condition = parse_condition(value, name)
        if condition.any_of is not None:
            found = (self.project.row_for_id(any_id, kind) for any_id in condition.any_of)
            self.narrow(row for row in found if row is not None)
        if condition.none_of or condition.pattern:
            make_id = self.project.task_id if kind == KIND_TASK else self.project.asset_id
            self.checks.append(lambda row: condition.matches(make_id(row)))

    def by_external_id(self, value: Any, name: str) -> None:
        condition = parse_condition(value, name)
        if condition.any_of is not None:
            self.narrow(row for ext in condition.any_of for row in self.project.rows_for_external_id(ext))
        if condition.none_of or condition.pattern:
            self.checks.append(lambda row: condition.matches(self.project.ext_ids[row]))

    def by_batches(self, condition: StringCondition) -> None:
        index = self.project.batch_index
        named = sorted(condition.all_of) or sorted(condition.any_of or ())
        if len(named) == 1 and not condition.none_of and len(condition.values()) == 1:
            self.narrow_to_index(index.get(named[0], array("q")))  # exactly one batch's rows
            return
        if condition.all_of:
            smallest = min(condition.all_of, key=lambda batch_id: len(index.get(batch_id, ())))
            self.narrow_to_index(index.get(smallest, array("q")))
        if condition.any_of is not None:
            self.narrow(row for batch_id in condition.any_of for row in index.get(batch_id, ()))
        refs = self.project.batch_refs
        self.checks.append(lambda row: condition.matches_set(refs[row]))


def batch_condition(project: Project, value: Any, name: str) -> StringCondition:
    condition = parse_condition(value, name, list_means_all=True)
    resolve_batch_ids(project, condition.values(), name)
    if condition.pattern is not None:
        raise bad_request(f"{name}: $regex does not apply to batches")
    return condition


def asset_selection(project: Project, filters: dict[str, Any]) -> Selection:
    """``filters`` of GET /v2/project/{id}/assets: _id, externalId, isPreLabeled, batches (all)."""
    selection = Selection(project)
    for key, value in filters.items():
        name = f"filters.{key}"
        if key == "_id":
            selection.by_ids(value, name, KIND_ASSET)
        elif key == "externalId":
            selection.by_external_id(value, name)
        elif key == "isPreLabeled":
            selection.checks.append(_equals(project.is_prelabeled, _as_bool(value, name)))
        elif key == "batches":
            selection.by_batches(batch_condition(project, value, name))
        else:
            raise bad_request(f"Unknown asset filter {key!r}; use _id, externalId, isPreLabeled, batches")
    return selection


TASK_FILTER_KEYS = (
    "_id",
    "assetId",
    "assignee",
    "batches",
    "createdAt",
    "externalId",
    "isPreLabeled",
    "stage",
    "stageId",
    "status",
    "taskType",
    "updatedAt",
)


def _equals(read: Callable[[int], Any], wanted: Any) -> RowPredicate:
    return lambda row: read(row) == wanted


def _condition_on(read: Callable[[int], str | None], condition: StringCondition) -> RowPredicate:
    return lambda row: condition.matches(read(row))


def _within(window: TimeRange, column: array[int]) -> RowPredicate:
    return lambda row: window.contains_ms(column[row])


def _stage_check(project: Project, value: Any, name: str) -> RowPredicate:
    condition = parse_condition(value, name)
    wanted = resolve_stage_indexes(project, sorted(condition.any_of or ()), name)
    unwanted = resolve_stage_indexes(project, sorted(condition.none_of), name)
    any_stage = condition.any_of is None

    def check(row: int) -> bool:
        stage = project.stage_of[row]
        return (any_stage or stage in wanted) and stage not in unwanted

    return check


def _assignee_reader(project: Project) -> Callable[[int], str | None]:
    def read(row: int) -> str | None:
        extra = project.extras.get(row)
        return extra.assignee if extra is not None else None

    return read


def task_selection(project: Project, filters: dict[str, Any]) -> Selection:
    """The task filter (``filter`` / ``filters``, and the top-level parameters folded in)."""
    selection = Selection(project)
    checks = selection.checks
    for key, value in filters.items():
        name = f"filter.{key}"
        if key in ("stage", "stageId"):
            checks.append(_stage_check(project, value, name))
        elif key in ("status", "taskType", "assignee"):
            condition = parse_condition(value, name)
            allowed = {"status": TASK_STATUSES, "taskType": TASK_TYPES}.get(key)
            unknown = sorted(condition.values() - set(allowed)) if allowed is not None else []
            if unknown:
                raise bad_request(f"{name}: unknown values {unknown}; use {list(allowed or ())}")
            readers: dict[str, Callable[[int], str | None]] = {
                "status": project.task_status,
                "taskType": project.task_type,
                "assignee": _assignee_reader(project),
            }
            checks.append(_condition_on(readers[key], condition))
        elif key == "batches":
            selection.by_batches(batch_condition(project, value, name))
        elif key in ("updatedAt", "createdAt"):
            column = project.updated if key == "updatedAt" else project.created
            checks.append(_within(parse_time_range(value, name), column))
        elif key in ("_id", "assetId"):
            selection.by_ids(value, name, KIND_TASK if key == "_id" else KIND_ASSET)
        elif key == "externalId":
            selection.by_external_id(value, name)
        elif key == "isPreLabeled":
            checks.append(_equals(project.is_prelabeled, _as_bool(value, name)))
        else:
            raise bad_request(f"Unknown task filter {key!r}; use {', '.join(TASK_FILTER_KEYS)}")
    return selection
