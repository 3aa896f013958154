"""Image sizes from the first bytes of a file, and video metadata from a sidecar JSON.

``image_size(header)`` reads PNG, GIF, BMP, WebP (VP8, VP8L, VP8X) and JPEG headers. It
answers a :class:`ImageSize`, ``None`` when the bytes are not an image it knows (or are
corrupt), or :class:`NeedMore` when the header goes past the bytes given (a JPEG whose
frame header comes after a large EXIF block): the caller reads a longer prefix and asks
again, up to its own limit. The sizes are the stored pixel sizes (EXIF orientation is not
applied), which is what a polygon-to-bitmask export needs.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from airflow_provider_ango.models.imports import AssetMetadata, validation_reason

#: What a first ranged read fetches: enough for every format but JPEGs with big EXIF blocks.
FIRST_READ_BYTES = 64 * 1024
#: Never read more than this looking for a JPEG frame header.
MAX_HEADER_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ImageSize:
    width: int
    height: int


@dataclass(frozen=True)
class NeedMore:
    """The header continues past the bytes given; read at least ``size`` bytes."""

    size: int


def image_size(header: bytes) -> ImageSize | NeedMore | None:
    """Width and height from the start of an image file (see the module docstring)."""
    if header.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png(header)
    if header[:6] in (b"GIF87a", b"GIF89a"):
        return _fixed(header, 10, "<HH", 6)
    if header.startswith(b"BM"):
        return _bmp(header)
    if header[:4] == b"RIFF" and header[8:12] == b"WEBP":
        return _webp(header)
    if header.startswith(b"\xff\xd8"):
        return _jpeg(header)
    if len(header) < 12:
        return NeedMore(12)
    return None


def _positive(width: int, height: int) -> ImageSize | None:
    return ImageSize(width, height) if width > 0 and height > 0 else None


def _fixed(header: bytes, end: int, layout: str, offset: int) -> ImageSize | NeedMore | None:
    if len(header) < end:
        return NeedMore(end)
    width, height = struct.unpack_from(layout, header, offset)
    return _positive(int(width), int(height))


def _png(header: bytes) -> ImageSize | NeedMore | None:
    if len(header) < 24:
        return NeedMore(24)
    if header[12:16] != b"IHDR":
        return None
    width, height = struct.unpack_from(">II", header, 16)
    return _positive(width, height)


def _bmp(header: bytes) -> ImageSize | NeedMore | None:
    if len(header) < 18:
        return NeedMore(26)
    (dib_size,) = struct.unpack_from("<I", header, 14)
    if dib_size == 12:  # BITMAPCOREHEADER: 16-bit unsigned sizes
        return _fixed(header, 22, "<HH", 18)
    if dib_size < 40:
        return None
    if len(header) < 26:
        return NeedMore(26)
    width, height = struct.unpack_from("<ii", header, 18)
    return _positive(abs(width), abs(height))  # a negative height means top-down rows


def _webp(header: bytes) -> ImageSize | NeedMore | None:
    if len(header) < 30:
        return NeedMore(30)
    chunk = header[12:16]
    if chunk == b"VP8 ":  # lossy: key frame start code, then 14-bit sizes
        if header[23:26] != b"\x9d\x01\x2a":
            return None
        width, height = struct.unpack_from("<HH", header, 26)
        return _positive(width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L":  # lossless: signature byte, then 14-bit sizes minus one, packed
        if header[20] != 0x2F:
            return None
        (bits,) = struct.unpack_from("<I", header, 21)
        return _positive((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X":  # extended: 24-bit canvas sizes minus one
        width = int.from_bytes(header[24:27], "little") + 1
        height = int.from_bytes(header[27:30], "little") + 1
        return _positive(width, height)
    return None


# Start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) share the range.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})


def _jpeg(header: bytes) -> ImageSize | NeedMore | None:
    position = 2
    while True:
        if position >= len(header):
            return NeedMore(position + 4)
        if header[position] != 0xFF:
            return None  # not at a marker: corrupt
        # Markers may be padded with any number of 0xFF bytes.
        while position < len(header) and header[position] == 0xFF:
            position += 1
        if position >= len(header):
            return NeedMore(position + 4)
        marker = header[position]
        position += 1
        if marker == 0xD9 or marker == 0xDA:  # end of image, or start of scan before any frame
            return None
        if marker in _STANDALONE:
            continue
        if position + 2 > len(header):
            return NeedMore(position + 2)
        (length,) = struct.unpack_from(">H", header, position)
        if length < 2:
            return None
        if marker in _SOF_MARKERS:
            if position + 7 > len(header):
                return NeedMore(position + 7)
            height, width = struct.unpack_from(">HH", header, position + 3)
            return _positive(width, height)
        position += length
        if position > len(header):
            return NeedMore(position + 4)


class SidecarError(ValueError):
    """A video sidecar file exists but is not usable metadata."""


class NotAnImageError(ValueError):
    """A file whose extension names an image format this module reads, whose bytes are not one."""


#: Extensions whose headers :func:`image_size` reads, and the format each one names.
READABLE_FORMATS = {
    "png": "PNG",
    "gif": "GIF",
    "bmp": "BMP",
    "webp": "WebP",
    "jpg": "JPEG",
    "jpeg": "JPEG",
}


def not_an_image(ext: str, header: bytes) -> NotAnImageError | None:
    """The error for a ``.<ext>`` file whose ``header`` is no image of that format; None otherwise.

    Only for the formats :func:`image_size` reads (others, TIFF or HEIC say, may be fine).
    """
    name = READABLE_FORMATS.get(ext.lower())
    if name is None:
        return None
    if not header:
        return NotAnImageError(
            "the file is empty (0 bytes): remove it, or wait until its upload has finished"
        )
    return NotAnImageError(
        f"the file is not a {name} image (its first bytes are {header[:16]!r}): replace it with the image, "
        "or remove it (or exclude it) from the source"
    )


def video_metadata_from_sidecar(raw: bytes, where: str) -> AssetMetadata:
    """Parse a sidecar JSON object ``{"frameRate", "frameCount", "width", "height"}``.

    Missing fields are allowed (Ango probes what is missing); wrong types are an error
    naming the sidecar file.
    """
    try:
        payload: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise SidecarError(f"sidecar {where} is not JSON: {error}") from None
    if not isinstance(payload, dict):
        raise SidecarError(f"sidecar {where} must hold a JSON object, got {type(payload).__name__}")
    wanted = {key: payload[key] for key in ("frameRate", "frameCount", "width", "height") if key in payload}
    try:
        return AssetMetadata.model_validate(wanted)
    except ValidationError as error:
        raise SidecarError(f"sidecar {where}: {validation_reason(error)}") from None


__all__ = [
    "FIRST_READ_BYTES",
    "MAX_HEADER_BYTES",
    "READABLE_FORMATS",
    "ImageSize",
    "NeedMore",
    "NotAnImageError",
    "SidecarError",
    "image_size",
    "video_metadata_from_sidecar",
]
