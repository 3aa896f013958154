"""pytest plugin: emulators on loopback and an isolated Airflow home, for this project and its users.

Enable it explicitly (it changes AIRFLOW_HOME, so it is never loaded behind your back)::

    # pytest.ini / pyproject [tool.pytest.ini_options]
    addopts = "-p airflow_provider_ango.testing.plugin"

What it gives:

- every session gets its own temporary ``AIRFLOW_HOME`` with a SQLite database, so two runs at once
  never share state; ``airflow_db`` migrates it once per session, on first use;
- ``s3_emulator`` / ``gcs_emulator`` / ``azure_emulator``: moto server, gcp-storage-emulator and Azurite
  on free loopback ports for the whole session, with the default Airflow connections (``aws_default``,
  ``google_cloud_default``, ``wasb_default``) pointing at them as env-var connections;
- ``new_bucket``: a factory that creates an empty, uniquely named bucket/container in one of them;
- ``fernet_key``: a fresh Fernet key for Airflow for one test (sealed signed URLs need one);
- the Ango Hub emulator fixtures of :mod:`airflow_provider_ango.testing.ango`.

An emulator that cannot start (no Node.js for Azurite, say) skips its tests, except with ``CI=true``
where it fails the run: in CI nothing may be skipped silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import pytest

from airflow_provider_ango.testing.dagruns import isolated_airflow_env
from airflow_provider_ango.testing.servers import (
    AZURITE_ACCOUNT,
    EmulatorUnavailableError,
    StoreEmulator,
    run_azurite,
    run_gcs,
    run_moto,
)

pytest_plugins = ["airflow_provider_ango.testing.ango", "airflow_provider_ango.testing.proxy_fixtures"]

DEFAULT_CONN_IDS = {"s3": "aws_default", "gcs": "google_cloud_default", "azure": "wasb_default"}
URI_SCHEMES = {"s3": "s3", "gcs": "gs", "azure": "wasb"}

_KEEP_HOME_ENV = "ANGO_TESTING_KEEP_AIRFLOW_HOME"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "emulator: needs an emulator started by the ango testing plugin")
    if os.environ.get(_KEEP_HOME_ENV):
        return
    if "airflow" in sys.modules:
        # Airflow read its configuration already; a new home now would be half applied.
        raise pytest.UsageError(
            "airflow was imported before airflow_provider_ango.testing.plugin could isolate AIRFLOW_HOME; "
            "load the plugin with `-p airflow_provider_ango.testing.plugin` (addopts), or set "
            f"{_KEEP_HOME_ENV}=1 to use your own AIRFLOW_HOME"
        )
    home = Path(tempfile.mkdtemp(prefix="ango-airflow-home-"))
    config.stash[_home_key] = home
    os.environ.update(isolated_airflow_env(home))


def pytest_unconfigure(config: pytest.Config) -> None:
    home = config.stash.get(_home_key, None)
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)


_home_key = pytest.StashKey[Path]()


@pytest.fixture
def fernet_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A Fernet key for Airflow (the triggerer and the worker share it), get_fernet's cache cleared."""
    from airflow.sdk.crypto import get_fernet
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", key)
    get_fernet.cache_clear()
    yield key
    monkeypatch.delenv("AIRFLOW__CORE__FERNET_KEY")
    get_fernet.cache_clear()


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    return Path(os.environ["AIRFLOW_HOME"])


@pytest.fixture(scope="session")
def airflow_db(airflow_home: Path) -> Path:
    """The session's SQLite metadata database, migrated once (about 10 s) on first use."""
    db_file = airflow_home / "airflow.db"
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"`airflow db migrate` failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return db_file


def _start_or_skip(starter: Callable[[], AbstractContextManager[StoreEmulator]]) -> Iterator[StoreEmulator]:
    """Run an emulator for the session with its connection and env vars set, then undo them."""
    try:
        context = starter()
        emulator = context.__enter__()
    except EmulatorUnavailableError as exc:
        if in_ci():
            pytest.fail(f"emulator unavailable in CI (nothing may be skipped there): {exc}")
        pytest.skip(f"emulator unavailable: {exc}")
    patch = pytest.MonkeyPatch()
    try:
        for name, value in emulator.env.items():
            patch.setenv(name, value)
        conn_id = DEFAULT_CONN_IDS[emulator.kind]
        patch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", emulator.connection_json())
        yield emulator
    finally:
        patch.undo()
        context.__exit__(None, None, None)


@pytest.fixture(scope="session")
def s3_emulator() -> Iterator[StoreEmulator]:
    yield from _start_or_skip(run_moto)


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[StoreEmulator]:
    yield from _start_or_skip(run_gcs)


@pytest.fixture(scope="session")
def azure_emulator() -> Iterator[StoreEmulator]:
    yield from _start_or_skip(run_azurite)


@dataclass(frozen=True)
class TestBucket:
    """An empty bucket (or Azure container) created for one test."""

    kind: str
    name: str
    conn_id: str
    emulator: StoreEmulator

    __test__ = False  # not a test class, despite its name

    @property
    def uri(self) -> str:
        if self.kind == "azure":
            return f"wasb://{self.name}@{AZURITE_ACCOUNT}"
        return f"{URI_SCHEMES[self.kind]}://{self.name}"


def create_bucket(emulator: StoreEmulator, name: str) -> TestBucket:
    """Create a bucket through Airflow's own hook for the store (as a user's DAG would)."""
    conn_id = DEFAULT_CONN_IDS[emulator.kind]
    if emulator.kind == "s3":
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        S3Hook(aws_conn_id=conn_id).create_bucket(bucket_name=name)
    elif emulator.kind == "gcs":
        from airflow.providers.google.cloud.hooks.gcs import GCSHook

        GCSHook(gcp_conn_id=conn_id).create_bucket(bucket_name=name)
    else:
        from airflow.providers.microsoft.azure.hooks.wasb import WasbHook

        WasbHook(wasb_conn_id=conn_id).create_container(name)
    return TestBucket(emulator.kind, name, conn_id, emulator)


@pytest.fixture
def new_bucket(request: pytest.FixtureRequest) -> Callable[[str], TestBucket]:
    """Factory: ``new_bucket("s3" | "gcs" | "azure")`` makes a fresh, uniquely named bucket."""

    def make(kind: str) -> TestBucket:
        fixture = {"s3": "s3_emulator", "gcs": "gcs_emulator", "azure": "azure_emulator"}[kind]
        emulator: StoreEmulator = request.getfixturevalue(fixture)
        # Lower-case letters and digits fit every store's naming rules (3-63 characters).
        return create_bucket(emulator, f"ango-test-{uuid.uuid4().hex[:16]}")

    return make
