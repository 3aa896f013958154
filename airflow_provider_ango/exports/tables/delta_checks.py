"""Before anything is written: is each target a Delta table, an empty place or neither; can it take the rows?

Checked once before the records are read (so a bad destination fails in seconds, not after
the export was read and written) and again on every commit attempt (the table may have changed):

- a location with files but no ``_delta_log/`` is not a table: refused, naming the URI;
- an existing table must have the key columns, the same partition columns, and the same
  type for every column both sides have; columns it lacks are added (schema evolution,
  always nullable); columns only it has must be nullable (they get nulls).

delta-rs errors are translated here too: the text is scrubbed of credentials, URL queries
and signatures, and the original exception is not chained (its text could hold them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_ango.exceptions import AngoExportConfigError, AngoLandingError
from airflow_provider_ango.exports.tables.schema import KEYS
from airflow_provider_ango.exports.tables.storage import StorageOptions
from airflow_provider_ango.redaction import truncate

if TYPE_CHECKING:
    import pyarrow as pa
    from deltalake import DeltaTable

    from airflow_provider_ango.hooks.bucket import BucketHook


_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # delta-rs colours its error chains


def _plain(text: str) -> str:
    return _ANSI.sub("", text)


class CommitConflictError(Exception):
    """A concurrent writer won the version this commit wanted; the caller retries."""


def _hint(message: str) -> str:
    if "501" in message or "Not Implemented" in message:
        return (
            " (the storage endpoint does not implement a request delta-rs needs; gcp-storage-emulator, "
            "for one, serves only GCS's JSON API and answers delta-rs's XML-API reads and listings 501 - "
            "see the README's lake-table section)"
        )
    if "403" in message or "401" in message or "Forbidden" in message:
        return " (access denied: give the connection's identity read and write access to the location)"
    return ""


@contextmanager
def delta_calls(action: str, uri: str, options: StorageOptions) -> Iterator[None]:
    """Run delta-rs calls; their errors come out as ours, naming ``uri``, with no secret in them."""
    from deltalake.exceptions import CommitFailedError, DeltaError, SchemaMismatchError

    try:
        yield
    except CommitFailedError as error:
        raise CommitConflictError(_plain(options.scrub(str(error)))) from None
    except SchemaMismatchError as error:
        detail = truncate(_plain(options.scrub(str(error))))
        raise AngoExportConfigError(
            f"Delta table {uri} cannot take this run's rows ({detail}); land into a new table, or "
            "evolve the table's schema to the one documented for the lake tables"
        ) from None
    except (DeltaError, OSError, ValueError, RuntimeError) as error:
        detail = truncate(_plain(options.scrub(f"{type(error).__name__}: {error}")))
        raise AngoLandingError(f"Could not {action} Delta table {uri}: {detail}{_hint(detail)}") from None


@dataclass(frozen=True)
class TableState:
    """A target as found: not there yet (``table`` None), or a Delta table at ``version``."""

    name: str
    uri: str  # canonical (s3://, gs://, wasb://)
    delta_uri: str  # what delta-rs is given
    table: DeltaTable | None
    bucket: BucketHook  # at the bucket's root
    prefix: str  # the table's whole key prefix, ending with "/"

    @property
    def version(self) -> int | None:
        return None if self.table is None else int(self.table.version())

    def version_holding(self, app_id: str, newest: int, searched: int = 100) -> int | None:
        """The version whose commit carries the ``txn`` of ``app_id``, searching back from ``newest``.

        Read from the log files with the provider's own bucket hook: delta-rs's ``history()``
        keeps the GIL while it lists the log (see :func:`load_table`).
        """
        from airflow_provider_ango.hooks.bucket import BucketObjectNotFoundError

        for version in range(newest, max(-1, newest - searched), -1):
            try:
                commit = self.bucket.read_bytes(f"{self.prefix}_delta_log/{version:020d}.json")
            except BucketObjectNotFoundError:
                return None  # older commits were cleaned up (a checkpoint holds their state)
            for line in commit.splitlines():
                action = json.loads(line) if line.strip() else {}
                if action.get("txn", {}).get("appId") == app_id:
                    return version
        return None


def _normalized(value: Any) -> Any:
    """A Delta type's JSON without metadata and nested nullability (types are what must agree)."""
    if isinstance(value, dict):
        return {
            key: _normalized(item)
            for key, item in value.items()
            if key not in ("metadata", "nullable", "containsNull", "valueContainsNull")
        }
    if isinstance(value, list):
        return [_normalized(item) for item in value]
    return value


