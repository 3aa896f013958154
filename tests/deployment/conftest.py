"""The real deployment of the deployment tests: Airflow's four components as separate processes,
the Ango Hub emulator as another, moto's S3 in this process, all on 127.0.0.1.

The metadata database is PostgreSQL when ``ANGO_DEPLOYMENT_DATABASE_URL`` names one (``.ci/run``
starts a throwaway cluster and sets it; the role must be allowed to create databases: each run
gets its own and drops it). Without it, outside CI, SQLite: Airflow 3.3 runs the LocalExecutor on
SQLite (its default pair), fine for one machine and a handful of tasks. In CI a missing
PostgreSQL fails the run instead.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from airflow_provider_ango.emulator import EmulatorSettings
from airflow_provider_ango.emulator.__main__ import command_line_flags
from airflow_provider_ango.emulator.control import EmulatorControl
from airflow_provider_ango.testing.airflow_api import AirflowRestClient
from airflow_provider_ango.testing.ango import connection_extra
from airflow_provider_ango.testing.deployment import (
    COMPONENTS,
    AirflowDeployment,
    Component,
    DeploymentError,
    deployment_env,
    fast_waits_policy,
    poll,
    processes_in_sessions,
)
from airflow_provider_ango.testing.plugin import in_ci
from airflow_provider_ango.testing.samples import CATEGORY_SCHEMA, EXAMPLES, WORKFLOW
from airflow_provider_ango.testing.servers import free_port, run_moto
from tests.deployment.support import BUCKETS, Stack, s3_client

DATABASE_URL_ENV = "ANGO_DEPLOYMENT_DATABASE_URL"
EXPECTED_DAGS = {
    "ango_lake_partition_report",
    "ango_nightly_bucket_import",
    "ango_prelabel_then_export",
    "ango_scheduled_export_to_lake",
}
# The example DAGs retry after minutes, count every minute or five and give Ango minutes to apply a
# write; the deployment's cluster policy makes that seconds. The retry delay stays well above the
# emulator's held request in the SIGKILL test (see there). Settle and retry delay shrink together:
# a retried import waits settle - retry_delay before its existence check (with the default settle
# of 300 s that was 285 s, the SIGKILL test's whole budget); here it waits 5 s.
RETRY_DELAY_SECONDS = 15.0
POKE_INTERVAL_SECONDS = 1.0
SETTLE_SECONDS = RETRY_DELAY_SECONDS + 5.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "deployment: runs the example DAGs on a real Airflow deployment")


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, empty metadata database for this module's deployment."""
    server = os.environ.get(DATABASE_URL_ENV)
    if not server:
        if in_ci():
            pytest.fail(
                f"CI runs the deployment test on PostgreSQL: {DATABASE_URL_ENV} is not set (see .ci/run)"
            )
        warnings.warn(f"{DATABASE_URL_ENV} is not set: the deployment test runs on SQLite", stacklevel=1)
        yield f"sqlite:///{tmp_path_factory.mktemp('airflow-db') / 'airflow.db'}"
        return
    import psycopg2
    from sqlalchemy.engine import make_url

    base = make_url(server)
    name = f"ango_deploy_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(
        host=base.host, port=base.port, user=base.username, password=base.password, dbname=base.database
    )
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name}")  # a generated name, not input
        yield base.set(database=name).render_as_string(hide_password=False)
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        admin.close()


#: The documented limits, with the rate window scaled down (the same arithmetic, sixty times faster):
#: this test is about a real deployment, and the client paces itself within whatever it is told.
EMULATOR_SETTINGS = EmulatorSettings(rate_limit="100/s")


def start_emulator(api_key: str, log_path: Path) -> tuple[Component, str]:
    """``python -m airflow_provider_ango.emulator`` on a free loopback port; the key comes by
    environment variable, never on the command line (``ps`` shows that to every user)."""
    flags = command_line_flags(EMULATOR_SETTINGS)
    emulator = Component(
        "ango-emulator",
        [sys.executable, "-m", "airflow_provider_ango.emulator", "--port", "0", *flags],
        {**os.environ, "ANGO_EMULATOR_API_KEY": api_key},
        log_path,
    ).start()

    def ready_url() -> str | None:
        if not emulator.running():
            raise DeploymentError(f"the emulator exited:\n{emulator.log_text()[-2000:]}")
        for line in emulator.log_text().splitlines():
            if line.startswith("Ango Hub emulator ready at "):
                return line.rsplit(" ", 1)[1]
        return None

    return emulator, poll(ready_url, timeout=60, what="the Ango Hub emulator's ready line")


