"""Adjacent incremental runs (boundaries included), and the four layouts."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from tests.exports.helpers import (
    land_op,
    landed_records,
    list_keys,
    manifest,
    read_object,
    run_context,
    seed_labeled,
    trigger_op,
)

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.testing.plugin import TestBucket

pytestmark = pytest.mark.emulator
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)
MS = timedelta(milliseconds=1)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_three_adjacent_incremental_runs_land_each_change_exactly_once(
    ango: AngoEmulator, ango_connection: str, new_bucket: Callable[[str], TestBucket]
) -> None:
    bucket = new_bucket("s3")
    names = [
        "before-t0",  # updated 1 ms before the first window: never exported
        "at-t0",  # exactly on the first lower bound: run 1
        "mid-1",
        "last-ms-1",  # 1 ms before t1: run 1
        "at-t1",  # exactly on the boundary between run 1 and run 2: run 2 only
        "mid-2",
        "at-t2",  # boundary between run 2 and run 3: run 3 only
        "twice",  # changed in run 1's interval and again in run 3's: once in each
        "at-t3",  # exactly on the end of run 3: not in these three runs (the next one)
    ]
    project = ango.control.seed_project(
        name="incremental",
        assets=[{"data": f"https://example.com/{name}.jpg", "externalId": name} for name in names],
        workflow=["Label"],
    )

    def submit(name: str, at: datetime) -> None:
        ango.control.act(project["_id"], action="submit", externalIds=[name], at=_iso(at))

    def touch(name: str, at: datetime) -> None:  # a Complete task edited again
        ango.control.act(project["_id"], action="move", externalIds=[name], toStage="Complete", at=_iso(at))

    changes_before_run = {
        1: [
            ("before-t0", T0 - MS),
            ("at-t0", T0),
            ("mid-1", T0 + 12 * timedelta(hours=1)),
            ("last-ms-1", T0 + DAY - MS),
            ("twice", T0 + timedelta(hours=3)),
        ],
        2: [("at-t1", T0 + DAY), ("mid-2", T0 + DAY + timedelta(hours=6))],
        3: [("at-t2", T0 + 2 * DAY), ("at-t3", T0 + 3 * DAY)],
    }
    expected = {
        1: {"at-t0", "mid-1", "last-ms-1", "twice"},
        2: {"at-t1", "mid-2"},
        3: {"at-t2", "twice"},
    }
    landed_per_run: dict[int, list[dict[str, Any]]] = {}
    for run in (1, 2, 3):
        for name, at in changes_before_run[run]:
            submit(name, at)
        if run == 3:
            touch("twice", T0 + 2 * DAY + timedelta(hours=1))
        start = T0 + (run - 1) * DAY
        context = run_context(start, start + DAY)
        staged = trigger_op(project["_id"], f"{bucket.uri}/staging", incremental=True).execute(context)
        assert staged["window"] == {"updatedAt": {"$gte": _iso(start), "$lt": _iso(start + DAY)}}
        destination = f"{bucket.uri}/lake/dt={start.date().isoformat()}/"
        land_op(staged, destination).execute(context)
        landed_per_run[run] = landed_records(destination, bucket.conn_id)

    for run, records in landed_per_run.items():
        assert sorted(record["externalId"] for record in records) == sorted(expected[run]), run
    # Every change once: the union has no duplicate (task, updatedAt) and misses no change in [t0, t3).
    changes = [(r["task"]["taskId"], r["task"]["updatedAt"]) for rs in landed_per_run.values() for r in rs]
    assert len(changes) == len(set(changes)) == 8
    sent = [entry["queryParams"]["updatedAt"] for entry in ango.control.requests(path_pattern="^/v2/export")]
    assert sent[1] == f'{{"$gte":"{_iso(T0 + DAY)}","$lt":"{_iso(T0 + 2 * DAY)}"}}'


@pytest.mark.parametrize("kind", ["s3", "gcs", "azure"])
def test_split_layout_gives_every_asset_a_safe_file_of_its_own(
    kind: str, ango: AngoEmulator, ango_connection: str, new_bucket: Callable[[str], TestBucket]
) -> None:
    bucket = new_bucket(kind)
    ids = ["../../escape.jpg", "a/b", "a_b", "dup", "dup", "Ünïcødé name.png", ".hidden", "x" * 400]
    project = seed_labeled(ango, ids)
    context = run_context()
    staged = trigger_op(project["_id"], f"{bucket.uri}/staging").execute(context)
    destination = f"{bucket.uri}/lake/split/"
    result = land_op(staged, destination, layout="split").execute(context)
    assert result["records"] == result["files"] == len(ids)
    keys = [key for key in list_keys(destination, bucket.conn_id) if not key.startswith("_")]
    assert len(keys) == len(ids)
    for key in keys:
        assert "/" not in key
        assert ".." not in key
        assert not key.startswith(".")
        assert len(key) < 140
    assert all(key.endswith(".json") for key in keys)
    assert sorted(record["externalId"] for record in landed_records(destination, bucket.conn_id)) == sorted(
        ids
    )
    # Nothing escaped the destination.
    assert all(key.startswith(("lake/split/", "staging/")) for key in list_keys(bucket.uri, bucket.conn_id))
    # The same externalIds get the same names on a re-run.
    land_op(staged, destination, layout="split").execute(context)
    assert [key for key in list_keys(destination, bucket.conn_id) if not key.startswith("_")] == keys


def test_json_raw_and_gzip_layouts(
    ango: AngoEmulator, ango_connection: str, new_bucket: Callable[[str], TestBucket]
) -> None:
    bucket = new_bucket("s3")
    project = seed_labeled(ango, [f"img-{n:02d}.jpg" for n in range(30)])
    context = run_context()
    staged = trigger_op(project["_id"], f"{bucket.uri}/staging").execute(context)

    json_dest = f"{bucket.uri}/lake/json/"
    land_op(staged, json_dest, layout="json", max_rows_per_part=12, task_id="j").execute(context)
    parts = [key for key in list_keys(json_dest, bucket.conn_id) if key.startswith("part-")]
    assert parts == ["part-00000.json", "part-00001.json", "part-00002.json"]
    assert [len(orjson.loads(read_object(json_dest, key, bucket.conn_id))) for key in parts] == [12, 12, 6]

    raw_dest = f"{bucket.uri}/lake/raw/"
    raw = land_op(staged, raw_dest, layout="raw", task_id="r").execute(context)
    assert raw["records"] == 30
    assert manifest(raw_dest, bucket.conn_id)["files"][0]["sha256"] == staged["sha256"]

    gz_dest = f"{bucket.uri}/lake/gz/"
    land_op(staged, gz_dest, compression="gzip", max_bytes_per_part=4096, task_id="g").execute(context)
    summary = manifest(gz_dest, bucket.conn_id)
    assert summary["compression"] == "gzip"
    assert len(summary["files"]) > 1  # rolled over by size
    for entry in summary["files"]:
        data = read_object(gz_dest, entry["name"], bucket.conn_id)
        assert len(gzip.decompress(data)) <= 4096
        assert entry["bytes"] == len(data)
    assert sorted(r["externalId"] for r in landed_records(gz_dest, bucket.conn_id)) == sorted(
        r["externalId"] for r in landed_records(json_dest, bucket.conn_id)
    )
    assert landed_records(raw_dest, bucket.conn_id) == landed_records(json_dest, bucket.conn_id)
