"""Pydantic models of what is sent to Ango Hub on import: cloud asset items and pre-labels.

They mirror Ango's import documentation (docs.imerit.net: "Importing cloud (remote) assets" and
"Importing private GCP assets"):

* an **import item** is ``{"data": "<absolute, percent-encoded URL>", "externalId": "<id>"}``
  plus, optionally, ``metadata`` (video ``frameRate`` int or float, ``frameCount`` int,
  ``width``, ``height``; images ``width``/``height``), top-level ``width``/``height`` (the
  image form of the GCP page), ``batches``, ``contextData`` (key-values returned untouched in
  the export), ``attachments``, ``storage`` (the storage integration of a private bucket) and
  ``preLabels``. ``data`` may also be a list of pages (a multi-page asset): page URLs or
  ``{"data": url, "externalId"?: name}`` objects, in page order;
* a **pre-label item** (Ango Import Format) is keyed by ``externalId`` and carries ``tools``
  (older name ``objects``), ``classifications`` and ``relations``; every annotation names the
  ``schemaId`` of the project's category schema it belongs to.

Unknown keys are kept (``extra="allow"``): Ango has more import features than are modelled
here, and a pipeline must pass them on rather than drop them. What *is* modelled is checked
strictly, so that a bad item is refused with its reason before anything is sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

#: An absolute http(s) URL with a host, as printable ASCII only: spaces must be ``%20`` and any
#: non-ASCII character UTF-8 percent-escapes, as Ango's import page asks.
_URL = re.compile(r"^https?://[^/\s?#@]+(?:[/?#][\x21-\x7e]*)?$", re.IGNORECASE)
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")

Number = StrictInt | StrictFloat
PositiveNumber = Annotated[Number, Field(gt=0)]


def check_asset_url(value: str) -> str:
    """Return ``value`` if it is an absolute, percent-encoded http(s) URL; else raise ValueError."""
    if not _URL.match(value):
        if any(char.isspace() for char in value):
            reason = "contains whitespace (encode a space as %20, never as +)"
        elif any(ord(char) > 0x7E for char in value):
            reason = "contains raw non-ASCII characters (percent-encode them as UTF-8)"
        elif not value.lower().startswith(("http://", "https://")):
            reason = "is not an absolute http(s) URL"
        else:
            reason = "is not a valid absolute URL"
        raise ValueError(f"data URL {value[:300]!r} {reason}")
    if _BAD_ESCAPE.search(value):
        raise ValueError(f"data URL {value[:300]!r} has a '%' that is not a %XX escape (encode it as %25)")
    return value


class _ImportModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, str_strip_whitespace=False)

    def to_json_dict(self) -> dict[str, Any]:
        """The item as Ango reads it: wire names, unset optional fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class AssetMetadata(_ImportModel):
    """``metadata`` of an import item.

    With all four video fields present Ango skips its slow per-video metadata probe.
    """

    width: PositiveNumber | None = None
    height: PositiveNumber | None = None
    frame_rate: PositiveNumber | None = Field(default=None, alias="frameRate")
    frame_count: Annotated[StrictInt, Field(gt=0)] | None = Field(default=None, alias="frameCount")

    @property
    def is_complete_video(self) -> bool:
        return None not in (self.width, self.height, self.frame_rate, self.frame_count)


class PageRef(_ImportModel):
    """One page of a multi-page asset."""

    data: StrictStr
    external_id: StrictStr | None = Field(default=None, alias="externalId")

    @field_validator("data")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_asset_url(value)


class Attachment(_ImportModel):
    """Shown next to the asset in the labeling editor: an image or video URL, or a text."""

    type: Literal["IMAGE", "VIDEO", "TEXT"]
    value: StrictStr

    @model_validator(mode="after")
    def _url_for_media(self) -> Attachment:
        if self.type in ("IMAGE", "VIDEO"):
            check_asset_url(self.value)
        return self


class AnnotationBase(_ImportModel):
    """An annotation of the Ango Import Format; it must name the schemaId it belongs to."""

    schema_id: StrictStr = Field(alias="schemaId", min_length=1)
    classifications: list[ClassificationAnnotation] = Field(default_factory=list)


class ToolAnnotation(AnnotationBase):
    """A tool annotation (bounding-box, polygon, ...); the shape key is passed through."""


