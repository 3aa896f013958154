"""Azure Blob Storage (and Azurite) through Airflow's ``WasbHook`` and its ``BlobServiceClient``."""

from __future__ import annotations

import base64
import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_ango.exceptions import (
    BucketError,
    BucketNotFoundError,
    BucketObjectNotFoundError,
    BucketUriError,
)
from airflow_provider_ango.hooks.bucket.address import azure_public_base
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
    from airflow.providers.microsoft.azure.hooks.wasb import WasbHook

log = logging.getLogger(__name__)

#: How long ``publish`` waits for a copy Azure scheduled asynchronously (same-account copies
#: normally finish before the copy call answers).
COPY_TIMEOUT_SECONDS = 3600.0


def _widen_transport(client: Any, size: int) -> None:
    """Open the client's ``RequestsTransport`` session now (no request is sent) and widen its pool.

    azure-core opens the session on the first request, which several threads at once would each
    do; opening it here, on one thread, gives them all one session. The transport is reached
    through the client's pipeline (no public accessor); another transport is left as it is.
    """
    transport = getattr(getattr(client, "_pipeline", None), "_transport", None)
    if transport is None or not callable(getattr(transport, "open", None)):
        log.debug("No requests transport found on %s; its connection pool is left as it is", type(client))
        return
    transport.open()
    session = getattr(transport, "session", None)
    if session is not None:
        widen_session(session, size)


def _error_code(exc: Exception) -> str:
    """The storage error code (``BlobNotFound``...) the Azure SDK attaches to its errors."""
    return str(getattr(exc, "error_code", None) or "")


