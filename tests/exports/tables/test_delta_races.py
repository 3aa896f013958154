"""Delta commits under a race and a crash, on moto's S3 behind a proxy that holds commits on cue.

- Two runs that commit at once: the proxy holds both runs' first log-entry PUT (both want the
  same version), then lets them go together; S3's ``If-None-Match`` lets one win, and the other
  retries (merge: our loop re-runs it on the new snapshot; append: delta-rs rebases it).
- A crash between the data files and the commit: a child process commits through the proxy,
  which holds its log-entry PUT; the child is killed while it waits. The table stays at its
  version, and a retry commits the run once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.exports.tables.conftest import (
    Answer,
    expected_boxes,
    read_delta,
    table_rows,
    task_id_of,
)
from tests.exports.tables.proxy import HoldingProxy
from tests.exports.tables.test_delta_tables import DAY0, DAY1, run

if TYPE_CHECKING:
    from airflow_provider_ango.testing.plugin import TestBucket

pytestmark = pytest.mark.emulator

COMMIT_PUT = r"^PUT /[^ ]+/_delta_log/\d{20}\.json$"
PROXY_CONN = "aws_held"
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def held_commits(s3_bucket: TestBucket, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A factory: ``held_commits(n)`` is a proxy holding the first ``n`` commit PUTs, and its connection."""
    proxies: list[HoldingProxy] = []

    def make(count: int) -> HoldingProxy:
        proxy = HoldingProxy(s3_bucket.emulator.endpoint, COMMIT_PUT, count).__enter__()
        proxies.append(proxy)
        connection = dict(s3_bucket.emulator.connection)
        connection["extra"] = {**connection["extra"], "endpoint_url": proxy.endpoint}
        monkeypatch.setenv(f"AIRFLOW_CONN_{PROXY_CONN.upper()}", json.dumps(connection))
        return proxy

    yield make
    for proxy in proxies:
        proxy.__exit__(None, None, None)


def race(
    bucket: TestBucket, held_commits: Any, mode: str, *intervals: list[tuple[str, Answer]]
) -> dict[int, Any]:
    """Land days 1 and 2 at once; the proxy lets their first commits (tasks) go at the same moment."""
    proxy = held_commits(2)
    results: dict[int, Any] = {}
    errors: list[BaseException] = []

    def land(day: int, entries: list[tuple[str, Answer]]) -> None:
        try:
            results[day] = run(bucket, day, entries, mode=mode, conn_id=PROXY_CONN)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=land, args=(day, entries)) for day, entries in enumerate(intervals, 1)]
    for thread in threads:
        thread.start()
    assert proxy.wait_held(2), f"the two commits never met: {proxy.seen[-5:]}"
    proxy.release()  # both PUTs of the same version go at once: one wins, one gets 412
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert all(outcome.committed for result in results.values() for outcome in result.tables)
    return results


@pytest.mark.parametrize("mode", ["merge", "append"])
def test_two_runs_committing_at_once_both_land(s3_bucket: TestBucket, held_commits: Any, mode: str) -> None:
    run(s3_bucket, 0, DAY0, mode=mode)  # version 1 (0 is the creation), straight to the emulator
    later = [("b", Answer(boxes=[("van", 70)])), ("e", Answer(boxes=[("bus", 60)], weather="hail"))]
    results = race(s3_bucket, held_commits, mode, DAY1, later)  # both re-label task b

    tasks = [results[day].table("tasks") for day in (1, 2)]
    assert sorted(outcome.version for outcome in tasks) == [2, 3]
    table = read_delta(results[1].uris["annotations"], s3_bucket.conn_id)
    boxes = table_rows(table.filter(_is_box(table)), "task_id", "title", "bbox_x")
    if mode == "merge":
        # The loser's merge was worked out again on the winner's snapshot, whichever won: b ends
        # with the answer of the later interval, never with both or with day 1's.
        assert sorted(outcome.attempts for outcome in tasks) == [1, 2]
        assert boxes == expected_boxes({**dict(DAY0), **dict(DAY1), **dict(later)})
    else:  # blind appends: delta-rs puts the loser after the winner by itself
        assert boxes == sorted(
            expected_boxes(dict(DAY0)) + expected_boxes(dict(DAY1)) + expected_boxes(dict(later))
        )


