"""hooks/ango/connection.py: the connection's host turned into the API's base URL."""

from __future__ import annotations

import pytest

from airflow_provider_ango.hooks.ango import base_url_from_host


class TestBaseUrl:
    @pytest.mark.parametrize(
        ("host", "port", "url"),
        [
            (None, None, "https://imeritapi.ango.ai"),
            ("", None, "https://imeritapi.ango.ai"),
            ("imeritapi.ango.ai", None, "https://imeritapi.ango.ai"),
            ("https://imeritapi.ango.ai/", None, "https://imeritapi.ango.ai"),
            ("http://127.0.0.1:8123", None, "http://127.0.0.1:8123"),
            ("127.0.0.1", 8123, "https://127.0.0.1:8123"),
            ("http://127.0.0.1:8123", 9999, "http://127.0.0.1:8123"),
            ("https://ango.internal/api/", None, "https://ango.internal/api"),
        ],
    )
    def test_host_forms(self, host: str | None, port: int | None, url: str) -> None:
        assert base_url_from_host(host, port) == url
