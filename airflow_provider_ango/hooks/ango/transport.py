"""How one Ango Hub call is sent: timeouts, retries, idempotency and error translation.

Shared by the sync and async sides of :class:`~airflow_provider_ango.hooks.ango.AngoHubHook`:
both describe a call as an :class:`ApiCall`, and both turn an answer (or a transport
failure) into data or a typed error with the same functions below. Only the loop that
sends and sleeps differs.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, NoReturn

import httpx
import orjson
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception_type,
)

from airflow_provider_ango.exceptions import (
    AngoAmbiguousWriteError,
    AngoApiError,
    AngoConnectionError,
    error_class_for_status,
)
from airflow_provider_ango.hooks.ango.advice import (
    CallOrigin,
    is_tls_failure,
    status_advice,
    transport_advice,
    with_advice,
)
from airflow_provider_ango.hooks.ango.http_logging import provider_requests
from airflow_provider_ango.hooks.ango.ratelimit import RateLimiter
from airflow_provider_ango.redaction import MAX_MESSAGE_LENGTH, safe_cause, scrub_text, truncate

#: Statuses worth another try: rate limiting and the gateway/server family.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

# Failures where the request provably never reached the server: safe to repeat any call.
_NOT_SENT_ERRORS: tuple[type[httpx.HTTPError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
# Failures after the request may have been sent (or processed): safe to repeat only idempotent calls.
_MAYBE_SENT_ERRORS: tuple[type[httpx.HTTPError], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)


@dataclass(frozen=True)
class ApiCall:
    """One Ango Hub request, described independently of the client that sends it.

    :param idempotent: True when sending the call twice has the same effect as once
        (reads, full replacements). Non-idempotent calls are only repeated after failures
        that prove the server did not process them.
    :param secrets: values besides the API key that must never appear in an error
        (storage credentials in a create-storage body).
    """

    method: str
    path: str
    params: Mapping[str, str] | None = None
    # Out of repr: bodies can be 500 assets long and may hold credentials.
    body: Any = field(default=None, repr=False)
    idempotent: bool = True
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def request_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"method": self.method, "url": self.path}
        if self.params:
            kwargs["params"] = dict(self.params)
        if self.body is not None:
            # orjson: several times faster than json for 500-asset import chunks.
            kwargs["content"] = orjson.dumps(self.body)
            kwargs["headers"] = {"Content-Type": "application/json"}
        return kwargs


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded by attempts and by total elapsed time.

    :param max_retries: retries after the first attempt.
    :param initial_wait: backoff ceiling of the first retry, in seconds; doubles every retry.
    :param max_wait: largest backoff ceiling, in seconds. A ``Retry-After`` from the server
        is honoured even above it, as long as the elapsed-time budget allows.
    :param max_elapsed: no retry is started that would end its wait past this many seconds
        after the first attempt.
    :param rate_limit_timeout: how long a call may wait in all for Ango's rate limit (429s wait
        for the window to reopen and do not count as retries); raise it to the task's timeout.
    """

    max_retries: int = 5
    initial_wait: float = 1.0
    max_wait: float = 60.0
    max_elapsed: float = 300.0
    rate_limit_timeout: float = 1800.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if min(self.initial_wait, self.max_wait, self.max_elapsed, self.rate_limit_timeout) < 0:
            raise ValueError("retry waits and budget must be >= 0")


class Verdict(enum.Enum):
    RETRY = "retry"
    FAIL = "fail"
    AMBIGUOUS = "ambiguous"


def verdict_for_status(status: int, *, idempotent: bool, retry_after: float | None) -> Verdict:
    """What to do after an error status (see the table in the hook's docstring)."""
    if status not in RETRYABLE_STATUSES:
        return Verdict.FAIL
    if idempotent or status == 429:
        return Verdict.RETRY
    # A 503 that names a time to come back is the server refusing work, not dropping it midway.
    if status == 503 and retry_after is not None:
        return Verdict.RETRY
    return Verdict.AMBIGUOUS


