"""Each externalId once, whatever happens around the import: writes Ango applies late, a worker killed
during a POST and retried, the look-back overlap with the previous interval (across days), other
writers of the project (per ``presence``), and two DAGs importing into one project.

Real buckets (moto) and the Ango emulator at its documented limits (100 a page, 100 requests a
minute, batch names); the import's requests are read back from the emulator's log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from tests.imports.helpers import (
    T0,
    Obj,
    Store,
    build,
    import_assets,
    last_seq,
    run_context,
    synthetic_manifest,
)

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator

pytestmark = pytest.mark.emulator

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def counts_of(ango: AngoEmulator, project_id: str) -> dict[str, Any]:
    counts: dict[str, Any] = ango.control.counts(project_id)
    return counts


def assert_each_once(ango: AngoEmulator, project_id: str, expected: int) -> None:
    counts = counts_of(ango, project_id)
    assert counts["duplicateExternalIds"] == {}, "doubled"
    assert counts["assets"] == counts["distinctExternalIds"] == expected, "lost or extra"


def batch_ids(project_id: str) -> dict[str, str]:
    from airflow_provider_ango.hooks.ango import AngoHubHook

    with AngoHubHook() as hook:
        return hook.get_project(project_id).batch_ids_by_name()


def listed_batches(ango: AngoEmulator, since: int) -> list[Any]:
    """The ``batches`` filter of every asset listing since ``since`` (None: the whole project)."""
    entries = ango.control.requests(path_pattern="/assets$", since=since)
    return [orjson.loads(entry["queryParams"].get("filters", "{}")).get("batches") for entry in entries]


def import_with_timeout(store: Store, project_id: str, manifest: Any, timeout: float, **kwargs: Any) -> Any:
    """The import operator with a short client timeout (the hook's ``timeout``)."""
    from airflow_provider_ango.hooks.ango import AngoHubHook
    from airflow_provider_ango.operators.imports import AngoImportAssetsOperator

    operator = AngoImportAssetsOperator(
        task_id="import",
        project_id=project_id,
        manifest=manifest,
        manifest_conn_id=store.bucket.conn_id,
        **kwargs,
    )
    operator.hook = AngoHubHook(timeout=timeout)
    return operator.execute(run_context(None, None))  # type: ignore[arg-type]


# -- writes applied late ---------------------------------------------------------------------------
def test_a_chunk_applied_2_5_timeouts_after_its_post_is_neither_doubled_nor_lost(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    for number in range(30):
        s3_store.put(f"late/{number:02d}.jpg")
    built = build(s3_store, "run", *s3_store.interval_around_all())
    timeout = 1.0
    # The first POST is applied 2.5 timeouts after it arrived; its answer is held until then, so
    # the client gives up after 1 s with an ambiguous error.
    ango.control.add_fault(
        f"/v2/project/{project['_id']}/cloud", "apply_late", method="POST", apply_after=2.5 * timeout
    )
    since = last_seq(ango)
    result = import_with_timeout(s3_store, project["_id"], built, timeout, chunk_size=10, settle=5 * timeout)
    assert result["submitted"] == 30
    assert result["ambiguous"] == 10
    assert result["resent"] == 0
    assert result["removed_duplicates"] == 0
    assert_each_once(ango, project["_id"], 30)
    posts = ango.control.requests(path_pattern="/cloud$", since=since)
    assert len(posts) == 3  # the late chunk was never sent again ...
    applied_at = posts[0]["appliedAt"]
    assert applied_at is not None
    # ... because it was looked for only after it had been applied (settle after its POST).
    recheck = ango.control.requests(path_pattern="/assets$", since=posts[0]["seq"])
    assert recheck
    assert recheck[0]["at"] >= applied_at


def test_a_write_applied_later_than_settle_is_deleted_again(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    for number in range(20):
        s3_store.put(f"later/{number:02d}.jpg")
    built = build(s3_store, "run", *s3_store.interval_around_all())
    # Applied 3 s after the POST, but the import gives Ango only 2 s: the chunk is absent at the
    # re-check and sent again; the late write then doubles it, and the sweep 2 s after the re-send
    # finds the duplicates and deletes the newer copies.
    ango.control.add_fault(
        f"/v2/project/{project['_id']}/cloud", "apply_late", method="POST", apply_after=3.0
    )
    result = import_with_timeout(s3_store, project["_id"], built, 1.0, chunk_size=10, settle=2.0)
    assert result["resent"] == 10
    assert result["removed_duplicates"] == 10
    assert result["submitted"] == 20
    assert_each_once(ango, project["_id"], 20)
    assert counts_of(ango, project["_id"])["deleted"] == 10


# -- a worker killed during a POST, then retried ----------------------------------------------------
KILLED_IMPORT = textwrap.dedent(
    """
    import sys
    from airflow_provider_ango.operators.imports import AngoImportAssetsOperator

    project_id, conn_id, *manifests = sys.argv[1:]
    operator = AngoImportAssetsOperator(
        task_id="import", project_id=project_id, manifest=manifests, manifest_conn_id=conn_id, chunk_size=10
    )
    operator.execute({})
    """
)


@pytest.mark.parametrize(("settle", "doubled"), [(4.0, 0), (0.0, 10)])
def test_a_retry_after_sigkill_during_a_post_waits_for_that_post(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any], settle: float, doubled: int
) -> None:
    for number in range(30):
        s3_store.put(f"kill/{number:02d}.jpg")
    built = build(s3_store, "run", *s3_store.interval_around_all())
    # Ango holds the first POST and applies it 2 s after it arrived, whatever became of the client.
    ango.control.add_fault(
        f"/v2/project/{project['_id']}/cloud", "apply_late", method="POST", apply_after=2.0
    )
    since = last_seq(ango)
    worker = subprocess.Popen(  # the task's first try, in a process of its own
        [sys.executable, "-c", KILLED_IMPORT, project["_id"], s3_store.bucket.conn_id, *built["manifests"]],
        env=os.environ.copy(),
    )
    try:

        def post_held() -> bool:
            posts = ango.control.requests(path_pattern="/cloud$", since=since)
            return any(entry["fault"] == "apply_late" and entry["status"] is None for entry in posts)

        ango.wait_until(post_held, timeout=120, what="the first try's POST held by Ango")
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.wait(timeout=60)
    assert worker.returncode == -signal.SIGKILL
    assert counts_of(ango, project["_id"])["assets"] == 0  # not applied yet

    # The retry (Airflow restarts it at once here: retry_delay=0) waits settle before its check.
    result = import_assets(
        s3_store, project["_id"], built, try_number=2, chunk_size=10, settle=settle, retry_delay=timedelta(0)
    )
    ango.wait_until(lambda: ango.control.stats()["pendingLateWrites"] == 0, 30, "the held write")
    counts = counts_of(ango, project["_id"])
    assert counts["assets"] == 30 + doubled
    if doubled:  # the control: a retry that checks at once sees nothing and sends it all again
        assert len(counts["duplicateExternalIds"]) == doubled
        assert result["submitted"] == 30
    else:
        assert_each_once(ango, project["_id"], 30)
        assert result["skipped_existing"] == 10
        assert result["submitted"] == 20


# -- the look-back overlap with the previous interval, across days -------------------------------------
def test_the_look_back_overlap_with_the_previous_day_is_found_in_that_days_scope_batch(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    from airflow_provider_ango.models.window import TimeWindow

    evening = [
        Obj(f"cam/evening-{n}.jpg", last_modified=T0 + 20 * HOUR + n * timedelta(minutes=10))
        for n in range(12)
    ]
    morning = [
        Obj(f"cam/morning-{n}.jpg", last_modified=T0 + DAY + n * timedelta(minutes=10)) for n in range(8)
    ]
    objects = evening + morning
    first = synthetic_manifest(s3_store, "day-1", objects, TimeWindow.half_open(T0, T0 + DAY))
    # The next interval, with a 6-hour look-back: the evening files again, and the morning's.
    second = synthetic_manifest(
        s3_store, "day-2", objects, TimeWindow.half_open(T0 + DAY - 6 * HOUR, T0 + 2 * DAY)
    )
    day_1, day_2 = second["scope_batches"]
    assert first["scope_batches"] == [day_1]
    assert day_2.endswith(":2024-05-02")
    assert (first["counts"]["items"], second["counts"]["items"]) == (12, 20)

    assert import_assets(s3_store, project["_id"], first)["submitted"] == 12
    since = last_seq(ango)
    result = import_assets(s3_store, project["_id"], second)
    assert (result["submitted"], result["skipped_existing"]) == (8, 12)
    # Only the previous day's scope batch was listed (the new day's did not exist yet).
    assert listed_batches(ango, since) == [[batch_ids(project["_id"])[day_1]]]
    again = import_assets(s3_store, project["_id"], second)  # the same interval once more
    assert (again["submitted"], again["skipped_existing"]) == (0, 20)
    assert_each_once(ango, project["_id"], 20)


# -- other writers of the project ---------------------------------------------------------------------
@pytest.mark.parametrize("presence", ["scope", "project"])
def test_assets_added_through_the_api_meanwhile_per_presence(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any], presence: str
) -> None:
    from airflow_provider_ango.hooks.ango import AngoHubHook

    for number in range(5):
        s3_store.put(f"{number}.jpg")
    built = build(s3_store, "run", *s3_store.interval_around_all())
    (scope_batch,) = built["scope_batches"]
    with AngoHubHook() as hook:
        hook.resolve_batches(project["_id"], [scope_batch], create_missing=True)
    # Someone adds 2.jpg by hand (no scope batch); another DAG of the same source imported 3.jpg.
    ango.control.insert_assets(
        project["_id"], assets=[{"data": "https://x.example/2.jpg", "externalId": "2.jpg"}]
    )
    ango.control.insert_assets(
        project["_id"],
        assets=[{"data": "https://x.example/3.jpg", "externalId": "3.jpg", "batches": [scope_batch]}],
    )
    result = import_assets(s3_store, project["_id"], built, presence=presence)
    counts = counts_of(ango, project["_id"])
    if presence == "scope":
        # As documented: only imports of this source are seen; the hand-added 2.jpg is not.
        assert (result["submitted"], result["skipped_existing"]) == (4, 1)
        assert counts["duplicateExternalIds"] == {"2.jpg": 2}
    else:
        assert (result["submitted"], result["skipped_existing"]) == (3, 2)
        assert counts["duplicateExternalIds"] == {}
    assert counts["distinctExternalIds"] == 5


def test_two_dags_importing_into_one_project(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    from airflow_provider_ango.operators.imports import AngoBuildImportOperator

    for number in range(6):
        s3_store.put(f"{number}.jpg")
    start, end = s3_store.interval_around_all()
    # DAG A imports the source; DAG B imports the same source later, with files A had and new ones.
    dag_a = build(s3_store, "dag-a", start, end, batches=["dag-a"])
    assert import_assets(s3_store, project["_id"], dag_a)["submitted"] == 6
    for number in range(6, 9):
        s3_store.put(f"{number}.jpg")
    dag_b = build(s3_store, "dag-b", start, end + HOUR, batches=["dag-b"])
    assert dag_b["scope_batches"] == dag_a["scope_batches"]  # one source, one name per day
    result_b = import_assets(s3_store, project["_id"], dag_b)
    assert (result_b["submitted"], result_b["skipped_existing"]) == (3, 6)

    # DAG C imports another source into the same project: its own scope, A's and B's never listed.
    s3_store.hook.write_bytes("other/x.jpg", b"x")
    operator = AngoBuildImportOperator(
        task_id="build_c",
        source_uri=f"{s3_store.bucket.uri}/other/",
        manifest_uri=s3_store.manifest_uri("dag-c"),
        source_conn_id=s3_store.bucket.conn_id,
        manifest_conn_id=s3_store.bucket.conn_id,
    )
    dag_c = operator.execute(run_context(start, end + HOUR))  # type: ignore[arg-type]
    assert dag_c["scope_batches"] != dag_a["scope_batches"]
    since = last_seq(ango)
    assert import_assets(s3_store, project["_id"], dag_c)["submitted"] == 1
    assert listed_batches(ango, since) == []  # C's scope batch did not exist: nothing to list
    assert_each_once(ango, project["_id"], 10)
