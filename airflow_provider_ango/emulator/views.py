"""How rows look from outside (asset, task, project JSON) and how list filters select rows.

Filters compile to a predicate over row numbers; nothing per row is materialised before a
row is known to be wanted, so a filter over a million-row project allocates almost nothing.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from airflow_provider_ango.emulator.common import bad_request, format_ms, parse_iso_us, parse_json
from airflow_provider_ango.emulator.state import (
    API_USER,
    ORGANIZATION_ID,
    TASK_TYPES,
    Project,
)

RowPredicate = Callable[[int], bool]
EMPTY_ANSWER: dict[str, list[Any]] = {"tools": [], "classifications": [], "relations": []}
TIME_OPERATORS = ("$gt", "$gte", "$lt", "$lte")


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


# -- JSON views ------------------------------------------------------------------------
def without_metadata(annotations: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Annotations (and their nested classifications) without per-annotation metadata, as in
    history entries and in exports asked for without metadata."""
    result = []
    for annotation in annotations:
        copy = {key: value for key, value in annotation.items() if key != "metadata"}
        if isinstance(copy.get("classifications"), list):
            copy["classifications"] = without_metadata(copy["classifications"])
        result.append(copy)
    return result


def project_json(project: Project) -> dict[str, Any]:
    return {
        **project_summary_json(project),
        "categorySchema": project.category_schema,
        "batches": [batch.to_json() for batch in project.batches],
        "stages": [stage.to_json() for stage in project.stages],
        "consensusCount": project.consensus_count,
        "role": "Manager",
        "deleted": False,
    }


def project_summary_json(project: Project) -> dict[str, Any]:
    return {
        "_id": project.id,
        "name": project.name,
        "description": project.description,
        "type": project.type,
        "organization": ORGANIZATION_ID,
        "createdAt": format_ms(project.created_ms),
    }


def asset_json(project: Project, row: int) -> dict[str, Any]:
    extra = project.extras.get(row)
    stage = project.stage_at(row)
    data = project.data[row]
    result: dict[str, Any] = {
        "_id": project.asset_id(row),
        "project": project.id,
        "externalId": project.ext_ids[row],
        "data": list(data) if isinstance(data, list) else project.data_url(row),
        "batches": list(project.batch_refs[row]),
        "metadata": dict(extra.metadata) if extra and extra.metadata else {},
        "isPreLabeled": project.is_prelabeled(row),
        "createdAt": format_ms(project.created[row]),
        "task": {"_id": project.task_id(row), "stage": stage.name, "stageId": stage.id},
    }
    if extra is not None:
        if extra.context_data is not None:
            result["contextData"] = extra.context_data
        if extra.attachments is not None:
            result["attachments"] = extra.attachments
        if extra.storage is not None:
            result["storage"] = extra.storage
    return result


def task_json(project: Project, row: int, include_answer: bool) -> dict[str, Any]:
    extra = project.extras.get(row)
    stage = project.stage_at(row)
    result: dict[str, Any] = {
        "_id": project.task_id(row),
        "project": project.id,
        "asset": {
            "_id": project.asset_id(row),
            "externalId": project.ext_ids[row],
            "data": project.data_url(row),
        },
        "stage": stage.name,
        "stageId": stage.id,
        "status": "Completed" if stage.type == "Complete" else "TODO",
        "batches": list(project.batch_refs[row]),
        "isPreLabeled": project.is_prelabeled(row),
        "isBenchmark": project.task_type(row) == "benchmark",
        "taskType": project.task_type(row),
        "review": {"status": (extra.review_status if extra else None) or "Todo"},
        "createdAt": format_ms(project.created[row]),
        "updatedAt": format_ms(project.updated[row]),
        # A task nobody touched yet was last updated by the API user who imported it.
        "updatedBy": (extra.updated_by if extra else None) or API_USER,
        "totalDuration": extra.total_duration if extra else 0,
    }
    if include_answer:
        result["answer"] = (extra.answer if extra else None) or EMPTY_ANSWER
    return result


def start_history_entry(project: Project, row: int) -> dict[str, Any]:
    return {
        "stage": "Start",
        "stageId": project.stage("Start").id,
        "duration": 0,
        "completedAt": format_ms(project.created[row]),
        "tools": [],
        "classifications": [],
        "relations": [],
    }


def stage_history(project: Project, row: int) -> list[dict[str, Any]]:
    """Every task left Start at creation; later moves are stored as they happen."""
    extra = project.extras.get(row)
    return [start_history_entry(project, row), *((extra.history or []) if extra else [])]


