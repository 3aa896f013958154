"""imports/media.py: image sizes from the first bytes of a file, and video metadata from a sidecar."""

from __future__ import annotations

import struct

import pytest

from airflow_provider_ango.imports.media import (
    ImageSize,
    NeedMore,
    SidecarError,
    image_size,
    video_metadata_from_sidecar,
)
from tests.imports.helpers import jpeg, png


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
