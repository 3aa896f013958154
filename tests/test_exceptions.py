"""exceptions.py: the error class of each HTTP status, the error text, pickling."""

from __future__ import annotations

import pickle

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
from airflow_provider_ango.redaction import MAX_MESSAGE_LENGTH
from tests.helpers import SIGNED


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
        # Room for Ango's message (cut where it is read, at MAX_MESSAGE_LENGTH) and the advice after it.
        error = AngoServerError(502, "GET", "/v2/export", "<html>" + "x" * 5000)
        assert len(error.message) < 2 * MAX_MESSAGE_LENGTH + 50

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
