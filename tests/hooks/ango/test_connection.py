"""hooks/ango/connection.py: the connection's host turned into the API's base URL, and its extras."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_ango.exceptions import AngoConfigError
from airflow_provider_ango.hooks.ango import base_url_from_host
from airflow_provider_ango.hooks.ango.connection import AngoConnectionSettings, parse_host


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
        ],
    )
    def test_host_forms(self, host: str | None, port: int | None, url: str) -> None:
        assert base_url_from_host(host, port) == url

    @pytest.mark.parametrize(
        ("host", "url"),
        [
            # Ango's documented regional base URLs include /v2; the provider's paths start with it.
            ("imeritapi.ango.ai", "https://imeritapi.ango.ai"),
            ("https://imeritapi.ango.ai", "https://imeritapi.ango.ai"),
            ("https://imeritapi.ango.ai/v2", "https://imeritapi.ango.ai"),
            ("https://us-api.ango.ai/v2", "https://us-api.ango.ai"),
            ("https://in-api.ango.ai/v2/", "https://in-api.ango.ai"),
            ("eu-api.ango.ai", "https://eu-api.ango.ai"),
            ("testapi.ango.ai/v2", "https://testapi.ango.ai"),
            ("http://127.0.0.1:8090/v2", "http://127.0.0.1:8090"),
        ],
    )
    def test_regional_base_urls_lose_their_v2(self, host: str, url: str) -> None:
        assert base_url_from_host(host) == url

    @pytest.mark.parametrize(
        ("host", "why"),
        [
            ("ftp://imeritapi.ango.ai", "has the scheme 'ftp'"),
            ("https://ango.internal/api/", "has the path '/api/'; only /v2"),
            ("https://us-api.ango.ai/v2/v2", "has the path '/v2/v2'"),
            ("https://imeritapi.ango.ai/?x=1", "carries a query"),
        ],
    )
    def test_other_schemes_and_paths_are_refused_naming_the_connection(self, host: str, why: str) -> None:
        with pytest.raises(AngoConfigError, match=why) as raised:
            parse_host(host, None, "ango_eu")
        text = str(raised.value)
        assert "Airflow connection 'ango_eu'" in text
        assert "followed by /v2" in text  # the accepted forms, so the fix is in the message

    def test_a_password_in_the_host_never_reaches_the_message(self) -> None:
        with pytest.raises(AngoConfigError) as raised:
            parse_host("https://robot:hunter2-secret@imeritapi.ango.ai", None, "ango_default")
        assert "hunter2-secret" not in str(raised.value)
        assert "https://***@imeritapi.ango.ai" in str(raised.value)

    def test_a_host_without_scheme_is_marked_as_assumed_https(self) -> None:
        assert parse_host("ango.internal:8443") == ("https://ango.internal:8443", True)
        assert parse_host("http://ango.internal:8080") == ("http://ango.internal:8080", False)


class FakeConnection:
    def __init__(self, extra: dict[str, Any], password: str | None = "k" * 24, host: str = "") -> None:
        self.conn_id = "ango_test"
        self.host = host
        self.port = None
        self.password = password
        self.extra_dejson = extra


class TestExtras:
    def test_defaults_are_the_standard_plan_and_the_sdk_reading(self) -> None:
        settings = AngoConnectionSettings.from_connection(FakeConnection({}))  # type: ignore[arg-type]
        assert (settings.requests_per_minute, settings.rate_window_seconds) == (100.0, 60.0)
        assert (settings.batch_refs, settings.api_reading) == ("ids", "sdk")
        assert settings.base_url == "https://imeritapi.ango.ai"

    def test_form_fields_with_and_without_the_old_prefix(self) -> None:
        extra = {
            "requests_per_minute": "600",
            "extra__ango__max_concurrent_requests": 4,
            "batch_refs": "NAMES",
            "api_reading": "rest",
            "rate_window_seconds": "",  # an empty form field means the default
        }
        settings = AngoConnectionSettings.from_connection(FakeConnection(extra))  # type: ignore[arg-type]
        assert settings.requests_per_minute == 600
        assert settings.max_concurrent_requests == 4
        assert (settings.batch_refs, settings.api_reading, settings.rate_window_seconds) == (
            "names",
            "rest",
            60,
        )

    @pytest.mark.parametrize(
        ("extra", "message"),
        [
            ({"requests_per_minute": "fast"}, "requests_per_minute='fast' is not a number >= 0"),
            ({"max_concurrent_requests": 0}, "max_concurrent_requests=0 is not a number >= 1"),
            ({"batch_refs": "uuids"}, "batch_refs='uuids' is not one of ids, names"),
            ({"api_reading": "graphql"}, "api_reading='graphql' is not one of sdk, rest"),
        ],
    )
    def test_bad_extras_name_the_connection_and_the_choices(
        self, extra: dict[str, Any], message: str
    ) -> None:
        with pytest.raises(AngoConfigError, match=message) as raised:
            AngoConnectionSettings.from_connection(FakeConnection(extra))  # type: ignore[arg-type]
        assert "Airflow connection 'ango_test'" in str(raised.value)

    def test_no_key_says_where_it_goes(self) -> None:
        with pytest.raises(AngoConfigError, match=r"'ango_test' has no Ango Hub API key: put the key"):
            AngoConnectionSettings.from_connection(FakeConnection({}, password=None))  # type: ignore[arg-type]
