"""Importing a manifest's items into a project exactly once (the logic of AngoImportAssetsOperator).

1. **Read** the manifest once, streaming: validate every line, keep the externalIds as
   fingerprints (8 bytes each), note repeated externalIds, the batch names used and the items'
   scope batches (:mod:`~airflow_provider_ango.imports.scope`).
2. **Find** which of those externalIds exist (:mod:`~airflow_provider_ango.imports.existence`):
   under ``presence="scope"`` only the assets of the scope batches, ``O(items of those days / 100)``
   GETs whatever the project holds; under ``presence="project"`` (or for a manifest whose items
   carry no scope batch) the whole project, ``ceil(project_size / 100)`` GETs.
3. **Resolve** batch names to ids (one project read, shared with step 2; missing ones created).
4. **Send** the rest in chunks (one POST each), streaming the manifest a second time. A POST that
   fails ambiguously is set aside (:mod:`~airflow_provider_ango.imports.settle`) and re-checked
   ``settle`` seconds after it was sent; only its absent items are sent again, and duplicates a
   late write made anyway are deleted at the end. A retried task waits until the previous try's
   writes have had ``settle`` seconds, then starts over at step 1.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from pydantic import ValidationError

from airflow_provider_ango.exceptions import AngoAmbiguousWriteError, AngoBatchNotFoundError
from airflow_provider_ango.hooks.ango import AngoHubHook
from airflow_provider_ango.imports.existence import ExistenceCheck, Presence
from airflow_provider_ango.imports.fingerprints import FingerprintSet, fingerprint
from airflow_provider_ango.imports.presence import DEFAULT_PAGE_SIZE
from airflow_provider_ango.imports.scope import ManifestScope, ScopeCollector
from airflow_provider_ango.imports.settle import Items, SettleLedger, delete_extras, extra_assets
from airflow_provider_ango.models.api import Project
from airflow_provider_ango.models.imports import AngoImportItem, validation_reason
from airflow_provider_ango.progress import LogLike, Progress

#: ``(source, line_number, line)`` for every non-blank line of every manifest shard, in order.
ManifestLines = Callable[[], Iterator[tuple[str, int, bytes]]]
PresenceMode = Literal["scope", "project"]
PRESENCE_MODES = ("scope", "project")
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
    ambiguous: int = 0
    resent: int = 0
    removed_duplicates: int = 0
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
            "ambiguous": self.ambiguous,
            "resent": self.resent,
            "removed_duplicates": self.removed_duplicates,
            "dry_run": self.dry_run,
        }
        if self.dry_run:
            result["would_create_batches"] = self.would_create_batches[:50]
        return result


@dataclass(frozen=True)
class ImportSettings:
    """:param presence: ``scope`` (list the manifest's scope batches) or ``project`` (the whole project).
    :param settle: seconds after an ambiguous POST before its items are looked for (and sent again
        if absent): longer than Ango takes to apply a write.
    :param retry_wait: seconds to wait before the existence check (a retry: the previous try's last
        POST may still be applied meanwhile).
    """

    project_id: str
    chunk_size: int = 500
    page_size: int = DEFAULT_PAGE_SIZE
    batches: Sequence[str] = ()
    create_missing_batches: bool = True
    storage_id: str | None = None
    dry_run: bool = False
    presence: PresenceMode = "scope"
    settle: float = 300.0
    max_ambiguous_rounds: int = 3
    retry_wait: float = 0.0


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
    check: ExistenceCheck | None = field(default=None, init=False)
    ledger: SettleLedger = field(init=False)
    _scope_names: set[str] = field(default_factory=set, init=False)

    def __post_init__(self) -> None:
        if self.settings.chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        if self.settings.presence not in PRESENCE_MODES:
            raise ValueError(f"presence must be one of {PRESENCE_MODES}, got {self.settings.presence!r}")
        self.counts = ImportCounts(dry_run=self.settings.dry_run)
        self.ledger = SettleLedger(self.settings.settle, self.clock, self.sleep)

    # -- step 1 -----------------------------------------------------------------------
    def scan(self, lines: ManifestLines) -> tuple[ManifestScope, set[str]]:
        ids = FingerprintSet()
        batch_names: set[str] = set()
        scopes = ScopeCollector()
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
            scopes.add(raw.get("batches"))
        if self.counts.invalid > MAX_LOGGED_INVALID:
            self.log.warning("... %d invalid manifest lines in all", self.counts.invalid)
        scope = scopes.scope(ids)
        self.counts.duplicates = self.counts.valid - len(scope.ids)
        return scope, batch_names

    # -- step 2 -----------------------------------------------------------------------
    def existing(self, scope: ManifestScope, lines: ManifestLines, project: Project | None) -> FingerprintSet:
        settings = self.settings
        if not len(scope.ids):
            return FingerprintSet().freeze()
        if settings.presence == "scope" and scope.scoped and project is not None:
            found, _missing = project.batch_ids(scope.scope_batches)
            names = {batch_id: name for name, batch_id in found.items()}
            self.check = ExistenceCheck(self.hook, settings.project_id, settings.page_size, names)
        else:
            if settings.presence == "scope":
                self.log.warning(
                    "%d of the manifest's items carry no scope batch (a manifest not built by "
                    "AngoBuildImportOperator, or built with scope_batches=False): listing the whole project "
                    "instead. Rebuild the manifest, or pass presence='project' to say so on purpose",
                    scope.unscoped,
                )
            self.check = ExistenceCheck(self.hook, settings.project_id, settings.page_size, None)
        result = self.check.present(scope.ids, lambda: self._external_ids(lines))
        self._log_presence(result, len(scope.ids), scope)
        return result.found

    def _log_presence(self, result: Presence, wanted: int, scope: ManifestScope) -> None:
        where = (
            f"{len(scope.scope_batches)} scope batch(es) ({', '.join(scope.scope_batches[:3])}"
            f"{', ...' if len(scope.scope_batches) > 3 else ''})"
            if self.check is not None and self.check.scoped
            else "the whole project"
        )
        self.log.info(
            "Existence check in %s: %s, %d asset(s) listed in %d request(s); %d of the manifest's %d "
            "externalIds exist and will be skipped",
            where,
            result.method,
            result.listed,
            result.requests,
            len(result.found),
            wanted,
        )

    @staticmethod
    def _external_ids(lines: ManifestLines) -> Iterator[str]:
        for _source, _number, line in lines():
            raw, _ = _parse(line)
            if raw is not None:
                yield raw["externalId"]

    # -- step 3 -----------------------------------------------------------------------
    def batch_refs(self, names: set[str], project: Project | None = None) -> dict[str, str]:
        """Each batch ref of the run (names or ids) -> what the import sends for it.

        The batches are resolved (and missing ones created) with one project read (none when
        ``project`` is given); then the import names each by id or by name, as the connection's
        ``batch_refs`` reading says. The scope batches' ids are handed to the existence check.
        """
        settings = self.settings
        wanted = sorted(names | set(settings.batches))
        if not wanted:
            return {}
        project = project if project is not None else self.hook.get_project(settings.project_id)
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
        if self.check is not None and self.check.scope_batches is not None:
            # A scope batch created just now is listed too when a late write is checked.
            scope = {ref for ref in wanted if ref in self._scope_names}
            self.check.scope_batches.update({resolved[ref]: ref for ref in scope})
        if self.hook.batch_refs == "ids":
            return resolved
        names_by_id = {batch.id: batch.name for batch in project.batches}
        return {ref: names_by_id.get(batch_id, ref) for ref, batch_id in resolved.items()}

    # -- step 4 -----------------------------------------------------------------------
    def run(self, lines: ManifestLines) -> ImportCounts:
        scope, names = self.scan(lines)
        self._scope_names = set(scope.scope_batches)
        if not len(scope.ids):
            self.log.info("Nothing to import: the manifest has no valid item")
            return self.counts
        settings = self.settings
        if settings.retry_wait > 0 and not settings.dry_run:
            self.log.info(
                "Retry: waiting %.0f s so that a POST of the previous try still in Ango's hands is "
                "applied before the existence check (settle=%s s)",
                settings.retry_wait,
                settings.settle,
            )
            self.sleep(settings.retry_wait)
        project = None
        if settings.presence == "scope" and scope.scoped:
            project = self.hook.get_project(settings.project_id)
        present = self.existing(scope, lines, project)
        if len(present) == len(scope.ids):
            # Nothing new (a re-run): no batch is created, no POST.
            self.counts.skipped_existing = len(present)
            self.log.info("Nothing to import: every valid externalId of the manifest exists")
            return self.counts
        batch_map = self.batch_refs(names, project)
        query_batches = [batch_map[name] for name in settings.batches]
        repeated = scope.ids.repeated
        emitted_repeats: set[int] = set()
        to_send = self.counts.valid - self.counts.duplicates - len(present)
        progress = Progress(self.log, "Imported", max(to_send, 0), unit="assets", clock=self.clock)
        chunk: Items = []
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
            if len(chunk) >= settings.chunk_size:
                self._send(chunk, query_batches, progress)
                chunk = []
                self._settle(query_batches, progress, wait=False)
        if chunk:
            self._send(chunk, query_batches, progress)
        self._settle(query_batches, progress, wait=True)
        self._sweep()
        return self.counts

    def _send(self, chunk: Items, query_batches: list[str], progress: Progress, rounds: int = 0) -> None:
        """POST one chunk; an ambiguous failure sets it aside (or fails the task past the rounds)."""
        if rounds == 0:
            self.counts.chunks += 1
        if self.settings.dry_run:
            if self.counts.chunks == 1:
                sample = ", ".join(repr(external_id) for external_id, _ in chunk[:5])
                self.log.info("Dry run: would import, first: %s", sample)
            self.counts.submitted += len(chunk)
            progress.advance(len(chunk))
            return
        posted_at = self.clock()
        if rounds:
            self.ledger.note_resent([external_id for external_id, _ in chunk], posted_at)
            self.counts.resent += len(chunk)
        try:
            receipts = self.hook.iter_import_cloud_assets(
                self.settings.project_id,
                [payload for _, payload in chunk],
                chunk_size=len(chunk),
                batches=query_batches or None,
                storage_id=self.settings.storage_id,
            )
            for _receipt in receipts:
                pass
        except AngoAmbiguousWriteError as error:
            if rounds >= self.settings.max_ambiguous_rounds:
                raise
            if rounds == 0:
                self.counts.ambiguous += len(chunk)
            self.log.warning(
                "Import of %d asset(s) (%r ... %r) may or may not have been applied (%s); set aside, "
                "checked again %s s after it was sent, while the other chunks go on",
                len(chunk),
                chunk[0][0],
                chunk[-1][0],
                error,
                self.settings.settle,
            )
            self.ledger.set_aside(chunk, posted_at, rounds + 1)
            return
        self.counts.submitted += len(chunk)
        if self.check is not None:
            self.check.project_size += len(chunk)
        progress.advance(len(chunk))

    def _settle(self, query_batches: list[str], progress: Progress, wait: bool) -> None:
        """Chunks set aside whose settle time has passed: their absent items are sent again."""
        while (entry := self.ledger.take_due(wait)) is not None:
            ids = [external_id for external_id, _ in entry.items]
            present = self._present(ids).found
            absent = [(external_id, item) for external_id, item in entry.items if external_id not in present]
            applied = len(entry.items) - len(absent)
            self.counts.submitted += applied
            progress.advance(applied)
            self.log.info(
                "%d of %d asset(s) of an ambiguous import were applied by Ango; sending the other %d again",
                applied,
                len(entry.items),
                len(absent),
            )
            if absent:
                self._send(absent, query_batches, progress, rounds=entry.rounds)

    def _sweep(self) -> None:
        """Items sent more than once: a write applied later than ``settle`` made a second asset;
        the extra ones this run created are deleted (the oldest asset of each externalId stays)."""
        if not self.ledger.resent:
            return
        waited = self.ledger.wait_before_sweep()
        ids = list(self.ledger.resent)
        presence = self._present(ids, with_assets=True)
        extras = extra_assets(presence.assets)
        self.log.info(
            "Checked %d re-sent externalId(s) for duplicates (after %.0f s more): %d extra asset(s)",
            len(ids),
            waited,
            len(extras),
        )
        self.counts.removed_duplicates += delete_extras(
            extras,
            lambda asset_ids: self.hook.delete_assets(self.settings.project_id, asset_ids),
            lambda: extra_assets(self._present(ids, with_assets=True).assets),
            self.log,
        )
        if extras:
            self.log.warning(
                "Removed %d duplicate asset(s) that a write applied later than settle=%s s made",
                len(extras),
                self.settings.settle,
            )

    def _present(self, external_ids: list[str], with_assets: bool = False) -> Presence:
        check = self.check or ExistenceCheck(
            self.hook, self.settings.project_id, self.settings.page_size, None
        )
        wanted = FingerprintSet(external_ids).freeze()
        return check.present(wanted, lambda: external_ids, with_assets=with_assets)


__all__ = [
    "PRESENCE_MODES",
    "AssetImporter",
    "ImportCounts",
    "ImportSettings",
    "ManifestLines",
    "PresenceMode",
]
