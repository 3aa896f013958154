"""Fixtures for the emulator's own tests.

``ango_emulator``, ``ango`` and ``ango_connection`` come from the project's testing plugin
(``-p airflow_provider_ango.testing.plugin`` in addopts, which loads
``airflow_provider_ango.testing.ango``); this adds an API client with the right key.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from airflow_provider_ango.emulator import AngoEmulator


@pytest.fixture
def api(ango: AngoEmulator) -> Iterator[httpx.Client]:
    """An httpx client of the Ango API with the right key (as a correct hook would send it)."""
    with httpx.Client(base_url=ango.url, headers={"apikey": ango.api_key}, timeout=120) as client:
        yield client
