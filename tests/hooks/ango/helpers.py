"""Shared helpers of the AngoHubHook tests: the emulator's request log, an API key for offline hooks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator


KEY = "unit-test-api-key-0123456789"


def logged(ango: AngoEmulator, path_regex: str, method: str | None = None) -> list[dict[str, Any]]:
    """Requests the emulator saw whose path fully matches ``path_regex``."""
    entries = ango.control.requests(path_pattern=f"^{path_regex}$")
    return [entry for entry in entries if method is None or entry["method"] == method]
