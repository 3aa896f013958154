"""httpx and httpcore log lines of the provider's own requests, scrubbed of signatures and keys.

httpx logs every request at INFO (``HTTP Request: GET <url> "HTTP/1.1 200 OK"``), the whole URL
included, and Airflow's default level is INFO: a signed export URL would reach the task log with
its signature. Setting the ``httpx`` logger to WARNING would also silence the user's own httpx
clients, so instead a filter on the httpx and httpcore loggers rewrites only the records emitted
*during a request the provider sends* (a context variable set around the send, which follows the
call into async tasks too): URL query strings, signature parameters and the API keys the provider
holds are replaced. Records of other clients pass untouched.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from airflow_provider_ango.redaction import scrub_text

#: The loggers httpx and httpcore write to (httpcore logs on one child logger per module).
HTTP_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)

_in_provider_request: ContextVar[bool] = ContextVar("ango_provider_request", default=False)
_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


class ProviderRequestFilter(logging.Filter):
    """Scrubs a record emitted while the provider sends a request; passes every record on."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _in_provider_request.get():
            with _lock:
                secrets = tuple(_secrets)
            record.msg = scrub_text(record.getMessage(), secrets)
            record.args = ()
        return True


_FILTER = ProviderRequestFilter()


def install() -> None:
    """Attach the filter to the httpx and httpcore loggers (once per process)."""
    global _installed
    with _lock:
        if _installed:
            return
        for name in HTTP_LOGGERS:
            logging.getLogger(name).addFilter(_FILTER)
        _installed = True


def remember_secret(value: str) -> None:
    """A key the filter must blank out of any record (the API keys of the hooks made so far)."""
    if value:
        with _lock:
            _secrets.add(value)


@contextmanager
def provider_requests() -> Iterator[None]:
    """Mark the requests sent inside the block as the provider's (see the module docstring)."""
    install()
    token = _in_provider_request.set(True)
    try:
        yield
    finally:
        _in_provider_request.reset(token)


__all__ = ["HTTP_LOGGERS", "ProviderRequestFilter", "install", "provider_requests", "remember_secret"]
