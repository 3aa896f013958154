"""Stream an export zip from its signed URL into the staging bucket, hashed and checked.

The zip goes through :meth:`AngoHubHook.open_export_stream` (resumed with ``Range`` after
a dropped connection; a body shorter than its ``Content-Length`` is an error) straight into
:meth:`BucketHook.open_write` at a temporary key, never into memory or onto local disk.
While it streams, its SHA-256 is computed and its head and tail are kept
(:mod:`.zipcheck`). Then, before anything is published:

- the stored object's size must equal the bytes received;
- the zip's end record and central directory must be readable and consistent.

Only then is the temporary object published at ``.../export.zip``. A 401/403 from the
signed URL (it expired) or a corrupt zip makes a new export request, at most
``max_url_refreshes`` times. The URL itself is never logged or raised: only its redacted
form (no query string) appears anywhere.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airflow_provider_ango.exceptions import AngoAuthError, AngoExportError, AngoExportIntegrityError
from airflow_provider_ango.exports.records import member_format
from airflow_provider_ango.exports.zipcheck import ZipTail, check_zip_tail
from airflow_provider_ango.hooks.ango import AngoHubHook
from airflow_provider_ango.hooks.bucket import BucketHook
from airflow_provider_ango.models.export import SignedUrl
from airflow_provider_ango.progress import Progress

log = logging.getLogger(__name__)

STAGED_NAME = "export.zip"


@dataclass(frozen=True)
class StagedZip:
    key: str
    uri: str
    sha256: str
    bytes: int
    members: list[str]

    @property
    def formats(self) -> list[str]:
        return sorted({member_format(name) or "?" for name in self.members})


def _download(ango: AngoHubHook, bucket: BucketHook, url: SignedUrl, key: str) -> StagedZip:
    digest = hashlib.sha256()
    collected = ZipTail()
    progress = Progress(log, f"Staging export into {bucket.uri_for(key)}")
    temporary = f"{key}.tmp-{uuid.uuid4().hex[:12]}"
    with ango.open_export_stream(url) as chunks, bucket.open_write(temporary) as out:
        for chunk in chunks:
            digest.update(chunk)
            collected.feed(chunk)
            out.write(chunk)
            progress.advance(nbytes=len(chunk))
    try:
        members = check_zip_tail(collected, f"export downloaded from {url.redacted}")
        stored = bucket.stat(temporary)
        size = stored.size if stored is not None else None
        if size != collected.size:
            raise AngoExportIntegrityError(
                f"{bucket.uri_for(temporary)} holds {size} bytes but {collected.size} were received; "
                "the upload to the staging bucket is incomplete"
            )
        bucket.publish(temporary, key)
    except BaseException:
        bucket.delete(temporary)
        raise
    progress.finish()
    return StagedZip(
        key, bucket.uri_for(key), digest.hexdigest(), collected.size, [m.filename for m in members]
    )


def stage_export(
    ango: AngoHubHook,
    bucket: BucketHook,
    key: str,
    request_url: Callable[[], SignedUrl],
    *,
    first_url: SignedUrl | None = None,
    max_url_refreshes: int = 2,
) -> StagedZip:
    """Download the export into ``bucket`` at ``key``; ``request_url`` asks Ango for a (new) export."""
    url = first_url
    refreshes = 0
    while True:
        if url is None:
            url = request_url()
        try:
            return _download(ango, bucket, url, key)
        except (AngoAuthError, AngoExportIntegrityError) as error:
            refreshes += 1
            if refreshes > max_url_refreshes:
                raise AngoExportError(
                    getattr(error, "status", None),
                    "GET",
                    url.redacted,
                    f"gave up after {refreshes} export requests: {error}. If links expire before "
                    "the download ends, check the worker's bandwidth to Ango's bucket, or raise "
                    "max_url_refreshes",
                ) from error
            log.warning(
                "Export download failed (%s); requesting a new export link (%d of %d)",
                error,
                refreshes,
                max_url_refreshes,
            )
            url = None


def staged_summary(staged: StagedZip, extra: dict[str, Any]) -> dict[str, Any]:
    """The trigger operator's XCom: small, and free of any secret."""
    return {"staging_uri": staged.uri, "sha256": staged.sha256, "bytes": staged.bytes, **extra}


__all__ = ["STAGED_NAME", "StagedZip", "stage_export", "staged_summary"]
