"""Fidelity under faults: every fault kind of the emulator, on reads and writes (downloads: test_download.py).

The hook either recovers (and the request log shows how) or fails with the typed error the
retry rules call for. Waits are recorded by the ``waits`` fixture instead of slept.
"""

from __future__ import annotations

import json
import logging
import socket
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_ango.exceptions import (
    AngoAmbiguousWriteError,
    AngoConnectionError,
    AngoRateLimitError,
    AngoServerError,
)
from tests.hooks.ango.helpers import logged

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.hooks.ango import AngoHubHook
    from tests.hooks.ango.conftest import HookFactory, RecordedWaits

pytestmark = pytest.mark.emulator


def new_assets(count: int, prefix: str = "new") -> list[dict[str, str]]:
    return [
        {"data": f"https://img.example/{prefix}-{n}.jpg", "externalId": f"{prefix}-{n}"} for n in range(count)
    ]


# -- status faults ----------------------------------------------------------------------
def test_429_with_retry_after_is_honoured(
    ango: AngoEmulator, hook: AngoHubHook, waits: RecordedWaits, project: dict[str, Any]
) -> None:
    ango.control.add_fault("^/v2/project/", "status", status=429, retry_after=2)

    assert hook.get_project(project["_id"]).id == project["_id"]

    assert waits == [2.0]  # the server's 2 s, not the hook's 0.05 s backoff ceiling
    assert [entry["status"] for entry in logged(ango, f"/v2/project/{project['_id']}")] == [429, 200]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_on_reads_are_retried_with_jittered_backoff(
    ango: AngoEmulator, hook: AngoHubHook, waits: RecordedWaits, project: dict[str, Any], status: int
) -> None:
    ango.control.add_fault("/tasks$", "status", status=status, count=2)

    assert hook.count_tasks(project["_id"]) == 5

    assert len(waits) == 2
    assert 0 <= waits[0] <= 0.01  # full jitter under the first ceiling
    assert 0 <= waits[1] <= 0.02
    assert [entry["status"] for entry in logged(ango, f"/v2/project/{project['_id']}/tasks")] == [
        status,
        status,
        200,
    ]


def test_rate_limit_outlasting_the_budget_is_a_typed_error(
    ango: AngoEmulator,
    make_hook: HookFactory,
    ango_connection: str,
    waits: RecordedWaits,
    project: dict[str, Any],
) -> None:
    ango.control.add_fault("/tasks$", "status", status=429, retry_after=1, count=10)
    hook = make_hook(ango_conn_id=ango_connection, rate_limit_timeout=3.5)

    with pytest.raises(AngoRateLimitError) as raised:
        hook.count_tasks(project["_id"])

    assert raised.value.status == 429
    assert raised.value.retry_after == 1.0
    # Waits of 1 s fit 3.5 s three times; the fourth would end at 4 s.
    assert len(logged(ango, f"/v2/project/{project['_id']}/tasks")) == 4
    assert waits == [1.0, 1.0, 1.0]


def test_rate_limit_waits_are_not_retries(
    ango: AngoEmulator,
    make_hook: HookFactory,
    ango_connection: str,
    waits: RecordedWaits,
    project: dict[str, Any],
) -> None:
    """Six 429s in a row, with retry_limit=3: the call still succeeds once the window reopens."""
    ango.control.add_fault("/tasks$", "status", status=429, retry_after=2, count=6)
    hook = make_hook(ango_conn_id=ango_connection, retry_limit=3, rate_limit_timeout=60)

    assert hook.count_tasks(project["_id"]) == 5

    assert len(logged(ango, f"/v2/project/{project['_id']}/tasks")) == 7
    assert waits == [2.0] * 6


def test_a_429_without_retry_after_waits_a_whole_window(
    ango: AngoEmulator,
    make_hook: HookFactory,
    ango_connection: str,
    waits: RecordedWaits,
    project: dict[str, Any],
) -> None:
    ango.control.add_fault("/tasks$", "status", status=429, count=2)
    hook = make_hook(ango_conn_id=ango_connection)

    assert hook.count_tasks(project["_id"]) == 5

    assert waits == [60.0, 60.0]  # the documented limit is per minute, and nothing says how long is left


def test_server_error_outlasting_the_budget_is_a_typed_error(
    ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any]
) -> None:
    ango.control.add_fault("^/v2/project/", "status", status=502, count=10)

    with pytest.raises(AngoServerError, match=r"HTTP 502.*Injected fault") as raised:
        hook.get_project(project["_id"])

    assert (raised.value.status, raised.value.method) == (502, "GET")
    assert len(logged(ango, f"/v2/project/{project['_id']}")) == 4