class AzureStore(Store):
    """One Azure Blob container."""

    max_parts = 50_000  # committed blocks per blob
    # azure-storage-blob gathers a ranged download as many small pieces joined at the end, peaking
    # at about nine times the range in Python memory (measured: 75 MB for 8 MiB); 4 MiB is also
    # the SDK's own chunk size for downloads.
    max_read_request = 4 * 1024 * 1024

    @property
    def airflow_hook(self) -> WasbHook:
        def build() -> WasbHook:
            from airflow.providers.microsoft.azure.hooks.wasb import WasbHook

            check_connection("azure", self.conn_id)
            return WasbHook(wasb_conn_id=self.conn_id)

        return self._built("airflow_hook", build)

    @property
    def service(self) -> Any:
        """The connection's ``BlobServiceClient``, checked against the account the URI names.

        Shared by every thread (Azure SDK clients are thread-safe); its container and blob clients
        share its pipeline and so its transport's ``requests`` session, widened to ``pool_size``.
        """
        return self._built("service", self._new_service)

    def _new_service(self) -> Any:
        client = self.airflow_hook.blob_service_client
        wanted = self.location.account
        actual = str(getattr(client, "account_name", "") or "").lower()
        if wanted and actual and wanted != actual:
            raise BucketUriError(
                f"{self.describe()} names storage account {wanted!r}, but connection {self.conn_id!r} "
                f"is for account {actual!r}: pass a conn_id for {wanted!r}, or fix the account in the URI"
            )
        _widen_transport(client, self.pool_size)
        return client

    @property
    def container(self) -> Any:
        return self._built("container", lambda: self.service.get_container_client(self.bucket))

    def _warm(self) -> None:
        self.container  # noqa: B018  (client, session and container client built now, on this thread)

    def _widen_pool(self, size: int) -> None:
        if "service" in self.__dict__:
            _widen_transport(self.__dict__["service"], size)

    def blob(self, full_key: str) -> Any:
        return self.container.get_blob_client(full_key)

    @contextmanager
    def _calls(self, action: str, full_key: str | None = None) -> Iterator[None]:
        """Turn azure-core errors into :class:`BucketError` naming the object and the fix."""
        from azure.core.exceptions import (
            AzureError,
            ClientAuthenticationError,
            HttpResponseError,
            ResourceModifiedError,
            ResourceNotFoundError,
        )

        what = self.describe(full_key)
        try:
            yield
        except ResourceNotFoundError as exc:
            if full_key is None or _error_code(exc) == "ContainerNotFound":
                raise BucketNotFoundError(
                    f"Azure container {self.bucket!r} does not exist for connection {self.conn_id!r}: "
                    "create it, or fix the container in the URI"
                ) from safe_cause(exc)
            raise object_missing(what, action) from safe_cause(exc)
        except ClientAuthenticationError as exc:
            raise BucketError(
                f"Could not {action} {what}: access denied ({_error_code(exc) or exc.status_code}). Give the "
                f"identity of connection {self.conn_id!r} access to container {self.bucket!r}, or pass a "
                "conn_id that has it"
            ) from safe_cause(exc)
        except ResourceModifiedError as exc:
            raise BucketError(
                f"Could not {action} {what}: it was overwritten meanwhile; try again"
            ) from safe_cause(exc)
        except HttpResponseError as exc:
            raise BucketError(
                f"Could not {action} {what}: {exc.status_code} {_error_code(exc)}".rstrip()
            ) from safe_cause(exc)
        except AzureError as exc:
            detail = truncate(scrub_text(str(exc.message)))
            raise BucketError(
                f"Could not {action} {what} via connection {self.conn_id!r}: {type(exc).__name__}: {detail}"
            ) from safe_cause(exc)

    def list_objects(self, prefix: str, *, recursive: bool, page_size: int) -> Iterator[BucketObject]:
        from azure.storage.blob import BlobPrefix

        options: dict[str, Any] = {
            "name_starts_with": prefix or None,
            "include": ["metadata"],
            "results_per_page": min(page_size, 5000),
        }
        with self._calls("list"):
            if recursive:
                listing = self.container.list_blobs(**options)
            else:
                listing = self.container.walk_blobs(delimiter="/", **options)
            pages = iter(listing.by_page())
        while True:
            with self._calls("list"):
                page = next(pages, None)
                items = list(page) if page is not None else []  # one page, already fetched
            if page is None:
                return
            for item in items:
                if isinstance(item, BlobPrefix):
                    continue  # a "folder" of a non-recursive listing
                if str((item.metadata or {}).get("hdi_isfolder", "")).lower() == "true":
                    continue  # a directory of an account with a hierarchical namespace (ADLS Gen2)
                settings = item.content_settings
                yield BucketObject(
                    key=item.name,
                    size=int(item.size or 0),
                    etag=str(item.etag).strip('"') if item.etag else None,
                    last_modified=utc(item.last_modified),
                    content_type=settings.content_type if settings is not None else None,
                )

    def url_base(self) -> str:
        parts = urlsplit(str(self.service.primary_endpoint))
        endpoint = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))  # never a SAS token
        return azure_public_base(endpoint, self.location.account, self.bucket)

    def exists(self, full_key: str) -> bool:
        with self._calls("check", full_key):
            return bool(self.blob(full_key).exists())

    def stat(self, full_key: str) -> BucketObject | None:
        try:
            with self._calls("check", full_key):
                properties = self.blob(full_key).get_blob_properties()
        except BucketObjectNotFoundError:
            return None
        return BucketObject(
            key=full_key,
            size=int(properties.size or 0),
            etag=str(properties.etag).strip('"') if properties.etag else None,
            last_modified=utc(properties.last_modified),
            content_type=properties.content_settings.content_type if properties.content_settings else None,
        )

    def open_range(self, full_key: str, start: int, end: int | None, chunk_size: int) -> Iterator[bytes]:
        if end is not None and 0 < end - start <= chunk_size:
            return iter((self._read_once(full_key, start, end),))  # a header: one request, no properties read
        client = self.blob(full_key)
        with self._calls("read", full_key):
            properties = client.get_blob_properties()
        size = int(properties.size or 0)
        stop = size if end is None else min(end, size)
        return self._chunks(client, full_key, start, stop, properties.etag, chunk_size)

    def _read_once(self, full_key: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` in one ranged GET (atomic, so no ETag condition is needed)."""
        from azure.core.exceptions import HttpResponseError

        with self._calls("read", full_key):
            try:
                download = self.blob(full_key).download_blob(
                    offset=start, length=end - start, max_concurrency=1
                )
                return bytes(download.readall())
            except HttpResponseError as exc:
                if exc.status_code == 416:
                    return b""  # the blob exists (a missing one is a 404); the range starts past its end
                raise

    def _chunks(
        self, client: Any, full_key: str, start: int, stop: int, etag: str, chunk_size: int
    ) -> Iterator[bytes]:
        from azure.core import MatchConditions

        def read(first: int, upto: int) -> bytes:
            with self._calls("read", full_key):
                return bytes(
                    client.download_blob(
                        offset=first,
                        length=upto - first,
                        etag=etag,  # every chunk from the same version
                        match_condition=MatchConditions.IfNotModified,
                        max_concurrency=1,
                    ).readall()
                )

        return ranged_chunks(read, start, stop, chunk_size, self.describe(full_key))

    def start_upload(self, full_key: str, content_type: str) -> Upload:
        return _AzureUpload(self, full_key, content_type)

    def delete(self, full_key: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        with self._calls("delete", full_key):
            try:
                self.blob(full_key).delete_blob(delete_snapshots="include")
            except ResourceNotFoundError as exc:
                if _error_code(exc) == "ContainerNotFound":
                    raise
                # already gone: deleting is idempotent

    delete_batch_size = 256  # the most a blob batch request takes

    def delete_many(self, full_keys: Sequence[str]) -> None:
        """One blob batch request for up to 256 deletes; one by one where batches are refused."""
        from azure.core.exceptions import HttpResponseError

        if not full_keys:
            return
        try:
            answers = list(
                self.container.delete_blobs(
                    *full_keys, delete_snapshots="include", raise_on_any_failure=False
                )
            )
        except HttpResponseError:  # e.g. an endpoint without blob batch support
            answers = []
        if len(answers) != len(full_keys):
            for key in full_keys:
                self.delete(key)
            return
        failed = [
            key
            for key, answer in zip(full_keys, answers, strict=True)
            if answer.status_code not in {200, 202, 404}
        ]
        for key in failed:
            self.delete(key)  # again alone, to raise an error that names it and the cause

    def copy(self, source_key: str, dest_key: str) -> None:
        source = self.blob(source_key)
        dest = self.blob(dest_key)
        with self._calls(f"copy {self.describe(source_key)} to", dest_key):
            answer = self._start_copy(source, dest, source_key)
            status = str(answer.get("copy_status") or "")
            copy_id = answer.get("copy_id")
            delay, deadline = 0.05, time.monotonic() + COPY_TIMEOUT_SECONDS
            while status == "pending":
                if time.monotonic() > deadline:
                    dest.abort_copy(copy_id)
                    raise BucketError(
                        f"Copy to {self.describe(dest_key)} did not finish in {COPY_TIMEOUT_SECONDS:.0f}s"
                    )
                time.sleep(delay)  # Azure scheduled the copy; poll with backoff
                delay = min(delay * 2, 2.0)
                copy = dest.get_blob_properties().copy
                if copy.id != copy_id:
                    raise BucketError(f"{self.describe(dest_key)} was overwritten while it was being copied")
                status = str(copy.status or "")
        if status != "success":
            raise BucketError(f"Copy to {self.describe(dest_key)} ended with status {status!r}")

    def _start_copy(self, source: Any, dest: Any, source_key: str) -> Any:
        """Copy Blob, same account (authorized by the connection). A missing source is Azure's 404
        ``CannotVerifyCopySource``, told apart from a missing container, with no existence check
        first: that would be a round trip more per publish."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return dest.start_copy_from_url(source.url)
        except ResourceNotFoundError as exc:
            if _error_code(exc) == "ContainerNotFound":
                raise
            raise object_missing(self.describe(source_key), "copy") from safe_cause(exc)


class _AzureUpload(Upload):
    """Blocks staged one part at a time and committed at the end; small objects in one Put Blob.

    Staged blocks stay invisible until the commit; after an abort Azure drops them (uncommitted
    blocks are garbage-collected after a week) and an existing blob at the key is untouched.
    """

    def __init__(self, store: AzureStore, full_key: str, content_type: str) -> None:
        self.store = store
        self.key = full_key
        self.content_type = content_type
        self.session = uuid.uuid4().hex  # block ids are unique per upload and of one length
        self.block_ids: list[str] = []

    def _settings(self) -> Any:
        from azure.storage.blob import ContentSettings

        return ContentSettings(content_type=self.content_type)

    def upload_part(self, data: bytes) -> None:
        number = len(self.block_ids)
        block_id = base64.b64encode(f"{self.session}-{number:08d}".encode()).decode()
        with self.store._calls(f"write block {number + 1} of", self.key):
            self.store.blob(self.key).stage_block(block_id, data, length=len(data))
        self.block_ids.append(block_id)

    def complete(self, last: bytes) -> None:
        if not self.block_ids:
            with self.store._calls("write", self.key):
                self.store.blob(self.key).upload_blob(last, overwrite=True, content_settings=self._settings())
            return
        if last:
            self.upload_part(last)
        from azure.storage.blob import BlobBlock

        with self.store._calls("finish writing", self.key):
            self.store.blob(self.key).commit_block_list(
                [BlobBlock(block_id=block_id) for block_id in self.block_ids],
                content_settings=self._settings(),
            )

    def abort(self) -> None:
        self.block_ids = []  # nothing was committed; the staged blocks expire on their own
