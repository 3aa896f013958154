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
from airflow_provider_ango.hooks.ango.transport import ApiCall, RetryPolicy, Transport

if TYPE_CHECKING:
    from airflow.sdk.definitions.connection import Connection

DEFAULT_HOST = "https://imeritapi.ango.ai"
#: Connecting is quick or not happening; a long request timeout should not stretch it.
MAX_CONNECT_TIMEOUT = 10.0


def base_url_from_host(host: str | None, port: int | None = None) -> str:
    """Base URL from a connection host given with or without scheme (``https`` assumed), port kept."""
    host = (host or "").strip().rstrip("/")
    if not host:
        return DEFAULT_HOST
    url = host if "://" in host else f"https://{host}"
    parsed = httpx.URL(url)
    if port and parsed.port is None:
        url = str(parsed.copy_with(port=port)).rstrip("/")
    return url


@dataclass(frozen=True)
class AngoConnectionSettings:
    """What the hook reads from an Airflow connection (the key is left out of ``repr``)."""

    base_url: str
    api_key: str = field(repr=False)

    @classmethod
    def from_connection(cls, conn: Connection) -> AngoConnectionSettings:
        if not conn.password:
            raise ValueError(f"Airflow connection {conn.conn_id!r} has no Ango Hub API key (password field)")
        return cls(base_url_from_host(conn.host, conn.port), conn.password)


def user_agent() -> str:
    from airflow import __version__ as airflow_version

    return f"airflow-provider-ango/{__version__} (+apache-airflow/{airflow_version})"


def http_timeout(seconds: float) -> httpx.Timeout:
    return httpx.Timeout(seconds, connect=min(seconds, MAX_CONNECT_TIMEOUT))


def client_options(settings: AngoConnectionSettings, timeout: float) -> dict[str, Any]:
    headers = {"apikey": settings.api_key, "User-Agent": user_agent(), "Accept": "application/json"}
    # No redirects: following one would carry the apikey header to wherever it points.
    return {"base_url": settings.base_url, "headers": headers, "timeout": http_timeout(timeout)}


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
    ) -> None:
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

    @cached_property
    def settings(self) -> AngoConnectionSettings:
        return AngoConnectionSettings.from_connection(self._load_connection())

    @cached_property
    def client(self) -> httpx.Client:
        return httpx.Client(**client_options(self.settings, self.timeout))

    def transport(self, api_key: str, policy: RetryPolicy | None = None) -> Transport:
        return Transport(
            policy or self.policy, api_key, self.log, sleep=self.sleep, async_sleep=self.async_sleep
        )

    def call(self, call: ApiCall) -> Any:
        return self.transport(self.settings.api_key).send(self.client, call)

    async def acall(self, call: ApiCall) -> Any:
        if self._async_settings is None:
            # The async lookup: the sync one would block the triggerer's event loop.
            self._async_settings = AngoConnectionSettings.from_connection(await self._aload_connection())
        loop = asyncio.get_running_loop()
        if self._async_client is None or self._async_loop is not loop:
            self._async_client = httpx.AsyncClient(**client_options(self._async_settings, self.timeout))
            self._async_loop = loop
        return await self.transport(self._async_settings.api_key).asend(self._async_client, call)

    def secrets(self) -> tuple[str, ...]:
        """The values no message may show (the key, once it has been read)."""
        return (self.settings.api_key,) if "settings" in self.__dict__ else ()

    def close(self) -> None:
        if "client" in self.__dict__:
            self.__dict__.pop("client").close()

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
