"""Fixtures of the operator tests. ``fernet_key`` comes from the testing plugin
(:mod:`airflow_provider_ango.testing.plugin`); the import fixtures (``store``, ``project``) from
``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def no_fernet_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from airflow.sdk.crypto import get_fernet

    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", "")
    get_fernet.cache_clear()
    yield
    get_fernet.cache_clear()
