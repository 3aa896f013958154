"""Fixtures for the emulator's own tests: the shared emulator, reset per test, and an API client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from airflow_provider_ango.emulator import AngoEmulator
from airflow_provider_ango.testing.ango import ango, ango_connection, ango_emulator

__all__ = ["ango", "ango_connection", "ango_emulator"]


@pytest.fixture
def api(ango: AngoEmulator) -> Iterator[httpx.Client]:
    """An httpx client of the Ango API with the right key (as a correct hook would send it)."""
    with httpx.Client(base_url=ango.url, headers={"apikey": ango.api_key}, timeout=120) as client:
        yield client
