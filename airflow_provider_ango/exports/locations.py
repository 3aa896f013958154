"""Bucket URIs as (hook at the bucket's root, whole-key prefix) pairs.

The export side writes to sibling prefixes (a temporary folder beside the destination), so
it works with a :class:`BucketHook` bound to the bucket's root and whole keys, rather than
one hook per prefix.
"""

from __future__ import annotations

from dataclasses import replace

from airflow_provider_ango.exceptions import AngoExportConfigError
from airflow_provider_ango.hooks.bucket import BucketHook, BucketUriError, parse_bucket_uri


def bucket_root(uri: str, conn_id: str | None, what: str) -> tuple[BucketHook, str]:
    """``(hook at the root of the bucket in uri, the uri's key prefix ending with '/' or '')``."""
    try:
        location = parse_bucket_uri(uri)
    except BucketUriError as error:
        raise AngoExportConfigError(f"{what}: {error}") from error
    return BucketHook(replace(location, prefix=""), conn_id), location.prefix


def object_in_bucket(uri: str, conn_id: str | None, what: str) -> tuple[BucketHook, str]:
    """``(hook at the bucket's root, whole key)`` of an object URI such as ``s3://b/x/export.zip``."""
    hook, prefix = bucket_root(uri, conn_id, what)
    key = prefix.rstrip("/")
    if not key:
        raise AngoExportConfigError(f"{what}: {uri!r} names a bucket, not an object")
    return hook, key


__all__ = ["bucket_root", "object_in_bucket"]
