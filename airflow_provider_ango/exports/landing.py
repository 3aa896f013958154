"""Land a staged export under a destination prefix: complete, or nothing new at all.

The protocol, for a destination ``.../dt=2024-05-01/``:

1. **Write** every file of the layout under a temporary prefix *outside* the destination,
   ``.../_ango_tmp/dt=2024-05-01/<token>/`` (a ``_`` folder, which Spark, Hive and Trino
   skip). Leftovers of an earlier crashed landing of the same partition are removed
   first. If anything fails here the temporary files are removed and the destination has
   not been touched: nothing new is visible at the final path.
2. **Publish**: ``_SUCCESS`` and ``_manifest.json`` of the previous landing are deleted
   first (from then on readers see the partition as incomplete); each file is moved to the
   destination with the store's server-side copy; files directly under the destination
   that this landing did not write are deleted (sub-folders are never touched, so a
   destination given one level too high cannot wipe other partitions); ``_manifest.json``
   is written, and ``_SUCCESS`` last.

Readers that honour ``_SUCCESS`` (or read the file list from ``_manifest.json``) therefore
never see a mix of two landings. Re-running the same interval replaces the partition.

Object stores cannot move many objects at once, so a crash *during* step 2 (seconds of
server-side copies, after minutes of step 1) leaves the partition without ``_SUCCESS``
until the retry lands it again. One landing per destination at a time: a second landing
of the same partition started meanwhile removes the first one's temporary files.

Because step 2 deletes files directly under the destination and step 1 clears the temporary
folder, :func:`check_overlap` refuses (before anything is read or written) a destination that
holds the staged zip or overlaps the staging prefix, and a temporary folder that would hold it.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_provider_ango.exceptions import (
    AngoExportConfigError,
    AngoExportIntegrityError,
    AngoInputNotFoundError,
    BucketObjectNotFoundError,
)
from airflow_provider_ango.exports.layouts import (
    LAYOUTS,
    Compression,
    record_writer,
    write_raw,
    write_records,
)
from airflow_provider_ango.exports.records import iter_zip_records
from airflow_provider_ango.exports.registry import FileRegistry
from airflow_provider_ango.hooks.bucket import BucketHook
from airflow_provider_ango.progress import Progress

log = logging.getLogger(__name__)

MANIFEST_NAME = "_manifest.json"
SUCCESS_NAME = "_SUCCESS"
TEMP_FOLDER = "_ango_tmp"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class Destination:
    """A destination prefix in a bucket: ``bucket`` is a hook at the bucket's root."""

    bucket: BucketHook
    prefix: str  # whole key prefix, ending with "/"

    @property
    def uri(self) -> str:
        return self.bucket.uri_for(self.prefix) if self.prefix else self.bucket.uri

    @property
    def temp_root(self) -> str:
        parent, _, leaf = self.prefix.rstrip("/").rpartition("/")
        return f"{parent}/{TEMP_FOLDER}/{leaf}/" if parent else f"{TEMP_FOLDER}/{leaf}/"


@dataclass(frozen=True)
class LandingResult:
    destination_uri: str
    manifest_uri: str
    layout: str
    records: int
    files: int
    bytes: int

    def to_xcom(self) -> dict[str, Any]:
        return {
            "destination_uri": self.destination_uri,
            "manifest_uri": self.manifest_uri,
            "layout": self.layout,
            "records": self.records,
            "files": self.files,
            "bytes": self.bytes,
        }


def _inside(prefix: str, key: str) -> bool:
    """Whether ``key`` (or prefix) is ``prefix`` or lies under it; ``""`` holds everything."""
    return key.startswith(prefix)


