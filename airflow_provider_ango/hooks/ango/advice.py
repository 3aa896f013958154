"""What to do about a failed Ango Hub call: the connection, the host and the fix, said in the error.

Ango's own messages are short ("Unauthorized", "Project not found") and name neither the Airflow
connection nor the host the call went to; a user with three regions and two keys cannot tell which
one is wrong. The transport appends :func:`status_advice` or :func:`transport_advice` to every error
it raises (see the README's "Errors" table).
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass

import httpx

# A path's id segment: the project, task or storage a 404 is about.
_ID_SEGMENT = re.compile(r"/v2/(?P<kind>project|task|storages|batches|import|export)/(?P<id>[^/?#]+)")


@dataclass(frozen=True)
class CallOrigin:
    """Where calls go: the Airflow connection they come from and its base URL."""

    conn_id: str
    base_url: str
    scheme_assumed: bool = False

    @property
    def described(self) -> str:
        return f"Airflow connection {self.conn_id!r} (host {self.base_url})"


def status_advice(status: int, path: str, origin: CallOrigin | None) -> str:
    """The fix for an error status, naming the connection and host; '' when there is nothing to add."""
    if origin is None:
        return ""
    if status == 401:
        return (
            f"Ango Hub at {origin.base_url} refused the API key of {origin.described}: put a valid key "
            "(Ango Hub, Account > API) in the connection's password, and check that the host is your "
            "organization's region (EU imeritapi.ango.ai, US us-api.ango.ai, India in-api.ango.ai)"
        )
    if status == 403:
        return (
            f"the API key of {origin.described} may not do this: use a key whose role (or service-account "
            "scopes) allows it, or ask an organization admin for access to the project"
        )
    if status in (400, 409, 422):
        return (
            f"Ango Hub at {origin.base_url} refused the request ({origin.described}): change what its "
            "message names; the request was not applied"
        )
    if status == 429:
        return (
            f"the rate limit of the organization of {origin.described} stayed exhausted: share the plan "
            "between workers (an Airflow pool and the connection's requests_per_minute), or raise the "
            "hook's rate_limit_timeout"
        )
    if status >= 500:
        return (
            f"Ango Hub at {origin.base_url} kept failing past the retry budget ({origin.described}): let the "
            "task's retries try again later"
        )
    if status == 404:
        match = _ID_SEGMENT.search(path)
        thing = f"{match.group('kind')} {match.group('id')!r}" if match else f"path {path}"
        return (
            f"{thing} does not exist for the key of {origin.described}: check the id (a project id is the "
            "24 hex characters in the project's URL), that the key's organization owns it, and that the "
            "host is the region the project lives in"
        )
    return ""


def _is_tls_error(error: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError) or "[SSL" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def is_tls_failure(error: httpx.HTTPError) -> bool:
    """A TLS handshake that failed: repeating it cannot help."""
    return isinstance(error, httpx.ConnectError) and _is_tls_error(error)


def transport_advice(error: httpx.HTTPError, origin: CallOrigin | None) -> str:
    """The fix for a call that got no answer, naming the connection and host."""
    if origin is None:
        return ""
    if is_tls_failure(error):
        if origin.scheme_assumed:
            return (
                f"the host of {origin.described} was given without a scheme, so https was assumed, and "
                "the TLS handshake failed: if the server speaks plain http (an emulator, a local proxy), "
                "write the host as http://host:port"
            )
        return (
            f"the TLS handshake with {origin.base_url} failed ({origin.described}): check the scheme "
            "(http:// for a plain-http server) and the server's certificate"
        )
    if isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout)):
        return (
            f"could not connect to {origin.base_url} ({origin.described}): check the host and port, and "
            "that the worker can reach it"
        )
    if isinstance(error, httpx.TimeoutException):
        return (
            f"{origin.base_url} did not answer in time ({origin.described}): raise the hook's timeout, "
            "or try again when Ango Hub is less busy"
        )
    return f"check {origin.described} and the network between the worker and {origin.base_url}"


def with_advice(message: str, advice: str) -> str:
    return f"{message}. {advice[0].upper()}{advice[1:]}" if advice else message


__all__ = ["CallOrigin", "is_tls_failure", "status_advice", "transport_advice", "with_advice"]
