"""Export operators: stage an Ango Hub export zip, then land it in a data lake.

``AngoTriggerExportOperator`` (here) asks Ango for an export (waiting in the triggerer when
deferrable) and streams the zip into ``<staging_uri>/<dag_id>/<run_id>/export.zip``.
``AngoLandExportOperator`` (:mod:`~airflow_provider_ango.operators.landing`, importable from here
too) turns the staged zip into files under a partitioned destination, complete or not at all, with
a manifest and an Asset event. The work itself lives in :mod:`airflow_provider_ango.exports`; these
classes hold arguments and Airflow glue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Literal

from airflow.sdk import Context, conf

from airflow_provider_ango.arguments import names_list
from airflow_provider_ango.exceptions import AngoExportConfigError, AngoExportError
from airflow_provider_ango.exports.locations import bucket_root
from airflow_provider_ango.exports.safe_keys import safe_path_segment
from airflow_provider_ango.exports.sealing import unseal_url
from airflow_provider_ango.exports.staging import STAGED_NAME, stage_export, staged_summary
from airflow_provider_ango.exports.window import (
    WindowArg,
    coerce_window,
    incremental_window,
    is_empty,
    require_not_empty,
    window_summary,
)
from airflow_provider_ango.hooks.ango import AngoHubHook, endpoints
from airflow_provider_ango.hooks.bucket import BucketHook
from airflow_provider_ango.lineage import ango_uri
from airflow_provider_ango.links import AngoBatchLink, AngoProjectLink
from airflow_provider_ango.models.export import ExportOptions, SignedUrl
from airflow_provider_ango.operators.base import AngoBaseOperator
from airflow_provider_ango.operators.checks import require_bucket
from airflow_provider_ango.operators.landing import AngoLandExportOperator, default_asset, source_info
from airflow_provider_ango.triggers.exports import AngoExportTrigger

_DEFAULT_DEFERRABLE = conf.getboolean("operators", "default_deferrable", fallback=False)


class AngoTriggerExportOperator(AngoBaseOperator):
    """Request an Ango Hub export and stage its zip in a bucket.

    Every option of ``GET /v2/export`` is an argument. With ``incremental=True`` the export
    holds the tasks updated in the run's data interval, asked as
    ``updatedAt {"$gte": data_interval_start, "$lt": data_interval_end}`` in UTC: back-to-back
    runs then export every change exactly once, a task updated exactly on a boundary included
    (the SDK's ``$gt``/``$lt`` would lose it; see :mod:`airflow_provider_ango.exports.window`).

    Deferrable (default ``[operators] default_deferrable``): the export request, which Ango
    answers only when the zip is built, waits in the triggerer. The zip is then streamed (never
    held in memory) to ``<staging_uri>/<dag_id>/<run_id>/export.zip``, hashed, its size and
    central directory checked before it is published. An expired link (403) makes a new
    request, at most ``max_url_refreshes`` times. The signed URL never reaches XCom or logs.

    Before anything is requested (and before deferring): ``staging_uri`` must parse and its bucket
    exist, and explicit windows must hold some time. An incremental run whose data interval is empty
    (``data_interval_start == data_interval_end``, as with ``CronTriggerTimetable``) requests no export:
    its XCom has ``staging_uri`` None and ``empty`` True, and the land task lands an empty manifest.

    Returns (XCom): ``{staging_uri, staging_root, sha256, bytes, format, members, project_id,
    options, window}`` - ``options`` being the export's query parameters as sent.

    :param project_id: Ango project id (templated).
    :param staging_uri: bucket prefix for staged zips, e.g. ``s3://staging/ango`` (templated).
    :param export_format: ``json`` (one JSON array) or ``ndjson``.
    :param export_type: ``task`` or ``issue``.
    :param stages: stage names to export (templated; default ``["Complete"]``).
    :param batches: batch names or ids (templated); names are resolved to ids.
    :param task_types: ``default`` / ``consensus`` / ``benchmark`` (templated).
    :param include_metadata, include_history, include_only_key_frames,
        include_idle_blur_durations, send_email, do_not_notify: Ango's export switches.
    :param updated_at, created_at: windows as ``{"gte": ..., "lt": ...}`` of datetimes or ISO
        text (templated, e.g. ``"{{ data_interval_start }}"``); times must carry a zone.
    :param incremental: take ``updated_at`` from the run's data interval (see above).
    :param export_timeout: seconds one export request may take.

    Extra links: the project, and the batch when the export asks for exactly one. Lineage: the
    project in, the staged zip out (nothing out for an empty interval). ``on_kill`` shuts the Ango
    Hub hook: the export request being waited for and the zip's download are cut short.
    """

    template_fields: Sequence[str] = (
        "project_id",
        "staging_uri",
        "stages",
        "batches",
        "task_types",
        "updated_at",
        "created_at",
    )
    ui_color = "#fde9d9"
    operator_extra_links = (AngoProjectLink(), AngoBatchLink())

    def __init__(
        self,
        *,
        project_id: str,
        staging_uri: str,
        export_format: Literal["json", "ndjson"] = "json",
        export_type: Literal["task", "issue"] = "task",
        stages: Sequence[str] = ("Complete",),
        batches: Sequence[str] | None = None,
        task_types: Sequence[str] | None = None,
        include_metadata: bool = True,
        include_history: bool = True,
        include_only_key_frames: bool = False,
        include_idle_blur_durations: bool = False,
        send_email: bool = False,
        do_not_notify: bool = True,
        updated_at: WindowArg = None,
        created_at: WindowArg = None,
        incremental: bool = False,
        ango_conn_id: str = "ango_default",
        staging_conn_id: str | None = None,
        export_timeout: float = 3600.0,
        max_url_refreshes: int = 2,
        deferrable: bool = _DEFAULT_DEFERRABLE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if incremental and updated_at is not None:
            raise AngoExportConfigError(
                "incremental=True takes updated_at from the data interval; do not pass both (drop "
                "updated_at, or set incremental=False)"
            )
        self.project_id = project_id
        self.staging_uri = staging_uri
        self.export_format = export_format
        self.export_type = export_type
        self.stages = stages
        self.batches = batches
        self.task_types = task_types
        self.include_metadata = include_metadata
        self.include_history = include_history
        self.include_only_key_frames = include_only_key_frames
        self.include_idle_blur_durations = include_idle_blur_durations
        self.send_email = send_email
        self.do_not_notify = do_not_notify
        self.updated_at = updated_at
        self.created_at = created_at
        self.incremental = incremental
        self.ango_conn_id = ango_conn_id
        self.staging_conn_id = staging_conn_id
        self.export_timeout = export_timeout
        self.max_url_refreshes = max_url_refreshes
        self.deferrable = deferrable

    def new_hook(self) -> AngoHubHook:
        return AngoHubHook(ango_conn_id=self.ango_conn_id, timeout=self.export_timeout)

    def kill_note(self) -> str:
        return "Nothing is staged until the whole zip is checked; a retry requests the export again."

    def build_options(self, context: Context) -> ExportOptions:
        """The export options of this run (windows resolved, batch names turned into ids)."""
        updated = (
            incremental_window(context) if self.incremental else coerce_window(self.updated_at, "updated_at")
        )
        batches = names_list(self.batches, "batches")
        if batches is not None:
            batches = list(self.hook.resolve_batches(self.project_id, batches).values())
        try:
            return ExportOptions(
                format=self.export_format,
                export_type=self.export_type,
                stages=names_list(self.stages, "stages") or [],
                batches=batches,
                task_types=names_list(self.task_types, "task_types"),  # type: ignore[arg-type]
                include_metadata=self.include_metadata,
                include_history=self.include_history,
                include_only_key_frames=self.include_only_key_frames,
                include_idle_blur_durations=self.include_idle_blur_durations,
                send_email=self.send_email,
                do_not_notify=self.do_not_notify,
                updated_at=updated,
                created_at=coerce_window(self.created_at, "created_at"),
            )
        except ValueError as error:
            raise AngoExportConfigError(f"export options of project {self.project_id}: {error}") from error

    def staging(self) -> tuple[BucketHook, str]:
        """The staging bucket (at its root) and the key prefix of ``staging_uri``."""
        return bucket_root(self.staging_uri, self.staging_conn_id, "staging_uri")

    def execute(self, context: Context) -> dict[str, Any]:
        with self.hook_in_use():
            return self._request(context)

    def _request(self, context: Context) -> dict[str, Any]:
        options = self.build_options(context)
        self._persist_links(context, options)
        bucket, prefix = self.staging()
        require_bucket(bucket, "staging_uri", prefix)
        window = window_summary(options.updated_at, options.created_at)
        if self.incremental and is_empty(options.updated_at):
            return self._empty_interval(options, bucket, prefix, window)
        require_not_empty(options.updated_at, "updated_at")
        require_not_empty(options.created_at, "created_at")
        self.log.info("Export of project %s, window %s", self.project_id, window or "none")
        if self.deferrable:
            self.defer(
                trigger=AngoExportTrigger(
                    project_id=self.project_id,
                    options=options.model_dump(mode="json"),
                    ango_conn_id=self.ango_conn_id,
                    request_timeout=self.export_timeout,
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.export_timeout * 4 + 300),
            )
        return self._stage(context, options, first_url=None)

    def execute_complete(self, context: Context, event: Mapping[str, Any] | None = None) -> dict[str, Any]:
        if not isinstance(event, Mapping):
            raise AngoExportError(
                None,
                "GET",
                "/v2/export",
                f"export request of project {self.project_id} ended without an event from the trigger "
                f"(got {event!r}); clear the task to request the export again",
            )
        if event.get("status") != "success":
            raise AngoExportError(
                event.get("http_status"),
                "GET",
                "/v2/export",
                f"export request of project {self.project_id} failed in the triggerer: "
                f"{event.get('error', 'error')}: {event.get('message', 'no message')}",
            )
        options = ExportOptions.model_validate(event["options"])
        url = unseal_url(event["sealed_url"]) if event.get("sealed_url") else None
        if url is None:
            self.log.info("The export link was not passed on sealed (no Fernet key?); requesting it again")
        with self.hook_in_use():
            self._persist_links(context, options)
            return self._stage(context, options, first_url=url)

    def _persist_links(self, context: Context, options: ExportOptions) -> None:
        batches = options.batches or []
        self.persist_links(context, self.project_id, batches[0] if len(batches) == 1 else None)

    def _empty_interval(
        self, options: ExportOptions, bucket: BucketHook, prefix: str, window: dict[str, Any] | None
    ) -> dict[str, Any]:
        self.log.warning(
            "The run's data interval is empty (%s): no export of project %s is requested, and the land "
            "task lands an empty manifest. If every run's interval is empty, the DAG's timetable has no "
            "data intervals: Airflow 3 runs cron strings with CronTriggerTimetable; use "
            "CronDataIntervalTimetable (or DeltaDataIntervalTimetable) for incremental exports",
            options.updated_at,
            self.project_id,
        )
        self.record_lineage([ango_uri(self.hook.base_url, self.project_id)], [])
        return {
            "staging_uri": None,
            "staging_root": bucket.uri_for(prefix) if prefix else bucket.uri,
            "empty": True,
            "sha256": None,
            "bytes": 0,
            "format": options.format,
            "members": [],
            "project_id": self.project_id,
            "options": endpoints.export_query(self.project_id, options),
            "window": window,
        }

    def _stage(self, context: Context, options: ExportOptions, first_url: SignedUrl | None) -> dict[str, Any]:
        bucket, prefix = self.staging()
        run_folder = f"{safe_path_segment(self.dag_id)}/{safe_path_segment(str(context['run_id']))}"
        key = f"{prefix}{run_folder}/{STAGED_NAME}"
        staged = stage_export(
            self.hook,
            bucket,
            key,
            lambda: self.hook.request_export(self.project_id, options),
            first_url=first_url,
            max_url_refreshes=self.max_url_refreshes,
        )
        params = endpoints.export_query(self.project_id, options)
        self.record_lineage([ango_uri(self.hook.base_url, self.project_id)], [bucket.uri_for(key)])
        return staged_summary(
            staged,
            {
                "staging_root": bucket.uri_for(prefix) if prefix else bucket.uri,
                "format": options.format,
                "members": staged.members,
                "project_id": self.project_id,
                "options": params,
                "window": window_summary(options.updated_at, options.created_at),
            },
        )


__all__ = ["AngoLandExportOperator", "AngoTriggerExportOperator", "default_asset", "source_info"]
