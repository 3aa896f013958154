"""hooks/ango/download.py through the hook: a cut download resumes with Range, a failed start is
retried, an expired link is an auth error without its signature (faults from the Ango emulator)."""

from __future__ import annotations

import io
import json
import logging
import zipfile
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_ango.exceptions import AngoAuthError
from tests.hooks.ango.helpers import logged

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.hooks.ango import AngoHubHook
    from tests.hooks.ango.conftest import RecordedWaits

pytestmark = pytest.mark.emulator


def clean_download(hook: AngoHubHook, project_id: str) -> tuple[str, bytes]:
    url = hook.request_export(project_id, None)
    with hook.open_export_stream(url) as chunks:
        return url.get_secret_value(), b"".join(chunks)


def test_truncated_download_resumes_with_range(
    ango: AngoEmulator, hook: AngoHubHook, waits: RecordedWaits, project: dict[str, Any]
) -> None:
    ango.control.act(
        project["_id"], action="move", toStage="Complete", externalIds=["cat-0.jpg", "cat-1.jpg"]
    )
    url, expected = clean_download(hook, project["_id"])
    ango.control.clear_requests()
    ango.control.add_fault("^/_files/", "truncate")

    with hook.open_export_stream(url, chunk_size=64) as chunks:
        resumed = b"".join(chunks)

    assert resumed == expected
    entries = logged(ango, "/_files/.*", "GET")
    assert [entry["status"] for entry in entries] == [200, 206]
    assert "range" not in entries[0]["headers"]
    # Resumed at the last byte handed out (chunks still buffered when the connection dropped are re-read).
    resumed_at = int(entries[1]["headers"]["range"].removeprefix("bytes=").removesuffix("-"))
    assert 0 < resumed_at <= len(expected) // 2
    assert entries[1]["headers"]["range"] == f"bytes={resumed_at}-"
    assert len(waits) == 1
    with zipfile.ZipFile(io.BytesIO(resumed)) as archive:
        assert len(json.loads(archive.read(archive.namelist()[0]))) == 2


@pytest.mark.parametrize(("kind", "status"), [("reset", None), ("status", 503), ("status", 429)])
def test_interrupted_download_start_is_retried(
    ango: AngoEmulator,
    hook: AngoHubHook,
    waits: RecordedWaits,
    project: dict[str, Any],
    kind: str,
    status: int | None,
) -> None:
    url, expected = clean_download(hook, project["_id"])
    ango.control.add_fault("^/_files/", kind, status=status, retry_after=1 if status else None)

    with hook.open_export_stream(url) as chunks:
        assert b"".join(chunks) == expected

    assert len(waits) == 1
    if status:
        assert waits == [1.0]


def test_expired_signed_url_is_an_auth_error_without_the_signature(
    ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    ango.control.set_url_expiry(60)
    url = hook.request_export(project["_id"])
    ango.control.advance_clock(61)
    signature = url.get_secret_value().split("Signature=")[1]

    with (
        caplog.at_level(logging.DEBUG),
        pytest.raises(AngoAuthError, match="expired") as raised,
        hook.open_export_stream(url) as chunks,
    ):
        b"".join(chunks)

    assert raised.value.status == 403
    assert signature not in str(raised.value)
    assert "Expires=" not in str(raised.value)
    assert signature not in caplog.text
    assert len(logged(ango, "/_files/.*")) == 1  # a 403 is final
