"""The provider's errors: one hierarchy, each naming the item at fault and the fix.

``AngoProviderError`` is the base of everything the provider raises:

- :class:`AngoApiError` and its subclasses: a call to Ango Hub failed (status, method, path and
  Ango's own message; the text is scrubbed of keys and signatures);
- :class:`AngoConfigError`: an argument or an input cannot work, so retrying the task would fail
  the same way (an ``AirflowFailException``, and a ``ValueError``): a connection that does not
  exist, a manifest with bad lines or another run's provenance, pre-labels that do not fit the
  ontology, an input file that is not there, an unknown storage integration;
- :class:`BucketError` and its subclasses: a bucket (S3, GCS, Azure Blob) operation failed;
- the export side's integrity, format and landing errors.

The README's "Errors" section has the table: each type, when it happens, what to do.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_provider_ango.redaction import MAX_MESSAGE_LENGTH, redact_url, scrub_text, truncate


class AngoProviderError(AirflowException):
    """Base of every error the Ango Hub provider raises."""


class AngoConfigError(AngoProviderError, AirflowFailException, ValueError):
    """An argument or input cannot work; the task fails at once instead of being retried."""


class AngoApiError(AngoProviderError):
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
        # Ango's part is cut to MAX_MESSAGE_LENGTH where it is read; room here for the advice after it.
        self.message = truncate(scrub_text(message), 2 * MAX_MESSAGE_LENGTH)
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


class AngoBatchNotFoundError(AngoNotFoundError, AngoConfigError):
    """Batch names or ids that the project does not have (and were not to be created)."""

    @classmethod
    def of(cls, project: Any, missing: list[str], option: str | None = None) -> AngoBatchNotFoundError:
        """The error for ``missing`` refs of ``project`` (a :class:`~.models.api.Project`).

        :param option: the argument that would create missing batches, if the caller has one.
        """
        fix = f"; create them in Ango Hub, or pass {option}" if option else ""
        return cls(
            None,
            "GET",
            f"/v2/project/{project.id}",
            f"batch(es) {', '.join(map(repr, missing))} are not batches of project {project.id} "
            f"(its batches: {project.describe_batches()}); give batch names or ids of that project{fix}",
        )


class AngoIncompleteListingError(AngoProviderError):
    """A listing ended before its ``total`` (the project changed meanwhile): an absence proves nothing."""


class AngoWindowError(AngoConfigError):
    """A time window cannot be computed: no data interval, naive times, or its start after its end."""


class AngoStageError(AngoConfigError):
    """A workflow stage named in a wait is not a stage of the project."""


class AngoExportConfigError(AngoConfigError):
    """An export or landing argument cannot work (retrying would fail the same way)."""


class AngoExportIntegrityError(AngoProviderError):
    """A staged or downloaded export is not what was announced (short, corrupt, wrong checksum)."""


class AngoExportFormatError(AngoProviderError, AirflowFailException):
    """The export's content is not Ango's JSON array / NDJSON export format."""


class AngoLandingError(AngoProviderError):
    """Landing into the destination failed; nothing new is visible at the final prefix."""


class BucketError(AngoProviderError):
    """A bucket operation failed; the message names the bucket or object and what to do."""


class BucketArgumentError(BucketError, ValueError):
    """An argument is wrong (a key, a pattern, a time window, a byte range); nothing was sent."""


class BucketUriError(BucketArgumentError):
    """A bucket URI is malformed, or it does not fit the connection it is used with."""


class BucketObjectNotFoundError(BucketError, FileNotFoundError):
    """The object does not exist at the key."""


class BucketNotFoundError(BucketError):
    """The bucket (or Azure container) itself does not exist for the connection."""


class AngoConnectionNotFoundError(AngoConfigError):
    """An Airflow connection id that is not defined (nor can be found in a secrets backend)."""

    @classmethod
    def of(cls, conn_id: str, kind: str, argument: str, example: str) -> AngoConnectionNotFoundError:
        """The error for ``conn_id`` (``kind``: "Ango Hub", "AWS", ...), set by ``argument``."""
        variable = "AIRFLOW_CONN_" + "".join(c if c.isalnum() else "_" for c in conn_id).upper()
        return cls(
            f"Airflow connection {conn_id!r} ({kind}) does not exist. Create it (Admin > Connections, "
            f"or the environment variable {variable}='{example}'), or set {argument} to a connection "
            "that exists"
        )


class AngoInputNotFoundError(AngoConfigError, FileNotFoundError):
    """A file the task reads (manifest shard, label file, staged export zip) is not there."""


class AngoManifestError(AngoConfigError):
    """A manifest that cannot be imported as it is: bad lines (strict mode) or a wrong provenance."""


class AngoManifestProvenanceError(AngoManifestError):
    """The manifest was built for another project, or by another run of the same DAG."""


class AngoLabelValidationError(AngoConfigError):
    """Pre-labels that do not fit the project (schema, answers, assets); nothing was sent."""


class AngoStorageNotFoundError(AngoConfigError):
    """A ``storage_id`` that is not one of the organization's storage integrations."""


class AngoHookClosedError(AngoProviderError):
    """A call on an Ango Hub hook that was shut because its task is being killed (``on_kill``).

    Raised for the request that was in flight when the clients were closed, and for every later one,
    so that a killed task stops instead of opening new connections. Let Airflow retry the task.
    """


__all__ = [
    "AngoAmbiguousWriteError",
    "AngoApiError",
    "AngoAuthError",
    "AngoBatchNotFoundError",
    "AngoConfigError",
    "AngoConnectionError",
    "AngoConnectionNotFoundError",
    "AngoExportConfigError",
    "AngoExportError",
    "AngoExportFormatError",
    "AngoExportIntegrityError",
    "AngoHookClosedError",
    "AngoIncompleteListingError",
    "AngoInputNotFoundError",
    "AngoLabelValidationError",
    "AngoLandingError",
    "AngoManifestError",
    "AngoManifestProvenanceError",
    "AngoNotFoundError",
    "AngoProviderError",
    "AngoRateLimitError",
    "AngoServerError",
    "AngoStageError",
    "AngoStorageNotFoundError",
    "AngoValidationError",
    "AngoWindowError",
    "BucketArgumentError",
    "BucketError",
    "BucketNotFoundError",
    "BucketObjectNotFoundError",
    "BucketUriError",
    "error_class_for_status",
]
