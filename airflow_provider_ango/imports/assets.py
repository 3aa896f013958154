"""Importing a manifest's items into a project exactly once (the logic of AngoImportAssetsOperator).

1. **Read** the manifest once, streaming: validate every line, keep the externalIds as
   fingerprints (8 bytes each), note repeated externalIds and the batch names used.
2. **Find** which of those externalIds the project already has: one paged listing of its
   assets (see :mod:`~airflow_provider_ango.imports.presence` for method and cost).
3. **Resolve** batch names to ids once (one project read; missing batches created).
4. **Send** the rest in chunks (one POST each), streaming the manifest a second time.
   When a POST fails ambiguously (:class:`AngoAmbiguousWriteError`: it may have been
   applied) the chunk's externalIds are looked up again and only the missing ones are
   sent again. A retried task starts over at step 1, whose listing sees what the failed
   attempt imported, so a retry never makes a duplicate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from airflow_provider_ango.exceptions import AngoAmbiguousWriteError, AngoBatchNotFoundError
from airflow_provider_ango.hooks.ango import AngoHubHook
from airflow_provider_ango.imports.fingerprints import FingerprintSet, fingerprint
from airflow_provider_ango.imports.presence import (
    DEFAULT_PAGE_SIZE,
    ListingResult,
    asset_external_id,
    list_present,
    prefer_lookups,
)
from airflow_provider_ango.models.imports import AngoImportItem, validation_reason
from airflow_provider_ango.progress import LogLike, Progress

#: ``(source, line_number, line)`` for every non-blank line of every manifest shard, in order.
ManifestLines = Callable[[], Iterator[tuple[str, int, bytes]]]
MAX_LOGGED_INVALID = 10


@dataclass
class ImportCounts:
    total: int = 0
    valid: int = 0
    invalid: int = 0
    duplicates: int = 0
    skipped_existing: int = 0
    submitted: int = 0
    chunks: int = 0
    dry_run: bool = False
    would_create_batches: list[str] = field(default_factory=list)

    def to_xcom(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "submitted": self.submitted,
            "skipped_existing": self.skipped_existing,
            "invalid": self.invalid,
            "duplicates": self.duplicates,
            "total": self.total,
            "chunks": self.chunks,
            "dry_run": self.dry_run,
        }
        if self.dry_run:
            result["would_create_batches"] = self.would_create_batches[:50]
        return result


@dataclass(frozen=True)
class ImportSettings:
    project_id: str
    chunk_size: int = 500
    page_size: int = DEFAULT_PAGE_SIZE
    batches: Sequence[str] = ()
    create_missing_batches: bool = True
    storage_id: str | None = None
    dry_run: bool = False
    recheck_delay: float = 10.0
    max_ambiguous_rounds: int = 3


def _parse(line: bytes) -> tuple[dict[str, Any] | None, str | None]:
    try:
        raw = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        return None, f"not JSON: {error}"
    try:
        AngoImportItem.model_validate(raw)
    except ValidationError as error:
        return None, validation_reason(error)
    return raw, None


@dataclass
class AssetImporter:
    """One run's import of a manifest (the steps in the module docstring)."""

    hook: AngoHubHook
    settings: ImportSettings
    log: LogLike
    sleep: Callable[[float], None] = field(default=time.sleep, kw_only=True)
    clock: Callable[[], float] = field(default=time.monotonic, kw_only=True)
    counts: ImportCounts = field(init=False)
    _project_size: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.settings.chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        self.counts = ImportCounts(dry_run=self.settings.dry_run)

    # -- step 1 -----------------------------------------------------------------------
    def scan(self, lines: ManifestLines) -> tuple[FingerprintSet, set[str]]:
        ids = FingerprintSet()
        batch_names: set[str] = set()
        for source, number, line in lines():
            self.counts.total += 1
            raw, reason = _parse(line)
            if raw is None:
                self.counts.invalid += 1
                if self.counts.invalid <= MAX_LOGGED_INVALID:
                    self.log.warning("Invalid manifest line %s:%d skipped: %s", source, number, reason)
                continue
            self.counts.valid += 1
            ids.add(raw["externalId"])
            batch_names.update(raw.get("batches") or ())
        if self.counts.invalid > MAX_LOGGED_INVALID:
            self.log.warning("... %d invalid manifest lines in all", self.counts.invalid)
        ids.freeze()
        self.counts.duplicates = self.counts.valid - len(ids)
        return ids, batch_names

    # -- step 2 -----------------------------------------------------------------------
    def existing(self, ids: FingerprintSet) -> FingerprintSet:
        if not len(ids):
            return FingerprintSet().freeze()
        settings = self.settings
        result = self._list_present(ids)
        self.log.info(
            "Project %s holds %d assets (listed in %d request(s)); %d of the manifest's %d externalIds "
            "are among them and will be skipped",
            settings.project_id,
            result.total,
            result.requests,
            len(result.found),
            len(ids),
        )
        return result.found

    # -- step 3 -----------------------------------------------------------------------
    def batch_refs(self, names: set[str]) -> dict[str, str]:
        """Each batch ref of the run (names or ids) -> what the import sends for it.

        The batches are resolved (and missing ones created) with one project read; then the import
        names each by id or by name, as the connection's ``batch_refs`` reading says.
        """
        settings = self.settings
        wanted = sorted(names | set(settings.batches))
        if not wanted:
            return {}
        project = self.hook.get_project(settings.project_id)
        found, missing = project.batch_ids(wanted)
        if missing and settings.dry_run:
            self.counts.would_create_batches = missing
            self.log.info("Dry run: would create batch(es) %s", ", ".join(map(repr, missing)))
            return {**found, **{name: f"<new:{name}>" for name in missing}}
        if missing and not settings.create_missing_batches:
            raise AngoBatchNotFoundError.of(project, missing, "create_missing_batches=True")
        resolved = self.hook.resolve_batches(
            settings.project_id, wanted, create_missing=True, project=project
        )
        if missing:
            self.log.info("Created batch(es) %s", ", ".join(map(repr, missing)))
        if self.hook.batch_refs == "ids":
            return resolved
        names_by_id = {batch.id: batch.name for batch in project.batches}
        return {ref: names_by_id.get(batch_id, ref) for ref, batch_id in resolved.items()}

    # -- step 4 -----------------------------------------------------------------------
    def run(self, lines: ManifestLines) -> ImportCounts:
        ids, names = self.scan(lines)
        present = self.existing(ids)
        if len(present) == len(ids):
            # Nothing new (an empty manifest, or a re-run): no batch is read or created, no POST.
            self.counts.skipped_existing = len(present)
            self.log.info("Nothing to import: every valid externalId of the manifest is in the project")
            return self.counts
        batch_map = self.batch_refs(names)
        query_batches = [batch_map[name] for name in self.settings.batches]
        repeated = ids.repeated
        emitted_repeats: set[int] = set()
        to_send = self.counts.valid - self.counts.duplicates - len(present)
        progress = Progress(self.log, "Imported", max(to_send, 0), unit="assets", clock=self.clock)
        chunk: list[tuple[str, dict[str, Any]]] = []
        for _source, _number, line in lines():
            raw, _ = _parse(line)
            if raw is None:
                continue
            external_id = raw["externalId"]
            value = fingerprint(external_id)
            if value in repeated:
                if value in emitted_repeats:
                    continue
                emitted_repeats.add(value)
            if present.contains_fingerprint(value):
                self.counts.skipped_existing += 1
                continue
            if raw.get("batches"):
                raw["batches"] = [batch_map[name] for name in raw["batches"]]
            chunk.append((external_id, raw))
            if len(chunk) >= self.settings.chunk_size:
                self._send(chunk, query_batches, progress)
                chunk = []
        if chunk:
            self._send(chunk, query_batches, progress)
        return self.counts

    def _send(
        self, chunk: list[tuple[str, dict[str, Any]]], query_batches: list[str], progress: Progress
    ) -> None:
        self.counts.chunks += 1
        if self.settings.dry_run:
            if self.counts.chunks == 1:
                sample = ", ".join(repr(external_id) for external_id, _ in chunk[:5])
                self.log.info("Dry run: would import, first: %s", sample)
            self.counts.submitted += len(chunk)
            progress.advance(len(chunk))
            return
        pending = chunk
        for round_number in range(self.settings.max_ambiguous_rounds + 1):
            try:
                receipts = self.hook.iter_import_cloud_assets(
                    self.settings.project_id,
                    [payload for _, payload in pending],
                    chunk_size=len(pending),
                    batches=query_batches or None,
                    storage_id=self.settings.storage_id,
                )
                for _receipt in receipts:
                    pass
            except AngoAmbiguousWriteError as error:
                if round_number >= self.settings.max_ambiguous_rounds:
                    raise
                self.log.warning(
                    "Import of %d asset(s) (%r ... %r) may or may not have been applied (%s); "
                    "checking which of them exist before sending again",
                    len(pending),
                    pending[0][0],
                    pending[-1][0],
                    error,
                )
                if self.settings.recheck_delay > 0:
                    self.sleep(self.settings.recheck_delay)
                present = self.which_exist([external_id for external_id, _ in pending])
                before = len(pending)
                pending = [
                    (external_id, payload) for external_id, payload in pending if external_id not in present
                ]
                self.counts.submitted += before - len(pending)
                progress.advance(before - len(pending))
                if not pending:
                    return
                continue
            self.counts.submitted += len(pending)
            self._project_size += len(pending)
            progress.advance(len(pending))
            return

    def which_exist(self, external_ids: list[str]) -> set[str]:
        """The subset of ``external_ids`` present in the project now (lookups or one listing)."""
        settings = self.settings
        if prefer_lookups(len(external_ids), self._project_size, settings.page_size):
            found = set()
            for external_id in external_ids:
                if self.hook.count_assets(settings.project_id, {"externalId": external_id}) > 0:
                    found.add(external_id)
            return found
        result = self._list_present(FingerprintSet(external_ids).freeze())
        return {external_id for external_id in external_ids if external_id in result.found}

    def _list_present(self, wanted: FingerprintSet) -> ListingResult:
        """One listing of the project's assets: which of ``wanted`` are there; notes the project's size."""
        settings = self.settings
        result = list_present(
            lambda page, limit: self.hook.get_assets_page(settings.project_id, page, limit),
            asset_external_id,
            wanted,
            settings.page_size,
        )
        self._project_size = result.total
        return result


__all__ = ["AssetImporter", "ImportCounts", "ImportSettings", "ManifestLines"]