def verdict_for_transport_error(error: httpx.HTTPError, *, idempotent: bool) -> Verdict:
    """What to do after a failure with no HTTP answer."""
    if is_tls_failure(error):
        return Verdict.FAIL  # a wrong scheme or certificate fails the same way every time
    if isinstance(error, _NOT_SENT_ERRORS):
        return Verdict.RETRY
    if isinstance(error, _MAYBE_SENT_ERRORS):
        return Verdict.RETRY if idempotent else Verdict.AMBIGUOUS
    # Bad URL, unsupported protocol, proxy refusal: repeating cannot help.
    return Verdict.FAIL


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; None if unusable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            # HTTP dates are GMT by definition.
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def full_jitter_backoff(
    retry_number: int, policy: RetryPolicy, rng: Callable[[], float] = random.random
) -> float:
    """Wait before retry ``retry_number`` (1-based): uniform in [0, min(max_wait, initial * 2**(n-1))]."""
    ceiling = min(policy.max_wait, policy.initial_wait * (2 ** max(0, retry_number - 1)))
    return rng() * ceiling


def ango_message(response: httpx.Response) -> str:
    """Ango's own explanation of an error answer, from a JSON or text body."""
    text = response.text
    try:
        payload = orjson.loads(text) if text else None
    except orjson.JSONDecodeError:
        payload = None
    if isinstance(payload, dict):
        for key in ("message", "error", "msg", "detail", "errors", "data"):
            value = payload.get(key)
            if value:
                return value if isinstance(value, str) else orjson.dumps(value).decode()
    if isinstance(payload, str) and payload:
        return payload
    return text.strip() or response.reason_phrase or "no message"


class RetryableAttemptError(Exception):
    """Internal: an attempt failed in a way that may be retried; ``error`` is raised if it is not."""

    def __init__(self, error: AngoApiError, reason: str) -> None:
        super().__init__(reason)
        self.error = error
        self.reason = reason


def _ambiguous(
    call: ApiCall, status: int | None, what: str, secrets: tuple[str, ...]
) -> AngoAmbiguousWriteError:
    return AngoAmbiguousWriteError(
        status,
        call.method,
        call.path,
        scrub_text(
            f"{what}; Ango Hub may have applied this write, so it was not re-sent. "
            "Check the project's state (e.g. list assets by externalId) before sending it again.",
            secrets,
        ),
    )


def data_or_raise(
    call: ApiCall, response: httpx.Response, secrets: tuple[str, ...], origin: CallOrigin | None = None
) -> Any:
    """Unwrap ``{"status", "data"}`` from a 2xx answer, or raise the error the answer calls for."""
    if response.is_success:
        return _unwrap(call, response, secrets)
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    message = truncate(scrub_text(ango_message(response), secrets), MAX_MESSAGE_LENGTH)
    message = with_advice(message, status_advice(status, call.path, origin))
    error = error_class_for_status(status)(status, call.method, call.path, message, retry_after=retry_after)
    verdict = verdict_for_status(status, idempotent=call.idempotent, retry_after=retry_after)
    if verdict is Verdict.RETRY:
        raise RetryableAttemptError(error, f"HTTP {status}")
    if verdict is Verdict.AMBIGUOUS:
        raise _ambiguous(call, status, f"HTTP {status}: {message}", secrets)
    raise error


def _unwrap(call: ApiCall, response: httpx.Response, secrets: tuple[str, ...]) -> Any:
    body = response.content  # an API answer: one JSON envelope or page; big exports stream (_download)
    if not body:
        return None
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        if not call.idempotent:
            # The server said it succeeded; its receipt is unreadable, which is not worth failing a write.
            return None
        error = AngoConnectionError(
            response.status_code, call.method, call.path, "answer is not valid JSON (cut short?)"
        )
        raise RetryableAttemptError(error, "unreadable answer") from None
    if isinstance(payload, dict) and "data" in payload:
        return payload["data"]
    return payload


def raise_for_transport_error(
    call: ApiCall, error: httpx.HTTPError, secrets: tuple[str, ...], origin: CallOrigin | None = None
) -> NoReturn:
    """Translate a failure with no usable answer into a retry, an ambiguity or a final error."""
    description = scrub_text(f"{type(error).__name__}: {error}", secrets)
    verdict = verdict_for_transport_error(error, idempotent=call.idempotent)
    if verdict is Verdict.AMBIGUOUS:
        raise _ambiguous(call, None, description, secrets) from safe_cause(error, secrets)
    final = AngoConnectionError(
        None, call.method, call.path, with_advice(description, transport_advice(error, origin))
    )
    if verdict is Verdict.RETRY:
        raise RetryableAttemptError(final, type(error).__name__) from safe_cause(error, secrets)
    raise final from safe_cause(error, secrets)


def _rate_limited(retry_state: RetryCallState) -> bool:
    failure = retry_state.outcome.exception() if retry_state.outcome else None
    return isinstance(failure, RetryableAttemptError) and failure.error.status == 429


