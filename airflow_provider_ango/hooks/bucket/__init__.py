"""BucketHook: one streaming face over S3 (and MinIO), Google Cloud Storage and Azure Blob Storage.

``hook`` is the face users call; ``s3``, ``gcs`` and ``azure`` are the stores behind it (each
imports its cloud SDK only when used); ``base`` is what every store provides, ``address`` parses
bucket URIs and builds object URLs, ``select`` filters listings (globs, time window) and
``streams`` turns ranged reads and part uploads into file-like streams; ``parallel`` is the one
bounded, ordered map every per-object step runs on, and ``pools`` fits the SDKs' connection pools
to it. Only the store modules do I/O.
"""

from __future__ import annotations

from airflow_provider_ango.hooks.bucket.address import (
    ACCEPTED_FORMS,
    encode_key,
    parse_bucket_uri,
    s3_object_url,
)
from airflow_provider_ango.hooks.bucket.base import (
    BucketArgumentError,
    BucketError,
    BucketLocation,
    BucketObject,
    BucketObjectNotFoundError,
    BucketUriError,
)
from airflow_provider_ango.hooks.bucket.hook import BucketHook
from airflow_provider_ango.hooks.bucket.parallel import (
    DEFAULT_MAX_CONCURRENCY,
    check_concurrency,
    ordered_map,
)
from airflow_provider_ango.hooks.bucket.select import glob_to_regex
from airflow_provider_ango.hooks.bucket.streams import BucketWriter

__all__ = [
    "ACCEPTED_FORMS",
    "DEFAULT_MAX_CONCURRENCY",
    "BucketArgumentError",
    "BucketError",
    "BucketHook",
    "BucketLocation",
    "BucketObject",
    "BucketObjectNotFoundError",
    "BucketUriError",
    "BucketWriter",
    "check_concurrency",
    "encode_key",
    "glob_to_regex",
    "ordered_map",
    "parse_bucket_uri",
    "s3_object_url",
]
