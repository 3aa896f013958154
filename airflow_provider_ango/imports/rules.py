"""From a bucket object to the parts of its import item: type, externalId, batches, contextData.

Templates (the ``external_id`` rule and batch names) are ``str.format`` strings over the
object's fields, applied per object after Airflow has rendered the Jinja of the task:

=================  ==========================================================
``{key}``          the whole object key in the bucket, ``images/2024/cat 1.jpg``
``{relative_key}`` the key relative to the source URI's prefix, ``2024/cat 1.jpg``
``{name}``         the last path segment, ``cat 1.jpg``
``{stem}``         the name without its extension, ``cat 1``
``{ext}``          the extension in lower case without the dot, ``jpg``
``{folder}``       the parent folder relative to the prefix, ``2024`` (``""`` at the top)
``{bucket}``       the bucket (or Azure container) name
``{size}``         the size in bytes
``{etag}``         the ETag without quotes
``{type}``         the asset type (``image``, ``video``, ...; see :data:`ASSET_TYPES`)
=================  ==========================================================
"""

from __future__ import annotations

import posixpath
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol, runtime_checkable

#: Asset types by file extension (lower case, no dot). Everything else is ``other``.
ASSET_TYPES: dict[str, frozenset[str]] = {
    "image": frozenset({"jpg", "jpeg", "png", "gif", "webp", "bmp", "tif", "tiff", "avif", "heic"}),
    "video": frozenset({"mp4", "mov", "webm", "avi", "mkv", "m4v", "mpg", "mpeg"}),
    "audio": frozenset({"mp3", "wav", "ogg", "flac", "m4a", "aac", "opus"}),
    "pdf": frozenset({"pdf"}),
    "text": frozenset({"txt"}),
    "markdown": frozenset({"md", "markdown", "html", "htm"}),
    "dicom": frozenset({"dcm", "dicom"}),
    "point_cloud": frozenset({"pcd", "las", "laz", "ply"}),
}
_TYPE_BY_EXTENSION = {ext: kind for kind, extensions in ASSET_TYPES.items() for ext in extensions}
TEMPLATE_FIELDS = frozenset(
    {"key", "relative_key", "name", "stem", "ext", "folder", "bucket", "size", "etag", "type"}
)


@runtime_checkable
class ObjectInfo(Protocol):
    """What the rules read from a listed bucket object (BucketHook's ``BucketObject``).

    ``key`` is relative to the source URI's prefix, as BucketHook lists it.
    """

    @property
    def key(self) -> str: ...

    @property
    def size(self) -> int: ...

    @property
    def etag(self) -> str | None: ...

    @property
    def last_modified(self) -> datetime: ...


class RuleError(ValueError):
    """A template or rule is unusable; raised when the operator is built, before any run."""


def extension_of(key: str) -> str:
    name = posixpath.basename(key)
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def asset_type_of(key: str) -> str:
    return _TYPE_BY_EXTENSION.get(extension_of(key), "other")


def check_asset_types(types: Sequence[str] | None) -> frozenset[str] | None:
    if types is None:
        return None
    wanted = frozenset(types)
    unknown = wanted - set(ASSET_TYPES) - {"other"}
    if unknown:
        raise RuleError(f"unknown asset type(s) {sorted(unknown)}; use {sorted([*ASSET_TYPES, 'other'])}")
    return wanted


def check_template(template: str, what: str) -> str:
    """Refuse a template naming a field that does not exist, with the list of fields."""
    try:
        names = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    except ValueError as error:
        raise RuleError(f"{what} template {template!r} is not a valid format string: {error}") from None
    bad = {name for name in names if name.split(".")[0].split("[")[0] not in TEMPLATE_FIELDS}
    if "" in names:
        bad.add("{}")
    if bad:
        raise RuleError(
            f"{what} template {template!r} uses unknown field(s) {sorted(bad)}; "
            f"available: {', '.join('{' + name + '}' for name in sorted(TEMPLATE_FIELDS))}"
        )
    return template


