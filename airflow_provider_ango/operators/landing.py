"""The land operator: a staged Ango Hub export zip becomes files (or lake tables) under a
partitioned destination, complete or not at all, with a manifest and an Asset event. The work
itself lives in :mod:`airflow_provider_ango.exports`; this class holds arguments and Airflow glue.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from airflow.sdk import Asset, Context

from airflow_provider_ango.arguments import flag
from airflow_provider_ango.exceptions import AngoExportConfigError, AngoExportFormatError
from airflow_provider_ango.exports.landing import Destination, check_overlap, land, spool_staged_zip
from airflow_provider_ango.exports.layouts import LAYOUTS, Compression
from airflow_provider_ango.exports.locations import bucket_root, object_in_bucket
from airflow_provider_ango.exports.table_landing import TABLE_LAYOUTS, check_table_mode, land_tables
from airflow_provider_ango.hooks.bucket import DEFAULT_MAX_CONCURRENCY, BucketHook
from airflow_provider_ango.operators.base import AngoBaseOperator
from airflow_provider_ango.operators.checks import require_bucket


class AngoLandExportOperator(AngoBaseOperator):
    """Land a staged export zip under a (partitioned) destination prefix, all or nothing.

    ``layout``: ``raw`` (the zip as ``export.zip``), ``ndjson`` (``part-00000.ndjson`` ...,
    each at most ``max_rows_per_part`` records and ``max_bytes_per_part`` bytes), ``json``
    (the same parts as JSON arrays) or ``split`` (one ``<externalId>-<hash>.json`` per asset,
    safe from path traversal and collisions), or the lake tables ``tasks`` and ``annotations``
    (:mod:`airflow_provider_ango.exports.tables`): ``parquet`` (Parquet files in each table's
    partition folder, landed like the other layouts) or ``delta`` (Delta Lake tables beside
    each other under the destination's root, one commit per table, ``mode="append"`` or
    ``mode="merge"`` keyed by task id; a retried or re-run interval commits nothing twice).
    Records are streamed (JSON arrays element by element), so
    memory stays flat however large the export. Files are written under a temporary prefix
    and published only when all are written; ``_manifest.json`` (records, bytes, SHA-256 per
    file, the export's options and window) and ``_SUCCESS`` come last, and files of an earlier
    landing of the same destination are removed: re-running replaces the partition. An empty
    export lands an empty manifest.

    An Asset event is emitted for ``asset`` (default: the destination up to its first
    templated part, e.g. ``s3://lake/ango/`` for ``s3://lake/ango/dt={{ ds }}/``), its extra
    carrying the landed partition's URI and counts; schedule downstream DAGs on it.

    Returns (XCom): ``{destination_uri, manifest_uri, layout, records, files, bytes}``; for
    ``parquet`` and ``delta``: ``{destination_uri, layout, mode, records, app_id, partition,
    tables: {tasks: {uri, rows, version, committed, ...}, annotations: {...}}}`` (the Asset
    event's extra carries the same, so the table URIs and the committed Delta versions).

    :param source: the trigger task's XCom (``trigger.output``) or a staged zip URI (templated).
    :param destination_uri: destination prefix, e.g.
        ``s3://lake/ango/project={{ params.project_id }}/dt={{ ds }}/`` (templated).
    :param mode: ``layout="delta"`` only (templated): ``"append"`` adds the run's rows, ``"merge"``
        keeps each task's latest state and replaces its annotation rows.
    :param compression: ``"gzip"`` for ``.ndjson.gz`` / ``.json.gz`` parts (those layouts only).
    :param asset: the Asset to emit, or None for the default above.
    :param emit_asset: False to emit no Asset event.
    :param asset_partition_key: partition key for the event (templated), e.g. ``"{{ ds }}"``. In
        Airflow 3.3 a partitioned event does not queue DAGs scheduled on the plain Asset; set it
        only when the consumers are partition-aware.
    :param scratch_dir: local folder for the spooled zip (it needs the zip's size on disk).
    :param max_concurrency: storage requests kept in flight for the per-file steps: split-layout
        writes, publishes, deletes of stale and temporary files (templated; default 16).
    :param delete_staged: delete the staged zip once the landing is complete (templated; default
        False, the zip stays in staging). A landing that fails keeps it, so a retry lands from it;
        once deleted, landing the run again needs the trigger task to run again too.

    Lineage: the staged zip in; the destination partition out (``parquet`` / ``delta``: each
    table's URI, the partition folder of a Parquet table, the root of a Delta table).
    """

    template_fields: Sequence[str] = (
        "source",
        "destination_uri",
        "layout",
        "mode",
        "asset_partition_key",
        "max_concurrency",
        "delete_staged",
    )
    ui_color = "#e2f0d9"
    #: What is in flight, for the log of :meth:`on_kill` (the landing holds no Ango Hub connection).
    landing_step: str | None = None

    def __init__(
        self,
        *,
        source: Any,
        destination_uri: str,
        layout: str = "ndjson",
        mode: str = "append",
        max_rows_per_part: int = 100_000,
        max_bytes_per_part: int = 128 * 1024 * 1024,
        compression: Compression = None,
        staging_conn_id: str | None = None,
        destination_conn_id: str | None = None,
        asset: Asset | None = None,
        emit_asset: bool = True,
        asset_partition_key: str | None = None,
        scratch_dir: str | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        delete_staged: bool = False,
        **kwargs: Any,
    ) -> None:
        if "{{" not in layout:  # a templated layout (a Param, say) is checked once rendered
            check_layout(layout, compression)
            if "{{" not in mode:
                check_table_mode(layout, mode)
        self.asset = (asset or default_asset(destination_uri)) if emit_asset else None
        if self.asset is not None:
            outlets = list(kwargs.pop("outlets", None) or [])
            kwargs["outlets"] = [*outlets, self.asset] if self.asset not in outlets else outlets
        super().__init__(**kwargs)
        self.source = source
        self.destination_uri = destination_uri
        self.layout = layout
        self.mode = mode
        self.max_rows_per_part = max_rows_per_part
        self.max_bytes_per_part = max_bytes_per_part
        self.compression = compression
        self.staging_conn_id = staging_conn_id
        self.destination_conn_id = destination_conn_id
        self.asset_partition_key = asset_partition_key
        self.scratch_dir = scratch_dir
        self.max_concurrency = max_concurrency
        self.delete_staged = delete_staged

    def on_kill(self) -> None:
        """Say what the kill cut short: nothing at the destination changes until a landing completes."""
        self.log.warning(
            "Killed while %s; the destination is untouched until a landing completes (files are "
            "published only when all are written, and a retry replaces the partition)%s",
            self.landing_step or "preparing the landing",
            "; the staged zip is kept" if self.delete_staged else "",
        )

    def execute(self, context: Context) -> dict[str, Any]:
        check_layout(self.layout, self.compression)
        check_table_mode(self.layout, self.mode)
        delete_staged = flag(self.delete_staged, "delete_staged")
        info = source_info(self.source)
        bucket, prefix = bucket_root(self.destination_uri, self.destination_conn_id, "destination_uri")
        destination = Destination(bucket, prefix if not prefix or prefix.endswith("/") else f"{prefix}/")
        staged = None
        if not info.get("empty"):
            staged = object_in_bucket(info["staging_uri"], self.staging_conn_id, "source")
        root = info.get("staging_root")
        staging_root = bucket_root(root, self.staging_conn_id, "source") if isinstance(root, str) else None
        # Before anything is read or written: the landing must not delete what it lands from.
        check_overlap(destination, staged, staging_root)
        require_bucket(bucket, "destination_uri", destination.prefix)
        header = {
            "source": {
                name: info.get(name) for name in ("staging_uri", "sha256", "bytes", "format", "project_id")
            }
            | {"options": info.get("options"), "window": info.get("window")},
            "dag_id": self.dag_id,
            "run_id": context.get("run_id"),
            "task_id": self.task_id,
            "landed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        with tempfile.TemporaryDirectory(prefix="ango-land-", dir=self.scratch_dir) as scratch:
            zip_path = None
            if staged is None:
                self.log.info(
                    "The trigger task requested no export (empty interval): landing an empty manifest"
                )
            else:
                zip_path = Path(scratch) / "export.zip"
                self.landing_step = f"reading the staged zip {info['staging_uri']}"
                spool_staged_zip(*staged, zip_path, sha256=info.get("sha256"), size=info.get("bytes"))
            self.landing_step = f"landing at {destination.uri}"
            try:
                # pyarrow and deltalake load here, not when the DAG is parsed
                if self.layout in TABLE_LAYOUTS:
                    xcom = land_tables(
                        zip_path,
                        destination,
                        layout=self.layout,
                        mode=self.mode,
                        conn_id=self.destination_conn_id,
                        header=header,
                        dag_id=self.dag_id,
                        task_id=self.task_id,
                        data_interval=(context.get("data_interval_start"), context.get("data_interval_end")),
                        scratch_dir=scratch,
                    )
                else:
                    xcom = land(
                        destination,
                        zip_path,
                        layout=self.layout,
                        header=header,
                        max_rows=self.max_rows_per_part,
                        max_bytes=self.max_bytes_per_part,
                        compression=self.compression,
                        scratch_dir=scratch,
                        max_concurrency=self.max_concurrency,
                    ).to_xcom()
            except AngoExportFormatError as error:
                raise AngoExportFormatError(
                    f"staged export {info['staging_uri']}: {error}. Nothing was landed at {destination.uri}; "
                    "clear the trigger task to request and stage the export again"
                ) from error
        self.landing_step = None
        tables = xcom.get("tables")
        landed = [table["uri"] for table in tables.values()] if tables else [destination.uri]
        self.record_lineage([info["staging_uri"]] if staged is not None else [], landed)
        if delete_staged and staged is not None:
            self._delete_staged(*staged)
        self._emit_asset_event(context, {**xcom, "window": info.get("window"), "sha256": info.get("sha256")})
        return xcom

    def _delete_staged(self, hook: BucketHook, key: str) -> None:
        """The landing is complete: the staged zip has served (``delete_staged=True``)."""
        hook.delete(key)
        self.log.info(
            "Deleted the staged zip %s (delete_staged=True); to land this run again, clear the trigger "
            "task too",
            hook.uri_for(key),
        )

    def _emit_asset_event(self, context: Context, extra: dict[str, Any]) -> None:
        if self.asset is None:
            return
        events = context.get("outlet_events")
        if events is None:  # called outside a task run (a bare execute() in a script)
            self.log.info("No outlet_events in the context; no Asset event recorded for %s", self.asset.uri)
            return
        accessor = events[self.asset]
        accessor.extra.update(extra)
        if self.asset_partition_key:
            accessor.add_partitions(self.asset_partition_key)
        self.log.info("Asset event for %s: %s", self.asset.uri, extra["destination_uri"])


def check_layout(layout: str, compression: Compression) -> None:
    if layout not in (*LAYOUTS, *TABLE_LAYOUTS):
        raise AngoExportConfigError(
            f"layout {layout!r} is unknown; use one of {', '.join((*LAYOUTS, *TABLE_LAYOUTS))}"
        )
    if compression not in (None, "gzip"):
        raise AngoExportConfigError(f"compression {compression!r} is unknown; use None or 'gzip'")
    if compression and layout not in ("ndjson", "json"):
        raise AngoExportConfigError(
            f"compression applies to the ndjson and json layouts, not {layout!r}; drop it, or use one of "
            "those"
        )


def default_asset(destination_uri: str) -> Asset:
    """The destination up to its first templated folder: stable across runs, unlike the partition.

    Airflow resolves an ``s3://`` or ``gs://`` Asset through the cloud provider's handler, which
    imports that SDK while the DAG file is parsed; pass ``asset=Asset(name=...)`` to avoid it.
    """
    static = destination_uri.split("{{", 1)[0].split("{%", 1)[0]
    if static != destination_uri:
        static = static.rsplit("/", 1)[0] + "/"
    if "://" not in static or not static.split("://", 1)[1].strip("/"):
        raise AngoExportConfigError(
            f"cannot derive an Asset from destination_uri {destination_uri!r}; pass asset=Asset('s3://...')"
        )
    # No trailing slash: Airflow keeps the name as given, and Asset("s3://lake/ango") downstream
    # must name the same asset.
    return Asset(uri=static.rstrip("/"))


def source_info(source: Any) -> dict[str, Any]:
    """The staged export as a dict from the trigger task's XCom or a bare URI."""
    if isinstance(source, Mapping) and (isinstance(source.get("staging_uri"), str) or source.get("empty")):
        return dict(source)
    if isinstance(source, str) and "://" in source:
        return {"staging_uri": source}
    raise AngoExportConfigError(
        f"source must be the trigger task's XCom (a dict with 'staging_uri') or a staged zip URI, "
        f"got {type(source).__name__}; pass source=trigger_task.output"
    )


__all__ = ["AngoLandExportOperator", "check_layout", "default_asset", "source_info"]