class ClassificationAnnotation(AnnotationBase):
    """A classification answer (radio, checkbox, text, ...), possibly with nested ones."""


class RelationAnnotation(_ImportModel):
    schema_id: StrictStr = Field(alias="schemaId", min_length=1)


class Annotations(_ImportModel):
    """``tools`` (older name ``objects``), ``classifications``, ``relations``."""

    tools: list[ToolAnnotation] = Field(
        default_factory=list, validation_alias=AliasChoices("tools", "objects")
    )
    classifications: list[ClassificationAnnotation] = Field(default_factory=list)
    relations: list[RelationAnnotation] = Field(default_factory=list)

    def schema_refs(self) -> Iterator[tuple[str, str]]:
        """``(section, schemaId)`` of every annotation, nested classifications included."""
        for tool in self.tools:
            yield "tools", tool.schema_id
            yield from _nested_refs(tool.classifications)
        yield from _nested_refs(self.classifications)
        for relation in self.relations:
            yield "relations", relation.schema_id


def _nested_refs(items: list[ClassificationAnnotation]) -> Iterator[tuple[str, str]]:
    for item in items:
        yield "classifications", item.schema_id
        yield from _nested_refs(item.classifications)


ExternalId = Annotated[StrictStr, Field(min_length=1, max_length=4096)]


class AngoImportItem(_ImportModel):
    """One asset of a cloud import (POST ``/v2/project/{id}/cloud``)."""

    data: StrictStr | list[PageRef | StrictStr]
    external_id: ExternalId = Field(alias="externalId")
    metadata: AssetMetadata | None = None
    width: PositiveNumber | None = None
    height: PositiveNumber | None = None
    batches: list[StrictStr] | None = None
    context_data: dict[str, Any] | None = Field(default=None, alias="contextData")
    attachments: list[Attachment] | None = None
    storage: StrictStr | None = None
    pre_labels: Annotations | None = Field(default=None, alias="preLabels")

    @model_validator(mode="before")
    @classmethod
    def _common_misspellings(cls, value: Any) -> Any:
        if isinstance(value, dict) and "externalId" not in value and "external_id" not in value:
            for wrong in ("externalID", "external_ID", "ExternalId", "externalid"):
                if wrong in value:
                    raise ValueError(f"the key is spelled 'externalId' (got {wrong!r})")
        return value

    @field_validator("data")
    @classmethod
    def _data(cls, value: str | list[PageRef | str]) -> str | list[PageRef | str]:
        if isinstance(value, str):
            return check_asset_url(value)
        if not value:
            raise ValueError("a multi-page data list must hold at least one page")
        for page in value:
            if isinstance(page, str):
                check_asset_url(page)
        return value

    @field_validator("batches")
    @classmethod
    def _batches(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(not name for name in value):
            raise ValueError("batch names must not be empty")
        return value

    @field_validator("storage")
    @classmethod
    def _storage(cls, value: str | None) -> str | None:
        if value is not None and not _OBJECT_ID.match(value):
            raise ValueError(f"storage must be a storage integration id (24 hex characters), got {value!r}")
        return value

    @property
    def page_count(self) -> int:
        return len(self.data) if isinstance(self.data, list) else 1


class LabelItem(Annotations):
    """One pre-label item of the Ango Import Format (POST ``/v2/import/labels``)."""

    external_id: ExternalId = Field(alias="externalId")


def validation_reason(error: ValidationError) -> str:
    """A one-line reason from a pydantic error: ``field.path: message; ...`` (at most 5 errors)."""
    parts = []
    for detail in error.errors()[:5]:
        where = ".".join(str(part) for part in detail.get("loc", ()))
        message = str(detail.get("msg", "invalid"))
        message = message.removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    more = error.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


AnnotationBase.model_rebuild()
ToolAnnotation.model_rebuild()
ClassificationAnnotation.model_rebuild()
Annotations.model_rebuild()
AngoImportItem.model_rebuild()
LabelItem.model_rebuild()

__all__ = [
    "AngoImportItem",
    "Annotations",
    "AssetMetadata",
    "Attachment",
    "ClassificationAnnotation",
    "LabelItem",
    "PageRef",
    "RelationAnnotation",
    "ToolAnnotation",
    "check_asset_url",
    "validation_reason",
]
