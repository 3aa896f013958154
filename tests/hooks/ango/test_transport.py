"""hooks/ango/transport.py, pure: Retry-After, backoff, retry verdicts, error text, the retry budget."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest

from airflow_provider_ango.hooks.ango import endpoints
from airflow_provider_ango.hooks.ango.transport import (
    ApiCall,
    RetryPolicy,
    Transport,
    Verdict,
    ango_message,
    full_jitter_backoff,
    parse_retry_after,
    verdict_for_status,
    verdict_for_transport_error,
)
from tests.hooks.ango.helpers import KEY

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=timezone.utc)


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


class TestRetryBudget:
    """The retry loop against a scripted in-process transport (no network, no sleeping)."""

    @staticmethod
    def scripted(*responses: httpx.Response) -> tuple[httpx.Client, list[httpx.Request]]:
        seen: list[httpx.Request] = []
        queue = list(responses)

        def answer(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return queue.pop(0)

        return httpx.Client(base_url="http://ango.test", transport=httpx.MockTransport(answer)), seen

    def test_a_retry_after_beyond_the_budget_stops_at_once(self) -> None:
        waits: list[float] = []
        client, seen = self.scripted(
            httpx.Response(429, headers={"Retry-After": "600"}, json={"message": "slow"})
        )
        policy = RetryPolicy(max_retries=5, max_elapsed=60, rate_limit_timeout=300)
        transport = Transport(policy, KEY, _NullLog(), sleep=waits.append)
        from airflow_provider_ango.exceptions import AngoRateLimitError

        with pytest.raises(AngoRateLimitError) as raised:
            transport.send(client, endpoints.list_projects(1, 1))
        assert len(seen) == 1
        assert waits == []
        assert raised.value.retry_after == 600.0

    def test_attempts_are_bounded(self) -> None:
        waits: list[float] = []
        client, seen = self.scripted(*[httpx.Response(502, text="bad gateway")] * 4)
        transport = Transport(
            RetryPolicy(max_retries=3), KEY, _NullLog(), sleep=waits.append, rng=lambda: 0.5
        )
        from airflow_provider_ango.exceptions import AngoServerError

        with pytest.raises(AngoServerError, match="bad gateway"):
            transport.send(client, endpoints.list_projects(1, 1))
        assert len(seen) == 4
        assert waits == [0.5, 1.0, 2.0]

    def test_unreadable_success_of_a_read_is_retried(self) -> None:
        client, seen = self.scripted(
            httpx.Response(200, content=b'{"status":"succ'), httpx.Response(200, json={"data": {"total": 3}})
        )
        transport = Transport(RetryPolicy(), KEY, _NullLog(), sleep=lambda _: None)
        assert transport.send(client, endpoints.list_projects(1, 1)) == {"total": 3}
        assert len(seen) == 2


class _NullLog:
    def warning(self, *args: object) -> None:
        pass
