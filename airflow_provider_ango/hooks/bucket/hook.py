"""BucketHook: one streaming face over S3 (and MinIO), Google Cloud Storage and Azure Blob Storage.

It works through Airflow's own ``S3Hook``, ``GCSHook`` and ``WasbHook`` and their connections,
built on first use; importing this module imports no cloud SDK.

Keys: a hook is addressed by a URI whose path is a *root* folder (``s3://lake/ango/`` has the root
``ango/``). Every ``key`` the hook takes or yields is relative to that root; with no path in the
URI, keys are whole bucket keys. Keys are used literally (no percent-decoding, no ``..``
resolution). See the README's "Buckets" section for the URL rules and what each store guarantees.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from functools import cached_property

from airflow.sdk import BaseHook

from airflow_provider_ango.exceptions import AngoWindowError
from airflow_provider_ango.hooks.bucket.address import (
    content_type_for,
    encode_key,
    join_key,
    parse_bucket_uri,
)
from airflow_provider_ango.hooks.bucket.base import (
    DEFAULT_PART_SIZE,
    DEFAULT_READ_CHUNK,
    BucketArgumentError,
    BucketLocation,
    BucketObject,
    Store,
)
from airflow_provider_ango.hooks.bucket.parallel import (
    DEFAULT_MAX_CONCURRENCY,
    check_concurrency,
    ordered_map,
)
from airflow_provider_ango.hooks.bucket.select import KeyFilter
from airflow_provider_ango.hooks.bucket.streams import BucketWriter, ChunkReader
from airflow_provider_ango.models.window import TimeWindow

log = logging.getLogger(__name__)

DEFAULT_CONN_IDS = {"s3": "aws_default", "gcs": "google_cloud_default", "azure": "wasb_default"}


class BucketHook(BaseHook):
    """Lists, reads, writes and publishes objects of one bucket (or Azure container).

    :param location: where the bucket is; see :meth:`from_uri` for the usual way to make one.
    :param conn_id: the Airflow connection; default ``aws_default``, ``google_cloud_default`` or
        ``wasb_default`` for the store. MinIO and S3-compatible stores use an AWS connection whose
        extra has ``endpoint_url``.
    :param max_concurrency: requests its per-object steps keep in flight (``delete_keys``,
        ``delete_prefix``, and the pipelines' header reads, writes and publishes); the SDK client's
        connection pool is sized to at least this (see :meth:`reserve_connections`).

    Nothing is sent and no SDK is imported until a method needs it. One hook may be used from
    several threads: its SDK client is built once and shared.
    """

    hook_name = "Ango bucket (S3 / GCS / Azure Blob / MinIO)"

    def __init__(
        self,
        location: BucketLocation,
        conn_id: str | None = None,
        *,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    ) -> None:
        super().__init__()
        self.location = location
        self.conn_id = conn_id or DEFAULT_CONN_IDS[location.kind]
        self.max_concurrency = check_concurrency(max_concurrency)
        self._store_lock = threading.Lock()

    @classmethod
    def from_uri(
        cls, uri: str, conn_id: str | None = None, *, max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    ) -> BucketHook:
        """A hook for ``s3://bucket/prefix``, ``gs://bucket/prefix``, ``wasb://container@account/prefix``.

        Also ``s3a://``, ``gcs://``, ``wasbs://``, ``az://container/prefix`` and
        ``abfs[s]://container@account.dfs.core.windows.net/prefix``. A malformed URI or an unknown
        scheme raises :class:`BucketUriError` (a ``ValueError``) listing the accepted forms.
        """
        return cls(parse_bucket_uri(uri), conn_id, max_concurrency=max_concurrency)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.uri!r}, conn_id={self.conn_id!r})"

    # -- where ------------------------------------------------------------------------------------

    @property
    def kind(self) -> str:
        """``"s3"``, ``"gcs"`` or ``"azure"``."""
        return self.location.kind

    @property
    def bucket(self) -> str:
        return self.location.bucket

    @property
    def prefix(self) -> str:
        """The root every key is relative to: empty, or ending with ``/``."""
        return self.location.prefix

    @property
    def uri(self) -> str:
        """The canonical URI of the root."""
        return self.location.uri_for(self.prefix)

    def full_key(self, key: str) -> str:
        """The whole key in the bucket of a key relative to the root."""
        return join_key(self.prefix, key)

    def uri_for(self, key: str) -> str:
        """The canonical URI (``s3://``, ``gs://``, ``wasb://``) of an object: what XCom should carry."""
        return self.location.uri_for(self.full_key(key))

    @cached_property
    def _store(self) -> Store:
        with self._store_lock:  # one store when threads ask at once (no lock in cached_property in 3.12)
            built: Store | None = self.__dict__.get("_store")
            if built is not None:
                return built
            if self.kind == "s3":
                from airflow_provider_ango.hooks.bucket.s3 import S3Store

                return S3Store(self.location, self.conn_id, self.max_concurrency)
            if self.kind == "gcs":
                from airflow_provider_ango.hooks.bucket.gcs import GCSStore

                return GCSStore(self.location, self.conn_id, self.max_concurrency)
            from airflow_provider_ango.hooks.bucket.azure import AzureStore

            return AzureStore(self.location, self.conn_id, self.max_concurrency)

    def reserve_connections(self, size: int | None = None) -> int:
        """Make the SDK client now, on this thread, pooling at least ``size`` connections; returns ``size``.

        ``size`` defaults to ``max_concurrency`` (and raises it when larger). S3: botocore's
        ``max_pool_connections`` becomes ``size`` unless the connection's ``config_kwargs`` set it
        (then it is kept, with a warning when smaller); a client built before with a smaller pool is
        replaced. GCS and Azure: the ``requests`` session under the client pools ``size``
        connections per host. Call it before sharing the hook between threads; the pipelines do.
        """
        wanted = self.max_concurrency if size is None else check_concurrency(size)
        self.max_concurrency = max(self.max_concurrency, wanted)
        self._store.reserve_connections(self.max_concurrency)
        return wanted

    def get_conn(self) -> object:
        """The Airflow hook underneath: ``S3Hook``, ``GCSHook`` or ``WasbHook``."""
        return self._store.airflow_hook

    # -- listing ----------------------------------------------------------------------------------

    def iter_objects(
        self,
        prefix: str = "",
        *,
        recursive: bool = True,
        include: str | Iterable[str] | None = None,
        exclude: str | Iterable[str] | None = None,
        modified_after: datetime | None = None,
        modified_before: datetime | None = None,
        page_size: int = 1000,
    ) -> Iterator[BucketObject]:
        """Objects under ``prefix`` (relative to the root), fetched lazily one page at a time.

        :param prefix: a plain string prefix of the keys (``"2024-"`` or ``"images/"``).
        :param recursive: ``False`` keeps only objects with no further ``/`` after ``prefix``.
        :param include: glob pattern(s) on the key relative to ``prefix``; an object is kept when
            it matches one of them. ``*`` and ``?`` stay within one folder level, ``**`` crosses
            ``/`` (``**/*.jpg`` is every JPEG at any depth, ``*.jpg`` only those directly under
            ``prefix``), ``[abc]`` is a set; matching is case-sensitive and on the whole key.
        :param exclude: glob pattern(s) of the same kind; matching objects are dropped.
        :param modified_after: keep objects with ``last_modified >= modified_after``.
        :param modified_before: keep objects with ``last_modified < modified_before``: the window
            is half-open, so back-to-back windows never take an object twice or lose one.
            Both must be timezone-aware (a naive datetime raises :class:`BucketArgumentError`).
        :param page_size: objects per listing request (S3 at most 1000, Azure at most 5000).

        Keys ending with ``/`` (folder placeholders) and ADLS Gen2 directories are skipped.
        Arguments are checked at the call, before anything is sent.
        """
        try:
            window = TimeWindow.half_open(
                modified_after, modified_before, ("modified_after", "modified_before")
            )
        except AngoWindowError as error:
            raise BucketArgumentError(str(error)) from None
        keep = KeyFilter(include, exclude)
        if page_size < 1:
            raise BucketArgumentError(f"page_size must be at least 1, got {page_size}")
        return self._iter_objects(self.prefix + prefix, recursive, keep, window, page_size)

    def _iter_objects(
        self, list_prefix: str, recursive: bool, keep: KeyFilter, window: TimeWindow, page_size: int
    ) -> Iterator[BucketObject]:
        cut, root = len(list_prefix), len(self.prefix)
        for obj in self._store.list_objects(list_prefix, recursive=recursive, page_size=page_size):
            if obj.key.endswith("/") or not keep(obj.key[cut:]) or not window.contains(obj.last_modified):
                continue
            yield replace(obj, key=obj.key[root:]) if root else obj

    # -- URLs for Ango ----------------------------------------------------------------------------

    @cached_property
    def _url_base(self) -> str:
        return self._store.url_base()

    def ango_url(self, key: str) -> str:
        """The absolute URL Ango expects for an object, its key percent-encoded in UTF-8.

        S3: ``https://<bucket>.s3.<region>.amazonaws.com/<key>`` (region looked up once);
        S3 through a custom ``endpoint_url`` (MinIO): ``<endpoint>/<bucket>/<key>``;
        GCS: ``https://storage.googleapis.com/<bucket>/<key>``;
        Azure: ``https://<account>.blob.core.windows.net/<container>/<key>`` (another blob endpoint,
        Azurite say: ``<endpoint>/<container>/<key>``). A space is ``%20``, ``/`` stays, and
        ``+ # ? % &`` and non-ASCII are encoded; ``urllib.parse.unquote`` gives the key back.
        """
        return self._url_base + encode_key(self.full_key(key))

    # -- reading ----------------------------------------------------------------------------------

    def open_read(
        self,
        key: str,
        start: int | None = None,
        end: int | None = None,
        *,
        chunk_size: int = DEFAULT_READ_CHUNK,
    ) -> io.BufferedReader:
        """A binary stream over bytes ``[start, end)`` of the object, like ``data[start:end]``.

        ``start`` defaults to 0 and ``end`` to the end of the object; a range past the end is cut
        at the end (empty when ``start`` is at or past it). Both must be ``>= 0`` and
        ``end >= start``. A missing object raises :class:`BucketObjectNotFoundError` here, at the
        call. Data comes ``chunk_size`` bytes at a time; use the stream as a context manager.
        """
        first = 0 if start is None else start
        for name, value in (("start", start), ("end", end)):
            if value is not None and (not isinstance(value, int) or value < 0):
                raise BucketArgumentError(f"{name} must be an int >= 0 or None, got {value!r}")
        if end is not None and end < first:
            raise BucketArgumentError(f"end ({end}) is before start ({first}); the range is [start, end)")
        if chunk_size < 1:
            raise BucketArgumentError(f"chunk_size must be at least 1, got {chunk_size}")
        store = self._store
        chunks = store.open_range(self.full_key(key), first, end, min(chunk_size, store.max_read_request))
        return io.BufferedReader(ChunkReader(chunks), buffer_size=min(chunk_size, 1024 * 1024))

    def read_bytes(self, key: str, start: int | None = None, end: int | None = None) -> bytes:
        """The bytes ``[start, end)`` of an object in memory: for small objects (manifests, markers)."""
        with self.open_read(key, start, end) as stream:
            return stream.read()

    # -- writing ----------------------------------------------------------------------------------

    def open_write(
        self, key: str, *, content_type: str | None = None, part_size: int = DEFAULT_PART_SIZE
    ) -> BucketWriter:
        """A writable binary stream to the object; use it as a context manager.

        Data goes out ``part_size`` bytes at a time (S3 multipart upload, GCS resumable upload,
        Azure staged blocks), so memory stays at about one part whatever the size. The object
        appears at the key, whole, only when the ``with`` block exits cleanly; an exception
        leaves nothing new at the key (and an older object there untouched). ``content_type``
        defaults to a guess from the key's extension, else ``application/octet-stream``.
        """
        full_key = join_key(self.prefix, key, for_write=True)
        if part_size < 1:
            raise BucketArgumentError(f"part_size must be positive, got {part_size}")
        if part_size < 5 * 1024 * 1024 and self.kind == "s3":
            raise BucketArgumentError(
                f"part_size must be at least 5 MiB on S3 (its minimum part), got {part_size}"
            )
        kind = content_type or content_type_for(full_key)
        store = self._store
        return BucketWriter(
            store.start_upload(full_key, kind),
            part_size=part_size,
            max_parts=store.max_parts,
            name=store.describe(full_key),
        )

    def write_bytes(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        """Write a small object in one go (whole or not at all)."""
        with self.open_write(key, content_type=content_type) as stream:
            stream.write(data)

    # -- other object operations ------------------------------------------------------------------

    def exists(self, key: str) -> bool:
        """Whether an object exists at the key."""
        return self._store.exists(self.full_key(key))

    def stat(self, key: str) -> BucketObject | None:
        """One object's size, version, ``last_modified`` and content type (S3 included), or ``None``.

        One metadata request; the key in the answer is relative to the root, as in listings.
        """
        found = self._store.stat(self.full_key(key))
        return None if found is None else replace(found, key=key)

    def delete(self, key: str) -> None:
        """Delete the object; deleting a missing object is not an error."""
        self._store.delete(self.full_key(key))

    def delete_keys(self, keys: Iterable[str], *, max_concurrency: int | None = None) -> int:
        """Delete the objects at ``keys`` (relative to the root, taken lazily); returns how many.

        In batches (S3 DeleteObjects of 1000, GCS batch requests of 100, Azure blob batches of
        256), up to ``max_concurrency`` batches in flight (default: the hook's). Missing objects
        are not an error. The first failure stops new batches and is raised, naming the object.
        """
        return self._delete_full_keys((self.full_key(key) for key in keys), max_concurrency)

    def delete_prefix(self, prefix: str, *, max_concurrency: int | None = None) -> int:
        """Delete every object whose key starts with ``prefix`` (relative to the root); returns the count.

        Streams the listing and deletes in batches, several in flight (see :meth:`delete_keys`).
        An empty prefix would empty the whole root, so it is refused: pass the prefix explicitly.
        """
        if not prefix:
            raise BucketArgumentError(
                "delete_prefix needs a non-empty prefix (an empty one would delete the whole root)"
            )
        listing = self._store.list_objects(self.prefix + prefix, recursive=True, page_size=1000)
        return self._delete_full_keys((obj.key for obj in listing), max_concurrency)

    def _delete_full_keys(self, full_keys: Iterator[str], max_concurrency: int | None) -> int:
        limit = self.reserve_connections(max_concurrency)
        store = self._store

        def batches() -> Iterator[list[str]]:
            batch: list[str] = []
            for key in full_keys:
                batch.append(key)
                if len(batch) >= store.delete_batch_size:
                    yield batch
                    batch = []
            if batch:
                yield batch

        def delete(batch: list[str]) -> int:
            store.delete_many(batch)
            return len(batch)

        def name_of(batch: list[str]) -> str:
            return f"{len(batch)} object(s) from {store.describe(batch[0])}"

        return sum(ordered_map(delete, batches(), max_concurrency=limit, name_of=name_of, what="delete"))

    def publish(self, tmp_key: str, final_key: str) -> None:
        """Move a fully written object from ``tmp_key`` to ``final_key``, as atomically as the store allows.

        A server-side copy (S3 CopyObject, or a multipart copy past 5 GiB; GCS rewrite; Azure Copy
        Blob in the same account), then the temporary object is deleted. On S3 and GCS the object
        appears at ``final_key`` whole when the copy succeeds and never partially; on Azure the hook
        waits until a copy that Azure scheduled asynchronously has finished. If the copy fails the
        temporary object is kept and ``final_key`` is left as it was.
        """
        source = self.full_key(tmp_key)
        dest = join_key(self.prefix, final_key, for_write=True)
        if source == dest:
            raise BucketArgumentError(f"publish needs two different keys, got {tmp_key!r} twice")
        self._store.copy(source, dest)
        self._store.delete(source)
        log.debug("Published %s", self._store.describe(dest))  # the landing logs one INFO summary


__all__ = ["DEFAULT_CONN_IDS", "BucketHook"]
