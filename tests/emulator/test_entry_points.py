"""Entry points: the command line, the context manager's loopback rule, the pytest fixtures."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading

import httpx
import pytest

from airflow_provider_ango.emulator import AngoEmulator
from airflow_provider_ango.testing.ango import connection_extra


def _first_line(process: subprocess.Popen[str], timeout: float) -> str:
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    return lines.get(timeout=timeout)


def launch_command_line(*flags: str) -> subprocess.Popen[str]:
    """``python -m airflow_provider_ango.emulator --port 0 FLAGS``, its output unbuffered."""
    return subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_ango.emulator", "--port", "0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_command_line_prints_a_ready_line_and_stops_on_sigterm() -> None:
    secret = "cli-secret-key"
    process = launch_command_line("--api-key", secret, "--url-expiry", "30")
    try:
        ready = _first_line(process, timeout=60)
        assert ready.startswith("Ango Hub emulator ready at http://127.0.0.1:")
        url = ready.split()[-1]
        answer = httpx.get(f"{url}/v2/listProjects", headers={"apikey": secret})
        assert answer.json() == {"status": "success", "data": {"projects": [], "total": 0}}
        assert httpx.get(f"{url}/v2/listProjects").status_code == 401
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
        assert process.returncode == 0
        assert secret not in ready + out + err
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_command_line_refuses_a_non_loopback_host() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_ango.emulator", "--api-key", "k", "--host", "0.0.0.0"],  # noqa: S104
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "loopback" in result.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::1", "example.com"])  # noqa: S104
def test_only_loopback_addresses_are_accepted(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        AngoEmulator(host=host)


def test_context_manager_on_localhost_with_its_own_key() -> None:
    with AngoEmulator(api_key="own", host="localhost") as hub:
        assert hub.url.startswith("http://127.0.0.1:")
        assert hub.api_key == "own"
        assert httpx.get(f"{hub.url}/v2/storages", headers={"apikey": "own"}).status_code == 200
        assert httpx.get(f"{hub.url}/_emulator/health").json()["ok"] is True
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{hub.url}/v2/storages", headers={"apikey": "own"})


def test_ango_connection_points_airflow_at_the_emulator(ango: AngoEmulator, ango_connection: str) -> None:
    assert ango_connection == "ango_default"
    connection = json.loads(os.environ["AIRFLOW_CONN_ANGO_DEFAULT"])
    assert connection == {
        "conn_type": "ango",
        "password": ango.api_key,
        "host": ango.url,
        "extra": connection_extra(ango.settings),  # the client fits the emulator's reading and rate
    }
    ango.control.seed_project(name="left behind")


def test_ango_fixture_starts_each_test_from_a_reset_emulator(ango: AngoEmulator) -> None:
    answer = httpx.get(f"{ango.url}/v2/listProjects", headers={"apikey": ango.api_key})
    assert answer.json()["data"]["total"] == 0
