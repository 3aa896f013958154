"""The import job end to end: real buckets (moto, gcp-storage-emulator, Azurite) and the Ango emulator.

Operators run through ``execute(context)`` with a minimal context (the data interval and a ti
with ``try_number``); the DAG-level run is in ``test_imports_dag.py``.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import orjson
import pytest

from airflow_provider_ango.exceptions import AngoAmbiguousWriteError, AngoManifestError
from tests.imports.helpers import Store, build, import_assets, last_seq

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator

pytestmark = pytest.mark.emulator

HOSTILE_KEYS = [
    "plain.jpg",
    "with space.jpg",
    "plus+sign.jpg",
    "hash#and?query.jpg",
    "percent%20already.jpg",
    "amp&semi;colon=eq.jpg",
    "quotes'and\"double.jpg",
    "unicodé/日本語/ファイル.jpg",
    "emoji🙂.png",
    "deep/ spaced folder /x.jpg",
    "brackets[1](2){3}.jpg",
    "tilde~comma,at@dollar$.jpg",
]


def read_lines(store: Store, uri: str) -> list[dict[str, Any]]:
    root_key = uri.split("/manifests/", 1)[1]
    data = store.hook.read_bytes(f"manifests/{root_key}")
    return [orjson.loads(line) for line in data.splitlines() if line.strip()]


def batch_id(project: dict[str, Any], name: str) -> str:
    from airflow_provider_ango.hooks.ango import AngoHubHook

    with AngoHubHook() as hook:
        return hook.get_project(project["_id"]).batch_ids_by_name()[name]


def assert_each_once(ango: AngoEmulator, project_id: str, expected: int) -> dict[str, Any]:
    counts = ango.control.counts(project_id)
    assert counts["duplicateExternalIds"] == {}
    assert counts["assets"] == counts["distinctExternalIds"] == expected
    return counts


# -- the same interval twice; hostile keys ------------------------------------------------
def test_same_interval_twice_imports_nothing_the_second_time(
    store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    for key in HOSTILE_KEYS:
        store.put(key)
    store.put("notes.txt.tmp")  # an unknown type: not an asset
    start, end = store.interval_around_all()
    built = build(store, "run", start, end, batches=["nightly", "{folder}"])
    assert built["counts"]["items"] == len(HOSTILE_KEYS)
    assert built["counts"]["image"] == len(HOSTILE_KEYS)
    assert built["counts"]["skipped_type"] == 1
    assert built["errors"] is None
    assert built["window"] == {"start": start.isoformat(), "end": end.isoformat()}
    assert len(built["manifests"]) == 1

    first = import_assets(store, project["_id"], built)
    assert first["submitted"] == len(HOSTILE_KEYS)
    assert first["skipped_existing"] == 0
    rebuilt = build(store, "run", start, end, batches=["nightly", "{folder}"])
    assert rebuilt["manifests"] == built["manifests"]
    since = last_seq(ango)
    second = import_assets(store, project["_id"], rebuilt)
    assert second["submitted"] == 0
    # Nothing new: one project read (batch names to ids) and one page of the scope batch's assets;
    # no batch creation, no POST.
    requests = ango.control.requests(since=since)
    assert [entry["method"] + " " + entry["path"] for entry in requests] == [
        f"GET /v2/project/{project['_id']}",
        f"GET /v2/project/{project['_id']}/assets",
    ]
    (scope_batch,) = built["scope_batches"]
    assert scope_batch.startswith(f"import:{store.bucket.name}/incoming:")
    assert orjson.loads(requests[1]["queryParams"]["filters"]) == {
        "batches": [batch_id(project, scope_batch)]
    }
    assert second["skipped_existing"] == len(HOSTILE_KEYS)
    counts = assert_each_once(ango, project["_id"], len(HOSTILE_KEYS))
    assert counts["batches"]["nightly"] == len(HOSTILE_KEYS)
    assert counts["batches"]["deep/ spaced folder "] == 1

    # Hostile key names: each URL decodes back to its key, and the externalId is the key.
    items = read_lines(store, built["manifests"][0])
    for item in items:
        path = urlsplit(item["data"]).path
        assert unquote(path).endswith("/incoming/" + item["externalId"])
        assert " " not in item["data"]
        assert "+" not in item["data"]
        assert item["contextData"]["key"] == "incoming/" + item["externalId"]
        assert item["contextData"]["bucket"] == store.bucket.name
    assert sorted(item["externalId"] for item in items) == sorted(HOSTILE_KEYS)


# -- the boundary between two adjacent intervals ------------------------------------------
def test_a_file_on_the_boundary_of_two_intervals_is_imported_once(
    store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    store.put("boundary.jpg")
    (boundary,) = store.modified().values()
    hour = timedelta(hours=1)
    before = build(store, "before", boundary - hour, boundary, lookback=2 * hour)
    after = build(store, "after", boundary, boundary + hour, lookback=2 * hour)
    later = build(store, "later", boundary + hour, boundary + 2 * hour, lookback=2 * hour)
    assert before["counts"]["items"] == 0  # last_modified == end: not in [start, end)
    assert after["counts"]["items"] == 1  # last_modified == start: in
    assert later["counts"]["items"] == 1  # the look-back takes it again ...
    results = [import_assets(store, project["_id"], run) for run in (before, after, later)]
    assert [result["submitted"] for result in results] == [0, 1, 0]
    assert results[2]["skipped_existing"] == 1  # ... and the dedupe drops it
    assert_each_once(ango, project["_id"], 1)


# -- killed mid-import, then retried ---------------------------------------------------------
def test_a_task_killed_mid_import_then_retried_leaves_each_external_id_once(
    store: Store, ango: AngoEmulator, project: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_ango.hooks.ango import AngoHubHook

    for number in range(30):
        store.put(f"cam/{number:03d}.jpg")
    start, end = store.interval_around_all()
    built = build(store, "run", start, end)
    # The third POST is applied by Ango, then the connection drops before the answer: the hook
    # raises AngoAmbiguousWriteError, and with no in-task re-check rounds the task fails there.
    original = AngoHubHook.iter_import_cloud_assets
    posts = []

    def third_post_cut_off(self: AngoHubHook, *args: Any, **kwargs: Any) -> Any:
        posts.append(1)
        if len(posts) == 3:
            ango.control.add_fault(f"/v2/project/{project['_id']}/cloud", "truncate", method="POST")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(AngoHubHook, "iter_import_cloud_assets", third_post_cut_off)
    with pytest.raises(AngoAmbiguousWriteError):
        import_assets(store, project["_id"], built, chunk_size=5, max_ambiguous_rounds=0)
    assert ango.control.counts(project["_id"])["assets"] == 15  # chunks 1-3 applied, 4-6 never sent
    monkeypatch.setattr(AngoHubHook, "iter_import_cloud_assets", original)

    retried = import_assets(store, project["_id"], built, try_number=2, chunk_size=5)
    assert retried["skipped_existing"] == 15
    assert retried["submitted"] == 15
    assert_each_once(ango, project["_id"], 30)


@pytest.mark.parametrize("presence", ["scope", "project"])
@pytest.mark.parametrize(
    ("fault", "applied"),
    [({"kind": "truncate"}, True), ({"kind": "status", "status": 500}, False), ({"kind": "reset"}, False)],
)
def test_an_ambiguous_post_is_rechecked_within_the_task(
    s3_store: Store,
    ango: AngoEmulator,
    ango_connection: str,
    fault: dict[str, Any],
    applied: bool,
    presence: str,
) -> None:
    # 600 assets already, none of them from this source: 6 listing pages of the whole project.
    project = ango.control.seed_project(name="big", synthetic_assets={"count": 600})
    for number in range(12):
        s3_store.put(f"{number:02d}.png")
    built = build(s3_store, "run", *s3_store.interval_around_all())
    ango.control.add_fault(f"/v2/project/{project['_id']}/cloud", method="POST", **fault)
    since = last_seq(ango)
    result = import_assets(s3_store, project["_id"], built, chunk_size=5, presence=presence)
    assert result["submitted"] == 12
    assert result["ambiguous"] == 5
    assert result["resent"] == (0 if applied else 5)
    assert result["removed_duplicates"] == 0
    assert_each_once(ango, project["_id"], 600 + 12)
    posts = ango.control.requests(path_pattern="/cloud$", since=since)
    listings = ango.control.requests(path_pattern="/assets$", since=since)
    # 3 chunks; the first one is sent again only when the failed POST was not applied.
    assert len(posts) == (3 if applied else 4)
    if applied:
        assert posts[1]["body"] != posts[0]["body"]  # the next chunk, not the same one again
    else:
        assert posts[1]["body"] == posts[0]["body"]
    filters = [orjson.loads(entry["queryParams"]["filters"]) for entry in listings]
    if presence == "scope":
        # The scope batch did not exist before the run: nothing to list. The re-check (and, after a
        # re-send, the duplicate check) read the scope batch's one page: the 600 are never listed.
        assert len(listings) == (1 if applied else 2)
        assert all(set(f) == {"batches"} for f in filters)
    else:
        # The whole project (6 pages), then one exact look-up per id of the failed chunk (fewer ids
        # than listing pages), and again for the duplicate check after a re-send.
        assert len(listings) == 6 + 5 + (0 if applied else 5)
        assert filters[6:11] == [{"externalId": f"{number:02d}.png"} for number in range(5)]


# -- bad manifest lines -----------------------------------------------------------------------
def test_a_manifest_with_bad_lines_is_refused_whole_or_with_skip_imports_the_good_ones(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    good = [{"data": f"https://cdn.example.com/{n}.jpg", "externalId": f"good-{n}"} for n in range(4)]
    lines = [
        orjson.dumps(good[0]),
        b"{not json",
        orjson.dumps({"data": "https://cdn.example.com/x.jpg"}),
        orjson.dumps(good[1]),
        orjson.dumps({"data": "https://cdn.example.com/a b.jpg", "externalId": "space"}),
        b"",
        orjson.dumps(good[2]),
        orjson.dumps(good[3]),
        orjson.dumps(good[3]),  # the same externalId twice: sent once
    ]
    s3_store.hook.write_bytes("manifests/hand/assets-00000.ndjson", b"\n".join(lines) + b"\n")
    uri = f"{s3_store.bucket.uri}/manifests/hand/assets-00000.ndjson"
    before = last_seq(ango)

    # Strict (the default): every bad line named with its line number, reason and fix; no call to Ango.
    with pytest.raises(AngoManifestError) as refused:
        import_assets(s3_store, project["_id"], uri)
    message = str(refused.value)
    assert "3 of 8 manifest line(s)" in message
    assert f"{uri}:2: not JSON" in message
    assert f"{uri}:3: externalId: Field required" in message
    assert "give every item a non-empty externalId" in message
    assert f"{uri}:5: data: data URL 'https://cdn.example.com/a b.jpg' contains whitespace" in message
    assert "on_invalid='skip'" in message
    assert ango.control.requests(since=before) == []
    assert ango.control.counts(project["_id"])["assets"] == 0

    # on_invalid="skip": today's behaviour, with the reasons in an errors file beside the manifest.
    since = last_seq(ango)
    result = import_assets(s3_store, project["_id"], uri, on_invalid="skip")
    # A hand-made manifest carries no scope batch: it is checked against the whole project.
    (listing,) = ango.control.requests(path_pattern="/assets$", since=since)
    assert orjson.loads(listing["queryParams"]["filters"]) == {}
    errors_uri = f"{s3_store.bucket.uri}/manifests/hand/assets.import-errors.ndjson"
    assert result == {
        "submitted": 4,
        "skipped_existing": 0,
        "invalid": 3,
        "duplicates": 1,
        "total": 8,
        "chunks": 1,
        "ambiguous": 0,
        "resent": 0,
        "removed_duplicates": 0,
        "dry_run": False,
        "errors": errors_uri,
    }
    assert_each_once(ango, project["_id"], 4)
    reported = read_lines(s3_store, errors_uri)
    assert [entry["where"] for entry in reported] == [f"{uri}:2", f"{uri}:3", f"{uri}:5"]
    assert "whitespace" in reported[2]["reason"]


def test_build_writes_invalid_items_to_the_errors_file_and_sharded_manifests(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    for number in range(7):
        s3_store.put(f"v{number}.mp4")
        s3_store.put(
            f"v{number}.mp4.json", b'{"frameRate": 25, "frameCount": 100, "width": 64, "height": 48}'
        )
    s3_store.put("v7.mp4")
    s3_store.put("v7.mp4.json", b'{"frameRate": "fast"}')
    start, end = s3_store.interval_around_all()
    # Strict by default: the bad file is named with its reason and fix, and no shard is published.
    with pytest.raises(AngoManifestError) as refused:
        build(s3_store, "run", start, end, video_sidecar="{relative_key}.json", max_manifest_rows=3)
    message = str(refused.value)
    assert "1 of 8 file(s) cannot become Ango assets" in message
    assert "incoming/v7.mp4 (externalId 'v7.mp4'): sidecar incoming/v7.mp4.json: frameRate" in message
    assert "on_invalid='skip'" in message
    names = {obj.key for obj in s3_store.hook.iter_objects("manifests/run/")}
    assert names == {"manifests/run/assets.errors.ndjson"}

    built = build(
        s3_store,
        "run",
        start,
        end,
        video_sidecar="{relative_key}.json",
        max_manifest_rows=3,
        on_invalid="skip",
    )
    assert built["counts"]["items"] == 7
    assert built["counts"]["invalid"] == 1
    assert len(built["manifests"]) == 3  # 3 + 3 + 1
    errors = read_lines(s3_store, built["errors"])
    assert errors[0]["key"] == "incoming/v7.mp4"
    assert "frameRate" in errors[0]["reason"]
    first = read_lines(s3_store, built["manifests"][0])[0]
    assert first["metadata"] == {"frameRate": 25, "frameCount": 100, "width": 64, "height": 48}
    # A retry with a fixed sidecar: one shard fewer is needed; the stale one and the errors go.
    s3_store.put("v7.mp4.json", b'{"frameRate": 30}')
    again = build(s3_store, "run", start, end, video_sidecar="{relative_key}.json", max_manifest_rows=4)
    assert len(again["manifests"]) == 2
    assert again["errors"] is None
    names = {obj.key for obj in s3_store.hook.iter_objects("manifests/run/")}
    assert names == {
        "manifests/run/assets-00000.ndjson",
        "manifests/run/assets-00001.ndjson",
        "manifests/run/assets.provenance.json",
    }


def test_image_sizes_and_multi_page_assets_from_a_real_bucket(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    from tests.imports.helpers import jpeg, png

    s3_store.put("single/a.png", png(640, 480))
    s3_store.put("single/big-exif.jpg", jpeg(1200, 800, exif_bytes=200_000))
    for page in (1, 2, 10):
        s3_store.put(f"docs/scan-1/page{page}.png", png(10, 10))
    start, end = s3_store.interval_around_all()
    sizes = build(s3_store, "sizes", start, end, include="single/**", image_dimensions=True)
    items = {item["externalId"]: item for item in read_lines(s3_store, sizes["manifests"][0])}
    assert (items["single/a.png"]["width"], items["single/a.png"]["height"]) == (640, 480)
    assert (items["single/big-exif.jpg"]["width"], items["single/big-exif.jpg"]["height"]) == (1200, 800)
    pages = build(s3_store, "pages", start, end, include="docs/**", multi_page=True)
    assert pages["counts"] == {**pages["counts"], "items": 1, "multi_page": 1}
    (item,) = read_lines(s3_store, pages["manifests"][0])
    assert item["externalId"] == "docs/scan-1"
    assert [page["externalId"] for page in item["data"]] == ["page1.png", "page2.png", "page10.png"]
    result = import_assets(s3_store, project["_id"], [*sizes["manifests"], *pages["manifests"]])
    assert result["submitted"] == 3


# -- dry run ----------------------------------------------------------------------------------
def test_dry_run_changes_nothing_and_reports(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    for number in range(6):
        s3_store.put(f"{number}.jpg")
    built = build(s3_store, "run", *s3_store.interval_around_all(), batches=["brand-new", "existing"])
    import_assets(s3_store, project["_id"], {"manifests": built["manifests"][:1]}, chunk_size=100)
    since = last_seq(ango)
    for number in range(6, 9):
        s3_store.put(f"{number}.jpg")
    rebuilt = build(s3_store, "run", *s3_store.interval_around_all(), batches=["brand-new", "existing"])
    result = import_assets(s3_store, project["_id"], rebuilt, dry_run=True, batches=["another"])
    assert result["dry_run"] is True
    assert result["submitted"] == 3
    assert result["skipped_existing"] == 6
    assert result["would_create_batches"] == ["another"]
    writes = [entry for entry in ango.control.requests(since=since) if entry["method"] != "GET"]
    assert writes == []
    assert ango.control.counts(project["_id"])["assets"] == 6


# -- scale: requests for 100,000 objects --------------------------------------------------------
def test_100k_items_import_with_one_post_per_chunk(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    """The manifest is written directly (listing 100k objects is the BucketHook's tests' job)."""
    count, chunk = 100_000, 500
    with s3_store.hook.open_write("manifests/big/assets-00000.ndjson") as stream:
        for number in range(count):
            stream.write(
                b'{"data":"https://cdn.example.com/img/%06d.jpg","externalId":"img-%06d","contextData":{"n":%d}}\n'
                % (number, number, number)
            )
    since = last_seq(ango)
    result = import_assets(
        s3_store, project["_id"], f"{s3_store.bucket.uri}/manifests/big/assets-00000.ndjson", chunk_size=chunk
    )
    assert result["submitted"] == count
    requests = ango.control.requests(since=since)
    posts = [entry for entry in requests if entry["method"] == "POST"]
    assert len(posts) == math.ceil(count / chunk)
    assert len(requests) <= math.ceil(count / chunk) + 2  # + the one listing of the (empty) project
    counts = ango.control.counts(project["_id"])
    assert counts["assets"] == count
    assert counts["duplicateExternalIds"] == {}


def test_bad_presence_and_scope_prefix_are_refused_when_the_dag_is_parsed() -> None:
    from airflow_provider_ango.operators.imports import AngoBuildImportOperator, AngoImportAssetsOperator

    with pytest.raises(ValueError, match="presence must be 'scope' or 'project'"):
        AngoImportAssetsOperator(task_id="i", project_id="p", manifest="s3://b/m.ndjson", presence="all")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="settle must be >= 0"):
        AngoImportAssetsOperator(task_id="i", project_id="p", manifest="s3://b/m.ndjson", settle=-1)
    with pytest.raises(ValueError, match="must start with 'import:'"):
        AngoBuildImportOperator(
            task_id="b", source_uri="s3://b/in/", manifest_uri="s3://b/m.ndjson", scope_batch_prefix="cams"
        )
