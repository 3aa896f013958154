"""Where the two tables go, from one destination URI (or prefix) with Hive-style partition folders.

A destination ends with zero or more ``key=value`` folders (``s3://lake/ango/dt=2024-05-01/``,
from a template such as ``s3://lake/ango/dt={{ ds }}/``). The part before them is the *root*;
each table lives in its own folder under it and the partition folders repeat inside::

    s3://lake/ango/tasks/dt=2024-05-01/part-00000.parquet        (layout="parquet")
    s3://lake/ango/annotations/dt=2024-05-01/part-00000.parquet
    s3://lake/ango/tasks/          (layout="delta": a Delta table partitioned by dt;
    s3://lake/ango/annotations/     dt=2024-05-01 is this run's value of that column)

so a reader pointed at ``<root>/tasks/`` sees one table with a ``dt`` column, never a mix of
both tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from airflow_provider_ango.exceptions import AngoExportConfigError
from airflow_provider_ango.exports.tables.schema import TABLE_NAMES, column_names
from airflow_provider_ango.hooks.bucket.base import BucketLocation

_PARTITION = re.compile(r"(?P<key>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>[^/=]+)")


@dataclass(frozen=True)
class TablePaths:
    """The root prefix, the partition (ordered ``key=value`` pairs) and each table's prefix."""

    root: str  # "" or ending with "/"
    partition: tuple[tuple[str, str], ...]

    @property
    def partition_values(self) -> dict[str, str]:
        return dict(self.partition)

    @property
    def partition_path(self) -> str:
        return "".join(f"{key}={value}/" for key, value in self.partition)

    def table_root(self, table: str) -> str:
        """``<root><table>/``: a Delta table, or the root of a Parquet table's partitions."""
        return f"{self.root}{table}/"

    def table_prefix(self, table: str) -> str:
        """``<root><table>/<key=value>/...``: where this run's Parquet files of ``table`` go."""
        return self.table_root(table) + self.partition_path


def table_paths(prefix: str, what: str = "destination") -> TablePaths:
    """Split a destination prefix into its root and its trailing ``key=value`` folders.

    Values are taken as written, except that a percent-encoded value (Hive's own escaping,
    ``dt=2024-05-01%2010%3A00``) is decoded for the Delta partition column.
    """
    segments = [segment for segment in prefix.split("/") if segment]
    partition: list[tuple[str, str]] = []
    while segments:
        match = _PARTITION.fullmatch(segments[-1])
        if match is None:
            break
        partition.insert(0, (match["key"], unquote(match["value"])))
        segments.pop()
    keys = [key for key, _ in partition]
    duplicated = sorted({key for key in keys if keys.count(key) > 1})
    if duplicated:
        raise AngoExportConfigError(f"{what} {prefix!r} names partition {duplicated[0]!r} twice")
    taken = set(column_names(TABLE_NAMES[0])) | set(column_names(TABLE_NAMES[1]))
    clashes = sorted(set(keys) & taken)
    if clashes:
        raise AngoExportConfigError(
            f"{what} {prefix!r} uses {clashes[0]!r} as a partition folder, but it is a column of the "
            f"lake tables; name the folder differently (dt=..., say)"
        )
    if segments and segments[-1] in TABLE_NAMES:
        raise AngoExportConfigError(
            f"{what} {prefix!r} ends in a table folder ({segments[-1]}/); give the folder above it: "
            f"both tables, {' and '.join(TABLE_NAMES)}, are created under the destination"
        )
    root = "".join(f"{segment}/" for segment in segments)
    return TablePaths(root=root, partition=tuple(partition))


def delta_rs_uri(location: BucketLocation, prefix: str) -> str:
    """The URI delta-rs reads for a table at ``prefix`` of the bucket in ``location``.

    Azure goes as ``az://<container>/<path>``: the account (and the endpoint of Azurite or of
    another blob endpoint) travels in the storage options, taken from the connection.
    """
    path = prefix.strip("/")
    if location.kind == "s3":
        return f"s3://{location.bucket}/{path}"
    if location.kind == "gcs":
        return f"gs://{location.bucket}/{path}"
    return f"az://{location.bucket}/{path}"


__all__ = ["TablePaths", "delta_rs_uri", "table_paths"]
