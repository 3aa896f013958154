"""What a lake-table landing reports, and the application transaction that makes a commit once-only.

Plain dataclasses (no pyarrow): an operator can build, return and push them to XCom freely.
They carry URIs, versions and counts, never a credential.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from airflow_provider_ango.exceptions import AngoExportConfigError

APP_ID_PREFIX = "airflow-provider-ango"


@dataclass(frozen=True)
class AppTransaction:
    """A Delta application transaction (``txn`` action): ``app_id`` and ``version``.

    A commit carries it, and a commit is skipped when the table already holds ``app_id`` at a
    version at least ``version``. :meth:`for_interval` gives each run interval its own app id,
    so a retried or re-run interval commits nothing twice, and an earlier interval retried
    after a later one committed still lands (a single app id per task with the interval as a
    growing version would skip it: Delta keeps only the latest version of an app id).
    """

    app_id: str
    version: int

    def __post_init__(self) -> None:
        if not isinstance(self.app_id, str) or not self.app_id.strip():
            raise AngoExportConfigError("an application transaction needs a non-empty app_id")
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 0:
            raise AngoExportConfigError(
                f"the application transaction version must be an int >= 0, got {self.version!r}"
            )

    @classmethod
    def for_interval(
        cls,
        dag_id: str,
        task_id: str,
        data_interval_start: datetime | None,
        data_interval_end: datetime | None,
        run_id: str | None = None,
    ) -> AppTransaction:
        """``airflow-provider-ango/<dag_id>/<task_id>/<start>--<end>``, version = end in epoch ms.

        A run without a data interval (a manual run in Airflow 3 may have none) is identified
        by its ``run_id`` instead.
        """
        if data_interval_start is not None and data_interval_end is not None:
            start, end = _utc(data_interval_start, "data_interval_start"), _utc(data_interval_end, "end")
            scope = f"{start.isoformat()}--{end.isoformat()}"
            version = int(end.timestamp() * 1000)
        elif run_id:
            scope, version = f"run:{run_id}", 0
        else:
            raise AngoExportConfigError(
                "an application transaction needs the run's data interval or its run_id; pass them "
                "from the task context"
            )
        return cls(f"{APP_ID_PREFIX}/{dag_id}/{task_id}/{scope}", version)


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None:
        raise AngoExportConfigError(f"{name} must be timezone-aware (Airflow passes UTC), got {moment!r}")
    return moment.astimezone(timezone.utc)


@dataclass(frozen=True)
class TableOutcome:
    """One table of a landing.

    :param uri: the table's location: the partition folder of a Parquet table, the root of a
        Delta table (the provider's canonical URI form, as for every other layout).
    :param rows: rows this run wrote (Delta merge: rows of the run's source, stale ones left out).
    :param version: the Delta version this run committed, or the one that already held its
        transaction (a retry); ``None`` for Parquet, or when that version is out of reach.
    :param committed: False when the commit was skipped because the transaction was there.
    :param attempts: commit attempts (a conflict with a concurrent writer costs one more).
    """

    name: str
    uri: str
    rows: int
    files: int | None = None
    bytes: int | None = None
    version: int | None = None
    committed: bool = True
    attempts: int = 1
    manifest_uri: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TablesResult:
    """Both tables of one landing; :meth:`to_xcom` is what an operator returns / puts on the Asset event."""

    layout: str  # "parquet" | "delta"
    records: int
    tables: tuple[TableOutcome, ...]
    mode: str | None = None  # Delta: "append" | "merge"
    app_id: str | None = None
    partition: Mapping[str, str] | None = None

    def table(self, name: str) -> TableOutcome:
        for outcome in self.tables:
            if outcome.name == name:
                return outcome
        raise KeyError(name)

    @property
    def uris(self) -> dict[str, str]:
        return {outcome.name: outcome.uri for outcome in self.tables}

    @property
    def versions(self) -> dict[str, int | None]:
        return {outcome.name: outcome.version for outcome in self.tables}

    def to_xcom(self) -> dict[str, Any]:
        return {
            "layout": self.layout,
            "mode": self.mode,
            "records": self.records,
            "app_id": self.app_id,
            "partition": dict(self.partition or {}),
            "tables": {outcome.name: outcome.to_json() for outcome in self.tables},
        }


__all__ = ["APP_ID_PREFIX", "AppTransaction", "TableOutcome", "TablesResult"]
