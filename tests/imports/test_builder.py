"""imports/builder.py: listed objects into import items (types, window, sidecars, multi-page folders)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_ango.imports.builder import BuildOptions, ItemBuilder, ListingOrderError
from airflow_provider_ango.imports.rules import ItemRules
from airflow_provider_ango.imports.window import compute_window
from tests.imports.helpers import T0, Obj

log = logging.getLogger("tests.imports")


class FakeSource:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.reads: list[tuple[str, int, int | None]] = []

    def url(self, key: str) -> str:
        return "https://store.example/b/" + quote(key, safe="/")

    def read(self, key: str, start: int, end: int | None) -> bytes:
        self.reads.append((key, start, end))
        if key not in self.files:
            raise FileNotFoundError(key)
        return self.files[key][start:end]


def build(objs: list[Obj], files: dict[str, bytes] | None = None, **options: Any) -> tuple[list[Any], Any]:
    source = FakeSource(files or {})
    window = compute_window(T0, T0 + timedelta(days=1))
    rules = ItemRules(prefix="in/", bucket="b", batches=options.pop("batches", None))
    builder = ItemBuilder(rules, BuildOptions(**options), window, source.url, source.read, log)
    return list(builder.build(objs)), builder


def test_builder_items_types_window_and_sidecars() -> None:
    from tests.imports.helpers import png

    sidecar = b'{"frameRate": 30, "frameCount": 90, "width": 640, "height": 360}'
    records, builder = build(
        [
            Obj("a.png"),
            Obj("b.mp4"),
            Obj("b.mp4.json"),  # a sidecar: type "other", not an asset
            Obj("c.mp4"),  # no sidecar: no metadata, no error
            Obj(".DS_Store"),
            Obj("late.jpg", last_modified=T0 + timedelta(days=1)),  # on the end: next window
        ],
        files={"a.png": png(30, 20), "b.mp4.json": sidecar},
        image_dimensions=True,
        video_sidecar="{relative_key}.json",
        storage_id="0123456789abcdef01234567",
    )
    items = [record.payload for record in records if record.ok]
    assert [item["externalId"] for item in items] == ["a.png", "b.mp4", "c.mp4"]
    assert items[0]["width"] == 30
    assert items[0]["height"] == 20
    assert items[1]["metadata"] == {"frameRate": 30, "frameCount": 90, "width": 640, "height": 360}
    assert "metadata" not in items[2]
    assert all(item["storage"] == "0123456789abcdef01234567" for item in items)
    assert builder.stats.by_type == {"image": 1, "video": 2}
    assert builder.stats.skipped_type == 2
    assert builder.stats.outside_window == 1


def test_builder_sends_bad_items_to_errors_with_the_reason() -> None:
    records, _ = build(
        [Obj("ok.jpg"), Obj("bad.mp4")],
        files={"bad.mp4.json": b'{"frameCount": 1.5}'},
        video_sidecar="{relative_key}.json",
    )
    assert [record.ok for record in records] == [True, False]
    error = records[1].payload
    assert error["key"] == "in/bad.mp4"
    assert error["externalId"] == "bad.mp4"
    assert "frameCount" in error["reason"]


def test_multi_page_groups_folders_in_natural_order() -> None:
    objs = [
        Obj("scan1/page1.png"),
        Obj("scan1/page10.png"),
        Obj("scan1/page2.png", last_modified=T0 + timedelta(hours=5)),
        Obj("scan1/sub/x.png"),
        Obj("scan1/z.png"),
        Obj("scan2/p.png", last_modified=T0 - timedelta(hours=1)),  # newest page before the window
        Obj("scan3/p.png", last_modified=T0 - timedelta(hours=1)),
        Obj("scan3/q.png", last_modified=T0 + timedelta(days=1)),  # newest after: a later run takes it
        Obj("loose.png"),
    ]
    objs.sort(key=lambda obj: obj.key)
    records, builder = build(objs, multi_page=True, batches=["{folder}"])
    ok = {record.payload["externalId"]: record.payload for record in records if record.ok}
    assert set(ok) == {"scan1", "scan1/sub"}
    pages = [page["externalId"] for page in ok["scan1"]["data"]]
    assert pages == ["page1.png", "page2.png", "page10.png", "z.png"]
    assert ok["scan1"]["data"][0]["data"] == "https://store.example/b/scan1/page1.png"
    assert ok["scan1/sub"]["batches"] == ["scan1"]
    assert ok["scan1"]["contextData"]["key"] == "in/scan1"
    errors = [record.payload for record in records if not record.ok]
    assert [error["key"] for error in errors] == ["in/loose.png"]
    assert builder.stats.outside_window == 2


def test_multi_page_refuses_an_unsorted_listing() -> None:
    with pytest.raises(ListingOrderError, match="ascending key order"):
        build([Obj("b/1.png"), Obj("a/1.png")], multi_page=True)


def test_empty_and_non_image_files_are_invalid_items_with_the_reason() -> None:
    from tests.imports.helpers import jpeg

    records, builder = build(
        [
            Obj("good.jpg"),
            Obj("empty.jpg", size=0),
            Obj("text.jpg"),
            Obj("tiny.png"),
            Obj("scan.tiff"),  # a format whose header is not read: kept, size unknown
            Obj("clip.mp4", size=0),
        ],
        files={
            "good.jpg": jpeg(64, 48),
            "text.jpg": b"this is no image at all, just text",
            "tiny.png": b"\x89PN",
            "scan.tiff": b"II*\x00" + b"\x00" * 20,
        },
        image_dimensions=True,
    )
    by_key = {record.payload.get("key", record.payload.get("externalId")): record for record in records}
    assert by_key["good.jpg"].ok
    assert by_key["good.jpg"].payload["width"] == 64
    assert by_key["scan.tiff"].ok
    assert "width" not in by_key["scan.tiff"].payload
    reasons = {
        key: by_key[key].payload["reason"]
        for key in ("in/empty.jpg", "in/text.jpg", "in/tiny.png", "in/clip.mp4")
    }
    assert "the file is empty (0 bytes)" in reasons["in/empty.jpg"]
    assert "is not a JPEG image (its first bytes are b'this is no image'" in reasons["in/text.jpg"]
    assert "replace it with the image, or remove it" in reasons["in/text.jpg"]
    assert "is not a PNG image" in reasons["in/tiny.png"]
    assert "the file is empty (0 bytes)" in reasons["in/clip.mp4"]
    assert builder.stats.image_size_unknown == 1
