"""Streaming download of a signed export URL, resumed with ``Range`` after a dropped connection.

The export zip can be gigabytes: it is never held in memory. Bytes are handed out as they
arrive; when the connection drops (or the body ends short of ``Content-Length``), the next
request asks for ``bytes=<received>-`` and carries on. The signed URL is a bearer secret:
it only ever appears in logs and errors without its query string, and no API key is sent
with it (it may point at a third-party bucket).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, MutableSet
from contextlib import contextmanager

import httpx

from airflow_provider_ango.exceptions import (
    AngoApiError,
    AngoAuthError,
    AngoConnectionError,
    AngoExportError,
    error_class_for_status,
)
from airflow_provider_ango.hooks.ango.connection import http_timeout, user_agent
from airflow_provider_ango.hooks.ango.http_logging import provider_requests
from airflow_provider_ango.hooks.ango.transport import (
    RETRYABLE_STATUSES,
    RetryPolicy,
    full_jitter_backoff,
    parse_retry_after,
)
from airflow_provider_ango.redaction import redact_url, safe_cause

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_NO_RETRY_ERRORS = (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.ProxyError, httpx.LocalProtocolError)


class _DownloadInterruptedError(Exception):
    """The body stopped early or the server answered with a retryable status."""

    def __init__(self, reason: str, error: AngoApiError, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error
        self.retry_after = retry_after


@contextmanager
def open_signed_url(
    url: str,
    policy: RetryPolicy,
    log: logging.Logger,
    *,
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
    chunk_size: int = 1 << 20,
    streams: MutableSet[httpx.Client] | None = None,
) -> Iterator[Iterator[bytes]]:
    """:func:`iter_signed_url` over a client of its own, closed on exit (and kept in ``streams``
    while open, so that the hook can close it from ``on_kill``)."""
    # No apikey header here: the URL signs itself and may point at a third-party bucket.
    headers = {"User-Agent": user_agent()}
    with httpx.Client(headers=headers, timeout=http_timeout(timeout), follow_redirects=True) as client:
        if streams is not None:
            streams.add(client)
        chunks = iter_signed_url(client, url, policy=policy, log=log, sleep=sleep, chunk_size=chunk_size)
        try:
            yield chunks
        finally:
            chunks.close()  # type: ignore[attr-defined]
            if streams is not None:
                streams.discard(client)


def iter_signed_url(
    client: httpx.Client,
    url: str,
    *,
    policy: RetryPolicy,
    log: logging.Logger,
    sleep: Callable[[float], None] = time.sleep,
    chunk_size: int = 1 << 20,
) -> Iterator[bytes]:
    """Yield the bytes at ``url`` in order, exactly once each, resuming after interruptions.

    Chunks are gathered up to ``chunk_size`` bytes, but whatever arrived before a connection
    dropped is handed out before resuming, so a resume starts at the last byte received, whatever
    the size of the cut. Gives up (raising the last error) after ``policy.max_retries``
    interruptions in a row without progress, or when the next wait would pass
    ``policy.max_elapsed`` seconds.
    """
    shown_url = redact_url(url)
    received = 0
    total: int | None = None
    validator: str | None = None
    failures_without_progress = 0
    started = time.monotonic()
    while True:
        headers = {"Accept-Encoding": "identity"}  # byte offsets must be offsets into the file itself
        if received:
            headers["Range"] = f"bytes={received}-"
            if validator:
                headers["If-Range"] = validator
        progress_at_start = received
        pending = bytearray()
        interruption: _DownloadInterruptedError | None = None
        try:
            with provider_requests():
                response = client.send(client.build_request("GET", url, headers=headers), stream=True)
            try:
                skip = _check_answer(response, received, validator, shown_url)
                total = total if total is not None else _total_length(response)
                validator = validator or response.headers.get("ETag") or response.headers.get("Last-Modified")
                # iter_raw() without a size hands out what each read returns: nothing waits in httpx's
                # buffer when the connection drops.
                for piece in response.iter_raw():
                    if skip:
                        # The server ignored Range and resent from byte 0: drop what we already gave out.
                        dropped = min(skip, len(piece))
                        piece, skip = piece[dropped:], skip - dropped
                        if not piece:
                            continue
                    pending += piece
                    if len(pending) >= chunk_size:
                        received += len(pending)
                        chunk, pending = bytes(pending), bytearray()
                        yield chunk
            finally:
                response.close()
            if total is not None and received + len(pending) < total:
                raise _DownloadInterruptedError(
                    "body ended early",
                    AngoExportError(
                        None, "GET", shown_url, f"download ended at byte {received + len(pending)} of {total}"
                    ),
                )
        except httpx.HTTPError as error:
            if isinstance(error, _NO_RETRY_ERRORS):
                raise AngoConnectionError(None, "GET", shown_url, type(error).__name__) from safe_cause(error)
            interruption = _DownloadInterruptedError(
                type(error).__name__,
                AngoConnectionError(
                    None, "GET", shown_url, f"{type(error).__name__} after {received + len(pending)} bytes"
                ),
            )
        except _DownloadInterruptedError as raised:
            interruption = raised
        if pending:
            # What arrived before the cut is good data: hand it out, and resume after it.
            received += len(pending)
            yield bytes(pending)
        if interruption is None:
            return
        failures_without_progress = 0 if received > progress_at_start else failures_without_progress + 1
        wait = (
            interruption.retry_after
            if interruption.retry_after is not None
            else full_jitter_backoff(failures_without_progress or 1, policy)
        )
        out_of_budget = time.monotonic() - started + wait >= policy.max_elapsed
        if failures_without_progress > policy.max_retries or out_of_budget:
            raise interruption.error
        log.warning(
            "Export download GET %s interrupted (%s) at byte %d; resuming in %.2f s",
            shown_url,
            interruption.reason,
            received,
            wait,
        )
        sleep(wait)


def _check_answer(response: httpx.Response, received: int, validator: str | None, shown_url: str) -> int:
    """Validate a (resumed) answer; return how many leading bytes to drop."""
    status = response.status_code
    if status in RETRYABLE_STATUSES:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        error = error_class_for_status(status)(status, "GET", shown_url, "export download refused for now")
        raise _DownloadInterruptedError(f"HTTP {status}", error, retry_after)
    if status in (401, 403):
        raise AngoAuthError(
            status,
            "GET",
            shown_url,
            "signed export URL refused: it has probably expired; request a new export",
        )
    if status == 416 and received:
        raise AngoExportError(
            status, "GET", shown_url, f"cannot resume at byte {received}: range not satisfiable"
        )
    if not response.is_success:
        raise error_class_for_status(status)(status, "GET", shown_url, "export download failed")
    if not received:
        return 0
    if status == 200:
        current = response.headers.get("ETag") or response.headers.get("Last-Modified")
        if validator and current and current != validator:
            raise AngoExportError(
                status, "GET", shown_url, "export file changed while it was being downloaded"
            )
        return received
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    if status != 206 or match is None or int(match.group(1)) != received:
        raise AngoExportError(
            status, "GET", shown_url, f"resume at byte {received} answered with an unexpected range"
        )
    return 0


def _total_length(response: httpx.Response) -> int | None:
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    if match and match.group(3) != "*":
        return int(match.group(3))
    length = response.headers.get("Content-Length")
    if response.status_code == 200 and length and length.isdigit():
        return int(length)
    return None