def test_elapsed_budget_stops_before_a_long_retry_after(
    ango: AngoEmulator,
    make_hook: HookFactory,
    ango_connection: str,
    waits: RecordedWaits,
    project: dict[str, Any],
) -> None:
    hook = make_hook(ango_conn_id=ango_connection, retry_max_elapsed=30)
    ango.control.add_fault("^/v2/project/", "status", status=503, retry_after=3600)

    with pytest.raises(AngoServerError) as raised:
        hook.get_project(project["_id"])

    assert raised.value.retry_after == 3600.0
    assert waits == []
    assert len(logged(ango, f"/v2/project/{project['_id']}")) == 1


@pytest.mark.parametrize(
    ("status", "retry_after"),
    [(500, None), (502, None), (503, None), (504, None), (500, 5)],
)
def test_non_idempotent_write_after_ambiguous_status_is_not_resent(
    ango: AngoEmulator,
    hook: AngoHubHook,
    waits: RecordedWaits,
    project: dict[str, Any],
    status: int,
    retry_after: float | None,
) -> None:
    ango.control.add_fault("/cloud$", "status", status=status, retry_after=retry_after)

    with pytest.raises(AngoAmbiguousWriteError, match="not re-sent") as raised:
        hook.import_cloud_assets(project["_id"], new_assets(3))

    assert (raised.value.status, raised.value.method) == (status, "POST")
    assert raised.value.path == f"/v2/project/{project['_id']}/cloud"
    assert len(logged(ango, f"/v2/project/{project['_id']}/cloud", "POST")) == 1
    assert waits == []


@pytest.mark.parametrize(("status", "retry_after"), [(429, None), (429, 1), (503, 1)])
def test_non_idempotent_write_is_retried_when_the_server_provably_refused(
    ango: AngoEmulator,
    hook: AngoHubHook,
    waits: RecordedWaits,
    project: dict[str, Any],
    status: int,
    retry_after: float | None,
) -> None:
    ango.control.add_fault("/cloud$", "status", status=status, retry_after=retry_after)

    receipts = hook.import_cloud_assets(project["_id"], new_assets(3))

    assert [receipt.item_count for receipt in receipts] == [3]
    assert [entry["status"] for entry in logged(ango, f"/v2/project/{project['_id']}/cloud", "POST")] == [
        status,
        201,  # a cloud import answers 201 Created, as Ango documents
    ]
    assert len(waits) == 1
    if retry_after is not None:
        assert waits == [retry_after]
    assert hook.count_assets(project["_id"]) == 8  # imported exactly once


def test_ambiguous_batch_creation_rechecks_before_creating_again(
    ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any]
) -> None:
    # "truncate" applies the create, then cuts the answer: the batch exists although the hook saw a failure.
    ango.control.add_fault("^/v2/batches/", "truncate")

    resolved = hook.resolve_batches(project["_id"], ["late"], create_missing=True)

    batches = hook.get_project(project["_id"]).batch_ids_by_name()
    assert resolved == {"late": batches["late"]}
    assert [batch["name"] for batch in hook.get_project(project["_id"]).to_api()["batches"]].count(
        "late"
    ) == 1
    assert len(logged(ango, f"/v2/batches/{project['_id']}", "POST")) == 1


# -- connection reset -------------------------------------------------------------------
def test_reset_on_a_read_is_retried(
    ango: AngoEmulator, hook: AngoHubHook, waits: RecordedWaits, project: dict[str, Any]
) -> None:
    ango.control.add_fault("/assets$", "reset")

    assert [asset.external_id for asset in hook.iter_assets(project["_id"], {"externalId": "cat-2.jpg"})] == [
        "cat-2.jpg"
    ]
    assert len(logged(ango, f"/v2/project/{project['_id']}/assets")) == 2
    assert len(waits) == 1


def test_reset_on_a_write_is_ambiguous(
    ango: AngoEmulator, hook: AngoHubHook, waits: RecordedWaits, project: dict[str, Any]
) -> None:
    ango.control.add_fault("/import/labels$", "reset")
    labels = [{"externalId": "cat-0.jpg", "classifications": [{"schemaId": "colour", "answer": "black"}]}]

    with pytest.raises(AngoAmbiguousWriteError) as raised:
        hook.import_labels(project["_id"], labels)

    assert raised.value.status is None
    assert len(logged(ango, "/v2/import/labels")) == 1
    assert waits == []


