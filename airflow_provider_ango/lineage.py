"""OpenLineage datasets of what the operators read and write.

An operator records its inputs and outputs as plain URIs while it runs (:class:`ReportsLineage`);
OpenLineage's listener calls ``get_openlineage_facets_on_complete`` after the task, which turns
them into datasets without a network call. OpenLineage itself is imported inside the functions
only: importing the provider or parsing a DAG never imports it, and without the openlineage
provider installed nothing here runs.

Namespaces follow OpenLineage's naming, as Airflow's own providers use them: ``s3://<bucket>``,
``gs://<bucket>``, ``wasbs://<container>@<account>.blob.core.windows.net`` (the name being the key
or prefix, ``/`` for a bucket's root), and the Ango Hub project as namespace ``ango://<host>`` and
name ``<project id>`` (recorded as the URI ``ango://<host>/<project id>``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_ango.hooks.bucket.address import parse_bucket_uri

ANGO_SCHEME = "ango://"


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


def ango_host(base_url: str) -> str:
    """``host[:port]`` of an Ango Hub base URL, never its userinfo."""
    return urlsplit(base_url).netloc.rpartition("@")[2]


def ango_dataset(base_url: str, project_id: str) -> Any:
    """The Ango Hub project as a dataset: namespace ``ango://<host>``, name the project id."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    return Dataset(namespace=f"{ANGO_SCHEME}{ango_host(base_url)}", name=project_id)


def ango_uri(base_url: str, project_id: str) -> str:
    """The URI an operator records for an Ango Hub project: ``ango://<host>/<project id>``."""
    return f"{ANGO_SCHEME}{ango_host(base_url)}/{project_id}"


def dataset_of(uri: str) -> Any:
    """The dataset of a recorded URI: an Ango project (``ango://``) or a bucket object or prefix."""
    if uri.startswith(ANGO_SCHEME):
        host, _, project_id = uri[len(ANGO_SCHEME) :].partition("/")
        return ango_dataset(f"https://{host}", project_id)
    return bucket_dataset(uri)


def operator_lineage(inputs: Iterable[Any], outputs: Iterable[Any]) -> Any:
    """The ``OperatorLineage`` of a finished task."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage(inputs=list(inputs), outputs=list(outputs))


class ReportsLineage:
    """Mixin of the provider's operators: the lineage of the last ``execute``, as URIs.

    ``execute`` calls :meth:`record_lineage`; nothing is recorded before (the facets are then
    empty), and the facets method reads only these two tuples.
    """

    lineage_inputs: tuple[str, ...] = ()
    lineage_outputs: tuple[str, ...] = ()

    def record_lineage(self, inputs: Iterable[str], outputs: Iterable[str]) -> None:
        self.lineage_inputs = tuple(dict.fromkeys(inputs))  # each once, in order
        self.lineage_outputs = tuple(dict.fromkeys(outputs))

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Inputs and outputs of the finished task, for Airflow's OpenLineage listener."""
        return operator_lineage(
            [dataset_of(uri) for uri in self.lineage_inputs],
            [dataset_of(uri) for uri in self.lineage_outputs],
        )


__all__ = [
    "ReportsLineage",
    "ango_dataset",
    "ango_uri",
    "bucket_dataset",
    "dataset_of",
    "object_dataset",
    "operator_lineage",
]
