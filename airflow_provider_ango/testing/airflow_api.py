"""``AirflowRestClient``: a small client of Airflow's public REST API (``/api/v2``) for tests that drive
a deployment (see :mod:`airflow_provider_ango.testing.deployment`) the way an operator or a CI job would:
unpause, trigger runs over explicit data intervals, poll states, read XComs and task logs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import httpx

from airflow_provider_ango.testing.deployment import DeploymentError, poll


class AirflowRestClient:
    """The deployment's public REST API (``/api/v2``), with a token from the SimpleAuthManager.

    With ``[core] simple_auth_manager_all_admins`` on, ``GET /auth/token`` hands out an admin
    token without credentials (development only, as that setting is).
    """

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        token = httpx.get(f"{self.base_url}/auth/token", timeout=timeout)
        token.raise_for_status()
        self._client = httpx.Client(
            base_url=f"{self.base_url}/api/v2",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            timeout=timeout,
        )

    def close(self) -> None:
        self._client.close()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._client.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise DeploymentError(
                f"{method} /api/v2{path}: HTTP {response.status_code}: {response.text[:2000]}"
            )
        if response.status_code == 204 or response.headers.get("content-length") == "0":
            return None  # no body: Airflow answers a deletion with 204
        return response.json()

    def set_paused(self, dag_id: str, paused: bool) -> dict[str, Any]:
        result: dict[str, Any] = self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})
        return result

    def trigger(
        self,
        dag_id: str,
        *,
        conf: Mapping[str, Any] | None = None,
        logical_date: datetime | None = None,
        data_interval: tuple[datetime, datetime] | None = None,
    ) -> dict[str, Any]:
        """A manual run. Airflow 3.3 takes ``data_interval`` only together with a ``logical_date``: a run
        without a logical date has no data interval at all, and one with a logical date but no
        interval gets the interval the timetable infers from that date."""
        if data_interval is not None and logical_date is None:
            raise ValueError(
                f"trigger {dag_id}: Airflow ignores data_interval without a logical_date; pass both"
            )
        body: dict[str, Any] = {"conf": dict(conf or {}), "logical_date": _iso(logical_date)}
        if data_interval is not None:
            body["data_interval_start"], body["data_interval_end"] = map(_iso, data_interval)
        result: dict[str, Any] = self.call("POST", f"/dags/{dag_id}/dagRuns", json=body)
        return result

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
        return result

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = self.call("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100})[
            "dag_runs"
        ]
        return runs

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        found = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
        return {ti["task_id"]: ti for ti in found["task_instances"]}

    def task_tries(self, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
        """Every try of a task instance, oldest first (earlier tries from the history, then the current)."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/tries"
        tries: list[dict[str, Any]] = self.call("GET", path)["task_instances"]
        return sorted(tries, key=lambda ti: ti["try_number"])

    def xcom_keys(self, dag_id: str, run_id: str, task_id: str) -> list[str]:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries"
        return [entry["key"] for entry in self.call("GET", path)["xcom_entries"]]

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        return self.call("GET", path)["value"]

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        """A try's log as text, one line per structured event (its message and fields)."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        events = self.call(
            "GET", path, params={"full_content": "true"}, headers={"Accept": "application/json"}
        )
        return "\n".join(
            " ".join(f"{k}={v}" for k, v in event.items()) if isinstance(event, dict) else str(event)
            for event in events["content"]
        )

    def wait_for_run(
        self, dag_id: str, run_id: str, state: str = "success", timeout: float = 180
    ) -> dict[str, Any]:
        """Poll the run until it is in ``state``; a run that ends otherwise fails at once, with the
        state of each task and the log of any that failed."""

        def ended() -> dict[str, Any] | None:
            run = self.dag_run(dag_id, run_id)
            if run["state"] == state:
                return run
            if run["state"] in ("success", "failed"):
                raise DeploymentError(
                    f"{dag_id} {run_id} ended {run['state']}:\n{self.describe(dag_id, run_id)}"
                )
            return None

        try:
            return poll(ended, timeout=timeout, what=f"{dag_id} {run_id} to be {state}", interval=0.5)
        except DeploymentError as error:
            if "timed out" in str(error):
                raise DeploymentError(f"{error}\n{self.describe(dag_id, run_id)}") from None
            raise

    def wait_for_task(
        self, dag_id: str, run_id: str, task_id: str, states: Iterable[str], timeout: float = 120
    ) -> dict[str, Any]:
        wanted = set(states)

        def reached() -> dict[str, Any] | None:
            ti = self.task_instances(dag_id, run_id).get(task_id)
            return ti if ti is not None and ti["state"] in wanted else None

        return poll(
            reached, timeout=timeout, what=f"{dag_id}.{task_id} in {run_id} to be {'/'.join(sorted(wanted))}"
        )

    def describe(self, dag_id: str, run_id: str) -> str:
        """Each task's state and try; the end of the log of those that failed or are retrying."""
        lines = []
        for task_id, ti in sorted(self.task_instances(dag_id, run_id).items()):
            lines.append(f"  {task_id}: {ti['state']} (try {ti['try_number']})")
            if ti["state"] in ("failed", "up_for_retry", "upstream_failed") and ti["try_number"]:
                with contextlib.suppress(DeploymentError):
                    lines.append(self.task_log(dag_id, run_id, task_id, ti["try_number"])[-3000:])
        return "\n".join(lines)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