def check_overlap(
    destination: Destination,
    staged: tuple[BucketHook, str] | None,
    staging_root: tuple[BucketHook, str] | None = None,
) -> None:
    """Refuse a destination whose landing would delete the staged zip or mix with the staging area.

    :param staged: the staged zip, as (hook at its bucket's root, whole key); None when there is none.
    :param staging_root: the trigger task's staging prefix, as (hook at the root, prefix), if known.
    """
    here = destination.bucket.uri
    fix = "land under another prefix (the lake and the staging area must not overlap)"
    zip_bucket, zip_key = staged if staged is not None else (None, "")
    if zip_bucket is not None and zip_bucket.uri == here:
        if _inside(destination.prefix, zip_key):
            raise AngoExportConfigError(
                f"destination_uri {destination.uri} holds the staged export {zip_bucket.uri_for(zip_key)}: "
                f"landing replaces the destination's files and would delete it; {fix}"
            )
        if _inside(destination.temp_root, zip_key):
            raise AngoExportConfigError(
                f"the staged export {zip_bucket.uri_for(zip_key)} lies in the landing's temporary folder "
                f"{here}{destination.temp_root}, which is cleared first; {fix}"
            )
    if staging_root is None:
        return
    root_bucket, root_prefix = staging_root
    if root_bucket.uri != here:
        return
    # A staging prefix at the bucket's root stages under <dag_id>/<run_id>/: that folder is its area.
    area = root_prefix or (zip_key.rsplit("/", 2)[0] + "/" if zip_key.count("/") >= 2 else "")
    if not area:
        return
    if _inside(area, destination.prefix) or _inside(destination.prefix, area):
        raise AngoExportConfigError(
            f"destination_uri {destination.uri} overlaps the staging prefix {root_bucket.uri_for(area)} of "
            f"the trigger task: landing would delete staged files, and later exports would be staged into "
            f"the lake; {fix}"
        )


def spool_staged_zip(
    bucket: BucketHook, key: str, target: Path, *, sha256: str | None, size: int | None
) -> None:
    """Copy the staged zip to a local file (zipfile needs to seek), checking size and checksum."""
    import hashlib

    digest = hashlib.sha256()
    progress = Progress(log, f"Reading staged export {bucket.uri_for(key)}")
    try:
        source_stream = bucket.open_read(key)
    except BucketObjectNotFoundError:
        raise AngoInputNotFoundError(
            f"the staged export {bucket.uri_for(key)} does not exist (connection {bucket.conn_id!r}): it was "
            "deleted, or the trigger task staged it elsewhere; clear the trigger task to stage it again"
        ) from None
    with source_stream as source, target.open("wb") as out:
        for chunk in iter(lambda: source.read(8 * 1024 * 1024), b""):
            digest.update(chunk)
            out.write(chunk)
            progress.advance(nbytes=len(chunk))
    progress.finish()
    if size is not None and progress.bytes != size:
        raise AngoExportIntegrityError(
            f"staged export {bucket.uri_for(key)} has {progress.bytes} bytes, the trigger task staged "
            f"{size}; it was changed or cut since - re-run the trigger task"
        )
    if sha256 and digest.hexdigest() != sha256:
        raise AngoExportIntegrityError(
            f"staged export {bucket.uri_for(key)} does not match the SHA-256 the trigger task recorded; "
            "it was changed since - re-run the trigger task"
        )


def _open_write(bucket: BucketHook) -> Callable[[str], Any]:
    return lambda key: bucket.open_write(key)


def _records_counted(zip_path: Path, progress: Progress) -> Iterator[Any]:
    for record in iter_zip_records(zip_path):
        progress.advance(1)
        yield record


def write_layout(
    destination: Destination,
    temp_prefix: str,
    registry: FileRegistry,
    zip_path: Path,
    *,
    layout: str,
    max_rows: int,
    max_bytes: int,
    compression: Compression,
) -> None:
    """Step 1: every file of the layout under ``temp_prefix``."""
    progress = Progress(log, f"Writing {layout} layout for {destination.uri}", unit="records")
    if layout == "raw":
        records = sum(1 for _ in _records_counted(zip_path, progress))  # counted for the manifest
        write_raw(_open_write(destination.bucket), temp_prefix, registry, zip_path, records)
    else:
        writer = record_writer(
            layout,
            _open_write(destination.bucket),
            temp_prefix,
            registry,
            max_rows=max_rows,
            max_bytes=max_bytes,
            compression=compression,
        )
        write_records(writer, _records_counted(zip_path, progress))
    progress.finish()


