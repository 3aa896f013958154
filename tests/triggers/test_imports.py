"""AngoAssetsImportedTrigger against the Ango emulator: a timeout and an error are events, which the
sensor turns into the right failure."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_ango.testing.triggers import first_event
from airflow_provider_ango.triggers.imports import AngoAssetsImportedTrigger
from tests.imports.helpers import Store, build, run_context
from tests.sensors.helpers import make_sensor

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator

pytestmark = pytest.mark.emulator


def test_trigger_reports_timeout_and_errors_as_events(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout

    s3_store.put("only.jpg")
    built = build(s3_store, "run", *s3_store.interval_around_all())

    late = AngoAssetsImportedTrigger(
        project["_id"], built["manifests"], s3_store.bucket.conn_id, timeout_at=0.0
    )
    timed_out = asyncio.run(first_event(late)).payload
    assert timed_out == {"status": "timeout", "expected": 1, "found": 0, "requests": 1, "listed": 0}
    missing = AngoAssetsImportedTrigger("0" * 24, built["manifests"], s3_store.bucket.conn_id)
    failed = asyncio.run(first_event(missing)).payload
    assert failed["status"] == "error"
    assert failed["error"] == "AngoNotFoundError"
    sensor = make_sensor(s3_store, project["_id"], built)
    with pytest.raises(AirflowSensorTimeout, match="0 of 1 externalIds have tasks"):
        sensor.execute_complete(run_context(None, None), timed_out)  # type: ignore[arg-type]
    with pytest.raises(AirflowException, match="AngoNotFoundError"):
        sensor.execute_complete(run_context(None, None), failed)  # type: ignore[arg-type]