# -- truncated answers ------------------------------------------------------------------
def test_truncated_answer_to_a_read_is_retried(
    ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any]
) -> None:
    ango.control.add_fault("/tasks$", "truncate")

    tasks = list(hook.iter_tasks(project["_id"], page_size=10))

    assert len(tasks) == 5
    assert len(logged(ango, f"/v2/project/{project['_id']}/tasks")) == 2


def test_truncated_answer_to_a_write_is_ambiguous_because_it_was_applied(
    ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any]
) -> None:
    ango.control.add_fault("/cloud$", "truncate")

    with pytest.raises(AngoAmbiguousWriteError):
        hook.import_cloud_assets(project["_id"], new_assets(2))

    # The emulator applied the import: re-sending it would have duplicated both assets.
    assert hook.count_assets(project["_id"]) == 7
    assert len(logged(ango, f"/v2/project/{project['_id']}/cloud", "POST")) == 1


# -- slow answers -----------------------------------------------------------------------
# The emulator logs and applies a slow request only when its delay ends, possibly during a later
# test: slow faults target this test's own project, whose paths no other test looks for.
def test_slow_read_times_out_and_is_retried(
    ango: AngoEmulator,
    make_hook: HookFactory,
    ango_connection: str,
    waits: RecordedWaits,
    project: dict[str, Any],
) -> None:
    hook = make_hook(ango_conn_id=ango_connection, timeout=0.3)
    ango.control.add_fault(f"^/v2/project/{project['_id']}$", "slow", delay=1.0)

    assert hook.get_project(project["_id"]).id == project["_id"]
    assert len(waits) == 1


def test_slow_write_times_out_as_ambiguous(
    ango: AngoEmulator,
    make_hook: HookFactory,
    ango_connection: str,
    waits: RecordedWaits,
    project: dict[str, Any],
) -> None:
    hook = make_hook(ango_conn_id=ango_connection, timeout=0.3)
    ango.control.add_fault(f"^/v2/project/{project['_id']}/cloud$", "slow", delay=1.0)

    with pytest.raises(AngoAmbiguousWriteError, match="ReadTimeout"):
        hook.import_cloud_assets(project["_id"], new_assets(2))

    assert waits == []


# -- connection refused -----------------------------------------------------------------
def test_connection_refused_is_retried_even_for_writes_then_typed(
    make_hook: HookFactory, waits: RecordedWaits, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connection = {"conn_type": "ango", "password": "refused-key-123456", "host": f"http://127.0.0.1:{port}"}
    monkeypatch.setenv("AIRFLOW_CONN_ANGO_REFUSED", json.dumps(connection))
    hook = make_hook(ango_conn_id="ango_refused")

    with pytest.raises(AngoConnectionError, match="ConnectError") as raised:
        hook.create_project("never sent")

    assert not isinstance(raised.value, AngoAmbiguousWriteError)
    assert raised.value.status is None
    assert len(waits) == 3


# -- secrets ----------------------------------------------------------------------------
def test_key_and_signatures_never_reach_errors_or_logs(
    ango: AngoEmulator, hook: AngoHubHook, project: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    key = hook.session.settings.api_key
    caplog.set_level(logging.DEBUG)
    ango.control.add_fault("^/v2/project/", "status", status=500, count=10)
    ango.control.add_fault("/cloud$", "status", status=502)
    url = hook.request_export(project["_id"])
    signature = url.get_secret_value().split("Signature=")[1]
    ango.control.add_fault("^/_files/", "truncate")

    errors: list[Exception] = []
    for action in (
        lambda: hook.get_project(project["_id"]),
        lambda: hook.import_cloud_assets(project["_id"], new_assets(1)),
    ):
        with pytest.raises(Exception) as raised:  # noqa: PT011 - the types are checked elsewhere
            action()
        errors.append(raised.value)
    with hook.open_export_stream(url, chunk_size=32) as chunks:
        b"".join(chunks)

    assert "retry 1 of 3" in caplog.text  # retries were logged ...
    assert "resuming" in caplog.text
    for text in [caplog.text, *map(str, errors), *map(repr, errors), str(url), repr(url)]:
        assert key not in text  # ... without the key
        assert signature not in text  # ... or a signature
    assert all(
        record.levelno == logging.WARNING for record in caplog.records if "retry" in record.getMessage()
    )
