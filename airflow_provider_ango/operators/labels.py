"""The pre-label operator: pre-labels in bucket files, all checked, then imported into Ango Hub."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import Context

from airflow_provider_ango.exceptions import AngoConfigError
from airflow_provider_ango.hooks.ango import AngoHubHook
from airflow_provider_ango.hooks.bucket import DEFAULT_MAX_CONCURRENCY
from airflow_provider_ango.imports.labels import LabelImporter, read_label_files
from airflow_provider_ango.imports.presence import DEFAULT_PAGE_SIZE
from airflow_provider_ango.imports.sources import BucketFiles, split_object_uri
from airflow_provider_ango.lineage import ango_uri
from airflow_provider_ango.links import AngoProjectLink
from airflow_provider_ango.operators.base import AngoBaseOperator


class AngoImportLabelsOperator(AngoBaseOperator):
    """Import pre-labels (Ango Import Format, keyed by externalId) from bucket files.

    ``source`` is a file URI, a folder URI ending in ``/`` (its ``.json``/``.ndjson``/``.jsonl``
    files), or a list of them. A file is a JSON array (streamed) or NDJSON. Everything is checked
    before the first POST: every annotation's ``schemaId`` against the project's category
    schema, every externalId against the project's assets, no externalId twice. Any problem
    fails the task with one error listing the first offenders, and nothing is imported.
    Files are fetched ``max_concurrency`` at a time (templated; default 16), read in order.

    Extra link: the project. Lineage: the label files (a folder as its prefix) in, the project out.
    ``on_kill`` shuts the Ango Hub hook.

    :return: ``{"items", "annotations", "submitted", "chunks"}``
    """

    template_fields: Sequence[str] = ("project_id", "source", "max_concurrency")
    ui_color = "#e4fff0"
    suffixes = (".json", ".ndjson", ".jsonl")
    operator_extra_links = (AngoProjectLink(),)

    def __init__(
        self,
        *,
        project_id: str,
        source: str | Sequence[str],
        source_conn_id: str | None = None,
        ango_conn_id: str = AngoHubHook.default_conn_name,
        chunk_size: int = 500,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.project_id = project_id
        self.source = source
        self.source_conn_id = source_conn_id
        self.ango_conn_id = ango_conn_id
        self.chunk_size = chunk_size
        self.page_size = page_size
        self.max_concurrency = max_concurrency

    def execute(self, context: Context) -> dict[str, int]:
        with self.hook_in_use():
            return self._import(context)

    def kill_note(self) -> str:
        return "Chunks posted before the kill stay; a retry posts them again, which leaves the same labels."

    def _import(self, context: Context) -> dict[str, int]:
        files = BucketFiles(self.source_conn_id)
        raw = [self.source] if isinstance(self.source, str) else list(self.source)
        for uri in raw:
            if not uri.endswith("/"):
                try:
                    split_object_uri(uri)
                except ValueError as error:
                    raise AngoConfigError(f"source: {error} (or a folder URI ending with '/')") from None
        uris = files.expand(raw, self.suffixes)
        files.require(uris, "label file", max_concurrency=self.max_concurrency)

        def records() -> Any:
            return read_label_files(files, uris, max_concurrency=self.max_concurrency)

        self.persist_links(context, self.project_id)
        importer = LabelImporter(
            self.hook, self.project_id, self.log, chunk_size=self.chunk_size, page_size=self.page_size
        )
        self.log.info("Checking pre-labels from %d file(s) for project %s", len(uris), self.project_id)
        importer.validate(records)
        counts = importer.send(records).to_xcom()
        self.record_lineage(raw, [ango_uri(self.hook.base_url, self.project_id)])
        self.log.info("Pre-labels imported: %s", counts)
        return counts


__all__ = ["AngoImportLabelsOperator"]
