"""The build operator: the bucket files of a run's window become an import manifest.

:class:`AngoBuildImportOperator` lists the files of a run's window and writes an import manifest
(NDJSON shards of validated import items) to a staging URI; :class:`AngoImportAssetsOperator`
(:mod:`airflow_provider_ango.operators.imports`) imports it. XCom carries only small values: URIs,
counts, the window.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import Any

from airflow.sdk import Context

from airflow_provider_ango.exceptions import AngoConfigError
from airflow_provider_ango.hooks.ango import AngoHubHook
from airflow_provider_ango.hooks.bucket import DEFAULT_MAX_CONCURRENCY, BucketHook
from airflow_provider_ango.imports.builder import AttachmentRule, BuildOptions, ItemBuilder
from airflow_provider_ango.imports.manifest import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ROWS,
    check_on_invalid,
    manifest_base,
    write_manifest,
)
from airflow_provider_ango.imports.rules import (
    BatchRule,
    ContextRule,
    ExternalIdRule,
    ItemRules,
    check_asset_types,
    check_template,
)
from airflow_provider_ango.imports.scope import check_scope_prefix, default_scope_prefix, with_scope_batch
from airflow_provider_ango.imports.sources import split_object_uri
from airflow_provider_ango.imports.window import compute_window
from airflow_provider_ango.links import AngoProjectLink
from airflow_provider_ango.operators.base import AngoBaseOperator
from airflow_provider_ango.operators.checks import bucket_of, require_bucket, require_storage, run_identity


class AngoBuildImportOperator(AngoBaseOperator):
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

    ``max_concurrency`` header and sidecar reads are kept in flight (templated; default 16); the
    manifest is the same as one built a read at a time.

    Extra link (with ``project_id``): the project. Lineage: the source prefix in, the manifest's
    shards out.

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
        "max_concurrency",
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
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
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
        if project_id:
            self.operator_extra_links = (AngoProjectLink(),)
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
        self.max_concurrency = max_concurrency
        # Checked now, so that a typo fails at DAG parse time (Jinja ones after rendering).
        for template in [video_sidecar, external_id, *(batches if isinstance(batches, list) else [])]:
            if isinstance(template, str) and "{{" not in template and "{%" not in template:
                check_template(template, "external_id, batches or video_sidecar")

    @cached_property
    def source(self) -> BucketHook:
        return bucket_of(
            self.source_uri, self.source_conn_id, "source_uri", max_concurrency=self.max_concurrency
        )

    def execute(self, context: Context) -> dict[str, Any]:
        with self.hook_in_use():
            return self._build(context)

    def _build(self, context: Context) -> dict[str, Any]:
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
            require_storage(self.hook, self.storage_id)
        if self.project_id:
            self.persist_links(context, self.project_id)
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
        builder = ItemBuilder(
            rules,
            options,
            window,
            source.ango_url,
            source.read_bytes,
            self.log,
            max_concurrency=self.max_concurrency,
        )
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
        self.record_lineage([source.uri], [target.uri_for(key) for key in shard_keys])
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


__all__ = ["AngoBuildImportOperator"]
