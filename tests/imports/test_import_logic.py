"""Unit tests of the pure import logic: window, rules, builder, manifest sink, fingerprints, paging."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import orjson
import pytest

from airflow_provider_ango.exceptions import AngoWindowError
from airflow_provider_ango.imports.builder import BuildOptions, ItemBuilder, ListingOrderError
from airflow_provider_ango.imports.fingerprints import FingerprintSet
from airflow_provider_ango.imports.manifest import NdjsonSink, delete_stale_shards, shard_key
from airflow_provider_ango.imports.presence import (
    IncompleteListingError,
    list_present,
    prefer_lookups,
)
from airflow_provider_ango.imports.rules import ItemRules, RuleError, check_asset_types, natural_sort_key
from airflow_provider_ango.imports.sources import manifest_uris, split_object_uri
from airflow_provider_ango.imports.window import compute_window
from airflow_provider_ango.models.api import Page
from airflow_provider_ango.progress import Progress

UTC = timezone.utc
T0 = datetime(2024, 5, 1, tzinfo=UTC)
log = logging.getLogger("tests.imports")


# -- window ---------------------------------------------------------------------------
def test_adjacent_windows_take_a_boundary_instant_exactly_once() -> None:
    day = timedelta(days=1)
    first = compute_window(T0, T0 + day, settle_delay=timedelta(minutes=15))
    second = compute_window(T0 + day, T0 + 2 * day, settle_delay=timedelta(minutes=15))
    boundary = first.end
    assert boundary == second.start == T0 + day - timedelta(minutes=15)
    assert not first.contains(boundary)
    assert second.contains(boundary)
    just_before = boundary - timedelta(microseconds=1)
    assert first.contains(just_before)
    assert not second.contains(just_before)


def test_lookback_widens_the_start_only_and_settle_delay_shifts_both_ends() -> None:
    window = compute_window(T0, T0 + timedelta(hours=1), settle_delay=300, lookback=timedelta(hours=2))
    assert window.start == T0 - timedelta(hours=2, minutes=5)
    assert window.end == T0 + timedelta(minutes=55)
    assert window.to_xcom() == {"start": "2024-04-30T21:55:00+00:00", "end": "2024-05-01T00:55:00+00:00"}


def test_a_pendulum_data_interval_stays_aware_after_the_shifts() -> None:
    import pendulum

    window = compute_window(
        pendulum.datetime(2024, 5, 1, tz="Europe/Paris"),
        pendulum.datetime(2024, 5, 2, tz="Europe/Paris"),
        settle_delay=60,
        lookback=60,
    )
    assert window.start == datetime(2024, 4, 30, 21, 58, tzinfo=UTC)
    assert window.start.utcoffset() == timedelta(0)
    assert window.end.utcoffset() == timedelta(0)
    # An empty data interval (CronTriggerTimetable) works with a look-back: [end - lookback, end).
    assert compute_window(T0, T0, lookback=timedelta(days=1)).start == T0 - timedelta(days=1)


def test_window_overrides_strings_and_utc_conversion() -> None:
    window = compute_window(
        None, None, window_start="2024-05-01T02:00:00+02:00", window_end="2024-05-02T00:00:00Z"
    )
    assert window.start == T0
    assert window.end == T0 + timedelta(days=1)
    assert window.start.tzinfo == UTC


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data_interval_start": None, "data_interval_end": None}, "no data interval"),
        ({"data_interval_start": datetime(2024, 5, 1), "data_interval_end": T0}, "no timezone"),
        ({"data_interval_start": T0 + timedelta(1), "data_interval_end": T0}, "starts after it ends"),
        ({"data_interval_start": T0, "data_interval_end": T0, "lookback": -5}, "negative"),
        ({"data_interval_start": "yesterday", "data_interval_end": T0}, "ISO-8601"),
        ({"data_interval_start": T0, "data_interval_end": T0}, "CronDataIntervalTimetable"),
    ],
)
def test_window_errors_say_what_to_do(kwargs: dict[str, Any], message: str) -> None:
    start = kwargs.pop("data_interval_start")
    end = kwargs.pop("data_interval_end")
    with pytest.raises(AngoWindowError, match=message):
        compute_window(start, end, **kwargs)


# -- rules ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Obj:
    key: str
    size: int = 10
    etag: str | None = '"abc"'
    last_modified: datetime = T0
    content_type: str | None = None


def test_external_id_and_batch_templates() -> None:
    rules = ItemRules(
        prefix="incoming/",
        bucket="lake",
        external_id="{bucket}/{key}",
        batches=["nightly", "{folder}", "{type}s"],
        context_data={"source": "camera-7"},
    )
    obj = Obj("2024/05/cat 1.JPG")
    assert rules.external_id_of(obj) == "lake/incoming/2024/05/cat 1.JPG"
    assert rules.batches_of(obj) == ["nightly", "2024/05", "images"]
    assert rules.batches_of(Obj("top.jpg")) == ["nightly", "images"]  # empty {folder} left out
    assert rules.context_of(obj) == {
        "bucket": "lake",
        "key": "incoming/2024/05/cat 1.JPG",
        "size": 10,
        "etag": "abc",
        "lastModified": "2024-05-01T00:00:00+00:00",
        "source": "camera-7",
    }
    assert ItemRules(prefix="incoming/", bucket="lake").external_id_of(obj) == "2024/05/cat 1.JPG"
    assert ItemRules(prefix="", bucket="b", external_id=lambda o: o.key.upper()).external_id_of(obj).isupper()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"external_id": "{filename}"}, "unknown field"),
        ({"external_id": "{key"}, "not a valid format"),
        ({"external_id": "{}"}, "unknown field"),
        ({"batches": "nightly"}, "list of names"),
    ],
)
def test_bad_templates_fail_early(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleError, match=message):
        ItemRules(prefix="", bucket="b", **kwargs)


def test_asset_types_and_natural_order() -> None:
    assert check_asset_types(["image", "video"]) == {"image", "video"}
    with pytest.raises(RuleError, match="unknown asset type"):
        check_asset_types(["images"])
    names = ["page10.png", "page2.png", "page1.png", "cover.png"]
    assert sorted(names, key=natural_sort_key) == ["cover.png", "page1.png", "page2.png", "page10.png"]


# -- builder ----------------------------------------------------------------------------
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
    from tests.imports.test_models_and_media import png

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


# -- manifest sink --------------------------------------------------------------------
class FakeStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.published: list[tuple[str, str]] = []

    @contextmanager
    def open_write(self, key: str) -> Iterator[io.BytesIO]:
        buffer = io.BytesIO()
        yield buffer  # an exception leaves nothing, as BucketWriter does
        self.objects[key] = buffer.getvalue()

    def publish(self, tmp_key: str, final_key: str) -> None:
        self.objects[final_key] = self.objects.pop(tmp_key)
        self.published.append((tmp_key, final_key))

    def exists(self, key: str) -> bool:
        return key in self.objects

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)


def test_sink_shards_by_rows_and_bytes_and_publishes_at_the_end() -> None:
    store = FakeStore()
    sink = NdjsonSink(store, lambda i: shard_key("m/assets", i), max_rows=3, max_bytes=40, token="t")
    for number in range(7):
        sink.write(orjson.dumps({"n": number}))
        assert not any(key.startswith("m/assets-") and ".tmp-" not in key for key in store.objects)
    sink.write(b'{"big": "' + b"x" * 50 + b'"}')  # bigger than max_bytes: alone in its shard
    keys = sink.finish(at_least_one=True)
    assert keys == [shard_key("m/assets", i) for i in range(4)]
    assert [store.objects[key].count(b"\n") for key in keys] == [3, 3, 1, 1]
    assert all(".tmp-t" in tmp for tmp, _ in store.published)
    assert not any(".tmp-" in key for key in store.objects)


def test_sink_abort_leaves_no_temp_files_and_stale_shards_are_removed() -> None:
    store = FakeStore()
    store.objects.update({shard_key("m/a", i): b"old\n" for i in range(5)})
    sink = NdjsonSink(store, lambda i: shard_key("m/a", i), max_rows=1)
    sink.write(b"1")
    sink.write(b"2")
    sink.abort()
    assert not any(".tmp-" in key for key in store.objects)
    assert delete_stale_shards(store, "m/a", 2) == 3
    assert sorted(store.objects) == [shard_key("m/a", 0), shard_key("m/a", 1)]
    empty = NdjsonSink(store, lambda i: shard_key("m/e", i))
    assert empty.finish(at_least_one=True) == [shard_key("m/e", 0)]
    assert store.objects[shard_key("m/e", 0)] == b""


# -- fingerprints and paging ------------------------------------------------------------
def test_fingerprint_set_membership_and_repeats() -> None:
    ids = FingerprintSet(["a", "b", "a", "é/ü 1", "c"]).freeze()
    assert len(ids) == 4
    assert len(ids.repeated) == 1
    assert "a" in ids
    assert "é/ü 1" in ids
    assert "d" not in ids
    assert ids.nbytes == 32


@dataclass
class Item:
    external_id: str


def capped_listing(ids: list[str], cap: int, calls: list[tuple[int, int]]) -> Any:
    def fetch(page: int, limit: int) -> Page[Any]:
        calls.append((page, limit))
        size = min(limit, cap)
        start = (page - 1) * limit
        return Page[Any](
            items=[Item(i) for i in ids[start : start + size]], total=len(ids), page=page, limit=limit
        )

    return fetch


def test_listing_survives_a_server_that_caps_the_page_size() -> None:
    project = [f"id-{n}" for n in range(2_345)]
    wanted = FingerprintSet(["id-0", "id-1500", "id-2344", "missing"]).freeze()
    calls: list[tuple[int, int]] = []
    result = list_present(capped_listing(project, 300, calls), lambda item: item.external_id, wanted, 1000)
    assert len(result.found) == 3
    assert "missing" not in result.found
    assert result.total == 2_345
    assert calls[0] == (1, 1000)
    assert calls[1][1] == 100


def test_listing_that_stops_short_of_its_total_is_an_error() -> None:
    def fetch(page: int, limit: int) -> Page[Any]:
        items = [Item("x")] * limit if page == 1 else []
        return Page[Any](items=items, total=10 * limit, page=page, limit=limit)

    with pytest.raises(IncompleteListingError, match="stopped at"):
        list_present(fetch, lambda item: item.external_id, FingerprintSet(["x"]).freeze(), 5)


def test_lookups_are_chosen_only_when_cheaper_than_a_listing() -> None:
    assert prefer_lookups(3, 1_000_000, 1000)
    assert not prefer_lookups(500, 20_000, 1000)


def test_progress_lines_have_rate_and_eta(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    progress = Progress(log, "Imported", 1000, unit="assets", every_seconds=10, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="tests.imports"):
        now[0] = 2.0
        progress.advance(100)  # first update logs
        now[0] = 3.0
        progress.advance(100)  # not due yet
        now[0] = 20.0
        progress.advance(300)
    lines = [record.getMessage() for record in caplog.records]
    assert lines[0] == "Imported: 100/1000 assets (10.0%), 50.0 assets/s, ETA 0:00:18"
    assert len(lines) == 2
    assert lines[1].startswith("Imported: 500/1000 assets (50.0%), 25.0 assets/s")


# -- manifest arguments -----------------------------------------------------------------
def test_manifest_arguments_and_object_uris() -> None:
    xcom = {"manifests": ["s3://b/m/a-00000.ndjson", "s3://b/m/a-00001.ndjson"], "counts": {}}
    assert manifest_uris(xcom) == xcom["manifests"]
    assert manifest_uris("s3://b/m/a-00000.ndjson") == ["s3://b/m/a-00000.ndjson"]
    assert manifest_uris(str(xcom)) == xcom["manifests"]  # rendered without native types
    assert manifest_uris('["gs://b/x.ndjson"]') == ["gs://b/x.ndjson"]
    assert split_object_uri("wasb://c@acct/p/q/m.ndjson") == ("wasb://c@acct/p/q/", "m.ndjson")
    assert split_object_uri("s3://b/m.ndjson") == ("s3://b/", "m.ndjson")
    for bad in ("s3://b", "s3://b/", "s3://b/folder/"):
        with pytest.raises(ValueError, match="does not name an object"):
            split_object_uri(bad)
    with pytest.raises(ValueError, match="no 'manifests' key"):
        manifest_uris({"counts": {}})
