"""Landing with requests in flight (``max_concurrency``), against the Ango emulator and each store's.

A split landing written, published and cleaned up concurrently is the serial one, file for file; a
failure in the middle of the concurrent publish still leaves the partition as the landing protocol
promises (no ``_SUCCESS``, no manifest, nothing still being copied), and the retry lands it whole.
Each phase logs one INFO summary; single moves are logged at DEBUG.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from tests.exports.helpers import (
    land_op,
    landed_records,
    list_keys,
    run_context,
    seed_labeled,
    trigger_op,
)

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.testing.plugin import TestBucket

pytestmark = pytest.mark.emulator
IDS = [f"img-{n:03d}.jpg" for n in range(60)] + ["../../etc/passwd", "Ça va? #1", "dup.jpg", "dup.jpg", " "]


@pytest.mark.parametrize("kind", ["s3", "gcs", "azure"])
def test_a_concurrent_split_landing_is_the_serial_one(
    kind: str,
    ango: AngoEmulator,
    ango_connection: str,
    new_bucket: Callable[[str], TestBucket],
    caplog: pytest.LogCaptureFixture,
) -> None:
    bucket = new_bucket(kind)
    project = seed_labeled(ango, IDS)
    context = run_context()
    staged = trigger_op(project["_id"], f"{bucket.uri}/staging").execute(context)

    from airflow_provider_ango.hooks.bucket import BucketHook

    hook_logger = "airflow_provider_ango.hooks.bucket.hook"
    landed: dict[int, dict[str, bytes]] = {}
    for concurrency in (1, 16):
        destination = f"{bucket.uri}/lake/c={concurrency}/"
        caplog.clear()
        with caplog.at_level(logging.INFO), caplog.at_level(logging.DEBUG, logger=hook_logger):
            result = land_op(staged, destination, layout="split", max_concurrency=concurrency).execute(
                context
            )
        assert result["files"] == len(IDS)
        reader = BucketHook.from_uri(destination, bucket.conn_id)
        landed[concurrency] = {
            obj.key: reader.read_bytes(obj.key)
            for obj in reader.iter_objects()
            if obj.key != "_manifest.json"
        }
        info = [record.getMessage() for record in caplog.records if record.levelno == logging.INFO]
        assert sum(message.startswith(f"Published {len(IDS)} file(s)") for message in info) == 1
        assert sum(message.startswith(f"Wrote {len(IDS)} file(s)") for message in info) == 1
        assert sum(message.startswith("Removed 0 file(s) of an earlier landing") for message in info) == 1
        moves = [
            record
            for record in caplog.records
            if record.name == hook_logger and record.getMessage().startswith("Published ")
        ]
        assert len(moves) == len(IDS)  # one line per file ...
        assert {record.levelno for record in moves} == {logging.DEBUG}  # ... at DEBUG
    assert landed[16] == landed[1]
    assert len(landed[1]) == len(IDS) + 1  # and _SUCCESS
    assert not [key for key in list_keys(f"{bucket.uri}/lake/", bucket.conn_id) if "_ango_tmp" in key]


def test_a_failure_during_the_concurrent_publish_hides_the_partition_until_the_retry(
    ango: AngoEmulator,
    ango_connection: str,
    new_bucket: Callable[[str], TestBucket],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_provider_ango.hooks.bucket import BucketHook

    bucket = new_bucket("s3")
    project = seed_labeled(ango, IDS)
    context = run_context()
    staged = trigger_op(project["_id"], f"{bucket.uri}/staging").execute(context)
    destination = f"{bucket.uri}/lake/dt=2024-05-01/"
    land_op(staged, destination, layout="split").execute(context)  # an earlier, complete landing

    publish = BucketHook.publish
    lock = threading.Lock()
    calls: list[str] = []
    running = 0
    most_running = 0

    def fail_on_the_tenth(self: BucketHook, tmp_key: str, final_key: str) -> None:
        nonlocal running, most_running
        with lock:
            calls.append(final_key)
            number = len(calls)
            running += 1
            most_running = max(most_running, running)
        try:
            if number == 10:
                raise OSError("connection reset while publishing")
            publish(self, tmp_key, final_key)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(BucketHook, "publish", fail_on_the_tenth)
    with pytest.raises(OSError, match="connection reset"):
        land_op(staged, destination, layout="split", max_concurrency=8).execute(context)
    assert running == 0  # every copy in flight had finished before the error was raised
    assert most_running > 1
    assert len(calls) < 10 + 2 * 8  # no new publish past the window once it failed
    keys = list_keys(destination, bucket.conn_id)
    assert "_SUCCESS" not in keys
    assert "_manifest.json" not in keys

    monkeypatch.setattr(BucketHook, "publish", publish)
    again = land_op(staged, destination, layout="split", max_concurrency=8).execute(context)
    assert again["files"] == len(IDS)
    keys = list_keys(destination, bucket.conn_id)
    assert "_SUCCESS" in keys
    assert len(landed_records(destination, bucket.conn_id)) == len(IDS)
    assert not [key for key in list_keys(f"{bucket.uri}/lake/", bucket.conn_id) if "_ango_tmp" in key]


def test_a_bad_setting_fails_before_anything_is_written(
    ango: AngoEmulator, ango_connection: str, new_bucket: Callable[[str], TestBucket]
) -> None:
    from airflow_provider_ango.hooks.bucket import BucketArgumentError

    bucket = new_bucket("s3")
    project = seed_labeled(ango, IDS[:3])
    context = run_context()
    staged = trigger_op(project["_id"], f"{bucket.uri}/staging").execute(context)
    operator = land_op(staged, f"{bucket.uri}/lake/x/", layout="split", max_concurrency="0")
    with pytest.raises(BucketArgumentError, match="max_concurrency must be"):
        operator.execute(context)
    assert list_keys(f"{bucket.uri}/lake/", bucket.conn_id) == []
    rendered: Any = land_op(staged, f"{bucket.uri}/lake/y/", layout="split", max_concurrency="4")
    assert rendered.execute(context)["files"] == 3  # a rendered template ("4") is taken
