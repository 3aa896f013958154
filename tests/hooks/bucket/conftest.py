"""Fixtures of the BucketHook tests: a fresh bucket on each store's emulator, and a hook on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    # Type-only: importing Airflow here, before the testing plugin isolates AIRFLOW_HOME, is refused.
    from airflow_provider_ango.hooks.bucket import BucketHook
    from airflow_provider_ango.testing.plugin import TestBucket


KINDS = ["s3", "gcs", "azure"]


@pytest.fixture(params=KINDS)
def bucket(request: pytest.FixtureRequest, new_bucket: Callable[[str], TestBucket]) -> TestBucket:
    return new_bucket(request.param)


@pytest.fixture
def hook(bucket: TestBucket) -> BucketHook:
    from airflow_provider_ango.hooks.bucket import BucketHook

    return BucketHook.from_uri(bucket.uri)  # the store's default connection
