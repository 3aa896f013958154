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
