"""``layout="parquet"`` and ``layout="delta"`` for a staged export: the landing operator's side of
:mod:`airflow_provider_ango.exports.tables`.

Importing this module imports neither pyarrow nor deltalake (nor :mod:`.tables` itself): the
operator module imports it while DAG files are parsed, and the tables load when a task lands.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow_provider_ango.exceptions import AngoExportConfigError
from airflow_provider_ango.exports.landing import Destination

TABLE_LAYOUTS: tuple[str, ...] = ("parquet", "delta")
# What identifies a run in the Delta commit's metadata (the rest of the landing header is nested).
_COMMIT_KEYS = ("dag_id", "task_id", "run_id", "landed_at")


def check_table_mode(layout: str, mode: str) -> None:
    """``mode`` fits ``layout``: ``append`` or ``merge`` for ``delta``, ``append`` for the others."""
    from airflow_provider_ango.exports.tables import MODES

    if mode not in MODES:
        raise AngoExportConfigError(
            f"mode {mode!r} is unknown; use {' or '.join(map(repr, MODES))} (layout='delta')"
        )
    if mode != "append" and layout != "delta":
        raise AngoExportConfigError(
            f"mode={mode!r} applies to layout='delta' (a table keyed by task id), not {layout!r}; "
            "use layout='delta' or leave mode as 'append'"
        )


def land_tables(
    zip_path: Path | None,
    destination: Destination,
    *,
    layout: str,
    mode: str,
    conn_id: str | None,
    header: Mapping[str, Any],
    dag_id: str,
    task_id: str,
    data_interval: tuple[datetime | None, datetime | None],
    scratch_dir: str | None = None,
) -> dict[str, Any]:
    """Land the export at ``zip_path`` as the ``tasks`` and ``annotations`` tables under ``destination``
    (``None``: the trigger task requested no export, an empty interval; the tables get no rows).

    Returns the XCom: :meth:`TablesResult.to_xcom` (each table's URI, rows and, for Delta, the
    committed version) with ``destination_uri``. The Delta commit carries an application
    transaction of the run's interval (or of its run id, when the run has no interval).
    """
    from airflow_provider_ango.exports.records import iter_zip_records
    from airflow_provider_ango.exports.tables import AppTransaction, commit_delta_tables, write_parquet_tables

    check_table_mode(layout, mode)
    records = iter_zip_records(zip_path) if zip_path is not None else iter(())
    if layout == "parquet":
        result = write_parquet_tables(records, destination, header=dict(header), scratch_dir=scratch_dir)
    elif layout == "delta":
        start, end = data_interval
        run_id = str(header["run_id"]) if header.get("run_id") else None
        transaction = AppTransaction.for_interval(dag_id, task_id, start, end, run_id)
        metadata = {key: str(header[key]) for key in _COMMIT_KEYS if header.get(key) is not None}
        source = header.get("source") or {}
        if source.get("project_id"):
            metadata["project_id"] = str(source["project_id"])
        result = commit_delta_tables(
            records,
            destination.uri,
            conn_id=conn_id,
            mode=mode,  # type: ignore[arg-type]  # checked above
            transaction=transaction,
            commit_metadata=metadata,
        )
    else:
        raise AngoExportConfigError(
            f"layout {layout!r} is not a table layout; use one of {', '.join(TABLE_LAYOUTS)}"
        )
    return {"destination_uri": destination.uri, **result.to_xcom()}


__all__ = ["TABLE_LAYOUTS", "check_table_mode", "land_tables"]
