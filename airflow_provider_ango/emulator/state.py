"""Everything the emulator knows: projects (see :mod:`project`), storages and API keys.

Re-imports: a cloud import of an externalId that already exists creates a second asset.
Ango's import-format page says "External IDs do not have to be unique", ango-api.md's SDK
facts show no dedupe either; that is why the provider must deduplicate before importing
(``GET /_emulator/projects/{id}/counts`` reports duplicates). See ``imports.py``.

All access goes through ``EmulatorState.lock`` (one re-entrant lock; the server is
threaded).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable
from typing import Any

from airflow_provider_ango.emulator.access import KeyRing
from airflow_provider_ango.emulator.common import (
    Clock,
    IdFactory,
    not_found,
    parse_row_id,
    require_hex24,
)
from airflow_provider_ango.emulator.project import DEFAULT_WORKFLOW, Project


class EmulatorState:
    """Everything the emulator knows; guarded by ``lock``."""

    def __init__(self, api_key: str, clock: Clock, url_expiry_seconds: float) -> None:
        self.lock = threading.RLock()
        self.api_key = api_key
        self.keys = KeyRing(api_key)
        self.clock = clock
        self.default_url_expiry = url_expiry_seconds
        self.url_expiry_seconds = url_expiry_seconds
        self.ids = IdFactory()
        # Project numbers are never reused, even across resets, so a stale id stays unknown.
        self._project_numbers = itertools.count(1)
        self.projects: dict[str, Project] = {}
        self.projects_by_number: dict[int, Project] = {}
        self.storages: dict[str, dict[str, Any]] = {}
        self.storage_files: dict[str, dict[str, list[str]]] = {}

    def reset(self) -> None:
        with self.lock:
            self.projects.clear()
            self.projects_by_number.clear()
            self.storages.clear()
            self.storage_files.clear()
            self.keys.reset()
            self.clock.offset_seconds = 0.0
            self.url_expiry_seconds = self.default_url_expiry

    def new_id(self, kind: int = 0x0B) -> str:
        return self.ids.new(self.clock.now(), kind)

    def create_project(
        self,
        name: str,
        description: str = "",
        project_type: str = "ango",
        workflow: Iterable[str] = DEFAULT_WORKFLOW,
        consensus_count: int = 2,
    ) -> Project:
        with self.lock:
            number = next(self._project_numbers)
            project = Project(
                number,
                self.new_id(0xB0),
                name,
                description,
                project_type,
                self.clock.now_ms(),
                workflow,
                consensus_count,
            )
            self.projects[project.id] = project
            self.projects_by_number[number] = project
            return project

    def project(self, project_id: Any) -> Project:
        require_hex24(project_id, "project id")
        found = self.projects.get(project_id)
        if found is None:
            raise not_found(f"Project not found: {project_id}")
        return found

    def locate(self, any_id: Any, kind: int, what: str) -> tuple[Project, int]:
        """Find the row of an asset or task id; 400 for a malformed id, 404 if unknown or deleted."""
        require_hex24(any_id, f"{what} id")
        parsed = parse_row_id(any_id)
        project = self.projects_by_number.get(parsed[1]) if parsed is not None else None
        row = project.row_for_id(any_id, kind) if project is not None else None
        if project is None or row is None:
            raise not_found(f"{what.capitalize()} not found: {any_id}")
        return project, row
