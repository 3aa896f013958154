"""A real Airflow deployment on this machine, for end-to-end tests of DAGs that use this provider.

:class:`AirflowDeployment` runs ``airflow api-server``, ``scheduler``, ``dag-processor`` and
``triggerer`` as separate processes (LocalExecutor) sharing one environment, each in its own
session, and stops them all with every child they forked;
:class:`~airflow_provider_ango.testing.airflow_api.AirflowRestClient` drives it through
``/api/v2``. Everything listens on 127.0.0.1 only.

Imports no Airflow: the components are child processes, and the caller's own Airflow (if any)
stays as it is.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

from airflow_provider_ango.testing.servers import LOOPBACK, free_port

T = TypeVar("T")
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


class DeploymentError(RuntimeError):
    """A component did not start, stopped on its own, or a wait ran past its deadline."""


def loopback_hostname() -> str:
    """``[core] hostname_callable`` of the test deployment: workers name themselves 127.0.0.1, so
    the API server never looks up a log server on another address."""
    return LOOPBACK


def poll(condition: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.2) -> T:
    """Call ``condition`` every ``interval`` seconds until it returns something truthy; fail after
    ``timeout`` seconds naming ``what``. The interval only spaces the checks of a state owned by
    another process (the API, a log file); the deadline is what bounds the wait."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise DeploymentError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def fast_waits_policy(retry_delay: float, poke_interval: float, settle: float | None = None) -> str:
    """Source of an ``airflow_local_settings.py`` whose task policy shortens DAGs' waits: retries
    after ``retry_delay`` seconds (no backoff), sensors that check every ``poke_interval`` seconds
    and, when ``settle`` is given, imports that give Ango ``settle`` seconds to apply a write
    (:class:`~airflow_provider_ango.operators.imports.AngoImportAssetsOperator`: a retry waits
    ``settle - retry_delay`` before its existence check, so the two are scaled together or a
    retry waits minutes). Example DAGs wait minutes; a test of them on a deployment waits seconds."""
    lines = [
        '"""Cluster policy of a test deployment: waits of minutes become seconds."""',
        "",
        "from datetime import timedelta",
        "",
        "",
        "def task_policy(task):",
        f"    task.retry_delay = timedelta(seconds={float(retry_delay)!r})",
        "    task.retry_exponential_backoff = 0",
        '    if hasattr(task, "poke_interval"):',
        f"        task.poke_interval = {float(poke_interval)!r}",
    ]
    if settle is not None:
        lines += ['    if hasattr(task, "settle"):', f"        task.settle = {float(settle)!r}"]
    return "\n".join(lines) + "\n"


def deployment_env(
    home: Path,
    *,
    database_url: str,
    dags_folder: Path,
    api_port: int,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment every component shares: one home, database, Fernet key and JWT secret,
    LocalExecutor, SimpleAuthManager with every user admin, and nothing listening beyond loopback
    (no log or health servers; the API server's log reads are local files)."""
    api_url = f"http://{LOOPBACK}:{api_port}"
    env = {name: value for name, value in os.environ.items() if not name.startswith("AIRFLOW")}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.loopback_hostname",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__API__HOST": LOOPBACK,
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": api_url,
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(24),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            # Not served (--skip-serve-logs), but never a port another deployment on the machine uses.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            # The DAG files do not change during a test: parse them once, not every 30 s.
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
            "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    env.update(extra or {})
    return env


def _state_and_session(pid: int) -> tuple[str, int] | None:
    """A process's state letter and session id, from /proc (None once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The fields after the command name, which is in parentheses and may hold spaces.
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[0], int(fields[3])


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _all_pids() -> Iterable[int]:
    return (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())


def processes_in_sessions(sessions: set[int]) -> dict[int, str]:
    """Live processes (pid -> command line) in any of these sessions: what a component forked,
    task runners included (they move to process groups of their own, not to other sessions).
    Zombies are gone already: only their parent's reaping is left."""
    found = {}
    for pid in _all_pids():
        stat = _state_and_session(pid)
        if stat is not None and stat[1] in sessions and stat[0] != "Z":
            found[pid] = _command_line(pid)
    return found


def find_processes(pattern: str) -> dict[int, str]:
    """Live processes whose command line (as ``ps`` shows it) matches the regex ``pattern``."""
    regex = re.compile(pattern)
    return {pid: line for pid in _all_pids() if regex.search(line := _command_line(pid))}


def task_runner_pid(ti_id: str) -> int | None:
    """The task runner of one task instance: the LocalExecutor's supervisor forks it and it names
    itself ``airflow worker -- <task instance id>``."""
    found = find_processes(rf"^airflow worker -- {re.escape(ti_id)}$")
    return min(found) if found else None


@dataclass
class Component:
    """One process (an Airflow component or an emulator) in its own session, output in a file."""

    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> Component:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its session id is its pid: how its children are found later
        )
        return self

    @property
    def pid(self) -> int:
        if self.process is None:
            raise DeploymentError(f"{self.name} was never started")
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, grace: float = 20.0) -> dict[int, str]:
        """SIGTERM to the component (it shuts its children down itself), SIGKILL to whatever of its
        session is left after ``grace`` seconds; returns what had to be killed."""
        if self.process is None:
            return {}
        session = self.process.pid
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=grace)
        deadline = time.monotonic() + grace
        while processes_in_sessions({session}) and time.monotonic() < deadline:
            time.sleep(0.2)  # children still exiting after their parent; bounded by the deadline
        killed = processes_in_sessions({session})
        for pid in killed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        poll(lambda: not processes_in_sessions({session}), timeout=30, what=f"{self.name} to be gone")
        if self._log is not None:
            self._log.close()
        return killed


