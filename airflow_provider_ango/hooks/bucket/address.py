"""Addressing: bucket URIs in, object URLs for Ango out. Pure functions, no I/O."""

from __future__ import annotations

import mimetypes
import posixpath
import re
from urllib.parse import quote, urlsplit, urlunsplit

from airflow_provider_ango.hooks.bucket.base import (
    BucketArgumentError,
    BucketLocation,
    BucketUriError,
    StoreKind,
)

ACCEPTED_FORMS = (
    "s3://<bucket>[/<prefix>]  (also s3a://; MinIO and S3-compatible stores through the AWS "
    "connection's endpoint_url)",
    "gs://<bucket>[/<prefix>]  (also gcs://)",
    "wasb://<container>@<account>[/<prefix>]  (also wasbs://; <account> or <account>.blob.core.windows.net)",
    "az://<container>[/<prefix>]  (the account comes from the connection)",
    "abfs://<container>@<account>.dfs.core.windows.net[/<prefix>]  (also abfss://)",
)

_SCHEMES: dict[str, StoreKind] = {
    "s3": "s3",
    "s3a": "s3",
    "gs": "gcs",
    "gcs": "gcs",
    "wasb": "azure",
    "wasbs": "azure",
    "az": "azure",
    "abfs": "azure",
    "abfss": "azure",
}

_URI = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/]*)(?:/(?P<path>.*))?", re.DOTALL)
# Loose on purpose: the stores check their own naming rules; this only catches what cannot be a name.
_BUCKET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._$-]{0,221}")
_ACCOUNT_NAME = re.compile(r"[a-z0-9]{3,24}")
_AZURE_SUFFIXES = (".blob.core.windows.net", ".dfs.core.windows.net")


def _bad(uri: str, why: str) -> BucketUriError:
    forms = "\n  ".join(ACCEPTED_FORMS)
    return BucketUriError(f"Bad bucket URI {uri!r}: {why}. Accepted forms:\n  {forms}")


def parse_bucket_uri(uri: str) -> BucketLocation:
    """Parse a bucket URI into a :class:`BucketLocation`.

    The path after the bucket is taken literally as a key prefix (no percent-decoding: write keys
    as they are stored) and made a folder: ``s3://b/incoming`` and ``s3://b/incoming/`` are the same
    root ``incoming/``. A query string is not part of any accepted form.
    """
    if not isinstance(uri, str) or not uri.strip():
        raise _bad(str(uri), "it is empty")
    match = _URI.fullmatch(uri.strip())
    if match is None:
        raise _bad(uri, "it has no '<scheme>://'")
    scheme = match["scheme"].lower()
    kind = _SCHEMES.get(scheme)
    if kind is None:
        raise _bad(uri, f"unknown scheme {scheme!r}")
    authority = match["authority"]
    path = match["path"] or ""
    if "?" in authority or "#" in authority:
        raise _bad(uri, "a query string or fragment is not part of a bucket URI")

    account: str | None = None
    bucket = authority
    if kind == "azure":
        bucket, account = _split_azure_authority(uri, scheme, authority)
    elif "@" in authority or ":" in authority:
        raise _bad(uri, f"{scheme}:// takes a bare bucket name (no user, account or port)")
    if not bucket:
        raise _bad(uri, "the bucket (or container) name is missing")
    if not _BUCKET_NAME.fullmatch(bucket):
        raise _bad(uri, f"{bucket!r} is not a valid bucket or container name")

    prefix = path if not path or path.endswith("/") else path + "/"
    return BucketLocation(kind=kind, bucket=bucket, prefix=prefix, account=account)


def _split_azure_authority(uri: str, scheme: str, authority: str) -> tuple[str, str | None]:
    container, at, host = authority.partition("@")
    if not at:
        if scheme in {"wasb", "wasbs"}:
            raise _bad(uri, f"{scheme}:// needs '<container>@<account>'")
        return container, None
    host = host.lower()
    for suffix in _AZURE_SUFFIXES:
        if host.endswith(suffix):
            host = host[: -len(suffix)]
            break
    if not _ACCOUNT_NAME.fullmatch(host):
        raise _bad(uri, f"{host!r} is not a storage account name (3-24 lower-case letters and digits)")
    return container, host


def join_key(prefix: str, key: str, *, for_write: bool = False) -> str:
    """The whole key of ``key`` under the root ``prefix``, refusing keys that cannot be objects."""
    if not isinstance(key, str) or not key:
        raise BucketArgumentError(f"An object key must be a non-empty string, got {key!r}")
    if for_write and key.endswith("/"):
        raise BucketArgumentError(
            f"Key {key!r} ends with '/': listings treat that as a folder placeholder; "
            "write objects under names that do not end with '/'"
        )
    return prefix + key


def encode_key(key: str) -> str:
    """Percent-encode a key for a URL path, UTF-8: ``/`` kept, space as ``%20``, ``+#?%&`` encoded.

    ``urllib.parse.unquote`` of the result gives the key back.
    """
    return quote(key, safe="/", encoding="utf-8", errors="strict")


def endpoint_base(endpoint: str, bucket: str) -> str:
    """``<endpoint>/<bucket>/`` for path-style stores (MinIO, emulators), dropping any query string."""
    parts = urlsplit(endpoint)
    if not parts.scheme or not parts.netloc:
        raise BucketUriError(f"Storage endpoint {parts.netloc or '?'} has no scheme://host form")
    host = parts.netloc.rpartition("@")[2]  # never carry user:password into a URL for Ango
    base = urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))
    return f"{base}/{quote(bucket, safe='')}/"


def s3_region(location_constraint: str | None) -> str:
    """The region of a bucket from ``GetBucketLocation``'s answer (None/"" is us-east-1, EU is eu-west-1)."""
    if not location_constraint:
        return "us-east-1"
    if location_constraint == "EU":
        return "eu-west-1"
    return location_constraint


def s3_virtual_host_base(bucket: str, region: str | None) -> str:
    """``https://<bucket>.s3.<region>.amazonaws.com/``: the form Ango documents for private S3 objects."""
    region = s3_region(region)
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://{bucket}.s3.{region}.{domain}/"


def s3_object_url(bucket: str, key: str, region: str | None) -> str:
    """The Ango URL of an object on AWS S3 (whole key; region None or "" means us-east-1)."""
    return s3_virtual_host_base(bucket, region) + encode_key(key)


def is_aws_endpoint(endpoint: str | None) -> bool:
    """Whether a boto3 endpoint is AWS itself rather than MinIO or another S3-compatible store."""
    if not endpoint:
        return True
    host = (urlsplit(endpoint).hostname or "").lower()
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn")) or host == "amazonaws.com"


def azure_public_base(endpoint: str, account: str | None, container: str) -> str:
    """``https://<account>.blob.core.windows.net/<container>/`` for public Azure, else the endpoint form."""
    host = (urlsplit(endpoint).hostname or "").lower()
    if host.endswith(".blob.core.windows.net"):
        name = account or host.split(".", 1)[0]
        return f"https://{name}.blob.core.windows.net/{quote(container, safe='')}/"
    return endpoint_base(endpoint, container)


def content_type_for(key: str) -> str:
    """From the key's extension only (``mimetypes`` would read a key like ``data:...`` as a URL)."""
    extension = posixpath.splitext(key)[1]
    guessed = mimetypes.guess_type("object" + extension, strict=False)[0] if extension else None
    return guessed or "application/octet-stream"
