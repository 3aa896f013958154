"""pytest fixture for :class:`~airflow_provider_ango.testing.proxy.LatencyProxy` (loaded by the plugin).

``latency_proxy`` is a factory: ``latency_proxy(target, delay=0.02)`` starts a proxy in front
of ``target`` (``(host, port)`` or a URL such as ``s3_emulator.endpoint``) and stops it after
the test::

    def test_at_cloud_latency(s3_emulator, latency_proxy):
        proxy = latency_proxy(s3_emulator.endpoint, delay=0.02)
        ...  # point the client at proxy.url (or proxy.via(url)), then read proxy.requests
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from airflow_provider_ango.testing.proxy import DEFAULT_DELAY, Address, LatencyProxy

__all__ = ["latency_proxy"]


@pytest.fixture
def latency_proxy() -> Iterator[Callable[..., LatencyProxy]]:
    started: list[LatencyProxy] = []

    def start(target: Address | str | None = None, delay: float = DEFAULT_DELAY) -> LatencyProxy:
        proxy = LatencyProxy(target, delay).start()
        started.append(proxy)
        return proxy

    yield start
    for proxy in reversed(started):
        proxy.stop()
