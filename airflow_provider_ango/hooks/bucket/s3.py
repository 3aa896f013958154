"""S3, MinIO and other S3-compatible stores through Airflow's ``S3Hook`` and its boto3 client."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_ango.exceptions import BucketError, BucketNotFoundError, BucketObjectNotFoundError
from airflow_provider_ango.hooks.bucket.address import (
    endpoint_base,
    is_aws_endpoint,
    s3_region,
    s3_virtual_host_base,
)
from airflow_provider_ango.hooks.bucket.base import (
    BucketObject,
    Store,
    Upload,
    check_connection,
    object_missing,
    utc,
)
from airflow_provider_ango.hooks.bucket.pools import pool_kwargs_for
from airflow_provider_ango.redaction import safe_cause, scrub_text, truncate

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

#: ``CopyObject`` copies up to 5 GiB in one call; past that the copy goes part by part.
COPY_SINGLE_LIMIT = 5 * 1024**3
COPY_PART_SIZE = 512 * 1024**2

#: botocore asks with ``Expect: 100-continue`` before every PUT body, which costs a round trip (20-100
#: ms on a cloud network) to save resending a body the server refuses. Bodies up to this size are
#: sent with their headers: one round trip per small object written instead of two.
SEND_AT_ONCE_LIMIT = 1024**2

_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
_DENIED = {"AccessDenied", "403", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch"}


def _send_small_bodies_at_once(model: Any, params: dict[str, Any], **_: Any) -> None:
    """Drop ``Expect: 100-continue`` from a PUT whose body is at most :data:`SEND_AT_ONCE_LIMIT`.

    (SigV4 never signs ``Expect``, so the signature is the same either way.)"""
    from botocore.utils import determine_content_length

    headers = params.get("headers") or {}
    if model.name != "PutObject" or headers.get("Expect") != "100-continue":
        return
    length = determine_content_length(params.get("body"))
    if length is not None and length <= SEND_AT_ONCE_LIMIT:
        del headers["Expect"]


class S3Store(Store):
    """One S3 bucket. MinIO and S3-compatible stores are reached through the connection's endpoint_url."""

    max_parts = 10_000

    @property
    def airflow_hook(self) -> S3Hook:
        def build() -> S3Hook:
            from airflow.providers.amazon.aws.hooks.s3 import S3Hook

            check_connection("s3", self.conn_id)
            return S3Hook(aws_conn_id=self.conn_id)

        return self._built("airflow_hook", build)

    @property
    def client(self) -> Any:
        """The boto3 client (thread-safe, unlike boto3 sessions and resources), shared by every thread."""
        return self._built("client", self._new_client)

    def _new_client(self) -> Any:
        """S3Hook's client, with ``max_pool_connections`` of at least ``pool_size``.

        The connection's ``config_kwargs`` stay as they are (an explicit ``max_pool_connections``
        included); only a missing pool size is added.
        """
        hook = self.airflow_hook
        extra = pool_kwargs_for(hook.conn_config.extra_config.get("config_kwargs"), self.pool_size)
        if not extra:
            client = hook.get_conn()
        else:
            from botocore.config import Config

            config = hook.config.merge(Config(**extra))
            client = hook.get_client_type(region_name=hook.region_name, config=config)
        # On botocore's own event, and last: after its handler there has added the header.
        client.meta.events.register_last(
            "before-call.s3", _send_small_bodies_at_once, unique_id="ango-send-small-bodies-at-once"
        )
        return client

    def _warm(self) -> None:
        self.client  # noqa: B018  (built now, on this thread)

    def _widen_pool(self, size: int) -> None:
        if "client" in self.__dict__:
            self.__dict__["client"] = self._new_client()  # a botocore pool cannot grow: a new client

    # -- errors -----------------------------------------------------------------------------------

    @contextmanager
    def _calls(self, action: str, full_key: str | None = None) -> Iterator[None]:
        """Turn boto3 errors into :class:`BucketError` naming the object and the fix."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            raise self._client_error(exc, action, full_key) from safe_cause(exc)
        except BotoCoreError as exc:
            detail = truncate(scrub_text(str(exc)))
            if type(exc).__name__ == "NoCredentialsError":
                raise BucketError(
                    f"Could not {action} {self.describe(full_key)}: connection {self.conn_id!r} gives no AWS "
                    "credentials and boto3 found none (environment, instance profile): define the connection "
                    f"(AIRFLOW_CONN_{self.conn_id.upper()}) with a key pair or role, or pass the task's "
                    "*_conn_id argument for this bucket"
                ) from safe_cause(exc)
            raise BucketError(
                f"Could not {action} {self.describe(full_key)} through connection {self.conn_id!r}: "
                f"{detail}; check the connection's endpoint_url, region and credentials, and that the "
                "worker reaches the store"
            ) from safe_cause(exc)

    def _client_error(self, exc: Any, action: str, full_key: str | None) -> BucketError:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "?"))
        what = self.describe(full_key)
        if code in _NOT_FOUND and full_key is not None:
            return object_missing(what, action)
        if code == "NoSuchBucket":
            return BucketNotFoundError(
                f"S3 bucket {self.bucket!r} does not exist for connection {self.conn_id!r}: "
                "create it, or fix the bucket in the URI (or the endpoint_url of the connection)"
            )
        if code in _DENIED:
            return BucketError(
                f"Could not {action} {what}: access denied ({code}). Give the identity of connection "
                f"{self.conn_id!r} access to bucket {self.bucket!r}, or pass a conn_id that has it"
            )
        message = truncate(scrub_text(str(error.get("Message", ""))))
        return BucketError(f"Could not {action} {what}: {code} {message}".rstrip())

    # -- listing and URLs -------------------------------------------------------------------------

    def list_objects(self, prefix: str, *, recursive: bool, page_size: int) -> Iterator[BucketObject]:
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Prefix": prefix,
            "PaginationConfig": {"PageSize": min(page_size, 1000)},
        }
        if not recursive:
            params["Delimiter"] = "/"
        with self._calls("list", prefix):
            pages = iter(self.client.get_paginator("list_objects_v2").paginate(**params))
        while True:
            with self._calls("list", prefix):
                page = next(pages, None)
            if page is None:
                return
            for item in page.get("Contents", ()):
                yield BucketObject(
                    key=item["Key"],
                    size=int(item["Size"]),
                    etag=str(item.get("ETag", "")).strip('"') or None,
                    last_modified=utc(item["LastModified"]),
                    content_type=None,  # ListObjectsV2 returns no content type
                )

    @cached_property
    def endpoint(self) -> str | None:
        """The custom endpoint (MinIO, moto...) or ``None`` when the client talks to AWS itself."""
        configured = self.airflow_hook.conn_config.get_service_endpoint_url("s3")
        endpoint = configured or self.client.meta.endpoint_url
        return None if is_aws_endpoint(endpoint) else str(endpoint)

    @cached_property
    def region(self) -> str:
        """The bucket's own region, looked up once (GetBucketLocation, else HeadBucket's header)."""
        from botocore.exceptions import ClientError

        try:
            answer = self.client.get_bucket_location(Bucket=self.bucket)
            return s3_region(answer.get("LocationConstraint"))
        except ClientError as first:
            try:
                head = self.client.head_bucket(Bucket=self.bucket)
            except ClientError:
                raise self._client_error(first, "find the region of", None) from first
            region = head.get("BucketRegion") or head.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get(
                "x-amz-bucket-region"
            )
            if not region:
                raise BucketError(
                    f"Could not find the region of S3 bucket {self.bucket!r}: give connection "
                    f"{self.conn_id!r} s3:GetBucketLocation on it"
                ) from first
            return str(region)

    def url_base(self) -> str:
        if self.endpoint is not None:
            return endpoint_base(self.endpoint, self.bucket)
        return s3_virtual_host_base(self.bucket, self.region)

    # -- objects ----------------------------------------------------------------------------------

    def exists(self, full_key: str) -> bool:
        try:
            with self._calls("check", full_key):
                self.client.head_object(Bucket=self.bucket, Key=full_key)
        except BucketObjectNotFoundError:
            return False
        return True

    def stat(self, full_key: str) -> BucketObject | None:
        try:
            with self._calls("check", full_key):
                head = self.client.head_object(Bucket=self.bucket, Key=full_key)
        except BucketObjectNotFoundError:
            return None
        return BucketObject(
            key=full_key,
            size=int(head["ContentLength"]),
            etag=str(head.get("ETag", "")).strip('"') or None,
            last_modified=utc(head["LastModified"]),
            content_type=head.get("ContentType"),
        )

    def open_range(self, full_key: str, start: int, end: int | None, chunk_size: int) -> Iterator[bytes]:
        from botocore.exceptions import ClientError

        if end is not None and end <= start:
            if not self.exists(full_key):
                raise object_missing(self.describe(full_key), "read")
            return iter(())
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": full_key}
        if start or end is not None:
            params["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        with self._calls("read", full_key):
            try:
                answer = self.client.get_object(**params)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                    return iter(())  # the object exists; the range starts at or past its end
                raise
        return self._body_chunks(answer["Body"], full_key, chunk_size)

    def _body_chunks(self, body: Any, full_key: str, chunk_size: int) -> Iterator[bytes]:
        try:
            with self._calls("read", full_key):
                yield from body.iter_chunks(chunk_size)
        finally:
            body.close()

    def start_upload(self, full_key: str, content_type: str) -> Upload:
        return _S3Upload(self, full_key, content_type)

    def delete(self, full_key: str) -> None:
        with self._calls("delete", full_key):
            self.client.delete_object(Bucket=self.bucket, Key=full_key)

    def delete_many(self, full_keys: Sequence[str]) -> None:
        if not full_keys:
            return
        with self._calls("delete objects in", None):
            answer = self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in full_keys], "Quiet": True},
            )
        errors = answer.get("Errors") or []
        if errors:
            first = errors[0]
            raise BucketError(
                f"Could not delete {len(errors)} of {len(full_keys)} objects in {self.describe()}; first: "
                f"{self.describe(first.get('Key', '?'))}: {first.get('Code', '?')}"
            )

    def copy(self, source_key: str, dest_key: str) -> None:
        """CopyObject at once (one request); past its 5 GiB limit, a multipart copy part by part.

        S3 refuses CopyObject for a larger source; only then is the source's size looked up (a
        HEAD) and the copy made in ``COPY_PART_SIZE`` parts, its content type and metadata kept.
        """
        from botocore.exceptions import ClientError

        source = {"Bucket": self.bucket, "Key": source_key}
        with self._calls("copy to", dest_key):
            try:
                self.client.copy_object(Bucket=self.bucket, Key=dest_key, CopySource=source)
                return
            except ClientError as exc:
                refused = exc
        code = str(refused.response.get("Error", {}).get("Code", ""))
        if code in _NOT_FOUND:
            raise object_missing(self.describe(source_key), "copy") from safe_cause(refused)
        if code in _DENIED or code == "NoSuchBucket":
            raise self._client_error(refused, "copy to", dest_key) from safe_cause(refused)
        with self._calls("read", source_key):
            head = self.client.head_object(Bucket=self.bucket, Key=source_key)
        size = int(head["ContentLength"])
        if size <= COPY_SINGLE_LIMIT:
            raise self._client_error(refused, "copy to", dest_key) from safe_cause(refused)  # not the size
        upload = _S3Upload(self, dest_key, str(head.get("ContentType") or "application/octet-stream"))
        upload.metadata = dict(head.get("Metadata") or {})
        try:
            for offset in range(0, size, COPY_PART_SIZE):
                last = min(offset + COPY_PART_SIZE, size) - 1
                upload.copy_part(source, f"bytes={offset}-{last}")
            upload.complete(b"")
        except BaseException:
            upload.abort()
            raise


class _S3Upload(Upload):
    """A multipart upload, created with the first full part; small objects go in one PutObject."""

    def __init__(self, store: S3Store, full_key: str, content_type: str) -> None:
        self.store = store
        self.key = full_key
        self.content_type = content_type
        self.metadata: dict[str, str] = {}
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    def _ensure_started(self) -> str:
        if self.upload_id is None:
            with self.store._calls("start writing", self.key):
                answer = self.store.client.create_multipart_upload(
                    Bucket=self.store.bucket,
                    Key=self.key,
                    ContentType=self.content_type,
                    Metadata=self.metadata,
                )
            self.upload_id = str(answer["UploadId"])
        return self.upload_id

    def _record(self, answer: dict[str, Any], number: int) -> None:
        part: dict[str, Any] = {"ETag": answer["ETag"], "PartNumber": number}
        for name, value in answer.items():
            if name.startswith("Checksum") and name != "ChecksumType" and value:
                part[name] = value  # parts sent with checksums must be completed with them
        self.parts.append(part)

    def upload_part(self, data: bytes) -> None:
        upload_id = self._ensure_started()
        number = len(self.parts) + 1
        with self.store._calls(f"write part {number} of", self.key):
            answer = self.store.client.upload_part(
                Bucket=self.store.bucket, Key=self.key, UploadId=upload_id, PartNumber=number, Body=data
            )
        self._record(answer, number)

    def copy_part(self, source: dict[str, str], byte_range: str) -> None:
        upload_id = self._ensure_started()
        number = len(self.parts) + 1
        with self.store._calls(f"copy part {number} to", self.key):
            answer = self.store.client.upload_part_copy(
                Bucket=self.store.bucket,
                Key=self.key,
                UploadId=upload_id,
                PartNumber=number,
                CopySource=source,
                CopySourceRange=byte_range,
            )
        self._record(answer["CopyPartResult"], number)

    def complete(self, last: bytes) -> None:
        if self.upload_id is None:
            with self.store._calls("write", self.key):
                self.store.client.put_object(
                    Bucket=self.store.bucket, Key=self.key, Body=last, ContentType=self.content_type
                )
            return
        if last:
            self.upload_part(last)
        with self.store._calls("finish writing", self.key):
            self.store.client.complete_multipart_upload(
                Bucket=self.store.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": self.parts},
            )

    def abort(self) -> None:
        if self.upload_id is not None:
            with self.store._calls("abort writing", self.key):
                self.store.client.abort_multipart_upload(
                    Bucket=self.store.bucket, Key=self.key, UploadId=self.upload_id
                )
            self.upload_id = None
