"""Why layout="delta" cannot be tested on gcp-storage-emulator, shown rather than skipped.

delta-rs reaches GCS through Rust's ``object_store``, which speaks GCS's XML API: objects are
read as ``GET /<bucket>/<percent-encoded path>`` and listed as ``GET /<bucket>?list-type=2``.
gcp-storage-emulator serves the JSON API only and answers both ``501 Not Implemented``; every
Delta operation starts by reading ``_delta_log/_last_checkpoint`` and listing ``_delta_log/``,
so none can run against it. The credentials and endpoint do reach it: a
service-account-free, anonymous connection becomes ``google_skip_signature`` and the
emulator's address ``google_base_url``. The Parquet layout, which writes through the
provider's own GCS hook (JSON API), works there (test_parquet_tables).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import TYPE_CHECKING

import pytest

from airflow_provider_ango.exceptions import AngoLandingError
from airflow_provider_ango.exports.tables import commit_delta_tables
from tests.exports.tables.conftest import START, Answer, records_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_ango.testing.plugin import TestBucket

pytestmark = pytest.mark.emulator


def test_gcp_storage_emulator_cannot_serve_delta_rs_and_the_error_says_why(
    new_bucket: Callable[[str], TestBucket],
) -> None:
    from airflow_provider_ango.exports.tables.storage import storage_options
    from airflow_provider_ango.hooks.bucket import BucketHook, parse_bucket_uri

    bucket = new_bucket("gcs")
    endpoint = bucket.emulator.endpoint
    options = storage_options(parse_bucket_uri(bucket.uri), bucket.conn_id)
    assert options.as_dict() == {
        "google_skip_signature": "true",
        "google_base_url": endpoint,
        "allow_http": "true",
    }

    # The two requests delta-rs sends first, by hand: the emulator implements neither.
    encoded = "".join(f"%{byte:02X}" if chr(byte) in "-_/" else chr(byte) for byte in bucket.name.encode())
    first_read = f"{endpoint}/{encoded}/lake%2Ftasks%2F%5Fdelta%5Flog%2F%5Flast%5Fcheckpoint"
    listing = f"{endpoint}/{bucket.name}?list-type=2&prefix=lake%2Ftasks%2F_delta_log%2F"
    for request in (first_read, listing):
        with pytest.raises(urllib.error.HTTPError) as answered:
            urllib.request.urlopen(request, timeout=10)  # noqa: S310 - loopback emulator
        assert answered.value.code == 501, request

    with pytest.raises(AngoLandingError) as raised:
        commit_delta_tables(
            records_of(("a", Answer(boxes=[("car", 1)]), START)),
            f"{bucket.uri}/lake/",
            conn_id=bucket.conn_id,
        )

    message = str(raised.value)
    assert message.startswith(f"Could not open Delta table {bucket.uri}/lake/tasks: ")
    assert "Error performing GET" in message
    assert "%5Flast%5Fcheckpoint" in message  # the path as object_store encodes it
    assert "501 Not Implemented" in message
    assert "answers delta-rs's XML-API reads and listings 501" in message
    assert "\x1b[" not in message
    assert list(BucketHook.from_uri(bucket.uri, bucket.conn_id).iter_objects()) == []
