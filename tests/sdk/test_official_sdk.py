"""The official Ango SDK (``imerit-ango==1.4.10``), unchanged, against the emulator.

The SDK cannot be installed beside Airflow 3 (its pins conflict; see ango-api.md), so the test
builds a throwaway virtual environment with ``uv venv`` + ``uv pip install`` (from PyPI; about
half a minute the first time, seconds with uv's cache) and runs ``sdk_session.py`` in it. Its
traffic goes only to the emulator on 127.0.0.1. The emulator plays the SDK's readings (batch ids,
the answers the SDK reads) at the documented limits (100 a page, 100 requests a minute).

Without uv or PyPI the test is skipped, except with ``CI=true``, where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_ango.emulator import AngoEmulator, EmulatorSettings
from airflow_provider_ango.testing.plugin import in_ci

SDK_REQUIREMENT = "imerit-ango==1.4.10"
SESSION_SCRIPT = Path(__file__).with_name("sdk_session.py")
SDK_READING = EmulatorSettings(answer_shapes="sdk", batch_refs="ids")
INSTALL_TIMEOUT_SECONDS = 600


def _uv() -> list[str] | None:
    found = shutil.which("uv")
    if found:
        return [found]
    for python in (shutil.which("python3"), sys.executable):
        if (
            python
            and subprocess.run([python, "-m", "uv", "--version"], capture_output=True, check=False).returncode
            == 0
        ):
            return [python, "-m", "uv"]
    return None


def _unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"the official SDK could not be installed in CI (nothing may be skipped there): {reason}")
    pytest.skip(f"the official SDK could not be installed: {reason}")


@pytest.fixture(scope="session")
def sdk_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a fresh virtual environment holding only the SDK and its dependencies."""
    uv = _uv()
    if uv is None:
        _unavailable("uv is not installed (make setup installs it)")
        raise AssertionError("unreachable")
    venv = tmp_path_factory.mktemp("imerit-ango-venv")
    python = venv / "bin" / "python"
    steps = (
        [*uv, "venv", "--quiet", "--python", f"{sys.version_info.major}.{sys.version_info.minor}", str(venv)],
        [*uv, "pip", "install", "--quiet", "--python", str(python), SDK_REQUIREMENT],
    )
    for step in steps:
        result = subprocess.run(
            step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS, check=False
        )
        if result.returncode != 0:
            _unavailable(f"`{' '.join(step[len(uv) :])}` failed: {result.stderr[-2000:]}")
    return python


def _run(python: Path, *args: str) -> dict[str, Any]:
    # Loopback only: no proxy may take the SDK's requests (nor urllib's export download) elsewhere.
    env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    result = subprocess.run(
        [str(python), str(SESSION_SCRIPT), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    output: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return output


@pytest.mark.ango_settings(SDK_READING)
def test_the_official_sdk_runs_unchanged_against_the_emulator(ango: AngoEmulator, sdk_python: Path) -> None:
    setup = _run(sdk_python, "setup", ango.url, ango.api_key)
    project_id = setup["project"]
    batch_id = next(batch["_id"] for batch in setup["batch"]["batches"] if batch["name"] == "nightly")
    assert setup["upload"] == {"status": "success", "data": {"assets": "Successfully created."}}
    assert setup["assets"]["total"] == 3
    assert all(batch_id in asset["batches"] for asset in setup["assets"]["assets"])
    assert setup["labels"]["status"] == "success"
    assert setup["tasks"]["total"] == 3
    assert setup["tasksInLabel"] == 3
    assert [item["schemaId"] for item in setup["categorySchema"]["classifications"]] == ["colour-radio"]
    counts = ango.control.counts(project_id)
    assert counts["batches"] == {"nightly": 3}
    assert counts["preLabeled"] == 1

    ango.control.act(project_id, action="move", externalIds=["img-0", "img-1"], toStage="Complete")
    exported = _run(sdk_python, "export", ango.url, ango.api_key, project_id)
    assert sorted(record["externalId"] for record in exported["json"]) == ["img-0", "img-1"]
    assert exported["ndjsonCount"] == 2
    assert [record["externalId"] for record in exported["ndjson"]] == [
        r["externalId"] for r in exported["json"]
    ]
    labelled = next(record for record in exported["json"] if record["externalId"] == "img-1")
    assert labelled["task"]["classifications"][0]["schemaId"] == "colour-radio"
    assert labelled["batches"] == ["nightly"]
    assert "stageHistory" in labelled["task"]  # the SDK asks for history by default
    # Everything went to the emulator, within its limits: no request was refused or failed.
    statuses = {entry["status"] for entry in ango.control.requests()}
    assert statuses <= {200, 201}, statuses
    assert ango.control.stats()["rateLimited"] == 0
