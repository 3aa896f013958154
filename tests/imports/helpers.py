"""Helpers of the import job's tests: listed objects and image bytes for the pure tests; a bucket with
files in it, run contexts and the two import operators for the runs against the emulators
(tests/operators/, tests/sensors/, tests/triggers/)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Type-only: tests/conftest.py imports this module, and importing Airflow there, before the
    # testing plugin isolates AIRFLOW_HOME, is refused.
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.hooks.bucket import BucketHook
    from airflow_provider_ango.models.window import TimeWindow
    from airflow_provider_ango.testing.plugin import TestBucket


UTC = timezone.utc


T0 = datetime(2024, 5, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Obj:
    key: str
    size: int = 10
    etag: str | None = '"abc"'
    last_modified: datetime = T0
    content_type: str | None = None


def png(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk + b"\x00" * 20


def jpeg(width: int, height: int, exif_bytes: int = 0, padding: bool = False) -> bytes:
    out = b"\xff\xd8"
    out += b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    remaining = exif_bytes
    while remaining > 0:  # APP1 segments of at most 65533 bytes of payload
        size = min(remaining, 65533)
        out += b"\xff\xe1" + struct.pack(">H", size + 2) + b"E" * size
        remaining -= size
    out += b"\xff\xc4" + struct.pack(">H", 4) + b"\x00\x00"  # a DHT before the frame header
    marker = b"\xff\xff\xc2" if padding else b"\xff\xc0"  # progressive, with a fill byte
    out += marker + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return out + b"\xff\xda" + b"\x00" * 10


CATEGORY_SCHEMA = {
    "tools": [
        {
            "tool": "bounding-box",
            "title": "Car",
            "schemaId": "car",
            "classifications": [{"tool": "radio", "title": "Color", "schemaId": "color", "options": []}],
        }
    ],
    "classifications": [{"tool": "text", "title": "Note", "schemaId": "note"}],
    "relations": [{"tool": "one-to-one", "title": "Tows", "schemaId": "tows"}],
}


@dataclass
class FakeTI:
    """What the operators read from ``context["ti"]``."""

    try_number: int = 1
    pushed: dict[str, Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def run_context(start: datetime | None, end: datetime | None, try_number: int = 1) -> dict[str, Any]:
    return {"data_interval_start": start, "data_interval_end": end, "ti": FakeTI(try_number)}


@dataclass
class Store:
    """A fresh bucket with helpers: files go under ``incoming/``, manifests under ``manifests/``."""

    bucket: TestBucket
    hook: BucketHook

    @property
    def source_uri(self) -> str:
        return f"{self.bucket.uri}/incoming/"

    def manifest_uri(self, name: str) -> str:
        return f"{self.bucket.uri}/manifests/{name}/assets.ndjson"

    def put(self, key: str, data: bytes = b"x") -> None:
        self.hook.write_bytes(f"incoming/{key}", data)

    def modified(self) -> dict[str, datetime]:
        """last_modified of every object under ``incoming/``, by key relative to it."""
        return {
            obj.key.removeprefix("incoming/"): obj.last_modified
            for obj in self.hook.iter_objects("incoming/")
        }

    def interval_around_all(self) -> tuple[datetime, datetime]:
        times = self.modified().values()
        return min(times) - timedelta(hours=1), max(times) + timedelta(seconds=1)


def build(
    store: Store, name: str, start: datetime | None, end: datetime | None, **kwargs: Any
) -> dict[str, Any]:
    from airflow_provider_ango.operators.imports import AngoBuildImportOperator

    operator = AngoBuildImportOperator(
        task_id=f"build_{name}",
        source_uri=store.source_uri,
        manifest_uri=store.manifest_uri(name),
        source_conn_id=store.bucket.conn_id,
        manifest_conn_id=store.bucket.conn_id,
        **kwargs,
    )
    result: dict[str, Any] = operator.execute(run_context(start, end))  # type: ignore[arg-type]
    return result


def import_assets(
    store: Store, project_id: str, manifest: Any, try_number: int = 1, **kwargs: Any
) -> dict[str, Any]:
    from airflow_provider_ango.operators.imports import AngoImportAssetsOperator

    operator = AngoImportAssetsOperator(
        task_id="import",
        project_id=project_id,
        manifest=manifest,
        manifest_conn_id=store.bucket.conn_id,
        **{"settle": 0, **kwargs},
    )
    result: dict[str, Any] = operator.execute(run_context(None, None, try_number))  # type: ignore[arg-type]
    return result


def last_seq(ango: AngoEmulator) -> int:
    entries = ango.control.requests()
    return int(entries[-1]["seq"]) if entries else 0


def synthetic_manifest(
    store: Store,
    name: str,
    objects: Iterable[Obj],
    window: TimeWindow | None = None,
    scope_prefix: str | None = None,
    external_id: str | None = None,
) -> dict[str, Any]:
    """A manifest of objects that need not exist (so their ``last_modified`` can be any day), built
    as the build operator builds one: the same item rules with the scope batch of its source
    (``store.source_uri``), the same builder and the same manifest writer, into ``manifests/<name>/``.

    Returns the build operator's XCom shape: ``{"manifests", "scope_batches", "counts"}``.
    """
    import logging

    from airflow_provider_ango.imports.builder import BuildOptions, ItemBuilder
    from airflow_provider_ango.imports.manifest import write_manifest
    from airflow_provider_ango.imports.rules import ItemRules
    from airflow_provider_ango.imports.scope import default_scope_prefix, with_scope_batch
    from airflow_provider_ango.models.window import TimeWindow

    log = logging.getLogger("tests.synthetic_manifest")
    prefix = "incoming/"
    seen: set[str] = set()
    rules = with_scope_batch(
        ItemRules(prefix=prefix, bucket=store.bucket.name, external_id=external_id),
        scope_prefix or default_scope_prefix(store.bucket.name, prefix),
        seen,
    )

    def no_reads(key: str, start: int, end: int | None) -> bytes:
        raise FileNotFoundError(key)

    builder = ItemBuilder(
        rules,
        BuildOptions(),
        window or TimeWindow(),
        lambda key: f"https://cdn.example.com/{prefix}{key}",
        no_reads,
        log,
    )
    written = write_manifest(
        builder.build(objects), store.hook, f"manifests/{name}/assets", max_bytes=None, max_rows=None, log=log
    )
    return {
        "manifests": [store.hook.uri_for(key) for key in written.shard_keys],
        "scope_batches": sorted(seen),
        "counts": {"items": written.items, "invalid": written.invalid},
    }
