"""Helpers of the export job's tests (tests/operators/test_exports_*.py): the two operators, run
contexts, a labeled project, and reading back what landed in a bucket."""

from __future__ import annotations

import gzip
import zipfile
from datetime import datetime, timedelta, timezone
from io import BytesIO
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator

START = datetime(2024, 5, 1, tzinfo=timezone.utc)


def run_context(
    start: datetime = START, end: datetime | None = None, run_id: str | None = None
) -> dict[str, Any]:
    """The parts of a task's context the export operators read."""
    end = end or start + timedelta(days=1)
    return {
        "data_interval_start": start,
        "data_interval_end": end,
        "run_id": run_id or f"scheduled__{start.isoformat()}",
    }


def make_dag(dag_id: str = "ango_export_test") -> Any:
    from airflow.sdk import DAG

    return DAG(dag_id, schedule=None, start_date=START)


def trigger_op(project_id: str, staging_uri: str, **kwargs: Any) -> Any:
    from airflow_provider_ango.operators.exports import AngoTriggerExportOperator

    options: dict[str, Any] = {"task_id": "trigger_export", "deferrable": False, **kwargs}
    return AngoTriggerExportOperator(project_id=project_id, staging_uri=staging_uri, **options)


def land_op(source: Any, destination_uri: str, **kwargs: Any) -> Any:
    from airflow_provider_ango.operators.exports import AngoLandExportOperator

    options: dict[str, Any] = {"task_id": "land_export", **kwargs}
    return AngoLandExportOperator(source=source, destination_uri=destination_uri, **options)


def seed_labeled(ango: AngoEmulator, external_ids: list[str], **kwargs: Any) -> dict[str, Any]:
    """A project whose tasks (one per externalId) were all submitted to Complete."""
    assets = [
        {"data": f"https://example.com/{n}.jpg", "externalId": ext} for n, ext in enumerate(external_ids)
    ]
    project = ango.control.seed_project(name="export", assets=assets or 0, workflow=["Label"], **kwargs)
    if external_ids:
        ango.control.act(project["_id"], action="submit")
    return project


def list_keys(uri: str, conn_id: str) -> list[str]:
    from airflow_provider_ango.hooks.bucket import BucketHook

    return sorted(obj.key for obj in BucketHook.from_uri(uri, conn_id).iter_objects())


def read_object(uri: str, key: str, conn_id: str) -> bytes:
    from airflow_provider_ango.hooks.bucket import BucketHook

    return BucketHook.from_uri(uri, conn_id).read_bytes(key)


def landed_records(destination_uri: str, conn_id: str) -> list[dict[str, Any]]:
    """Every record under the destination, read back from whatever layout landed there."""
    records: list[dict[str, Any]] = []
    for key in list_keys(destination_uri, conn_id):
        if key.startswith("_") or "/" in key:
            continue
        data = read_object(destination_uri, key, conn_id)
        if key.endswith(".gz"):
            data = gzip.decompress(data)
            key = key[:-3]
        if key.endswith(".ndjson"):
            records.extend(orjson.loads(line) for line in data.splitlines() if line.strip())
        elif key.endswith(".zip"):
            with zipfile.ZipFile(BytesIO(data)) as archive:
                for name in archive.namelist():
                    content = archive.read(name)
                    if name.endswith(".ndjson"):
                        records.extend(orjson.loads(line) for line in content.splitlines() if line.strip())
                    else:
                        records.extend(orjson.loads(content))
        elif key.startswith("part-"):
            records.extend(orjson.loads(data))
        else:
            records.append(orjson.loads(data))
    return records


def manifest(destination_uri: str, conn_id: str) -> dict[str, Any]:
    result: dict[str, Any] = orjson.loads(read_object(destination_uri, "_manifest.json", conn_id))
    return result
