"""Injected faults (status, slow, reset, truncate) and the request log."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from airflow_provider_ango.emulator import AngoEmulator, EmulatorControlError
from tests.emulator.helpers import data_of, fail_message

ONE_ASSET = {
    "assets": [{"data": "https://e.com/a.jpg", "externalId": "a"}],
    "uploadLocal": None,
    "priority": 0,
}


def test_status_fault_answers_with_retry_after_and_applies_nothing(
    ango: AngoEmulator, api: httpx.Client
) -> None:
    project = ango.control.seed_project(name="f")
    fault = ango.control.add_fault(r"/cloud$", "status", status=429, retry_after=7, count=1)
    assert fault["remaining"] == 1
    refused = api.post(f"/v2/project/{project['_id']}/cloud", json=ONE_ASSET)
    assert fail_message(refused, 429) == "Injected fault: HTTP 429"
    assert refused.headers["retry-after"] == "7"
    assert ango.control.counts(project["_id"])["assets"] == 0
    data_of(api.post(f"/v2/project/{project['_id']}/cloud", json=ONE_ASSET), 201)  # the fault is used up
    assert ango.control.counts(project["_id"])["assets"] == 1
    assert ango.control.faults()[0]["remaining"] == 0


def test_status_fault_counts_and_method_filter(ango: AngoEmulator, api: httpx.Client) -> None:
    ango.control.add_fault("^/v2/listProjects$", "status", status=503, count=2, method="get")
    ango.control.add_fault("^/v2/project$", "status", status=500, method="POST")
    assert [api.get("/v2/listProjects").status_code for _ in range(3)] == [503, 503, 200]
    assert api.post("/v2/project", json={"name": "x"}).status_code == 500
    assert api.post("/v2/project", json={"name": "x"}).status_code == 201
    ango.control.add_fault("^/v2/", "status", status=502, count=5)
    ango.control.clear_faults()
    assert api.get("/v2/listProjects").status_code == 200


def test_slow_fault_delays_but_applies_the_request(ango: AngoEmulator, api: httpx.Client) -> None:
    project = ango.control.seed_project(name="slow")
    ango.control.add_fault(r"/cloud$", "slow", delay=0.5)
    with pytest.raises(httpx.ReadTimeout):
        api.post(f"/v2/project/{project['_id']}/cloud", json=ONE_ASSET, timeout=0.2)
    # Logged on arrival: visible while the server still waits, its status not yet known.
    in_flight = ango.control.requests(path_pattern="/cloud$")
    assert [entry["status"] for entry in in_flight] == [None]
    assert in_flight[0]["fault"] == "slow"
    # The client gave up, but the import reached the server and was applied: a POST that
    # timed out may have happened, which is why a client must not blindly re-send it.
    ango.wait_until(
        lambda: ango.control.counts(project["_id"])["assets"] == 1, timeout=5, what="the slow import"
    )
    assert ango.control.counts(project["_id"])["assets"] == 1
    assert ango.control.requests(path_pattern="/cloud$")[0]["status"] == 201


def test_reset_fault_drops_the_connection_and_applies_nothing(ango: AngoEmulator, api: httpx.Client) -> None:
    project = ango.control.seed_project(name="reset")
    ango.control.add_fault(r"/cloud$", "reset")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError, httpx.ConnectError)):
        api.post(f"/v2/project/{project['_id']}/cloud", json=ONE_ASSET)
    assert ango.control.counts(project["_id"])["assets"] == 0
    logged = ango.control.requests(path_pattern="/cloud$")
    assert logged[-1]["fault"] == "reset"
    assert logged[-1]["status"] is None
    data_of(api.post(f"/v2/project/{project['_id']}/cloud", json=ONE_ASSET), 201)  # a new connection works


def test_truncate_fault_applies_then_cuts_the_answer(ango: AngoEmulator, api: httpx.Client) -> None:
    project = ango.control.seed_project(name="trunc", synthetic_assets={"count": 20, "stage": "Complete"})
    ango.control.add_fault(r"/cloud$", "truncate")
    with pytest.raises(httpx.RemoteProtocolError):
        api.post(f"/v2/project/{project['_id']}/cloud", json=ONE_ASSET)
    assert ango.control.counts(project["_id"])["assets"] == 21
    url = data_of(api.get("/v2/export", params={"project": project["_id"]}))["exportPath"]
    whole = httpx.get(url).content
    ango.control.add_fault("^/_files/", "truncate")
    received = bytearray()

    def download() -> None:
        with httpx.stream("GET", url) as stream:
            for chunk in stream.iter_bytes():
                received.extend(chunk)

    with pytest.raises(httpx.RemoteProtocolError):
        download()
    assert 0 < len(received) < len(whole)
    assert whole.startswith(bytes(received))
    # A download can resume with a Range request from where it was cut.
    rest = httpx.get(url, headers={"Range": f"bytes={len(received)}-"})
    assert rest.status_code == 206
    assert bytes(received) + rest.content == whole


def test_file_downloads_can_be_faulted_too(ango: AngoEmulator, api: httpx.Client) -> None:
    project = ango.control.seed_project(name="dl", synthetic_assets={"count": 2, "stage": "Complete"})
    url = data_of(api.get("/v2/export", params={"project": project["_id"]}))["exportPath"]
    ango.control.add_fault("^/_files/export/", "status", status=503, retry_after=1)
    assert httpx.get(url).status_code == 503
    assert httpx.get(url).status_code == 200


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"path_pattern": "(", "kind": "status", "status": 500}, "not a valid regular expression"),
        ({"path_pattern": "x", "kind": "status"}, "needs status"),
        ({"path_pattern": "x", "kind": "slow"}, "needs delay"),
        ({"path_pattern": "x", "kind": "explode"}, "kind must be one of"),
        ({"path_pattern": "x", "kind": "reset", "count": 0}, "count must be"),
    ],
)
def test_bad_faults_are_refused(ango: AngoEmulator, body: dict[str, Any], expected: str) -> None:
    with pytest.raises(EmulatorControlError) as caught:
        ango.control.add_fault(**body)
    assert caught.value.status == 400
    assert expected in caught.value.message


def test_request_log_records_what_was_sent(ango: AngoEmulator, api: httpx.Client) -> None:
    project = ango.control.seed_project(name="log")  # control calls are not logged
    assert ango.control.requests() == []
    params: dict[str, Any] = {
        "page": 1,
        "limit": 5,
        "filter": json.dumps({"stage": "Label"}),
        "includeAnswer": "false",
    }
    api.get(f"/v2/project/{project['_id']}/tasks", params=params)
    api.post(
        f"/v2/project/{project['_id']}/cloud",
        params={"batches": "[]"},
        json=ONE_ASSET,
        headers={"X-Trace": "t1"},
    )
    tasks_call, import_call = ango.control.requests()
    assert tasks_call["method"] == "GET"
    assert tasks_call["path"] == f"/v2/project/{project['_id']}/tasks"
    assert tasks_call["query"] == "page=1&limit=5&filter=%7B%22stage%22%3A+%22Label%22%7D&includeAnswer=false"
    assert tasks_call["queryParams"] == {
        "page": "1",
        "limit": "5",
        "filter": '{"stage": "Label"}',
        "includeAnswer": "false",
    }
    assert tasks_call["body"] is None
    assert tasks_call["status"] == 200
    assert tasks_call["fault"] is None
    assert import_call["body"] == ONE_ASSET
    assert import_call["queryParams"] == {"batches": "[]"}
    assert import_call["headers"]["x-trace"] == "t1"
    assert import_call["headers"]["content-type"] == "application/json"
    assert import_call["headers"]["apikey"] == "REDACTED"
    assert import_call["apikeyValid"] is True
    assert import_call["seq"] > tasks_call["seq"]
    assert ango.control.requests(since=tasks_call["seq"]) == [import_call]
    assert ango.control.requests(path_pattern="/tasks$") == [tasks_call]
    url = data_of(api.get("/v2/export", params={"project": project["_id"], "stage": '["Label"]'}))[
        "exportPath"
    ]
    httpx.get(url)
    download = ango.control.requests(path_pattern="^/_files/")[0]
    signature = url.rsplit("Signature=", 1)[1]
    assert signature not in json.dumps(download)
    assert download["queryParams"]["Signature"] == "REDACTED"
    ango.control.clear_requests()
    assert ango.control.requests() == []