# -- filters ---------------------------------------------------------------------------
def _as_str_list(value: Any, name: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise bad_request(f"filter {name} must be a string or a list of strings")


def _as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    raise bad_request(f"filter {name} must be true or false")


def resolve_batch_ids(project: Project, value: Any, name: str) -> list[str]:
    """Batch ids named by a client: each must be a 24-hex id of a batch of this project."""
    ids = _as_str_list(value, name)
    for batch_id in ids:
        if project.batch_by_id(batch_id) is None:
            raise bad_request(
                f"{name}: batch {batch_id!r} is not a batch id of project {project.id} "
                f"(batches: {', '.join(b.id + '=' + b.name for b in project.batches) or 'none'})"
            )
    return ids


def resolve_stage_indexes(project: Project, value: Any, name: str) -> set[int]:
    """Stage names or ids; an unknown one is a 400 that lists the project's stages."""
    indexes = set()
    for key in _as_str_list(value, name):
        stage = project.find_stage(key)
        if stage is None:
            raise bad_request(
                f"{name}: unknown stage {key!r}; stages of this project: {', '.join(project.stage_names())}"
            )
        indexes.add(stage.index)
    return indexes


def _member(values: Collection[Any], key_of: Callable[[int], Any]) -> RowPredicate:
    def check(row: int) -> bool:
        return key_of(row) in values

    return check


def _in_all_batches(project: Project, required: set[str]) -> RowPredicate:
    def check(row: int) -> bool:
        return required.issubset(project.batch_refs[row])

    return check


def _within(window: TimeRange, column: array[int]) -> RowPredicate:
    def check(row: int) -> bool:
        return window.contains_ms(column[row])

    return check


def _task_status(project: Project, row: int) -> str:
    return "Completed" if project.stage_at(row).type == "Complete" else "TODO"


def asset_predicate(project: Project, filters: dict[str, Any]) -> RowPredicate:
    """``filters`` of GET /v2/project/{id}/assets: _id, externalId, isPreLabeled, batches (all)."""
    checks: list[RowPredicate] = []
    for key, value in filters.items():
        if key == "_id":
            checks.append(_member(set(_as_str_list(value, key)), project.asset_id))
        elif key == "externalId":
            checks.append(_member(set(_as_str_list(value, key)), project.ext_ids.__getitem__))
        elif key == "isPreLabeled":
            checks.append(_member({_as_bool(value, key)}, project.is_prelabeled))
        elif key == "batches":
            checks.append(_in_all_batches(project, set(resolve_batch_ids(project, value, "filters.batches"))))
        else:
            raise bad_request(f"Unknown asset filter {key!r}; use _id, externalId, isPreLabeled, batches")
    return _all_of(checks)


TASK_FILTER_KEYS = (
    "_id",
    "stage",
    "stageId",
    "status",
    "batches",
    "updatedAt",
    "createdAt",
    "externalId",
    "assetId",
    "isPreLabeled",
    "taskType",
)


def task_predicate(project: Project, filters: dict[str, Any]) -> RowPredicate:
    """``filter`` of GET /v2/project/{id}/tasks (also used by the control API's selection)."""
    checks: list[RowPredicate] = []
    for key, value in filters.items():
        name = f"filter.{key}"
        if key in ("stage", "stageId"):
            checks.append(_member(resolve_stage_indexes(project, value, name), project.stage_of.__getitem__))
        elif key == "status":
            statuses = set(_as_str_list(value, name))
            checks.append(_member(statuses, lambda row: _task_status(project, row)))
        elif key == "batches":
            checks.append(_in_all_batches(project, set(resolve_batch_ids(project, value, name))))
        elif key in ("updatedAt", "createdAt"):
            column = project.updated if key == "updatedAt" else project.created
            checks.append(_within(parse_time_range(value, name), column))
        elif key in ("_id", "assetId"):
            make_id = project.task_id if key == "_id" else project.asset_id
            checks.append(_member(set(_as_str_list(value, name)), make_id))
        elif key == "externalId":
            checks.append(_member(set(_as_str_list(value, name)), project.ext_ids.__getitem__))
        elif key == "isPreLabeled":
            checks.append(_member({_as_bool(value, name)}, project.is_prelabeled))
        elif key == "taskType":
            types = set(_as_str_list(value, name))
            if types - set(TASK_TYPES):
                unknown = sorted(types - set(TASK_TYPES))
                raise bad_request(f"{name}: unknown task types {unknown}; use {list(TASK_TYPES)}")
            checks.append(_member(types, project.task_type))
        else:
            raise bad_request(f"Unknown task filter {key!r}; use {', '.join(TASK_FILTER_KEYS)}")
    return _all_of(checks)


def _all_of(checks: list[RowPredicate]) -> RowPredicate:
    if not checks:
        return lambda row: True
    if len(checks) == 1:
        return checks[0]
    return lambda row: all(check(row) for check in checks)


def matching_rows(project: Project, predicate: RowPredicate, upto: int | None = None) -> Iterator[int]:
    """Rows in creation order; ``upto`` freezes the row count (rows added later are skipped)."""
    end = len(project) if upto is None else upto
    return (row for row in range(end) if predicate(row))


SORT_KEYS: dict[str, Callable[[Project], Callable[[int], Any]]] = {
    "createdAt": lambda project: lambda row: project.created[row],
    "updatedAt": lambda project: lambda row: project.updated[row],
    "_id": lambda project: lambda row: project.task_id(row),
    "externalId": lambda project: lambda row: project.ext_ids[row],
    "stage": lambda project: lambda row: project.stage_at(row).name,
}


def sort_rows(project: Project, rows: Iterable[int], sort: str | None) -> list[int]:
    """``sort=-updatedAt,externalId``: a leading minus is descending."""
    ordered = list(rows)
    if not sort:
        return ordered
    fields = [part.strip() for part in sort.split(",") if part.strip()]
    for field in reversed(fields):  # stable sorts, least significant key first
        descending = field.startswith("-")
        name = field.lstrip("-+")
        if name not in SORT_KEYS:
            raise bad_request(f"Cannot sort by {name!r}; sortable fields: {', '.join(SORT_KEYS)}")
        ordered.sort(key=SORT_KEYS[name](project), reverse=descending)
    return ordered


def page_of(rows: Iterable[int], page: int, limit: int) -> tuple[list[int], int]:
    """(rows on the page, total count) without keeping rows outside the page."""
    start = (page - 1) * limit
    chosen: list[int] = []
    total = 0
    for row in rows:
        if start <= total < start + limit:
            chosen.append(row)
        total += 1
    return chosen, total