def object_fields(obj: ObjectInfo, prefix: str, bucket: str) -> dict[str, Any]:
    """The template fields of an object listed under the root ``prefix`` (see the module docstring)."""
    rel = obj.key
    name = posixpath.basename(rel.rstrip("/"))
    stem, dot, _ = name.rpartition(".")
    return {
        "key": prefix + rel,
        "relative_key": rel,
        "name": name,
        "stem": stem if dot and stem else name,
        "ext": extension_of(obj.key),
        "folder": posixpath.dirname(rel.rstrip("/")),
        "bucket": bucket,
        "size": obj.size,
        "etag": (obj.etag or "").strip('"'),
        "type": asset_type_of(obj.key),
    }


ExternalIdRule = str | Callable[[ObjectInfo], str] | None
BatchRule = Sequence[str] | Callable[[ObjectInfo], Sequence[str]] | None
ContextRule = Mapping[str, Any] | Callable[[ObjectInfo], Mapping[str, Any]] | None


@dataclass(frozen=True)
class ItemRules:
    """The per-object rules of a build, checked once when built.

    :param external_id: ``None`` (the key relative to the prefix), a template, or a callable.
    :param batches: batch name templates (``["nightly", "{folder}"]``), or a callable returning
        names; empty names (``{folder}`` at the top level) are left out.
    :param context_data: extra contextData (static mapping or callable per object).
    :param source_context: add ``bucket``, ``key``, ``size``, ``etag``, ``lastModified``.
    """

    prefix: str
    bucket: str
    external_id: ExternalIdRule = None
    batches: BatchRule = None
    context_data: ContextRule = None
    source_context: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.external_id, str):
            check_template(self.external_id, "external_id")
        if self.batches is not None and not callable(self.batches):
            if isinstance(self.batches, str):
                raise RuleError("batches must be a list of names or templates, not one string")
            for name in self.batches:
                check_template(name, "batches")

    def external_id_of(self, obj: ObjectInfo, fields: Mapping[str, Any] | None = None) -> str:
        if callable(self.external_id):
            return str(self.external_id(obj))
        fields = fields or object_fields(obj, self.prefix, self.bucket)
        if self.external_id is None:
            return str(fields["relative_key"])
        return self.external_id.format(**fields)

    def batches_of(self, obj: ObjectInfo, fields: Mapping[str, Any] | None = None) -> list[str]:
        if self.batches is None:
            return []
        if callable(self.batches):
            names = [str(name) for name in self.batches(obj)]
        else:
            fields = fields or object_fields(obj, self.prefix, self.bucket)
            names = [template.format(**fields) for template in self.batches]
        return list(dict.fromkeys(name for name in names if name))

    def context_of(self, obj: ObjectInfo) -> dict[str, Any] | None:
        context: dict[str, Any] = {}
        if self.source_context:
            context.update(source_context(obj, self.bucket, self.prefix))
        if callable(self.context_data):
            context.update(self.context_data(obj))
        elif self.context_data:
            context.update(self.context_data)
        return context or None


def source_context(obj: ObjectInfo, bucket: str, prefix: str = "") -> dict[str, Any]:
    """``bucket``, ``key`` (whole key), ``size``, ``etag``, ``lastModified`` (ISO-8601, UTC)."""
    modified = obj.last_modified
    if modified.tzinfo is not None:
        modified = modified.astimezone(timezone.utc)
    return {
        "bucket": bucket,
        "key": prefix + obj.key,
        "size": obj.size,
        "etag": (obj.etag or "").strip('"'),
        "lastModified": modified.isoformat(),
    }


def natural_sort_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort ``page2`` before ``page10``: digit runs compare as numbers."""
    parts: list[tuple[int, int | str]] = []
    digits = ""
    letters = ""
    for char in text:
        if char.isdigit():
            if letters:
                parts.append((1, letters))
                letters = ""
            digits += char
        else:
            if digits:
                parts.append((0, int(digits)))
                digits = ""
            letters += char
    if digits:
        parts.append((0, int(digits)))
    if letters:
        parts.append((1, letters))
    return tuple(parts)


__all__ = [
    "ASSET_TYPES",
    "TEMPLATE_FIELDS",
    "ItemRules",
    "ObjectInfo",
    "RuleError",
    "asset_type_of",
    "check_asset_types",
    "check_template",
    "extension_of",
    "natural_sort_key",
    "object_fields",
    "source_context",
]
