"""Reading the Delta tables back as an Arrow dataset (what DuckDB, Polars and pyarrow scan).

delta-rs 1.6 rewrites files in MERGE, DELETE and OPTIMIZE through DataFusion, which tags
their string columns as Arrow ``string_view`` in the file's embedded Arrow schema (the Parquet
type stays a plain UTF-8 string, so Spark, Databricks, Trino/Athena and BigQuery never notice).
A pyarrow dataset declared with ``string`` columns then fails on a pushed-down filter over a
rewritten file (``Function 'equal' has no kernel matching input types (string,
string_view)``): DuckDB's ``WHERE tool = 'bounding-box'`` over
``DeltaTable.to_pyarrow_dataset()`` is such a filter. :func:`delta_dataset` declares every
string as ``string_view`` instead, which both kinds of file cast to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_ango.exports.tables.location import delta_rs_uri
from airflow_provider_ango.exports.tables.storage import StorageOptions, storage_options
from airflow_provider_ango.hooks.bucket import parse_bucket_uri

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.dataset as ds


def with_string_views(data_type: pa.DataType) -> pa.DataType:
    """``data_type`` with every string (in lists and structs too) as ``string_view``."""
    import pyarrow as pa

    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return pa.string_view()
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        item = data_type.value_field
        return pa.list_(pa.field(item.name, with_string_views(item.type), item.nullable))
    if pa.types.is_struct(data_type):
        return pa.struct([pa.field(f.name, with_string_views(f.type), f.nullable) for f in data_type])
    return data_type


def delta_dataset(
    table_uri: str, conn_id: str | None = None, *, options: StorageOptions | None = None
) -> ds.Dataset:
    """The Delta table at ``table_uri`` (``s3://``, ``gs://``, ``wasb://``) as a pyarrow dataset.

    Credentials come from ``conn_id`` (the store's default connection) as for writing. Register
    the result with DuckDB (``connection.register("tasks", dataset)``) or scan it with pyarrow.
    """
    import pyarrow as pa
    from deltalake import DeltaTable

    location = parse_bucket_uri(table_uri)
    options = options or storage_options(location, conn_id)
    table = DeltaTable(delta_rs_uri(location, location.prefix), storage_options=options.as_dict())
    declared = table.to_pyarrow_dataset().schema
    schema = pa.schema(
        [pa.field(f.name, with_string_views(f.type), f.nullable, f.metadata) for f in declared],
        metadata=declared.metadata,
    )
    return table.to_pyarrow_dataset(schema=schema)


__all__ = ["delta_dataset", "with_string_views"]
