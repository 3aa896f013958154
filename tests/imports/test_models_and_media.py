"""Unit tests of the import models (seed JSON shapes) and the image header parsers."""

from __future__ import annotations

import struct
import zlib

import pytest
from pydantic import ValidationError

from airflow_provider_ango.imports.media import (
    ImageSize,
    NeedMore,
    SidecarError,
    image_size,
    video_metadata_from_sidecar,
)
from airflow_provider_ango.models.imports import AngoImportItem, LabelItem, validation_reason


# -- import items: the examples of Ango's import documentation validate as they are ------------------------
@pytest.mark.parametrize(
    "item",
    [
        {"data": "https://url-to-asset.com/CzXTtJV.jpg", "externalId": "cute-cat.jpg"},
        {
            "data": "https://url-to-asset.com/CzXTtJV.mp4",
            "externalId": "cute-cat.mp4",
            "metadata": {"frameRate": 24, "frameCount": 150, "width": 450, "height": 450},
        },
        {
            "data": "https://url-to-asset.com/a.mp4",
            "externalId": "a.mp4",
            "metadata": {"frameRate": 29.97, "frameCount": 10, "width": 450.5, "height": 450},
        },
        {"data": "https://url-to-asset.com/2.mp4", "externalId": "asset-2.mp4", "batches": ["b1", "b2"]},
        {
            "data": "https://bucket-name.s3.eu-central-1.amazonaws.com/file%202.jpg",
            "externalId": "cute-dog.jpg",
            "width": 1800,
            "height": 1200,
        },
        {"data": "https://i.imgur.com/CzXTtJV.jpg", "externalId": "x", "contextData": {"key1": "value1"}},
        {
            "data": [{"data": "https://h/p1.png", "externalId": "p1"}, "https://h/p2.png"],
            "externalId": "multi",
        },
        {
            "data": "https://h/a.jpg",
            "externalId": "with-extras",
            "attachments": [{"type": "IMAGE", "value": "https://h/ref.jpg"}, {"type": "TEXT", "value": "hi"}],
            "storage": "0123456789abcdef01234567",
            "somethingAngoAddsLater": True,
        },
    ],
)
def test_seed_shapes_validate_and_round_trip(item: dict[str, object]) -> None:
    model = AngoImportItem.model_validate(item)
    assert model.to_json_dict() == item  # unknown keys are kept, nothing is added


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({"data": "https://h/a b.jpg", "externalId": "x"}, "whitespace"),
        ({"data": "https://h/a+b.jpg ", "externalId": "x"}, "whitespace"),
        ({"data": "https://h/caf\u00e9.jpg", "externalId": "x"}, "non-ASCII"),
        ({"data": "s3://bucket/a.jpg", "externalId": "x"}, "absolute http"),
        ({"data": "https://h/100%.jpg", "externalId": "x"}, "%XX"),
        ({"data": "https://h/a.jpg", "externalId": ""}, "externalId"),
        ({"data": "https://h/a.jpg"}, "externalId"),
        ({"data": "https://h/a.jpg", "externalID": "x"}, "spelled 'externalId'"),
        ({"data": "https://h/a.mp4", "externalId": "x", "metadata": {"frameCount": 2.5}}, "frameCount"),
        ({"data": "https://h/a.mp4", "externalId": "x", "metadata": {"frameRate": 0}}, "frameRate"),
        ({"data": "https://h/a.mp4", "externalId": "x", "metadata": {"width": True}}, "width"),
        ({"data": [], "externalId": "x"}, "at least one page"),
        ({"data": "https://h/a.jpg", "externalId": "x", "batches": [""]}, "empty"),
        ({"data": "https://h/a.jpg", "externalId": "x", "storage": "my-storage"}, "24 hex"),
        (
            {"data": "https://h/a.jpg", "externalId": "x", "attachments": [{"type": "PDF", "value": "v"}]},
            "type",
        ),
    ],
)
def test_bad_items_are_refused_with_a_reason(item: dict[str, object], reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        AngoImportItem.model_validate(item)
    assert reason in validation_reason(caught.value)


def test_label_item_accepts_objects_and_lists_every_schema_reference() -> None:
    item = LabelItem.model_validate(
        {
            "externalId": "a.jpg",
            "objects": [
                {
                    "schemaId": "tool1",
                    "bounding-box": {"x": 1, "y": 2, "width": 3, "height": 4},
                    "classifications": [{"schemaId": "nested1", "answer": "x"}],
                }
            ],
            "classifications": [{"schemaId": "cls1", "answer": "1", "classifications": [{"schemaId": "n2"}]}],
            "relations": [{"schemaId": "rel1", "from": "a", "to": "b"}],
        }
    )
    assert list(item.schema_refs()) == [
        ("tools", "tool1"),
        ("classifications", "nested1"),
        ("classifications", "cls1"),
        ("classifications", "n2"),
        ("relations", "rel1"),
    ]
    with pytest.raises(ValidationError, match="schemaId"):
        LabelItem.model_validate({"externalId": "a", "tools": [{"bounding-box": {}}]})


# -- image headers ------------------------------------------------------------------
def png(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk + b"\x00" * 20


def jpeg(width: int, height: int, exif_bytes: int = 0, padding: bool = False) -> bytes:
    out = b"\xff\xd8"
    out += b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    remaining = exif_bytes
    while remaining > 0:  # APP1 segments of at most 65533 bytes of payload
        size = min(remaining, 65533)
        out += b"\xff\xe1" + struct.pack(">H", size + 2) + b"E" * size
        remaining -= size
    out += b"\xff\xc4" + struct.pack(">H", 4) + b"\x00\x00"  # a DHT before the frame header
    marker = b"\xff\xff\xc2" if padding else b"\xff\xc0"  # progressive, with a fill byte
    out += marker + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return out + b"\xff\xda" + b"\x00" * 10


def gif(width: int, height: int) -> bytes:
    return b"GIF89a" + struct.pack("<HH", width, height) + b"\x00" * 10


def bmp(width: int, height: int) -> bytes:
    return b"BM" + b"\x00" * 12 + struct.pack("<Iii", 40, width, height) + b"\x00" * 30


def bmp_core(width: int, height: int) -> bytes:
    return b"BM" + b"\x00" * 12 + struct.pack("<IHH", 12, width, height) + b"\x00" * 10


def webp_lossy(width: int, height: int) -> bytes:
    frame = b"\x00\x00\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", width, height)
    return b"RIFF" + struct.pack("<I", 100) + b"WEBP" + b"VP8 " + struct.pack("<I", 50) + frame + b"\0" * 8


def webp_lossless(width: int, height: int) -> bytes:
    bits = (width - 1) | ((height - 1) << 14)
    body = b"\x2f" + struct.pack("<I", bits)
    return b"RIFF" + struct.pack("<I", 100) + b"WEBP" + b"VP8L" + struct.pack("<I", 50) + body + b"\0" * 8


def webp_extended(width: int, height: int) -> bytes:
    body = b"\x00" * 4 + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", 100) + b"WEBP" + b"VP8X" + struct.pack("<I", 10) + body + b"\0" * 4


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (png(1920, 1080), ImageSize(1920, 1080)),
        (jpeg(603, 450), ImageSize(603, 450)),
        (jpeg(4000, 3000, padding=True), ImageSize(4000, 3000)),
        (gif(320, 200), ImageSize(320, 200)),
        (bmp(640, -480), ImageSize(640, 480)),
        (bmp_core(64, 32), ImageSize(64, 32)),
        (webp_lossy(800, 600), ImageSize(800, 600)),
        (webp_lossless(16383, 1), ImageSize(16383, 1)),
        (webp_extended(10000, 7000), ImageSize(10000, 7000)),
        (b"not an image at all, just text", None),
        (b"\xff\xd8\x00\x00corrupt jpeg", None),
    ],
)
def test_image_sizes_from_headers(header: bytes, expected: ImageSize | None) -> None:
    assert image_size(header) == expected