def publish(
    destination: Destination, temp_prefix: str, registry: FileRegistry, header: dict[str, Any]
) -> None:
    """Step 2: move the files into place, drop stale ones, then the manifest and ``_SUCCESS``."""
    bucket, prefix = destination.bucket, destination.prefix
    bucket.delete(prefix + SUCCESS_NAME)
    bucket.delete(prefix + MANIFEST_NAME)
    for entry in registry:
        bucket.publish(temp_prefix + entry.name, prefix + entry.name)
    stale = 0
    for obj in bucket.iter_objects(prefix, recursive=False):
        name = obj.key[len(prefix) :]
        if name not in (MANIFEST_NAME, SUCCESS_NAME) and name not in registry:
            bucket.delete(obj.key)
            stale += 1
    if stale:
        log.info("Removed %d file(s) of an earlier landing from %s", stale, destination.uri)
    with tempfile.TemporaryDirectory(prefix="ango-manifest-") as scratch:
        manifest = Path(scratch) / MANIFEST_NAME
        registry.write_manifest(manifest, header)
        with manifest.open("rb") as source, bucket.open_write(prefix + MANIFEST_NAME) as out:
            for chunk in iter(lambda: source.read(1024 * 1024), b""):
                out.write(chunk)
    bucket.write_bytes(prefix + SUCCESS_NAME, b"")
    bucket.delete_prefix(temp_prefix)


def land(
    destination: Destination,
    zip_path: Path | None,
    *,
    layout: str,
    header: dict[str, Any],
    max_rows: int = 100_000,
    max_bytes: int = 128 * 1024 * 1024,
    compression: Compression = None,
    scratch_dir: str | None = None,
) -> LandingResult:
    """Land the export at ``zip_path`` under ``destination`` in ``layout`` (see the module doc).

    ``zip_path`` None lands an empty partition: no data file, an empty manifest and ``_SUCCESS``
    (the trigger task found the run's interval empty and requested no export).
    """
    if layout not in LAYOUTS:
        raise AngoExportConfigError(f"layout {layout!r} is unknown; use one of {', '.join(LAYOUTS)}")
    if not destination.prefix.strip("/"):
        raise AngoExportConfigError(
            f"destination {destination.uri} is a bucket root; land under a prefix such as "
            "s3://lake/ango/dt={{ ds }}/ (its files are replaced on every run)"
        )
    bucket = destination.bucket
    leftovers = bucket.delete_prefix(destination.temp_root)
    if leftovers:
        log.info("Removed %d temporary file(s) left by an earlier, interrupted landing", leftovers)
    temp_prefix = f"{destination.temp_root}{uuid.uuid4().hex}/"
    with FileRegistry(scratch_dir) as registry:
        try:
            if zip_path is not None:
                write_layout(
                    destination,
                    temp_prefix,
                    registry,
                    zip_path,
                    layout=layout,
                    max_rows=max_rows,
                    max_bytes=max_bytes,
                    compression=compression,
                )
        except BaseException:
            log.error("Landing failed before publishing; %s was not touched", destination.uri)
            bucket.delete_prefix(temp_prefix)
            raise
        full_header = {"version": MANIFEST_VERSION, "layout": layout, "compression": compression, **header}
        full_header["destination"] = destination.uri
        publish(destination, temp_prefix, registry, full_header)
        log.info(
            "Landed %d record(s) in %d file(s), %d bytes, at %s",
            registry.records,
            registry.files,
            registry.bytes,
            destination.uri,
        )
        return LandingResult(
            destination.uri,
            bucket.uri_for(destination.prefix + MANIFEST_NAME),
            layout,
            registry.records,
            registry.files,
            registry.bytes,
        )


__all__ = [
    "MANIFEST_NAME",
    "SUCCESS_NAME",
    "TEMP_FOLDER",
    "Destination",
    "LandingResult",
    "check_overlap",
    "land",
    "publish",
    "spool_staged_zip",
    "write_layout",
]
