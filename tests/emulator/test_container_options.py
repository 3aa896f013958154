"""Options for running the emulator inside a container network (docker/compose.yaml)."""

from __future__ import annotations

import httpx
import pytest

from airflow_provider_ango.emulator import AngoEmulator


def test_non_loopback_host_is_refused_outside_a_container() -> None:
    with pytest.raises(ValueError, match="loopback"):
        AngoEmulator(api_key="k", host="0.0.0.0")  # noqa: S104 (the point: it is refused)


def test_public_url_is_the_base_of_signed_export_links() -> None:
    with AngoEmulator(api_key="k", public_url="http://ango-emulator:8090/") as hub:
        assert hub.url == "http://ango-emulator:8090"
        project = hub.control.seed_project(name="p", synthetic_assets={"count": 2, "stage": "Complete"})
        # The API itself is still reached on loopback; only the links it hands out change.
        local = f"http://127.0.0.1:{hub.port}"
        answer = httpx.get(f"{local}/v2/export", params={"project": project["_id"]}, headers={"apikey": "k"})
        assert answer.status_code == 200
        assert answer.json()["data"]["exportPath"].startswith("http://ango-emulator:8090/")


def test_wait_until_wakes_on_a_request_and_times_out_with_its_name() -> None:
    import threading

    with AngoEmulator(api_key="k") as hub:
        project = hub.control.seed_project(name="w")
        path = f"/v2/project/{project['_id']}"
        caller = threading.Thread(target=lambda: httpx.get(hub.url + path, headers={"apikey": "k"}))
        caller.start()
        hub.wait_until(
            lambda: [entry["status"] for entry in hub.control.requests(path_pattern=path + "$")] == [200],
            timeout=30,
            what="the project read",
        )
        caller.join(timeout=30)
        with pytest.raises(TimeoutError, match="a request that never comes did not happen"):
            hub.wait_until(lambda: False, timeout=0.05, what="a request that never comes")
