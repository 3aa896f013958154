"""What every store behind :class:`~airflow_provider_ango.hooks.bucket.BucketHook` provides.

One small interface (:class:`Store`, :class:`Upload`) that the S3, GCS and Azure modules implement
with Airflow's own hooks, the listing record (:class:`BucketObject`). Nothing here imports a cloud SDK.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from airflow_provider_ango.exceptions import (
    AngoConnectionNotFoundError,
    BucketArgumentError,
    BucketError,
    BucketObjectNotFoundError,
    BucketUriError,
)

StoreKind = Literal["s3", "gcs", "azure"]

#: Default size of one multipart part / resumable chunk / staged block, and of one ranged read.
DEFAULT_PART_SIZE = 8 * 1024 * 1024
DEFAULT_READ_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class BucketObject:
    """One object of a listing.

    :param key: the object's key relative to the hook's root prefix (the whole key when the
        hook's URI has no prefix).
    :param size: size in bytes.
    :param etag: the version tag: the ETag without quotes on S3 and Azure, the object's
        generation number on GCS (it changes on every overwrite).
    :param last_modified: time of the last write, timezone-aware UTC (GCS: ``updated``).
    :param content_type: the stored content type when the listing returns it (GCS, Azure);
        ``None`` on S3, whose listings carry no content type.
    """

    key: str
    size: int
    etag: str | None
    last_modified: datetime
    content_type: str | None = None


@dataclass(frozen=True)
class BucketLocation:
    """A parsed bucket URI: the store, the bucket (or container), its account and a root prefix.

    ``prefix`` is empty or ends with ``/``: the root "folder" every key of the hook is relative to.
    """

    kind: StoreKind
    bucket: str
    prefix: str = ""
    account: str | None = None  # Azure only: the storage account named in the URI, if any

    @property
    def uri(self) -> str:
        """The canonical URI of the root (``s3://``, ``gs://`` or ``wasb://`` / ``az://``)."""
        return self.uri_for("")

    def uri_for(self, full_key: str) -> str:
        """The canonical URI of an object given its whole key in the bucket."""
        if self.kind == "s3":
            return f"s3://{self.bucket}/{full_key}"
        if self.kind == "gcs":
            return f"gs://{self.bucket}/{full_key}"
        if self.account:
            return f"wasb://{self.bucket}@{self.account}/{full_key}"
        return f"az://{self.bucket}/{full_key}"


def utc(moment: datetime) -> datetime:
    """An SDK timestamp as an aware UTC datetime (SDKs hand back tz-aware values in UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


class Upload(ABC):
    """One object being written part by part; nothing is visible at the key before :meth:`complete`."""

    @abstractmethod
    def upload_part(self, data: bytes) -> None:
        """Send one full part (the writer only calls this with ``part_size`` bytes)."""

    @abstractmethod
    def complete(self, last: bytes) -> None:
        """Send the remaining bytes (maybe none) and make the object appear at its key."""

    @abstractmethod
    def abort(self) -> None:
        """Give up: free what was sent so far; no object appears at the key."""


#: What a new connection of each store looks like, for the error naming one that does not exist.
CONNECTION_EXAMPLES = {
    "s3": ("AWS", '{"conn_type": "aws", "login": "<key id>", "password": "<secret>"}'),
    "gcs": ("Google Cloud", '{"conn_type": "google_cloud_platform", "extra": {"key_path": "/keys/sa.json"}}'),
    "azure": ("Azure Blob", '{"conn_type": "wasb", "extra": {"connection_string": "<connection string>"}}'),
}
#: Boto3 finds credentials without a connection (instance profile, environment): only an S3 store
#: may run on a default connection id that is not defined.
OPTIONAL_DEFAULT_CONNECTIONS = {"s3": "aws_default"}


def check_connection(kind: StoreKind, conn_id: str) -> None:
    """Raise :class:`AngoConnectionNotFoundError` when ``conn_id`` is not a defined connection."""
    if OPTIONAL_DEFAULT_CONNECTIONS.get(kind) == conn_id:
        return
    from airflow.sdk.bases.hook import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        store, example = CONNECTION_EXAMPLES[kind]
        raise AngoConnectionNotFoundError.of(
            conn_id, store, "the task's *_conn_id argument for this bucket", example
        ) from None


def object_missing(what: str, action: str) -> BucketObjectNotFoundError:
    """The error for an object that is not there, named by its URI ``what``."""
    return BucketObjectNotFoundError(
        f"{what} does not exist (could not {action} it); check the key and the URI"
    )


class Store(ABC):
    """The store-specific half of a :class:`BucketHook`. All keys here are whole keys in the bucket."""

    def __init__(self, location: BucketLocation, conn_id: str) -> None:
        self.location = location
        self.conn_id = conn_id

    @property
    def bucket(self) -> str:
        return self.location.bucket

    def describe(self, full_key: str | None = None) -> str:
        """How errors name the bucket or an object: its URI (object keys are not secrets)."""
        return self.location.uri_for(full_key) if full_key is not None else self.location.uri_for("")

    @property
    @abstractmethod
    def airflow_hook(self) -> object:
        """The Airflow hook (S3Hook, GCSHook or WasbHook) this store talks through."""

    @abstractmethod
    def list_objects(self, prefix: str, *, recursive: bool, page_size: int) -> Iterator[BucketObject]:
        """Objects under ``prefix``, fetched one page at a time, keys whole."""

    @abstractmethod
    def url_base(self) -> str:
        """The URL that, followed by a percent-encoded whole key, addresses an object (ends in ``/``)."""

    @abstractmethod
    def open_range(self, full_key: str, start: int, end: int | None, chunk_size: int) -> Iterator[bytes]:
        """Bytes ``[start, end)`` of the object as chunks; raises at once when the key is missing."""

    @abstractmethod
    def start_upload(self, full_key: str, content_type: str) -> Upload:
        """Begin writing an object (no request needs to be sent yet)."""

    @abstractmethod
    def exists(self, full_key: str) -> bool:
        """Whether an object exists at the key."""

    @abstractmethod
    def stat(self, full_key: str) -> BucketObject | None:
        """The object's size, version, time and content type (one metadata request), or ``None``."""

    @abstractmethod
    def delete(self, full_key: str) -> None:
        """Delete the object; a missing object is not an error."""

    @abstractmethod
    def delete_many(self, full_keys: Sequence[str]) -> None:
        """Delete a batch of objects (at most :attr:`delete_batch_size`)."""

    #: How many keys :meth:`delete_many` takes at once.
    delete_batch_size: int = 1000
    #: The store's limit on parts of one upload (``None``: no limit).
    max_parts: int | None = None
    #: The largest ranged request a read sends (the SDK may hold several copies of one in memory).
    max_read_request: int = DEFAULT_READ_CHUNK

    @abstractmethod
    def copy(self, source_key: str, dest_key: str) -> None:
        """Server-side copy inside the bucket; returns once the destination is complete."""


__all__ = [
    "DEFAULT_PART_SIZE",
    "DEFAULT_READ_CHUNK",
    "BucketArgumentError",
    "BucketError",
    "BucketLocation",
    "BucketObject",
    "BucketObjectNotFoundError",
    "BucketUriError",
    "Store",
    "StoreKind",
    "Upload",
    "utc",
]
