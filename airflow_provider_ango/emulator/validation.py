"""Validation of what clients send: category schemas, import items and annotations.

Every failure is a 400 whose message names the offending item (index, externalId,
schemaId) so that a caller can fix its input; nothing is applied when validation fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_ango.emulator.common import bad_request, format_ms, object_id_hex23

TOOL_TYPES = frozenset(
    {
        "bounding-box",
        "rotated-bounding-box",
        "polygon",
        "polyline",
        "point",
        "segmentation",
        "brush",
        "ner",
        "pdf",
        "pct",
    }
)
CLASSIFICATION_TYPES = frozenset(
    {
        "radio",
        "checkbox",
        "single-dropdown",
        "multi-dropdown",
        "tree-dropdown",
        "text",
        "instance",
        "boolean",
    }
)
RELATION_TYPES = frozenset({"one-to-one", "one-to-many", "group"})
SECTIONS = {"tools": TOOL_TYPES, "classifications": CLASSIFICATION_TYPES, "relations": RELATION_TYPES}

# Percent-encoded absolute http(s) URL: no spaces, no raw non-ASCII, a host present.
_URL = re.compile(r"^https?://[^/\s?#]+(?:[/?#][\x21-\x7e]*)?$")
MAX_LISTED_OFFENDERS = 20


def _name_offenders(offenders: list[str]) -> str:
    shown = ", ".join(offenders[:MAX_LISTED_OFFENDERS])
    more = len(offenders) - MAX_LISTED_OFFENDERS
    return shown + (f" (and {more} more)" if more > 0 else "")


# -- category schema -------------------------------------------------------------------
def validate_category_schema(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request("categorySchema must be an object with tools, classifications, relations")
    unknown = sorted(set(value) - set(SECTIONS))
    if unknown:
        raise bad_request(f"categorySchema has unknown keys: {', '.join(unknown)}")
    seen: set[str] = set()
    result: dict[str, Any] = {}
    for section, allowed in SECTIONS.items():
        items = value.get(section, [])
        if not isinstance(items, list):
            raise bad_request(f"categorySchema.{section} must be a list")
        for position, item in enumerate(items):
            _check_schema_item(item, f"categorySchema.{section}[{position}]", allowed, seen)
        result[section] = items
    return result


def _check_schema_item(item: Any, where: str, allowed: frozenset[str], seen: set[str]) -> None:
    if not isinstance(item, dict):
        raise bad_request(f"{where} must be an object")
    schema_id = item.get("schemaId")
    if not isinstance(schema_id, str) or not schema_id:
        raise bad_request(f"{where} has no schemaId (a non-empty string is required)")
    if schema_id in seen:
        raise bad_request(f"{where}: schemaId {schema_id!r} is used twice in the category schema")
    seen.add(schema_id)
    if "title" in item and not isinstance(item["title"], str):
        raise bad_request(f"{where}.title must be a string")
    tool = item.get("tool")
    if tool not in allowed:
        raise bad_request(f"{where} ({schema_id}): tool {tool!r} is not one of {', '.join(sorted(allowed))}")
    nested = item.get("classifications", [])
    if not isinstance(nested, list):
        raise bad_request(f"{where}.classifications must be a list")
    for position, child in enumerate(nested):
        _check_schema_item(child, f"{where}.classifications[{position}]", CLASSIFICATION_TYPES, seen)
    options = item.get("options", [])
    if not isinstance(options, list) or not all(isinstance(option, dict) for option in options):
        raise bad_request(f"{where}.options must be a list of objects")


@dataclass
class SchemaIndex:
    """schemaId -> schema item per section, and title -> item for title-only references."""

    tools: dict[str, dict[str, Any]] = field(default_factory=dict)
    classifications: dict[str, dict[str, Any]] = field(default_factory=dict)
    relations: dict[str, dict[str, Any]] = field(default_factory=dict)
    titles: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def of(cls, schema: dict[str, Any]) -> SchemaIndex:
        index = cls()
        for section in SECTIONS:
            target: dict[str, dict[str, Any]] = getattr(index, section)
            for item in schema.get(section, []):
                target[item["schemaId"]] = item
                index.titles.setdefault(section, {}).setdefault(item.get("title", ""), item)
                for nested in _nested_classifications(item):
                    index.classifications.setdefault(nested["schemaId"], nested)
        return index


def _nested_classifications(item: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for child in item.get("classifications", []) or []:
        found.append(child)
        found.extend(_nested_classifications(child))
    return found


# -- annotations -----------------------------------------------------------------------
@dataclass
class AnswerContext:
    """What checking one request's annotations needs: the schema, who and when, and the offenders.

    Unknown schemaIds are collected across every item of the request, so that one 400 names
    them all (``raise_if_offenders``) before anything is written.
    """

    schema: SchemaIndex
    actor: str
    at_ms: int
    offenders: list[str] = field(default_factory=list)

    def raise_if_offenders(self, what: str) -> None:
        raise_if_offenders(self.offenders, what)


def normalize_answer(
    raw: dict[str, Any], context: AnswerContext, where: str, stage_id: str
) -> dict[str, Any]:
    """Check every annotation's schemaId (or title) against the project's schema.

    Unknown ones are added to ``context.offenders``; known ones are completed the way Ango's
    export shows them (objectId, title, classification ``tool``, annotation metadata).
    """
    tools = raw.get("tools", raw.get("objects", []))
    answer: dict[str, Any] = {}
    for section, items in (
        ("tools", tools),
        ("classifications", raw.get("classifications", [])),
        ("relations", raw.get("relations", [])),
    ):
        answer[section] = _complete_all(
            [] if items is None else items, section, context, where, stage_id, f"{section} must"
        )
    return answer


def _complete_all(
    items: Any, section: str, context: AnswerContext, where: str, stage_id: str, what: str
) -> list[dict[str, Any]]:
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise bad_request(f"{where}: {what} be a list of objects")
    return [_complete_annotation(item, section, context, where, stage_id) for item in items]


def _complete_annotation(
    item: dict[str, Any], section: str, context: AnswerContext, where: str, stage_id: str
) -> dict[str, Any]:
    schema = context.schema
    known: dict[str, dict[str, Any]] = getattr(schema, section)
    schema_id = item.get("schemaId")
    definition = known.get(schema_id) if isinstance(schema_id, str) else None
    if definition is None and schema_id is None and isinstance(item.get("title"), str):
        definition = schema.titles.get(section, {}).get(item["title"])
    if definition is None:
        label = schema_id if schema_id is not None else f"title {item.get('title')!r}"
        context.offenders.append(f"{where} {section[:-1]} schemaId {label}")
        return item
    completed = dict(item)
    completed["schemaId"] = definition["schemaId"]
    completed.setdefault("objectId", object_id_hex23())
    completed.setdefault("title", definition.get("title", ""))
    if section == "classifications":
        completed.setdefault("tool", definition["tool"])
    if section != "relations":
        nested = item.get("classifications", [])
        what = "nested classifications must"
        completed["classifications"] = _complete_all(
            nested, "classifications", context, where, stage_id, what
        )
    completed.setdefault(
        "metadata", {"createdAt": format_ms(context.at_ms), "createdBy": context.actor, "createdIn": stage_id}
    )
    return completed


# -- import items ----------------------------------------------------------------------
@dataclass
class ImportItem:
    """One validated asset of a cloud import."""

    external_id: str
    data: Any  # URL string, or list of page URLs for a multi-page asset
    batch_ids: list[str]
    metadata: dict[str, Any] | None
    context_data: dict[str, Any] | None
    attachments: list[Any] | None
    storage: str | None
    prelabels: dict[str, Any] | None


def check_url(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise bad_request(f"{where}: data must be a non-empty URL string")
    if not _URL.match(value):
        raise bad_request(
            f"{where}: data {value!r} is not an absolute, percent-encoded http(s) URL "
            "(encode spaces as %20 and non-ASCII characters as UTF-8 percent escapes)"
        )
    return value


def validate_import_item(item: Any, position: int) -> ImportItem:
    """Shape checks that need no project state (batches/storage are checked by the caller)."""
    where = f"assets[{position}]"
    if not isinstance(item, dict):
        raise bad_request(f"{where} must be an object with data and externalId")
    external_id = item.get("externalId")
    if not isinstance(external_id, str) or not external_id:
        raise bad_request(f"{where} has no externalId (a non-empty string is required)")
    where = f"{where} (externalId {external_id!r})"
    if "data" not in item:
        raise bad_request(f"{where} has no data URL")
    data = _check_data(item["data"], where)
    batches = item.get("batches", [])
    if not isinstance(batches, list) or not all(isinstance(batch, str) for batch in batches):
        raise bad_request(f"{where}: batches must be a list of batch id strings")
    metadata = _optional_object(item, "metadata", where)
    for key in ("width", "height"):
        if key in item:
            if not isinstance(item[key], (int, float)) or isinstance(item[key], bool):
                raise bad_request(f"{where}: {key} must be a number")
            metadata = {**(metadata or {}), key: item[key]}
    if metadata is not None:
        _check_video_metadata(metadata, where)
    attachments = item.get("attachments")
    if attachments is not None and not isinstance(attachments, list):
        raise bad_request(f"{where}: attachments must be a list")
    storage = item.get("storage")
    if storage is not None and not isinstance(storage, str):
        raise bad_request(f"{where}: storage must be a storage id string")
    prelabels = _optional_object(item, "preLabels", where)
    return ImportItem(
        external_id,
        data,
        batches,
        metadata,
        _optional_object(item, "contextData", where),
        attachments,
        storage,
        prelabels,
    )


def _check_data(data: Any, where: str) -> Any:
    if isinstance(data, list):
        # Multi-page asset: a list of page URLs, or of objects carrying a ``data`` URL.
        if not data:
            raise bad_request(f"{where}: a multi-page data list must not be empty")
        pages = []
        for page_number, page in enumerate(data):
            url = page.get("data") if isinstance(page, dict) else page
            pages.append(check_url(url, f"{where} page {page_number}"))
        return pages
    return check_url(data, where)


def _optional_object(item: dict[str, Any], key: str, where: str) -> dict[str, Any] | None:
    value = item.get(key)
    if value is not None and not isinstance(value, dict):
        raise bad_request(f"{where}: {key} must be an object")
    return value


def _check_video_metadata(metadata: dict[str, Any], where: str) -> None:
    for key in ("frameRate", "width", "height"):
        if key in metadata and (
            not isinstance(metadata[key], (int, float)) or isinstance(metadata[key], bool)
        ):
            raise bad_request(f"{where}: metadata.{key} must be a number")
    if "frameCount" in metadata and (
        not isinstance(metadata["frameCount"], int) or isinstance(metadata["frameCount"], bool)
    ):
        raise bad_request(f"{where}: metadata.frameCount must be an integer")


def raise_if_offenders(offenders: list[str], what: str) -> None:
    if offenders:
        raise bad_request(f"{what}: {_name_offenders(offenders)}")
