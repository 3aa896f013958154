"""The connection side of AngoHubHook: what it reads from Airflow, and its HTTP clients.

Authentication is the ``apikey`` header alone (Ango's SDK sends nothing else, and the REST
documentation names no organization header): an API key belongs to one organization, so the
connection holds the URL and the key and nothing more.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import httpx

from airflow_provider_ango import __version__
from airflow_provider_ango.exceptions import AngoConfigError, AngoConnectionNotFoundError, AngoHookClosedError
from airflow_provider_ango.hooks.ango.advice import CallOrigin
from airflow_provider_ango.hooks.ango.http_logging import remember_secret
from airflow_provider_ango.hooks.ango.ratelimit import shared_limiter
from airflow_provider_ango.hooks.ango.transport import ApiCall, RetryPolicy, Transport
from airflow_provider_ango.redaction import scrub_text

if TYPE_CHECKING:
    from airflow.sdk.definitions.connection import Connection

DEFAULT_HOST = "https://imeritapi.ango.ai"
#: Connecting is quick or not happening; a long request timeout should not stretch it.
MAX_CONNECT_TIMEOUT = 10.0
#: Ango's regional base URLs, as its REST documentation gives them (``/v2`` included).
REGIONS = {
    "EU (default)": "https://imeritapi.ango.ai/v2  (alias eu-api.ango.ai)",
    "US": "https://us-api.ango.ai/v2",
    "India": "https://in-api.ango.ai/v2",
    "test": "https://testapi.ango.ai/v2",
}
ACCEPTED_HOSTS = (
    "a host name (imeritapi.ango.ai, us-api.ango.ai, in-api.ango.ai, eu-api.ango.ai, testapi.ango.ai, or "
    "your own): https is assumed",
    "a URL with http:// or https:// and an optional port",
    "either of them followed by /v2 (as Ango documents its regional base URLs)",
)
#: The Standard plan's documented limit.
DEFAULT_REQUESTS_PER_MINUTE = 100.0
DEFAULT_MAX_CONCURRENT_REQUESTS = 8
BATCH_REFS = ("ids", "names")
API_READINGS = ("sdk", "rest")


def _bad_host(conn_id: str, host: str, why: str) -> AngoConfigError:
    forms = "\n  ".join(ACCEPTED_HOSTS)
    return AngoConfigError(
        f"Airflow connection {conn_id!r}: host {scrub_text(host)!r} {why}. Give the Ango Hub URL in one "
        f"of these forms:\n  {forms}"
    )


def parse_host(host: str | None, port: int | None = None, conn_id: str = "ango_default") -> tuple[str, bool]:
    """``(base URL without /v2, whether https was assumed)`` from a connection's host and port.

    The provider's paths start with ``/v2``, so a documented base URL such as
    ``https://us-api.ango.ai/v2`` loses its ``/v2`` here (or every call would go to ``/v2/v2/...``).
    Any other path, a query, or a scheme other than http(s) is refused, naming the connection.
    """
    text = (host or "").strip()
    if not text:
        return DEFAULT_HOST, False
    assumed = "://" not in text
    url = f"https://{text}" if assumed else text
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        raise _bad_host(conn_id, text, f"is not a URL ({error})") from None
    if parsed.scheme not in ("http", "https"):
        raise _bad_host(conn_id, text, f"has the scheme {parsed.scheme!r}; Ango Hub speaks http(s)")
    if not parsed.host:
        raise _bad_host(conn_id, text, "names no host")
    if parsed.query or parsed.fragment or parsed.userinfo:
        raise _bad_host(conn_id, text, "carries a query, a fragment or a user name; give the bare URL")
    path = parsed.path.rstrip("/")
    if path not in ("", "/v2"):
        raise _bad_host(conn_id, text, f"has the path {parsed.path!r}; only /v2 (or none) is accepted")
    base = parsed.copy_with(path="/", query=None)
    if port and parsed.port is None:
        base = base.copy_with(port=port)
    return str(base).rstrip("/"), assumed


def base_url_from_host(host: str | None, port: int | None = None) -> str:
    """The base URL (no ``/v2``) of a connection host given in any accepted form."""
    return parse_host(host, port)[0]


def _extra_number(extra: dict[str, Any], name: str, default: float, conn_id: str, minimum: float) -> float:
    value = extra.get(name, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not number >= minimum:  # also refuses NaN
        raise AngoConfigError(
            f"Airflow connection {conn_id!r}: extra {name}={value!r} is not a number >= {minimum:g}; "
            f"leave it out for the default ({default:g})"
        )
    return number


def _extra_choice(extra: dict[str, Any], name: str, choices: tuple[str, ...], conn_id: str) -> str:
    value = str(extra.get(name, choices[0])).strip().lower()
    if value not in choices:
        raise AngoConfigError(
            f"Airflow connection {conn_id!r}: extra {name}={extra.get(name)!r} is not one of "
            f"{', '.join(choices)} (default {choices[0]})"
        )
    return value


@dataclass(frozen=True)
class AngoConnectionSettings:
    """What the hook reads from an Airflow connection (the key is left out of ``repr``).

    :param requests_per_minute: the organization's plan rate (extra ``requests_per_minute``;
        default 100, the Standard plan; 0 turns pacing off); the client paces itself under it.
    :param rate_window_seconds: the window that rate counts over (extra ``rate_window_seconds``,
        default 60); a smaller one scales the same arithmetic down for rehearsals and tests.
    :param max_concurrent_requests: requests in flight at once from this process (extra
        ``max_concurrent_requests``, default 8).
    :param batch_refs: how the cloud import names batches: ``ids`` (the SDK's reading, default)
        or ``names`` (the REST documentation's).
    :param api_reading: which request forms to send where the SDK and the REST documentation
        disagree and no form satisfies both: ``sdk`` (default) or ``rest``.
    :param scheme_assumed: the host had no scheme and https was assumed (said in TLS errors).
    :param ui_url: Ango Hub's web app, for the tasks' extra links (extra ``ui_url``; default
        ``https://hub.ango.ai``).
    """

    base_url: str
    api_key: str = field(repr=False)
    requests_per_minute: float = DEFAULT_REQUESTS_PER_MINUTE
    rate_window_seconds: float = 60.0
    max_concurrent_requests: int = DEFAULT_MAX_CONCURRENT_REQUESTS
    batch_refs: str = "ids"
    api_reading: str = "sdk"
    scheme_assumed: bool = False
    conn_id: str = "ango_default"
    ui_url: str | None = None

    @property
    def origin(self) -> CallOrigin:
        """Where this connection's calls go, as errors name it."""
        return CallOrigin(self.conn_id, self.base_url, self.scheme_assumed)

    @classmethod
    def from_connection(cls, conn: Connection) -> AngoConnectionSettings:
        conn_id = conn.conn_id or "?"
        if not conn.password:
            raise AngoConfigError(
                f"Airflow connection {conn_id!r} has no Ango Hub API key: put the key (Ango Hub, "
                "Account > API) in its password field"
            )
        base_url, assumed = parse_host(conn.host, conn.port, conn_id)
        # The connection form stores its fields as plain keys; older forms prefixed them.
        extra = {key.removeprefix("extra__ango__"): value for key, value in (conn.extra_dejson or {}).items()}
        extra = {key: value for key, value in extra.items() if value not in (None, "")}
        rate = _extra_number(extra, "requests_per_minute", DEFAULT_REQUESTS_PER_MINUTE, conn_id, 0)
        window = _extra_number(extra, "rate_window_seconds", 60.0, conn_id, 0.001)
        concurrent = _extra_number(
            extra, "max_concurrent_requests", DEFAULT_MAX_CONCURRENT_REQUESTS, conn_id, 1
        )
        return cls(
            base_url,
            conn.password,
            requests_per_minute=rate,
            rate_window_seconds=window,
            max_concurrent_requests=int(concurrent),
            batch_refs=_extra_choice(extra, "batch_refs", BATCH_REFS, conn_id),
            api_reading=_extra_choice(extra, "api_reading", API_READINGS, conn_id),
            scheme_assumed=assumed,
            conn_id=conn_id,
            ui_url=str(extra["ui_url"]).rstrip("/") if extra.get("ui_url") else None,
        )


#: What a new Ango connection looks like, for the error naming a connection that does not exist.
CONNECTION_EXAMPLE = '{"conn_type": "ango", "host": "https://imeritapi.ango.ai", "password": "<API key>"}'


def _not_found(conn_id: str, error: Exception) -> AngoConnectionNotFoundError | None:
    """Airflow's "isn't defined" as our error naming the id and the fix; None for other failures."""
    from airflow.sdk.exceptions import AirflowNotFoundException

    if not isinstance(error, AirflowNotFoundException):
        return None
    return AngoConnectionNotFoundError.of(conn_id, "Ango Hub", "ango_conn_id", CONNECTION_EXAMPLE)


def user_agent() -> str:
    from airflow import __version__ as airflow_version

    return f"airflow-provider-ango/{__version__} (+apache-airflow/{airflow_version})"


def http_timeout(seconds: float) -> httpx.Timeout:
    return httpx.Timeout(seconds, connect=min(seconds, MAX_CONNECT_TIMEOUT))


def client_options(settings: AngoConnectionSettings, timeout: float) -> dict[str, Any]:
    headers = {"apikey": settings.api_key, "User-Agent": user_agent(), "Accept": "application/json"}
    # No redirects: following one would carry the apikey header to wherever it points.
    return {"base_url": settings.base_url, "headers": headers, "timeout": http_timeout(timeout)}


#: A call, or a function building it from the connection's settings (its readings).
CallArg = ApiCall | Callable[[AngoConnectionSettings], ApiCall]


class AngoSession:
    """The hook's connection to Ango Hub: settings, the sync client, the async clients, the transport.

    Everything is built on first use. The async client is rebuilt when used from another event
    loop: an ``AsyncClient``'s pooled connections belong to the loop that opened them, and a
    hook object can outlive one loop (``asyncio.run`` twice, a restarted trigger in tests).
    """

    def __init__(
        self,
        load_connection: Callable[[], Connection],
        aload_connection: Callable[[], Awaitable[Connection]],
        *,
        timeout: float,
        policy: RetryPolicy,
        log: logging.Logger,
        conn_id: str = "ango_default",
    ) -> None:
        self.conn_id = conn_id
        self._load_connection = load_connection
        self._aload_connection = aload_connection
        self.timeout = timeout
        self.policy = policy
        self.log = log
        # How retries wait; tests swap these for recorders instead of sleeping.
        self.sleep: Callable[[float], None] = time.sleep
        self.async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self._async_settings: AngoConnectionSettings | None = None
        self._async_client: httpx.AsyncClient | None = None
        self._async_loop: asyncio.AbstractEventLoop | None = None
        #: Download clients (signed export URLs) while they stream, so that :meth:`shut` reaches them.
        self.streams: set[httpx.Client] = set()
        self._shut_reason: str | None = None

    @cached_property
    def settings(self) -> AngoConnectionSettings:
        try:
            conn = self._load_connection()
        except Exception as error:
            missing = _not_found(self.conn_id, error)
            if missing is None:
                raise
            raise missing from None
        return self._remembered(AngoConnectionSettings.from_connection(conn))

    @staticmethod
    def _remembered(settings: AngoConnectionSettings) -> AngoConnectionSettings:
        remember_secret(settings.api_key)  # kept out of httpx's log lines too
        return settings

    @cached_property
    def client(self) -> httpx.Client:
        self.refuse_if_shut()
        return httpx.Client(**client_options(self.settings, self.timeout))

    @property
    def is_shut(self) -> bool:
        return self._shut_reason is not None

    def refuse_if_shut(self, error: BaseException | None = None) -> None:
        """Raise :class:`AngoHookClosedError` once :meth:`shut` ran (``error``: what it cut short)."""
        if self._shut_reason is None:
            return
        closed = AngoHookClosedError(
            f"the Ango Hub hook of connection {self.conn_id!r} was shut ({self._shut_reason}): no request is "
            "sent on it any more; Airflow retries the task"
        )
        if error is not None:
            raise closed from error
        raise closed

    def transport(self, settings: AngoConnectionSettings, policy: RetryPolicy | None = None) -> Transport:
        limiter = None
        if settings.requests_per_minute > 0:
            limiter = shared_limiter(
                settings.base_url,
                settings.api_key,
                int(settings.requests_per_minute),
                settings.rate_window_seconds,
                settings.max_concurrent_requests,
            )
        return Transport(
            policy or self.policy,
            settings.api_key,
            self.log,
            sleep=self.sleep,
            async_sleep=self.async_sleep,
            limiter=limiter,
            rate_window=settings.rate_window_seconds,
            origin=settings.origin,
        )

    def call(self, call: CallArg) -> Any:
        """Send one call (or the call a builder makes for these settings, e.g. by their reading)."""
        self.refuse_if_shut()
        settings = self.settings
        built = call(settings) if callable(call) else call
        try:
            return self.transport(settings).send(self.client, built)
        except Exception as error:
            self.refuse_if_shut(error)  # cut short by shut(): say so, not what the closed socket raised
            raise

    async def acall(self, call: CallArg) -> Any:
        self.refuse_if_shut()
        if self._async_settings is None:
            # The async lookup: the sync one would block the triggerer's event loop.
            try:
                conn = await self._aload_connection()
            except Exception as error:
                missing = _not_found(self.conn_id, error)
                if missing is None:
                    raise
                raise missing from None
            self._async_settings = self._remembered(AngoConnectionSettings.from_connection(conn))
        settings = self._async_settings
        loop = asyncio.get_running_loop()
        if self._async_client is None or self._async_loop is not loop:
            self._async_client = httpx.AsyncClient(**client_options(settings, self.timeout))
            self._async_loop = loop
        built = call(settings) if callable(call) else call
        return await self.transport(settings).asend(self._async_client, built)

    def secrets(self) -> tuple[str, ...]:
        """The values no message may show (the key, once it has been read)."""
        return (self.settings.api_key,) if "settings" in self.__dict__ else ()

    def close(self) -> None:
        if "client" in self.__dict__:
            self.__dict__.pop("client").close()

    def shut(self, reason: str) -> None:
        """Close the sync client and every download stream now, requests in flight included, and
        refuse every later call (:class:`AngoHookClosedError`): what a killed task needs.

        Safe from a signal handler or another thread. The async client belongs to its event loop
        and is left to :meth:`aclose`.
        """
        self._shut_reason = reason
        self.close()
        for client in list(self.streams):
            client.close()

    async def aclose(self) -> None:
        if self._async_client is not None:
            await self._async_client.aclose()
            self._async_client = None
        self.close()


__all__ = [
    "DEFAULT_HOST",
    "AngoConnectionSettings",
    "AngoSession",
    "base_url_from_host",
    "client_options",
    "http_timeout",
    "user_agent",
]
