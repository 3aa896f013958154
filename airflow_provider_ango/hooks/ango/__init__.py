"""AngoHubHook: Ango Hub's REST API for Airflow.

``hook`` holds the one :class:`AngoHubHook` class; beside it, ``connection`` reads the Airflow
connection and owns the HTTP clients, ``transport`` sends one call with timeouts, retries and
error translation, ``endpoints`` builds every request and parses answers (no I/O), and
``download`` streams a signed export URL with resumption.
"""

from __future__ import annotations

from airflow_provider_ango.hooks.ango.connection import (
    DEFAULT_HOST,
    AngoConnectionSettings,
    base_url_from_host,
)
from airflow_provider_ango.hooks.ango.hook import AngoHubHook

__all__ = ["DEFAULT_HOST", "AngoConnectionSettings", "AngoHubHook", "base_url_from_host"]