def api_client(deployment: AirflowDeployment) -> AirflowRestClient | None:
    deployment.check_running()
    try:
        return AirflowRestClient(deployment.api_url)
    except httpx.TransportError:  # not listening yet
        return None


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Stack]:
    if not sys.platform.startswith("linux"):
        # Processes are found through /proc, and Airflow names its task runners only on Linux.
        if in_ci():
            pytest.fail("CI runs the deployment test: it needs Linux")
        pytest.skip("the deployment test runs on Linux")
    started = time.monotonic()
    root = tmp_path_factory.mktemp("deployment")
    home = root / "airflow"
    (home / "config").mkdir(parents=True)
    (home / "config" / "airflow_local_settings.py").write_text(
        fast_waits_policy(RETRY_DELAY_SECONDS, POKE_INTERVAL_SECONDS, SETTLE_SECONDS)
    )
    api_key = secrets.token_urlsafe(24)
    emulator, ango_url = start_emulator(api_key, root / "ango-emulator.log")
    sessions = {emulator.pid}
    deployment: AirflowDeployment | None = None
    client: AirflowRestClient | None = None
    try:
        control = EmulatorControl(ango_url)
        # The project of the runs Airflow makes by itself (unpausing creates the previous interval's).
        default_project = control.seed_project(
            name="scheduled runs", category_schema=CATEGORY_SCHEMA, workflow=WORKFLOW
        )["_id"]
        with run_moto() as s3:
            s3_api = s3_client(s3.endpoint)
            for bucket in BUCKETS:
                s3_api.create_bucket(Bucket=bucket)
            env = deployment_env(
                home,
                database_url=database_url,
                dags_folder=EXAMPLES,
                api_port=free_port(),
                extra={
                    "AIRFLOW_CONN_ANGO_DEFAULT": json.dumps(
                        {
                            "conn_type": "ango",
                            "host": ango_url,
                            "password": api_key,
                            "extra": connection_extra(EMULATOR_SETTINGS),
                        }
                    ),
                    "AIRFLOW_CONN_AWS_DEFAULT": s3.connection_json(),
                    "AIRFLOW_VAR_ANGO_PROJECT_ID": default_project,
                    # A finished task's supervisor notices the exit only at its next heartbeat
                    # check (5 s by default): every task would end 5 s late.
                    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
                    **s3.env,
                },
            )
            deployment = AirflowDeployment(home, env)
            deployment.airflow("db", "migrate")
            for name in COMPONENTS:
                deployment.start(name)
            client = poll(lambda: api_client(deployment), timeout=120, what="the API server to answer")

            def parsed() -> bool:
                deployment.check_running()
                dags = {dag["dag_id"] for dag in client.call("GET", "/dags", params={"limit": 100})["dags"]}
                errors = client.call("GET", "/importErrors")["import_errors"]
                if errors:
                    raise DeploymentError(f"the example DAGs failed to parse: {errors}")
                return dags >= EXPECTED_DAGS

            poll(parsed, timeout=180, what="the DAG processor to parse the example DAGs")
            print(f"\ndeployment up in {time.monotonic() - started:.1f} s ({database_url.split(':')[0]})")
            yield Stack(
                deployment=deployment,
                api=client,
                control=control,
                ango_url=ango_url,
                api_key=api_key,
                s3=s3_api,
                default_project=default_project,
                emulator=emulator,
            )
    finally:
        if client is not None:
            client.close()
        if deployment is not None:
            sessions |= deployment.sessions()
            killed = deployment.stop_all()
            if killed:  # still there after a SIGTERM and a grace period
                print(f"killed after the grace period: {killed}")
        emulator.stop()
        # Everything started here is gone, whatever happened above: nothing left in any session.
        left = processes_in_sessions(sessions)
        print(f"deployment module took {time.monotonic() - started:.1f} s; left over: {left or 'nothing'}")
        assert left == {}, f"processes left running: {left}"
