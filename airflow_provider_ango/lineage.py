"""OpenLineage datasets of what the operators read and write. Imported only by the OpenLineage
integration (``get_openlineage_facets_on_complete``): nothing here is imported when the provider is.

Namespaces follow OpenLineage's naming, as Airflow's own providers use them: ``s3://<bucket>``,
``gs://<bucket>``, ``wasbs://<container>@<account>.blob.core.windows.net`` (the name being the key
or prefix, ``/`` for a bucket's root), and the Ango Hub project as namespace ``ango://<host>`` and
name ``<project id>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_ango.hooks.bucket.address import parse_bucket_uri


def bucket_dataset(uri: str) -> Any:
    """The OpenLineage ``Dataset`` of a bucket object or prefix URI (``s3://b/k``, ``gs://``, ``wasb://``)."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    location = parse_bucket_uri(uri)
    name = location.prefix.rstrip("/") or "/"
    if location.kind == "s3":
        namespace = f"s3://{location.bucket}"
    elif location.kind == "gcs":
        namespace = f"gs://{location.bucket}"
    else:
        account = location.account or "unknown"
        namespace = f"wasbs://{location.bucket}@{account}.blob.core.windows.net"
    return Dataset(namespace=namespace, name=name)


def object_dataset(uri: str) -> Any:
    """:func:`bucket_dataset` of an object URI, the key kept whole (no trailing ``/``)."""
    return bucket_dataset(uri.rstrip("/"))


def ango_dataset(base_url: str, project_id: str) -> Any:
    """The Ango Hub project as a dataset: namespace ``ango://<host>``, name the project id."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    host = urlsplit(base_url).netloc.rpartition("@")[2]  # never userinfo
    return Dataset(namespace=f"ango://{host}", name=project_id)


def operator_lineage(inputs: Iterable[Any], outputs: Iterable[Any]) -> Any:
    """The ``OperatorLineage`` of a finished task."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage(inputs=list(inputs), outputs=list(outputs))


__all__ = ["ango_dataset", "bucket_dataset", "object_dataset", "operator_lineage"]