def _delta_fields(schema: Any) -> dict[str, dict[str, Any]]:
    return {field["name"]: field for field in json.loads(schema.to_json())["fields"]}


def check_compatible(
    state: TableState, table: DeltaTable, ours: pa.Schema, partition: tuple[str, ...]
) -> bool:
    """Whether the table lacks columns of the lake tables (to be added); or a clear error."""
    from deltalake import Schema as DeltaSchema

    theirs = _delta_fields(table.schema())
    mine = _delta_fields(DeltaSchema.from_arrow(ours))
    fix = "land into a new location, or move the table away"
    missing_keys = [name for name in KEYS[state.name] if name not in theirs]
    if missing_keys:
        raise AngoExportConfigError(
            f"Delta table {state.uri} has no {', '.join(missing_keys)} column: it is not an Ango "
            f"{state.name} table; {fix}"
        )
    table_partition = tuple(table.metadata().partition_columns)
    if table_partition != partition:
        raise AngoExportConfigError(
            f"Delta table {state.uri} is partitioned by {list(table_partition)}, this run by "
            f"{list(partition)} (from the destination's key=value folders); make the destination's "
            f"partition folders match the table, or {fix}"
        )
    for name, field in mine.items():
        if name in theirs and _normalized(theirs[name]["type"]) != _normalized(field["type"]):
            raise AngoExportConfigError(
                f"Delta table {state.uri} has column {name!r} of type {json.dumps(theirs[name]['type'])}, "
                f"the lake tables write {json.dumps(field['type'])}: the table cannot take these rows; "
                f"{fix}, or cast the column to the documented type"
            )
    required = [
        name for name, field in theirs.items() if name not in mine and not field.get("nullable", True)
    ]
    if required:
        raise AngoExportConfigError(
            f"Delta table {state.uri} has non-null column(s) {', '.join(required)} that the lake tables "
            f"do not write; make them nullable, or {fix}"
        )
    return any(name not in theirs for name in ours.names)


def load_table(delta_uri: str, options: StorageOptions) -> DeltaTable | None:
    """The Delta table at ``delta_uri``, or None when there is none (call inside :func:`delta_calls`).

    ``DeltaTable.is_deltatable`` would do, but delta-rs 1.6 keeps the GIL while it waits on
    the network there, which stalls every other thread of the worker (an in-process test
    server included); opening the table lets it go.
    """
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return DeltaTable(delta_uri, storage_options=options.as_dict())
    except TableNotFoundError:
        return None


def open_table(
    name: str,
    uri: str,
    delta_uri: str,
    bucket: BucketHook,
    prefix: str,
    options: StorageOptions,
) -> TableState:
    """The target as it is now; a location holding files that are not a Delta table is refused."""
    with delta_calls("open", uri, options):
        table = load_table(delta_uri, options)
    if table is not None:
        return TableState(name, uri, delta_uri, table, bucket, prefix)
    present = next(iter(bucket.iter_objects(prefix, page_size=1)), None)
    if present is not None:
        raise AngoExportConfigError(
            f"{uri} holds files ({bucket.uri_for(present.key)}, ...) but is not a Delta table (it has no "
            "_delta_log/): give the Delta layout an empty location or an existing Delta table, or move "
            "those files away"
        )
    return TableState(name, uri, delta_uri, None, bucket, prefix)


__all__ = ["CommitConflictError", "TableState", "check_compatible", "delta_calls", "load_table", "open_table"]
