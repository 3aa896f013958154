"""hooks/ango/advice.py through the hook against the emulator: a 401, a 404, a TLS failure on an assumed
https, a connection id that does not exist: each names the connection, the host and what to do."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from airflow_provider_ango.exceptions import (
    AngoAuthError,
    AngoConnectionError,
    AngoConnectionNotFoundError,
    AngoNotFoundError,
)

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator
    from tests.hooks.ango.conftest import HookFactory

pytestmark = pytest.mark.emulator


def connect(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: Any) -> str:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "ango", **fields}))
    return conn_id


def test_a_wrong_key_names_the_connection_the_host_and_the_fix(
    ango: AngoEmulator, make_hook: HookFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id = connect(monkeypatch, "ango_wrong_key", host=ango.url, password="not-the-key-000000")
    with pytest.raises(AngoAuthError) as raised:
        make_hook(ango_conn_id=conn_id).get_project("0" * 24)
    message = str(raised.value)
    assert raised.value.status == 401
    assert "'ango_wrong_key'" in message
    assert ango.url in message
    assert "Account > API" in message
    assert "region" in message
    assert "not-the-key-000000" not in message


def test_an_unknown_project_names_it_the_connection_and_the_host(
    ango: AngoEmulator, ango_connection: str, make_hook: HookFactory
) -> None:
    with pytest.raises(AngoNotFoundError) as raised:
        make_hook(ango_conn_id=ango_connection).get_project("0123456789abcdef01234567")
    message = str(raised.value)
    assert "Project '0123456789abcdef01234567' does not exist" in message
    assert f"'{ango_connection}'" in message
    assert ango.url in message
    assert "check the id" in message


def test_an_assumed_https_on_a_plain_http_server_says_so_and_is_not_retried(
    ango: AngoEmulator, make_hook: HookFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = ango.url.removeprefix("http://")
    conn_id = connect(monkeypatch, "ango_no_scheme", host=bare, password=ango.api_key)
    hook = make_hook(ango_conn_id=conn_id)
    with pytest.raises(AngoConnectionError) as raised:
        hook.get_project("0" * 24)
    message = str(raised.value)
    assert "SSL" in message
    assert "without a scheme, so https was assumed" in message
    assert "http://host:port" in message
    assert "'ango_no_scheme'" in message
    assert hook.session.sleep == []  # no retry: it would fail alike


def test_a_connection_id_that_does_not_exist_names_it_and_how_to_create_it(make_hook: HookFactory) -> None:
    with pytest.raises(AngoConnectionNotFoundError) as raised:
        make_hook(ango_conn_id="ango_typo").get_project("0" * 24)
    message = str(raised.value)
    assert "'ango_typo' (Ango Hub) does not exist" in message
    assert "AIRFLOW_CONN_ANGO_TYPO=" in message
    assert "ango_conn_id" in message


def test_httpx_lines_of_the_provider_lose_the_signature_and_other_clients_keep_theirs(
    ango: AngoEmulator,
    ango_connection: str,
    make_hook: HookFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    project = ango.control.seed_project(
        name="logged", assets=[{"data": "https://x.example/a.jpg", "externalId": "a.jpg"}]
    )
    ango.control.act(project["_id"], action="move", toStage="Complete", externalIds=["a.jpg"])
    hook = make_hook(ango_conn_id=ango_connection)
    with caplog.at_level(logging.INFO, logger="httpx"):
        url = hook.request_export(project["_id"])
        with hook.open_export_stream(url) as chunks:
            assert b"".join(chunks)[:2] == b"PK"
        secret = url.get_secret_value()
        signature = secret.split("?", 1)[1]
        with httpx.Client() as own:  # the user's own client, same URL
            own.get(secret)
    records = [record.getMessage() for record in caplog.records if record.name == "httpx"]
    ours = [line for line in records if "/_files/" in line and "<redacted>" in line]
    theirs = [line for line in records if signature in line]
    assert len(ours) == 1  # the provider's download, logged without its query
    assert len(theirs) == 1  # the user's request, untouched
    assert all(signature not in line for line in records if line not in theirs)
    assert any("/v2/export" in line for line in records)


def test_a_host_with_another_scheme_names_the_connection_and_the_accepted_forms(
    make_hook: HookFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_ango.exceptions import AngoConfigError

    conn_id = connect(monkeypatch, "ango_ftp", host="ftp://127.0.0.1:21", password="k" * 20)
    with pytest.raises(AngoConfigError) as raised:
        make_hook(ango_conn_id=conn_id).get_project("0" * 24)
    message = str(raised.value)
    assert "'ango_ftp'" in message
    assert "'ftp'" in message
    assert "a URL with http:// or https://" in message
