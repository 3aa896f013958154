"""POST /v2/import/labels: pre-labels for tasks, in the SDK's form or the REST documentation's.

- SDK: ``{"project", "jsonContent": [{"externalId", "objects"|"tools", "classifications",
  "relations"}, ...]}``;
- REST: ``{"project", "labels": [{"externalId" | "assetId", "answer": {"objects", "classifications",
  "relations"}, "status"?}, ...]}`` (``status`` is checked to be a string and is otherwise inert:
  the documentation does not say what it does).

An item by externalId pre-labels "all assets sharing the same external ID" (Ango's import page).
All or nothing: an unknown externalId or assetId, or a schemaId not in the project's category
schema, is a 400 naming every offender, and nothing is written.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_ango.emulator.common import KIND_ASSET, bad_request
from airflow_provider_ango.emulator.project import API_USER, FLAG_PRELABELED, Project
from airflow_provider_ango.emulator.state import EmulatorState
from airflow_provider_ango.emulator.validation import (
    AnswerContext,
    SchemaIndex,
    normalize_answer,
    raise_if_offenders,
)


def _label_items(body: dict[str, Any]) -> tuple[str, list[Any]]:
    forms = [key for key in ("jsonContent", "labels") if key in body]
    if len(forms) != 1:
        raise bad_request('Body needs one of "jsonContent" (SDK form) or "labels" (REST form), not both')
    items = body[forms[0]]
    if not isinstance(items, list) or not items:
        raise bad_request(f"{forms[0]} must be a non-empty list of label objects")
    return forms[0], items


def _rows_of(project: Project, item: dict[str, Any], where: str, unknown: list[str]) -> tuple[list[int], str]:
    """The rows an item labels, and how it names them (for messages)."""
    keys = [key for key in ("externalId", "assetId") if key in item]
    if len(keys) != 1:
        raise bad_request(f"{where} needs exactly one of externalId or assetId")
    value = item[keys[0]]
    if not isinstance(value, str) or not value:
        raise bad_request(f"{where}: {keys[0]} must be a non-empty string")
    label = f"{keys[0]} {value!r}"
    if keys[0] == "externalId":
        rows = project.rows_for_external_id(value)
    else:
        row = project.row_for_id(value, KIND_ASSET)
        rows = [] if row is None else [row]
    if not rows:
        unknown.append(label)
    return rows, label


def import_labels(state: EmulatorState, project: Project, body: dict[str, Any]) -> int:
    """Pre-label the tasks the items name; the number of tasks labelled."""
    form, items = _label_items(body)
    context = AnswerContext(SchemaIndex.of(project.category_schema), API_USER, state.clock.now_ms())
    unknown: list[str] = []
    planned: list[tuple[list[int], dict[str, Any]]] = []
    for position, item in enumerate(items):
        where = f"{form}[{position}]"
        if not isinstance(item, dict):
            raise bad_request(f"{where} must be an object")
        if form == "jsonContent" and "assetId" in item:
            raise bad_request(f"{where}: the jsonContent form names assets by externalId")
        rows, label = _rows_of(project, item, where, unknown)
        annotations: Any = item
        if form == "labels":
            annotations = item.get("answer")
            if not isinstance(annotations, dict):
                raise bad_request(
                    f"{where} ({label}) needs answer, an object with objects, classifications, relations"
                )
            if "status" in item and not isinstance(item["status"], str):
                raise bad_request(f"{where} ({label}): status must be a string")
        if rows:
            stage_id = project.stage_at(rows[0]).id
            planned.append((rows, normalize_answer(annotations, context, f"{where} ({label})", stage_id)))
    context.raise_if_offenders("Annotations name schemaIds that are not in the project's category schema")
    raise_if_offenders(unknown, f"No asset of project {project.id} has")
    labelled = 0
    for rows, answer in planned:
        for row in rows:
            extra = project.extras_of(row)
            extra.answer = extra.prelabel_answer = answer
            extra.updated_by = API_USER
            project.flags[row] |= FLAG_PRELABELED
            project.updated[row] = context.at_ms
            labelled += 1
    return labelled
