"""Ango Hub emulator: a real HTTP server that answers the Ango REST API from memory.

It follows ango-api.md and Ango's import/export documentation, and imports nothing from
the provider's hooks, operators or models (so a mistake there is not mirrored here).

    with AngoEmulator(api_key="test-key") as hub:
        project = hub.control.seed_project(name="demo", batches=["b1"], assets=10)
        ...  # point the provider at hub.url with hub.api_key

Command line: ``python -m airflow_provider_ango.emulator --port 8765 --api-key K``.
"""

from __future__ import annotations

from airflow_provider_ango.emulator.app import DEFAULT_URL_EXPIRY_SECONDS, AngoEmulator
from airflow_provider_ango.emulator.control import EmulatorControl, EmulatorControlError

__all__ = ["DEFAULT_URL_EXPIRY_SECONDS", "AngoEmulator", "EmulatorControl", "EmulatorControlError"]
