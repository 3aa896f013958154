"""The rate limit per organization, service-account scopes, status codes and latency (strict defaults)."""

from __future__ import annotations

import time

import httpx
import pytest

from airflow_provider_ango.emulator import AngoEmulator, EmulatorSettings, RateLimit
from airflow_provider_ango.emulator.traffic import RateLimiter
from tests.emulator.helpers import data_of, fail_message

STRICT = EmulatorSettings()
pytestmark = pytest.mark.ango_settings(STRICT)
OTHER_ORGANIZATION = "0000000000000000000000bb"


def _client(ango: AngoEmulator, key: str) -> httpx.Client:
    return httpx.Client(base_url=ango.url, headers={"apikey": key}, timeout=30)


def test_100_requests_a_minute_then_429_with_retry_after_for_every_key_of_the_organization(
    ango: AngoEmulator, api: httpx.Client
) -> None:
    project = ango.control.seed_project(name="limited", assets=2)
    export = data_of(api.get("/v2/export", params={"project": project["_id"], "stage": '["Label"]'}))
    answers = [api.get("/v2/listProjects") for _ in range(99)]  # the export request was the first
    assert {answer.status_code for answer in answers} == {200}
    refused = api.get("/v2/listProjects")
    assert refused.status_code == 429
    assert refused.json() == {"status": "fail", "message": "Rate limit exceeded"}
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    colleague = ango.control.add_key()  # another key of the same organization shares the window
    with _client(ango, colleague) as client:
        assert client.get("/v2/listProjects").status_code == 429
    with _client(ango, ango.control.add_key(organization=OTHER_ORGANIZATION)) as client:
        assert client.get("/v2/listProjects").status_code == 200  # another organization: its own window
    # Neither the control API nor signed file downloads count.
    assert ango.control.counts(project["_id"])["assets"] == 2
    assert httpx.get(export["exportPath"]).status_code == 200
    stats = ango.control.stats()
    assert stats["rateLimited"] == 2
    assert stats["byStatus"] == {"200": 102, "429": 2}
    organization = project["organization"]
    assert stats["organizations"][organization] == {"requests": 102, "rateLimited": 2}
    assert stats["organizations"][OTHER_ORGANIZATION] == {"requests": 1, "rateLimited": 0}
    logged = ango.control.requests(path_pattern="^/v2/listProjects$")
    assert [entry["status"] for entry in logged].count(429) == 2
    assert all(entry["organization"] == organization for entry in logged if entry["status"] == 429)


@pytest.mark.ango_settings(STRICT, rate_limit="3/s", retry_after=False)
def test_without_retry_after_and_with_a_scaled_window(ango: AngoEmulator, api: httpx.Client) -> None:
    statuses = [api.get("/v2/listProjects").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = api.get("/v2/listProjects")
    assert refused.status_code == 429
    assert "Retry-After" not in refused.headers
    assert fail_message(refused, 429) == "Rate limit exceeded"


def test_the_window_rolls() -> None:
    now = [1000.0]
    limiter = RateLimiter(RateLimit(2, 60.0), clock=lambda: now[0])
    assert limiter.admit("org") is None
    now[0] += 30
    assert limiter.admit("org") is None
    assert limiter.admit("org") == pytest.approx(30.0)  # the first request leaves the window in 30 s
    assert limiter.admit("other") is None
    now[0] += 30
    assert limiter.admit("org") is None  # rolling: one slot freed, not the whole window
    assert limiter.admit("org") == pytest.approx(30.0)
    assert RateLimit.parse("100/min") == RateLimit(100, 60.0)
    assert RateLimit.parse("5/s") == RateLimit(5, 1.0)
    assert RateLimit.parse("off") is None
    with pytest.raises(ValueError, match="100/min"):
        RateLimit.parse("fast")


def test_service_account_keys_reach_only_their_scopes(ango: AngoEmulator, api: httpx.Client) -> None:
    project = ango.control.seed_project(name="scoped", assets=1)
    key = ango.control.add_key(scopes=["assets", "tasks"])
    assert key.startswith("ango_sa_")
    with _client(ango, key) as client:
        assert data_of(client.get(f"/v2/project/{project['_id']}/assets"))["total"] == 1
        assert data_of(client.get(f"/v2/project/{project['_id']}/tasks"))["total"] == 1
        message = fail_message(client.get("/v2/export", params={"project": project["_id"]}), 403)
        assert message == "This API key's scopes (assets, tasks) do not include export"
        assert "do not include projects" in fail_message(client.post("/v2/project", json={"name": "x"}), 403)
    listed = ango.control.keys()
    assert {entry["keyHint"] for entry in listed if entry["serviceAccount"]} == {key[:10] + "..."}
    assert key not in str(listed)
    for bad, expected in (
        ({"serviceAccount": True, "scopes": ["everything"]}, "Unknown scopes ['everything']"),
        ({"scopes": ["assets"]}, "Only service-account keys have scopes"),
        ({"serviceAccount": True}, "needs scopes"),
        ({"serviceAccount": False, "key": "ango_sa_0123456789"}, "start with 'ango_sa_'"),
    ):
        answer = httpx.post(f"{ango.url}/_emulator/keys", json=bad)
        assert answer.status_code == 400
        assert expected in answer.json()["message"]
    ango.control.reset()
    with _client(ango, key) as client:
        assert (
            fail_message(client.get("/v2/listProjects"), 401) == "Invalid API KEY"
        )  # reset drops added keys


def test_documented_status_codes(ango: AngoEmulator, api: httpx.Client) -> None:
    created = api.post("/v2/project", json={"name": "p"})
    assert created.status_code == 201
    project_id = created.json()["data"]["project"]["_id"]
    item = {"data": "https://e.com/a.jpg", "externalId": "a"}
    assert api.post(f"/v2/project/{project_id}/cloud", json={"assets": [item]}).status_code == 201
    assert api.post("/v2/storages/", json={"name": "s", "type": "gcs", "bucket": "b"}).status_code == 201
    assert api.post(f"/v2/batches/{project_id}", json={"name": "b1"}).status_code == 200  # an update
    assert api.post("/v2/project", json={}).status_code == 400
    assert httpx.get(f"{ango.url}/v2/listProjects").status_code == 401
    assert api.get("/v2/project/0123456789abcdef01234567").status_code == 404


@pytest.mark.ango_settings(STRICT, latency_ms=120)
def test_latency_holds_every_api_answer(ango: AngoEmulator, api: httpx.Client) -> None:
    for call in (lambda: api.get("/v2/listProjects"), lambda: api.get("/v2/unknown")):
        started = time.monotonic()
        call()
        assert time.monotonic() - started >= 0.12  # a lower bound the setting promises, not a speed claim
