"""Pure logic of the Ango transport: Retry-After, backoff, retry verdicts, error text."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest

from airflow_provider_ango.exceptions import (
    AngoApiError,
    AngoAuthError,
    AngoNotFoundError,
    AngoRateLimitError,
    AngoServerError,
    AngoValidationError,
    error_class_for_status,
)
from airflow_provider_ango.hooks.ango.transport import (
    ApiCall,
    RetryPolicy,
    Verdict,
    ango_message,
    full_jitter_backoff,
    parse_retry_after,
    verdict_for_status,
    verdict_for_transport_error,
)
from airflow_provider_ango.redaction import redact_url, scrub_text, truncate

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=timezone.utc)
SIGNED = (
    "https://bucket.s3.eu-central-1.amazonaws.com/x.zip?X-Amz-Signature=deadbeefcafe&X-Amz-Expires=120000"
)


class TestRetryAfter:
    @pytest.mark.parametrize(
        ("header", "seconds"),
        [("3", 3.0), (" 2 ", 2.0), ("0", 0.0), ("1.5", 1.5), ("-4", 0.0)],
    )
    def test_delta_seconds(self, header: str, seconds: float) -> None:
        assert parse_retry_after(header, NOW) == seconds

    def test_http_date_in_the_future_is_the_time_until_it(self) -> None:
        header = format_datetime(NOW + timedelta(seconds=42), usegmt=True)
        assert parse_retry_after(header, NOW) == 42.0

    def test_http_date_in_the_past_means_now(self) -> None:
        header = format_datetime(NOW - timedelta(minutes=5), usegmt=True)
        assert parse_retry_after(header, NOW) == 0.0

    @pytest.mark.parametrize("header", [None, "", "soon", "nan", "Mon, 99 Foo 2026"])
    def test_unusable_values_are_ignored(self, header: str | None) -> None:
        assert parse_retry_after(header, NOW) is None


class TestBackoff:
    def test_ceiling_doubles_then_caps(self) -> None:
        policy = RetryPolicy(max_retries=10, initial_wait=0.5, max_wait=3.0)
        ceilings = [full_jitter_backoff(n, policy, rng=lambda: 1.0) for n in range(1, 7)]
        assert ceilings == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]

    def test_full_jitter_can_wait_nothing(self) -> None:
        assert full_jitter_backoff(4, RetryPolicy(), rng=lambda: 0.0) == 0.0

    def test_policy_refuses_negative_values(self) -> None:
        with pytest.raises(ValueError, match="max_retries"):
            RetryPolicy(max_retries=-1)
        with pytest.raises(ValueError, match="budget"):
            RetryPolicy(max_elapsed=-1)


class TestVerdicts:
    @pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
    def test_idempotent_calls_retry_every_retryable_status(self, status: int) -> None:
        assert verdict_for_status(status, idempotent=True, retry_after=None) is Verdict.RETRY

    @pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 501])
    def test_other_statuses_fail_at_once(self, status: int) -> None:
        assert verdict_for_status(status, idempotent=True, retry_after=None) is Verdict.FAIL
        assert verdict_for_status(status, idempotent=False, retry_after=None) is Verdict.FAIL

    @pytest.mark.parametrize(
        ("status", "retry_after", "verdict"),
        [
            (429, None, Verdict.RETRY),
            (429, 2.0, Verdict.RETRY),
            (503, 2.0, Verdict.RETRY),
            (503, None, Verdict.AMBIGUOUS),
            (500, None, Verdict.AMBIGUOUS),
            (500, 1.0, Verdict.AMBIGUOUS),
            (502, None, Verdict.AMBIGUOUS),
            (504, None, Verdict.AMBIGUOUS),
        ],
    )
    def test_writes_retry_only_when_the_server_provably_refused(
        self, status: int, retry_after: float | None, verdict: Verdict
    ) -> None:
        assert verdict_for_status(status, idempotent=False, retry_after=retry_after) is verdict

    @pytest.mark.parametrize(
        ("error", "for_reads", "for_writes"),
        [
            (httpx.ConnectError("refused"), Verdict.RETRY, Verdict.RETRY),
            (httpx.ConnectTimeout("slow dns"), Verdict.RETRY, Verdict.RETRY),
            (httpx.PoolTimeout("pool"), Verdict.RETRY, Verdict.RETRY),
            (httpx.ReadTimeout("slow"), Verdict.RETRY, Verdict.AMBIGUOUS),
            (httpx.WriteTimeout("slow"), Verdict.RETRY, Verdict.AMBIGUOUS),
            (httpx.ReadError("reset"), Verdict.RETRY, Verdict.AMBIGUOUS),
            (httpx.RemoteProtocolError("cut"), Verdict.RETRY, Verdict.AMBIGUOUS),
            (httpx.UnsupportedProtocol("ftp"), Verdict.FAIL, Verdict.FAIL),
            (httpx.LocalProtocolError("bad"), Verdict.FAIL, Verdict.FAIL),
        ],
    )
    def test_transport_errors(self, error: httpx.HTTPError, for_reads: Verdict, for_writes: Verdict) -> None:
        assert verdict_for_transport_error(error, idempotent=True) is for_reads
        assert verdict_for_transport_error(error, idempotent=False) is for_writes


class TestAngoMessage:
    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (b'{"status": "fail", "message": "Project not found"}', "Project not found"),
            (b'{"error": {"code": 7}}', '{"code":7}'),
            (b'"plain json string"', "plain json string"),
            (b"Bad Gateway from nginx", "Bad Gateway from nginx"),
        ],
    )
    def test_reads_json_or_text(self, body: bytes, message: str) -> None:
        assert ango_message(httpx.Response(400, content=body)) == message

    def test_empty_body_falls_back_to_the_reason(self) -> None:
        assert ango_message(httpx.Response(503)) == "Service Unavailable"


class TestRequestBuilding:
    def test_body_is_json_with_its_content_type(self) -> None:
        kwargs = ApiCall("POST", "/v2/project", body={"name": "n", "x": None}).request_kwargs()
        assert kwargs["content"] == b'{"name":"n","x":null}'
        assert kwargs["headers"] == {"Content-Type": "application/json"}

    def test_get_has_no_body_and_no_content_type(self) -> None:
        kwargs = ApiCall("GET", "/v2/listProjects", params={"page": "1"}).request_kwargs()
        assert kwargs == {"method": "GET", "url": "/v2/listProjects", "params": {"page": "1"}}


class TestScrubbing:
    def test_query_strings_leave_urls(self) -> None:
        assert redact_url(SIGNED) == "https://bucket.s3.eu-central-1.amazonaws.com/x.zip?<redacted>"
        assert redact_url("https://h/p#frag") == "https://h/p?<redacted>"
        assert redact_url("/v2/project/abc") == "/v2/project/abc"

    def test_scrub_removes_keys_signatures_and_queries(self) -> None:
        key = "k3y-5ecret-value"
        text = f"bad key {key}; see {SIGNED} or X-Goog-Signature=abcdef0123 and Signature=ffff00"
        cleaned = scrub_text(text, [key])
        assert key not in cleaned
        assert "deadbeefcafe" not in cleaned
        assert "abcdef0123" not in cleaned
        assert "ffff00" not in cleaned
        assert "https://bucket.s3.eu-central-1.amazonaws.com/x.zip?<redacted>" in cleaned

    def test_short_values_are_not_treated_as_secrets(self) -> None:
        assert scrub_text("a b c", ["a"]) == "a b c"

    def test_truncate_says_how_much_was_cut(self) -> None:
        assert truncate("x" * 510, 500) == "x" * 500 + "... [10 more characters]"
        assert truncate("  short ") == "short"


class TestErrors:
    @pytest.mark.parametrize(
        ("status", "cls"),
        [
            (400, AngoValidationError),
            (422, AngoValidationError),
            (401, AngoAuthError),
            (403, AngoAuthError),
            (404, AngoNotFoundError),
            (429, AngoRateLimitError),
            (500, AngoServerError),
            (504, AngoServerError),
            (418, AngoApiError),
        ],
    )
    def test_status_classes(self, status: int, cls: type[AngoApiError]) -> None:
        assert error_class_for_status(status) is cls

    def test_text_names_status_method_path_and_message(self) -> None:
        error = AngoNotFoundError(404, "get", "/v2/project/abc?x=1", "Project not found")
        assert str(error) == "Ango Hub GET /v2/project/abc?<redacted> failed (HTTP 404): Project not found"
        assert error.status == 404
        assert error.path == "/v2/project/abc?<redacted>"

    def test_message_urls_lose_their_signature(self) -> None:
        error = AngoAuthError(403, "GET", SIGNED, f"denied for {SIGNED}")
        assert "deadbeefcafe" not in str(error)
        assert "X-Amz-Expires" not in str(error)

    def test_long_messages_are_truncated(self) -> None:
        error = AngoServerError(502, "GET", "/v2/export", "<html>" + "x" * 5000)
        assert len(error.message) < 600

    def test_pickle_round_trip_keeps_fields(self) -> None:
        error = AngoRateLimitError(429, "GET", "/v2/listProjects", "slow down", retry_after=3.0)
        copy = pickle.loads(pickle.dumps(error))  # noqa: S301  (our own bytes)
        assert type(copy) is AngoRateLimitError
        assert (copy.status, copy.method, copy.path, copy.message, copy.retry_after) == (
            429,
            "GET",
            "/v2/listProjects",
            "slow down",
            3.0,
        )
        assert str(copy) == str(error)
