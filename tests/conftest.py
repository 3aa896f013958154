"""Shared test set-up: the fixtures come from airflow_provider_ango.testing.plugin (loaded by addopts).

Added here: the import job's fixtures, used by tests/operators/, tests/sensors/ and tests/triggers/
(a bucket per store with its files under ``incoming/``, and an Ango project with an ontology;
tests/hooks/ango/ has a ``project`` of its own), and the order of the scale tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from tests.imports.helpers import CATEGORY_SCHEMA, Store

if TYPE_CHECKING:
    # Type-only: importing Airflow here, before the testing plugin isolates AIRFLOW_HOME, is refused.
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.testing.plugin import TestBucket


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the scale tests (modules ``test_scale.py`` and ``test_*_scale.py``) after all the others.

    They fill the emulators (Azurite keeps the 10,000 listed objects and is slower with them), so
    every behaviour test, whatever its directory, runs first. The sort is stable: each group keeps
    its collection order.
    """
    items.sort(key=lambda item: item.path.name == "test_scale.py" or item.path.name.endswith("_scale.py"))


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
