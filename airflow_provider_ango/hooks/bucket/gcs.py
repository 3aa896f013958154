"""Google Cloud Storage through Airflow's ``GCSHook`` and its ``google.cloud.storage`` client."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

from airflow_provider_ango.exceptions import BucketError, BucketNotFoundError
from airflow_provider_ango.hooks.bucket.address import endpoint_base
from airflow_provider_ango.hooks.bucket.base import (
    BucketObject,
    Store,
    Upload,
    check_connection,
    object_missing,
    utc,
)
from airflow_provider_ango.hooks.bucket.pools import widen_session
from airflow_provider_ango.hooks.bucket.streams import ranged_chunks
from airflow_provider_ango.redaction import safe_cause, scrub_text, truncate

if TYPE_CHECKING:
    from airflow.providers.google.cloud.hooks.gcs import GCSHook

PUBLIC_ENDPOINTS = {"https://storage.googleapis.com", "https://www.googleapis.com"}
_RESUMABLE_QUANTUM = 256 * 1024  # resumable chunks are multiples of 256 KiB
_LIST_FIELDS = "items(name,size,generation,etag,updated,contentType),nextPageToken,prefixes"


class GCSStore(Store):
    """One GCS bucket."""

    max_parts = None  # resumable uploads have no chunk limit

    @property
    def airflow_hook(self) -> GCSHook:
        def build() -> GCSHook:
            from airflow.providers.google.cloud.hooks.gcs import GCSHook

            check_connection("gcs", self.conn_id)
            return GCSHook(gcp_conn_id=self.conn_id)

        return self._built("airflow_hook", build)

    @property
    def client(self) -> Any:
        """GCSHook's ``storage.Client``, shared by every thread (the library documents it as safe to
        share; its transport is one ``requests`` session, whose pool is widened to ``pool_size``)."""
        return self._built("client", self._new_client)

    def _new_client(self) -> Any:
        client = self.airflow_hook.get_conn()
        widen_session(client._http, self.pool_size)  # built now, on this thread; nothing is sent
        return client

    @property
    def handle(self) -> Any:
        """The ``storage.Bucket`` (no request is sent to make it)."""
        return self._built("handle", lambda: self.client.bucket(self.bucket))

    def _warm(self) -> None:
        self.handle  # noqa: B018  (client, session and bucket handle built now, on this thread)

    def _widen_pool(self, size: int) -> None:
        if "client" in self.__dict__:
            widen_session(self.__dict__["client"]._http, size)

    @contextmanager
    def _calls(self, action: str, full_key: str | None = None) -> Iterator[None]:
        """Turn google-cloud errors into :class:`BucketError` naming the object and the fix."""
        from google.api_core import exceptions as api
        from google.auth.exceptions import GoogleAuthError

        what = self.describe(full_key)
        try:
            yield
        except BucketError:
            raise  # already ours
        except api.NotFound as exc:
            if full_key is None:
                raise BucketNotFoundError(
                    f"GCS bucket {self.bucket!r} does not exist for connection {self.conn_id!r}: "
                    "create it, or fix the bucket in the URI"
                ) from safe_cause(exc)
            raise object_missing(what, action) from safe_cause(exc)
        except (api.Forbidden, api.Unauthorized) as exc:
            raise BucketError(
                f"Could not {action} {what}: access denied ({exc.code}). Give the service account of "
                f"connection {self.conn_id!r} access to bucket {self.bucket!r}, or pass a conn_id that has it"
            ) from safe_cause(exc)
        except api.PreconditionFailed as exc:
            raise BucketError(
                f"Could not {action} {what}: it was overwritten meanwhile; try again"
            ) from safe_cause(exc)
        except api.GoogleAPICallError as exc:
            detail = truncate(scrub_text(str(exc.message)))
            raise BucketError(f"Could not {action} {what}: {exc.code} {detail}") from safe_cause(exc)
        except (GoogleAuthError, OSError) as exc:  # OSError: the transport's (requests') errors
            detail = truncate(scrub_text(str(exc)))
            raise BucketError(
                f"Could not {action} {what} via connection {self.conn_id!r}: {type(exc).__name__}: {detail}"
            ) from safe_cause(exc)

    def list_objects(self, prefix: str, *, recursive: bool, page_size: int) -> Iterator[BucketObject]:
        with self._calls("list"):
            listing = self.client.list_blobs(
                self.bucket,
                prefix=prefix or None,
                delimiter=None if recursive else "/",
                page_size=page_size,
                fields=_LIST_FIELDS,
            )
            pages = iter(listing.pages)
        while True:
            with self._calls("list"):
                page = next(pages, None)
            if page is None:
                return
            for blob in page:
                yield _listed(blob)

    def url_base(self) -> str:
        endpoint = str(self.client.api_endpoint or "").rstrip("/")
        if not endpoint or endpoint in PUBLIC_ENDPOINTS:
            return endpoint_base("https://storage.googleapis.com", self.bucket)
        return endpoint_base(endpoint, self.bucket)  # an emulator or a private endpoint

    def exists(self, full_key: str) -> bool:
        with self._calls("check", full_key):
            return bool(self.handle.blob(full_key).exists())

    def stat(self, full_key: str) -> BucketObject | None:
        with self._calls("check", full_key):
            blob = self.handle.get_blob(full_key)
        return None if blob is None else _listed(blob)

    def open_range(self, full_key: str, start: int, end: int | None, chunk_size: int) -> Iterator[bytes]:
        if end is not None and 0 < end - start <= chunk_size:
            return iter((self._read_once(full_key, start, end),))  # a header: one request, no metadata read
        found = self.handle.blob(full_key)
        with self._calls("read", full_key):
            found.reload()
        size = int(found.size or 0)
        stop = size if end is None else min(end, size)
        # A fresh Blob builds its download URL from the name; the reloaded one would follow the
        # server's mediaLink, which some emulators leave unencoded.
        return self._chunks(self.handle.blob(full_key), start, stop, int(found.generation), chunk_size)

    def _read_once(self, full_key: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` in one ranged GET (atomic, so no generation is needed)."""
        from google.api_core.exceptions import RequestRangeNotSatisfiable

        blob = self.handle.blob(full_key)
        with self._calls("read", full_key):
            try:
                return bytes(
                    blob.download_as_bytes(start=start, end=end - 1, raw_download=True, checksum=None)
                )
            except RequestRangeNotSatisfiable:
                return b""  # the object exists (a missing one is a 404); the range starts past its end

    def _chunks(self, blob: Any, start: int, stop: int, generation: int, chunk_size: int) -> Iterator[bytes]:
        def read(first: int, upto: int) -> bytes:
            with self._calls("read", blob.name):
                return bytes(
                    blob.download_as_bytes(
                        start=first,
                        end=upto - 1,  # inclusive, as in HTTP
                        raw_download=True,  # the stored bytes, as counted by size (no gzip transcoding)
                        checksum=None,  # ranges carry no whole-object checksum
                        if_generation_match=generation,  # every chunk from the same version
                    )
                )

        return ranged_chunks(read, start, stop, chunk_size, self.describe(blob.name))

    def start_upload(self, full_key: str, content_type: str) -> Upload:
        return _GCSUpload(self, full_key, content_type)

    def delete(self, full_key: str) -> None:
        from google.api_core.exceptions import NotFound

        with self._calls("delete", full_key):
            try:
                self.handle.blob(full_key).delete()
            except NotFound:
                return  # already gone: deleting is idempotent

    delete_batch_size = 100  # the JSON API takes at most 100 calls in one batch request

    def delete_many(self, full_keys: Sequence[str]) -> None:
        """One batch request for up to 100 deletes; on any failure, one by one (naming the key)."""
        from google.api_core.exceptions import GoogleAPICallError

        if not full_keys:
            return
        try:
            with self.client.batch():
                for key in full_keys:
                    self.handle.delete_blob(key)
        except (GoogleAPICallError, OSError):  # a 404 among them, a refused batch, or a dropped
            # connection (requests' errors are OSErrors): deleting is idempotent, so each again alone
            for key in full_keys:
                self.delete(key)

    def copy(self, source_key: str, dest_key: str) -> None:
        from google.api_core.exceptions import NotFound

        source = self.handle.blob(source_key)
        dest = self.handle.blob(dest_key)
        token: str | None = None
        with self._calls(f"copy {self.describe(source_key)} to", dest_key):
            while True:  # large or cross-location rewrites take several calls; the object appears at the end
                try:
                    token, _done, _total = dest.rewrite(source, token=token)
                except NotFound as exc:  # the destination need not exist: what is missing is the source
                    raise object_missing(self.describe(source_key), "copy") from safe_cause(exc)
                if token is None:
                    return


