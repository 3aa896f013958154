"""The connection side of AngoHubHook: settings, HTTP clients, and sending one call."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from airflow_provider_ango import __version__
from airflow_provider_ango.hooks import _endpoints as endpoints
from airflow_provider_ango.hooks._transport import ApiCall, RetryPolicy, Transport
from airflow_provider_ango.models.api import Page, Project

try:  # Airflow 3 task SDK; Airflow 2 kept BaseHook in airflow.hooks.base
    from airflow.sdk.bases.hook import BaseHook
except ImportError:  # pragma: no cover
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef,attr-defined]

if TYPE_CHECKING:
    from types import TracebackType

    from airflow.sdk.definitions.connection import Connection
    from pydantic import BaseModel

DEFAULT_HOST = "https://imeritapi.ango.ai"
#: Connecting is quick or not happening; a long request timeout should not stretch it.
MAX_CONNECT_TIMEOUT = 10.0
# One logger for the whole hook, stdlib so that Airflow's task log and pytest's caplog both see it.
log = logging.getLogger("airflow_provider_ango.hooks.ango")
ModelT = TypeVar("ModelT", bound="BaseModel")


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
    organization_id: str | None = None

    @classmethod
    def from_connection(cls, conn: Connection) -> AngoConnectionSettings:
        if not conn.password:
            raise ValueError(f"Airflow connection {conn.conn_id!r} has no Ango Hub API key (password field)")
        extra = conn.extra_dejson or {}
        organization_id = extra.get("organization_id") or None
        return cls(base_url_from_host(conn.host, conn.port), conn.password, organization_id)


class AngoHubHookBase(BaseHook):
    """Settings, lazily built clients and the send path shared by every AngoHubHook method."""

    def __init__(
        self,
        ango_conn_id: str = "ango_default",
        timeout: float = 60.0,
        retry_limit: int = 5,
        retry_max_wait: float = 60.0,
        retry_max_elapsed: float = 300.0,
        retry_initial_wait: float = 1.0,
    ) -> None:
        super().__init__()
        if timeout <= 0:
            raise ValueError("timeout must be > 0 seconds")
        self.ango_conn_id = ango_conn_id
        self.timeout = timeout
        self.retry_policy = RetryPolicy(retry_limit, retry_initial_wait, retry_max_wait, retry_max_elapsed)
        self._async_client: httpx.AsyncClient | None = None
        self._async_client_loop: asyncio.AbstractEventLoop | None = None
        self._async_settings: AngoConnectionSettings | None = None
        # How retries wait; tests swap these for recorders instead of sleeping.
        self._sleep: Callable[[float], None] = time.sleep
        self._async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    @cached_property
    def settings(self) -> AngoConnectionSettings:
        return AngoConnectionSettings.from_connection(self.get_connection(self.ango_conn_id))

    @property
    def organization_id(self) -> str | None:
        return self.settings.organization_id

    @property
    def user_agent(self) -> str:
        from airflow import __version__ as airflow_version

        return f"airflow-provider-ango/{__version__} (+apache-airflow/{airflow_version})"

    @property
    def http_timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.timeout, connect=min(self.timeout, MAX_CONNECT_TIMEOUT))

    def _client_options(self, settings: AngoConnectionSettings) -> dict[str, Any]:
        headers = {"apikey": settings.api_key, "User-Agent": self.user_agent, "Accept": "application/json"}
        # No redirects: following one would carry the apikey header to wherever it points.
        return {"base_url": settings.base_url, "headers": headers, "timeout": self.http_timeout}

    def _make_transport(
        self, settings: AngoConnectionSettings, policy: RetryPolicy | None = None
    ) -> Transport:
        return Transport(
            policy or self.retry_policy,
            settings.api_key,
            log,
            sleep=self._sleep,
            async_sleep=self._async_sleep,
        )

    @cached_property
    def client(self) -> httpx.Client:
        """The sync client; built on first use, released by :meth:`close`."""
        return httpx.Client(**self._client_options(self.settings))

    def get_conn(self) -> httpx.Client:
        return self.client

    @cached_property
    def _transport(self) -> Transport:
        return self._make_transport(self.settings)

    def _call(self, call: ApiCall) -> Any:
        return self._transport.send(self.client, call)

    async def _acall(self, call: ApiCall) -> Any:
        if self._async_settings is None:
            # aget_connection: the sync lookup would block the triggerer's event loop.
            connection = await self.aget_connection(self.ango_conn_id)
            self._async_settings = AngoConnectionSettings.from_connection(connection)
        loop = asyncio.get_running_loop()
        if self._async_client is None or self._async_client_loop is not loop:
            # An AsyncClient's pooled connections belong to the loop that opened them.
            self._async_client = httpx.AsyncClient(**self._client_options(self._async_settings))
            self._async_client_loop = loop
        return await self._make_transport(self._async_settings).asend(self._async_client, call)

    def close(self) -> None:
        """Close the sync client (a later call builds a new one)."""
        if "client" in self.__dict__:
            self.__dict__.pop("client").close()

    async def aclose(self) -> None:
        """Close the async client, and the sync one if it was opened."""
        if self._async_client is not None:
            await self._async_client.aclose()
            self._async_client = None
        self.close()

    def __enter__(self) -> AngoHubHookBase:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> AngoHubHookBase:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def get_project(self, project_id: str) -> Project:
        data = self._call(endpoints.get_project(project_id))
        return Project.model_validate(endpoints.field_of(data, "project"))

    @staticmethod
    def _iterate(fetch: Callable[[int], Page[ModelT]]) -> Iterator[ModelT]:
        """Items of consecutive pages (1, 2, ...), each page fetched only when the previous is used up."""
        for page_number in itertools.count(1):
            page = fetch(page_number)
            yield from page.items
            if page.is_last:
                return