def test_two_merges_inserting_the_same_new_task_at_once_keep_one_row_of_it(
    s3_bucket: TestBucket, held_commits: Any
) -> None:
    """Neither merge removes a data file (the task is new to both): the merge guard makes them conflict."""
    run(s3_bucket, 0, DAY0)
    results = race(
        s3_bucket,
        held_commits,
        "merge",
        [("n", Answer(boxes=[("car", 1)]))],
        [("n", Answer(boxes=[("bus", 2)]))],
    )

    assert sorted(results[day].table("tasks").attempts for day in (1, 2)) == [1, 2]
    tasks = read_delta(results[1].uris["tasks"], s3_bucket.conn_id)
    assert tasks["task_id"].to_pylist().count(task_id_of("n")) == 1
    annotations = read_delta(results[1].uris["annotations"], s3_bucket.conn_id)
    new = annotations.filter(_is_box(annotations))
    assert [
        row[1:] for row in table_rows(new, "task_id", "title", "bbox_x") if row[0] == task_id_of("n")
    ] == [("bus", 2.0)]


def _is_box(table: Any) -> Any:
    import pyarrow.compute as pc

    return pc.equal(table["tool"], "bounding-box")


CHILD = """
import json, sys
from tests.exports.tables.test_delta_tables import DAY1, run
from airflow_provider_ango.testing.plugin import TestBucket
bucket = TestBucket("s3", sys.argv[1], sys.argv[2], None)
run(bucket, 1, DAY1, conn_id=sys.argv[3])
print("committed")  # never reached: the commit is held until the process is killed
"""


def test_a_crash_between_the_data_files_and_the_commit_leaves_the_table_at_its_version(
    s3_bucket: TestBucket, held_commits: Any
) -> None:
    first = run(s3_bucket, 0, DAY0)
    before = _object_keys(s3_bucket, "lake/annotations/")
    proxy = held_commits(1)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, s3_bucket.name, s3_bucket.conn_id, PROXY_CONN],
        cwd=REPO,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proxy.wait_held(1), f"the child never reached its commit: {proxy.seen[-5:]}"
        child.kill()  # the worker dies with its data files uploaded and its log entry unsent
    finally:
        out, _ = child.communicate(timeout=60)
    proxy.drop()
    assert b"committed" not in out

    after = _object_keys(s3_bucket, "lake/annotations/")
    orphans = [key for key in after - before if "_delta_log" not in key]
    assert orphans, "the child had not uploaded its data files yet"
    assert not [key for key in after - before if "_delta_log" in key]
    annotations = read_delta(first.uris["annotations"], s3_bucket.conn_id)
    assert table_rows(
        annotations.filter(_is_box(annotations)), "task_id", "title", "bbox_x"
    ) == expected_boxes(dict(DAY0))

    retried = run(s3_bucket, 1, DAY1)  # the task's retry, the same interval
    assert retried.versions == {"tasks": 2, "annotations": 2}
    assert all(outcome.committed for outcome in retried.tables)
    annotations = read_delta(first.uris["annotations"], s3_bucket.conn_id)
    assert table_rows(
        annotations.filter(_is_box(annotations)), "task_id", "title", "bbox_x"
    ) == expected_boxes({**dict(DAY0), **dict(DAY1)})
    again = run(s3_bucket, 1, DAY1)
    assert not any(outcome.committed for outcome in again.tables)


def _object_keys(bucket: TestBucket, prefix: str) -> set[str]:
    from airflow_provider_ango.hooks.bucket import BucketHook

    return {obj.key for obj in BucketHook.from_uri(bucket.uri, bucket.conn_id).iter_objects(prefix)}
