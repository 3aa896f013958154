"""From listed bucket objects to validated import items (or error records), one at a time.

The builder never holds a listing: it pulls objects from an iterator and yields one
:class:`BuildRecord` per asset. Multi-page mode groups the images of each folder into one
asset, which needs the listing in key order (every store lists that way); the open folders
form a chain of nested prefixes, so memory stays at one folder's pages per level.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from airflow_provider_ango.imports.media import (
    FIRST_READ_BYTES,
    MAX_HEADER_BYTES,
    ImageSize,
    NeedMore,
    NotAnImageError,
    SidecarError,
    image_size,
    not_an_image,
    video_metadata_from_sidecar,
)
from airflow_provider_ango.imports.rules import (
    ItemRules,
    ObjectInfo,
    asset_type_of,
    natural_sort_key,
    object_fields,
)
from airflow_provider_ango.models.imports import AngoImportItem, validation_reason
from airflow_provider_ango.models.window import TimeWindow
from airflow_provider_ango.progress import LogLike

#: ``read_range(relative_key, start, end)``: bytes ``[start, end)`` (fewer at the end of the
#: object); raises ``FileNotFoundError`` when the object does not exist.
ReadRange = Callable[[str, int, int | None], bytes]
UrlOf = Callable[[str], str]
AttachmentRule = Callable[[ObjectInfo], Sequence[Mapping[str, Any]]] | None

#: The most pages that one multi-page asset may gather (a guard against a wrong prefix).
MAX_PAGES = 10_000
MULTI_PAGE = "multi_page"


class ListingOrderError(RuntimeError):
    """Multi-page mode needs keys in ascending order, and the listing was not."""


@dataclass(frozen=True)
class BuildOptions:
    """What to add to each item besides URL and externalId.

    :param asset_types: types to take (``None``: every known type, not ``other``).
    :param image_dimensions: add ``width``/``height`` of images from a ranged read of the header.
    :param video_sidecar: template of a video's sidecar key (relative to the source prefix),
        e.g. ``"{relative_key}.json"``, holding ``frameRate``, ``frameCount``, ``width``,
        ``height``; a missing sidecar is not an error.
    :param multi_page: each folder's images become the pages of one asset, in natural order.
    :param storage_id: the storage integration id of a private bucket, set on every item.
    :param attachments: callable giving an object's attachments (``{"type", "value"}`` dicts).
    """

    asset_types: frozenset[str] | None = None
    image_dimensions: bool = False
    video_sidecar: str | None = None
    multi_page: bool = False
    storage_id: str | None = None
    attachments: AttachmentRule = None


@dataclass(frozen=True)
class BuildRecord:
    """One manifest line (``ok``) or one error line, and the asset type it counts under."""

    ok: bool
    asset_type: str
    payload: dict[str, Any]

    def to_line(self) -> bytes:
        return orjson.dumps(self.payload)


@dataclass
class BuildStats:
    listed: int = 0
    outside_window: int = 0
    skipped_type: int = 0
    image_size_unknown: int = 0
    by_type: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FolderInfo:
    """A multi-page folder seen as one object by the rules (``key`` relative, no trailing ``/``)."""

    key: str
    size: int
    etag: str | None
    last_modified: datetime


@dataclass
class ItemBuilder:
    """Bucket objects of ``window`` to import items by ``rules`` and ``options``, counting in ``stats``."""

    rules: ItemRules
    options: BuildOptions
    window: TimeWindow
    url_of: UrlOf
    read_range: ReadRange
    log: LogLike
    stats: BuildStats = field(default_factory=BuildStats, init=False)

    def wants(self, key: str) -> bool:
        kind = asset_type_of(key)
        if self.options.asset_types is None:
            return kind != "other"
        return kind in self.options.asset_types

    def build(self, objects: Iterable[ObjectInfo]) -> Iterator[BuildRecord]:
        if self.options.multi_page:
            yield from self._build_multi_page(objects)
            return
        for obj in objects:
            self.stats.listed += 1
            if not self.wants(obj.key):
                self.stats.skipped_type += 1
                continue
            if not self.window.contains(obj.last_modified):
                self.stats.outside_window += 1
                continue
            yield self._single(obj)

    # -- one object, one asset --------------------------------------------------------
    def _single(self, obj: ObjectInfo) -> BuildRecord:
        kind = asset_type_of(obj.key)
        fields = object_fields(obj, self.rules.prefix, self.rules.bucket)
        external_id: str | None = None
        try:
            external_id = self.rules.external_id_of(obj, fields)
            if obj.size == 0:
                raise ValueError(
                    "the file is empty (0 bytes): remove it, or wait until its upload has finished"
                )
            item: dict[str, Any] = {"data": self.url_of(obj.key), "externalId": external_id}
            if kind == "image" and self.options.image_dimensions:
                size = self._image_size(obj.key)
                if size is not None:
                    item["width"], item["height"] = size.width, size.height
            if kind == "video" and self.options.video_sidecar:
                metadata = self._sidecar(obj, fields)
                if metadata:
                    item["metadata"] = metadata
            self._common(item, obj, fields)
        except (NotAnImageError, SidecarError) as error:
            return self._error(obj.key, external_id, kind, str(error))
        except (ValueError, KeyError, FileNotFoundError) as error:
            return self._error(obj.key, external_id, kind, f"{type(error).__name__}: {error}")
        return self._validated(item, obj.key, kind)

    def _common(self, item: dict[str, Any], obj: ObjectInfo, fields: Mapping[str, Any]) -> None:
        batches = self.rules.batches_of(obj, fields)
        if batches:
            item["batches"] = batches
        context = self.rules.context_of(obj)
        if context:
            item["contextData"] = context
        if self.options.attachments is not None:
            attachments = [dict(attachment) for attachment in self.options.attachments(obj)]
            if attachments:
                item["attachments"] = attachments
        if self.options.storage_id:
            item["storage"] = self.options.storage_id

    def _validated(self, item: dict[str, Any], key: str, kind: str) -> BuildRecord:
        try:
            model = AngoImportItem.model_validate(item)
        except ValidationError as error:
            return self._error(key, item.get("externalId"), kind, validation_reason(error), item)
        self.stats.by_type[kind] = self.stats.by_type.get(kind, 0) + 1
        return BuildRecord(True, kind, model.to_json_dict())

    def _error(
        self,
        key: str,
        external_id: str | None,
        kind: str,
        reason: str,
        item: dict[str, Any] | None = None,
    ) -> BuildRecord:
        payload: dict[str, Any] = {
            "key": self.rules.prefix + key,
            "externalId": external_id,
            "type": kind,
            "reason": reason,
        }
        if item is not None:
            payload["item"] = item
        return BuildRecord(False, kind, payload)

    def _image_size(self, key: str) -> ImageSize | None:
        want = FIRST_READ_BYTES
        while True:
            header = self.read_range(key, 0, want)
            answer = image_size(header)
            if isinstance(answer, NeedMore) and len(header) >= want and want < MAX_HEADER_BYTES:
                want = min(max(answer.size, want * 2), MAX_HEADER_BYTES)
                continue
            if isinstance(answer, ImageSize):
                return answer
            # Refused when the bytes are no image, or end before a header could: not when a JPEG's
            # header lies past the read limit.
            refused = not_an_image(posixpath.splitext(key)[1].lstrip("."), header)
            if refused is not None and (answer is None or len(header) < want):
                raise refused
            self.stats.image_size_unknown += 1
            if self.stats.image_size_unknown <= 10:
                self.log.warning("No image size found in the first %d bytes of %s", len(header), key)
            return None

    def _sidecar(self, obj: ObjectInfo, fields: Mapping[str, Any]) -> dict[str, Any] | None:
        template = self.options.video_sidecar or ""
        sidecar_key = template.format(**fields).lstrip("/")
        try:
            raw = self.read_range(sidecar_key, 0, None)
        except FileNotFoundError:
            return None
        metadata = video_metadata_from_sidecar(raw, self.rules.prefix + sidecar_key)
        return metadata.to_json_dict() or None

    # -- folders as multi-page assets -------------------------------------------------
    def _build_multi_page(self, objects: Iterable[ObjectInfo]) -> Iterator[BuildRecord]:
        open_groups: list[tuple[str, list[ObjectInfo]]] = []
        previous: str | None = None
        for obj in objects:
            self.stats.listed += 1
            if previous is not None and obj.key <= previous:
                raise ListingOrderError(
                    f"multi_page needs the listing in ascending key order; {obj.key!r} came after "
                    f"{previous!r}. Use a store that lists in key order, or multi_page=False."
                )
            previous = obj.key
            if not self.wants(obj.key):
                self.stats.skipped_type += 1
                continue
            folder = posixpath.dirname(obj.key)
            if not folder:
                yield self._error(obj.key, None, MULTI_PAGE, "multi_page: the file is not inside a folder")
                continue
            while open_groups and not (
                folder == open_groups[-1][0] or folder.startswith(open_groups[-1][0] + "/")
            ):
                yield from self._flush(*open_groups.pop())
            if open_groups and open_groups[-1][0] == folder:
                open_groups[-1][1].append(obj)
            else:
                open_groups.append((folder, [obj]))
        while open_groups:
            yield from self._flush(*open_groups.pop())

    def _flush(self, folder: str, pages: list[ObjectInfo]) -> Iterator[BuildRecord]:
        newest = max(page.last_modified for page in pages)
        info = FolderInfo(folder, sum(page.size for page in pages), None, newest)
        if not self.window.contains(newest):
            self.stats.outside_window += 1
            return
        fields = object_fields(info, self.rules.prefix, self.rules.bucket)
        external_id: str | None = None
        try:
            external_id = self.rules.external_id_of(info, fields)
            if len(pages) > MAX_PAGES:
                raise ValueError(f"{len(pages)} pages is more than the {MAX_PAGES} one asset may have")
            empty = [page.key for page in pages if page.size == 0]
            if empty:
                first = self.rules.prefix + empty[0]
                raise ValueError(
                    f"{len(empty)} page(s) are empty (0 bytes), first {first!r}: remove them, or wait until "
                    "their upload has finished"
                )
            ordered = sorted(pages, key=lambda page: natural_sort_key(posixpath.basename(page.key)))
            data = [
                {"data": self.url_of(page.key), "externalId": posixpath.basename(page.key)}
                for page in ordered
            ]
            item: dict[str, Any] = {"data": data, "externalId": external_id}
            self._common(item, info, fields)
        except (ValueError, KeyError) as error:
            yield self._error(folder + "/", external_id, MULTI_PAGE, f"{type(error).__name__}: {error}")
            return
        yield self._validated(item, folder + "/", MULTI_PAGE)


__all__ = [
    "MULTI_PAGE",
    "BuildOptions",
    "BuildRecord",
    "BuildStats",
    "FolderInfo",
    "ItemBuilder",
    "ListingOrderError",
]
