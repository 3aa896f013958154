"""Helpers of the lake-table tests: export records in Ango's format, and readers of what landed.

Records are built the way Ango's export shows them (seeds: export-format-asset): an asset with
its ``task``; each task's answer is given as a short list of boxes and an optional radio answer,
so a test can say "task b now has two trucks" and check exactly that in the tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import pyarrow as pa

    from airflow_provider_ango.testing.plugin import TestBucket

START = datetime(2024, 5, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def task_id_of(name: str) -> str:
    """A 24-hex id made from a short readable name (``"a"`` -> ``"61...0"``)."""
    return name.encode().hex().ljust(24, "0")[:24]


@dataclass(frozen=True)
class Answer:
    """What a labeler submitted: boxes (class title, x) and the answer of the 'weather' radio."""

    boxes: Sequence[tuple[str, float]] = ()
    weather: str | None = None
    extra_tools: Sequence[dict[str, Any]] = field(default_factory=tuple)


def record(name: str, answer: Answer, updated_at: datetime, *, stage: str = "Complete") -> dict[str, Any]:
    """One export record for task ``name``."""
    tools: list[dict[str, Any]] = [
        {
            "bounding-box": {"x": x, "y": 10.0, "width": 20.0, "height": 12.5},
            "objectId": f"{name}-box-{index}",
            "schemaId": f"schema-{title}",
            "title": title,
            "classifications": [
                {
                    "objectId": f"{name}-box-{index}-occluded",
                    "schemaId": "schema-occluded",
                    "tool": "checkbox",
                    "title": "occluded",
                    "answer": ["left"] if index % 2 else [],
                    "classifications": [],
                }
            ],
            "metadata": {
                "createdAt": iso(updated_at),
                "createdBy": "labeler@example.com",
                "createdIn": "Label",
            },
        }
        for index, (title, x) in enumerate(answer.boxes)
    ]
    tools.extend(answer.extra_tools)
    classifications = []
    if answer.weather is not None:
        classifications.append(
            {
                "objectId": f"{name}-weather",
                "schemaId": "schema-weather",
                "tool": "radio",
                "title": "weather",
                "answer": answer.weather,
                "classifications": [],
            }
        )
    return {
        "asset": f"https://assets.example.com/{name}.jpg",
        "externalId": f"{name}.jpg",
        "metadata": {"width": 640, "height": 480},
        "batches": ["nightly"],
        "contextData": {"camera": name.upper()},
        "task": {
            "taskId": task_id_of(name),
            "stage": stage,
            "stageId": stage,
            "updatedAt": iso(updated_at),
            "updatedBy": "labeler@example.com",
            "totalDuration": 1000,
            "tools": tools,
            "classifications": classifications,
            "relations": [],
            "stageHistory": [
                {
                    "stage": "Label",
                    "stageId": "Label",
                    "duration": 1000,
                    "completedAt": iso(updated_at),
                    "completedBy": "labeler@example.com",
                    "tools": [],
                    "classifications": [],
                    "relations": [],
                }
            ],
        },
    }


def expected_boxes(latest: dict[str, Answer]) -> list[tuple[str, str, float]]:
    """(task id, class title, x) of every box of every task's latest answer, sorted."""
    return sorted(
        (task_id_of(name), title, float(x)) for name, answer in latest.items() for title, x in answer.boxes
    )


def table_rows(table: pa.Table, *columns: str) -> list[tuple[Any, ...]]:
    data = table.select(list(columns)).to_pylist()
    return sorted(tuple(row[column] for column in columns) for row in data)


def read_delta(table_uri: str, conn_id: str) -> pa.Table:
    """The whole Delta table, read by deltalake itself (``DeltaTable.to_pyarrow_table``)."""
    from deltalake import DeltaTable

    from airflow_provider_ango.exports.tables.location import delta_rs_uri
    from airflow_provider_ango.exports.tables.storage import storage_options
    from airflow_provider_ango.hooks.bucket import parse_bucket_uri

    location = parse_bucket_uri(table_uri)
    options = storage_options(location, conn_id)
    return DeltaTable(
        delta_rs_uri(location, location.prefix), storage_options=options.as_dict()
    ).to_pyarrow_table()


def duckdb_rows(sql: str, **tables: Any) -> list[tuple[Any, ...]]:
    """Run ``sql`` in DuckDB over Arrow datasets/tables registered under the given names."""
    import duckdb

    connection = duckdb.connect()
    try:
        for name, table in tables.items():
            connection.register(name, table)
        return sorted(connection.execute(sql).fetchall())
    finally:
        connection.close()


def delta_datasets(result: Any, conn_id: str) -> dict[str, Any]:
    """Both tables of a landing as pyarrow datasets, for DuckDB (filters pushed down into the scan)."""
    from airflow_provider_ango.exports.tables.reading import delta_dataset

    return {name: delta_dataset(uri, conn_id) for name, uri in result.uris.items()}


def records_of(*entries: tuple[str, Answer, datetime]) -> Iterator[dict[str, Any]]:
    """Records as a one-pass iterator, the way the landing hands them over."""
    for name, answer, updated in entries:
        yield record(name, answer, updated)


def bucket_root(bucket: TestBucket) -> Any:
    from airflow_provider_ango.exports.locations import bucket_root as root

    hook, _ = root(bucket.uri, bucket.conn_id, "test bucket")
    return hook


@pytest.fixture
def s3_bucket(new_bucket: Any) -> TestBucket:
    bucket: TestBucket = new_bucket("s3")
    return bucket


def names(rows: Iterable[tuple[Any, ...]]) -> list[Any]:
    return [row[0] for row in rows]
