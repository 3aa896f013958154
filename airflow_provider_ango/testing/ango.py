"""pytest fixtures for the Ango Hub emulator (no Airflow import at module import time).

- ``ango_emulator`` (session): one :class:`AngoEmulator` on a free loopback port, stopped at
  the end of the session;
- ``ango`` (function): the same emulator, reset (no projects, faults, logged requests or
  exports; clock and URL expiry back to their defaults) before the test;
- ``ango_connection`` (function): points the Airflow connection ``ango_default`` at the
  emulator through ``AIRFLOW_CONN_ANGO_DEFAULT`` (JSON form) and returns the conn id.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from airflow_provider_ango.emulator import AngoEmulator

__all__ = ["ANGO_CONN_ID", "ANGO_TEST_API_KEY", "ango", "ango_connection", "ango_emulator"]

ANGO_CONN_ID = "ango_default"
ANGO_TEST_API_KEY = "emulator-test-key"


@pytest.fixture(scope="session")
def ango_emulator() -> Iterator[AngoEmulator]:
    emulator = AngoEmulator(api_key=ANGO_TEST_API_KEY, host="127.0.0.1", port=0)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def ango(ango_emulator: AngoEmulator) -> AngoEmulator:
    ango_emulator.control.reset()
    return ango_emulator


@pytest.fixture
def ango_connection(ango: AngoEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    connection = {"conn_type": "ango", "password": ango.api_key, "host": ango.url}
    monkeypatch.setenv(f"AIRFLOW_CONN_{ANGO_CONN_ID.upper()}", json.dumps(connection))
    return ANGO_CONN_ID
