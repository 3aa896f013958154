"""Typed errors raised when talking to Ango Hub.

Every error carries the HTTP status (``None`` when no answer came back), the method, the
path of the call and Ango's own message. Their text is built to be safe to log: any URL in
it loses its query string (signed export URLs carry their signature there), and the
transport replaces the API key and other known secrets before an error is built.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from airflow.exceptions import AirflowException

#: Ango's messages can be whole HTML error pages; keep enough to diagnose, not a page.
MAX_MESSAGE_LENGTH = 500

_REDACTED = "***"
# A URL up to its query; the query (and fragment) is what a signed URL's signature lives in.
_URL_WITH_QUERY = re.compile(r"(?P<base>https?://[^\s?#\"'<>]+)[?#][^\s\"'<>]*", re.IGNORECASE)
# Signature parameters that show up without their URL (S3, GCS, Azure SAS, generic tokens).
_SIGNATURE_PARAM = re.compile(
    r"\b(?P<name>X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|X-Goog-Signature|X-Goog-Credential"
    r"|Signature|sig|token|apikey|api_key)=[^\s&\"'<>]+",
    re.IGNORECASE,
)


def redact_url(url: str) -> str:
    """Return ``url`` without its query string or fragment, marking that something was removed."""
    base, sep, _rest = url.partition("?")
    base, hash_sep, _fragment = base.partition("#")
    return f"{base}?<redacted>" if (sep or hash_sep) else base


def scrub_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove known secret values, URL query strings and signature parameters from ``text``."""
    for secret in secrets:
        # Very short values would blank out ordinary words; real keys and signatures are long.
        if secret and len(secret) >= 6:
            text = text.replace(secret, _REDACTED)
    text = _URL_WITH_QUERY.sub(lambda match: f"{match.group('base')}?<redacted>", text)
    return _SIGNATURE_PARAM.sub(lambda match: f"{match.group('name')}={_REDACTED}", text)


def truncate(text: str, limit: int = MAX_MESSAGE_LENGTH) -> str:
    """Cut ``text`` to ``limit`` characters, saying how much was dropped."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit} more characters]"


class AngoApiError(AirflowException):
    """A call to Ango Hub failed.

    :param status: HTTP status of the answer, or ``None`` when the server never answered.
    :param method: HTTP method of the call.
    :param path: path of the call; any query string is dropped before it is stored.
    :param message: Ango's message (or a description of the transport failure).
    :param retry_after: seconds the server asked us to wait, when it said so.
    """

    def __init__(
        self,
        status: int | None,
        method: str,
        path: str,
        message: str,
        *,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.method = method.upper()
        self.path = redact_url(path)
        self.message = truncate(scrub_text(message))
        self.retry_after = retry_after
        super().__init__(str(self))

    def __str__(self) -> str:
        status = f"HTTP {self.status}" if self.status is not None else "no answer"
        return f"Ango Hub {self.method} {self.path} failed ({status}): {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Exceptions cross process boundaries (triggerer, task runner); rebuild with our own arguments.
        return (
            _rebuild_error,
            (type(self), self.status, self.method, self.path, self.message, self.retry_after),
        )

    def serialize(self) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
        cls = type(self)
        return (
            f"{cls.__module__}.{cls.__name__}",
            (self.status, self.method, self.path, self.message),
            {"retry_after": self.retry_after},
        )


def _rebuild_error(
    cls: type[AngoApiError],
    status: int | None,
    method: str,
    path: str,
    message: str,
    retry_after: float | None,
) -> AngoApiError:
    return cls(status, method, path, message, retry_after=retry_after)


class AngoAuthError(AngoApiError):
    """401/403: the API key is wrong, revoked, or lacks rights on this resource (or a signed URL expired)."""


class AngoNotFoundError(AngoApiError):
    """404: the project, task, storage or batch does not exist (or the key cannot see it)."""


class AngoValidationError(AngoApiError):
    """400/422: Ango refused the request body or parameters."""


class AngoRateLimitError(AngoApiError):
    """429 that outlasted the retry budget; ``retry_after`` says how long Ango asked to wait."""


class AngoServerError(AngoApiError):
    """5xx that outlasted the retry budget (or was not retried because the call is not idempotent)."""


class AngoConnectionError(AngoApiError):
    """No usable answer: connection refused, timeout or dropped connection, after the retry budget."""


class AngoAmbiguousWriteError(AngoApiError):
    """A non-idempotent write may or may not have been applied.

    Raised instead of re-sending a POST (cloud import, label import, project creation, requeue)
    after a failure that does not prove the server ignored the request: a read timeout, a
    connection dropped after the body was sent, or a 500/502/504. The caller must look at
    Ango's state (list assets by externalId, list projects, ...) before sending it again.
    """


class AngoExportError(AngoApiError):
    """The export answer or download was unusable (no ``exportPath``, corrupt or short download)."""


def error_class_for_status(status: int) -> type[AngoApiError]:
    """Map an HTTP status to the most specific error class."""
    if status in (401, 403):
        return AngoAuthError
    if status == 404:
        return AngoNotFoundError
    if status in (400, 409, 422):
        return AngoValidationError
    if status == 429:
        return AngoRateLimitError
    if status >= 500:
        return AngoServerError
    return AngoApiError


__all__ = [
    "AngoAmbiguousWriteError",
    "AngoApiError",
    "AngoAuthError",
    "AngoConnectionError",
    "AngoExportError",
    "AngoNotFoundError",
    "AngoRateLimitError",
    "AngoServerError",
    "AngoValidationError",
    "error_class_for_status",
    "redact_url",
    "scrub_text",
    "truncate",
]