class AirflowDeployment:
    """The four components of one Airflow deployment, started and stopped together."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.env = env
        self.components: dict[str, Component] = {}
        self.retired: list[Component] = []  # stopped generations (a restarted triggerer's first one)
        self._generation: dict[str, int] = {}
        (home / "logs").mkdir(parents=True, exist_ok=True)

    @property
    def api_url(self) -> str:
        return self.env["AIRFLOW__API__BASE_URL"]

    def airflow(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run an ``airflow`` CLI command in the deployment's environment; raise on failure."""
        result = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise DeploymentError(
                f"`airflow {' '.join(args)}` exited {result.returncode}:\n{result.stderr[-4000:]}"
            )
        return result

    def start(self, name: str) -> Component:
        if name not in COMPONENTS:
            raise ValueError(f"unknown component {name!r}; one of {', '.join(COMPONENTS)}")
        generation = self._generation.get(name, 0) + 1
        self._generation[name] = generation
        args = {
            "api-server": [
                "api-server",
                "--host",
                LOOPBACK,
                "--port",
                self.env["AIRFLOW__API__PORT"],
                "--workers",
                "1",
            ],
            "scheduler": ["scheduler", "--skip-serve-logs"],
            "dag-processor": ["dag-processor"],
            "triggerer": ["triggerer", "--skip-serve-logs"],
        }[name]
        suffix = "" if generation == 1 else f"-{generation}"
        component = Component(
            f"{name}{suffix}",
            [sys.executable, "-m", "airflow", *args],
            self.env,
            self.home / "logs" / f"{name}{suffix}.log",
        ).start()
        self.components[name] = component
        return component

    def stop(self, name: str) -> dict[int, str]:
        component = self.components.pop(name)
        self.retired.append(component)
        return component.stop()

    def check_running(self) -> None:
        """Fail naming any component that exited on its own, with the end of its output."""
        for component in self.components.values():
            if not component.running():
                code = component.process.returncode if component.process else None
                raise DeploymentError(f"{component.name} exited ({code}):\n{component.log_text()[-3000:]}")

    def sessions(self) -> set[int]:
        return {c.pid for c in [*self.components.values(), *self.retired] if c.process is not None}

    def stop_all(self) -> dict[int, str]:
        """Stop every component (the scheduler first, so no task starts while the rest go down);
        returns what was left of any session and had to be killed."""
        killed: dict[int, str] = {}
        for name in ("scheduler", "triggerer", "dag-processor", "api-server"):
            if name in self.components:
                killed.update(self.stop(name))
        return killed

    def log_text(self, name: str) -> str:
        """The output of every generation of a component, oldest first."""
        return "".join(
            c.log_text() for c in [*self.retired, *self.components.values()] if c.name.startswith(name)
        )