def test_a_jpeg_with_a_big_exif_block_asks_for_more_bytes() -> None:
    data = jpeg(1200, 800, exif_bytes=150_000)
    first = image_size(data[:65536])
    assert isinstance(first, NeedMore)
    assert first.size > 65536
    answer: object = first
    reads, want = 1, 65536
    while isinstance(answer, NeedMore):  # what the builder does: read a longer prefix (at least x2)
        want = max(answer.size, want * 2)
        answer = image_size(data[:want])
        reads += 1
    assert answer == ImageSize(1200, 800)
    assert reads == 3
    assert image_size(data) == ImageSize(1200, 800)


@pytest.mark.parametrize("builder", [png, gif, bmp, webp_lossy, jpeg])
def test_truncated_headers_ask_for_more_instead_of_guessing(builder: object) -> None:
    data = builder(100, 50)  # type: ignore[operator]
    assert isinstance(image_size(data[:9]), NeedMore)


def test_video_sidecar() -> None:
    metadata = video_metadata_from_sidecar(
        b'{"frameRate": 25, "frameCount": 250, "width": 1920, "height": 1080, "codec": "h264"}',
        "s3://b/v.json",
    )
    assert metadata.to_json_dict() == {"frameRate": 25, "frameCount": 250, "width": 1920, "height": 1080}
    assert metadata.is_complete_video
    with pytest.raises(SidecarError, match=r"s3://b/v.json.*frameCount"):
        video_metadata_from_sidecar(b'{"frameCount": "many"}', "s3://b/v.json")
    with pytest.raises(SidecarError, match="not JSON"):
        video_metadata_from_sidecar(b"{", "s3://b/v.json")