@dataclass(frozen=True)
class Transport:
    """Sends :class:`ApiCall` objects with the retry policy; sync and async share everything but I/O.

    :param limiter: paces requests within the plan's rate (None: no client-side pacing).
    :param rate_window: the server's rate window in seconds: how long a 429 without
        ``Retry-After`` waits before the next try.
    """

    policy: RetryPolicy
    api_key: str = field(repr=False)
    log: logging.Logger | Any
    sleep: Callable[[float], None] = time.sleep
    async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    rng: Callable[[], float] = random.random
    limiter: RateLimiter | None = None
    rate_window: float = 60.0
    origin: CallOrigin | None = None

    def secrets_for(self, call: ApiCall) -> tuple[str, ...]:
        return (self.api_key, *call.secrets)

    def wait_seconds(self, retry_state: RetryCallState) -> float:
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = failure.error.retry_after if isinstance(failure, RetryableAttemptError) else None
        if _rate_limited(retry_state):
            # The organization's window is full (other workers share it): wait until it reopens.
            return retry_after if retry_after is not None else self.rate_window
        if retry_after is not None:
            return retry_after
        return full_jitter_backoff(retry_state.attempt_number, self.policy, self.rng)

    def _retry_options(self, call: ApiCall) -> dict[str, Any]:
        failures = {"other": 0}

        def stop(retry_state: RetryCallState) -> bool:
            # idle_for counts the waits themselves (also when a test records them instead of sleeping).
            spent = max(retry_state.seconds_since_start or 0.0, retry_state.idle_for)
            ends_at = spent + retry_state.upcoming_sleep
            if _rate_limited(retry_state):
                return ends_at > self.policy.rate_limit_timeout
            failures["other"] += 1
            return failures["other"] > self.policy.max_retries or ends_at >= self.policy.max_elapsed

        def log_retry(retry_state: RetryCallState) -> None:
            failure = retry_state.outcome.exception() if retry_state.outcome else None
            reason = failure.reason if isinstance(failure, RetryableAttemptError) else repr(failure)
            # call.path never holds a query string: parameters travel separately.
            if _rate_limited(retry_state):
                self.log.warning(
                    "Ango Hub %s %s: rate limit reached (%s); waiting %.1f s for the window to reopen",
                    call.method,
                    call.path,
                    reason,
                    retry_state.upcoming_sleep,
                )
                return
            self.log.warning(
                "Ango Hub %s %s failed (%s); retry %d of %d in %.2f s",
                call.method,
                call.path,
                reason,
                failures["other"],
                self.policy.max_retries,
                retry_state.upcoming_sleep,
            )

        return {
            "stop": stop,
            "wait": self.wait_seconds,
            "retry": retry_if_exception_type(RetryableAttemptError),
            "before_sleep": log_retry,
            "reraise": True,
        }

    @contextmanager
    def _slot(self) -> Iterator[None]:
        if self.limiter is None:
            yield
        else:
            with self.limiter.slot(self.sleep):
                yield

    @asynccontextmanager
    async def _aslot(self) -> AsyncIterator[None]:
        if self.limiter is None:
            yield
        else:
            async with self.limiter.aslot(self.async_sleep):
                yield

    def send(self, client: httpx.Client, call: ApiCall) -> Any:
        secrets = self.secrets_for(call)
        request_kwargs = call.request_kwargs()
        try:
            for attempt in Retrying(sleep=self.sleep, **self._retry_options(call)):
                with attempt:
                    try:
                        with self._slot(), provider_requests():
                            response = client.request(**request_kwargs)
                    except httpx.HTTPError as error:
                        raise_for_transport_error(call, error, secrets, self.origin)
                    return data_or_raise(call, response, secrets, self.origin)
        except RetryableAttemptError as spent:
            raise spent.error from spent.__cause__
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def asend(self, client: httpx.AsyncClient, call: ApiCall) -> Any:
        secrets = self.secrets_for(call)
        request_kwargs = call.request_kwargs()
        try:
            async for attempt in AsyncRetrying(sleep=self.async_sleep, **self._retry_options(call)):
                with attempt:
                    try:
                        async with self._aslot():
                            with provider_requests():
                                response = await client.request(**request_kwargs)
                    except httpx.HTTPError as error:
                        raise_for_transport_error(call, error, secrets, self.origin)
                    return data_or_raise(call, response, secrets, self.origin)
        except RetryableAttemptError as spent:
            raise spent.error from spent.__cause__
        raise AssertionError("unreachable: tenacity either returns or raises")
