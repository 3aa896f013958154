"""Fixtures of the import tests: a bucket per store with files in it, an Ango project, run contexts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    # Type-only: importing Airflow here, before the testing plugin isolates AIRFLOW_HOME, is refused.
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.hooks.bucket import BucketHook
    from airflow_provider_ango.testing.plugin import TestBucket

CATEGORY_SCHEMA = {
    "tools": [
        {
            "tool": "bounding-box",
            "title": "Car",
            "schemaId": "car",
            "classifications": [{"tool": "radio", "title": "Color", "schemaId": "color", "options": []}],
        }
    ],
    "classifications": [{"tool": "text", "title": "Note", "schemaId": "note"}],
    "relations": [{"tool": "one-to-one", "title": "Tows", "schemaId": "tows"}],
}


@dataclass
class FakeTI:
    """What the operators read from ``context["ti"]``."""

    try_number: int = 1
    pushed: dict[str, Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def run_context(start: datetime | None, end: datetime | None, try_number: int = 1) -> dict[str, Any]:
    return {"data_interval_start": start, "data_interval_end": end, "ti": FakeTI(try_number)}


@dataclass
class Store:
    """A fresh bucket with helpers: files go under ``incoming/``, manifests under ``manifests/``."""

    bucket: TestBucket
    hook: BucketHook

    @property
    def source_uri(self) -> str:
        return f"{self.bucket.uri}/incoming/"

    def manifest_uri(self, name: str) -> str:
        return f"{self.bucket.uri}/manifests/{name}/assets.ndjson"

    def put(self, key: str, data: bytes = b"x") -> None:
        self.hook.write_bytes(f"incoming/{key}", data)

    def modified(self) -> dict[str, datetime]:
        """last_modified of every object under ``incoming/``, by key relative to it."""
        return {
            obj.key.removeprefix("incoming/"): obj.last_modified
            for obj in self.hook.iter_objects("incoming/")
        }

    def interval_around_all(self) -> tuple[datetime, datetime]:
        times = self.modified().values()
        return min(times) - timedelta(hours=1), max(times) + timedelta(seconds=1)


@pytest.fixture(params=["s3", "gcs", "azure"])
def store(request: pytest.FixtureRequest, new_bucket: Callable[[str], TestBucket]) -> Store:
    from airflow_provider_ango.hooks.bucket import BucketHook

    bucket = new_bucket(request.param)
    return Store(bucket, BucketHook.from_uri(bucket.uri, bucket.conn_id))


@pytest.fixture
def s3_store(new_bucket: Callable[[str], TestBucket]) -> Store:
    from airflow_provider_ango.hooks.bucket import BucketHook

    bucket = new_bucket("s3")
    return Store(bucket, BucketHook.from_uri(bucket.uri, bucket.conn_id))


@pytest.fixture
def project(ango: AngoEmulator, ango_connection: str) -> dict[str, Any]:
    created: dict[str, Any] = ango.control.seed_project(
        name="imports", category_schema=CATEGORY_SCHEMA, batches=["existing"]
    )
    return created
