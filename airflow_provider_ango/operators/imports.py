"""Operators that turn bucket files into Ango Hub assets and pre-labels, exactly once.

* :class:`AngoBuildImportOperator` (:mod:`~airflow_provider_ango.operators.manifests`) lists the
  files of a run's window and writes an import manifest (NDJSON shards of validated import items)
  to a staging URI;
* :class:`AngoImportAssetsOperator` (here) imports a manifest, skipping externalIds the project has;
* :class:`AngoImportLabelsOperator` (:mod:`~airflow_provider_ango.operators.labels`) imports
  pre-labels after checking all of them.

All three are importable from this module. XCom carries only small values: URIs, counts, the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import Context

from airflow_provider_ango.exceptions import AngoConfigError
from airflow_provider_ango.hooks.ango import AngoHubHook
from airflow_provider_ango.imports.assets import PRESENCE_MODES, AssetImporter, ImportSettings, PresenceMode
from airflow_provider_ango.imports.checks import ImportRun, check_manifest
from airflow_provider_ango.imports.manifest import check_on_invalid
from airflow_provider_ango.imports.presence import DEFAULT_PAGE_SIZE
from airflow_provider_ango.imports.sources import BucketFiles, manifest_uris
from airflow_provider_ango.lineage import ango_uri
from airflow_provider_ango.links import AngoBatchLink, AngoProjectLink
from airflow_provider_ango.operators.base import AngoBaseOperator
from airflow_provider_ango.operators.checks import require_storage, run_identity
from airflow_provider_ango.operators.labels import AngoImportLabelsOperator
from airflow_provider_ango.operators.manifests import AngoBuildImportOperator


class AngoImportAssetsOperator(AngoBaseOperator):
    """Import a manifest into an Ango Hub project, each externalId once.

    The manifest is streamed twice (its externalIds kept as 8-byte fingerprints). ``presence``
    says what the existence check lists: ``"scope"`` (default) only the manifest's scope batches
    (``O(items of those days / 100)`` GETs, whatever the project holds; it sees every earlier import
    of the same source, not assets added by anything else), ``"project"`` the whole project.
    Batches are resolved (and created) with the same project read; ``chunk_size`` items a POST. An
    ambiguous POST is set aside and re-checked ``settle`` seconds after it was sent; only absent
    items are sent again, duplicates a later write made anyway are deleted. A retry first waits
    ``settle - retry_delay`` seconds. Run one import per project at a time. README: "Importing assets".

    **Checked first** (before any call to Ango): every shard exists; the manifest's provenance, when
    the build wrote one, names this project and, for a manifest of this DAG, this run, and lists
    exactly these shards; every line is a valid import item. With ``on_invalid="fail"`` (the
    default) a bad line fails the task naming each (``<uri>:<line>``, reason, fix) and nothing is
    imported; ``on_invalid="skip"`` imports the valid lines, counts the others in ``invalid`` and
    writes their reasons to ``<base>.import-errors.ndjson`` (its URI in ``errors``). A
    ``storage_id`` must be one of the organization's storage integrations.

    :param manifest: the build operator's output (``build.output``), a URI, or a list of URIs.
    :param batches: batch names every asset joins (besides the manifest items' own batches).
    :param dry_run: read and check everything, change nothing, and report what would happen.
    :param presence: ``"scope"`` or ``"project"`` (above).
    :param settle: seconds Ango may take to apply a write (default 5 times the hook's timeout, 300 s).
    :param max_ambiguous_rounds: how often a chunk may be sent again after ambiguous failures.

    Extra links: the project, and the scope batch when the manifest has one. Lineage: the manifest
    shards in, the project out (nothing out for a dry run). ``on_kill`` shuts the Ango Hub hook.
    :return: ``{"submitted", "skipped_existing", "invalid", "duplicates", "total", "chunks",
        "ambiguous", "resent", "removed_duplicates", "dry_run", "errors"}``
    """

    template_fields: Sequence[str] = ("project_id", "manifest", "batches", "storage_id")
    ui_color = "#e4f0ff"
    operator_extra_links = (AngoProjectLink(), AngoBatchLink())

    def __init__(
        self,
        *,
        project_id: str,
        manifest: Any,
        manifest_conn_id: str | None = None,
        ango_conn_id: str = AngoHubHook.default_conn_name,
        chunk_size: int = 500,
        page_size: int = DEFAULT_PAGE_SIZE,
        batches: Sequence[str] = (),
        create_missing_batches: bool = True,
        storage_id: str | None = None,
        dry_run: bool = False,
        presence: PresenceMode = "scope",
        settle: float | None = None,
        max_ambiguous_rounds: int = 3,
        on_invalid: str = "fail",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if chunk_size < 1 or page_size < 1:
            raise AngoConfigError(
                f"chunk_size ({chunk_size}) and page_size ({page_size}) must be >= 1; leave them out for the "
                "defaults (500 and 100)"
            )
        if presence not in PRESENCE_MODES:
            raise AngoConfigError(f"presence must be 'scope' or 'project', got {presence!r}")
        if settle is not None and settle < 0:
            raise AngoConfigError(f"settle must be >= 0 seconds, got {settle!r}")
        self.on_invalid = check_on_invalid(on_invalid)
        self.project_id = project_id
        self.manifest = manifest
        self.manifest_conn_id = manifest_conn_id
        self.ango_conn_id = ango_conn_id
        self.chunk_size = chunk_size
        self.page_size = page_size
        self.batches = batches
        self.create_missing_batches = create_missing_batches
        self.storage_id = storage_id
        self.dry_run_only = dry_run  # BaseOperator.dry_run() is a method; keep it callable
        self.presence: PresenceMode = presence
        self.settle = settle
        self.max_ambiguous_rounds = max_ambiguous_rounds

    def execute(self, context: Context) -> dict[str, Any]:
        with self.hook_in_use():
            return self._import(context)

    def kill_note(self) -> str:
        return "A retry finds what this try imported (the existence check): each externalId once."

    def _import(self, context: Context) -> dict[str, Any]:
        uris = manifest_uris(self.manifest)
        ti = context.get("ti")
        settle = self.settle if self.settle is not None else 5 * self.hook.timeout
        retry_wait = 0.0
        if ti is not None and getattr(ti, "try_number", 1) > 1:
            # The previous try may have died with a POST in Ango's hands; it ended at least
            # retry_delay ago, so only the rest of the settle time is left to wait.
            retry_wait = max(0.0, settle - self.retry_delay.total_seconds())
            self.log.info(
                "Retry (try %s): what earlier tries imported is found by the existence check", ti.try_number
            )
        files = BucketFiles(self.manifest_conn_id)
        dag_id, run_id = run_identity(context)
        run = ImportRun(self.project_id, dag_id, run_id)
        checked = check_manifest(files, uris, run, self.on_invalid, self.log, report=not self.dry_run_only)
        if self.storage_id:
            require_storage(self.hook, self.storage_id)
        self.persist_links(context, self.project_id)  # a failed or killed import links there too
        settings = ImportSettings(
            project_id=self.project_id,
            chunk_size=self.chunk_size,
            page_size=self.page_size,
            batches=[self.batches] if isinstance(self.batches, str) else list(self.batches),
            create_missing_batches=self.create_missing_batches,
            storage_id=self.storage_id or None,
            dry_run=self.dry_run_only,
            presence=self.presence,
            settle=settle,
            max_ambiguous_rounds=self.max_ambiguous_rounds,
            retry_wait=retry_wait,
        )
        importer = AssetImporter(self.hook, settings, self.log)
        self.log.info("Importing %d manifest shard(s) into project %s", len(uris), self.project_id)
        counts = importer.run(lambda: files.lines(uris))
        scope = importer.check.scope_batches if importer.check is not None else None
        if scope is not None and len(scope) == 1:
            self.persist_links(context, self.project_id, next(iter(scope)))
        project = [] if self.dry_run_only else [ango_uri(self.hook.base_url, self.project_id)]
        self.record_lineage(uris, project)
        result = {**counts.to_xcom(), "errors": checked.errors_uri}
        self.log.info("%s: %s", "Dry run, nothing changed" if self.dry_run_only else "Import done", result)
        return result


__all__ = ["AngoBuildImportOperator", "AngoImportAssetsOperator", "AngoImportLabelsOperator"]