def _listed(blob: Any) -> BucketObject:
    """A listing record from a ``storage.Blob`` (the generation is the version tag)."""
    return BucketObject(
        key=blob.name,
        size=int(blob.size or 0),
        etag=str(blob.generation) if blob.generation is not None else blob.etag,
        last_modified=utc(blob.updated),
        content_type=blob.content_type,
    )


@cache
def _discardable_writer_class() -> type:
    """``BlobWriter`` that can be dropped without finalizing the upload (its ``close()`` would)."""
    from google.cloud.storage.fileio import BlobWriter

    class DiscardableBlobWriter(BlobWriter):
        discarded = False

        def discard(self) -> None:
            self.discarded = True

        def close(self) -> None:
            if not self.discarded:
                super().close()

    return DiscardableBlobWriter


class _GCSUpload(Upload):
    """A resumable upload (``BlobWriter``) opened with the first part; small objects in one request.

    The object only exists once the last chunk is sent. An aborted upload is left unfinished:
    GCS discards an unfinished resumable session after a week, and no object appears.
    """

    def __init__(self, store: GCSStore, full_key: str, content_type: str) -> None:
        self.store = store
        self.key = full_key
        self.content_type = content_type
        self.writer: Any = None

    def upload_part(self, data: bytes) -> None:
        if self.writer is None:
            from google.cloud.storage.retry import DEFAULT_RETRY

            blob = self.store.handle.blob(self.key)
            chunk_size = max(_RESUMABLE_QUANTUM, len(data) // _RESUMABLE_QUANTUM * _RESUMABLE_QUANTUM)
            self.writer = _discardable_writer_class()(
                blob,
                chunk_size=chunk_size,
                ignore_flush=True,
                retry=DEFAULT_RETRY,
                content_type=self.content_type,
            )
        with self.store._calls("write", self.key):
            self.writer.write(data)

    def complete(self, last: bytes) -> None:
        with self.store._calls("write", self.key):
            if self.writer is None:
                from google.cloud.storage.retry import DEFAULT_RETRY

                # One request with the whole (small) object: safe to repeat, so retried.
                self.store.handle.blob(self.key).upload_from_string(
                    last, content_type=self.content_type, retry=DEFAULT_RETRY
                )
                return
            self.writer.write(last)
            self.writer.close()

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.discard()
            self.writer = None
