"""Operators that turn bucket files into Ango Hub assets and pre-labels, exactly once.

* :class:`AngoBuildImportOperator` lists the files of a run's window and writes an import
  manifest (NDJSON shards of validated import items) to a staging URI;
* :class:`AngoImportAssetsOperator` imports a manifest, skipping externalIds the project has;
* :class:`AngoImportLabelsOperator` imports pre-labels after checking all of them.

XCom carries only small values: URIs, counts, the window.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import Any

from airflow.sdk import BaseOperator, Context

from airflow_provider_ango.exceptions import AngoConfigError
from airflow_provider_ango.hooks.ango import AngoHubHook
from airflow_provider_ango.hooks.bucket import BucketHook
from airflow_provider_ango.imports.assets import PRESENCE_MODES, AssetImporter, ImportSettings, PresenceMode
from airflow_provider_ango.imports.builder import AttachmentRule, BuildOptions, ItemBuilder
from airflow_provider_ango.imports.checks import ImportRun, check_manifest
from airflow_provider_ango.imports.labels import LabelImporter, iter_label_file
from airflow_provider_ango.imports.manifest import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ROWS,
    check_on_invalid,
    manifest_base,
    write_manifest,
)
from airflow_provider_ango.imports.presence import DEFAULT_PAGE_SIZE
from airflow_provider_ango.imports.rules import (
    BatchRule,
    ContextRule,
    ExternalIdRule,
    ItemRules,
    check_asset_types,
    check_template,
)
from airflow_provider_ango.imports.scope import check_scope_prefix, default_scope_prefix, with_scope_batch
from airflow_provider_ango.imports.sources import BucketFiles, manifest_uris, split_object_uri
from airflow_provider_ango.imports.window import compute_window
from airflow_provider_ango.operators.checks import (
    bucket_of,
    require_bucket,
    require_storage,
    run_identity,
)


class AngoBuildImportOperator(BaseOperator):
    """Write an Ango import manifest for the bucket files of this run's window.

    **Window.** For a run whose data interval is ``[start, end)`` (or ``window_start`` /
    ``window_end`` when given), the files taken are those with::

        start - settle_delay - lookback  <=  last_modified  <  end - settle_delay     (UTC)

    Adjacent runs get adjacent windows, so a file modified exactly on a boundary is taken
    once, by the later run. ``settle_delay`` leaves files still being written for the next
    run; ``lookback`` re-reads an earlier stretch for files listed late; files taken twice
    that way are skipped at import because their externalIds exist in the project.

    **Items.** ``data`` is the object's URL as Ango expects it (percent-encoded UTF-8; S3 in
    the ``https://<bucket>.s3.<region>.amazonaws.com/<key>`` form). ``external_id`` is the key
    relative to ``source_uri`` by default, or a template such as ``"{bucket}/{key}"`` (fields:
    key, relative_key, name, stem, ext, folder, bucket, size, etag, type), or a callable of
    the :class:`~airflow_provider_ango.hooks.bucket.BucketObject`. ``batches`` are batch *names*
    (templates: ``["nightly", "{folder}"]``, or a callable); the import operator maps them to
    ids. ``contextData`` holds ``bucket``, ``key``, ``size``, ``etag``, ``lastModified`` (unless
    ``source_context=False``) plus ``context_data``.

    **Scope batch.** Every item also joins ``<scope_batch_prefix>:<YYYY-MM-DD>`` (its file's UTC
    day; prefix by default ``import:<bucket>/<prefix>``, always starting ``import:``), the batch the
    import's existence check lists; ``scope_batches=False`` leaves it out.

    **Files.** ``include`` / ``exclude`` are globs on the key relative to ``source_uri`` (``*``
    stays in one folder, ``**`` crosses folders: ``"**/*.jpg"``). ``asset_types`` picks types by
    extension (image, video, audio, pdf, text, markdown, dicom, point_cloud; ``other`` for the
    rest); by default every known type and no ``other``, so sidecars and stray files are left
    out. ``image_dimensions`` adds ``width``/``height`` from a ranged read of the header (64 KiB,
    more for JPEGs with big EXIF blocks); ``video_sidecar`` is the template of a JSON sidecar
    key (``"{relative_key}.json"``) holding ``frameRate``, ``frameCount``, ``width``, ``height``;
    ``multi_page`` makes each folder's files the pages of one asset (natural order), taken when
    the folder's newest page falls in the window; ``storage_id`` is the storage integration
    of a private bucket; ``attachments`` a callable giving ``{"type", "value"}`` dicts.

    **Manifest.** NDJSON shards ``<base>-00000.ndjson`` ... next to ``manifest_uri``
    (``<base>.ndjson``), each at most ``max_manifest_bytes`` / ``max_manifest_rows``; invalid items
    go to ``<base>.errors.ndjson`` with their reason. Files are written under temporary keys and
    published together at the end, so a retry never leaves half a manifest. Give every run its own
    key (``{{ run_id }}`` in ``manifest_uri``): ``<base>.provenance.json``, written last, records
    the project, source, window, DAG and run, and the import refuses a manifest of another run of
    the same DAG or of another project.

    **Strict by default.** With ``on_invalid="fail"`` a file that cannot become an asset (an empty
    or non-image ``.jpg``, a broken sidecar, ...) fails the task naming each one, and no shard is
    published (only the errors file); ``on_invalid="skip"`` publishes the others. Before anything
    is listed or written the source and manifest buckets must exist and ``storage_id`` must be one
    of the organization's storage integrations (checked through ``ango_conn_id``).

    :param project_id: the project the manifest is for (templated); recorded in its provenance.
    :return: ``{"manifests": [uri, ...], "errors": uri | None, "provenance": uri, "counts": {"items",
        "invalid", "listed", "<type>": n, ...}, "window": {"start", "end"}, "scope_batches": [name, ...]}``
    """

    template_fields: Sequence[str] = (
        "project_id",
        "source_uri",
        "manifest_uri",
        "include",
        "exclude",
        "window_start",
        "window_end",
        "settle_delay",
        "lookback",
        "external_id",
        "batches",
        "context_data",
        "storage_id",
        "video_sidecar",
        "scope_batch_prefix",
    )
    ui_color = "#f0e4ff"

    def __init__(
        self,
        *,
        source_uri: str,
        manifest_uri: str,
        source_conn_id: str | None = None,
        manifest_conn_id: str | None = None,
        include: str | Sequence[str] | None = None,
        exclude: str | Sequence[str] | None = None,
        recursive: bool = True,
        asset_types: Sequence[str] | None = None,
        window_start: Any = None,
        window_end: Any = None,
        settle_delay: timedelta | float = timedelta(0),
        lookback: timedelta | float = timedelta(0),
        external_id: ExternalIdRule = None,
        batches: BatchRule = None,
        context_data: ContextRule = None,
        source_context: bool = True,
        image_dimensions: bool = False,
        video_sidecar: str | None = None,
        multi_page: bool = False,
        attachments: AttachmentRule = None,
        storage_id: str | None = None,
        max_manifest_bytes: int = DEFAULT_MAX_BYTES,
        max_manifest_rows: int = DEFAULT_MAX_ROWS,
        scope_batch_prefix: str | None = None,
        scope_batches: bool = True,
        project_id: str | None = None,
        on_invalid: str = "fail",
        ango_conn_id: str = AngoHubHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if scope_batch_prefix and "{{" not in scope_batch_prefix:
            check_scope_prefix(scope_batch_prefix)
        self.scope_batch_prefix = scope_batch_prefix
        self.scope_batches = scope_batches
        self.project_id = project_id
        self.on_invalid = check_on_invalid(on_invalid)
        self.ango_conn_id = ango_conn_id
        self.source_uri = source_uri
        self.manifest_uri = manifest_uri
        self.source_conn_id = source_conn_id
        self.manifest_conn_id = manifest_conn_id
        self.include = include
        self.exclude = exclude
        self.recursive = recursive
        self.asset_types = check_asset_types(asset_types)
        self.window_start = window_start
        self.window_end = window_end
        self.settle_delay = settle_delay
        self.lookback = lookback
        self.external_id = external_id
        self.batches = batches
        self.context_data = context_data
        self.source_context = source_context
        self.image_dimensions = image_dimensions
        self.video_sidecar = video_sidecar
        self.multi_page = multi_page
        self.attachments = attachments
        self.storage_id = storage_id
        self.max_manifest_bytes = max_manifest_bytes
        self.max_manifest_rows = max_manifest_rows
        # Checked now, so that a typo fails at DAG parse time (Jinja ones after rendering).
        for template in [video_sidecar, external_id, *(batches if isinstance(batches, list) else [])]:
            if isinstance(template, str) and "{{" not in template and "{%" not in template:
                check_template(template, "external_id, batches or video_sidecar")

    @cached_property
    def source(self) -> BucketHook:
        return bucket_of(self.source_uri, self.source_conn_id, "source_uri")

    def execute(self, context: Context) -> dict[str, Any]:
        window = compute_window(
            context.get("data_interval_start"),
            context.get("data_interval_end"),
            settle_delay=self.settle_delay,
            lookback=self.lookback,
            window_start=self.window_start,
            window_end=self.window_end,
        )
        try:
            root, name = split_object_uri(self.manifest_uri)
        except ValueError as error:
            raise AngoConfigError(f"manifest_uri: {error}") from None
        target = bucket_of(root, self.manifest_conn_id, "manifest_uri")
        base = manifest_base(name)
        source = self.source
        require_bucket(source, "source_uri")
        require_bucket(target, "manifest_uri")
        if self.storage_id:
            require_storage(AngoHubHook(ango_conn_id=self.ango_conn_id), self.storage_id)
        dag_id, run_id = run_identity(context)
        provenance = {
            "build": uuid.uuid4().hex[:12],
            "project_id": self.project_id or None,
            "source_uri": source.uri,
            "window": window.to_xcom(),
            "dag_id": dag_id,
            "run_id": run_id,
            "task_id": self.task_id,
        }
        rules = ItemRules(
            prefix=source.prefix,
            bucket=source.bucket,
            external_id=self.external_id,
            batches=self.batches,
            context_data=self.context_data,
            source_context=self.source_context,
        )
        scope_names: set[str] = set()
        if self.scope_batches:
            prefix = self.scope_batch_prefix or default_scope_prefix(source.bucket, source.prefix)
            rules = with_scope_batch(rules, prefix, scope_names)
        options = BuildOptions(
            asset_types=self.asset_types,
            image_dimensions=self.image_dimensions,
            video_sidecar=self.video_sidecar or None,
            multi_page=self.multi_page,
            storage_id=self.storage_id or None,
            attachments=self.attachments,
        )
        builder = ItemBuilder(rules, options, window, source.ango_url, source.read_bytes, self.log)
        self.log.info("Building the import manifest of %s for files modified in %s", source.uri, window)
        objects = source.iter_objects(
            recursive=self.recursive,
            include=self.include,
            exclude=self.exclude,
            # Multi-page folders are judged by their newest page, so every page must be listed.
            modified_after=None if self.multi_page else window.start,
            modified_before=None if self.multi_page else window.end,
        )
        written = write_manifest(
            builder.build(objects),
            target,
            base,
            max_bytes=self.max_manifest_bytes,
            max_rows=self.max_manifest_rows,
            log=self.log,
            on_invalid=self.on_invalid,
            provenance=provenance,
            describe=target.uri_for,
        )
        shard_keys, invalid = written.shard_keys, written.invalid
        stats = builder.stats
        counts: dict[str, int] = {
            "items": written.items,
            "invalid": invalid,
            "listed": stats.listed,
            "skipped_type": stats.skipped_type,
            "outside_window": stats.outside_window,
            **stats.by_type,
        }
        if options.image_dimensions:
            counts["image_size_unknown"] = stats.image_size_unknown
        result = {
            "manifests": [target.uri_for(key) for key in shard_keys],
            "errors": target.uri_for(written.errors_key) if written.errors_key else None,
            "provenance": target.uri_for(written.provenance_key) if written.provenance_key else None,
            "counts": counts,
            "window": window.to_xcom(),
            "scope_batches": sorted(scope_names),
        }
        self.log.info(
            "Manifest: %d item(s) in %d shard(s), %d invalid%s; counts %s",
            written.items,
            len(shard_keys),
            invalid,
            f" (reasons in {result['errors']})" if invalid else "",
            counts,
        )
        return result


class AngoImportAssetsOperator(BaseOperator):
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
    :return: ``{"submitted", "skipped_existing", "invalid", "duplicates", "total", "chunks",
        "ambiguous", "resent", "removed_duplicates", "dry_run", "errors"}``
    """

    template_fields: Sequence[str] = ("project_id", "manifest", "batches", "storage_id")
    ui_color = "#e4f0ff"

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

    @cached_property
    def hook(self) -> AngoHubHook:
        return AngoHubHook(ango_conn_id=self.ango_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
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
        result = {**counts.to_xcom(), "errors": checked.errors_uri}
        self.log.info("%s: %s", "Dry run, nothing changed" if self.dry_run_only else "Import done", result)
        return result


class AngoImportLabelsOperator(BaseOperator):
    """Import pre-labels (Ango Import Format, keyed by externalId) from bucket files.

    ``source`` is a file URI, a folder URI ending in ``/`` (its ``.json``/``.ndjson``/``.jsonl``
    files), or a list of them. A file is a JSON array (streamed) or NDJSON. Everything is checked
    before the first POST: every annotation's ``schemaId`` against the project's category
    schema, every externalId against the project's assets, no externalId twice. Any problem
    fails the task with one error listing the first offenders, and nothing is imported.

    :return: ``{"items", "annotations", "submitted", "chunks"}``
    """

    template_fields: Sequence[str] = ("project_id", "source")
    ui_color = "#e4fff0"
    suffixes = (".json", ".ndjson", ".jsonl")

    def __init__(
        self,
        *,
        project_id: str,
        source: str | Sequence[str],
        source_conn_id: str | None = None,
        ango_conn_id: str = AngoHubHook.default_conn_name,
        chunk_size: int = 500,
        page_size: int = DEFAULT_PAGE_SIZE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.project_id = project_id
        self.source = source
        self.source_conn_id = source_conn_id
        self.ango_conn_id = ango_conn_id
        self.chunk_size = chunk_size
        self.page_size = page_size

    @cached_property
    def hook(self) -> AngoHubHook:
        return AngoHubHook(ango_conn_id=self.ango_conn_id)

    def execute(self, context: Context) -> dict[str, int]:
        files = BucketFiles(self.source_conn_id)
        raw = [self.source] if isinstance(self.source, str) else list(self.source)
        for uri in raw:
            if not uri.endswith("/"):
                try:
                    split_object_uri(uri)
                except ValueError as error:
                    raise AngoConfigError(f"source: {error} (or a folder URI ending with '/')") from None
        uris = files.expand(raw, self.suffixes)
        files.require(uris, "label file")

        def records() -> Any:
            for uri in uris:
                with files.open(uri, "label file") as stream:
                    yield from iter_label_file(stream, uri)

        importer = LabelImporter(
            self.hook, self.project_id, self.log, chunk_size=self.chunk_size, page_size=self.page_size
        )
        self.log.info("Checking pre-labels from %d file(s) for project %s", len(uris), self.project_id)
        importer.validate(records)
        counts = importer.send(records).to_xcom()
        self.log.info("Pre-labels imported: %s", counts)
        return counts


__all__ = ["AngoBuildImportOperator", "AngoImportAssetsOperator", "AngoImportLabelsOperator"]
